import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { draftOf, faultRequest } from './fault-form.js';

describe('faultRequest', () => {
  it('sends every field, percentages as fractions', () => {
    const draft = {
      ...draftOf(undefined),
      latencyMs: '200',
      jitterMs: '50',
      errorPercent: '12.5',
      blackhole: true,
    };
    assert.deepEqual(faultRequest('inventory', draft), {
      service: 'inventory',
      latencyMs: 200,
      jitterMs: 50,
      errorRate: 0.125,
      resetProbability: 0,
      bandwidthBytesPerSecond: 0,
      blackhole: true,
    });
  });

  it('names the first field out of range', () => {
    const base = draftOf(undefined);
    assert.equal(
      faultRequest('x', { ...base, latencyMs: '' }),
      'latency must be a whole number from 0 to 60,000',
    );
    assert.equal(
      faultRequest('x', { ...base, jitterMs: '1.5' }),
      'jitter must be a whole number from 0 to 60,000',
    );
    assert.equal(
      faultRequest('x', { ...base, resetPercent: '101' }),
      'connection resets must be a number from 0 to 100',
    );
    assert.equal(
      faultRequest('x', { ...base, errorPercent: '-1' }),
      'error responses must be a number from 0 to 100',
    );
  });

  it('round-trips a service current faults through the form', () => {
    const current = {
      service: 'order',
      latencyMs: 10,
      jitterMs: 5,
      bandwidthBytesPerSecond: 1024,
      resetProbability: 0.05,
      blackhole: false,
      errorRate: 0.333,
    };
    const { service: _, ...fields } = current;
    assert.deepEqual(faultRequest('order', draftOf(current)), {
      service: 'order',
      ...fields,
      errorRate: 0.333,
    });
  });
});
