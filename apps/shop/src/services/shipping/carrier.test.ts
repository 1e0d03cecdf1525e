import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { Carrier } from '../../contracts/shipping-api.js';
import { carrierFor } from './carrier.js';

describe('carrierFor', () => {
  it('gives an order the same carrier and tracking number every time', () => {
    const orderId = randomUUID();
    assert.deepEqual(carrierFor(orderId), carrierFor(orderId));
  });

  it('spreads orders over the three carriers with a prefixed 12-digit tracking number', () => {
    const counts = new Map<string, number>();
    for (let i = 0; i < 300; i++) {
      const { carrier, trackingNumber } = carrierFor(randomUUID());
      counts.set(carrier, (counts.get(carrier) ?? 0) + 1);
      assert.match(trackingNumber, /^(PF|PH|SK)\d{12}$/);
    }
    assert.deepEqual([...counts.keys()].sort(), [...Carrier.options].sort());
    for (const n of counts.values()) assert.ok(n > 50, `a carrier got only ${n} of 300 orders`);
  });
});
