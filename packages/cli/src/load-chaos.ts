import { extname } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ChaosDefinition } from './chaos-definition.js';
import { SystemDefinitionError } from './errors.js';

/**
 * The chaos experiment of a system file: its named export `chaos` ({@link ChaosDefinition}).
 * Resolves `undefined` when the file has none; throws a `SystemDefinitionError` naming the file
 * when the export is not `{ workload, check }`.
 */
export async function loadChaos(file: string): Promise<ChaosDefinition | undefined> {
  const source = `system file ${file}`;
  if (extname(file) === '.json') return undefined;
  let mod: Record<string, unknown>;
  try {
    if (/\.[cm]?ts$/.test(file)) {
      const api = (await import('tsx/esm/api')) as {
        tsImport: (specifier: string, parentURL: string) => Promise<Record<string, unknown>>;
      };
      mod = await api.tsImport(pathToFileURL(file).href, import.meta.url);
    } else mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (err) {
    throw new SystemDefinitionError(
      source,
      [{ path: '(file)', message: `cannot be loaded: ${err instanceof Error ? err.message : String(err)}` }],
      { cause: err },
    );
  }
  // A TypeScript file outside an ESM package is compiled to CommonJS: its exports arrive nested.
  const chaos = mod.chaos ?? (mod.default as Record<string, unknown> | undefined)?.chaos;
  if (chaos === undefined) return undefined;
  const candidate = chaos as Partial<ChaosDefinition>;
  const problems = [
    typeof candidate.workload === 'function' ? undefined : 'chaos.workload must be a function',
    typeof candidate.check === 'function' ? undefined : 'chaos.check must be a function',
    candidate.defaultFaults === undefined || typeof candidate.defaultFaults === 'string'
      ? undefined
      : 'chaos.defaultFaults must be a string',
  ].filter((p): p is string => p !== undefined);
  if (problems.length > 0)
    throw new SystemDefinitionError(
      source,
      problems.map((message) => ({ path: 'chaos', message })),
    );
  return candidate as ChaosDefinition;
}
