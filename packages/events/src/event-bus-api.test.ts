import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { manualClock } from '@flotilla/resilience';
import { openStore, type Store } from '@flotilla/store';
import { tempSqliteUrl } from '@flotilla/store/testing';
import type { Kysely } from 'kysely';
import { z } from 'zod';
import type { EventBusOptions } from './bus-options.js';
import { defineEvent } from './define-event.js';
import { isEventBusClosedError, isEventValidationError, isUnknownEventError } from './errors.js';
import { createEventBus, type EventBus } from './event-bus.js';
import type { EventsLogger } from './logger.js';
import type { EventsTables } from './migrations.js';
import { type KitDb, kitMigrations, OrderPlaced } from './testing/conformance-kit.js';
import type { Transport } from './transport.js';
import { memoryTransport } from './transports/memory.js';

const OrderCancelled = defineEvent('OrderCancelled', {
  version: 1,
  schema: z.object({ reason: z.string() }),
});

async function setup(
  t: TestContext,
  options: Partial<EventBusOptions<KitDb>> = {},
): Promise<{ store: Store<KitDb>; transport: Transport; bus: EventBus<KitDb> }> {
  const file = tempSqliteUrl('orders');
  const transport = memoryTransport();
  const store = await openStore<KitDb>({ service: 'orders', url: file.url, migrations: kitMigrations });
  const bus = createEventBus<KitDb>({ service: 'orders', store, transport, ...options });
  t.after(async () => {
    await bus.close();
    await transport.close();
    await store.close();
    file.cleanup();
  });
  return { store, transport, bus };
}

async function until(condition: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await condition())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('createEventBus', () => {
  it('rejects a bad service name, store or option, naming the field', async (t) => {
    const { store, transport } = await setup(t);
    assert.throws(() => createEventBus({ service: '', store, transport }), /createEventBus.service must be/);
    assert.throws(
      () => createEventBus({ service: 'a', store: {} as never, transport }),
      /createEventBus.store must be a store/,
    );
    assert.throws(
      () => createEventBus({ service: 'a', store, transport, relay: { batchSize: 0 } }),
      /createEventBus.relay.batchSize must be an integer in \[1, 10000\], got 0/,
    );
    assert.throws(
      () => createEventBus({ service: 'a', store, transport, relay: { pollIntervalMs: -1 } }),
      /createEventBus.relay.pollIntervalMs must be a finite number > 0, got -1/,
    );
  });
});

describe('bus.publish', () => {
  it('refuses data that does not match the contract, writing nothing', async (t) => {
    const { store, bus } = await setup(t);
    await assert.rejects(
      store.transaction((tx) =>
        bus.publish(tx, OrderPlaced, { subject: 'o', data: { orderId: 'o', n: 'x' as never } }),
      ),
      (err: unknown) => isEventValidationError(err) && err.issues[0]?.path === 'data.n',
    );
    assert.equal((await bus.stats()).outbox.backlog, 0);
  });

  it('refuses a subject or id that cannot be an ordering key or message id', async (t) => {
    const { store, bus } = await setup(t);
    await assert.rejects(
      store.transaction((tx) => bus.publish(tx, OrderPlaced, { subject: '', data: { orderId: 'o', n: 1 } })),
      /publish\(conformance.OrderPlaced\).subject must be 1 to 1024 characters/,
    );
    await assert.rejects(
      store.transaction((tx) =>
        bus.publish(tx, OrderPlaced, { subject: 'o', id: 'a\nb', data: { orderId: 'o', n: 1 } }),
      ),
      /publish\(conformance.OrderPlaced\).id must be 1 to 256 characters/,
    );
  });

  it('refuses events missing from createEventBus({ events })', async (t) => {
    const { store, bus } = await setup(t, { events: [OrderPlaced] });
    await assert.rejects(
      store.transaction((tx) => bus.publish(tx, OrderCancelled, { subject: 'o', data: { reason: 'x' } })),
      (err: unknown) =>
        isUnknownEventError(err) && /add its contract to createEventBus\(\{ events \}\)/.test(err.message),
    );
    await store.transaction((tx) =>
      bus.publish(tx, OrderPlaced, { subject: 'o', data: { orderId: 'o', n: 1 } }),
    );
  });

  it('refuses two versions of one event type from one service', async (t) => {
    const { store, bus } = await setup(t);
    const V2 = defineEvent('OrderCancelled', { version: 2, schema: z.object({ reason: z.string() }) });
    await store.transaction((tx) => bus.publish(tx, OrderCancelled, { subject: 'o', data: { reason: 'x' } }));
    await assert.rejects(
      store.transaction((tx) => bus.publish(tx, V2, { subject: 'o', data: { reason: 'x' } })),
      isUnknownEventError,
    );
  });

  it('hands an id published twice to each group once, so a retried command has one effect', async (t) => {
    const { store, bus } = await setup(t);
    const handled: string[] = [];
    bus.subscribe({
      group: 'orders',
      events: [OrderPlaced],
      handler: async (event) => {
        handled.push(event.id);
      },
    });
    await bus.start();
    for (let i = 0; i < 2; i++)
      await store.transaction((tx) =>
        bus.publish(tx, OrderPlaced, { subject: 'o', id: 'order-o:placed', data: { orderId: 'o', n: i } }),
      );
    await store.transaction((tx) =>
      bus.publish(tx, OrderPlaced, { subject: 'o', data: { orderId: 'o', n: 2 } }),
    );
    await until(async () => (await bus.stats()).groups.orders!.handled === 2, 'the later event');
    assert.deepEqual(handled.length, 2);
    assert.equal(handled[0], 'order-o:placed');
  });
});

describe('bus.subscribe', () => {
  it('refuses a group twice, an empty event list, and subscriptions after start', async (t) => {
    const { bus } = await setup(t);
    const handler = async () => {};
    bus.subscribe({ group: 'a', events: [OrderPlaced], handler });
    assert.throws(
      () => bus.subscribe({ group: 'a', events: [OrderPlaced], handler }),
      /group a is already subscribed/,
    );
    assert.throws(
      () => bus.subscribe({ group: 'b', events: [], handler }),
      /subscribe.events of group b must be a non-empty array/,
    );
    assert.throws(
      () => bus.subscribe({ group: 'b', events: [OrderPlaced], handler, maxAttempts: 0 }),
      /subscribe.maxAttempts must be an integer in \[1, 1000\], got 0/,
    );
    await bus.start();
    assert.throws(() => bus.subscribe({ group: 'c', events: [OrderPlaced], handler }), /after start\(\)/);
  });

  it('gives handlers a logger bound to the event', async (t) => {
    const bindings: Record<string, unknown>[] = [];
    const logger: EventsLogger = {
      debug() {},
      info() {},
      warn() {},
      error() {},
      child(b) {
        bindings.push(b);
        return logger;
      },
    };
    const { store, bus } = await setup(t, { logger });
    let log: EventsLogger | undefined;
    bus.subscribe({
      group: 'orders',
      events: [OrderPlaced],
      handler: async (_event, ctx) => {
        log = ctx.log;
      },
    });
    await bus.start();
    const envelope = await store.transaction((tx) =>
      bus.publish(tx, OrderPlaced, { subject: 'o', data: { orderId: 'o', n: 1 } }),
    );
    await until(() => log !== undefined, 'the handler');
    assert.equal(log, logger);
    assert.deepEqual(bindings[0], {
      group: 'orders',
      eventId: envelope.id,
      type: OrderPlaced.type,
      traceId: envelope.traceparent!.slice(3, 35),
    });
  });
});

describe('bus lifecycle', () => {
  it('rejects start and subscribe after close, and closes once', async (t) => {
    const { bus } = await setup(t);
    await bus.close();
    await bus.close();
    await assert.rejects(bus.start(), isEventBusClosedError);
    assert.throws(
      () => bus.subscribe({ group: 'a', events: [OrderPlaced], handler: async () => {} }),
      isEventBusClosedError,
    );
  });

  it('prunes inbox rows past the retention but keeps those of dead letters', async (t) => {
    const clock = manualClock();
    let now = 1_000_000;
    const { store, bus } = await setup(t, {
      clock,
      now: () => now,
      inbox: { retentionMs: 10_000, pruneIntervalMs: 1000 },
    });
    bus.subscribe({ group: 'orders', events: [OrderPlaced], handler: async () => {} });
    await bus.start();
    const db = store.db as unknown as Kysely<EventsTables>;
    await db
      .insertInto('flotilla_inbox')
      .values([
        { grp: 'orders', event_id: 'old', outcome: 'handled', handled_at: now - 20_000 },
        { grp: 'orders', event_id: 'old-dead', outcome: 'dead-lettered', handled_at: now - 20_000 },
        { grp: 'orders', event_id: 'recent', outcome: 'handled', handled_at: now - 5000 },
      ])
      .execute();
    now += 1000;
    await clock.advance(1000);
    const ids = async () =>
      (await db.selectFrom('flotilla_inbox').select('event_id').orderBy('event_id').execute()).map(
        (r) => r.event_id,
      );
    await until(async () => (await ids()).length === 2, 'the pruning');
    assert.deepEqual(await ids(), ['old-dead', 'recent']);
  });
});
