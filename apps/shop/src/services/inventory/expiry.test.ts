import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { manualClock } from '@flotilla/resilience';
import { sql } from 'kysely';
import { startInventory } from './inventory.test-helpers.js';

const TTL_MS = 60_000;
const INTERVAL_MS = 1000;

describe('reservation expiry', () => {
  it('expires PENDING reservations past their time and returns their stock; others stay', async (t) => {
    const clock = manualClock(Date.parse('2030-01-01T00:00:00.000Z'));
    const inv = await startInventory({
      clock,
      now: () => clock.now(),
      env: {
        INVENTORY_RESERVATION_TTL_MS: String(TTL_MS),
        INVENTORY_EXPIRY_INTERVAL_MS: String(INTERVAL_MS),
      },
    });
    t.after(() => inv.close());
    const level = async () => (await inv.call('GET', '/stock/COF-004')).body;
    const before = await level();
    const reserve = async (quantity: number) =>
      (
        await inv.call('POST', '/reservations', {
          body: { orderId: randomUUID(), items: [{ sku: 'COF-004', quantity }] },
          key: randomUUID(),
        })
      ).body;

    const stale = await reserve(3);
    assert.equal(stale.expiresAt, new Date(Date.parse('2030-01-01T00:00:00.000Z') + TTL_MS).toISOString());
    const committed = await reserve(2);
    assert.equal((await inv.call('POST', `/reservations/${committed.reservationId}/commit`)).status, 200);
    await clock.advance(TTL_MS / 2);
    const fresh = await reserve(4);
    assert.deepEqual(await level(), { sku: 'COF-004', available: before.available - 9, reserved: 7 });

    // Just before the first one is due: the job runs and leaves everything alone.
    await clock.advance(TTL_MS / 2 - INTERVAL_MS);
    await inv.svc.deps.expiry.idle();
    assert.equal((await inv.call('GET', `/reservations/${stale.reservationId}`)).body.status, 'PENDING');

    // The next run is past the first one's expiry: it expires, its 3 units come back.
    await clock.advance(INTERVAL_MS);
    await inv.svc.deps.expiry.idle();
    assert.equal((await inv.call('GET', `/reservations/${stale.reservationId}`)).body.status, 'EXPIRED');
    assert.equal((await inv.call('GET', `/reservations/${fresh.reservationId}`)).body.status, 'PENDING');
    assert.equal(
      (await inv.call('GET', `/reservations/${committed.reservationId}`)).body.status,
      'COMMITTED',
    );
    assert.deepEqual(await level(), { sku: 'COF-004', available: before.available - 6, reserved: 4 });

    // Releasing an expired reservation is harmless: it answers EXPIRED and moves nothing.
    const late = await inv.call('POST', `/reservations/${stale.reservationId}/release`);
    assert.equal(late.status, 200);
    assert.equal(late.body.status, 'EXPIRED');
    assert.deepEqual(await level(), { sku: 'COF-004', available: before.available - 6, reserved: 4 });

    await clock.advance(TTL_MS / 2);
    await inv.svc.deps.expiry.idle();
    assert.equal((await inv.call('GET', `/reservations/${fresh.reservationId}`)).body.status, 'EXPIRED');
    assert.deepEqual(await level(), { sku: 'COF-004', available: before.available - 2, reserved: 0 });
  });
});

describe('idempotency key retention', () => {
  it('prunes Idempotency-Keys older than SHOP_IDEMPOTENCY_RETENTION_MS on the clock', async (t) => {
    const HOUR = 3_600_000;
    // idempotentCommand() records keys at Date.now(): the clock starts there.
    const clock = manualClock(Date.now());
    const inv = await startInventory({
      clock,
      now: () => clock.now(),
      env: { SHOP_IDEMPOTENCY_RETENTION_MS: String(HOUR) },
    });
    t.after(() => inv.close());
    const key = randomUUID();
    const body = { orderId: randomUUID(), items: [{ sku: 'COF-004', quantity: 1 }] };
    const stored = async () =>
      (
        await sql<{
          n: number;
        }>`select count(*) as n from flotilla_saga_idempotency where key like ${`%${key}`}`.execute(
          inv.svc.deps.store.db,
        )
      ).rows.map((r) => Number(r.n))[0];
    const first = await inv.call('POST', '/reservations', { body, key });
    assert.equal(first.status, 201);

    // The first prune, an hour later: the key is exactly as old as the retention and stays.
    await clock.advance(HOUR);
    await inv.svc.deps.idempotencyKeys.idle();
    assert.equal(await stored(), 1);
    const repeat = await inv.call('POST', '/reservations', { body, key });
    assert.equal(repeat.body.reservationId, first.body.reservationId);

    // The next prune finds it older than the retention.
    await clock.advance(HOUR);
    await inv.svc.deps.idempotencyKeys.idle();
    assert.equal(await stored(), 0);
  });
});
