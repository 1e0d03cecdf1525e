import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  checkInteger,
  checkRate,
  checkSlowCalls,
  expectInteger,
  expectKind,
  expectRecord,
  show,
} from './breaker-strategy.js';

describe('breaker strategy validation helpers', () => {
  it('shows values the way validation messages quote them', () => {
    assert.equal(show(3), '3');
    assert.equal(show('open'), '"open"');
    assert.equal(show(undefined), 'undefined');
    assert.equal(show(null), 'null');
    assert.equal(show([1]), 'an array');
    assert.equal(show({ a: 1 }), 'an object');
    assert.equal(
      show(() => 1),
      'a function',
    );
  });

  it('accepts a record and rejects anything else with a TypeError naming the field', () => {
    assert.deepEqual(expectRecord({ kind: 'x' }, 'f'), { kind: 'x' });
    assert.throws(() => expectRecord(null, 'saved.state'), {
      name: 'TypeError',
      message: 'saved.state must be an object, got null',
    });
    assert.throws(() => expectRecord([], 'f'), /f must be an object, got an array/);
  });

  it('accepts integers within bounds and names the bounds otherwise', () => {
    assert.equal(expectInteger(2, 'f', 0, 3), 2);
    assert.throws(() => expectInteger(4, 'f', 0, 3), {
      name: 'TypeError',
      message: 'f must be an integer >= 0 and <= 3, got 4',
    });
    assert.throws(() => expectInteger(0.5, 'f', 0), { message: 'f must be an integer >= 0, got 0.5' });
    assert.throws(() => checkInteger('2', 'opt', 1), {
      name: 'RangeError',
      message: 'opt must be an integer >= 1, got "2"',
    });
  });

  it('checks the kind of a restored state', () => {
    expectKind({ kind: 'count' }, 'f', 'count');
    assert.throws(() => expectKind({}, 'f', 'count'), /f.kind must be 'count', got undefined/);
  });

  it('accepts rates in (0, 1]', () => {
    assert.equal(checkRate(1, 'r'), 1);
    assert.equal(checkRate(0.01, 'r'), 0.01);
    assert.throws(() => checkRate(0, 'r'), {
      name: 'RangeError',
      message: 'r must be a number > 0 and <= 1, got 0',
    });
    assert.throws(() => checkRate(Number.NaN, 'r'), /got NaN/);
  });

  it('turns slow-call tracking off without slowCallDurationMs, and defaults its rate to 1', () => {
    assert.deepEqual(checkSlowCalls('b', {}), {
      slowCallDurationMs: Number.POSITIVE_INFINITY,
      slowCallRateThreshold: 1,
    });
    assert.deepEqual(checkSlowCalls('b', { slowCallDurationMs: 250 }), {
      slowCallDurationMs: 250,
      slowCallRateThreshold: 1,
    });
    assert.throws(
      () => checkSlowCalls('b', { slowCallRateThreshold: 0.5 }),
      /b.slowCallRateThreshold needs b.slowCallDurationMs/,
    );
    assert.throws(
      () => checkSlowCalls('b', { slowCallDurationMs: Number.POSITIVE_INFINITY }),
      /b.slowCallDurationMs must be a finite number >= 0, got Infinity/,
    );
  });
});
