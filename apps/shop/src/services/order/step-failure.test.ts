import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BrokenCircuitError, RetriesExhaustedError, TimeoutError } from '@flotilla/resilience';
import { UpstreamError, UpstreamUnavailableError } from '@flotilla/service';
import { classifyFailure, FulfillmentStepError, isFulfillmentStepError } from './step-failure.js';

const upstream = (service: string, status: number, code?: string) =>
  new UpstreamError({
    service,
    status,
    ...(code === undefined ? {} : { body: { error: { code, message: code, retryable: status >= 500 } } }),
  });
const unreachable = (code: string) =>
  new UpstreamUnavailableError('payment', 'http://127.0.0.1:1', Object.assign(new Error(code), { code }));

describe('classifyFailure', () => {
  const cases: [string, Parameters<typeof classifyFailure>, string, boolean, boolean][] = [
    // what, input, reason, retryable, uncertain
    [
      'out of stock',
      ['reserve_inventory', upstream('inventory', 409, 'OUT_OF_STOCK')],
      'OUT_OF_STOCK',
      false,
      false,
    ],
    [
      'a declined payment',
      ['process_payment', upstream('payment', 402, 'PAYMENT_DECLINED')],
      'PAYMENT_DECLINED',
      false,
      false,
    ],
    [
      'a SKU inventory does not stock',
      ['reserve_inventory', upstream('inventory', 422, 'UNKNOWN_SKU')],
      'UNKNOWN_PRODUCT',
      false,
      false,
    ],
    [
      'a provider outage (503)',
      ['process_payment', upstream('payment', 503, 'PROVIDER_UNAVAILABLE')],
      'PAYMENT_UNAVAILABLE',
      true,
      false,
    ],
    [
      'a rate limit (429)',
      ['reserve_inventory', upstream('inventory', 429)],
      'INVENTORY_UNAVAILABLE',
      true,
      false,
    ],
    [
      'a gateway timeout (504)',
      ['process_payment', upstream('payment', 504)],
      'PAYMENT_UNAVAILABLE',
      true,
      true,
    ],
    [
      'an internal error (500)',
      ['process_payment', upstream('payment', 500, 'INTERNAL')],
      'PAYMENT_UNAVAILABLE',
      true,
      true,
    ],
    [
      'a contract mismatch (400)',
      ['process_payment', upstream('payment', 400, 'VALIDATION_FAILED')],
      'FAILED',
      false,
      false,
    ],
    [
      'a reservation made under another key',
      ['reserve_inventory', upstream('inventory', 409, 'RESERVATION_EXISTS')],
      'FAILED',
      false,
      true,
    ],
    [
      'an unreadable 2xx',
      ['process_payment', new UpstreamError({ service: 'payment', status: 201, code: 'BAD_RESPONSE' })],
      'FAILED',
      true,
      true,
    ],
    [
      'a refused connection',
      ['process_payment', unreachable('ECONNREFUSED')],
      'PAYMENT_UNAVAILABLE',
      true,
      false,
    ],
    ['a reset connection', ['process_payment', unreachable('ECONNRESET')], 'PAYMENT_UNAVAILABLE', true, true],
    [
      'an open circuit',
      ['process_payment', new BrokenCircuitError(1000)],
      'PAYMENT_UNAVAILABLE',
      true,
      false,
    ],
    ['a timeout', ['reserve_inventory', new TimeoutError(5000)], 'INVENTORY_UNAVAILABLE', true, true],
    [
      'exhausted client retries (judged by their cause)',
      [
        'process_payment',
        new RetriesExhaustedError(3, 'max-attempts', upstream('payment', 402, 'PAYMENT_DECLINED')),
      ],
      'PAYMENT_DECLINED',
      false,
      false,
    ],
    ['anything else', ['process_payment', new Error('boom')], 'FAILED', true, true],
  ];
  for (const [what, input, reason, retryable, uncertain] of cases) {
    it(`classifies ${what} as ${reason}, ${retryable ? 'retried' : 'final'}, ${uncertain ? 'uncertain' : 'not applied'}`, () => {
      const failure = classifyFailure(...input);
      assert.deepEqual(
        { reason: failure.reason, retryable: failure.retryable, uncertain: failure.uncertain },
        { reason, retryable, uncertain },
      );
      assert.ok(failure.detail.startsWith(`${input[0]}: `));
      assert.ok(failure.detail.length <= 500);
    });
  }

  it('wraps a failure in an error the saga runner reads retryable from', () => {
    const failure = classifyFailure('process_payment', upstream('payment', 402, 'PAYMENT_DECLINED'));
    const err = new FulfillmentStepError(failure);
    assert.equal(err.retryable, false);
    assert.equal(err.code, 'FULFILLMENT_STEP_FAILED');
    assert.ok(isFulfillmentStepError(err));
    assert.ok(!isFulfillmentStepError(new Error('x')));
  });
});
