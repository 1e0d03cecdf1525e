// Crash tests: real service processes SIGKILLed at the worst instants, then restarted. After the
// restart every event is handled and every effect exists exactly once.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { openStore, type Store } from '@flotilla/store';
import { createTestDatabase, requirePg } from '@flotilla/store/testing';
import { createEventBus, type EventBus } from './event-bus.js';
import { type Child, startChild } from './fixtures/child.js';
import { type KitDb, kitMigrations, OrderPlaced } from './testing/conformance-kit.js';
import { privateStream, requireNats, testNatsUrl } from './testing/nats-helpers.js';
import type { Transport } from './transport.js';
import { transportFromUrl } from './transport-from-url.js';

/** Where one test's two services keep their databases and how they reach the transport. */
interface Environment {
  readonly transportUrl: string;
  readonly stream?: string;
  readonly subjectPrefix?: string;
  readonly storeUrls: { readonly orders: string; readonly shipping: string };
}

type Setup = (t: TestContext) => Promise<Environment>;

const cleanups = new WeakMap<TestContext, (() => unknown)[]>();

/** Registers `fn` to run after the test, in reverse order of registration (processes before databases). */
function defer(t: TestContext, fn: () => unknown): void {
  let list = cleanups.get(t);
  if (list === undefined) {
    const created: (() => unknown)[] = [];
    list = created;
    cleanups.set(t, created);
    t.after(async () => {
      for (const f of created.reverse()) await f();
    });
  }
  list.push(fn);
}

const ACK_WAIT_MS = 1000;

async function embeddedSetup(t: TestContext): Promise<Environment> {
  const dir = mkdtempSync(join(tmpdir(), 'flotilla-events-crash-'));
  defer(t, () => rmSync(dir, { recursive: true, force: true }));
  return {
    transportUrl: `embedded:${join(dir, 'bus.db')}`,
    storeUrls: { orders: `sqlite:${join(dir, 'orders.db')}`, shipping: `sqlite:${join(dir, 'shipping.db')}` },
  };
}

async function natsPgSetup(t: TestContext): Promise<Environment> {
  const stream = privateStream();
  defer(t, () => stream.remove());
  const orders = await createTestDatabase({ prefix: 'events_crash' });
  defer(t, () => orders.drop());
  const shipping = await createTestDatabase({ prefix: 'events_crash' });
  defer(t, () => shipping.drop());
  return {
    transportUrl: testNatsUrl(),
    stream: stream.stream,
    subjectPrefix: stream.subjectPrefix,
    storeUrls: { orders: orders.url, shipping: shipping.url },
  };
}

/** This process's side of a test: one service's store, transport and bus, closed in order after the test. */
async function inProcess(
  t: TestContext,
  env: Environment,
  service: 'orders' | 'shipping',
): Promise<{ store: Store<KitDb>; transport: Transport; bus: EventBus<KitDb> }> {
  const transport = await transportFromUrl(env.transportUrl, {
    nats: {
      ...(env.stream === undefined ? {} : { stream: env.stream }),
      ...(env.subjectPrefix === undefined ? {} : { subjectPrefix: env.subjectPrefix }),
    },
    embedded: { pollIntervalMs: 100 },
  });
  const store = await openStore<KitDb>({ service, url: env.storeUrls[service], migrations: kitMigrations });
  const bus = createEventBus<KitDb>({ service, store, transport, relay: { pollIntervalMs: 100 } });
  defer(t, async () => {
    await bus.close();
    await transport.close();
    await store.close();
  });
  return { store, transport, bus };
}

function child(t: TestContext, env: Environment, config: Record<string, unknown>): Child {
  const role = config.role as 'producer' | 'consumer';
  const service = role === 'producer' ? 'orders' : 'shipping';
  const process = startChild('service-process', {
    service,
    storeUrl: env.storeUrls[service],
    transportUrl: env.transportUrl,
    stream: env.stream,
    subjectPrefix: env.subjectPrefix,
    ackWaitMs: ACK_WAIT_MS,
    ...config,
  });
  defer(t, () => process.kill());
  return process;
}

async function effectsOf(store: Store<KitDb>, eventId: string): Promise<number> {
  const rows = await store.db
    .selectFrom('effects')
    .select('event_id')
    .where('event_id', '=', eventId)
    .execute();
  return rows.length;
}

async function until(condition: () => Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function publishOne(
  side: { store: Store<KitDb>; bus: EventBus<KitDb> },
  subject: string,
): Promise<string> {
  return side.store.transaction(async (tx) => {
    await tx.insertInto('orders').values({ id: subject, n: 1 }).execute();
    return (await side.bus.publish(tx, OrderPlaced, { subject, data: { orderId: subject, n: 1 } })).id;
  });
}

function crashSuite(name: string, setup: Setup, skip: string | undefined): void {
  describe(`crashes: ${name}`, { skip }, () => {
    it('applies the effect once when the consumer dies after writing it but before commit', async (t) => {
      const env = await setup(t);
      const first = child(t, env, { role: 'consumer', crash: 'before-commit' });
      await first.waitFor((l) => l.event === 'ready', 'the consumer to start');
      const producer = await inProcess(t, env, 'orders');
      await producer.bus.start();
      const id = await publishOne(producer, 'crash-a1');
      await first.waitFor((l) => l.event === 'effect-written' && l.id === id, 'the effect to be written');
      await first.kill();

      const second = child(t, env, { role: 'consumer', crash: 'none' });
      const settled = await second.waitFor(
        (l) => l.event === 'settled' && l.id === id,
        'the redelivery after the restart',
      );
      assert.equal(settled.settlement, 'ack');
      assert.ok((settled.deliveryCount as number) >= 2, `deliveryCount ${String(settled.deliveryCount)}`);
      assert.ok(
        second.lines.some((l) => l.event === 'handler' && l.id === id),
        'the handler did not run again',
      );
      const shipping = await openStore<KitDb>({
        service: 'shipping',
        url: env.storeUrls.shipping,
        migrations: kitMigrations,
      });
      defer(t, () => shipping.close());
      assert.equal(await effectsOf(shipping, id), 1);
    });

    it('applies the effect once when the consumer dies after commit but before the acknowledgement', async (t) => {
      const env = await setup(t);
      const first = child(t, env, { role: 'consumer', crash: 'after-commit' });
      await first.waitFor((l) => l.event === 'ready', 'the consumer to start');
      const producer = await inProcess(t, env, 'orders');
      await producer.bus.start();
      const id = await publishOne(producer, 'crash-a2');
      await first.waitFor((l) => l.event === 'settled' && l.id === id, 'the commit');
      await first.kill();

      const second = child(t, env, { role: 'consumer', crash: 'none' });
      const settled = await second.waitFor(
        (l) => l.event === 'settled' && l.id === id,
        'the redelivery after the restart',
      );
      assert.equal(settled.settlement, 'ack');
      assert.ok((settled.deliveryCount as number) >= 2, `deliveryCount ${String(settled.deliveryCount)}`);
      assert.ok(
        !second.lines.some((l) => l.event === 'handler' && l.id === id),
        'the handler ran again for an event already in the inbox',
      );
      const shipping = await openStore<KitDb>({
        service: 'shipping',
        url: env.storeUrls.shipping,
        migrations: kitMigrations,
      });
      defer(t, () => shipping.close());
      assert.equal(await effectsOf(shipping, id), 1);
    });

    for (const crash of ['before-send', 'after-send'] as const) {
      it(`delivers the event once when the producer dies between the outbox commit and the relay's ${
        crash === 'before-send' ? 'send' : 'delete after sending'
      }`, async (t) => {
        const env = await setup(t);
        const consumer = await inProcess(t, env, 'shipping');
        consumer.bus.subscribe({
          group: 'shipping',
          events: [OrderPlaced],
          startAt: 'beginning',
          handler: async (event, { tx }) => {
            await tx
              .insertInto('effects')
              .values({
                ord: 0,
                grp: 'shipping',
                event_id: event.id,
                subject: event.subject,
                n: event.data.n,
                instance: 'test',
              })
              .execute();
          },
        });
        await consumer.bus.start();

        const first = child(t, env, { role: 'producer', crash, publish: `crash-${crash}` });
        const { id } = await first.waitFor((l) => l.event === 'committed', 'the outbox commit');
        await first.waitFor(
          (l) => l.event === (crash === 'before-send' ? 'sending' : 'sent'),
          'the relay to reach the crash point',
        );
        await first.kill();

        const second = child(t, env, { role: 'producer', crash: 'none' });
        await second.waitFor((l) => l.event === 'drained', 'the restarted relay to send the outbox');
        await until(async () => (await effectsOf(consumer.store, id as string)) === 1, 'the event');
        await until(
          async () => (await consumer.transport.lag!('shipping')) === 0,
          'every copy to be settled',
        );
        assert.equal(await effectsOf(consumer.store, id as string), 1);
        const stats = (await consumer.bus.stats()).groups.shipping!;
        assert.equal(stats.handled, 1);
      });
    }
  });
}

crashSuite('embedded transport + SQLite', embeddedSetup, undefined);
crashSuite(
  'NATS JetStream + PostgreSQL',
  natsPgSetup,
  (await requireNats()) ?? ((await requirePg()).skip || undefined),
);
