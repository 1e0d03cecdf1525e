import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PolicyContext, Work } from './context.js';
import type { Disposable } from './disposable.js';
import { fallback } from './fallback.js';
import { manualClock } from './manual-clock.js';
import type { PolicySnapshot } from './metrics.js';
import { pipeline } from './pipeline.js';
import type { OutcomeEvent, Policy } from './policy.js';
import { isTimeoutError, timeout } from './timeout.js';

/** A policy from "another copy" of the package: only the public interface, recording the order of calls. */
function recorder(name: string, log: string[]): Policy<OutcomeEvent> {
  return {
    kind: 'recorder',
    name,
    async execute<T>(fn: Work<T>, signal?: AbortSignal): Promise<T> {
      log.push(`${name}:in`);
      try {
        const ctx: PolicyContext = { signal: signal ?? new AbortController().signal, attempt: 1 };
        return await fn(ctx);
      } finally {
        log.push(`${name}:out`);
      }
    },
    onEvent: (): Disposable => ({ dispose() {} }),
    snapshot: (): PolicySnapshot => ({
      kind: 'recorder',
      name,
      totals: { calls: 0, successes: 0, failures: 0, rejections: 0 },
      window: {
        durationMs: 0,
        calls: 0,
        successes: 0,
        failures: 0,
        rejections: 0,
        failureRate: 0,
        latency: { samples: 0, meanMs: 0, p50Ms: 0, p90Ms: 0, p99Ms: 0, maxMs: 0 },
      },
    }),
  };
}

describe('pipeline', () => {
  it('runs policies outermost first', async () => {
    const log: string[] = [];
    const p = pipeline(recorder('a', log), recorder('b', log), recorder('c', log));
    const v = await p.execute(() => {
      log.push('work');
      return 42;
    });
    assert.equal(v, 42);
    assert.deepEqual(log, ['a:in', 'b:in', 'c:in', 'work', 'c:out', 'b:out', 'a:out']);
  });

  it('lets an outer fallback replace a timeout raised inside', async () => {
    const clock = manualClock();
    const p = pipeline(fallback({ fallback: 'cached', clock }), timeout({ timeoutMs: 10, clock }));
    const result = p.execute(
      ({ signal }) =>
        new Promise<string>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))),
    );
    await clock.advance(10);
    assert.equal(await result, 'cached');
  });

  it("hands the innermost timeout's signal to the work", async () => {
    const clock = manualClock();
    let seen: AbortSignal | undefined;
    const p = pipeline(timeout({ timeoutMs: 100, clock }), timeout({ timeoutMs: 10, clock, name: 'inner' }));
    const result = p
      .execute(({ signal }) => {
        seen = signal;
        return new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)));
      })
      .catch((e: unknown) => e);
    await clock.advance(10);
    assert.ok(isTimeoutError(await result));
    assert.equal(seen?.aborted, true);
  });

  it("propagates the caller's abort through every layer", async () => {
    const log: string[] = [];
    const p = pipeline(timeout({ timeoutMs: 1000 }), recorder('foreign', log), timeout({ timeoutMs: 1000 }));
    const caller = new AbortController();
    const reason = new Error('stop');
    const result = p.execute(
      ({ signal }) =>
        new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))),
      caller.signal,
    );
    caller.abort(reason);
    await assert.rejects(result, (e) => e === reason);
  });

  it('nests a pipeline inside another', async () => {
    const log: string[] = [];
    const inner = pipeline(recorder('b', log), recorder('c', log));
    const outer = pipeline(recorder('a', log), inner, recorder('d', log));
    await outer.execute(() => log.push('work'));
    assert.deepEqual(log, ['a:in', 'b:in', 'c:in', 'd:in', 'work', 'd:out', 'c:out', 'b:out', 'a:out']);
  });

  it('reports every inner snapshot and subscribes to every inner policy', async () => {
    const clock = manualClock();
    const p = pipeline(fallback({ fallback: 0, clock }), timeout({ timeoutMs: 5, clock }));
    const types: string[] = [];
    p.onEvent((e) => types.push(`${e.policy}:${e.type}`));
    const r = p.execute(() => new Promise<number>(() => {}));
    await clock.advance(5);
    // cooperative timeout waits for the work, which never settles: the fallback has not run yet
    assert.deepEqual(types, ['timeout:timeout']);
    void r;
    const snap = p.snapshot();
    assert.equal(snap.kind, 'pipeline');
    assert.equal(snap.name, 'fallback>timeout');
    assert.deepEqual(
      snap.policies?.map((s) => s.kind),
      ['fallback', 'timeout'],
    );
  });

  it('refuses to compose nothing', () => {
    assert.throws(() => pipeline(), /at least one policy/);
  });
});
