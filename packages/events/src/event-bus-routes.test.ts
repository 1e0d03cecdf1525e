import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { constantBackoff } from '@flotilla/resilience';
import { defineService, ServiceError } from '@flotilla/service';
import { startForTest, testToken } from '@flotilla/service/testing';
import { openStore, type Store } from '@flotilla/store';
import { createEventBus, type EventBus } from './event-bus.js';
import { eventBusRoutes } from './event-bus-routes.js';
import { type KitDb, kitMigrations, MemoryLogger, OrderPlaced } from './testing/conformance-kit.js';
import type { Transport } from './transport.js';
import { embeddedTransport } from './transports/embedded/embedded-transport.js';
import { memoryTransport } from './transports/memory.js';

// biome-ignore lint/suspicious/noExplicitAny: tests read whatever the route answered
type Body = any;

interface Harness {
  readonly store: Store<KitDb>;
  readonly bus: EventBus<KitDb>;
  /** Makes the `billing` handler fail (true) or succeed (false). */
  failing: boolean;
  call(method: string, path: string, token?: string | null): Promise<{ status: number; body: Body }>;
}

/** An orders service on SQLite and the embedded transport, with `eventBusRoutes(bus)` mounted. */
async function setup(
  t: TestContext,
  wrap: (transport: Transport) => Transport = (transport) => transport,
  options: Parameters<typeof eventBusRoutes>[1] = {},
): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'flotilla-events-routes-'));
  const transport = embeddedTransport({ path: join(dir, 'bus.db'), pollIntervalMs: 50 });
  const store = await openStore<KitDb>({
    service: 'orders',
    url: join(dir, 'orders.db'),
    migrations: kitMigrations,
  });
  const bus = createEventBus<KitDb>({
    service: 'orders',
    store,
    transport: wrap(transport),
    logger: new MemoryLogger(),
  });
  const h: Harness = {
    store,
    bus,
    failing: true,
    call: async (method, path, token) => {
      const auth = token === null ? {} : { authorization: token ?? (await testToken('orders')) };
      const res = await fetch(`${running.url}${path}`, { method, headers: auth });
      const text = await res.text();
      return { status: res.status, body: text === '' ? undefined : JSON.parse(text) };
    },
  };
  bus.subscribe({
    group: 'billing',
    events: [OrderPlaced],
    maxAttempts: 1,
    backoff: constantBackoff(1),
    handler: async (event, { tx }) => {
      if (h.failing) throw new Error(`card declined for ${event.data.orderId}`);
      await tx
        .insertInto('effects')
        .values({
          ord: 0,
          grp: 'billing',
          event_id: event.id,
          subject: event.subject,
          n: event.data.n,
          instance: 'a',
        })
        .execute();
    },
  });
  // Fails every delivery and retries an hour later: its events stay unsettled, counted as lag.
  bus.subscribe({
    group: 'retrying',
    events: [OrderPlaced],
    maxAttempts: 5,
    backoff: constantBackoff(3_600_000),
    handler: async (event) => {
      throw new Error(`ledger offline for ${event.data.orderId}`);
    },
  });
  await bus.start();
  const service = defineService({ name: 'orders', version: '1.0.0', routes: eventBusRoutes(bus, options) });
  const running = await startForTest(service);
  t.after(async () => {
    await running.close();
    await bus.close();
    await transport.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return h;
}

async function until(condition: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await condition())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function publishTwo(h: Harness): Promise<void> {
  await h.store.transaction(async (tx) => {
    await h.bus.publish(tx, OrderPlaced, { subject: 'o-1', data: { orderId: 'o-1', n: 1 } });
    await h.bus.publish(tx, OrderPlaced, { subject: 'o-2', data: { orderId: 'o-2', n: 2 } });
  });
  await until(async () => (await h.bus.deadLetters.list()).length === 2, 'two dead letters');
  await until(async () => (await h.bus.stats()).groups.retrying?.failed === 2, 'both events to fail once');
}

describe('eventBusRoutes', () => {
  it('serves the stats with each group’s lag from the transport', async (t) => {
    const h = await setup(t);
    await publishTwo(h);
    const { status, body } = await h.call('GET', '/events/stats');
    assert.equal(status, 200);
    assert.equal(body.service, 'orders');
    assert.equal(body.transport, 'embedded');
    assert.equal(body.outbox.backlog, 0);
    assert.equal(body.groups.billing.deadLettered, 2);
    assert.equal(body.groups.retrying.failed, 2);
    // `billing` settled both events (as dead letters); `retrying` waits to try them again.
    assert.deepEqual(body.lag, { billing: 0, retrying: 2 });
    assert.equal(body.lagError, undefined);
  });

  it('gives a null lag when the transport cannot count, and says why when it failed', async (t) => {
    const withoutLag = (transport: Transport): Transport => ({
      kind: transport.kind,
      publish: (messages, signal) => transport.publish(messages, signal),
      subscribe: (options, handler) => transport.subscribe(options, handler),
      check: (signal) => transport.check(signal),
      close: () => transport.close(),
    });
    const h = await setup(t, withoutLag);
    assert.deepEqual((await h.call('GET', '/events/stats')).body.lag, { billing: null, retrying: null });

    const failingLag = (transport: Transport): Transport => ({
      ...withoutLag(transport),
      lag: async () => {
        throw new Error('the log file is locked');
      },
    });
    const f = await setup(t, failingLag);
    const { status, body } = await f.call('GET', '/events/stats');
    assert.equal(status, 200);
    assert.deepEqual(body.lag, { billing: null, retrying: null });
    assert.equal(body.lagError, 'the log file is locked');
    assert.equal(body.groups.billing.handled, 0);
  });

  it('lists, shows, replays and discards dead letters', async (t) => {
    const h = await setup(t);
    await publishTwo(h);

    const list = await h.call('GET', '/dead-letters?group=billing');
    assert.equal(list.status, 200);
    assert.equal(list.body.items.length, 2);
    const [first, second] = list.body.items;
    assert.equal(first.group, 'billing');
    assert.equal(first.eventType, 'conformance.OrderPlaced');
    assert.equal(first.reason, 'handler-failed');
    assert.equal(first.attempts, 1);
    assert.match(first.error.message, /^card declined for o-/);
    assert.equal(first.error.stack, undefined);
    assert.equal(typeof first.deadLetteredAt, 'number');
    assert.equal(typeof first.lastAttemptAt, 'number');
    assert.equal(first.payload, undefined);
    assert.equal((await h.call('GET', '/dead-letters?group=retrying')).body.items.length, 0);
    assert.equal((await h.call('GET', '/dead-letters?type=other')).body.items.length, 0);
    assert.equal((await h.call('GET', '/dead-letters?limit=1')).body.items.length, 1);

    const one = await h.call('GET', `/dead-letters/${first.id}`);
    assert.equal(one.status, 200);
    assert.equal(one.body.id, first.id);
    assert.equal(one.body.envelope.id, first.eventId);
    assert.equal(JSON.parse(one.body.payload).id, first.eventId);

    // The handler still fails: 409 with its message, one more attempt recorded.
    const again = await h.call('POST', `/dead-letters/${first.id}/replay`);
    assert.equal(again.status, 409);
    assert.equal(again.body.error.code, 'REPLAY_FAILED');
    assert.match(again.body.error.message, /^card declined for o-/);
    assert.deepEqual(again.body.error.details, { attempts: 2 });
    assert.equal((await h.call('GET', `/dead-letters/${first.id}`)).body.attempts, 2);

    h.failing = false;
    const replayed = await h.call('POST', `/dead-letters/${first.id}/replay`);
    assert.equal(replayed.status, 200);
    assert.deepEqual(replayed.body, { id: first.id, eventId: first.eventId, attempts: 3 });
    const effects = await h.store.db.selectFrom('effects').selectAll().execute();
    assert.deepEqual(
      effects.map((e) => e.event_id),
      [first.eventId],
    );

    const discarded = await h.call('POST', `/dead-letters/${second.id}/discard`);
    assert.equal(discarded.status, 200);
    assert.deepEqual(discarded.body, { discarded: second.id });
    assert.deepEqual((await h.call('GET', '/dead-letters')).body, { items: [] });
  });

  it('answers 404, 400 and 401 in the standard error shape', async (t) => {
    const h = await setup(t);
    for (const [method, path] of [
      ['GET', '/dead-letters/nope'],
      ['POST', '/dead-letters/nope/replay'],
      ['POST', '/dead-letters/nope/discard'],
    ] as const) {
      const res = await h.call(method, path);
      assert.equal(res.status, 404, path);
      assert.equal(res.body.error.code, 'DEAD_LETTER_NOT_FOUND');
      assert.match(res.body.error.message, /dead letter nope does not exist/);
    }
    for (const query of ['limit=0', 'limit=1001', 'limit=many', 'group=']) {
      const res = await h.call('GET', `/dead-letters?${query}`);
      assert.equal(res.status, 400, query);
      assert.equal(res.body.error.code, 'VALIDATION_FAILED');
    }
    assert.equal((await h.call('GET', '/events/stats', null)).status, 401);
    assert.equal((await h.call('GET', '/dead-letters', null)).status, 401);
  });

  it('runs `authorize` before every route, under a base path, and resolves the bus per request', async (t) => {
    const h = await setup(t);
    await publishTwo(h);
    const refused = new ServiceError(403, 'FORBIDDEN', 'operators only', { retryable: false });
    const routes = eventBusRoutes<{ bus: EventBus<KitDb> }>((ctx) => ctx.deps.bus, {
      basePath: '/bus',
      authorize: (ctx) => {
        if (ctx.user !== undefined) throw refused;
      },
    });
    assert.deepEqual(
      routes.map((r) => `${r.method} ${r.path}`),
      [
        'GET /bus/events/stats',
        'GET /bus/dead-letters',
        'GET /bus/dead-letters/:id',
        'POST /bus/dead-letters/:id/replay',
        'POST /bus/dead-letters/:id/discard',
      ],
    );
    const service = defineService({
      name: 'orders',
      version: '1.0.0',
      setup: async () => ({ bus: h.bus }),
      routes,
    });
    const running = await startForTest(service);
    t.after(() => running.close());
    const get = async (token: string) => {
      const res = await fetch(`${running.url}/bus/dead-letters`, { headers: { authorization: token } });
      return { status: res.status, body: (await res.json()) as Body };
    };
    const operator = await get(await testToken('orders'));
    assert.equal(operator.status, 200);
    assert.equal(operator.body.items.length, 2);
    const customer = await get(await testToken('orders', 'gateway', { id: 'u-1', scopes: [] }));
    assert.equal(customer.status, 403);
    assert.equal(customer.body.error.code, 'FORBIDDEN');

    // A bus of the same service that does not run the letter's group cannot replay it.
    const idle = createEventBus<KitDb>({ service: 'orders', store: h.store, transport: memoryTransport() });
    const idleService = await startForTest(
      defineService({ name: 'orders', version: '1.0.0', routes: eventBusRoutes(idle) }),
    );
    t.after(() => idleService.close());
    const letter = operator.body.items[0];
    const replay = await fetch(`${idleService.url}/dead-letters/${letter.id}/replay`, {
      method: 'POST',
      headers: { authorization: await testToken('orders') },
    });
    assert.equal(replay.status, 409);
    const refusal = (await replay.json()) as { error: { code: string; message: string } };
    assert.equal(refusal.error.code, 'GROUP_NOT_SUBSCRIBED');
    assert.match(refusal.error.message, /belongs to group billing, which is not subscribed on this bus/);

    assert.throws(() => eventBusRoutes(h.bus, { basePath: 'bus' }), /basePath must be '' or a path/);
    assert.throws(() => eventBusRoutes(h.bus, { auth: 'open' as never }), /auth must be 'service' or 'none'/);
  });
});
