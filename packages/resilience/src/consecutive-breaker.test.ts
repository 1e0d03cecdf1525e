import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { consecutiveBreaker } from './consecutive-breaker.js';

describe('consecutiveBreaker', () => {
  it('asks to open at the threshold-th consecutive failure', () => {
    const strategy = consecutiveBreaker(3);
    assert.equal(strategy.failure(), undefined);
    assert.equal(strategy.failure(), undefined);
    assert.equal(strategy.failure(), 'failures');
  });

  it('starts counting again after a success', () => {
    const strategy = consecutiveBreaker(2);
    strategy.failure();
    assert.equal(strategy.success(), undefined);
    assert.equal(strategy.failure(), undefined);
    assert.equal(strategy.failure(), 'failures');
  });

  it('forgets its failures on reset and on half-open', () => {
    const strategy = consecutiveBreaker(2);
    strategy.failure();
    strategy.reset();
    assert.equal(strategy.failure(), undefined);
    strategy.halfOpen();
    assert.equal(strategy.failure(), undefined);
  });

  it('does not need call durations', () => {
    assert.equal(consecutiveBreaker(1).needsDurations, false);
  });

  it('exports and restores its failure count', () => {
    const strategy = consecutiveBreaker(3);
    strategy.failure();
    strategy.failure();
    const state = strategy.exportState();
    assert.deepEqual(state, { kind: 'consecutive', failures: 2 });
    const restored = consecutiveBreaker(3);
    restored.restoreState(JSON.parse(JSON.stringify(state)));
    assert.equal(restored.failure(), 'failures');
  });

  it('rejects a bad state, naming the field, and keeps its own', () => {
    const strategy = consecutiveBreaker(2);
    strategy.failure();
    assert.throws(
      () => strategy.restoreState([]),
      /consecutiveBreaker.state must be an object, got an array/,
    );
    assert.throws(
      () => strategy.restoreState({ kind: 'count', failures: 1 }),
      /consecutiveBreaker.state.kind must be 'consecutive', got "count"/,
    );
    assert.throws(
      () => strategy.restoreState({ kind: 'consecutive', failures: 1.5 }, 'saved'),
      /saved.failures must be an integer >= 0, got 1.5/,
    );
    assert.equal(strategy.failure(), 'failures');
  });

  it('rejects a threshold that is not an integer >= 1', () => {
    assert.throws(() => consecutiveBreaker(0), /consecutiveBreaker.threshold must be an integer >= 1, got 0/);
    assert.throws(() => consecutiveBreaker(2.5), RangeError);
  });
});
