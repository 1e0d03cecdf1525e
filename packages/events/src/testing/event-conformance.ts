import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { constantBackoff } from '@flotilla/resilience';
import { parseTraceparent } from '@flotilla/service';
import { encodeEnvelope } from '../envelope.js';
import { isDeadLetterNotFoundError, isDeadLetterReplayError, isEventBusClosedError } from '../errors.js';
import {
  type EventBusHarness,
  Kit,
  losingFirstAcks,
  OrderPlaced,
  OrderPlacedV2,
  SpanRecorder,
} from './conformance-kit.js';

/** Options of {@link eventBusConformance}. */
export interface EventBusConformanceOptions {
  /** Skip every test with this reason (the broker or database is not reachable), so the skip is loud. */
  readonly skip?: string | false | undefined;
  /**
   * Longest wait for an expected outcome before a test fails, in milliseconds.
   * @default 20000
   */
  readonly waitTimeoutMs?: number;
}

/**
 * Registers the node:test suite the event bus must pass on a transport and store combination:
 * outbox atomicity, per-key order, retries with one effect, dead letters (inspect, replay,
 * discard), poison messages, duplicates, competing consumers, groups, replay from the beginning,
 * upcasting, stats and health, and the outbox trap with concurrent producers.
 *
 * @example
 * eventBusConformance('memory + SQLite', async () => {
 *   const transport = memoryTransport();
 *   const files: TempSqlite[] = [];
 *   const stores = new Map<string, Store<unknown>>();
 *   return {
 *     concurrentWriters: false,
 *     transport: async () => transport,
 *     store: async (service, migrations) => { … openStore({ service, url: file.url, migrations }) … },
 *     dispose: async () => { await transport.close(); … },
 *   };
 * });
 */
export function eventBusConformance(
  name: string,
  makeHarness: () => Promise<EventBusHarness>,
  options: EventBusConformanceOptions = {},
): void {
  const { skip, waitTimeoutMs = 20_000 } = options;
  const test = (title: string, body: (kit: Kit, t: TestContext) => Promise<void>): void => {
    it(title, skip ? { skip } : {}, async (t) => {
      const kit = new Kit(await makeHarness(), waitTimeoutMs);
      t.after(() => kit.dispose());
      await body(kit, t);
    });
  };

  describe(`event bus conformance: ${name}`, () => {
    test('delivers a committed event with its envelope, schema version and trace', async (kit) => {
      const tracer = new SpanRecorder();
      const seen: { event: unknown; trace: string; deliveryCount: number }[] = [];
      const consumer = await kit.bus('shipping', { tracer });
      consumer.subscribe({
        group: 'shipping',
        events: [OrderPlaced],
        handler: async (event, ctx) => {
          seen.push({ event, trace: ctx.trace.traceId, deliveryCount: ctx.deliveryCount });
        },
      });
      await consumer.start();
      const producer = await kit.bus('orders', { tracer });
      await producer.start();
      const requestTrace = { traceId: 'a'.repeat(32), spanId: 'b'.repeat(16), sampled: true };
      const store = await kit.store('orders');
      const published = await store.transaction((tx) =>
        producer.publish(tx, OrderPlaced, {
          subject: 'order-1',
          data: { orderId: 'order-1', n: 7 },
          trace: requestTrace,
        }),
      );
      await kit.until(() => seen.length === 1, 'the event');
      const event = seen[0]!.event as typeof published;
      assert.deepEqual(
        { ...event, time: typeof event.time },
        {
          specversion: '1.0',
          id: published.id,
          type: 'conformance.OrderPlaced',
          source: 'orders',
          subject: 'order-1',
          time: 'string',
          datacontenttype: 'application/json',
          schemaversion: 1,
          traceparent: published.traceparent,
          data: { orderId: 'order-1', n: 7 },
        },
      );
      assert.equal(parseTraceparent(published.traceparent)?.traceId, requestTrace.traceId);
      assert.equal(seen[0]!.trace, requestTrace.traceId, 'the handler span is not in the publisher’s trace');
      assert.equal(seen[0]!.deliveryCount, 1);
      await kit.until(() => tracer.spans.some((s) => s.kind === 'consumer'), 'the consumer span');
      const producerSpan = tracer.spans.find((s) => s.kind === 'producer')!;
      const consumerSpan = tracer.spans.find((s) => s.kind === 'consumer')!;
      assert.equal(producerSpan.name, 'publish conformance.OrderPlaced');
      assert.equal(consumerSpan.context.parentSpanId, producerSpan.context.spanId);
    });

    test('never delivers an event published in a rolled-back transaction', async (kit) => {
      await kit.consumer('shipping', 'shipping');
      const producer = await kit.bus('orders');
      await producer.start();
      const store = await kit.store('orders');
      await assert.rejects(
        store.transaction(async (tx) => {
          await producer.publish(tx, OrderPlaced, { subject: 'k', data: { orderId: 'k', n: 1 } });
          throw new Error('the order was refused');
        }),
        /the order was refused/,
      );
      await kit.place(producer, 'k', 2);
      await kit.until(async () => (await kit.countEffects('shipping')) === 1, 'the committed event');
      assert.deepEqual(
        (await kit.effects('shipping')).map((e) => e.n),
        [2],
      );
      // The relay marks the row sent once the transport acknowledged it, which can come after
      // the consumer has already handled the event: the backlog empties, it does not stay at 1.
      await kit.until(async () => (await producer.stats()).outbox.backlog === 0, 'an empty outbox');
    });

    test('handles the events of one key in publish order', async (kit) => {
      await kit.consumer('shipping', 'shipping', { concurrency: 4 });
      const producer = await kit.bus('orders');
      await producer.start();
      const keys = 6;
      const perKey = 15;
      for (let n = 0; n < perKey; n++)
        for (let k = 0; k < keys; k++) await kit.place(producer, `key-${k}`, n);
      await kit.until(async () => (await kit.countEffects('shipping')) === keys * perKey, 'every event');
      const effects = await kit.effects('shipping');
      for (let k = 0; k < keys; k++)
        assert.deepEqual(
          effects.filter((e) => e.subject === `key-${k}`).map((e) => e.n),
          Array.from({ length: perKey }, (_, n) => n),
          `order of key-${k}`,
        );
    });

    test('retries a failing handler with backoff and applies its effect exactly once', async (kit) => {
      const attempts: number[] = [];
      const consumer = await kit.consumer('shipping', 'shipping', {
        backoff: constantBackoff(30),
        after: (_event, deliveryCount) => {
          attempts.push(deliveryCount);
          // The effect row was written in this attempt's transaction: throwing must roll it back.
          if (deliveryCount < 3) throw new Error(`carrier unavailable (attempt ${deliveryCount})`);
        },
      });
      const producer = await kit.bus('orders');
      await producer.start();
      await kit.place(producer, 'order-9', 1);
      await kit.until(
        async () => (await consumer.stats()).groups.shipping?.handled === 1,
        'the third attempt',
      );
      assert.deepEqual(attempts, [1, 2, 3]);
      assert.equal(await kit.countEffects('shipping'), 1);
      const stats = (await consumer.stats()).groups.shipping!;
      assert.equal(stats.failed, 2);
      assert.equal(stats.deadLettered, 0);
    });

    test('rolls back only the failing handler among events handled together', async (kit) => {
      const failures = new Set(['key-3', 'key-11', 'key-17']);
      const consumer = await kit.consumer('shipping', 'shipping', {
        backoff: constantBackoff(20),
        after: (event, deliveryCount) => {
          if (failures.has(event.subject) && deliveryCount === 1) throw new Error(`refused ${event.subject}`);
        },
      });
      const producer = await kit.bus('orders');
      // Published while the consumer is busy, so that deliveries pile up and share transactions.
      for (let k = 0; k < 24; k++) await kit.place(producer, `key-${k}`, k);
      await producer.start();
      await kit.until(async () => (await kit.countEffects('shipping')) === 24, 'every event');
      const effects = await kit.effects('shipping');
      assert.deepEqual(
        effects.map((e) => e.n).sort((a, b) => a - b),
        Array.from({ length: 24 }, (_, k) => k),
      );
      const stats = (await consumer.stats()).groups.shipping!;
      assert.equal(stats.handled, 24);
      assert.equal(stats.failed, 3);
    });

    test('dead-letters an event after maxAttempts, replays it once fixed, and discards another', async (kit) => {
      let broken = true;
      const consumer = await kit.consumer('shipping', 'shipping', {
        maxAttempts: 3,
        backoff: constantBackoff(10),
        after: (event) => {
          if (broken && event.subject.startsWith('bad-') && (event.data as { n: number }).n === 1)
            throw Object.assign(new Error(`no carrier for ${event.subject}`), { code: 'NO_CARRIER' });
        },
      });
      const producer = await kit.bus('orders');
      await producer.start();
      const bad1 = await kit.place(producer, 'bad-1', 1);
      await kit.place(producer, 'bad-1', 2);
      const bad2 = await kit.place(producer, 'bad-2', 1);
      await kit.until(async () => (await consumer.deadLetters.list()).length === 2, 'two dead letters');
      // The event after the dead letter on the same key was handled.
      await kit.until(async () => (await kit.countEffects('shipping')) === 1, 'the next event of bad-1');
      assert.deepEqual(
        (await kit.effects('shipping')).map((e) => [e.subject, e.n]),
        [['bad-1', 2]],
      );

      const listed = await consumer.deadLetters.list({ group: 'shipping', type: 'conformance.OrderPlaced' });
      const first = listed.find((d) => d.eventId === bad1)!;
      assert.equal(first.group, 'shipping');
      assert.equal(first.subject, 'bad-1');
      assert.equal(first.reason, 'handler-failed');
      assert.equal(first.attempts, 3);
      assert.equal(first.error.message, 'no carrier for bad-1');
      assert.equal(first.error.code, 'NO_CARRIER');
      assert.match(first.error.stack ?? '', /no carrier for bad-1/);
      assert.equal(first.envelope?.id, bad1);
      assert.deepEqual(first.envelope?.data, { orderId: 'bad-1', n: 1 });
      assert.ok(first.deadLetteredAt > 0 && first.lastAttemptAt >= first.deadLetteredAt);
      assert.deepEqual(await consumer.deadLetters.get(first.id), first);
      assert.equal((await consumer.deadLetters.list({ type: 'Other' })).length, 0);
      assert.equal((await consumer.stats()).groups.shipping!.deadLettered, 2);

      await assert.rejects(consumer.deadLetters.replay(first.id), (err: unknown) => {
        assert.ok(isDeadLetterReplayError(err));
        assert.equal(err.attempts, 4);
        return true;
      });
      assert.equal((await consumer.deadLetters.get(first.id))?.attempts, 4);

      broken = false;
      assert.deepEqual(await consumer.deadLetters.replay(first.id), {
        id: first.id,
        eventId: bad1,
        attempts: 5,
      });
      assert.equal(await consumer.deadLetters.get(first.id), undefined);
      assert.deepEqual(
        (await kit.effects('shipping')).map((e) => [e.subject, e.n]),
        [
          ['bad-1', 2],
          ['bad-1', 1],
        ],
      );
      const second = listed.find((d) => d.eventId === bad2)!;
      await consumer.deadLetters.discard(second.id);
      assert.deepEqual(await consumer.deadLetters.list(), []);
      await assert.rejects(consumer.deadLetters.replay(second.id), isDeadLetterNotFoundError);
      await assert.rejects(consumer.deadLetters.discard(second.id), isDeadLetterNotFoundError);
      assert.equal(await kit.countEffects('shipping'), 2);
    });

    test('dead-letters a malformed message at once, without calling the handler', async (kit) => {
      const calls: string[] = [];
      const consumer = await kit.consumer('shipping', 'shipping', {
        before: (event) => calls.push(event.id),
      });
      const raw = await kit.harness.transport();
      const topic = OrderPlaced.type;
      const bytes = (text: string) => new TextEncoder().encode(text);
      const wrongData = encodeEnvelope({
        specversion: '1.0',
        id: 'poison-data',
        type: topic,
        source: 'intruder',
        subject: 'p',
        time: new Date().toISOString(),
        datacontenttype: 'application/json',
        schemaversion: 1,
        data: { orderId: 42 },
      });
      await raw.publish([
        { id: 'poison-json', topic, key: 'p', payload: bytes('{not json') },
        { id: 'poison-data', topic, key: 'p', payload: bytes(wrongData) },
      ]);
      const producer = await kit.bus('orders');
      await producer.start();
      const good = await kit.place(producer, 'p', 3);
      await kit.until(async () => (await kit.countEffects('shipping')) === 1, 'the valid event after them');
      assert.deepEqual(calls, [good]);
      const dead = await consumer.deadLetters.list();
      assert.deepEqual(dead.map((d) => [d.eventId, d.reason, d.attempts, d.error.code]).sort(), [
        ['poison-data', 'poison', 1, 'EVENT_VALIDATION_FAILED'],
        ['poison-json', 'poison', 1, 'EVENT_VALIDATION_FAILED'],
      ]);
      assert.match(dead.find((d) => d.eventId === 'poison-data')!.error.message, /data\.orderId/);
      assert.equal(dead.find((d) => d.eventId === 'poison-json')!.payload, '{not json');
      assert.equal((await consumer.stats()).groups.shipping!.poison, 2);
    });

    test('applies the effect once when an event is delivered again', async (kit) => {
      const calls: string[] = [];
      const consumerTransport = losingFirstAcks(await kit.harness.transport());
      const consumer = await kit.consumer('shipping', 'shipping', {
        transport: consumerTransport,
        before: (event) => calls.push(event.id),
      });
      const producer = await kit.bus('orders');
      await producer.start();
      const store = await kit.store('orders');
      const envelope = await store.transaction((tx) =>
        producer.publish(tx, OrderPlaced, { subject: 'dup', data: { orderId: 'dup', n: 1 } }),
      );
      // A second copy under another transport id, as a relay retrying after the broker's
      // deduplication window would store it.
      const raw = await kit.harness.transport();
      await raw.publish([
        {
          id: `${envelope.id}-copy`,
          topic: envelope.type,
          key: envelope.subject,
          payload: new TextEncoder().encode(encodeEnvelope(envelope)),
        },
      ]);
      await kit.until(
        async () => (await consumer.stats()).groups.shipping!.duplicates >= 2,
        'the redelivery and the copy to be acknowledged',
      );
      assert.deepEqual(calls, [envelope.id]);
      assert.equal(await kit.countEffects('shipping'), 1);
      assert.equal((await consumer.stats()).groups.shipping!.handled, 1);
    });

    test('shares a group between two instances with each effect applied once', async (kit) => {
      const one = await kit.consumer('shipping', 'shipping', { instance: 'one', concurrency: 4 });
      const two = await kit.consumer('shipping', 'shipping', { instance: 'two', concurrency: 4 });
      const producer = await kit.bus('orders');
      await producer.start();
      let published = 0;
      for (let round = 0; round < 100; round++) {
        for (let k = 0; k < 16; k++) await kit.place(producer, `key-${k}`, round);
        published += 16;
        await kit.until(async () => (await kit.countEffects('shipping')) >= published, `round ${round}`);
        const handled = await Promise.all([one.stats(), two.stats()]);
        if (handled.every((s) => s.groups.shipping!.handled > 0)) break;
      }
      const effects = await kit.effects('shipping');
      assert.equal(effects.length, published);
      assert.equal(new Set(effects.map((e) => e.event_id)).size, published, 'an event was handled twice');
      assert.ok(
        effects.some((e) => e.instance === 'one') && effects.some((e) => e.instance === 'two'),
        'one instance handled every event',
      );
    });

    test('delivers every event to each of two groups', async (kit) => {
      await kit.consumer('shipping', 'shipping');
      await kit.consumer('billing', 'billing');
      const producer = await kit.bus('orders');
      await producer.start();
      for (let i = 0; i < 20; i++) await kit.place(producer, `key-${i % 5}`, i);
      await kit.until(
        async () => (await kit.countEffects('shipping')) === 20 && (await kit.countEffects('billing')) === 20,
        'both groups',
      );
      const ids = async (service: string) => (await kit.effects(service)).map((e) => e.event_id).sort();
      assert.deepEqual(await ids('shipping'), await ids('billing'));
    });

    test("replays the retained history to a new group with startAt 'beginning'", async (kit) => {
      await kit.consumer('shipping', 'shipping');
      const producer = await kit.bus('orders');
      await producer.start();
      for (let i = 0; i < 10; i++) await kit.place(producer, `key-${i % 3}`, i);
      await kit.until(async () => (await kit.countEffects('shipping')) === 10, 'the first group');
      await kit.consumer('analytics', 'analytics', { startAt: 'beginning' });
      await kit.consumer('audit', 'audit', { startAt: 'new' });
      await kit.place(producer, 'key-0', 10);
      await kit.until(async () => (await kit.countEffects('analytics')) === 11, 'the whole history');
      await kit.until(async () => (await kit.countEffects('audit')) === 1, 'the new event');
      assert.deepEqual(
        (await kit.effects('analytics')).map((e) => e.event_id).sort(),
        (await kit.effects('shipping')).map((e) => e.event_id).sort(),
      );
    });

    test('upcasts older schema versions and retries, then dead-letters, newer ones', async (kit) => {
      const received: unknown[] = [];
      const consumer = await kit.bus('shipping');
      consumer.subscribe({
        group: 'shipping',
        events: [OrderPlacedV2],
        maxAttempts: 2,
        backoff: constantBackoff(10),
        handler: async (event, ctx) => {
          received.push({ data: event.data, schemaversion: event.schemaversion });
          await ctx.tx
            .insertInto('effects')
            .values({
              ord: 0,
              grp: 'shipping',
              event_id: event.id,
              subject: event.subject,
              n: event.data.position,
              instance: 'one',
            })
            .execute();
        },
      });
      await consumer.start();
      const producer = await kit.bus('orders');
      await producer.start();
      await kit.place(producer, 'v', 5);
      await kit.until(() => received.length === 1, 'the upcast event');
      assert.deepEqual(received, [
        { data: { orderId: 'v', position: 5, note: 'from v1' }, schemaversion: 2 },
      ]);

      const raw = await kit.harness.transport();
      const future = encodeEnvelope({
        specversion: '1.0',
        id: 'from-the-future',
        type: OrderPlaced.type,
        source: 'orders',
        subject: 'v',
        time: new Date().toISOString(),
        datacontenttype: 'application/json',
        schemaversion: 3,
        data: { orderId: 'v', position: 6, note: 'x', extra: true },
      });
      await raw.publish([
        {
          id: 'from-the-future',
          topic: OrderPlaced.type,
          key: 'v',
          payload: new TextEncoder().encode(future),
        },
      ]);
      await kit.until(async () => (await consumer.deadLetters.list()).length === 1, 'the dead letter');
      const [dead] = await consumer.deadLetters.list();
      assert.equal(dead!.reason, 'handler-failed');
      assert.equal(dead!.attempts, 2);
      assert.equal(dead!.error.code, 'EVENT_SCHEMA_VERSION_UNSUPPORTED');
      assert.equal(received.length, 1);
    });

    test('reports outbox backlog, relay state, group counts and health', async (kit) => {
      await kit.consumer('shipping', 'shipping');
      const producer = await kit.bus('orders');
      await kit.place(producer, 'h', 1);
      const before = await producer.stats();
      assert.equal(before.outbox.backlog, 1);
      assert.ok(before.outbox.oldestAgeMs !== null && before.outbox.oldestAgeMs >= 0);
      assert.equal(before.outbox.running, false);
      const check = producer.healthCheck({ maxOutboxAgeMs: 60_000 });
      assert.equal(check.name, 'events');
      const unstarted = await check.check(AbortSignal.timeout(5000));
      assert.equal((unstarted as { details: { outbox: { backlog: number } } }).details.outbox.backlog, 1);
      await producer.start();
      await kit.until(async () => (await kit.countEffects('shipping')) === 1, 'the event');
      // Marked sent once the transport acknowledged it, which may be after the handler ran.
      await kit.until(async () => (await producer.stats()).outbox.sent === 1, 'the relay to mark it sent');
      const after = await producer.stats();
      assert.equal(after.outbox.backlog, 0);
      assert.equal(after.outbox.oldestAgeMs, null);
      assert.equal(after.outbox.sent, 1);
      assert.equal(after.outbox.running, true);
      assert.equal(after.outbox.leader, true);
      assert.equal(after.outbox.lastError, null);
      await producer.close();
      await assert.rejects(check.check(AbortSignal.timeout(5000)), isEventBusClosedError);
    });

    test('relays every event of concurrent producers, including a lower seq that commits last', async (kit) => {
      await kit.consumer('shipping', 'shipping');
      const producer = await kit.bus('orders');
      await producer.start();
      const store = await kit.store('orders');
      const seen = async (n: number) => (await kit.effects('shipping')).some((e) => e.n === n);
      if (kit.harness.concurrentWriters) {
        let release: () => void = () => {};
        const held = new Promise<void>((resolve) => (release = resolve));
        let inserted: () => void = () => {};
        const insertedEarly = new Promise<void>((resolve) => (inserted = resolve));
        const early = store.transaction(async (tx) => {
          await producer.publish(tx, OrderPlaced, { subject: 'early', data: { orderId: 'early', n: 1 } });
          inserted();
          await held;
        });
        await insertedEarly;
        await kit.place(producer, 'late', 2);
        // The later row was relayed while the earlier one was still uncommitted.
        await kit.until(() => seen(2), 'the later transaction’s event');
        assert.equal(await seen(1), false);
        release();
        await early;
        await kit.until(() => seen(1), 'the event of the transaction that committed last');
      }
      const producers = Array.from({ length: 20 }, (_, i) =>
        store.transaction(async (tx) => {
          await producer.publish(tx, OrderPlaced, {
            subject: `p-${i % 4}`,
            data: { orderId: `p-${i}`, n: 100 + i },
          });
          // Commit in another order than the inserts.
          for (let turn = 0; turn < (i * 7) % 5; turn++)
            await new Promise((resolve) => setImmediate(resolve));
        }),
      );
      await Promise.all(producers);
      await kit.until(
        async () => (await kit.effects('shipping')).filter((e) => e.n >= 100).length === 20,
        'every concurrent producer’s event',
      );
      await kit.until(async () => (await producer.stats()).outbox.backlog === 0, 'an empty outbox');
    });
  });
}
