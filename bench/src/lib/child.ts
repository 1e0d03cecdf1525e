import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Arguments to run a sibling module of `importMetaUrl` in a child Node process. Benchmarks run
 * from the compiled `dist/` (what users run in production: no TypeScript loader on the hot path)
 * and then import the packages' built `dist/` too; run from sources (`src/*.ts`, for
 * development) they use tsx and the packages' `source` condition. `BENCH_CHILD_FLAGS` (e.g.
 * `--cpu-prof --cpu-prof-dir=/tmp/prof`, which NODE_OPTIONS does not allow) is put before them,
 * to profile the workers.
 */
export function childArgs(importMetaUrl: string, module: string): string[] {
  const here = dirname(fileURLToPath(importMetaUrl));
  const flags = (process.env.BENCH_CHILD_FLAGS ?? '').split(/\s+/).filter((f) => f !== '');
  if (importMetaUrl.endsWith('.ts'))
    return [...flags, '--conditions=source', '--import', 'tsx', join(here, `${module}.ts`)];
  return [...flags, join(here, `${module}.js`)];
}
