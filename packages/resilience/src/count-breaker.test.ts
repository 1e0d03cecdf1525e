import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { circuitBreaker } from './circuit-breaker.js';
import { countBreaker } from './count-breaker.js';
import { manualClock } from './manual-clock.js';

describe('countBreaker', () => {
  it('asks to open when the failure rate over the last size calls reaches the threshold', () => {
    const strategy = countBreaker({ threshold: 0.5, size: 4 });
    assert.equal(strategy.success(), undefined);
    assert.equal(strategy.success(), undefined);
    assert.equal(strategy.failure(), undefined);
    assert.equal(strategy.failure(), 'failures'); // 2 of 4
  });

  it('judges nothing before the window holds minimumCalls calls', () => {
    const strategy = countBreaker({ threshold: 0.5, size: 10, minimumCalls: 3 });
    assert.equal(strategy.failure(), undefined);
    assert.equal(strategy.failure(), undefined);
    assert.equal(strategy.success(), 'failures'); // 2 of 3: judged on the third call, even a success
  });

  it('waits for a full window by default', () => {
    const strategy = countBreaker({ threshold: 0.1, size: 5 });
    for (let i = 0; i < 4; i++) assert.equal(strategy.failure(), undefined);
    assert.equal(strategy.failure(), 'failures');
  });

  it('forgets outcomes that slide out of the window', () => {
    const strategy = countBreaker({ threshold: 0.5, size: 4 });
    strategy.failure();
    for (let i = 0; i < 4; i++) strategy.success(); // the failure leaves the window
    assert.equal(strategy.failure(), undefined); // 1 of 4
    assert.equal(strategy.failure(), 'failures'); // 2 of 4
  });

  it('opens the circuit through a breaker at the failure rate', async () => {
    const breaker = circuitBreaker({
      breaker: countBreaker({ threshold: 0.6, size: 5 }),
      clock: manualClock(),
    });
    const outcomes = [true, false, true, false, false];
    for (const ok of outcomes)
      await breaker
        .execute(() => {
          if (!ok) throw new Error('boom');
        })
        .catch(() => undefined);
    assert.equal(breaker.state, 'open');
  });

  it('opens on the slow-call rate even when every call succeeds', async () => {
    const clock = manualClock();
    const breaker = circuitBreaker({
      breaker: countBreaker({ threshold: 0.5, size: 4, slowCallDurationMs: 100, slowCallRateThreshold: 0.5 }),
      clock,
    });
    const call = async (ms: number) => {
      const result = breaker.execute(() => new Promise((res) => clock.setTimeout(() => res('ok'), ms)));
      await clock.advance(ms);
      return result;
    };
    await call(10);
    await call(150);
    await call(100); // not slower than 100 ms
    assert.equal(breaker.state, 'closed');
    assert.equal(await call(101), 'ok');
    assert.equal(breaker.state, 'open');
    const breaks = breaker.snapshot();
    assert.equal(breaks.totals.failures, 0);
  });

  it('counts a slow failure as both slow and failed', () => {
    const strategy = countBreaker({
      threshold: 1,
      size: 2,
      slowCallDurationMs: 10,
      slowCallRateThreshold: 1,
    });
    strategy.failure(50);
    assert.equal(strategy.success(50), 'slow-calls');
  });

  it('needs durations only when slow calls are tracked', () => {
    assert.equal(countBreaker({ threshold: 0.5, size: 2 }).needsDurations, false);
    assert.equal(countBreaker({ threshold: 0.5, size: 2, slowCallDurationMs: 1 }).needsDurations, true);
  });

  it('exports its window oldest first and restores it', () => {
    const strategy = countBreaker({ threshold: 0.5, size: 3, slowCallDurationMs: 10 });
    strategy.failure(1);
    strategy.success(20);
    strategy.success(1);
    strategy.failure(30); // the first failure leaves the window
    const state = strategy.exportState();
    assert.deepEqual(state, { kind: 'count', outcomes: [2, 0, 3] });
    const restored = countBreaker({ threshold: 0.5, size: 3, slowCallDurationMs: 10 });
    restored.restoreState(JSON.parse(JSON.stringify(state)));
    assert.deepEqual(restored.exportState(), state);
    assert.equal(restored.failure(1), 'failures'); // 2 of 3 once the slow success leaves
  });

  it('keeps the newest size outcomes of a larger exported window', () => {
    const strategy = countBreaker({ threshold: 0.5, size: 2 });
    strategy.restoreState({ kind: 'count', outcomes: [1, 1, 1, 0, 0] });
    assert.deepEqual(strategy.exportState(), { kind: 'count', outcomes: [0, 0] });
  });

  it('rejects a bad state, naming the field, and keeps its own', () => {
    const strategy = countBreaker({ threshold: 0.5, size: 2 });
    strategy.failure();
    assert.throws(
      () => strategy.restoreState({ kind: 'count' }),
      /countBreaker.state.outcomes must be an array, got undefined/,
    );
    assert.throws(
      () => strategy.restoreState({ kind: 'count', outcomes: [0, 4] }, 'x'),
      /x.outcomes\[1\] must be an integer >= 0 and <= 3, got 4/,
    );
    assert.throws(
      () => strategy.restoreState({ kind: 'sampling', outcomes: [] }),
      /countBreaker.state.kind must be 'count'/,
    );
    assert.equal(strategy.failure(), 'failures');
  });

  it('rejects invalid options with a message naming the field', () => {
    assert.throws(
      () => countBreaker({ threshold: 0, size: 5 }),
      /countBreaker.threshold must be a number > 0 and <= 1, got 0/,
    );
    assert.throws(() => countBreaker({ threshold: 1.5, size: 5 }), /countBreaker.threshold/);
    assert.throws(
      () => countBreaker({ threshold: 0.5, size: 0 }),
      /countBreaker.size must be an integer >= 1, got 0/,
    );
    assert.throws(
      () => countBreaker({ threshold: 0.5, size: 5, minimumCalls: 6 }),
      /countBreaker.minimumCalls must be an integer >= 1 and <= 5, got 6/,
    );
    assert.throws(
      () => countBreaker({ threshold: 0.5, size: 5, slowCallRateThreshold: 0.5 }),
      /countBreaker.slowCallRateThreshold needs countBreaker.slowCallDurationMs/,
    );
    assert.throws(
      () => countBreaker({ threshold: 0.5, size: 5, slowCallDurationMs: -1 }),
      /countBreaker.slowCallDurationMs must be a finite number >= 0, got -1/,
    );
  });
});
