import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { manualClock } from './manual-clock.js';
import { PolicyMetrics } from './metrics.js';

describe('PolicyMetrics', () => {
  it('keeps cumulative totals and a rolling window', async () => {
    const clock = manualClock();
    const m = new PolicyMetrics(clock, { windowMs: 1000, buckets: 10 });
    m.call();
    m.success();
    m.call();
    m.failure(clock.now());
    await clock.advance(500);
    m.snapshot('test', 'm'); // reading the clock slides the window; calls land in the bucket of the last read
    m.call();
    m.rejection(clock.now());
    let s = m.snapshot('test', 'm');
    assert.deepEqual(s.totals, { calls: 3, successes: 1, failures: 1, rejections: 1 });
    assert.equal(s.window.calls, 3);
    assert.equal(s.window.failureRate, 0.5);
    await clock.advance(600); // the first two calls leave the window
    s = m.snapshot('test', 'm');
    assert.equal(s.window.calls, 1);
    assert.equal(s.window.rejections, 1);
    assert.equal(s.window.failures, 0);
    assert.equal(s.totals.calls, 3);
    await clock.advance(5000);
    assert.equal(m.snapshot('test', 'm').window.calls, 0);
  });

  it('times the first 32 calls of a bucket, then one call in latencySampleEvery', () => {
    const clock = manualClock();
    const m = new PolicyMetrics(clock, { latencySampleEvery: 4 });
    for (let i = 0; i < 32; i++) {
      assert.equal(m.sample(), true);
      m.successTimed(1, clock.now());
    }
    const sampled = Array.from({ length: 8 }, () => m.sample());
    assert.deepEqual(sampled, [false, false, false, true, false, false, false, true]);
  });

  it('reports latency percentiles of timed calls', () => {
    const clock = manualClock();
    const m = new PolicyMetrics(clock, { latencySampleEvery: 1 });
    for (let i = 1; i <= 100; i++) m.successTimed(i, clock.now());
    const { latency } = m.snapshot('test', 'm').window;
    assert.equal(latency.samples, 100);
    assert.ok(Math.abs(latency.p50Ms - 50) < 4);
    assert.equal(latency.maxMs, 100);
  });

  it('rejects invalid options naming the field', () => {
    const clock = manualClock();
    assert.throws(() => new PolicyMetrics(clock, { windowMs: 0 }), /metrics.windowMs must be > 0, got 0/);
    assert.throws(() => new PolicyMetrics(clock, { buckets: 0 }), /metrics.buckets must be an integer >= 1/);
    assert.throws(() => new PolicyMetrics(clock, { latencySampleEvery: 3 }), /power of two/);
  });
});
