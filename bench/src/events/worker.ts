// One process of the events benchmark: `worker.ts <role> <json config>`. Prints JSON lines:
// `{"event":"ready"}` once it can start, then its measurements; producers wait for a `go` line
// on standard input after their warm-up.
//   bus-producer   publishes `count` events, each in its own transaction with an order row
//   bus-consumer   handles them, one effect row per event, and reports rate and latency
//   bus-memory     both in one process over the memory transport
//   db-producer    the producer's insert alone, as plain transactions (no bus)
//   db-consumer    the consumer's insert alone, as plain transactions (no bus)
//   js-publisher   raw JetStream: publish with a message id, in batches of 100
//   js-consumer    raw JetStream: pull-consume with an explicit ack

import { memoryTransport, type Transport } from '@flotilla/events';
import { openStore } from '@flotilla/store';
import { AckPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { quantile } from '../lib/stats.js';
import {
  type BenchDb,
  benchMigrations,
  OrderPlaced,
  openService,
  openTransport,
  type ServiceConfig,
  wallNow,
} from './setup.js';

// Stopped by the runner: exit at once (a profiled worker writes its CPU profile on exit).
process.once('SIGTERM', () => process.exit(0));

/** Configuration of a worker. */
export interface WorkerConfig extends ServiceConfig {
  readonly count: number;
  /** Events published and handled before the measurement (connections opened, code optimised). */
  readonly warmup?: number;
  /** Producer: events per second to pace at; absent = as fast as possible. */
  readonly rate?: number;
  readonly concurrency: number;
  /** Consumer of the memory variant and of the bus: `concurrency` of the subscription. */
  readonly consumerConcurrency?: number;
  readonly consumerStoreUrl?: string;
  readonly natsUrl?: string;
  readonly subject?: string;
}

const [role = '', json = '{}'] = process.argv.slice(2);
const config = JSON.parse(json) as WorkerConfig;
const print = (line: object): void => {
  process.stdout.write(`${JSON.stringify(line)}\n`);
};

/** Runs `body(i)` for i in [0, count) on `concurrency` loops, paced at `rate` per second when given. */
async function drive(
  count: number,
  concurrency: number,
  rate: number | undefined,
  body: (i: number) => Promise<void>,
): Promise<{ start: number; end: number; cpuUs: number }> {
  let next = 0;
  const cpu = process.cpuUsage();
  const start = wallNow();
  const loop = async (): Promise<void> => {
    for (;;) {
      const i = next++;
      if (i >= count) return;
      if (rate !== undefined) {
        const due = start + (i * 1000) / rate;
        const wait = due - wallNow();
        if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
      }
      await body(i);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  const used = process.cpuUsage(cpu);
  return { start, end: wallNow(), cpuUs: used.user + used.system };
}

/**
 * Counts the consumer's handled events (after commit) and the publish-to-handled latency of
 * those after the warm-up; reports `warm` once the warm-up events are handled.
 */
function meter(
  warmup: number,
  expected: number,
  onWarm: () => void,
  onDone: (result: object) => void,
): (payload: Uint8Array, id: string, arrivedAt?: number) => void {
  const seen = new Set<string>();
  const latencies: number[] = [];
  const toArrival: number[] = [];
  let first = 0;
  let cpu = process.cpuUsage();
  return (payload, id, arrivedAt) => {
    if (seen.has(id)) return;
    seen.add(id);
    const now = wallNow();
    const { data } = JSON.parse(new TextDecoder().decode(payload)) as {
      data: { orderId: string; sentAt: number };
    };
    if (Number(data.orderId.slice('order-'.length)) >= warmup) {
      if (latencies.length === 0) {
        first = now;
        cpu = process.cpuUsage();
      }
      latencies.push(now - data.sentAt);
      if (arrivedAt !== undefined) toArrival.push(arrivedAt - data.sentAt);
    }
    if (seen.size === warmup) onWarm();
    if (seen.size === warmup + expected)
      onDone({
        event: 'done',
        first,
        last: now,
        p50: quantile(latencies, 0.5),
        p99: quantile(latencies, 0.99),
        max: quantile(latencies, 1),
        // Where the time goes: publish → delivered to the consumer process, for the same events.
        arrivalP50: quantile(toArrival, 0.5),
        arrivalP99: quantile(toArrival, 0.99),
        cpuUs: ((u) => u.user + u.system)(process.cpuUsage(cpu)),
      });
  };
}

/**
 * A transport whose subscriptions report every acknowledged delivery once the bus's handler
 * returned (its transaction committed), with the time the delivery reached this process.
 */
function metered(
  inner: Transport,
  onAck: (payload: Uint8Array, id: string, arrivedAt: number) => void,
): Transport {
  return {
    kind: inner.kind,
    publish: (m, s) => inner.publish(m, s),
    check: (s) => inner.check(s),
    close: () => inner.close(),
    subscribe: (options, handler) =>
      inner.subscribe(options, async (delivery) => {
        const arrivedAt = wallNow();
        const settlement = await handler(delivery);
        if (settlement.kind === 'ack') onAck(delivery.payload, delivery.id, arrivedAt);
        return settlement;
      }),
  };
}

async function consumer(
  config: WorkerConfig,
  transport: Transport | undefined,
  warm: () => void,
  done: (result: object) => void,
) {
  const onAck = meter(config.warmup ?? 0, config.count, warm, done);
  const base = transport ?? (await openTransport(config));
  const svc = await openService(
    'shipping',
    { ...config, storeUrl: config.consumerStoreUrl ?? config.storeUrl },
    { transport: metered(base, onAck), ownsTransport: transport === undefined },
  );
  svc.bus.subscribe({
    group: 'shipping',
    events: [OrderPlaced],
    startAt: 'beginning',
    concurrency: config.consumerConcurrency ?? 16,
    handler: async (event, { tx }) => {
      await tx.insertInto('effects').values({ event_id: event.id, order_id: event.data.orderId }).execute();
    },
  });
  await svc.bus.start();
  return svc;
}

async function producer(config: WorkerConfig, transport: Transport | undefined) {
  const svc = await openService('orders', config, transport === undefined ? {} : { transport });
  await svc.bus.start();
  return svc;
}

async function publish(
  svc: Awaited<ReturnType<typeof producer>>,
  config: WorkerConfig,
  from: number,
  count: number,
  rate: number | undefined,
) {
  return drive(count, config.concurrency, rate, async (k) => {
    const i = from + k;
    await svc.store.transaction(async (tx) => {
      const orderId = `order-${i}`;
      await tx
        .insertInto('orders')
        .values({ id: orderId, total_cents: 1000 + i })
        .execute();
      // Latency runs from here: the publish call, the last statement before the commit.
      await svc.bus.publish(tx, OrderPlaced, {
        subject: orderId,
        data: { orderId, totalCents: 1000 + i, sentAt: wallNow() },
      });
    });
  });
}

/** Resolves at the next line `go` on standard input. */
function go(): Promise<void> {
  return new Promise((resolve) => {
    process.stdin.setEncoding('utf8');
    process.stdin.on('data', (chunk: string) => {
      if (chunk.includes('go')) resolve();
    });
  });
}

switch (role) {
  case 'bus-consumer': {
    const svc = await consumer(
      config,
      undefined,
      () => print({ event: 'warm' }),
      (result) => {
        print(result);
        void svc.close().then(() => process.exit(0));
      },
    );
    print({ event: 'ready' });
    break;
  }
  case 'bus-producer': {
    const svc = await producer(config, undefined);
    const started = go();
    print({ event: 'ready' });
    await publish(svc, config, 0, config.warmup ?? 0, undefined);
    print({ event: 'warmed' });
    await started;
    const times = await publish(svc, config, config.warmup ?? 0, config.count, config.rate);
    print({ event: 'published', ...times });
    while ((await svc.bus.stats()).outbox.backlog > 0)
      await new Promise((resolve) => setTimeout(resolve, 10));
    print({ event: 'drained', at: wallNow() });
    await svc.close();
    process.stdin.destroy();
    break;
  }
  case 'bus-memory': {
    const transport = memoryTransport();
    let finished: (result: object) => void = () => {};
    const done = new Promise<object>((resolve) => (finished = resolve));
    let warmed: () => void = () => {};
    const warm = new Promise<void>((resolve) => (warmed = resolve));
    const shipping = await consumer(config, transport, warmed, finished);
    const orders = await producer(config, transport);
    print({ event: 'ready' });
    await publish(orders, config, 0, config.warmup ?? 0, undefined);
    if ((config.warmup ?? 0) > 0) await warm;
    const times = await publish(orders, config, config.warmup ?? 0, config.count, config.rate);
    print({ event: 'published', ...times });
    print(await done);
    await orders.close();
    await shipping.close();
    await transport.close();
    break;
  }
  case 'db-producer':
  case 'db-consumer': {
    const store = await openStore<BenchDb>({
      service: role,
      url: config.storeUrl,
      migrations: benchMigrations,
      pool: { max: 20 },
    });
    const insert = (i: number) =>
      store.transaction(async (tx) => {
        if (role === 'db-producer')
          await tx
            .insertInto('orders')
            .values({ id: `order-${i}`, total_cents: 1000 + i })
            .execute();
        else
          await tx
            .insertInto('effects')
            .values({ event_id: `event-${i}`, order_id: `order-${i}` })
            .execute();
      });
    const started = go();
    await drive(config.warmup ?? 0, config.concurrency, undefined, insert);
    print({ event: 'warmed' });
    await started;
    const times = await drive(config.count, config.concurrency, undefined, (k) =>
      insert((config.warmup ?? 0) + k),
    );
    print({ event: 'published', ...times });
    await store.close();
    process.stdin.destroy();
    break;
  }
  case 'js-publisher': {
    const nc = await connect({ servers: config.natsUrl! });
    const js = jetstream(nc);
    const publishRange = async (from: number, to: number): Promise<void> => {
      for (let b = from; b < to; b += 100) {
        const batch = [];
        for (let i = b; i < Math.min(to, b + 100); i++) {
          const payload = new TextEncoder().encode(
            JSON.stringify({
              data: { orderId: `order-${i}`, totalCents: 1000, sentAt: wallNow() },
              pad: 'x'.repeat(250),
            }),
          );
          batch.push(js.publish(`${config.subject!}.${i % 16}`, payload, { msgID: `m-${i}` }));
        }
        await Promise.all(batch);
      }
    };
    const started = go();
    print({ event: 'ready' });
    await publishRange(0, config.warmup ?? 0);
    print({ event: 'warmed' });
    await started;
    const start = wallNow();
    await publishRange(config.warmup ?? 0, (config.warmup ?? 0) + config.count);
    print({ event: 'published', start, end: wallNow() });
    await nc.close();
    process.stdin.destroy();
    break;
  }
  case 'js-consumer': {
    const nc = await connect({ servers: config.natsUrl! });
    const jsm = await jetstreamManager(nc);
    await jsm.consumers.add(config.stream!, { durable_name: 'raw', ack_policy: AckPolicy.Explicit });
    const consumer = await jetstream(nc).consumers.get(config.stream!, 'raw');
    const onMessage = meter(
      config.warmup ?? 0,
      config.count,
      () => print({ event: 'warm' }),
      (result) => print(result),
    );
    print({ event: 'ready' });
    const messages = await consumer.consume({ max_messages: 1000 });
    let count = 0;
    for await (const m of messages) {
      m.ack();
      onMessage(m.data, String(m.seq));
      if (++count === (config.warmup ?? 0) + config.count) break;
    }
    await nc.close();
    break;
  }
  default:
    throw new Error(`unknown role ${role}`);
}
