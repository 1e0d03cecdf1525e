import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PolicyContext } from './context.js';
import { handleType } from './handlers.js';
import { type HedgingEvent, hedging } from './hedging.js';
import { manualClock } from './manual-clock.js';
import { retryBudget } from './retry-budget.js';

interface Attempt<T> {
  readonly attempt: number;
  readonly signal: AbortSignal;
  resolve(value: T): void;
  reject(error: unknown): void;
}

/** Work whose attempts settle only when the test says so; an aborted attempt rejects with its reason. */
function racing<T>() {
  const attempts: Attempt<T>[] = [];
  const work = ({ attempt, signal }: PolicyContext) =>
    new Promise<T>((resolve, reject) => {
      attempts.push({ attempt, signal, resolve, reject });
      signal.addEventListener('abort', () => reject(signal.reason));
    });
  return { work, attempts };
}

const outcome = <T>(promise: Promise<T>): Promise<T | unknown> => promise.catch((e: unknown) => e);

describe('hedging', () => {
  it('does not hedge an attempt that finishes before the delay', async () => {
    const clock = manualClock();
    const policy = hedging({ delayMs: 100, clock });
    const { work, attempts } = racing<string>();
    const result = policy.execute(work);
    await clock.advance(99);
    attempts[0]?.resolve('fast');
    assert.equal(await result, 'fast');
    await clock.advance(1_000);
    assert.equal(attempts.length, 1);
  });

  it('starts another attempt after the delay, numbered as attempt 2', async () => {
    const clock = manualClock();
    const policy = hedging({ delayMs: 100, clock });
    const events: HedgingEvent[] = [];
    policy.onEvent((e) => events.push(e));
    const { work, attempts } = racing<string>();
    const result = policy.execute(work);
    await clock.advance(99);
    assert.equal(attempts.length, 1);
    await clock.advance(1);
    assert.deepEqual(
      attempts.map((a) => a.attempt),
      [1, 2],
    );
    assert.deepEqual(events[0], { type: 'hedge', policy: 'hedging', attempt: 2, delayMs: 100 });
    attempts[1]?.resolve('hedged');
    await result;
  });

  it('resolves with the first success and aborts the losing attempt with a clear reason', async () => {
    const clock = manualClock();
    const policy = hedging({ delayMs: 100, clock });
    const won: number[] = [];
    policy.onEvent((e) => e.type === 'hedge-won' && won.push(e.attempt));
    const { work, attempts } = racing<string>();
    const result = policy.execute(work);
    await clock.advance(100);
    attempts[1]?.resolve('second');
    assert.equal(await result, 'second');
    const loser = attempts[0]!.signal;
    assert.equal(loser.aborted, true);
    assert.match((loser.reason as Error).message, /attempt 2 succeeded first/);
    assert.equal(attempts[1]?.signal.aborted, false);
    assert.deepEqual(won, [2]);
    assert.deepEqual(policy.snapshot().details, { delayMs: 100, hedges: 1, hedgesWon: 1, hedgesDenied: 0 });
  });

  it('aborts the hedge when the first attempt wins after all', async () => {
    const clock = manualClock();
    const policy = hedging({ delayMs: 100, clock });
    const { work, attempts } = racing<string>();
    const result = policy.execute(work);
    await clock.advance(150);
    attempts[0]?.resolve('first');
    assert.equal(await result, 'first');
    assert.equal(attempts[1]?.signal.aborted, true);
    assert.equal(policy.snapshot().details?.hedgesWon, 0);
  });

  it('hedges at once when an attempt fails with a handled error before the delay', async () => {
    const clock = manualClock();
    const policy = hedging({ delayMs: 1_000, clock });
    const events: HedgingEvent[] = [];
    policy.onEvent((e) => events.push(e));
    const { work, attempts } = racing<string>();
    const result = policy.execute(work);
    await clock.flush();
    attempts[0]?.reject(new Error('connection reset'));
    await clock.flush();
    assert.equal(attempts.length, 2);
    assert.equal(clock.now(), 0);
    assert.deepEqual(events[0], { type: 'hedge', policy: 'hedging', attempt: 2, delayMs: 0 });
    attempts[1]?.resolve('recovered');
    assert.equal(await result, 'recovered');
  });

  it('rejects with the last handled error when every attempt fails', async () => {
    const clock = manualClock();
    const policy = hedging({ delayMs: 100, maxHedgedAttempts: 2, clock });
    const { work, attempts } = racing<string>();
    const result = outcome(policy.execute(work));
    await clock.advance(200);
    assert.equal(attempts.length, 3);
    attempts[2]?.reject(new Error('third'));
    attempts[0]?.reject(new Error('first'));
    await clock.flush();
    attempts[1]?.reject(new Error('second'));
    assert.equal(((await result) as Error).message, 'second');
  });

  it('ends at once on an unhandled error, aborting the other attempts', async () => {
    const clock = manualClock();
    const policy = hedging({ delayMs: 100, handle: handleType(TypeError), clock });
    const { work, attempts } = racing<string>();
    const result = outcome(policy.execute(work));
    await clock.advance(100);
    const fatal = new RangeError('invalid order id');
    attempts[1]?.reject(fatal);
    assert.equal(await result, fatal);
    assert.equal(attempts[0]?.signal.aborted, true);
  });

  it('fails with the filter’s error when the handle filter throws', async () => {
    const clock = manualClock();
    const broken = new Error('filter bug');
    const policy = hedging({
      delayMs: 100,
      handle: () => {
        throw broken;
      },
      clock,
    });
    const { work, attempts } = racing<string>();
    const result = outcome(policy.execute(work));
    await clock.flush();
    attempts[0]?.reject(new Error('boom'));
    assert.equal(await result, broken);
  });

  it('starts at most maxHedgedAttempts extra attempts', async () => {
    const clock = manualClock();
    const policy = hedging({ delayMs: 10, maxHedgedAttempts: 2, clock });
    const { work, attempts } = racing<string>();
    const result = policy.execute(work);
    await clock.advance(100);
    assert.deepEqual(
      attempts.map((a) => a.attempt),
      [1, 2, 3],
    );
    assert.equal(clock.pendingTimers, 0);
    attempts[0]?.resolve('done');
    await result;
  });

  it('serves the hedge deadlines of concurrent executions with one timer', async () => {
    const clock = manualClock();
    const policy = hedging({ delayMs: 100, clock });
    const runs = [racing<number>(), racing<number>(), racing<number>()];
    const results: Promise<number>[] = [];
    for (const [i, r] of runs.entries()) {
      results.push(policy.execute(r.work));
      if (i < 2) await clock.advance(10);
    }
    assert.equal(clock.pendingTimers, 1);
    await clock.advance(80); // t = 100
    assert.deepEqual(
      runs.map((r) => r.attempts.length),
      [2, 1, 1],
    );
    runs[1]?.attempts[0]?.resolve(1); // finishes before its hedge was due
    await clock.advance(20); // t = 120
    assert.deepEqual(
      runs.map((r) => r.attempts.length),
      [2, 1, 2],
    );
    runs[0]?.attempts[1]?.resolve(0);
    runs[2]?.attempts[0]?.resolve(2);
    assert.deepEqual(await Promise.all(results), [0, 1, 2]);
  });

  it('waits for a latency quantile of past successes, which adapts as latencies change', async () => {
    const clock = manualClock();
    const policy = hedging({
      delay: { quantile: 0.9, minDelayMs: 5, maxDelayMs: 500, windowMs: 10_000 },
      clock,
    });
    const delayMs = () => policy.snapshot().details?.delayMs as number;
    assert.equal(delayMs(), 500, 'no latency seen yet: the upper bound');
    const run = async (latencyMs: number) => {
      const { work, attempts } = racing<number>();
      const result = policy.execute(work);
      await clock.advance(latencyMs);
      attempts[0]?.resolve(latencyMs);
      await result;
    };
    for (let i = 0; i < 20; i++) await run(40);
    assert.ok(Math.abs(delayMs() - 40) <= 40 * 0.07, `p90 of 40 ms latencies, got ${delayMs()}`);

    // A hedge now starts once the p90 has passed.
    const { work, attempts } = racing<number>();
    const result = policy.execute(work);
    await clock.advance(37);
    assert.equal(attempts.length, 1);
    await clock.advance(5);
    assert.equal(attempts.length, 2);
    attempts[0]?.resolve(0);
    await result;

    await clock.advance(10_000); // the old latencies leave the window
    for (let i = 0; i < 20; i++) await run(200);
    assert.ok(Math.abs(delayMs() - 200) <= 200 * 0.07, `p90 of 200 ms latencies, got ${delayMs()}`);
  });

  it('keeps the adaptive delay within minDelayMs and maxDelayMs', async () => {
    const clock = manualClock();
    const policy = hedging({ delay: { quantile: 0.5, minDelayMs: 20, maxDelayMs: 100 }, clock });
    for (let i = 0; i < 3; i++) await policy.execute(() => 'instant');
    assert.equal(policy.snapshot().details?.delayMs, 20);
  });

  it('does not hedge when the budget has no token', async () => {
    const clock = manualClock();
    const budget = retryBudget({ ratio: 0, minRetriesPerSecond: 0, clock });
    const policy = hedging({ delayMs: 100, budget, clock });
    const { work, attempts } = racing<string>();
    const result = policy.execute(work);
    await clock.advance(500);
    assert.equal(attempts.length, 1);
    attempts[0]?.resolve('slow but alone');
    assert.equal(await result, 'slow but alone');
    assert.equal(policy.snapshot().details?.hedgesDenied, 1);
  });

  it('withdraws one budget token per hedge', async () => {
    const clock = manualClock();
    const budget = retryBudget({ ratio: 0, minRetriesPerSecond: 1, windowMs: 1_000, clock });
    const policy = hedging({ delayMs: 10, maxHedgedAttempts: 3, budget, clock });
    const { work, attempts } = racing<string>();
    const result = policy.execute(work);
    await clock.advance(100);
    assert.equal(attempts.length, 2);
    assert.equal(budget.available(), 0);
    attempts[0]?.resolve('done');
    await result;
  });

  it('aborts every attempt and rejects with the caller’s reason when the caller aborts', async () => {
    const clock = manualClock();
    const policy = hedging({ delayMs: 100, maxHedgedAttempts: 2, clock });
    const caller = new AbortController();
    const { work, attempts } = racing<string>();
    const result = outcome(policy.execute(work, caller.signal));
    await clock.advance(100);
    const reason = new Error('client went away');
    caller.abort(reason);
    assert.equal(await result, reason);
    assert.equal(attempts.length, 2);
    assert.ok(attempts.every((a) => a.signal.aborted && a.signal.reason === reason));
    await clock.advance(1_000);
    assert.equal(attempts.length, 2, 'no hedge after the caller left');
  });

  it('rejects without running the work when the caller has already aborted', async () => {
    const policy = hedging({ delayMs: 100, clock: manualClock() });
    const caller = new AbortController();
    caller.abort(new Error('gone'));
    let ran = false;
    await assert.rejects(
      policy.execute(() => {
        ran = true;
      }, caller.signal),
      /gone/,
    );
    assert.equal(ran, false);
  });

  it('rejects invalid options with messages naming the field', () => {
    assert.throws(() => hedging({} as never), /hedging needs exactly one of delayMs/);
    assert.throws(() => hedging({ delayMs: 10, delay: { quantile: 0.9 } } as never), /exactly one/);
    assert.throws(() => hedging({ delayMs: -5 }), /hedging.delayMs must be a finite number >= 0, got -5/);
    assert.throws(
      () => hedging({ delayMs: 5, maxHedgedAttempts: 0 }),
      /hedging.maxHedgedAttempts must be an integer >= 1, got 0/,
    );
    assert.throws(
      () => hedging({ delay: { quantile: 1.5 } }),
      /hedging.delay.quantile must be a number in \(0, 1\], got 1.5/,
    );
    assert.throws(
      () => hedging({ delay: { quantile: 0.9, minDelayMs: 50, maxDelayMs: 10 } }),
      /hedging.delay.maxDelayMs must be a finite number >= minDelayMs \(50\), got 10/,
    );
  });
});
