import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { type AdaptiveLimit, aimdLimit, gradientLimit } from './adaptive-limit.js';

const ok = (rttMs: number, inflight: number) => ({ rttMs, inflight, dropped: false });
const drop = (rttMs: number, inflight: number) => ({ rttMs, inflight, dropped: true });

const sampleArb = fc.record({
  rttMs: fc.double({ min: 0, max: 10_000, noNaN: true }),
  inflight: fc.integer({ min: 1, max: 500 }),
  dropped: fc.boolean(),
});

function staysInBounds(make: () => AdaptiveLimit, min: number, max: number): void {
  fc.assert(
    fc.property(fc.array(sampleArb, { maxLength: 200 }), (samples) => {
      const limit = make();
      for (const s of samples) {
        limit.onSample(s);
        assert.ok(Number.isInteger(limit.limit), `limit ${limit.limit} is not an integer`);
        assert.ok(limit.limit >= min && limit.limit <= max, `limit ${limit.limit} out of [${min}, ${max}]`);
      }
    }),
  );
}

describe('aimdLimit', () => {
  it('starts at initialLimit (20 by default)', () => {
    assert.equal(aimdLimit().limit, 20);
    assert.equal(aimdLimit({ initialLimit: 7 }).limit, 7);
    assert.equal(aimdLimit().kind, 'aimd');
  });

  it('adds 1 after a good sample taken with at least half the limit in flight', () => {
    const limit = aimdLimit();
    limit.onSample(ok(10, 10));
    assert.equal(limit.limit, 21);
  });

  it('stays put after a good sample taken with less than half the limit in flight', () => {
    const limit = aimdLimit();
    limit.onSample(ok(10, 9));
    assert.equal(limit.limit, 20);
  });

  it('multiplies by backoffRatio, rounding down, after a drop', () => {
    const limit = aimdLimit({ initialLimit: 25 });
    limit.onSample(drop(10, 1));
    assert.equal(limit.limit, 22);
    const halving = aimdLimit({ initialLimit: 25, backoffRatio: 0.5 });
    halving.onSample(drop(10, 1));
    assert.equal(halving.limit, 12);
  });

  it('counts a sample slower than timeoutMs as a drop, but not one exactly at it', () => {
    const limit = aimdLimit({ timeoutMs: 100 });
    limit.onSample(ok(100, 20));
    assert.equal(limit.limit, 21);
    limit.onSample(ok(100.5, 20));
    assert.equal(limit.limit, 18);
  });

  it('never leaves [minLimit, maxLimit]', () => {
    const limit = aimdLimit({ initialLimit: 3, minLimit: 2, maxLimit: 4 });
    for (let i = 0; i < 5; i++) limit.onSample(ok(1, 4));
    assert.equal(limit.limit, 4);
    for (let i = 0; i < 5; i++) limit.onSample(drop(1, 4));
    assert.equal(limit.limit, 2);
    staysInBounds(() => aimdLimit({ initialLimit: 5, minLimit: 3, maxLimit: 40 }), 3, 40);
  });

  it('rejects invalid options with a message naming the field', () => {
    assert.throws(() => aimdLimit({ minLimit: 0 }), /aimdLimit.minLimit must be an integer >= 1, got 0/);
    assert.throws(
      () => aimdLimit({ minLimit: 5, maxLimit: 4 }),
      /aimdLimit.maxLimit must be an integer >= minLimit/,
    );
    assert.throws(
      () => aimdLimit({ initialLimit: 300 }),
      /aimdLimit.initialLimit must be an integer in \[1, 200\], got 300/,
    );
    assert.throws(
      () => aimdLimit({ backoffRatio: 1 }),
      /aimdLimit.backoffRatio must be a number in \[0.5, 1\), got 1/,
    );
    assert.throws(() => aimdLimit({ timeoutMs: 0 }), /aimdLimit.timeoutMs must be a number > 0, got 0/);
  });
});

describe('gradientLimit', () => {
  it('grows by queueSize × smoothing per sample while latency holds steady', () => {
    const limit = gradientLimit();
    assert.equal(limit.kind, 'gradient');
    const seen: number[] = [];
    for (let i = 0; i < 3; i++) {
      limit.onSample(ok(10, 20));
      seen.push(limit.limit);
    }
    // 20 -> 20.8 -> 21.6 -> 22.4
    assert.deepEqual(seen, [20, 21, 22]);
  });

  it('shrinks when a sample is much slower than the long-term RTT', () => {
    const limit = gradientLimit({ initialLimit: 40, maxLimit: 40 });
    for (let i = 0; i < 10; i++) limit.onSample(ok(10, 40));
    assert.equal(limit.limit, 40);
    limit.onSample(ok(100, 40));
    // gradient 0.5: 40 × 0.8 + (40 × 0.5 + 4) × 0.2 = 36.8
    assert.equal(limit.limit, 36);
  });

  it('tolerates samples up to rttTolerance × the long-term RTT', () => {
    const limit = gradientLimit({ initialLimit: 40, maxLimit: 40, rttTolerance: 2 });
    for (let i = 0; i < 10; i++) limit.onSample(ok(10, 40));
    limit.onSample(ok(19, 40));
    assert.equal(limit.limit, 40);
  });

  it('shrinks after a drop even when the drop was fast', () => {
    const limit = gradientLimit();
    limit.onSample(drop(1, 1));
    // 20 × 0.8 + (20 × 0.5 + 4) × 0.2 = 18.8
    assert.equal(limit.limit, 18);
  });

  it('leaves the limit unchanged while fewer than half its calls are in flight', () => {
    const limit = gradientLimit();
    for (let i = 0; i < 10; i++) limit.onSample(ok(10, 9));
    limit.onSample(ok(1_000, 9));
    assert.equal(limit.limit, 20);
  });

  it('uses queueSize as the headroom added per sample', () => {
    const limit = gradientLimit({ queueSize: (l) => l / 2, smoothing: 1 });
    limit.onSample(ok(10, 20));
    assert.equal(limit.limit, 30);
  });

  it('never leaves [minLimit, maxLimit]', () => {
    const limit = gradientLimit({ initialLimit: 10, minLimit: 8, maxLimit: 12, queueSize: () => 0 });
    for (let i = 0; i < 50; i++) limit.onSample(drop(1, 10));
    assert.equal(limit.limit, 8);
    staysInBounds(() => gradientLimit({ initialLimit: 5, minLimit: 2, maxLimit: 60 }), 2, 60);
  });

  it('rejects invalid options with a message naming the field', () => {
    assert.throws(
      () => gradientLimit({ smoothing: 0 }),
      /gradientLimit.smoothing must be a number in \(0, 1\], got 0/,
    );
    assert.throws(
      () => gradientLimit({ rttTolerance: 0.9 }),
      /gradientLimit.rttTolerance must be a finite number >= 1/,
    );
    assert.throws(
      () => gradientLimit({ longWindow: 0 }),
      /gradientLimit.longWindow must be an integer >= 1, got 0/,
    );
    assert.throws(
      () => gradientLimit({ queueSize: 4 as never }),
      /gradientLimit.queueSize must be a function/,
    );
    assert.throws(() => gradientLimit({ maxLimit: 0 }), /gradientLimit.maxLimit/);
  });
});
