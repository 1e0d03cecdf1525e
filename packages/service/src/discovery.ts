import { type FSWatcher, readFileSync, watch } from 'node:fs';
import { basename, dirname, resolve as resolvePath } from 'node:path';
import { type Disposable, FlotillaError, hasFlotillaCode } from '@flotilla/resilience';
import { z } from 'zod';

/** Where the base URLs of other services come from. */
export interface Discovery {
  /**
   * The base URLs (`http://127.0.0.1:7101`, one per instance) of `service`; throws
   * {@link UnknownServiceError} when no source knows it.
   */
  resolve(service: string): readonly string[];
  /**
   * Calls `listener` when addresses may have changed (the topology file was rewritten), with the
   * services whose URLs changed. Sources that never change need not implement it.
   */
  onChange?(listener: (services: readonly string[]) => void): Disposable;
  /** Stops watching for changes. */
  close?(): void;
}

/** The content of a topology file, as `flotilla up` writes it. */
export interface TopologyFile {
  readonly services: Readonly<Record<string, { readonly urls: readonly string[] }>>;
}

/** Options of {@link discovery}. */
export interface DiscoveryOptions {
  /**
   * A topology: the path of a JSON {@link TopologyFile} (watched and re-read when it changes), or
   * the topology itself.
   * @default the file named by `FLOTILLA_TOPOLOGY`, if set
   */
  topology?: string | TopologyFile;
  /**
   * Environment variables: `FLOTILLA_<SERVICE>_URL`, `FLOTILLA_TOPOLOGY`, `FLOTILLA_DISCOVERY`
   * (`dns` to fall back on Kubernetes service names, `static` or unset not to), `FLOTILLA_DNS_PORT`.
   * @default process.env
   */
  env?: Readonly<Record<string, string | undefined>>;
  /**
   * Called when a changed topology file cannot be used (unreadable, invalid) or cannot be
   * watched; the last good topology stays in force.
   * @default emits a process warning
   */
  onReloadError?: (error: DiscoveryConfigError) => void;
}

/** Raised when no discovery source knows a service; the message says what to set. */
export class UnknownServiceError extends FlotillaError {
  override readonly name = 'UnknownServiceError';
  readonly retryable = false;

  constructor(
    /** The service nobody knows. */
    readonly service: string,
    message: string,
  ) {
    super('UNKNOWN_SERVICE', message);
  }
}

/** True when `err` is an {@link UnknownServiceError} (from any copy of this package). */
export function isUnknownServiceError(err: unknown): err is UnknownServiceError {
  return hasFlotillaCode(err, 'UNKNOWN_SERVICE');
}

/** Raised when discovery configuration (a topology file, a URL variable) is malformed. */
export class DiscoveryConfigError extends FlotillaError {
  override readonly name = 'DiscoveryConfigError';
  readonly retryable = false;

  constructor(message: string, options?: { cause?: unknown }) {
    super('DISCOVERY_CONFIG_INVALID', message, options);
  }
}

/** True when `err` is a {@link DiscoveryConfigError} (from any copy of this package). */
export function isDiscoveryConfigError(err: unknown): err is DiscoveryConfigError {
  return hasFlotillaCode(err, 'DISCOVERY_CONFIG_INVALID');
}

/** The environment variable that holds the URLs of `service`: `FLOTILLA_<SERVICE>_URL`. */
export function serviceUrlVariable(service: string): string {
  return `FLOTILLA_${service.toUpperCase().replace(/[^A-Z0-9]/g, '_')}_URL`;
}

const BaseUrl = z
  .string()
  .refine(isBaseUrl, { message: 'must be an http(s) base URL without query or fragment' });
const Topology = z.strictObject({
  services: z.record(
    z.string().min(1),
    z.strictObject({ urls: z.array(BaseUrl).min(1, { message: 'must list at least one URL' }) }),
  ),
});

/**
 * Finds the instances of other services. For each service, the first source that knows it wins:
 * 1. `FLOTILLA_<SERVICE>_URL` (upper case, non-alphanumerics as `_`; comma-separated for several
 *    instances), e.g. `FLOTILLA_PAYMENT_URL=http://10.0.0.5:8080,http://10.0.0.6:8080`;
 * 2. the topology file (from `topology` or `FLOTILLA_TOPOLOGY`), watched and re-read when it
 *    changes so a supervisor can move a service (call `close()` to stop watching);
 * 3. with `FLOTILLA_DISCOVERY=dns` (Kubernetes), `http://<service>:<FLOTILLA_DNS_PORT or 8080>`.
 *
 * The topology and `FLOTILLA_DISCOVERY`/`FLOTILLA_DNS_PORT` are validated when discovery is
 * created, a `FLOTILLA_<SERVICE>_URL` when its service is first resolved; errors name the
 * variable or key.
 *
 * @example
 * const found = discovery({ topology: '.flotilla/data/topology/topology.json' });
 * found.resolve('payment'); // ['http://127.0.0.1:7102']
 */
export function discovery(options: DiscoveryOptions = {}): Discovery {
  const env = options.env ?? process.env;
  const onReloadError =
    options.onReloadError ??
    ((error: DiscoveryConfigError) => process.emitWarning(error.message, 'FlotillaDiscoveryWarning'));
  const mode = env.FLOTILLA_DISCOVERY ?? '';
  if (mode !== '' && mode !== 'dns' && mode !== 'static')
    throw new DiscoveryConfigError(
      `FLOTILLA_DISCOVERY must be 'dns' or 'static', got ${JSON.stringify(mode)}`,
    );
  const dnsPort = mode === 'dns' ? parsePort(env.FLOTILLA_DNS_PORT) : undefined;

  const topologyOption = options.topology ?? emptyToUndefined(env.FLOTILLA_TOPOLOGY);
  const topologyFrom = options.topology !== undefined ? 'topology option' : 'FLOTILLA_TOPOLOGY';
  let services: ReadonlyMap<string, readonly string[]> = new Map();
  let file: string | undefined;
  let watcher: FSWatcher | undefined;
  let listeners: ((services: readonly string[]) => void)[] = [];
  if (typeof topologyOption === 'string') {
    file = resolvePath(topologyOption);
    services = readTopology(file, topologyFrom);
  } else if (topologyOption !== undefined) {
    services = validateTopology(topologyOption, 'topology option');
  }

  // Environment variables do not change while a process runs; parse each once.
  const fromEnv = new Map<string, readonly string[] | undefined>();
  const envUrls = (service: string): readonly string[] | undefined => {
    if (fromEnv.has(service)) return fromEnv.get(service);
    const variable = serviceUrlVariable(service);
    const urls = parseUrlList(variable, env[variable]);
    fromEnv.set(service, urls);
    return urls;
  };

  const reload = (): void => {
    if (file === undefined) return;
    let next: ReadonlyMap<string, readonly string[]>;
    try {
      next = readTopology(file, topologyFrom);
    } catch (err) {
      // A supervisor writing the file in place can be caught half-way; the next change event
      // brings the complete file, and until then the last good topology stays in force.
      onReloadError(err as DiscoveryConfigError);
      return;
    }
    const changed: string[] = [];
    for (const name of new Set([...services.keys(), ...next.keys()]))
      if (!sameUrls(services.get(name), next.get(name))) changed.push(name);
    services = next;
    if (changed.length > 0) for (const listener of listeners) listener(changed);
  };

  if (file !== undefined) {
    const name = basename(file);
    try {
      // The directory is watched, not the file: supervisors replace the file atomically (write a
      // temporary file, rename it over), which a watch on the old file's inode would never see.
      // Every change in the directory wakes this process, so keep the file in a folder of its
      // own (flotilla up uses <dataDir>/topology/), not beside databases.
      watcher = watch(dirname(file), { persistent: false }, (_event, changedName) => {
        if (changedName === null || changedName === name) reload();
      });
      // A watch that fails later (the directory was removed) leaves the last topology in force.
      watcher.on('error', () => {
        watcher?.close();
        watcher = undefined;
      });
    } catch (err) {
      onReloadError(
        new DiscoveryConfigError(
          `cannot watch the topology file ${file} for changes (${(err as Error).message}); its current content stays in force`,
          { cause: err },
        ),
      );
    }
  }

  return {
    resolve(service) {
      const urls = envUrls(service) ?? services.get(service);
      if (urls !== undefined) return urls;
      if (dnsPort !== undefined) return [`http://${service}:${dnsPort}`];
      throw new UnknownServiceError(service, unknownMessage(service, file, topologyOption !== undefined));
    },
    onChange(listener) {
      listeners = [...listeners, listener];
      return {
        dispose: () => {
          listeners = listeners.filter((l) => l !== listener);
        },
      };
    },
    close() {
      watcher?.close();
      watcher = undefined;
      listeners = [];
    },
  };
}

function unknownMessage(service: string, file: string | undefined, hasTopology: boolean): string {
  const where =
    file !== undefined
      ? `add services.${JSON.stringify(service)}.urls to the topology file ${file}`
      : hasTopology
        ? `add services.${JSON.stringify(service)}.urls to the topology`
        : 'point FLOTILLA_TOPOLOGY at a topology file listing it';
  return `no address for service "${service}": set ${serviceUrlVariable(service)} (comma-separated base URLs), ${where}, or set FLOTILLA_DISCOVERY=dns on Kubernetes`;
}

function readTopology(file: string, from: string): ReadonlyMap<string, readonly string[]> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new DiscoveryConfigError(
      `cannot read the topology file ${file} (from ${from}): ${(err as Error).message}`,
      { cause: err },
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new DiscoveryConfigError(`topology file ${file} is not valid JSON: ${(err as Error).message}`, {
      cause: err,
    });
  }
  return validateTopology(json, `topology file ${file}`);
}

function validateTopology(input: unknown, source: string): ReadonlyMap<string, readonly string[]> {
  const result = Topology.safeParse(input);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => {
      const key = issue.path.reduce<string>(
        (acc, part) =>
          typeof part === 'number' ? `${acc}[${part}]` : acc === '' ? String(part) : `${acc}.${String(part)}`,
        '',
      );
      const got = valueAt(input, issue.path);
      return `${key === '' ? '(root)' : key}: ${issue.message}${got === undefined ? '' : `, got ${JSON.stringify(got)}`}`;
    });
    throw new DiscoveryConfigError(`${source} is invalid:\n  ${problems.join('\n  ')}`);
  }
  const map = new Map<string, readonly string[]>();
  for (const [name, entry] of Object.entries(result.data.services)) map.set(name, entry.urls.map(trimSlash));
  return map;
}

/** The input value at `path`, for messages; only scalars are shown. */
function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let value = input;
  for (const part of path) {
    if (typeof value !== 'object' || value === null) return undefined;
    value = (value as Record<PropertyKey, unknown>)[part];
  }
  return typeof value === 'object' && value !== null ? undefined : value;
}

function parseUrlList(variable: string, value: string | undefined): readonly string[] | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const urls = value
    .split(',')
    .map((u) => u.trim())
    .filter((u) => u !== '');
  for (const url of urls)
    if (!isBaseUrl(url))
      throw new DiscoveryConfigError(
        `${variable} must be comma-separated http(s) base URLs without query or fragment, got ${JSON.stringify(url)}`,
      );
  return urls.map(trimSlash);
}

function parsePort(value: string | undefined): number {
  if (value === undefined || value === '') return 8080;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 1 || port > 65_535)
    throw new DiscoveryConfigError(
      `FLOTILLA_DNS_PORT must be an integer in 1..65535, got ${JSON.stringify(value)}`,
    );
  return port;
}

function isBaseUrl(value: string): boolean {
  if (!URL.canParse(value)) return false;
  const url = new URL(value);
  return (url.protocol === 'http:' || url.protocol === 'https:') && url.search === '' && url.hash === '';
}

function trimSlash(url: string): string {
  return url.endsWith('/') ? url.slice(0, -1) : url;
}

function sameUrls(a: readonly string[] | undefined, b: readonly string[] | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.length === b.length && a.every((u, i) => u === b[i]);
}

function emptyToUndefined(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}
