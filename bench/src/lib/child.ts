import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Arguments to run a sibling module of `importMetaUrl` in a child Node process. Benchmarks run
 * from the compiled `dist/` (what users run in production: no TypeScript loader on the hot path)
 * and then import the packages' built `dist/` too; run from sources (`src/*.ts`, for
 * development) they use tsx and the packages' `source` condition.
 */
export function childArgs(importMetaUrl: string, module: string): string[] {
  const here = dirname(fileURLToPath(importMetaUrl));
  if (importMetaUrl.endsWith('.ts'))
    return ['--conditions=source', '--import', 'tsx', join(here, `${module}.ts`)];
  return [join(here, `${module}.js`)];
}
