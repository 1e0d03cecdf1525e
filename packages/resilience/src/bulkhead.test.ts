import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { aimdLimit, gradientLimit } from './adaptive-limit.js';
import { BulkheadRejectedError, bulkhead, isBulkheadRejectedError } from './bulkhead.js';
import { manualClock } from './manual-clock.js';
import { pipeline } from './pipeline.js';

/** Work that settles only when told to. */
function gate<T = string>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  let started = false;
  const work = () =>
    new Promise<T>((res, rej) => {
      started = true;
      resolve = res;
      reject = rej;
    });
  return { work, resolve: (v: T) => resolve(v), reject: (e: unknown) => reject(e), started: () => started };
}

const settled = <T>(p: Promise<T>) =>
  p.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );

describe('bulkhead', () => {
  it('runs up to the limit at once and rejects the next call with reason full', async () => {
    const b = bulkhead({ limit: 2, clock: manualClock() });
    const g1 = gate();
    const g2 = gate();
    const r1 = b.execute(g1.work);
    const r2 = b.execute(g2.work);
    assert.equal(b.active, 2);
    assert.equal(b.executionSlots, 0);
    const err = await b.execute(() => 'never').catch((e: unknown) => e);
    assert.ok(err instanceof BulkheadRejectedError);
    assert.ok(isBulkheadRejectedError(err));
    assert.equal(err.code, 'BULKHEAD_REJECTED');
    assert.equal(err.retryable, true);
    assert.equal(err.reason, 'full');
    assert.equal(err.limit, 2);
    assert.equal(err.queue, 0);
    g1.resolve('a');
    g2.resolve('b');
    assert.deepEqual(await Promise.all([r1, r2]), ['a', 'b']);
  });

  it('rejects beyond limit + queue with reason full', async () => {
    const b = bulkhead({ limit: 1, queue: 2, clock: manualClock() });
    const running = gate();
    void b.execute(running.work);
    const q1 = settled(b.execute(() => 1));
    const q2 = settled(b.execute(() => 2));
    assert.equal(b.queued, 2);
    assert.equal(b.queueSlots, 0);
    const err = (await b.execute(() => 3).catch((e: unknown) => e)) as BulkheadRejectedError;
    assert.equal(err.reason, 'full');
    assert.equal(err.queue, 2);
    running.resolve('done');
    assert.deepEqual(await Promise.all([q1, q2]), [
      { ok: true, value: 1 },
      { ok: true, value: 2 },
    ]);
  });

  it('admits queued calls in arrival order as slots free up', async () => {
    const b = bulkhead({ limit: 1, queue: 3, clock: manualClock() });
    const order: string[] = [];
    const first = gate();
    const r0 = b.execute(first.work);
    const gates = [gate(), gate(), gate()];
    const results = gates.map((g, i) =>
      b.execute(() => {
        order.push(`q${i}`);
        return g.work();
      }),
    );
    first.resolve('first');
    await r0;
    for (const [i, g] of gates.entries()) {
      await new Promise((r) => setImmediate(r));
      assert.equal(b.active, 1);
      g.resolve(`v${i}`);
    }
    assert.deepEqual(await Promise.all(results), ['v0', 'v1', 'v2']);
    assert.deepEqual(order, ['q0', 'q1', 'q2']);
  });

  it('rejects a call that waits longer than queueTimeoutMs with reason queue-timeout', async () => {
    const clock = manualClock();
    const b = bulkhead({ limit: 1, queue: 2, queueTimeoutMs: 100, clock });
    void b.execute(gate().work);
    const early = settled(b.execute(() => 'early'));
    await clock.advance(40);
    const late = settled(b.execute(() => 'late'));
    await clock.advance(60);
    const e1 = await early;
    assert.equal(e1.ok, false);
    assert.equal((e1 as { error: BulkheadRejectedError }).error.reason, 'queue-timeout');
    assert.equal(b.queued, 1);
    await clock.advance(40);
    const e2 = await late;
    assert.equal((e2 as { error: BulkheadRejectedError }).error.reason, 'queue-timeout');
    assert.equal(b.queued, 0);
    assert.equal(clock.pendingTimers, 0);
  });

  it('runs a queued call admitted before its queue timeout and stops the timer', async () => {
    const clock = manualClock();
    const b = bulkhead({ limit: 1, queue: 1, queueTimeoutMs: 100, clock });
    const running = gate();
    void b.execute(running.work);
    const queued = b.execute(() => 'ran');
    await clock.advance(99);
    running.resolve('x');
    assert.equal(await queued, 'ran');
    assert.equal(clock.pendingTimers, 0);
  });

  it("removes a queued call at once when its caller aborts, rejecting with the caller's reason", async () => {
    const b = bulkhead({ limit: 1, queue: 3, clock: manualClock() });
    const running = gate();
    void b.execute(running.work);
    const caller = new AbortController();
    let ranAborted = false;
    const before = b.execute(() => 'before');
    const aborted = settled(
      b.execute(() => {
        ranAborted = true;
      }, caller.signal),
    );
    const after = b.execute(() => 'after');
    const reason = new Error('client went away');
    caller.abort(reason);
    assert.deepEqual(await aborted, { ok: false, error: reason });
    assert.equal(b.queued, 2);
    assert.equal(b.queueSlots, 1);
    running.resolve('x');
    assert.deepEqual(await Promise.all([before, after]), ['before', 'after']);
    assert.equal(ranAborted, false);
    assert.equal(b.snapshot().totals.failures, 0);
  });

  it('rejects at once without running the work when the caller signal is already aborted', async () => {
    const b = bulkhead({ limit: 1, clock: manualClock() });
    const caller = new AbortController();
    caller.abort(new Error('gone'));
    let ran = false;
    await assert.rejects(
      b.execute(() => {
        ran = true;
      }, caller.signal),
      /gone/,
    );
    assert.equal(ran, false);
    assert.equal(b.active, 0);
  });

  it('releases the slot exactly once on success, failure and synchronous throw', async () => {
    const b = bulkhead({ limit: 2, queue: 4, clock: manualClock() });
    await b.execute(() => 'ok');
    await assert.rejects(
      b.execute(() => Promise.reject(new Error('async'))),
      /async/,
    );
    await assert.rejects(
      b.execute(() => {
        throw new Error('sync');
      }),
      /sync/,
    );
    assert.equal(b.active, 0);
    assert.equal(b.executionSlots, 2);
  });

  it('releases the slot when an inner policy of a pipeline throws synchronously', async () => {
    const b = bulkhead({ limit: 1, clock: manualClock() });
    const throwing = {
      kind: 'broken',
      name: 'broken',
      execute(): Promise<never> {
        throw new Error('sync inner');
      },
      onEvent: () => ({ dispose() {} }),
      snapshot: () => b.snapshot(),
    };
    await assert.rejects(
      pipeline(b, throwing).execute(() => 1),
      /sync inner/,
    );
    assert.equal(b.active, 0);
    assert.equal(await b.execute(() => 'free again'), 'free again');
  });

  it('hands each released slot to exactly one queued call', async () => {
    const b = bulkhead({ limit: 1, queue: 3, clock: manualClock() });
    const failing = gate();
    const r0 = settled(b.execute(failing.work));
    const queued = [gate(), gate(), gate()];
    const results = queued.map((g) => settled(b.execute(g.work)));
    failing.reject(new Error('boom'));
    await r0;
    assert.deepEqual(
      queued.map((g) => g.started()),
      [true, false, false],
    );
    assert.equal(b.active, 1);
    assert.equal(b.queued, 2);
    for (const g of queued) {
      g.resolve('ok');
      await new Promise((r) => setImmediate(r));
    }
    await Promise.all(results);
    assert.equal(b.active, 0);
    assert.equal(b.executionSlots, 1);
  });

  it('emits queued, dequeued with the time waited, and rejection events', async () => {
    const clock = manualClock();
    const b = bulkhead({ limit: 1, queue: 1, clock, name: 'db' });
    const seen: unknown[] = [];
    b.onEvent((e) => {
      if (e.type !== 'success') seen.push(e);
    });
    const running = gate();
    void b.execute(running.work);
    const queued = b.execute(() => 'q');
    await b.execute(() => 'x').catch(() => undefined);
    await clock.advance(25);
    running.resolve('r');
    await queued;
    assert.deepEqual(seen, [
      { type: 'queued', policy: 'db', queued: 1 },
      { type: 'rejection', policy: 'db', reason: 'full' },
      { type: 'dequeued', policy: 'db', waitedMs: 25 },
    ]);
  });

  it('reports active, queued, limit and queueLimit in its snapshot', async () => {
    const b = bulkhead({ limit: 1, queue: 2, clock: manualClock() });
    void b.execute(gate().work);
    void b.execute(gate().work);
    const snap = b.snapshot();
    assert.equal(snap.kind, 'bulkhead');
    assert.equal(snap.state, 'saturated');
    assert.deepEqual(snap.details, { active: 1, queued: 1, limit: 1, queueLimit: 2, adaptive: null });
    void b.execute(gate().work);
    await b.execute(() => 1).catch(() => undefined);
    assert.equal(b.snapshot().totals.rejections, 1);
    assert.equal(b.snapshot().totals.calls, 4);
  });

  it('accepts the cockatiel-style shorthand bulkhead(limit, queue)', () => {
    const b = bulkhead(3, 5);
    assert.equal(b.executionSlots, 3);
    assert.equal(b.queueSlots, 5);
    const adaptive = bulkhead(aimdLimit({ initialLimit: 4 }));
    assert.equal(adaptive.executionSlots, 4);
    assert.equal(bulkhead().executionSlots, 10);
  });

  it('runs inside a pipeline and counts a rejection there', async () => {
    const b = bulkhead({ limit: 1, clock: manualClock() });
    const p = pipeline(b);
    const running = gate();
    void p.execute(running.work);
    const err = await p.execute(() => 1).catch((e: unknown) => e);
    assert.ok(isBulkheadRejectedError(err));
  });

  it('rejects invalid options with a message naming the field', () => {
    assert.throws(
      () => bulkhead({ limit: 0 }),
      /bulkhead.limit must be an integer >= 1 or an AdaptiveLimit, got 0/,
    );
    assert.throws(() => bulkhead({ limit: 1.5 }), /bulkhead.limit/);
    assert.throws(() => bulkhead({ queue: -1 }), /bulkhead.queue must be an integer >= 0, got -1/);
    assert.throws(
      () => bulkhead({ queueTimeoutMs: 0 }),
      /bulkhead.queueTimeoutMs must be a number > 0, got 0/,
    );
    assert.throws(() => bulkhead({ dropOn: 1 as never }), /bulkhead.dropOn must be a function/);
  });
});

describe('bulkhead with an adaptive limit', () => {
  it('admits a queued call when good samples raise an AIMD limit', async () => {
    const clock = manualClock();
    const b = bulkhead({ limit: aimdLimit({ initialLimit: 2 }), queue: 5, clock });
    const g1 = gate();
    const g2 = gate();
    const r1 = b.execute(g1.work);
    const r2 = b.execute(g2.work);
    const g3 = gate();
    const g4 = gate();
    const r3 = b.execute(g3.work);
    void b.execute(g4.work);
    assert.equal(b.queued, 2);
    await clock.advance(10);
    g1.resolve('1'); // inflight 1 of limit 2 -> grows to 3; the freed slot plus the new one admit both
    await r1;
    assert.equal(b.snapshot().details?.limit, 3);
    assert.equal(g3.started(), true);
    assert.equal(g4.started(), true);
    assert.equal(b.active, 3);
    g2.resolve('2');
    g3.resolve('3');
    await Promise.all([r2, r3]);
  });

  it('shrinks the admission limit after drops', async () => {
    const clock = manualClock();
    const b = bulkhead({ limit: aimdLimit({ initialLimit: 4, backoffRatio: 0.5 }), queue: 5, clock });
    const gates = [gate(), gate(), gate(), gate()];
    const results = gates.map((g) => settled(b.execute(g.work)));
    const queued = gate();
    const rq = b.execute(queued.work);
    (gates[0] as ReturnType<typeof gate>).reject(new Error('overloaded'));
    await results[0];
    // limit 4 -> 2 with 3 still running: the queued call must wait.
    assert.equal(b.snapshot().details?.limit, 2);
    assert.equal(queued.started(), false);
    assert.equal(b.executionSlots, 0);
    for (const g of gates.slice(1)) g.resolve('ok');
    await Promise.all(results);
    assert.equal(queued.started(), true);
    queued.resolve('q');
    assert.equal(await rq, 'q');
  });

  it('treats an execution slower than timeoutMs as a drop', async () => {
    const clock = manualClock();
    const limit = aimdLimit({ initialLimit: 10, timeoutMs: 50 });
    const b = bulkhead({ limit, clock });
    const slow = gate();
    const r = b.execute(slow.work);
    await clock.advance(51);
    slow.resolve('late');
    await r;
    assert.equal(limit.limit, 9);
  });

  it('does not count a failure after the caller aborted as a drop', async () => {
    const clock = manualClock();
    const limit = aimdLimit({ initialLimit: 10 });
    const b = bulkhead({ limit, clock });
    const caller = new AbortController();
    const r = b.execute(
      ({ signal }) =>
        new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))),
      caller.signal,
    );
    caller.abort(new Error('gone'));
    await assert.rejects(r, /gone/);
    assert.equal(limit.limit, 10);
  });

  it('leaves the limit alone for errors outside dropOn', async () => {
    const limit = aimdLimit({ initialLimit: 10 });
    const b = bulkhead({ limit, clock: manualClock(), dropOn: (e) => !(e instanceof TypeError) });
    await assert.rejects(b.execute(() => Promise.reject(new TypeError('bad input'))));
    assert.equal(limit.limit, 10);
    await assert.rejects(b.execute(() => Promise.reject(new Error('overloaded'))));
    assert.equal(limit.limit, 9);
  });

  it('accepts a custom AdaptiveLimit and feeds it the time, inflight count and outcome', async () => {
    const clock = manualClock();
    const samples: unknown[] = [];
    const custom = { limit: 1, onSample: (s: unknown) => samples.push(s) };
    const b = bulkhead({ limit: custom, clock });
    const g = gate();
    const r = b.execute(g.work);
    await clock.advance(30);
    g.resolve('ok');
    await r;
    await assert.rejects(b.execute(() => Promise.reject(new Error('down'))));
    assert.deepEqual(samples, [
      { rttMs: 30, inflight: 1, dropped: false },
      { rttMs: 0, inflight: 1, dropped: true },
    ]);
    assert.equal(b.snapshot().details?.adaptive, 'custom');
  });

  it('lowers a gradient limit when latency spikes under load', async () => {
    const clock = manualClock();
    const limit = gradientLimit({ initialLimit: 4, maxLimit: 4, queueSize: () => 1 });
    const b = bulkhead({ limit, clock });
    const round = async (latencyMs: number) => {
      const gates = [gate(), gate(), gate(), gate()];
      const results = gates.map((g) => b.execute(g.work));
      await clock.advance(latencyMs);
      for (const g of gates) g.resolve('ok');
      await Promise.all(results);
    };
    for (let i = 0; i < 3; i++) await round(10);
    assert.equal(limit.limit, 4);
    await round(200);
    assert.ok(limit.limit < 4, `limit ${limit.limit} should have dropped below 4`);
    assert.equal(b.snapshot().details?.adaptive, 'gradient');
  });
});
