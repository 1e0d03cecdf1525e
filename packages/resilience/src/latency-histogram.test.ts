import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LatencyHistogram } from './latency-histogram.js';

describe('LatencyHistogram', () => {
  it('reports quantiles within its 6% precision', () => {
    const h = new LatencyHistogram();
    for (let i = 1; i <= 1000; i++) h.record(i); // 1..1000 ms
    for (const [q, expected] of [
      [0.5, 500],
      [0.9, 900],
      [0.99, 990],
    ] as const) {
      const got = h.quantile(q);
      assert.ok(Math.abs(got - expected) / expected < 0.07, `q${q}: ${got} vs ${expected}`);
    }
    assert.equal(h.max, 1000);
    assert.equal(h.count, 1000);
    assert.ok(Math.abs(h.meanMs - 500.5) < 1e-9);
  });

  it('keeps sub-millisecond durations apart', () => {
    const h = new LatencyHistogram();
    h.record(0.002);
    h.record(0.25);
    assert.ok(h.quantile(0.5) <= 0.003);
    assert.ok(Math.abs(h.quantile(1) - 0.25) / 0.25 < 0.07);
  });

  it('merges and clears', () => {
    const a = new LatencyHistogram();
    const b = new LatencyHistogram();
    a.record(10);
    b.record(20);
    b.record(30);
    a.merge(b);
    assert.equal(a.count, 3);
    assert.equal(a.max, 30);
    a.clear();
    assert.equal(a.count, 0);
    assert.equal(a.quantile(0.5), 0);
  });

  it('never reports a quantile above the maximum seen', () => {
    const h = new LatencyHistogram();
    h.record(1001);
    assert.equal(h.quantile(0.99), 1001);
  });
});
