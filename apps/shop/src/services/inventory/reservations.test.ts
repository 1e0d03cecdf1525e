import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { seedProduct, seedProducts } from '../../seed/index.js';
import { startInventory, type TestInventory } from './inventory.test-helpers.js';

describe('inventory reservations', () => {
  let inv: TestInventory;
  before(async () => {
    inv = await startInventory();
  });
  after(() => inv?.close());

  const stock = async (sku: string) => {
    const all = await inv.call('GET', '/stock');
    return all.body.items.find((s: { sku: string }) => s.sku === sku);
  };
  const reserveBody = (items: { sku: string; quantity: number }[], orderId = randomUUID()) => ({
    orderId,
    items,
  });

  it('initialises stock from the seed, every unit available', async () => {
    const res = await inv.call('GET', '/stock');
    assert.equal(res.status, 200);
    assert.equal(res.body.items.length, seedProducts.length);
    const tea = seedProduct('TEA-002')!;
    assert.deepEqual(await stock('TEA-002'), {
      sku: 'TEA-002',
      initial: tea.initialStock,
      available: tea.initialStock,
      reserved: 0,
      committed: 0,
    });
    const one = await inv.call('GET', '/stock/TEA-002');
    assert.deepEqual(one.body, { sku: 'TEA-002', available: tea.initialStock, reserved: 0 });
  });

  it('reserves every line (repeated SKUs added up) and moves the units to reserved', async () => {
    const before = await stock('COF-001');
    const body = reserveBody([
      { sku: 'COF-001', quantity: 2 },
      { sku: 'BREW-003', quantity: 5 },
      { sku: 'COF-001', quantity: 1 },
    ]);
    const res = await inv.call('POST', '/reservations', { body, key: randomUUID() });
    assert.equal(res.status, 201);
    assert.equal(res.body.status, 'PENDING');
    assert.equal(res.body.orderId, body.orderId);
    assert.deepEqual(res.body.items, [
      { sku: 'BREW-003', quantity: 5 },
      { sku: 'COF-001', quantity: 3 },
    ]);
    assert.equal(Date.parse(res.body.expiresAt) - Date.parse(res.body.createdAt), 15 * 60_000);
    const after = await stock('COF-001');
    assert.equal(after.available, before.available - 3);
    assert.equal(after.reserved, before.reserved + 3);
    const listed = await inv.call('GET', `/reservations?orderId=${body.orderId}`);
    assert.deepEqual(listed.body, { items: [res.body] });
    assert.deepEqual((await inv.call('GET', `/reservations/${res.body.reservationId}`)).body, res.body);
  });

  it('requires an Idempotency-Key on POST /reservations', async () => {
    const res = await inv.call('POST', '/reservations', {
      body: reserveBody([{ sku: 'TEA-001', quantity: 1 }]),
    });
    assert.equal(res.status, 400);
    assert.equal(res.body.error.code, 'IDEMPOTENCY_KEY_REQUIRED');
  });

  it('answers the same key twice with the same response and one effect', async () => {
    const key = randomUUID();
    const body = reserveBody([{ sku: 'SNK-002', quantity: 4 }]);
    const before = await stock('SNK-002');
    const first = await inv.call('POST', '/reservations', { body, key });
    const second = await inv.call('POST', '/reservations', { body, key });
    assert.equal(first.status, 201);
    assert.deepEqual(second, first);
    assert.equal((await stock('SNK-002')).available, before.available - 4);
  });

  it('refuses the same key with a different request (422 IDEMPOTENCY_KEY_REUSED)', async () => {
    const key = randomUUID();
    const body = reserveBody([{ sku: 'SNK-003', quantity: 1 }]);
    assert.equal((await inv.call('POST', '/reservations', { body, key })).status, 201);
    const other = await inv.call('POST', '/reservations', {
      body: { ...body, items: [{ sku: 'SNK-003', quantity: 2 }] },
      key,
    });
    assert.equal(other.status, 422);
    assert.equal(other.body.error.code, 'IDEMPOTENCY_KEY_REUSED');
  });

  it('takes nothing when a line is short, naming every short SKU with what is left', async () => {
    const fine = await stock('WARE-001');
    const low = await stock('TEA-012');
    const rare = await stock('COF-010');
    const body = reserveBody([
      { sku: 'WARE-001', quantity: 1 },
      { sku: 'TEA-012', quantity: low.available + 1 },
      { sku: 'COF-010', quantity: rare.available + 5 },
    ]);
    const key = randomUUID();
    const res = await inv.call('POST', '/reservations', { body, key });
    assert.equal(res.status, 409);
    assert.equal(res.body.error.code, 'OUT_OF_STOCK');
    assert.equal(res.body.error.retryable, false);
    assert.deepEqual(res.body.error.details.shortages, [
      { sku: 'COF-010', requested: rare.available + 5, available: rare.available },
      { sku: 'TEA-012', requested: low.available + 1, available: low.available },
    ]);
    assert.deepEqual(await stock('WARE-001'), fine);
    assert.deepEqual(await stock('TEA-012'), low);
    assert.deepEqual((await inv.call('GET', `/reservations?orderId=${body.orderId}`)).body, { items: [] });
    // The rejection is the key's answer too.
    assert.deepEqual(await inv.call('POST', '/reservations', { body, key }), res);
  });

  it('answers 422 UNKNOWN_SKU for a SKU it keeps no stock of', async () => {
    const res = await inv.call('POST', '/reservations', {
      body: reserveBody([
        { sku: 'TEA-001', quantity: 1 },
        { sku: 'ZZZ-404', quantity: 1 },
      ]),
      key: randomUUID(),
    });
    assert.equal(res.status, 422);
    assert.deepEqual(res.body.error.details, { skus: ['ZZZ-404'] });
  });

  it('answers 409 RESERVATION_EXISTS when the order already has a reservation under another key', async () => {
    const body = reserveBody([{ sku: 'TEA-004', quantity: 1 }]);
    const first = await inv.call('POST', '/reservations', { body, key: randomUUID() });
    const second = await inv.call('POST', '/reservations', { body, key: randomUUID() });
    assert.equal(second.status, 409);
    assert.equal(second.body.error.code, 'RESERVATION_EXISTS');
    assert.equal(second.body.error.details.reservationId, first.body.reservationId);
  });

  it('releases once: the stock comes back, repeats answer the same, a commit after it is 409', async () => {
    const before = await stock('TEA-005');
    const made = await inv.call('POST', '/reservations', {
      body: reserveBody([{ sku: 'TEA-005', quantity: 6 }]),
      key: randomUUID(),
    });
    const id = made.body.reservationId;
    const key = randomUUID();
    const first = await inv.call('POST', `/reservations/${id}/release`, { key });
    assert.equal(first.status, 200);
    assert.equal(first.body.status, 'RELEASED');
    assert.deepEqual(await inv.call('POST', `/reservations/${id}/release`, { key }), first);
    const keyless = await inv.call('POST', `/reservations/${id}/release`);
    assert.equal(keyless.status, 200);
    assert.equal(keyless.body.status, 'RELEASED');
    assert.deepEqual(await stock('TEA-005'), before);
    const commit = await inv.call('POST', `/reservations/${id}/commit`);
    assert.equal(commit.status, 409);
    assert.equal(commit.body.error.code, 'RESERVATION_NOT_HELD');
  });

  it('commits once: the units move from reserved to committed, and a release after it is 409', async () => {
    const before = await stock('TEA-006');
    const made = await inv.call('POST', '/reservations', {
      body: reserveBody([{ sku: 'TEA-006', quantity: 2 }]),
      key: randomUUID(),
    });
    const id = made.body.reservationId;
    const key = randomUUID();
    const first = await inv.call('POST', `/reservations/${id}/commit`, { key });
    assert.equal(first.status, 200);
    assert.equal(first.body.status, 'COMMITTED');
    assert.deepEqual(await inv.call('POST', `/reservations/${id}/commit`, { key }), first);
    assert.equal((await inv.call('POST', `/reservations/${id}/commit`)).body.status, 'COMMITTED');
    const after = await stock('TEA-006');
    assert.deepEqual(after, { ...before, available: before.available - 2, committed: before.committed + 2 });
    const release = await inv.call('POST', `/reservations/${id}/release`);
    assert.equal(release.status, 409);
    assert.equal(release.body.error.code, 'RESERVATION_COMMITTED');
  });

  it('answers 404 for unknown reservations and SKUs', async () => {
    for (const [method, path, code] of [
      ['POST', '/reservations/nope/release', 'RESERVATION_NOT_FOUND'],
      ['POST', '/reservations/nope/commit', 'RESERVATION_NOT_FOUND'],
      ['GET', '/reservations/nope', 'RESERVATION_NOT_FOUND'],
      ['GET', '/stock/ZZZ-001', 'SKU_NOT_FOUND'],
    ] as const) {
      const res = await inv.call(method, path);
      assert.equal(res.status, 404, path);
      assert.equal(res.body.error.code, code);
    }
  });

  it('shows a reservation made for a customer to that customer only', async () => {
    const body = { ...reserveBody([{ sku: 'TEA-007', quantity: 1 }]), customerId: 'cus-0001' };
    const made = await inv.call('POST', '/reservations', { body, key: randomUUID() });
    const mine = await inv.call('GET', `/reservations?orderId=${body.orderId}`, { user: 'cus-0001' });
    assert.equal(mine.body.items.length, 1);
    const theirs = await inv.call('GET', `/reservations?orderId=${body.orderId}`, { user: 'cus-0002' });
    assert.deepEqual(theirs.body, { items: [] });
    const direct = await inv.call('GET', `/reservations/${made.body.reservationId}`, { user: 'cus-0002' });
    assert.equal(direct.status, 404);
  });

  it('answers every bad input with a 4xx in the standard error shape', async () => {
    const cases: {
      body?: unknown;
      raw?: string;
      path?: string;
      method?: string;
      status: number;
      code: string;
    }[] = [
      { body: {}, status: 400, code: 'VALIDATION_FAILED' },
      { body: { orderId: 'o', items: [] }, status: 400, code: 'VALIDATION_FAILED' },
      {
        body: { orderId: 'o', items: [{ sku: 'TEA-001', quantity: 0 }] },
        status: 400,
        code: 'VALIDATION_FAILED',
      },
      {
        body: { orderId: 'o', items: [{ sku: 'TEA-001', quantity: 1.5 }] },
        status: 400,
        code: 'VALIDATION_FAILED',
      },
      {
        body: { orderId: 'o', items: [{ sku: 'tea', quantity: 1 }] },
        status: 400,
        code: 'VALIDATION_FAILED',
      },
      {
        body: { orderId: '', items: [{ sku: 'TEA-001', quantity: 1 }] },
        status: 400,
        code: 'VALIDATION_FAILED',
      },
      { raw: '{"orderId":', status: 400, code: 'MALFORMED_JSON' },
      { method: 'GET', path: '/reservations', status: 400, code: 'VALIDATION_FAILED' },
      { method: 'GET', path: '/stock/lowercase', status: 400, code: 'VALIDATION_FAILED' },
      { method: 'DELETE', path: '/stock', status: 405, code: 'METHOD_NOT_ALLOWED' },
    ];
    for (const c of cases) {
      const res = await inv.call(c.method ?? 'POST', c.path ?? '/reservations', {
        ...(c.body === undefined ? {} : { body: c.body }),
        ...(c.raw === undefined ? {} : { raw: c.raw }),
        key: randomUUID(),
      });
      assert.equal(res.status, c.status, JSON.stringify(c));
      assert.equal(res.body.error.code, c.code, JSON.stringify(c));
      assert.equal(typeof res.body.error.message, 'string');
      assert.equal(typeof res.body.error.retryable, 'boolean');
    }
    const noKey = await inv.call('POST', '/reservations', {
      body: reserveBody([{ sku: 'TEA-001', quantity: 1 }]),
      key: 'bad key with spaces',
    });
    assert.equal(noKey.status, 400);
    assert.equal(noKey.body.error.code, 'IDEMPOTENCY_KEY_REQUIRED');
  });

  it('conserves every unit: initial = available + reserved + committed for every SKU', async () => {
    const all = await inv.call('GET', '/stock');
    for (const s of all.body.items) assert.equal(s.available + s.reserved + s.committed, s.initial, s.sku);
  });
});
