import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

describe('the README quickstart', () => {
  it('runs and shows a proxied route, a split with its shadow comparison and an aggregate', {
    timeout: 60_000,
  }, async () => {
    const { stdout } = await run(
      process.execPath,
      [
        '--conditions=source',
        '--import',
        'tsx',
        fileURLToPath(new URL('../examples/quickstart.ts', import.meta.url)),
      ],
      { timeout: 50_000 },
    );
    const lines = new Map(
      stdout
        .trim()
        .split('\n')
        .map((line) => [line.slice(0, 14).trim(), JSON.parse(line.slice(15))] as const),
    );
    assert.deepEqual(lines.get('search'), { status: 200, body: { results: ['canvas tote', 'linen apron'] } });
    assert.equal(lines.get('product')?.status, 200);
    assert.equal(lines.get('page, no JWT'), 401);
    assert.deepEqual(lines.get('page')?.body.parts, { product: { status: 'ok' }, reviews: { status: 'ok' } });
    assert.deepEqual(lines.get('migration'), {
      route: 'product',
      weight: 10,
      compared: 1,
      mismatches: 0,
      mismatchRate: 0,
      samples: [],
    });
  });
});
