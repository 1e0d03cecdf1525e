// Test helper: runs every ```ts block of a README as its own program, so documented examples
// stay true. Blocks are written under the package's node_modules/.cache and executed with the
// same flags as the tests (workspace packages resolve to their sources).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { it } from 'node:test';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * Declares one test per ```ts block of `readmePath`. A block whose first line is
 * `// not run` is skipped (e.g. a fragment that needs a running shop).
 */
export function testReadmeExamples(readmePath, { timeoutMs = 60_000, env = {} } = {}) {
  const text = readFileSync(readmePath, 'utf8');
  const blocks = [...text.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);
  const dir = join(dirname(readmePath), 'node_modules', '.cache', 'readme-examples');
  for (const [i, code] of blocks.entries()) {
    const first = code.split('\n', 1)[0] ?? '';
    const title = `README example ${i + 1} runs: ${first.slice(0, 70)}`;
    if (first.startsWith('// not run')) {
      it(title, { skip: first });
      continue;
    }
    it(title, async () => {
      mkdirSync(dir, { recursive: true });
      const file = join(dir, `example-${process.pid}-${i + 1}.mts`);
      writeFileSync(file, code);
      try {
        await run(process.execPath, ['--conditions=source', '--import', 'tsx', file], {
          cwd: dirname(readmePath),
          timeout: timeoutMs,
          env: { ...process.env, ...env },
        });
      } catch (err) {
        assert.fail(`example ${i + 1} failed:\n${code}\n--- stderr ---\n${err.stderr ?? err.message}`);
      } finally {
        rmSync(file, { force: true });
      }
    });
  }
}
