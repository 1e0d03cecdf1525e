import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { defineService } from '@flotilla/service';
import { startForTest, testToken } from '@flotilla/service/testing';
import { defineSaga } from './define-saga.js';
import {
  defer,
  drive,
  orderMigrations,
  Participant,
  type ParticipantDb,
  participantMigrations,
  type ShopDb,
  testRunner,
  testStore,
} from './saga.test-helpers.js';
import { sagaRoutes } from './saga-routes.js';

describe('sagaRoutes', () => {
  it('serves the operator API through a service: list, one saga, retry and resolve', async (t) => {
    const store = await testStore<ShopDb>(t, 'sqlite', 'order', orderMigrations);
    const p = new Participant(
      await testStore<ParticipantDb>(t, 'sqlite', 'participant', participantMigrations),
    );
    p.failing.set('notify', 100);
    const saga = defineSaga<{ orderId: string }>('notify', { version: 1 }).step('notify', {
      kind: 'retriable',
      retry: { backoff: { delayMs: () => 100 } },
      action: (_c, s) => p.act(s.idempotencyKey, s.sagaId, 'notify'),
    });
    const { runner, clock } = testRunner(t, store, { sagas: [saga] });
    await runner.run();
    const stuck = await store.transaction((tx) => runner.start(tx, saga, { orderId: 'a' }, { id: 'a' }));
    assert.equal(await drive(clock, runner.settled(stuck)), 'stuck');
    const other = await store.transaction((tx) => runner.start(tx, saga, { orderId: 'b' }, { id: 'b' }));
    assert.equal(await drive(clock, runner.settled(other)), 'stuck');

    const service = defineService({ name: 'order', version: '1.0.0', routes: sagaRoutes(runner) });
    const running = await startForTest(service);
    defer(t, () => running.close());
    const auth = { authorization: await testToken('order') };
    const call = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(`${running.url}${path}`, {
        method,
        headers: body === undefined ? auth : { ...auth, 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };

    const page = await call('GET', '/sagas?state=stuck&limit=1');
    assert.equal(page.status, 200);
    assert.equal((page.body.items as unknown[]).length, 1);
    const next = await call('GET', `/sagas?state=stuck&limit=1&cursor=${String(page.body.nextCursor)}`);
    assert.equal((next.body.items as unknown[]).length, 1);
    assert.equal(next.body.nextCursor, null);

    const counts = await call('GET', '/sagas/counts');
    assert.equal(counts.status, 200);
    assert.equal((counts.body.counts as Record<string, number>).stuck, 2);
    assert.deepEqual((await call('GET', '/sagas/counts?name=nobody')).body.counts, {});

    const one = await call('GET', '/sagas/a');
    assert.equal(one.body.state, 'stuck');
    assert.equal((one.body.timeline as unknown[]).length, 3);
    assert.equal((await call('GET', '/sagas/missing')).status, 404);
    assert.equal((await call('GET', '/sagas?state=bogus')).status, 400);

    const resolved = await call('POST', '/sagas/b/resolve', { note: 'customer notified by phone' });
    assert.equal(resolved.status, 200);
    assert.equal(resolved.body.state, 'resolved');
    assert.equal((await call('POST', '/sagas/b/retry')).status, 409);

    p.failing.set('notify', 0);
    const retried = await call('POST', '/sagas/a/retry');
    assert.equal(retried.status, 200);
    assert.equal(await drive(clock, runner.settled('a')), 'completed');
    assert.equal(Array.isArray((await call('GET', '/sagas?state=completed')).body.items), true);
    assert.equal((await fetch(`${running.url}/sagas`)).status, 401);
  });

  it('refuses a malformed base path', () => {
    assert.throws(() => sagaRoutes({} as never, { basePath: 'sagas' }), /basePath must be a path/);
  });
});
