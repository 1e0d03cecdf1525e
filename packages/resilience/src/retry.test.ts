import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { constantBackoff, exponentialBackoff } from './backoff.js';
import { circuitBreaker } from './circuit-breaker.js';
import type { RandomSource } from './clock.js';
import { consecutiveBreaker } from './consecutive-breaker.js';
import { FlotillaError } from './errors.js';
import { handleType } from './handlers.js';
import { manualClock } from './manual-clock.js';
import { pipeline } from './pipeline.js';
import { isRetriesExhaustedError, RetriesExhaustedError, type RetryEvent, retry } from './retry.js';
import { retryBudget } from './retry-budget.js';
import { isTimeoutError, timeout } from './timeout.js';

/** A seeded PRNG (mulberry32): the same seed always gives the same jitter. */
function seeded(seed: number): RandomSource {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Work that fails its first `failures` attempts with `error`, then returns `value`; it records each attempt. */
function flaky<T>(failures: number, value: T, error: () => unknown = () => new Error('boom')) {
  const attempts: number[] = [];
  const work = ({ attempt }: { attempt: number }) => {
    attempts.push(attempt);
    if (attempts.length <= failures) return Promise.reject(error());
    return Promise.resolve(value);
  };
  return { work, attempts };
}

class NotFound extends FlotillaError {
  override readonly name = 'NotFound';
  readonly retryable = false;
  constructor() {
    super('NOT_FOUND', 'no such order');
  }
}

/** Settles `promise` into a value or the error it rejected with, for assertions. */
const outcome = <T>(promise: Promise<T>): Promise<T | unknown> => promise.catch((e: unknown) => e);

describe('retry', () => {
  it('retries until the work succeeds and shows each attempt number to the work', async () => {
    const clock = manualClock();
    const policy = retry({ maxAttempts: 3, backoff: constantBackoff(10), clock });
    const { work, attempts } = flaky(2, 'ok');
    const result = policy.execute(work);
    await clock.advance(20);
    assert.equal(await result, 'ok');
    assert.deepEqual(attempts, [1, 2, 3]);
  });

  it('returns the first attempt’s value without setting a timer', async () => {
    const clock = manualClock();
    const policy = retry({ clock });
    assert.equal(await policy.execute(() => 42), 42);
    assert.equal(clock.pendingTimers, 0);
  });

  it('waits the backoff delay before each retry', async () => {
    const clock = manualClock();
    const policy = retry({ maxAttempts: 3, backoff: constantBackoff(100), clock });
    const { work, attempts } = flaky(2, 'ok');
    const result = policy.execute(work);
    await clock.advance(99);
    assert.equal(attempts.length, 1);
    await clock.advance(1);
    assert.equal(attempts.length, 2);
    await clock.advance(100);
    assert.equal(await result, 'ok');
  });

  it('draws jittered delays from the given random source', async () => {
    const clock = manualClock();
    const random = seeded(42);
    const expected = [100 * random(), 200 * random(), 400 * random()];
    const policy = retry({
      maxAttempts: 4,
      backoff: exponentialBackoff({ initialDelayMs: 100 }),
      random: seeded(42),
      clock,
    });
    const delays: number[] = [];
    policy.onRetry((e) => delays.push(e.delayMs));
    const result = outcome(policy.execute(flaky(9, 'never').work));
    await clock.advance(1_000);
    assert.ok(isRetriesExhaustedError(await result));
    assert.deepEqual(delays, expected);
  });

  it('gives up after maxAttempts with RetriesExhaustedError carrying the last error', async () => {
    const clock = manualClock();
    const policy = retry({ maxAttempts: 3, backoff: constantBackoff(1), clock });
    let n = 0;
    const result = outcome(policy.execute(() => Promise.reject(new Error(`failure ${++n}`))));
    await clock.advance(2);
    const err = await result;
    assert.ok(err instanceof RetriesExhaustedError);
    assert.ok(isRetriesExhaustedError(err));
    assert.equal(err.code, 'RETRIES_EXHAUSTED');
    assert.equal(err.retryable, false);
    assert.equal(err.attempts, 3);
    assert.equal(err.reason, 'max-attempts');
    assert.equal((err.cause as Error).message, 'failure 3');
    assert.match(err.message, /gave up after 3 attempt\(s\) \(max-attempts\): failure 3/);
  });

  it('passes an unhandled error through unchanged, without retrying', async () => {
    const policy = retry({ handle: handleType(TypeError), clock: manualClock() });
    const { work, attempts } = flaky(1, 'ok', () => new RangeError('bad input'));
    const err = await outcome(policy.execute(work));
    assert.ok(err instanceof RangeError);
    assert.deepEqual(attempts, [1]);
  });

  it('does not retry a Flotilla error that is not retryable', async () => {
    const policy = retry({ clock: manualClock() });
    const { work, attempts } = flaky(1, 'ok', () => new NotFound());
    assert.ok((await outcome(policy.execute(work))) instanceof NotFound);
    assert.deepEqual(attempts, [1]);
  });

  it('retries a retryable Flotilla error such as a per-attempt timeout', async () => {
    const clock = manualClock();
    const policy = pipeline(
      retry({ maxAttempts: 2, backoff: constantBackoff(0), clock }),
      timeout({ timeoutMs: 50, clock }),
    );
    const attempts: number[] = [];
    const retried: unknown[] = [];
    policy.onEvent((e) => e.type === 'retry' && retried.push(e.error));
    const result = policy.execute(({ attempt, signal }) => {
      attempts.push(attempt);
      if (attempt === 2) return 'second';
      return new Promise<string>((_, reject) =>
        signal.addEventListener('abort', () => reject(signal.reason)),
      );
    });
    await clock.advance(50);
    assert.equal(await result, 'second');
    assert.deepEqual(attempts, [1, 2]);
    assert.equal(retried.length, 1);
    assert.ok(isTimeoutError(retried[0]));
  });

  it('rejects promptly with the caller’s reason when aborted during the backoff, and clears the timer', async () => {
    const clock = manualClock();
    const policy = retry({ maxAttempts: 5, backoff: constantBackoff(10_000), clock });
    const caller = new AbortController();
    const { work, attempts } = flaky(9, 'never');
    const result = outcome(policy.execute(work, caller.signal));
    await clock.flush();
    assert.equal(clock.pendingTimers, 1);
    const reason = new Error('client went away');
    caller.abort(reason);
    assert.equal(await result, reason);
    assert.equal(clock.pendingTimers, 0);
    assert.deepEqual(attempts, [1]);
  });

  it('never retries an attempt that failed because the caller aborted', async () => {
    const clock = manualClock();
    const policy = retry({ maxAttempts: 5, backoff: constantBackoff(0), clock });
    const caller = new AbortController();
    let runs = 0;
    const result = outcome(
      policy.execute(({ signal }) => {
        runs++;
        return new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)));
      }, caller.signal),
    );
    await clock.flush();
    caller.abort(new Error('cancelled'));
    assert.equal(((await result) as Error).message, 'cancelled');
    await clock.advance(10);
    assert.equal(runs, 1);
  });

  it('waits for a Retry-After hint longer than the backoff delay', async () => {
    const clock = manualClock();
    const policy = retry({ maxAttempts: 2, backoff: constantBackoff(10), clock });
    const busy = Object.assign(new Error('rate limited'), { retryAfterMs: 500 });
    const { work, attempts } = flaky(1, 'ok', () => busy);
    const result = policy.execute(work);
    await clock.advance(499);
    assert.equal(attempts.length, 1);
    await clock.advance(1);
    assert.equal(await result, 'ok');
  });

  it('waits out an open circuit breaker inside it, using the breaker’s retryAfterMs', async () => {
    const clock = manualClock();
    const policy = pipeline(
      retry({ maxAttempts: 3, backoff: constantBackoff(10), clock }),
      circuitBreaker({ breaker: consecutiveBreaker(1), halfOpenAfterMs: 1_000, clock }),
    );
    const calls: number[] = [];
    const result = policy.execute(() => {
      calls.push(clock.now());
      return calls.length === 1 ? Promise.reject(new Error('down')) : Promise.resolve('up again');
    });
    await clock.advance(1_000);
    assert.equal(await result, 'up again');
    // 0: fails and opens the circuit; 10: refused by the open circuit, hint 990 ms; 1000: the probe.
    assert.deepEqual(calls, [0, 1_000]);
  });

  it('reads the hint of a retried result through the retryAfter option', async () => {
    const clock = manualClock();
    const responses = [{ status: 503, retryAfterMs: 2_000 }, { status: 200 }];
    const policy = retry({
      backoff: constantBackoff(1),
      handleResult: (r) => (r as { status: number }).status === 503,
      retryAfter: (o) =>
        o.kind === 'result' ? (o.value as { retryAfterMs?: number }).retryAfterMs : undefined,
      clock,
    });
    const result = policy.execute(() => responses.shift());
    const delays: number[] = [];
    policy.onRetry((e) => delays.push(e.delayMs));
    await clock.advance(2_000);
    assert.deepEqual(await result, { status: 200 });
    assert.deepEqual(delays, [2_000]);
  });

  it('gives up at once when the Retry-After hint is longer than maxRetryAfterMs', async () => {
    const clock = manualClock();
    const policy = retry({ maxAttempts: 5, maxRetryAfterMs: 1_000, clock });
    const busy = Object.assign(new Error('come back tomorrow'), { retryAfterMs: 86_400_000 });
    const err = await outcome(policy.execute(() => Promise.reject(busy)));
    assert.ok(isRetriesExhaustedError(err));
    assert.equal(err.reason, 'retry-after-too-long');
    assert.equal(err.attempts, 1);
    assert.equal(err.cause, busy);
    assert.equal(clock.pendingTimers, 0);
  });

  it('returns the last result when retried results use up the attempts, and emits give-up', async () => {
    const clock = manualClock();
    const policy = retry({
      maxAttempts: 3,
      backoff: constantBackoff(5),
      handleResult: (s) => s === 503,
      clock,
    });
    const events: RetryEvent[] = [];
    policy.onEvent((e) => events.push(e));
    let n = 0;
    const result = policy.execute(() => {
      n++;
      return 503;
    });
    await clock.advance(10);
    assert.equal(await result, 503);
    assert.equal(n, 3);
    const giveUp = events.find((e) => e.type === 'give-up');
    assert.deepEqual(giveUp, {
      type: 'give-up',
      policy: 'retry',
      attempts: 3,
      reason: 'max-attempts',
      value: 503,
    });
  });

  it('stops retrying with reason budget when the retry budget is spent', async () => {
    const clock = manualClock();
    const budget = retryBudget({ ratio: 0, minRetriesPerSecond: 1, windowMs: 1_000, clock });
    const policy = retry({ maxAttempts: 10, backoff: constantBackoff(1), budget, clock });
    const first = outcome(policy.execute(flaky(9, 'never').work));
    await clock.advance(1);
    const err = await first;
    assert.ok(isRetriesExhaustedError(err));
    assert.equal(err.reason, 'budget');
    assert.equal(err.attempts, 2); // the floor allowed exactly one retry in this window
    const second = await outcome(policy.execute(flaky(9, 'never').work));
    assert.ok(isRetriesExhaustedError(second));
    assert.equal(second.attempts, 1);
  });

  it('lets calls made through one policy pay for retries of another sharing the budget', async () => {
    const clock = manualClock();
    const budget = retryBudget({ ratio: 0.5, minRetriesPerSecond: 0, clock });
    const reads = retry({ name: 'reads', budget, clock });
    const writes = retry({ name: 'writes', maxAttempts: 10, backoff: constantBackoff(1), budget, clock });
    for (let i = 0; i < 5; i++) await reads.execute(() => 'row');
    // 5 reads + 1 write deposited: 0.5 × 6 = 3 retries for the write.
    const result = outcome(writes.execute(flaky(9, 'never').work));
    await clock.advance(5);
    const err = await result;
    assert.ok(isRetriesExhaustedError(err));
    assert.equal(err.reason, 'budget');
    assert.equal(err.attempts, 4);
    assert.equal(budget.available(), 0);
  });

  it('emits retry events, calls onRetry and onGiveUp, and counts them in the snapshot', async () => {
    const clock = manualClock();
    const policy = retry({ name: 'orders', maxAttempts: 2, backoff: constantBackoff(7), clock });
    const retries: unknown[] = [];
    const giveUps: unknown[] = [];
    policy.onRetry((e) => retries.push(e));
    const sub = policy.onGiveUp((e) => giveUps.push(e.reason));
    const boom = new Error('boom');
    const result = outcome(policy.execute(() => Promise.reject(boom)));
    await clock.advance(7);
    await result;
    sub.dispose();
    assert.deepEqual(retries, [{ type: 'retry', policy: 'orders', attempt: 2, delayMs: 7, error: boom }]);
    assert.deepEqual(giveUps, ['max-attempts']);
    const snap = policy.snapshot();
    assert.equal(snap.kind, 'retry');
    assert.deepEqual(snap.details, { retries: 1, givenUp: 1 });
    assert.equal(snap.totals.calls, 1);
    assert.equal(snap.totals.failures, 1);
  });

  it('rejects without running the work when the caller has already aborted', async () => {
    const policy = retry({ clock: manualClock() });
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

  it('retries forever with maxAttempts Infinity until the work succeeds', async () => {
    const clock = manualClock();
    const policy = retry({ maxAttempts: Number.POSITIVE_INFINITY, backoff: constantBackoff(1), clock });
    const { work, attempts } = flaky(50, 'finally');
    const result = policy.execute(work);
    await clock.advance(50);
    assert.equal(await result, 'finally');
    assert.equal(attempts.length, 51);
  });

  it('fails the execution when a custom backoff returns an invalid delay', async () => {
    const policy = retry({ backoff: { delayMs: () => Number.NaN }, clock: manualClock() });
    const err = await outcome(policy.execute(() => Promise.reject(new Error('boom'))));
    assert.match(String(err), /retry.backoff returned an invalid delay for retry 1: NaN/);
  });

  it('rejects invalid options with messages naming the field', () => {
    assert.throws(
      () => retry({ maxAttempts: 0 }),
      /retry.maxAttempts must be an integer >= 1 or Infinity, got 0/,
    );
    assert.throws(() => retry({ maxAttempts: 2.5 }), /retry.maxAttempts/);
    assert.throws(
      () => retry({ maxRetryAfterMs: -1 }),
      /retry.maxRetryAfterMs must be a finite number >= 0, got -1/,
    );
    assert.throws(() => retry({ handle: 'all' as never }), /retry.handle must be a function, got string/);
    assert.throws(() => retry({ backoff: {} as never }), /retry.backoff must be a Backoff/);
  });
});
