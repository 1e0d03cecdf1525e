import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { createTestDatabase, requirePg } from '@flotilla/store/testing';
import { seedProduct } from '../../seed/index.js';
import { startInventory, type TestInventory } from './inventory.test-helpers.js';

// 50 reservations race for the last 10 units of SKU A, each also asking for one unit of SKU B
// (plenty of it): exactly 10 win, A ends at 0 available (never below), and B is reserved exactly
// 10 times — the 40 losers gave back the B they had taken (all or nothing).
const A = 'TEA-001';
const B = 'SNK-003';
const RACERS = 50;
const LAST_UNITS = 10;

async function race(inv: TestInventory): Promise<void> {
  const initialA = seedProduct(A)!.initialStock;
  const initialB = seedProduct(B)!.initialStock;
  const setup = await inv.call('POST', '/reservations', {
    body: { orderId: randomUUID(), items: [{ sku: A, quantity: initialA - LAST_UNITS }] },
    key: randomUUID(),
  });
  assert.equal(setup.status, 201);

  const answers = await Promise.all(
    Array.from({ length: RACERS }, () =>
      inv.call('POST', '/reservations', {
        body: {
          orderId: randomUUID(),
          items: [
            { sku: B, quantity: 1 },
            { sku: A, quantity: 1 },
          ],
        },
        key: randomUUID(),
      }),
    ),
  );
  const statuses = answers.map((a) => a.status);
  assert.equal(statuses.filter((s) => s === 201).length, LAST_UNITS, `statuses: ${statuses.join(',')}`);
  assert.equal(statuses.filter((s) => s === 409).length, RACERS - LAST_UNITS);
  for (const lost of answers.filter((a) => a.status === 409)) {
    assert.equal(lost.body.error.code, 'OUT_OF_STOCK');
    assert.deepEqual(lost.body.error.details.shortages, [{ sku: A, requested: 1, available: 0 }]);
  }
  const stock = (await inv.call('GET', '/stock')).body.items as {
    sku: string;
    available: number;
    reserved: number;
    committed: number;
    initial: number;
  }[];
  const a = stock.find((s) => s.sku === A)!;
  const b = stock.find((s) => s.sku === B)!;
  assert.deepEqual(a, { sku: A, initial: initialA, available: 0, reserved: initialA, committed: 0 });
  assert.deepEqual(b, {
    sku: B,
    initial: initialB,
    available: initialB - LAST_UNITS,
    reserved: LAST_UNITS,
    committed: 0,
  });
}

describe('reservation concurrency', () => {
  it('on SQLite, 50 concurrent reservations for the last 10 units: exactly 10 succeed', async (t) => {
    const inv = await startInventory();
    t.after(() => inv.close());
    await race(inv);
  });

  it('on PostgreSQL, 50 concurrent reservations for the last 10 units: exactly 10 succeed', async (t) => {
    const pg = await requirePg(t);
    if (pg.skip !== false) return;
    const database = await createTestDatabase({ prefix: 'inventory' });
    let inv: TestInventory | undefined;
    // One hook, so the service closes its pool before the database is dropped.
    t.after(async () => {
      await inv?.close();
      await database.drop();
    });
    inv = await startInventory({ env: { FLOTILLA_DATABASE_URL_INVENTORY: database.url } });
    assert.equal(inv.svc.deps.store.dialect, 'postgres');
    await race(inv);
  });
});
