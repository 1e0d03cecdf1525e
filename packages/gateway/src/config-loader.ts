import { createHash } from 'node:crypto';
import { copyFileSync, type FSWatcher, readFileSync, rmSync, watch } from 'node:fs';
import { basename, dirname, extname, join, resolve as resolvePath } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { z } from 'zod';
import { createAggregator } from './aggregate.js';
import { resolveSecret } from './auth.js';
import { GatewayConfig } from './config.js';
import { type ConfigIssue, GatewayConfigError } from './config-error.js';
import { compileRewrite, parsePattern, patternShape } from './path-pattern.js';
import { createSplitController } from './split.js';

/** Options of {@link validateGatewayConfig}. */
export interface ValidateOptions {
  /** Where `env:NAME` secrets are read. @default process.env */
  env?: Readonly<Record<string, string | undefined>>;
  /** Names the configuration in the error message. @default 'the given object' */
  source?: string;
}

/**
 * Validates a configuration and applies its defaults. Every problem is reported at once, each
 * with the path of its key (`routes[2].split.weight: too big: expected number to be <=100, got
 * 150`), in a {@link GatewayConfigError}. Beyond the schema it checks what only the whole
 * configuration shows: duplicate route ids and matches, rewrites and aggregate paths using params
 * the route does not capture, routes needing a JWT without `auth.jwt`, unusable secrets, reserved
 * paths, and the split and aggregate settings their controllers refuse.
 *
 * @example
 * const config = validateGatewayConfig(JSON.parse(text), { source: 'gateway.json' });
 * console.log(config.routes.length);
 */
export function validateGatewayConfig(input: unknown, options: ValidateOptions = {}): GatewayConfig {
  const source = options.source ?? 'the given object';
  const parsed = GatewayConfig.safeParse(input);
  if (!parsed.success)
    throw new GatewayConfigError(describeIssues(parsed.error.issues, input), source, { cause: parsed.error });
  const issues = semanticIssues(parsed.data, options.env ?? process.env);
  if (issues.length > 0) throw new GatewayConfigError(issues, source);
  return parsed.data;
}

/** Options of {@link loadGatewayConfig}. */
export interface LoadOptions {
  /** Where `env:NAME` secrets are read. @default process.env */
  env?: Readonly<Record<string, string | undefined>>;
}

let importGeneration = 0;

/**
 * Reads and validates a configuration file: JSON (`.json`), or a module (`.js`, `.mjs`, `.ts`,
 * `.mts`; TypeScript needs a loader such as tsx) whose default export is the configuration.
 * Rejects with a {@link GatewayConfigError} naming the file and every problem.
 *
 * @example
 * const config = await loadGatewayConfig('gateway.config.json');
 */
export async function loadGatewayConfig(path: string, options: LoadOptions = {}): Promise<GatewayConfig> {
  const file = resolvePath(path);
  const extension = extname(file);
  let input: unknown;
  if (extension === '.json') {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new GatewayConfigError(
        [{ path: '(file)', message: `cannot be read: ${(err as Error).message}` }],
        file,
        { cause: err },
      );
    }
    try {
      input = JSON.parse(text);
    } catch (err) {
      throw new GatewayConfigError(
        [{ path: '(file)', message: `is not valid JSON: ${(err as Error).message}` }],
        file,
        { cause: err },
      );
    }
  } else if (['.js', '.mjs', '.cjs', '.ts', '.mts', '.cts'].includes(extension)) {
    // Each load imports a fresh copy beside the file (so its relative imports still resolve): module
    // caches — node's, and loaders' such as tsx's, which ignore query strings — keep the first version.
    const copy = join(
      dirname(file),
      `.${basename(file, extension)}.${process.pid}.${++importGeneration}${extension}`,
    );
    let module: { default?: unknown };
    try {
      copyFileSync(file, copy);
      module = (await import(pathToFileURL(copy).href)) as { default?: unknown };
    } catch (err) {
      throw new GatewayConfigError(
        [{ path: '(file)', message: `cannot be imported: ${(err as Error).message}` }],
        file,
        {
          cause: err,
        },
      );
    } finally {
      rmSync(copy, { force: true });
    }
    if (module.default === undefined)
      throw new GatewayConfigError(
        [{ path: '(file)', message: 'has no default export (export the configuration as default)' }],
        file,
      );
    input = module.default;
  } else
    throw new GatewayConfigError(
      [
        {
          path: '(file)',
          message: `has an unknown extension ${JSON.stringify(extension)}: use .json, .js, .mjs or .ts`,
        },
      ],
      file,
    );
  return validateGatewayConfig(input, {
    source: file,
    ...(options.env === undefined ? {} : { env: options.env }),
  });
}

/**
 * Watches a configuration file and calls `onChange` after it changed (content, not just its
 * time), debounced so an editor's several writes make one reload. The directory is watched, so
 * a file replaced by a rename is seen too.
 */
export function watchConfigFile(path: string, onChange: () => void, debounceMs = 75): { close(): void } {
  const file = resolvePath(path);
  const name = basename(file);
  let last = digest(file);
  let timer: NodeJS.Timeout | undefined;
  let watcher: FSWatcher | undefined = watch(dirname(file), { persistent: false }, (_event, changed) => {
    if (changed !== null && changed !== name) return;
    if (timer !== undefined) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      const now = digest(file);
      if (now === undefined || now === last) return;
      last = now;
      onChange();
    }, debounceMs);
  });
  watcher.on('error', () => {
    watcher?.close();
    watcher = undefined;
  });
  return {
    close() {
      if (timer !== undefined) clearTimeout(timer);
      watcher?.close();
      watcher = undefined;
    },
  };
}

function digest(file: string): string | undefined {
  try {
    return createHash('sha256').update(readFileSync(file)).digest('hex');
  } catch {
    return undefined;
  }
}

/** `routes[2].split.weight` from a zod path. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out === '' ? '(root)' : out;
}

type Issue = z.core.$ZodIssue;

/** Turns zod's issues into one line per bad key, with the offending value. */
function describeIssues(
  issues: readonly Issue[],
  input: unknown,
  base: readonly PropertyKey[] = [],
): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  for (const issue of issues) {
    const path = [...base, ...issue.path];
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) out.push({ path: formatPath([...path, key]), message: 'unknown key' });
      continue;
    }
    if (issue.code === 'invalid_union') {
      out.push(...describeUnion(issue.errors, input, path));
      continue;
    }
    if (issue.code === 'invalid_key') {
      const inner = issue.issues[0];
      out.push({
        path: formatPath(path),
        message: `key ${JSON.stringify(path.at(-1))} ${inner?.message ?? 'is invalid'}`,
      });
      continue;
    }
    out.push({ path: formatPath(path), message: withValue(lowerFirst(issue.message), valueAt(input, path)) });
  }
  return out;
}

/**
 * A union's failure: the branch that got furthest into the value when one did (its issues are
 * the useful ones), else "expected one of" the branches.
 */
function describeUnion(
  branches: readonly (readonly Issue[])[],
  input: unknown,
  path: readonly PropertyKey[],
): ConfigIssue[] {
  let best: readonly Issue[] | undefined;
  let depth = 0;
  for (const branch of branches) {
    const d = Math.max(0, ...branch.map((i) => i.path.length));
    if (d > depth) {
      depth = d;
      best = branch;
    }
  }
  if (best !== undefined) return describeIssues(best, input, path);
  const expected = branches.map((branch) => {
    const first = branch[0];
    if (first?.code === 'invalid_value') return first.values.map((v) => JSON.stringify(v)).join(' | ');
    if (first?.code === 'invalid_type') return first.expected;
    return lowerFirst(first?.message ?? 'something else');
  });
  return [
    { path: formatPath(path), message: withValue(`expected ${expected.join(' or ')}`, valueAt(input, path)) },
  ];
}

function lowerFirst(message: string): string {
  return message.charAt(0).toLowerCase() + message.slice(1);
}

function withValue(message: string, value: unknown): string {
  if (value === undefined || (typeof value === 'object' && value !== null)) return message;
  const shown = JSON.stringify(value);
  return `${message}, got ${shown.length > 80 ? `${shown.slice(0, 77)}...` : shown}`;
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let value = input;
  for (const part of path) {
    if (typeof value !== 'object' || value === null) return undefined;
    value = (value as Record<PropertyKey, unknown>)[part];
  }
  return value;
}

/** Paths the gateway answers itself; a route cannot take them. */
const RESERVED = ['/__admin', '/metrics', '/health/live', '/health/ready', '/health/startup'];

function semanticIssues(
  config: GatewayConfig,
  env: Readonly<Record<string, string | undefined>>,
): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const add = (path: readonly PropertyKey[], message: string) =>
    issues.push({ path: formatPath(path), message });
  const ids = new Map<string, number>();
  const matches = new Map<string, number>();
  config.routes.forEach((route, i) => {
    const at = ['routes', i] as const;
    const firstId = ids.get(route.id);
    if (firstId !== undefined)
      add([...at, 'id'], `duplicate of routes[${firstId}].id (${JSON.stringify(route.id)})`);
    else ids.set(route.id, i);

    const pattern = parsePattern(route.match.path);
    const reserved = RESERVED.find((r) => route.match.path === r || route.match.path.startsWith(`${r}/`));
    if (reserved !== undefined)
      add([...at, 'match', 'path'], `${reserved} is reserved for the gateway itself`);
    const duplicates = new Set(pattern.params.filter((p, j) => pattern.params.indexOf(p) !== j));
    if (duplicates.size > 0)
      add(
        [...at, 'match', 'path'],
        `param names must be unique, got ${[...duplicates].map((d) => `:${d}`).join(', ')} twice`,
      );
    // A route naming its methods and one without share a pattern fine: the named one wins for its methods.
    const methods = route.match.method === undefined ? ['*'] : [route.match.method].flat();
    for (const method of methods) {
      const key = `${method} ${patternShape(pattern)}`;
      const first = matches.get(key);
      if (first !== undefined && first !== i) {
        add(
          [...at, 'match'],
          `matches the same ${method === '*' ? '' : `${method} `}requests as routes[${first}] (${JSON.stringify(config.routes[first]?.id)}); one of them could never be reached`,
        );
        break;
      }
      matches.set(key, i);
    }

    if (route.auth !== 'public' && config.auth === undefined)
      add(
        [...at, 'auth'],
        'needs a JWT but auth.jwt is not configured: configure auth.jwt or set auth: "public"',
      );
    const targets: [readonly PropertyKey[], { rewrite?: string | undefined }][] = [];
    if (route.upstream !== undefined) targets.push([[...at, 'upstream'], route.upstream]);
    if (route.split !== undefined) {
      targets.push([[...at, 'split', 'legacy'], route.split.legacy]);
      targets.push([[...at, 'split', 'candidate'], route.split.candidate]);
    }
    for (const [path, target] of targets) {
      if (target.rewrite === undefined) continue;
      const compiled = compileRewrite(target.rewrite, pattern);
      if (typeof compiled === 'string') add([...path, 'rewrite'], compiled);
    }
    if (route.split !== undefined) {
      try {
        createSplitController(route.id, route.split);
      } catch (err) {
        add([...at, 'split'], (err as Error).message);
      }
    }
    if (route.aggregate !== undefined) {
      for (const [name, part] of Object.entries(route.aggregate.parts))
        for (const m of part.path.matchAll(/(?<=\/):(\*|[A-Za-z_][A-Za-z0-9_]*)/g))
          if (!pattern.params.includes(m[1] as string))
            add(
              [...at, 'aggregate', 'parts', name, 'path'],
              `uses :${m[1]}, which the route's path ${JSON.stringify(route.match.path)} does not capture`,
            );
      try {
        createAggregator(route.id, route.aggregate, () => Promise.reject(new Error('not called')));
      } catch (err) {
        add([...at, 'aggregate'], (err as Error).message);
      }
    }
  });

  const secret = config.auth?.jwt.secret;
  if (secret !== undefined) {
    const resolved = resolveSecret(secret, env);
    if ('problem' in resolved) add(['auth', 'jwt', 'secret'], resolved.problem);
  }
  const store = config.rateLimit?.store;
  if (store !== undefined && store !== 'memory' && !URL.canParse(store.redis))
    add(['rateLimit', 'store', 'redis'], `must be a redis:// URL, got ${JSON.stringify(store.redis)}`);
  return issues;
}
