import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fallback } from './fallback.js';
import { handleType } from './handlers.js';
import { manualClock } from './manual-clock.js';

describe('fallback', () => {
  it('returns the work value when it succeeds', async () => {
    const f = fallback({ fallback: 'stale', clock: manualClock() });
    assert.equal(await f.execute(() => 'fresh'), 'fresh');
  });

  it('returns the fallback value when the work throws', async () => {
    const f = fallback({ fallback: 'stale', clock: manualClock() });
    assert.equal(
      await f.execute(() => {
        throw new Error('down');
      }),
      'stale',
    );
  });

  it('passes the error to a fallback function', async () => {
    const f = fallback({
      fallback: (cause) => (cause.kind === 'error' ? `saw ${(cause.error as Error).message}` : 'result'),
      clock: manualClock(),
    });
    assert.equal(await f.execute(() => Promise.reject(new Error('boom'))), 'saw boom');
  });

  it('replaces results matched by handleResult', async () => {
    const f = fallback({
      fallback: { status: 200 },
      handleResult: (v) => (v as { status: number }).status >= 500,
    });
    assert.deepEqual(await f.execute(() => ({ status: 503 })), { status: 200 });
    assert.deepEqual(await f.execute(() => ({ status: 201 })), { status: 201 });
  });

  it('lets errors that are not handled pass through', async () => {
    const f = fallback({ fallback: 0, handle: handleType(TypeError) });
    await assert.rejects(
      f.execute(() => {
        throw new RangeError('not mine');
      }),
      RangeError,
    );
    assert.equal(
      await f.execute(() => {
        throw new TypeError('mine');
      }),
      0,
    );
  });

  it('does not replace a rejection caused by the caller aborting', async () => {
    const f = fallback({ fallback: 0 });
    const caller = new AbortController();
    const reason = new Error('caller gave up');
    const result = f.execute(
      ({ signal }) =>
        new Promise((_, reject) => {
          signal.addEventListener('abort', () => reject(signal.reason));
        }),
      caller.signal,
    );
    caller.abort(reason);
    await assert.rejects(result, (e) => e === reason);
  });

  it('emits a fallback event and counts it', async () => {
    const f = fallback({ fallback: 1, name: 'prices' });
    const types: string[] = [];
    f.onEvent((e) => types.push(e.type));
    await f.execute(() => Promise.reject(new Error('x')));
    assert.deepEqual(types, ['failure', 'fallback']);
    assert.equal(f.snapshot().details?.fallbacks, 1);
    assert.equal(f.snapshot().totals.failures, 1);
  });
});
