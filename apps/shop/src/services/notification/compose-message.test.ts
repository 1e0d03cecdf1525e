import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CancellationReason } from '../../contracts/order-events.js';
import { formatMoney, orderCancelledMessage } from './compose-message.js';

describe('compose-message', () => {
  it('formats integer minor units in the currency', () => {
    assert.equal(formatMoney(1290, 'EUR'), '€12.90');
    assert.equal(formatMoney(5, 'EUR'), '€0.05');
    // A currency without minor units: 1500 is 1,500 yen, not 15.
    assert.match(formatMoney(1500, 'JPY'), /¥1,500$/);
  });

  it('explains every cancellation reason', () => {
    const bodies = new Set<string>();
    for (const reason of CancellationReason.options) {
      const message = orderCancelledMessage({ orderId: '0123456789', customerId: 'c', reason });
      assert.equal(message.kind, 'ORDER_CANCELLED');
      assert.equal(message.subject, 'Your order 01234567 was cancelled');
      bodies.add(message.body);
    }
    assert.equal(bodies.size, CancellationReason.options.length);
  });
});
