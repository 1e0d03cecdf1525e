import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { manualClock } from './manual-clock.js';
import { keyedTokenBuckets, tokenBucket } from './token-bucket.js';

describe('tokenBucket', () => {
  it('starts full and hands out capacity tokens at once', () => {
    const bucket = tokenBucket({ capacity: 3, refillPerSecond: 1, clock: manualClock() });
    assert.equal(bucket.available(), 3);
    assert.deepEqual([bucket.tryTake(), bucket.tryTake(), bucket.tryTake()], [0, 0, 0]);
    assert.equal(bucket.available(), 0);
  });

  it('returns the exact wait until the tokens refill, taking nothing', () => {
    const bucket = tokenBucket({ capacity: 2, refillPerSecond: 10, clock: manualClock() });
    bucket.tryTake(2);
    assert.equal(bucket.tryTake(), 100);
    assert.equal(bucket.tryTake(2), 200);
    assert.equal(bucket.available(), 0);
  });

  it('refills fractionally with elapsed time', async () => {
    const clock = manualClock();
    const bucket = tokenBucket({ capacity: 2, refillPerSecond: 10, clock, initialTokens: 0 });
    await clock.advance(50);
    assert.equal(bucket.available(), 0.5);
    assert.equal(bucket.tryTake(), 50);
    await clock.advance(25);
    assert.equal(bucket.available(), 0.75);
    await clock.advance(25);
    assert.equal(bucket.tryTake(), 0);
    assert.equal(bucket.available(), 0);
  });

  it('never holds more than capacity, however long it idles', async () => {
    const clock = manualClock();
    const bucket = tokenBucket({ capacity: 5, refillPerSecond: 100, clock, initialTokens: 1 });
    await clock.advance(60_000);
    assert.equal(bucket.available(), 5);
    assert.equal(bucket.tryTake(5), 0);
    assert.equal(bucket.tryTake(), 10);
  });

  it('satisfies a request despite floating-point error in the refill', async () => {
    const clock = manualClock();
    const bucket = tokenBucket({ capacity: 1, refillPerSecond: 3, clock, initialTokens: 0 });
    for (let i = 0; i < 3; i++) {
      await clock.advance(100);
      bucket.available(); // refills 0.3 at a time: 0.3 + 0.3 + 0.3 is 0.8999999999999999
    }
    assert.equal(bucket.tryTake(0.9), 0);
  });

  it('reserves tokens into debt, returning when the debt is repaid', async () => {
    const clock = manualClock();
    const bucket = tokenBucket({ capacity: 1, refillPerSecond: 10, clock });
    assert.equal(bucket.reserve(), 0);
    assert.equal(bucket.reserve(), 100);
    assert.equal(bucket.reserve(), 200);
    assert.equal(bucket.tryTake(), 300);
    bucket.refund();
    assert.equal(bucket.tryTake(), 200);
    await clock.advance(200);
    assert.equal(bucket.tryTake(), 0);
  });

  it('never refunds above capacity', () => {
    const bucket = tokenBucket({ capacity: 2, refillPerSecond: 1, clock: manualClock() });
    bucket.refund(2);
    assert.equal(bucket.available(), 2);
  });

  it('keeps tokens within [0, capacity] whatever the takes and pauses', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 500 }), fc.integer({ min: 1, max: 4 })), {
          maxLength: 50,
        }),
        async (steps) => {
          const clock = manualClock();
          const bucket = tokenBucket({ capacity: 4, refillPerSecond: 7, clock });
          let taken = 0;
          for (const [pauseMs, n] of steps) {
            await clock.advance(pauseMs);
            if (bucket.tryTake(n) === 0) taken += n;
            const tokens = bucket.available();
            assert.ok(tokens >= 0 && tokens <= 4, `tokens ${tokens}`);
          }
          // Never more than the burst plus what the elapsed time refilled.
          assert.ok(taken <= 4 + (clock.now() * 7) / 1000 + 1e-6);
        },
      ),
      { numRuns: 50 },
    );
  });

  it('rejects a request it could never satisfy and invalid options', () => {
    const bucket = tokenBucket({ capacity: 2, refillPerSecond: 1, clock: manualClock() });
    assert.throws(() => bucket.tryTake(3), /n must be a number in \(0, 2\], got 3/);
    assert.throws(() => bucket.tryTake(0), /got 0/);
    assert.throws(
      () => tokenBucket({ capacity: 0, refillPerSecond: 1 }),
      /tokenBucket.capacity must be a finite number > 0, got 0/,
    );
    assert.throws(
      () => tokenBucket({ capacity: 1, refillPerSecond: Number.NaN }),
      /tokenBucket.refillPerSecond must be a finite number > 0, got NaN/,
    );
    assert.throws(
      () => tokenBucket({ capacity: 1, refillPerSecond: 1, initialTokens: 2 }),
      /tokenBucket.initialTokens must be a number in \[0, 1\], got 2/,
    );
  });
});

describe('keyedTokenBuckets', () => {
  it('keeps an independent bucket per key', () => {
    const buckets = keyedTokenBuckets({ capacity: 1, refillPerSecond: 1, clock: manualClock() });
    assert.equal(buckets.tryTake('a'), 0);
    assert.equal(buckets.tryTake('a'), 1000);
    assert.equal(buckets.tryTake('b'), 0);
    assert.equal(buckets.available('a'), 0);
    assert.equal(buckets.available('unknown'), 1);
    assert.equal(buckets.size, 2);
  });

  it('evicts an idle full bucket before the least recently used busy one', async () => {
    const clock = manualClock();
    const buckets = keyedTokenBuckets({ capacity: 2, refillPerSecond: 1, clock, maxKeys: 2 });
    buckets.tryTake('busy', 2); // needs 2 s to refill
    buckets.tryTake('idle', 1); // needs 1 s to refill
    await clock.advance(1_000);
    buckets.tryTake('new');
    assert.equal(buckets.size, 2);
    // 'busy' kept its debt: a fresh bucket would answer 0.
    assert.equal(buckets.tryTake('busy', 2), 1000);
  });

  it('evicts the least recently used bucket when none is full', () => {
    const buckets = keyedTokenBuckets({ capacity: 1, refillPerSecond: 1, clock: manualClock(), maxKeys: 2 });
    buckets.tryTake('a');
    buckets.tryTake('b');
    buckets.tryTake('a', 0.5); // touching 'a' makes 'b' the least recently used
    buckets.tryTake('c');
    assert.equal(buckets.size, 2);
    assert.equal(buckets.tryTake('a'), 1000);
    // 'b' was forgotten, and 'a' was kept: 'b' starts over with a full bucket.
    assert.equal(buckets.available('b'), 1);
  });

  it('forgets a deleted key', () => {
    const buckets = keyedTokenBuckets({ capacity: 1, refillPerSecond: 1, clock: manualClock() });
    buckets.tryTake('a');
    assert.equal(buckets.delete('a'), true);
    assert.equal(buckets.tryTake('a'), 0);
  });

  it('never tracks more than maxKeys', () => {
    const buckets = keyedTokenBuckets({ capacity: 1, refillPerSecond: 1, clock: manualClock(), maxKeys: 50 });
    for (let i = 0; i < 500; i++) buckets.tryTake(`k${i}`);
    assert.equal(buckets.size, 50);
  });

  it('rejects invalid options with a message naming the field', () => {
    assert.throws(
      () => keyedTokenBuckets({ capacity: 1, refillPerSecond: 1, maxKeys: 0 }),
      /keyedTokenBuckets.maxKeys must be an integer >= 1, got 0/,
    );
    assert.throws(
      () => keyedTokenBuckets({ capacity: -1, refillPerSecond: 1 }),
      /keyedTokenBuckets.capacity/,
    );
  });
});
