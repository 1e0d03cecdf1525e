import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { type ManualClock, manualClock } from '@flotilla/resilience';
import { openStore, type Store } from '@flotilla/store';
import { createTestDatabase, requirePg, tempSqliteUrl } from '@flotilla/store/testing';
import { createEventBus, type EventBus } from './event-bus.js';
import { startChild } from './fixtures/child.js';
import { type KitDb, kitMigrations, OrderPlaced } from './testing/conformance-kit.js';
import { privateStream, requireNats, testNatsUrl } from './testing/nats-helpers.js';
import type { Transport, TransportMessage } from './transport.js';
import { memoryTransport } from './transports/memory.js';
import { natsTransport } from './transports/nats.js';

/** A transport that records which instance published what, in front of a shared real transport. */
function recording(inner: Transport, sent: string[]): Transport {
  return {
    kind: inner.kind,
    publish: async (messages: readonly TransportMessage[], signal?: AbortSignal) => {
      await inner.publish(messages, signal);
      sent.push(...messages.map((m) => m.id));
    },
    subscribe: (options, handler) => inner.subscribe(options, handler),
    check: (signal) => inner.check(signal),
    close: async () => {},
  };
}

async function until(
  condition: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function place(store: Store<KitDb>, bus: EventBus<KitDb>, subject: string, n: number): Promise<string> {
  return store.transaction(async (tx) => {
    await tx
      .insertInto('orders')
      .values({ id: `${subject}-${n}`, n })
      .execute();
    return (await bus.publish(tx, OrderPlaced, { subject, data: { orderId: subject, n } })).id;
  });
}

/** Ids delivered to a plain subscriber of the transport. */
async function listen(transport: Transport): Promise<string[]> {
  const got: string[] = [];
  await transport.subscribe(
    { group: 'listener', topics: [OrderPlaced.type], startAt: 'beginning' },
    async (d) => {
      got.push(d.id);
      return { kind: 'ack' };
    },
  );
  return got;
}

/**
 * A bus on `url` (not started yet) that relays to a memory transport, on `clock`, polling only
 * every hour: what it sends promptly, a nudge made it send. Closed (then `cleanup`) after the test.
 */
async function hourlyPollingBus(t: TestContext, url: string, clock: ManualClock, cleanup: () => unknown) {
  const transport = memoryTransport();
  const store = await openStore<KitDb>({ service: 'orders', url, migrations: kitMigrations });
  const bus = createEventBus<KitDb>({
    service: 'orders',
    store,
    transport,
    clock,
    relay: { pollIntervalMs: 3_600_000 },
  });
  t.after(async () => {
    await bus.close();
    await transport.close();
    await store.close();
    await cleanup();
  });
  return { store, bus, got: await listen(transport) };
}

describe('outbox relay wake-ups', () => {
  it('sends a committed event at once, without waiting for the poll', async (t) => {
    const file = tempSqliteUrl('orders');
    const { store, bus, got } = await hourlyPollingBus(t, file.url, manualClock(), () => file.cleanup());
    await bus.start();
    const id = await place(store, bus, 'order-1', 1);
    // The manual clock never moves: only the nudge after the publish can have sent it.
    await until(() => got.includes(id), 'the event');
  });

  it("finds another instance's rows by polling every pollIntervalMs", async (t) => {
    const file = tempSqliteUrl('orders');
    t.after(() => file.cleanup());
    const clock = manualClock();
    const transport = memoryTransport();
    const store = await openStore<KitDb>({ service: 'orders', url: file.url, migrations: kitMigrations });
    const relaying = createEventBus<KitDb>({
      service: 'orders',
      store,
      transport,
      clock,
      relay: { pollIntervalMs: 500 },
    });
    // Another instance's publish: its bus is never started, so it does not relay itself.
    const other = createEventBus<KitDb>({ service: 'orders', store, transport, clock });
    t.after(async () => {
      await relaying.close();
      await other.close();
      await transport.close();
      await store.close();
    });
    const got = await listen(transport);
    await relaying.start();
    // The relay made its first pass and sleeps on its poll timer (the only timer of this clock).
    await until(() => clock.pendingTimers === 1, 'the relay to sleep');
    const id = await place(store, other, 'order-2', 1);
    await clock.advance(499);
    await until(async () => (await relaying.stats()).outbox.backlog === 1, 'the row');
    assert.equal(got.length, 0);
    await clock.advance(1);
    await until(() => got.includes(id), 'the polled event');
  });
});

const pgSkip = (await requirePg()).skip;

describe('outbox relay leadership on PostgreSQL', { skip: pgSkip }, () => {
  async function instances(t: TestContext, count: number) {
    const database = await createTestDatabase({ prefix: 'events_relay' });
    const transport = memoryTransport();
    const got = await listen(transport);
    const list: { store: Store<KitDb>; bus: EventBus<KitDb>; sent: string[] }[] = [];
    for (let i = 0; i < count; i++) {
      const store = await openStore<KitDb>({
        service: 'orders',
        url: database.url,
        migrations: kitMigrations,
      });
      const sent: string[] = [];
      const bus = createEventBus<KitDb>({
        service: 'orders',
        store,
        transport: recording(transport, sent),
        relay: { pollIntervalMs: 50 },
      });
      list.push({ store, bus, sent });
    }
    t.after(async () => {
      for (const i of list) await i.bus.close();
      await transport.close();
      for (const i of list) await i.store.close();
      await database.drop();
    });
    return { list, got };
  }

  it('sends an event as soon as its transaction commits, however long it stayed open after the publish', async (t) => {
    const database = await createTestDatabase({ prefix: 'events_relay_commit' });
    const clock = manualClock();
    const { store, bus, got } = await hourlyPollingBus(t, database.url, clock, () => database.drop());
    await bus.start();
    await until(async () => (await bus.stats()).outbox.leader, 'the relay to lead');
    let id = '';
    await store.transaction(async (tx) => {
      await tx.insertInto('orders').values({ id: 'order-9-1', n: 1 }).execute();
      id = (await bus.publish(tx, OrderPlaced, { subject: 'order-9', data: { orderId: 'order-9', n: 1 } }))
        .id;
      // The transaction stays open for 200 ms of the clock while the relay looks for the row.
      for (let i = 0; i < 100; i++) {
        await clock.advance(2);
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
    });
    // The commit wakes the relay, which reads after its 2 ms pause for other commits.
    await clock.advance(2);
    await until(() => got.includes(id), 'the event', 3000);
  });

  it('lets one instance relay while the others stand by, and hands over when it stops', async (t) => {
    const { list, got } = await instances(t, 3);
    for (const i of list) await i.bus.start();
    const leaders = async () =>
      (await Promise.all(list.map((i) => i.bus.stats()))).filter((s) => s.outbox.leader).length;
    await until(async () => (await leaders()) === 1, 'one leader');
    const published: string[] = [];
    for (let n = 0; n < 30; n++)
      published.push(await place(list[n % 3]!.store, list[n % 3]!.bus, `order-${n % 5}`, n));
    await until(() => published.every((id) => got.includes(id)), 'every event');
    const senders = list.filter((i) => i.sent.length > 0);
    assert.equal(senders.length, 1, 'more than one instance sent');
    assert.equal(await leaders(), 1);

    const [leader] = senders;
    await leader!.bus.close();
    const rest = list.filter((i) => i !== leader);
    await until(
      async () => (await Promise.all(rest.map((i) => i.bus.stats()))).some((s) => s.outbox.leader),
      'a standby to take over',
    );
    const later = await place(rest[0]!.store, rest[0]!.bus, 'order-x', 99);
    await until(() => got.includes(later), 'the event published after the hand-over');
    assert.equal(rest.filter((i) => i.sent.length > 0).length, 1);
  });
});

const natsPgSkip = (await requireNats()) ?? (pgSkip || undefined);

describe('outbox relay fail-over across processes', { skip: natsPgSkip }, () => {
  it('takes over and sends the outbox of a leader process that was killed', async (t) => {
    const database = await createTestDatabase({ prefix: 'events_relay' });
    const stream = privateStream();
    const leader = startChild('service-process', {
      role: 'producer',
      crash: 'before-send',
      service: 'orders',
      storeUrl: database.url,
      transportUrl: testNatsUrl(),
      stream: stream.stream,
      subjectPrefix: stream.subjectPrefix,
      publish: 'fail-over',
    });
    const transport = await natsTransport({
      servers: stream.servers,
      stream: stream.stream,
      subjectPrefix: stream.subjectPrefix,
    });
    const store = await openStore<KitDb>({ service: 'orders', url: database.url, migrations: kitMigrations });
    const standby = createEventBus<KitDb>({
      service: 'orders',
      store,
      transport,
      relay: { pollIntervalMs: 50 },
    });
    t.after(async () => {
      await leader.kill();
      await standby.close();
      await transport.close();
      await store.close();
      await database.drop();
      await stream.remove();
    });
    const got = await listen(transport);
    const { id } = await leader.waitFor((l) => l.event === 'committed', 'the leader to publish');
    await leader.waitFor((l) => l.event === 'sending', 'the leader to hang while sending');
    await standby.start();
    assert.equal((await standby.stats()).outbox.leader, false);
    assert.equal(got.length, 0);
    await leader.kill();
    await until(() => got.includes(id as string), 'the standby to send the dead leader’s event');
    assert.equal((await standby.stats()).outbox.leader, true);
  });
});
