import { existsSync, readFileSync } from 'node:fs';
import { dirname, extname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { SystemDefinitionError } from './errors.js';
import { type System, validateSystem } from './validate-system.js';

/** The file names `flotilla` looks for when no system file is given, in this order. */
export const DEFAULT_SYSTEM_FILES: readonly string[] = [
  'flotilla.system.ts',
  'flotilla.system.mts',
  'flotilla.system.js',
  'flotilla.system.mjs',
  'flotilla.system.json',
];

/**
 * Loads and validates a system file: JSON, or a JavaScript/TypeScript module whose default
 * export is the definition (a named export `load` is taken as its load scenario). TypeScript
 * files load through tsx. Relative paths in the definition are relative to the file's directory.
 * Throws a {@link SystemDefinitionError} naming the file and every bad key.
 *
 * @example
 * const system = await loadSystem('apps/shop/flotilla.system.ts');
 * const running = await startSystem(system);
 */
export async function loadSystem(path: string): Promise<System> {
  const file = resolve(path);
  const source = `system file ${file}`;
  if (!existsSync(file)) throw new SystemDefinitionError(source, [{ path: '(file)', message: 'not found' }]);
  const ext = extname(file);
  let definition: unknown;
  if (ext === '.json') {
    try {
      definition = JSON.parse(readFileSync(file, 'utf8'));
    } catch (err) {
      throw new SystemDefinitionError(
        source,
        [{ path: '(file)', message: `not valid JSON: ${messageOf(err)}` }],
        {
          cause: err,
        },
      );
    }
  } else if (/^\.[cm]?[jt]s$/.test(ext)) {
    definition = await importDefinition(file, source);
  } else {
    throw new SystemDefinitionError(source, [
      { path: '(file)', message: `must be a .ts, .mts, .js, .mjs or .json file, got "${ext}"` },
    ]);
  }
  return validateSystem(definition, { baseDir: dirname(file), file });
}

/** Imports a module and returns its definition: the default export, plus a named `load`. */
async function importDefinition(file: string, source: string): Promise<unknown> {
  let mod: Record<string, unknown>;
  try {
    mod = /\.[cm]?ts$/.test(file) ? await importTypeScript(file) : await import(pathToFileURL(file).href);
  } catch (err) {
    if (err instanceof SystemDefinitionError) throw err;
    throw new SystemDefinitionError(
      source,
      [{ path: '(file)', message: `cannot be loaded: ${messageOf(err)}` }],
      {
        cause: err,
      },
    );
  }
  let definition = mod.default;
  // A TypeScript file outside an ESM package is compiled to CommonJS: its exports arrive nested.
  if (isRecord(definition) && isRecord(definition.default) && !('services' in definition))
    definition = definition.default;
  if (!isRecord(definition))
    throw new SystemDefinitionError(source, [
      {
        path: '(default export)',
        message: 'must be the system definition object (export default { name, services })',
      },
    ]);
  if (mod.load === undefined) return definition;
  if (definition.load !== undefined)
    throw new SystemDefinitionError(source, [
      { path: 'load', message: 'given both as the named export `load` and in the default export; keep one' },
    ]);
  return { ...definition, load: mod.load };
}

async function importTypeScript(file: string): Promise<Record<string, unknown>> {
  let api: { tsImport: (specifier: string, parentURL: string) => Promise<Record<string, unknown>> };
  try {
    api = await import('tsx/esm/api');
  } catch (err) {
    throw new SystemDefinitionError(
      `system file ${file}`,
      [{ path: '(file)', message: 'is TypeScript, which needs tsx installed (npm install -D tsx)' }],
      { cause: err },
    );
  }
  return api.tsImport(pathToFileURL(file).href, import.meta.url);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * The system file to use: the given path, else `FLOTILLA_SYSTEM`, else the first
 * {@link DEFAULT_SYSTEM_FILES} in `cwd`; undefined when none exists.
 */
export function findSystemFile(
  given: string | undefined,
  env: Readonly<Record<string, string | undefined>> = process.env,
  cwd: string = process.cwd(),
): string | undefined {
  if (given !== undefined) return resolve(cwd, given);
  if (env.FLOTILLA_SYSTEM !== undefined && env.FLOTILLA_SYSTEM !== '')
    return resolve(cwd, env.FLOTILLA_SYSTEM);
  for (const name of DEFAULT_SYSTEM_FILES) {
    const candidate = resolve(cwd, name);
    if (existsSync(candidate)) return candidate;
  }
  return undefined;
}
