import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { manualClock } from './manual-clock.js';
import { pipeline } from './pipeline.js';
import { isTimeoutError, TimeoutError, timeout } from './timeout.js';

/** Work that settles only when told to, or rejects with the signal's reason when aborted. */
function controllable<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  let seenSignal: AbortSignal | undefined;
  const work = ({ signal }: { signal: AbortSignal }) =>
    new Promise<T>((res, rej) => {
      seenSignal = signal;
      resolve = res;
      reject = rej;
      signal.addEventListener('abort', () => rej(signal.reason));
    });
  return { work, resolve: (v: T) => resolve(v), reject: (e: unknown) => reject(e), signal: () => seenSignal };
}

describe('timeout', () => {
  it('returns the value of work that finishes before the deadline', async () => {
    const clock = manualClock();
    const t = timeout({ timeoutMs: 100, clock });
    const c = controllable<string>();
    const result = t.execute(c.work);
    await clock.advance(99);
    c.resolve('done');
    assert.equal(await result, 'done');
    assert.equal(c.signal()?.aborted, false);
  });

  it('aborts the signal at the deadline and rejects with TimeoutError (cooperative)', async () => {
    const clock = manualClock();
    const t = timeout({ timeoutMs: 100, clock });
    const c = controllable<string>();
    const result = t.execute(c.work);
    const outcome = result.then(
      () => 'resolved',
      (e: unknown) => e,
    );
    await clock.advance(100);
    const err = await outcome;
    assert.ok(err instanceof TimeoutError);
    assert.equal(err.code, 'TIMEOUT');
    assert.equal(err.timeoutMs, 100);
    assert.equal(c.signal()?.aborted, true);
    assert.equal(c.signal()?.reason, err);
  });

  it('waits for cooperative work that ignores the signal, and keeps its late value', async () => {
    const clock = manualClock();
    const t = timeout({ timeoutMs: 50, clock });
    let finish!: (v: number) => void;
    const result = t.execute(() => new Promise<number>((res) => (finish = res)));
    let settled = false;
    void result.then(() => (settled = true));
    await clock.advance(80);
    assert.equal(settled, false);
    finish(7);
    assert.equal(await result, 7);
  });

  it('keeps the work error as cause when cooperative work fails after the deadline', async () => {
    const clock = manualClock();
    const t = timeout({ timeoutMs: 50, clock });
    let fail!: (e: unknown) => void;
    const result = t.execute(() => new Promise<number>((_, rej) => (fail = rej)));
    const outcome = result.catch((e: unknown) => e);
    await clock.advance(50);
    const original = new Error('connection reset');
    fail(original);
    const err = await outcome;
    assert.ok(isTimeoutError(err));
    assert.equal((err as TimeoutError).cause, original);
  });

  it('rejects at the deadline even when aggressive work ignores the signal', async () => {
    const clock = manualClock();
    const t = timeout(50, 'aggressive');
    const t2 = timeout({ timeoutMs: 50, strategy: 'aggressive', clock });
    assert.equal(t.strategy, 'aggressive');
    let finish!: (v: number) => void;
    const result = t2.execute(() => new Promise<number>((res) => (finish = res)));
    const outcome = result.catch((e: unknown) => e);
    await clock.advance(50);
    assert.ok(isTimeoutError(await outcome));
    finish(1); // a late value is ignored
    await clock.flush();
  });

  it("rejects aggressive work at once when the caller's signal aborts", async () => {
    const clock = manualClock();
    const t = timeout({ timeoutMs: 100, strategy: 'aggressive', clock });
    const caller = new AbortController();
    const result = t.execute(() => new Promise<number>(() => {}), caller.signal).catch((e: unknown) => e);
    await clock.flush();
    const reason = new Error('client went away');
    caller.abort(reason);
    assert.equal(await result, reason);
    assert.equal(t.snapshot().details?.pending, 0);
  });

  it('times out each pending call at its own deadline with one timer', async () => {
    const clock = manualClock();
    const t = timeout({ timeoutMs: 100, clock });
    const a = controllable<number>();
    const b = controllable<number>();
    const ra = t.execute(a.work).catch((e: unknown) => e);
    await clock.advance(30);
    const rb = t.execute(b.work).catch((e: unknown) => e);
    assert.equal(clock.pendingTimers, 1);
    await clock.advance(70);
    assert.ok(isTimeoutError(await ra));
    assert.equal(b.signal()?.aborted, false);
    await clock.advance(30);
    assert.ok(isTimeoutError(await rb));
  });

  it('does not time out a call that finished while an earlier one is still pending', async () => {
    const clock = manualClock();
    const t = timeout({ timeoutMs: 100, clock });
    const slow = controllable<number>();
    const fast = controllable<number>();
    const rs = t.execute(slow.work).catch((e: unknown) => e);
    const rf = t.execute(fast.work);
    fast.resolve(2);
    assert.equal(await rf, 2);
    await clock.advance(100);
    assert.ok(isTimeoutError(await rs));
    assert.equal(fast.signal()?.aborted, false);
    assert.equal(t.snapshot().details?.pending, 0);
  });

  it("aborts the work when the caller's signal aborts, with the caller's reason", async () => {
    const clock = manualClock();
    const t = timeout({ timeoutMs: 100, clock });
    const c = controllable<number>();
    const caller = new AbortController();
    const result = t.execute(c.work, caller.signal).catch((e: unknown) => e);
    await clock.flush();
    const reason = new Error('client went away');
    caller.abort(reason);
    assert.equal(await result, reason);
  });

  it('rejects at once when the caller signal is already aborted, without running the work', async () => {
    const t = timeout({ timeoutMs: 100, clock: manualClock() });
    let ran = false;
    const caller = new AbortController();
    caller.abort(new Error('gone'));
    await assert.rejects(
      t.execute(() => {
        ran = true;
      }, caller.signal),
      /gone/,
    );
    assert.equal(ran, false);
  });

  it('bounds every attempt of an inner pipeline as a total timeout', async () => {
    const clock = manualClock();
    const total = timeout({ timeoutMs: 100, clock });
    const perAttempt = timeout({ timeoutMs: 40, clock, name: 'attempt' });
    const c = controllable<number>();
    const result = pipeline(total, perAttempt)
      .execute(c.work)
      .catch((e: unknown) => e);
    await clock.advance(40);
    const err = (await result) as TimeoutError;
    assert.equal(err.timeoutMs, 40);
  });

  it('emits a timeout event and counts it in the snapshot', async () => {
    const clock = manualClock();
    const t = timeout({ timeoutMs: 10, clock, name: 'db' });
    const seen: string[] = [];
    const sub = t.onEvent((e) => seen.push(e.type));
    const r = t.execute(controllable<number>().work).catch(() => undefined);
    await clock.advance(10);
    await r;
    sub.dispose();
    assert.deepEqual(seen, ['timeout', 'failure']);
    const snap = t.snapshot();
    assert.equal(snap.kind, 'timeout');
    assert.equal(snap.name, 'db');
    assert.equal(snap.totals.failures, 1);
    assert.equal(snap.details?.timedOut, 1);
  });

  it('rejects invalid options with a message naming the field', () => {
    assert.throws(() => timeout({ timeoutMs: 0 }), /timeout.timeoutMs must be a finite number > 0, got 0/);
    assert.throws(() => timeout({ timeoutMs: Number.POSITIVE_INFINITY }), /timeout.timeoutMs/);
    assert.throws(
      () => timeout({ timeoutMs: 5, strategy: 'eager' as 'aggressive' }),
      /timeout.strategy must be 'cooperative' or 'aggressive'/,
    );
  });
});
