// What every process of the events benchmark shares: the event, the tables, and how to open a
// service's store and bus from a configuration.
import {
  createEventBus,
  defineEvent,
  type EventBus,
  eventsMigrations,
  type Transport,
  transportFromUrl,
} from '@flotilla/events';
import { type Migration, openStore, type Store } from '@flotilla/store';
import { z } from 'zod';

/** The benchmark's event: an order placed, with the wall-clock time it was published at. */
export const OrderPlaced = defineEvent('bench.OrderPlaced', {
  version: 1,
  schema: z.object({ orderId: z.string(), totalCents: z.number().int(), sentAt: z.number() }),
});

/** The tables of both services: the producer inserts an order, the consumer an effect row. */
export interface BenchDb {
  orders: { id: string; total_cents: number };
  effects: { event_id: string; order_id: string };
}

export const benchMigrations: readonly Migration[] = [
  { id: '0001_orders', up: 'create table orders (id text primary key, total_cents integer not null)' },
  { id: '0002_effects', up: 'create table effects (event_id text primary key, order_id text not null)' },
  ...eventsMigrations,
];

/** Wall-clock milliseconds with sub-millisecond precision, comparable across processes. */
export function wallNow(): number {
  return performance.timeOrigin + performance.now();
}

/** Where a service of the benchmark runs. */
export interface ServiceConfig {
  readonly storeUrl: string;
  readonly transportUrl: string;
  readonly stream?: string;
  readonly subjectPrefix?: string;
}

/** Opens the transport a service's configuration names. */
export function openTransport(config: ServiceConfig): Promise<Transport> {
  return transportFromUrl(config.transportUrl, {
    nats: {
      ...(config.stream === undefined ? {} : { stream: config.stream }),
      ...(config.subjectPrefix === undefined ? {} : { subjectPrefix: config.subjectPrefix }),
    },
  });
}

/**
 * Opens a service's store and bus, on `options.transport` or the configured one; `close` shuts
 * the bus, then the transport when this service owns it, then the store.
 */
export async function openService(
  service: string,
  config: ServiceConfig,
  options: { transport?: Transport; ownsTransport?: boolean } = {},
): Promise<{ store: Store<BenchDb>; transport: Transport; bus: EventBus<BenchDb>; close(): Promise<void> }> {
  const transport = options.transport ?? (await openTransport(config));
  const ownsTransport = options.ownsTransport ?? options.transport === undefined;
  const store = await openStore<BenchDb>({
    service,
    url: config.storeUrl,
    migrations: benchMigrations,
    pool: { max: 20 },
  });
  const bus = createEventBus<BenchDb>({ service, store, transport, relay: { pollIntervalMs: 100 } });
  return {
    store,
    transport,
    bus,
    async close() {
      await bus.close();
      if (ownsTransport) await transport.close();
      await store.close();
    },
  };
}
