import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { circuitBreaker } from './circuit-breaker.js';
import { manualClock } from './manual-clock.js';
import { samplingBreaker } from './sampling-breaker.js';

function attached(options: Parameters<typeof samplingBreaker>[0], start = 0) {
  const clock = manualClock(start);
  const strategy = samplingBreaker(options);
  strategy.attach(clock);
  return { clock, strategy };
}

describe('samplingBreaker', () => {
  it('asks to open when the failure rate over durationMs reaches the threshold', () => {
    const { strategy } = attached({ threshold: 0.5, durationMs: 1_000, minimumCalls: 4 });
    strategy.success();
    strategy.success();
    assert.equal(strategy.failure(), undefined);
    assert.equal(strategy.failure(), 'failures');
  });

  it('judges nothing before the window holds minimumCalls calls', () => {
    const { strategy } = attached({ threshold: 0.1, durationMs: 1_000, minimumCalls: 3 });
    assert.equal(strategy.failure(), undefined);
    assert.equal(strategy.failure(), undefined);
    assert.equal(strategy.failure(), 'failures');
  });

  it('waits for 100 calls by default', () => {
    const { strategy } = attached({ threshold: 0.5, durationMs: 1_000 });
    for (let i = 0; i < 99; i++) assert.equal(strategy.failure(), undefined);
    assert.equal(strategy.failure(), 'failures');
  });

  it('forgets outcomes older than durationMs', async () => {
    const { clock, strategy } = attached({ threshold: 0.5, durationMs: 1_000, buckets: 10, minimumCalls: 2 });
    strategy.failure();
    await clock.advance(1_000);
    assert.equal(strategy.success(), undefined); // the failure has expired: 0 of 1
    assert.equal(strategy.success(), undefined);
    assert.equal(strategy.failure(), undefined); // 1 of 3
    assert.equal(strategy.failure(), 'failures'); // 2 of 4
  });

  it('keeps outcomes younger than durationMs minus one bucket', async () => {
    const { clock, strategy } = attached({ threshold: 0.5, durationMs: 1_000, buckets: 10, minimumCalls: 2 });
    strategy.failure();
    await clock.advance(899);
    assert.equal(strategy.success(), 'failures'); // 1 of 2 within the window
  });

  it('opens the circuit through a breaker, on the breaker clock', async () => {
    const clock = manualClock();
    const breaker = circuitBreaker({
      breaker: samplingBreaker({ threshold: 0.5, durationMs: 10_000, minimumCalls: 4 }),
      clock,
    });
    const fail = () => breaker.execute(() => Promise.reject(new Error('boom'))).catch(() => undefined);
    await breaker.execute(() => 1);
    await fail();
    await clock.advance(10_000); // both expire
    await fail();
    await breaker.execute(() => 1);
    await breaker.execute(() => 1);
    assert.equal(breaker.state, 'closed');
    await fail();
    assert.equal(breaker.state, 'open');
  });

  it('opens on the slow-call rate even when every call succeeds', async () => {
    const clock = manualClock();
    const breaker = circuitBreaker({
      breaker: samplingBreaker({
        threshold: 0.5,
        durationMs: 10_000,
        minimumCalls: 2,
        slowCallDurationMs: 50,
        slowCallRateThreshold: 0.5,
      }),
      clock,
    });
    const call = async (ms: number) => {
      const result = breaker.execute(() => new Promise((res) => clock.setTimeout(() => res('ok'), ms)));
      await clock.advance(ms);
      return result;
    };
    await call(5);
    assert.equal(await call(60), 'ok');
    assert.equal(breaker.state, 'open');
  });

  it('exports bucket ages and restores them on another clock', async () => {
    const { clock, strategy } = attached({
      threshold: 0.5,
      durationMs: 1_000,
      buckets: 10,
      minimumCalls: 10,
    });
    await clock.advance(50);
    strategy.failure();
    await clock.advance(300);
    strategy.success();
    strategy.success();
    const state = strategy.exportState();
    assert.deepEqual(state, {
      kind: 'sampling',
      buckets: [
        { ageMs: 350, calls: 1, failures: 1, slowCalls: 0 },
        { ageMs: 50, calls: 2, failures: 0, slowCalls: 0 },
      ],
    });
    const other = attached({ threshold: 0.5, durationMs: 1_000, buckets: 10, minimumCalls: 4 }, 987_654);
    other.strategy.restoreState(JSON.parse(JSON.stringify(state)));
    assert.deepEqual(other.strategy.exportState(), {
      kind: 'sampling',
      buckets: [
        { ageMs: 354, calls: 1, failures: 1, slowCalls: 0 },
        { ageMs: 54, calls: 2, failures: 0, slowCalls: 0 },
      ],
    });
    assert.equal(other.strategy.failure(), 'failures'); // 2 of 4
  });

  it('drops restored buckets older than the window', () => {
    const { strategy } = attached({ threshold: 0.5, durationMs: 1_000, minimumCalls: 1 });
    strategy.restoreState({
      kind: 'sampling',
      buckets: [{ ageMs: 5_000, calls: 9, failures: 9, slowCalls: 0 }],
    });
    assert.deepEqual(strategy.exportState(), { kind: 'sampling', buckets: [] });
    assert.equal(strategy.success(), undefined);
  });

  it('rejects a bad state, naming the field, and keeps its own', () => {
    const { strategy } = attached({ threshold: 0.5, durationMs: 1_000, minimumCalls: 2 });
    strategy.failure();
    assert.throws(
      () => strategy.restoreState({ kind: 'sampling', buckets: {} }),
      /samplingBreaker.state.buckets must be an array/,
    );
    assert.throws(
      () =>
        strategy.restoreState({
          kind: 'sampling',
          buckets: [{ ageMs: -1, calls: 1, failures: 0, slowCalls: 0 }],
        }),
      /samplingBreaker.state.buckets\[0\].ageMs must be a finite number >= 0, got -1/,
    );
    assert.throws(
      () =>
        strategy.restoreState({
          kind: 'sampling',
          buckets: [{ ageMs: 1, calls: 1, failures: 2, slowCalls: 0 }],
        }),
      /samplingBreaker.state.buckets\[0\].failures must be an integer >= 0 and <= 1, got 2/,
    );
    assert.throws(
      () => strategy.restoreState({ kind: 'sampling', buckets: [{ ageMs: 1, calls: 1, failures: 0 }] }),
      /samplingBreaker.state.buckets\[0\].slowCalls must be an integer >= 0 and <= 1, got undefined/,
    );
    assert.equal(strategy.failure(), 'failures');
  });

  it('rejects invalid options with a message naming the field', () => {
    assert.throws(
      () => samplingBreaker({ threshold: 0.5, durationMs: 0 }),
      /samplingBreaker.durationMs must be a finite number > 0, got 0/,
    );
    assert.throws(
      () => samplingBreaker({ threshold: -1, durationMs: 10 }),
      /samplingBreaker.threshold must be a number > 0 and <= 1/,
    );
    assert.throws(
      () => samplingBreaker({ threshold: 0.5, durationMs: 10, buckets: 0 }),
      /samplingBreaker.buckets must be an integer >= 1/,
    );
    assert.throws(
      () => samplingBreaker({ threshold: 0.5, durationMs: 10, minimumCalls: 0 }),
      /samplingBreaker.minimumCalls/,
    );
    assert.throws(
      () =>
        samplingBreaker({ threshold: 0.5, durationMs: 10, slowCallDurationMs: 5, slowCallRateThreshold: 2 }),
      /samplingBreaker.slowCallRateThreshold must be a number > 0 and <= 1, got 2/,
    );
  });
});
