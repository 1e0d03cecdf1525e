import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { manualClock } from './manual-clock.js';
import { isRateLimitedError, RateLimitedError, rateLimiter } from './rate-limiter.js';

describe('rateLimiter', () => {
  it('runs a burst of calls at once, then rejects with the exact retryAfterMs', async () => {
    const clock = manualClock();
    const limiter = rateLimiter({ ratePerSecond: 10, burst: 3, clock });
    for (let i = 0; i < 3; i++) assert.equal(await limiter.execute(() => i), i);
    let ran = false;
    const err = await limiter
      .execute(() => {
        ran = true;
      })
      .catch((e: unknown) => e);
    assert.ok(err instanceof RateLimitedError);
    assert.ok(isRateLimitedError(err));
    assert.equal(err.code, 'RATE_LIMITED');
    assert.equal(err.retryable, true);
    assert.equal(err.retryAfterMs, 100);
    assert.equal(ran, false);
  });

  it('allows calls again as tokens refill', async () => {
    const clock = manualClock();
    const limiter = rateLimiter({ ratePerSecond: 4, clock });
    for (let i = 0; i < 4; i++) await limiter.execute(() => i);
    await clock.advance(250);
    assert.equal(await limiter.execute(() => 'again'), 'again');
    await assert.rejects(
      limiter.execute(() => 'too soon'),
      isRateLimitedError,
    );
  });

  it('waits for a token when the wait is within maxWaitMs, then runs', async () => {
    const clock = manualClock();
    const limiter = rateLimiter({ ratePerSecond: 10, burst: 1, maxWaitMs: 100, clock });
    await limiter.execute(() => 'first');
    let ran = false;
    const waiting = limiter.execute(() => {
      ran = true;
      return 'second';
    });
    assert.equal(limiter.waiting, 1);
    await clock.advance(99);
    assert.equal(ran, false);
    await clock.advance(1);
    assert.equal(await waiting, 'second');
    assert.equal(limiter.waiting, 0);
  });

  it('rejects a call whose wait would exceed maxWaitMs because others wait ahead of it', async () => {
    const clock = manualClock();
    const limiter = rateLimiter({ ratePerSecond: 10, burst: 1, maxWaitMs: 150, clock });
    await limiter.execute(() => 0);
    const w1 = limiter.execute(() => 1); // 100 ms
    const err = (await limiter.execute(() => 2).catch((e: unknown) => e)) as RateLimitedError; // would be 200 ms
    assert.ok(isRateLimitedError(err));
    assert.equal(err.retryAfterMs, 200);
    await clock.advance(100);
    assert.equal(await w1, 1);
  });

  it('runs waiters in arrival order', async () => {
    const clock = manualClock();
    const limiter = rateLimiter({ ratePerSecond: 10, burst: 1, maxWaitMs: 1_000, clock });
    await limiter.execute(() => 0);
    const order: number[] = [];
    const all = [1, 2, 3, 4].map((i) => limiter.execute(() => order.push(i)));
    await clock.advance(200);
    assert.deepEqual(order, [1, 2]);
    await clock.advance(200);
    await Promise.all(all);
    assert.deepEqual(order, [1, 2, 3, 4]);
  });

  it("rejects a waiter at once with the caller's reason when it aborts, and gives its token back", async () => {
    const clock = manualClock();
    const limiter = rateLimiter({ ratePerSecond: 10, burst: 1, maxWaitMs: 1_000, clock });
    await limiter.execute(() => 0);
    const caller = new AbortController();
    let ran = false;
    const aborted = limiter
      .execute(() => {
        ran = true;
      }, caller.signal)
      .catch((e: unknown) => e);
    const reason = new Error('client went away');
    caller.abort(reason);
    assert.equal(await aborted, reason);
    assert.equal(limiter.waiting, 0);
    assert.equal(clock.pendingTimers, 0);
    // The given-back token is the next one: a new call waits 100 ms, not 200.
    const seen: number[] = [];
    limiter.onEvent((e) => {
      if (e.type === 'wait') seen.push(e.delayMs);
    });
    const next = limiter.execute(() => 'next');
    assert.deepEqual(seen, [100]);
    await clock.advance(100);
    assert.equal(await next, 'next');
    assert.equal(ran, false);
    assert.equal(limiter.snapshot().totals.failures, 0);
  });

  it('emits rejection and wait events and counts rejections', async () => {
    const clock = manualClock();
    const limiter = rateLimiter({ ratePerSecond: 2, burst: 1, maxWaitMs: 500, clock, name: 'github' });
    const seen: unknown[] = [];
    limiter.onEvent((e) => {
      if (e.type !== 'success') seen.push(e);
    });
    await limiter.execute(() => 0);
    const waited = limiter.execute(() => 1);
    await limiter.execute(() => 2).catch(() => undefined);
    await clock.advance(500);
    await waited;
    assert.deepEqual(seen, [
      { type: 'wait', policy: 'github', delayMs: 500 },
      { type: 'rejection', policy: 'github', retryAfterMs: 1000 },
    ]);
    const snap = limiter.snapshot();
    assert.equal(snap.totals.rejections, 1);
    assert.equal(snap.details?.ratePerSecond, 2);
  });

  it('defaults burst to the rate, and to at least one call', () => {
    assert.equal(rateLimiter({ ratePerSecond: 5 }).burst, 5);
    assert.equal(rateLimiter({ ratePerSecond: 0.5 }).burst, 1);
    assert.equal(rateLimiter({ ratePerSecond: 5 }).maxWaitMs, 0);
  });

  it('rejects invalid options with a message naming the field', () => {
    assert.throws(
      () => rateLimiter({ ratePerSecond: 0 }),
      /rateLimiter.ratePerSecond must be a finite number > 0, got 0/,
    );
    assert.throws(
      () => rateLimiter({ ratePerSecond: 1, burst: 0.5 }),
      /rateLimiter.burst must be a finite number >= 1, got 0.5/,
    );
    assert.throws(
      () => rateLimiter({ ratePerSecond: 1, maxWaitMs: -1 }),
      /rateLimiter.maxWaitMs must be a number >= 0, got -1/,
    );
  });
});
