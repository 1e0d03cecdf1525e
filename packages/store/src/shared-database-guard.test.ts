import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { isSharedDatabaseError, SharedDatabaseError } from './errors.js';
import { dialectEnvironment, dialects } from './fixtures/dialects.js';
import { openStore } from './open-store.js';
import { tempSqliteUrl } from './testing.js';

for (const { dialect, skip } of await dialects()) {
  describe(`shared-database guard on ${dialect}`, { skip }, () => {
    const env = dialectEnvironment(dialect, 'store_guard');

    it('refuses to open a database already open for another service, naming both', async (t) => {
      const url = env.freshUrl();
      await env.open(t, { service: 'orders', url });
      const err = await openStore({ service: 'payments', url }).catch((e: unknown) => e);
      assert.ok(err instanceof SharedDatabaseError);
      assert.ok(isSharedDatabaseError(err));
      assert.equal(err.code, 'SHARED_DATABASE');
      assert.equal(err.service, 'payments');
      assert.equal(err.ownerService, 'orders');
      assert.match(err.message, /service 'payments' cannot open .* already open for service 'orders'/);
    });

    it('lets the same service open its database twice', async (t) => {
      const url = env.freshUrl();
      await env.open(t, { service: 'orders', url });
      const second = await env.open(t, { service: 'orders', url });
      assert.equal(second.service, 'orders');
    });

    it('releases the claim when the last store of the owner closes', async (t) => {
      const url = env.freshUrl();
      const first = await openStore({ service: 'orders', url });
      const second = await openStore({ service: 'orders', url });
      await first.close();
      await assert.rejects(openStore({ service: 'payments', url }), isSharedDatabaseError);
      await second.close();
      const payments = await env.open(t, { service: 'payments', url });
      assert.equal(payments.service, 'payments');
    });

    it('releases the claim when opening fails after claiming', async (t) => {
      const url = env.freshUrl();
      await assert.rejects(
        openStore({ service: 'orders', url, migrations: [{ id: '1', up: 'not sql at all' }] }),
      );
      const payments = await env.open(t, { service: 'payments', url });
      assert.equal(payments.service, 'payments');
    });
  });
}

describe('shared-database guard on sqlite paths', () => {
  it('recognises one file reached through a relative path and a symlinked folder', async (t) => {
    const temp = tempSqliteUrl('guard');
    t.after(() => temp.cleanup());
    mkdirSync(join(temp.dir, 'real'));
    symlinkSync(join(temp.dir, 'real'), join(temp.dir, 'link'));
    const orders = await openStore({ service: 'orders', url: `sqlite:${join(temp.dir, 'real', 'shop.db')}` });
    t.after(() => orders.close());
    const viaLink = join(temp.dir, 'link', 'shop.db');
    await assert.rejects(openStore({ service: 'payments', url: viaLink }), isSharedDatabaseError);
    await assert.rejects(
      openStore({ service: 'payments', url: relative(process.cwd(), viaLink) }),
      isSharedDatabaseError,
    );
    const elsewhere = await openStore({ service: 'payments', url: join(dirname(viaLink), 'payments.db') });
    await elsewhere.close();
  });

  it('does not guard in-memory databases, which are never shared', async () => {
    const a = await openStore({ service: 'orders', url: ':memory:' });
    const b = await openStore({ service: 'payments', url: ':memory:' });
    await Promise.all([a.close(), b.close()]);
  });
});
