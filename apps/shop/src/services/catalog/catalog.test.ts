import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { RunningService } from '@flotilla/service';
import { startForTest, testToken } from '@flotilla/service/testing';
import { openStore } from '@flotilla/store';
import { seedProducts } from '../../seed/index.js';
import { createLegacyService, type LegacyDeps } from '../legacy/service.js';
import type { CatalogDb } from './db.js';
import { catalogMigrations } from './migrations.js';
import { applyProductChanged } from './read-model.js';
import { type CatalogDeps, createCatalogService } from './service.js';

interface Answer {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: tests read whatever the route answered
  body: any;
}

const staff = { id: 'cus-0900', scopes: ['catalog:write'] };

describe('catalog read model', () => {
  const dir = mkdtempSync(join(tmpdir(), 'flotilla-catalog-'));
  const env = {
    FLOTILLA_LOG_LEVEL: 'silent',
    FLOTILLA_DATA_DIR: dir,
    FLOTILLA_TRANSPORT: `embedded:${join(dir, 'bus.db')}`,
    FLOTILLA_JWT_SECRET: 'catalog-test-secret-0123456789abcdef-0123456789',
  };
  let legacy: RunningService<LegacyDeps>;
  let catalog: RunningService<CatalogDeps> | undefined;

  const call = async (
    svc: RunningService<unknown>,
    method: string,
    path: string,
    body?: unknown,
  ): Promise<Answer> => {
    const headers: Record<string, string> = { authorization: await testToken(svc.name, 'gateway', staff) };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`${svc.url}${path}`, {
      method,
      headers,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, body: await res.json() };
  };
  const both = async (path: string): Promise<[Answer, Answer]> => [
    await call(legacy as RunningService<unknown>, 'GET', path),
    await call(catalog as RunningService<unknown>, 'GET', path),
  ];
  const eventually = async (what: string, check: () => Promise<boolean>): Promise<void> => {
    for (let i = 0; i < 500; i++) {
      if (await check()) return;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.fail(`timed out waiting for ${what}`);
  };
  const productCount = async (): Promise<number> =>
    Number(
      (
        await (catalog as RunningService<CatalogDeps>).deps.store.db
          .selectFrom('products')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .executeTakeFirstOrThrow()
      ).n,
    );

  before(async () => {
    legacy = await startForTest(createLegacyService(), { env });
    // The monolith's seed events are in the retained history before the catalog ever starts.
    await eventually(
      'the seed events to be sent',
      async () => (await legacy.deps.bus.stats()).outbox.backlog === 0,
    );
  });
  after(async () => {
    await catalog?.close();
    await legacy?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('backfills every product from the retained history when it starts fresh', async () => {
    catalog = await startForTest(createCatalogService(), { env });
    await eventually('the backfill', async () => (await productCount()) === seedProducts.length);
    for (const product of seedProducts) {
      const [fromLegacy, fromCatalog] = await both(`/products/${product.sku}`);
      assert.equal(fromCatalog.status, 200);
      assert.deepEqual(fromCatalog.body, fromLegacy.body, product.sku);
    }
  });

  it('answers pages and batches exactly like the monolith', async () => {
    for (const path of ['/products?limit=9', '/products?skus=GIFT-013,TEA-001,NOPE-001']) {
      const [fromLegacy, fromCatalog] = await both(path);
      assert.equal(fromCatalog.status, 200);
      assert.deepEqual(fromCatalog.body, fromLegacy.body, path);
    }
    const [first] = await both('/products?limit=9');
    const [fromLegacy, fromCatalog] = await both(`/products?limit=9&cursor=${first.body.nextCursor}`);
    assert.deepEqual(fromCatalog.body, fromLegacy.body);
  });

  it('answers an unknown SKU (404 PRODUCT_NOT_FOUND) and bad input (400) exactly like the monolith', async () => {
    const [fromLegacy, fromCatalog] = await both('/products/NOPE-404');
    assert.equal(fromCatalog.status, 404);
    assert.equal(fromCatalog.body.error.code, 'PRODUCT_NOT_FOUND');
    assert.deepEqual(fromCatalog.body, fromLegacy.body);
    for (const path of [
      '/products?cursor=forged',
      '/products/lowercase',
      '/products?limit=0',
      '/products?skus=TEA-1',
    ]) {
      const [badLegacy, badCatalog] = await both(path);
      assert.equal(badCatalog.status, 400, path);
      assert.deepEqual(badCatalog.body, badLegacy.body, path);
    }
  });

  it('follows a product change in the monolith', async () => {
    const changed = await call(legacy as RunningService<unknown>, 'PUT', '/admin/products/COF-002', {
      priceMinor: 1345,
      description: 'Caramel and red apple, new crop.',
    });
    assert.equal(changed.status, 200);
    await eventually('the change', async () => (await both('/products/COF-002'))[1].body.priceMinor === 1345);
    const [fromLegacy, fromCatalog] = await both('/products/COF-002');
    assert.deepEqual(fromCatalog.body, fromLegacy.body);
  });

  it('is stale while it is down (what the shadow comparison catches), and catches up on restart', async () => {
    await catalog?.close();
    const changed = await call(legacy as RunningService<unknown>, 'PUT', '/admin/products/TEA-004', {
      priceMinor: 1111,
    });
    assert.equal(changed.status, 200);
    catalog = await startForTest(createCatalogService(), { env });
    // The restarted catalog may answer before it has read the change: then it is stale, never wrong otherwise.
    const early = (await both('/products/TEA-004'))[1].body;
    assert.ok(early.priceMinor === 990 || early.priceMinor === 1111);
    await eventually(
      'the catch-up',
      async () => (await both('/products/TEA-004'))[1].body.priceMinor === 1111,
    );
    const [fromLegacy, fromCatalog] = await both('/products/TEA-004');
    assert.deepEqual(fromCatalog.body, fromLegacy.body);
  });

  it('keeps the newest state when an older event arrives late', async (t) => {
    const store = await openStore<CatalogDb>({
      service: 'catalog-unit',
      url: ':memory:',
      migrations: catalogMigrations,
    });
    t.after(() => store.close());
    const base = { sku: 'TEA-001', name: 'Sencha', description: '', category: 'tea', currency: 'EUR' };
    await store.transaction((tx) =>
      applyProductChanged(tx, { ...base, priceMinor: 200, updatedAt: '2030-01-01T00:00:02.000Z' }),
    );
    await store.transaction((tx) =>
      applyProductChanged(tx, { ...base, priceMinor: 100, updatedAt: '2030-01-01T00:00:01.000Z' }),
    );
    const row = await store.db.selectFrom('products').selectAll().executeTakeFirstOrThrow();
    assert.equal(row.price_minor, 200);
    await store.transaction((tx) =>
      applyProductChanged(tx, { ...base, priceMinor: 300, updatedAt: '2030-01-01T00:00:03.000Z' }),
    );
    assert.equal(
      (await store.db.selectFrom('products').select('price_minor').executeTakeFirstOrThrow()).price_minor,
      300,
    );
  });
});
