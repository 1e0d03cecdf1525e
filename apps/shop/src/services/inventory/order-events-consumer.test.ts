import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import {
  type AnyEventContract,
  createEventBus,
  type EventBus,
  type EventInput,
  eventsMigrations,
  type Transport,
  transportFromUrl,
} from '@flotilla/events';
import { manualClock } from '@flotilla/resilience';
import { openStore, type Store } from '@flotilla/store';
import { OrderCancelled, OrderConfirmed } from '../../contracts/order-events.js';
import { ShipmentCreated } from '../../contracts/shipping-events.js';
import { startInventory, type TestInventory } from './inventory.test-helpers.js';

const TTL_MS = 60_000;
const SKU = 'BREW-002';

describe('inventory reacting to order events', () => {
  const clock = manualClock(Date.parse('2030-02-01T00:00:00.000Z'));
  let inv: TestInventory;
  let producerStore: Store<unknown>;
  let producerTransport: Transport;
  let producer: EventBus<unknown>;

  before(async () => {
    inv = await startInventory({
      clock,
      now: () => clock.now(),
      env: { INVENTORY_RESERVATION_TTL_MS: String(TTL_MS), INVENTORY_EXPIRY_INTERVAL_MS: '1000' },
    });
    // The order and shipping services' side of the bus, publishing through an outbox of its own.
    producerStore = await openStore({ service: 'producer', url: ':memory:', migrations: eventsMigrations });
    producerTransport = await transportFromUrl(inv.env.FLOTILLA_TRANSPORT as string);
    producer = createEventBus({ service: 'order', store: producerStore, transport: producerTransport });
    await producer.start();
  });
  after(async () => {
    await producer?.close();
    await producerTransport?.close();
    await producerStore?.close();
    await inv?.close();
  });

  const publish = <C extends AnyEventContract>(contract: C, data: EventInput<C>, id?: string) =>
    producerStore.transaction((tx) =>
      producer.publish(tx, contract, {
        subject: (data as { orderId: string }).orderId,
        data,
        ...(id === undefined ? {} : { id }),
      }),
    );
  const status = async (id: string): Promise<string> =>
    (await inv.call('GET', `/reservations/${id}`)).body.status;
  const eventually = async (id: string, expected: string): Promise<void> => {
    for (let i = 0; i < 500 && (await status(id)) !== expected; i++)
      await new Promise((r) => setTimeout(r, 10));
    assert.equal(await status(id), expected);
  };
  const level = async () =>
    (await inv.call('GET', '/stock')).body.items.find((s: { sku: string }) => s.sku === SKU);
  const reserve = async (quantity: number) => {
    const orderId = randomUUID();
    const res = await inv.call('POST', '/reservations', {
      body: { orderId, items: [{ sku: SKU, quantity }] },
      key: randomUUID(),
    });
    assert.equal(res.status, 201);
    return { orderId, reservationId: res.body.reservationId as string };
  };
  const confirmed = (orderId: string, reservationId: string) => ({
    orderId,
    customerId: 'cus-0001',
    items: [{ sku: SKU, quantity: 1, unitPriceMinor: 2490 }],
    totalMinor: 2490,
    currency: 'EUR',
    reservationId,
    paymentId: randomUUID(),
  });
  const shipped = (orderId: string) => ({
    shipmentId: randomUUID(),
    orderId,
    customerId: 'cus-0001',
    carrier: 'DHL',
    trackingNumber: 'TRACK-1',
  });

  it('OrderConfirmed keeps the reservation past its expiry; ShipmentCreated commits its stock once', async () => {
    const before = await level();
    const r = await reserve(3);
    await publish(OrderConfirmed, confirmed(r.orderId, r.reservationId));
    await eventually(r.reservationId, 'CONFIRMED');

    await clock.advance(TTL_MS + 1000);
    await inv.svc.deps.expiry.idle();
    assert.equal(await status(r.reservationId), 'CONFIRMED');

    const shipment = shipped(r.orderId);
    const eventId = randomUUID();
    await publish(ShipmentCreated, shipment, eventId);
    await eventually(r.reservationId, 'COMMITTED');
    // The same event again (a redelivery) and a second shipment event move nothing more.
    await publish(ShipmentCreated, shipment, eventId);
    await publish(ShipmentCreated, shipped(r.orderId));
    const marker = await reserve(1);
    await publish(OrderCancelled, { orderId: marker.orderId, customerId: 'cus-0001', reason: 'FAILED' });
    await eventually(marker.reservationId, 'RELEASED');
    assert.deepEqual(await level(), {
      ...before,
      available: before.available - 3,
      committed: before.committed + 3,
    });
  });

  it('OrderCancelled releases a held reservation and leaves a committed one alone', async () => {
    const before = await level();
    const held = await reserve(2);
    await publish(OrderCancelled, {
      orderId: held.orderId,
      customerId: 'cus-0001',
      reason: 'PAYMENT_DECLINED',
    });
    await eventually(held.reservationId, 'RELEASED');
    assert.deepEqual(await level(), before);

    const gone = await reserve(1);
    assert.equal((await inv.call('POST', `/reservations/${gone.reservationId}/commit`)).status, 200);
    await publish(OrderCancelled, { orderId: gone.orderId, customerId: 'cus-0001', reason: 'FAILED' });
    const marker = await reserve(1);
    await publish(OrderCancelled, { orderId: marker.orderId, customerId: 'cus-0001', reason: 'FAILED' });
    await eventually(marker.reservationId, 'RELEASED');
    assert.equal(await status(gone.reservationId), 'COMMITTED');
  });

  it('OrderConfirmed after the reservation expired takes the stock again', async () => {
    const r = await reserve(2);
    await clock.advance(TTL_MS + 1000);
    await inv.svc.deps.expiry.idle();
    assert.equal(await status(r.reservationId), 'EXPIRED');
    const before = await level();
    await publish(OrderConfirmed, confirmed(r.orderId, r.reservationId));
    await eventually(r.reservationId, 'CONFIRMED');
    assert.deepEqual(await level(), {
      ...before,
      available: before.available - 2,
      reserved: before.reserved + 2,
    });
  });

  it('ignores events of orders it holds nothing for', async () => {
    const orderId = randomUUID();
    await publish(OrderCancelled, { orderId, customerId: 'cus-0001', reason: 'OUT_OF_STOCK' });
    const marker = await reserve(1);
    await publish(OrderCancelled, { orderId: marker.orderId, customerId: 'cus-0001', reason: 'FAILED' });
    await eventually(marker.reservationId, 'RELEASED');
    const stats = await inv.svc.deps.bus.stats();
    const group = stats.groups.inventory;
    assert.ok(group !== undefined);
    assert.equal(group.deadLettered, 0);
    assert.equal(group.failed, 0);
    const all = (await inv.call('GET', '/stock')).body.items;
    for (const s of all) assert.equal(s.available + s.reserved + s.committed, s.initial, s.sku);
  });
});
