import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { Backoff } from './backoff.js';
import { constantBackoff, decorrelatedJitterBackoff, exponentialBackoff } from './backoff.js';
import type { RandomSource } from './clock.js';

/** A random source that returns `values` in turn, then repeats the last one. */
function fixed(...values: number[]): RandomSource {
  let i = 0;
  return () => values[Math.min(i++, values.length - 1)] as number;
}

/** The delays of the first `retries` retries of one execution. */
function sequence(backoff: Backoff, retries: number, random: RandomSource): number[] {
  const delays: number[] = [];
  let previous = 0;
  for (let attempt = 1; attempt <= retries; attempt++) {
    previous = backoff.delayMs(attempt, previous, random);
    delays.push(previous);
  }
  return delays;
}

describe('constantBackoff', () => {
  it('waits the same delay before every retry', () => {
    assert.deepEqual(sequence(constantBackoff(250), 4, fixed(0.9)), [250, 250, 250, 250]);
  });

  it('rejects a negative delay with a message naming the field', () => {
    assert.throws(() => constantBackoff(-1), /constantBackoff.delayMs must be a finite number >= 0, got -1/);
  });
});

describe('exponentialBackoff', () => {
  it('doubles from initialDelayMs up to maxDelayMs without jitter', () => {
    const backoff = exponentialBackoff({ initialDelayMs: 100, maxDelayMs: 1_000, jitter: 'none' });
    assert.deepEqual(sequence(backoff, 6, fixed(0)), [100, 200, 400, 800, 1_000, 1_000]);
  });

  it('grows by the given exponent', () => {
    const backoff = exponentialBackoff({ initialDelayMs: 10, exponent: 3, jitter: 'none' });
    assert.deepEqual(sequence(backoff, 4, fixed(0)), [10, 30, 90, 270]);
  });

  it('scales the delay by the random number with full jitter (the default)', () => {
    const backoff = exponentialBackoff({ initialDelayMs: 100 });
    assert.deepEqual(sequence(backoff, 4, fixed(0.5, 0.25, 0, 0.75)), [50, 50, 0, 600]);
  });

  it('keeps at least half the delay with equal jitter', () => {
    const backoff = exponentialBackoff({ initialDelayMs: 100, jitter: 'equal' });
    assert.deepEqual(sequence(backoff, 3, fixed(0.5, 0, 0.5)), [75, 100, 300]);
  });

  it('stays at maxDelayMs for very late retries instead of overflowing', () => {
    const backoff = exponentialBackoff({ initialDelayMs: 100, maxDelayMs: 5_000, jitter: 'none' });
    assert.equal(backoff.delayMs(5_000, 5_000, fixed(0)), 5_000);
  });

  it('never exceeds the capped delay with full jitter', () => {
    const backoff = exponentialBackoff({ initialDelayMs: 7, maxDelayMs: 900 });
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2_000 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (attempt, r) => {
          const d = backoff.delayMs(attempt, 0, () => r);
          return d >= 0 && d <= Math.min(900, 7 * 2 ** (attempt - 1));
        },
      ),
    );
  });

  it('rejects invalid options with messages naming the field', () => {
    assert.throws(
      () => exponentialBackoff({ initialDelayMs: Number.NaN }),
      /exponentialBackoff.initialDelayMs must be/,
    );
    assert.throws(
      () => exponentialBackoff({ initialDelayMs: 500, maxDelayMs: 100 }),
      /exponentialBackoff.maxDelayMs must be a finite number >= initialDelayMs \(500\), got 100/,
    );
    assert.throws(
      () => exponentialBackoff({ exponent: 0.5 }),
      /exponentialBackoff.exponent must be a finite number >= 1, got 0.5/,
    );
    assert.throws(
      () => exponentialBackoff({ jitter: 'half' as 'full' }),
      /exponentialBackoff.jitter must be 'none', 'full' or 'equal', got half/,
    );
  });
});

describe('decorrelatedJitterBackoff', () => {
  it('draws each delay between initialDelayMs and three times the previous one', () => {
    const backoff = decorrelatedJitterBackoff({ initialDelayMs: 100 });
    // 100 + 0.5·(300 − 100) = 200; 100 + 0.5·(600 − 100) = 350; 100 + 0·(…) = 100;
    // 100 + 0.25·(300 − 100) = 150; 100 + 0.25·(450 − 100) = 187.5
    assert.deepEqual(sequence(backoff, 5, fixed(0.5, 0.5, 0, 0.25)), [200, 350, 100, 150, 187.5]);
  });

  it('caps the delay at maxDelayMs', () => {
    const backoff = decorrelatedJitterBackoff({ initialDelayMs: 100, maxDelayMs: 1_000 });
    // 250, then 100 + 0.75·(750 − 100) = 587.5, then 1346.875 capped, then capped again
    assert.deepEqual(sequence(backoff, 4, fixed(0.75)), [250, 587.5, 1_000, 1_000]);
  });

  it('always stays within [initialDelayMs, maxDelayMs]', () => {
    const backoff = decorrelatedJitterBackoff({ initialDelayMs: 20, maxDelayMs: 3_000 });
    fc.assert(
      fc.property(
        fc.double({ min: 0, max: 3_000, noNaN: true }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (previous, r) => {
          const d = backoff.delayMs(1, previous, () => r);
          return d >= 20 && d <= 3_000;
        },
      ),
    );
  });

  it('rejects invalid options with messages naming the field', () => {
    assert.throws(
      () => decorrelatedJitterBackoff({ initialDelayMs: 0 }),
      /decorrelatedJitterBackoff.initialDelayMs must be a finite number > 0, got 0/,
    );
    assert.throws(
      () => decorrelatedJitterBackoff({ initialDelayMs: 10, maxDelayMs: Number.POSITIVE_INFINITY }),
      /decorrelatedJitterBackoff.maxDelayMs must be a finite number >= initialDelayMs \(10\), got Infinity/,
    );
  });
});
