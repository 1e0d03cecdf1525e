import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  createEventBus,
  type EventBus,
  eventsMigrations,
  type Transport,
  transportFromUrl,
} from '@flotilla/events';
import type { RunningService } from '@flotilla/service';
import { startForTest, testToken } from '@flotilla/service/testing';
import { openStore, type Store } from '@flotilla/store';
import { decodeJwt, jwtVerify } from 'jose';
import { ProductChanged, type ProductView } from '../../contracts/legacy-events.js';
import { DECLINED_DEMO_SKU, demoCustomers, seedProduct, seedProducts } from '../../seed/index.js';
import { createLegacyService, type LegacyDeps } from './service.js';

const secret = 'legacy-test-secret-0123456789abcdef-0123456789';
const ada = demoCustomers[0]!;
const grace = demoCustomers[1]!;
const staff = demoCustomers.find((c) => c.extraScopes.includes('catalog:write'))!;
const customerScopes = ['orders:read', 'orders:write'];

interface Answer {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: tests read whatever the route answered
  body: any;
}

describe('legacy monolith', () => {
  const dir = mkdtempSync(join(tmpdir(), 'flotilla-legacy-'));
  const env = {
    FLOTILLA_LOG_LEVEL: 'silent',
    FLOTILLA_DATA_DIR: dir,
    FLOTILLA_TRANSPORT: `embedded:${join(dir, 'bus.db')}`,
    FLOTILLA_JWT_SECRET: secret,
  };
  let svc: RunningService<LegacyDeps>;
  // A consumer of the monolith's events, as the catalog is one.
  const published: ProductView[] = [];
  let probeStore: Store<unknown>;
  let probeTransport: Transport;
  let probe: EventBus<unknown>;
  const eventually = async (what: string, check: () => boolean): Promise<void> => {
    for (let i = 0; i < 500 && !check(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
    assert.ok(check(), `timed out waiting for ${what}`);
  };

  const call = async (
    method: string,
    path: string,
    options: { body?: unknown; raw?: string; user?: { id: string; scopes: string[] } } = {},
  ): Promise<Answer> => {
    const headers: Record<string, string> = {
      authorization: await testToken('legacy', 'gateway', options.user),
    };
    if (options.body !== undefined || options.raw !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`${svc.url}${path}`, {
      method,
      headers,
      ...(options.raw !== undefined
        ? { body: options.raw }
        : options.body === undefined
          ? {}
          : { body: JSON.stringify(options.body) }),
    });
    const text = await res.text();
    return { status: res.status, body: text === '' ? undefined : JSON.parse(text) };
  };
  const as = (c: { id: string }, scopes = customerScopes) => ({ id: c.id, scopes });
  const stockOf = async (sku: string): Promise<number> =>
    (
      await svc.deps.store.db
        .selectFrom('stock')
        .select('available')
        .where('sku', '=', sku)
        .executeTakeFirstOrThrow()
    ).available;
  const count = async (table: 'orders' | 'payments'): Promise<number> =>
    (
      await svc.deps.store.db
        .selectFrom(table)
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .executeTakeFirstOrThrow()
    ).n;

  before(async () => {
    svc = await startForTest(createLegacyService(), { env });
    probeStore = await openStore({ service: 'probe', url: ':memory:', migrations: eventsMigrations });
    probeTransport = await transportFromUrl(env.FLOTILLA_TRANSPORT);
    probe = createEventBus({ service: 'probe', store: probeStore, transport: probeTransport });
    probe.subscribe({
      group: 'probe',
      events: [ProductChanged],
      startAt: 'beginning',
      handler: async (event) => {
        published.push(event.data);
      },
    });
    await probe.start();
  });
  after(async () => {
    await probe?.close();
    await probeTransport?.close();
    await probeStore?.close();
    await svc?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('publishes a ProductChanged for every product when it seeds', async () => {
    await eventually('the seed events', () => published.length >= seedProducts.length);
    assert.deepEqual(
      published
        .slice(0, seedProducts.length)
        .map((p) => p.sku)
        .sort(),
      seedProducts.map((p) => p.sku).sort(),
    );
    assert.deepEqual(
      published.find((p) => p.sku === 'TEA-001'),
      (await call('GET', '/products/TEA-001')).body,
    );
  });

  describe('login', () => {
    it('returns an HS256 end-user token with the customer as sub, the order scopes and a 1 h life', async () => {
      const res = await call('POST', '/login', { body: { email: ada.email, password: ada.password } });
      assert.equal(res.status, 200);
      assert.equal(res.body.tokenType, 'Bearer');
      assert.equal(res.body.expiresInSeconds, 3600);
      const { payload, protectedHeader } = await jwtVerify(res.body.token, new TextEncoder().encode(secret), {
        issuer: 'flotilla-shop',
      });
      assert.equal(protectedHeader.alg, 'HS256');
      assert.equal(payload.sub, ada.id);
      assert.equal(payload.scope, 'orders:read orders:write');
      assert.equal((payload.exp as number) - (payload.iat as number), 3600);
    });

    it('accepts the email in any case', async () => {
      const res = await call('POST', '/login', {
        body: { email: ada.email.toUpperCase(), password: ada.password },
      });
      assert.equal(res.status, 200);
    });

    it('gives staff the catalog:write scope', async () => {
      const res = await call('POST', '/login', { body: { email: staff.email, password: staff.password } });
      assert.equal(res.status, 200);
      assert.equal(decodeJwt(res.body.token).scope, 'orders:read orders:write catalog:write');
    });

    it('answers 401 INVALID_CREDENTIALS with one message for a wrong password and an unknown email', async () => {
      const wrong = await call('POST', '/login', { body: { email: ada.email, password: 'not-it' } });
      const unknown = await call('POST', '/login', {
        body: { email: 'nobody@example.com', password: ada.password },
      });
      assert.equal(wrong.status, 401);
      assert.equal(unknown.status, 401);
      assert.equal(wrong.body.error.code, 'INVALID_CREDENTIALS');
      assert.deepEqual(wrong.body, unknown.body);
    });

    it('rejects a login without a password with 400 VALIDATION_FAILED naming the field', async () => {
      const res = await call('POST', '/login', { body: { email: ada.email } });
      assert.equal(res.status, 400);
      assert.equal(res.body.error.code, 'VALIDATION_FAILED');
      assert.equal(res.body.error.details[0].field, 'password');
    });
  });

  describe('products', () => {
    it('serves a product with its price in minor units', async () => {
      const tea = seedProducts[0]!;
      const res = await call('GET', `/products/${tea.sku}`);
      assert.equal(res.status, 200);
      assert.deepEqual(
        { ...res.body, updatedAt: undefined },
        {
          sku: tea.sku,
          name: tea.name,
          description: tea.description,
          category: tea.category,
          priceMinor: tea.priceMinor,
          currency: 'EUR',
          updatedAt: undefined,
        },
      );
    });

    it('answers 404 PRODUCT_NOT_FOUND for an unknown SKU', async () => {
      const res = await call('GET', '/products/NOPE-999');
      assert.equal(res.status, 404);
      assert.equal(res.body.error.code, 'PRODUCT_NOT_FOUND');
      assert.equal(res.body.error.retryable, false);
    });

    it('answers 400 VALIDATION_FAILED for a malformed SKU', async () => {
      const res = await call('GET', '/products/not-a-sku');
      assert.equal(res.status, 400);
      assert.equal(res.body.error.code, 'VALIDATION_FAILED');
    });

    it('pages through every product in SKU order', async () => {
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const res: Answer = await call(
          'GET',
          `/products?limit=7${cursor === null ? '' : `&cursor=${cursor}`}`,
        );
        assert.equal(res.status, 200);
        assert.ok(res.body.items.length <= 7);
        seen.push(...res.body.items.map((p: { sku: string }) => p.sku));
        cursor = res.body.nextCursor;
      } while (cursor !== null);
      assert.deepEqual(seen, seedProducts.map((p) => p.sku).sort());
    });

    it('answers 400 INVALID_CURSOR for a forged cursor, and 400 for a bad limit', async () => {
      const forged = await call('GET', '/products?cursor=bm9wZQ');
      assert.equal(forged.status, 400);
      assert.equal(forged.body.error.code, 'INVALID_CURSOR');
      const limit = await call('GET', '/products?limit=1000');
      assert.equal(limit.status, 400);
      assert.equal(limit.body.error.code, 'VALIDATION_FAILED');
    });

    it('serves a batch in the order asked and names the missing SKUs', async () => {
      const res = await call('GET', '/products?skus=COF-002,TEA-001,ZZZ-001,TEA-001');
      assert.equal(res.status, 200);
      assert.deepEqual(
        res.body.items.map((p: { sku: string }) => p.sku),
        ['COF-002', 'TEA-001'],
      );
      assert.deepEqual(res.body.missing, ['ZZZ-001']);
      const bad = await call('GET', '/products?skus=TEA-001,lowercase');
      assert.equal(bad.status, 400);
    });
  });

  describe('admin product change', () => {
    it('needs a customer with catalog:write (401 without a user, 403 without the scope)', async () => {
      const none = await call('PUT', '/admin/products/TEA-002', { body: { priceMinor: 100 } });
      assert.equal(none.status, 401);
      assert.equal(none.body.error.code, 'UNAUTHENTICATED');
      const customer = await call('PUT', '/admin/products/TEA-002', {
        body: { priceMinor: 100 },
        user: as(ada),
      });
      assert.equal(customer.status, 403);
      assert.equal(customer.body.error.code, 'FORBIDDEN');
    });

    it('changes the product, moves updatedAt and publishes ProductChanged through the outbox', async () => {
      const before = await call('GET', '/products/TEA-003');
      const res = await call('PUT', '/admin/products/TEA-003', {
        body: { priceMinor: 1999, name: 'Darjeeling FF 2025' },
        user: as(staff, ['catalog:write']),
      });
      assert.equal(res.status, 200);
      assert.equal(res.body.priceMinor, 1999);
      assert.equal(res.body.name, 'Darjeeling FF 2025');
      assert.ok(Date.parse(res.body.updatedAt) > Date.parse(before.body.updatedAt));
      assert.deepEqual((await call('GET', '/products/TEA-003')).body, res.body);
      await eventually('the change event', () => published.some((p) => p.name === 'Darjeeling FF 2025'));
      assert.deepEqual(published.at(-1), res.body);
    });

    it('answers 404 for an unknown product and 400 for a negative price', async () => {
      const missing = await call('PUT', '/admin/products/TEA-999', {
        body: { priceMinor: 100 },
        user: as(staff, ['catalog:write']),
      });
      assert.equal(missing.status, 404);
      const negative = await call('PUT', '/admin/products/TEA-003', {
        body: { priceMinor: -1 },
        user: as(staff, ['catalog:write']),
      });
      assert.equal(negative.status, 400);
      assert.equal(negative.body.error.details[0].field, 'priceMinor');
    });
  });

  describe('v1 orders', () => {
    it('takes stock, records the payment and the order together, and shows it to its owner only', async () => {
      const sku = 'COF-001';
      const price = seedProduct(sku)!.priceMinor;
      const stock = await stockOf(sku);
      const res = await call('POST', '/v1/orders', {
        body: {
          items: [
            { sku, quantity: 2 },
            { sku, quantity: 1 },
          ],
        },
        user: as(ada),
      });
      assert.equal(res.status, 201);
      assert.equal(res.body.status, 'CONFIRMED');
      assert.deepEqual(res.body.items, [{ sku, quantity: 3, unitPriceMinor: price }]);
      assert.equal(res.body.totalMinor, 3 * price);
      assert.equal(await stockOf(sku), stock - 3);
      const mine = await call('GET', `/v1/orders/${res.body.id}`, { user: as(ada) });
      assert.equal(mine.status, 200);
      assert.deepEqual(mine.body, res.body);
      const theirs = await call('GET', `/v1/orders/${res.body.id}`, { user: as(grace) });
      assert.equal(theirs.status, 404);
      assert.equal(theirs.body.error.code, 'ORDER_NOT_FOUND');
    });

    it('rolls everything back when one line is out of stock, naming every short SKU', async () => {
      const fine = 'COF-003';
      const short = 'TEA-012';
      const [fineStock, shortStock, orders, payments] = [
        await stockOf(fine),
        await stockOf(short),
        await count('orders'),
        await count('payments'),
      ];
      const res = await call('POST', '/v1/orders', {
        body: {
          items: [
            { sku: fine, quantity: 1 },
            { sku: short, quantity: shortStock + 1 },
          ],
        },
        user: as(ada),
      });
      assert.equal(res.status, 409);
      assert.equal(res.body.error.code, 'OUT_OF_STOCK');
      assert.deepEqual(res.body.error.details.shortages, [
        { sku: short, requested: shortStock + 1, available: shortStock },
      ]);
      assert.equal(await stockOf(fine), fineStock);
      assert.equal(await stockOf(short), shortStock);
      assert.equal(await count('orders'), orders);
      assert.equal(await count('payments'), payments);
    });

    it('declines a total ending in 13 minor units and keeps nothing', async () => {
      const stock = await stockOf(DECLINED_DEMO_SKU);
      const orders = await count('orders');
      const res = await call('POST', '/v1/orders', {
        body: { items: [{ sku: DECLINED_DEMO_SKU, quantity: 1 }] },
        user: as(ada),
      });
      assert.equal(res.status, 402);
      assert.equal(res.body.error.code, 'PAYMENT_DECLINED');
      assert.equal(res.body.error.retryable, false);
      assert.equal(await stockOf(DECLINED_DEMO_SKU), stock);
      assert.equal(await count('orders'), orders);
    });

    it('answers 422 UNKNOWN_PRODUCT, 401 without a customer, and 400 for bad bodies', async () => {
      const unknown = await call('POST', '/v1/orders', {
        body: { items: [{ sku: 'ZZZ-001', quantity: 1 }] },
        user: as(ada),
      });
      assert.equal(unknown.status, 422);
      assert.deepEqual(unknown.body.error.details, { skus: ['ZZZ-001'] });
      const anonymous = await call('POST', '/v1/orders', {
        body: { items: [{ sku: 'TEA-001', quantity: 1 }] },
      });
      assert.equal(anonymous.status, 401);
      for (const body of [
        {},
        { items: [] },
        { items: [{ sku: 'TEA-001', quantity: 0 }] },
        { items: [{ sku: 'TEA-001' }] },
      ]) {
        const res = await call('POST', '/v1/orders', { body, user: as(ada) });
        assert.equal(res.status, 400, JSON.stringify(body));
        assert.equal(res.body.error.code, 'VALIDATION_FAILED');
      }
      const malformed = await call('POST', '/v1/orders', { raw: '{"items":', user: as(ada) });
      assert.equal(malformed.status, 400);
      assert.equal(malformed.body.error.code, 'MALFORMED_JSON');
    });
  });

  it('keeps its data across a restart (the seed runs once)', async () => {
    const placed = await call('POST', '/v1/orders', {
      body: { items: [{ sku: 'SNK-001', quantity: 4 }] },
      user: as(grace),
    });
    assert.equal(placed.status, 201);
    const stock = await stockOf('SNK-001');
    const changed = (await call('GET', '/products/TEA-003')).body;
    const events = published.length;
    await svc.close();
    svc = await startForTest(createLegacyService(), { env });
    assert.equal(await stockOf('SNK-001'), stock);
    assert.deepEqual((await call('GET', '/products/TEA-003')).body, changed);
    assert.equal((await call('GET', `/v1/orders/${placed.body.id}`, { user: as(grace) })).status, 200);
    const login = await call('POST', '/login', { body: { email: grace.email, password: grace.password } });
    assert.equal(login.status, 200);
    // The restart republishes every product's current state (the retained history stays complete).
    await eventually('the republished catalogue', () => published.length >= events + seedProducts.length);
    assert.deepEqual(
      published.slice(events).find((p) => p.sku === 'TEA-003'),
      changed,
    );
  });
});
