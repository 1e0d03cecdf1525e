import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { durableName, partitionFilter, subjectOf } from './naming.js';

describe('NATS naming', () => {
  it('puts the partition before the topic so one filter covers a partition', () => {
    assert.equal(
      subjectOf('flotilla.events', 3, 'orders.OrderCreated'),
      'flotilla.events.3.orders.OrderCreated',
    );
    assert.equal(partitionFilter('flotilla.events', 3), 'flotilla.events.3.>');
  });

  it('names durable consumers after the group and partition', () => {
    assert.equal(durableName('shipping', 7), 'shipping_p7');
  });

  it('replaces dots in a group name and keeps different groups apart', () => {
    const dotted = durableName('shop.shipping', 0);
    assert.match(dotted, /^shop_shipping-[0-9a-z]+_p0$/);
    assert.notEqual(dotted, durableName('shop_shipping', 0));
  });
});
