import assert from 'node:assert/strict';
import { constantBackoff } from '@flotilla/resilience';
import { type ActiveSpan, childContext, type TraceContext } from '@flotilla/service';
import type { Migration, Store } from '@flotilla/store';
import { sql } from 'kysely';
import { z } from 'zod';
import type { EventSubscribeOptions, EventTracer } from '../bus-options.js';
import { type AnyEventContract, defineEvent } from '../define-event.js';
import { createEventBus, type EventBus } from '../event-bus.js';
import type { EventsLogger } from '../logger.js';
import { eventsMigrations } from '../migrations.js';
import type { DeliveryHandler, Settlement, Transport } from '../transport.js';

/** The databases and transport storage of one conformance test. */
export interface EventBusHarness {
  /**
   * Opens the database of `service`, fresh for this test (its own file or PostgreSQL database,
   * as in production), migrated with `migrations`. Asking again for a service returns the same store.
   */
  store(service: string, migrations: readonly Migration[]): Promise<Store<unknown>>;
  /**
   * Opens a transport over this test's storage (a log file, a stream), as another process would;
   * in-process transports may return the same instance every time.
   */
  transport(): Promise<Transport>;
  /**
   * Whether two write transactions of one database can be open at once (PostgreSQL): then the
   * outbox-trap test makes a transaction with a lower `seq` commit after a later one. SQLite
   * serialises writers, so there the test runs the same producers without that interleaving.
   */
  readonly concurrentWriters: boolean;
  /** Closes every store and transport it opened and removes their storage, even after a failure. */
  dispose(): Promise<void>;
}

/** The tables of the services of the suite. */
export interface KitDb {
  orders: { id: string; n: number };
  effects: { ord: number; grp: string; event_id: string; subject: string; n: number; instance: string };
}

/** The producer's table, and the effect table every consumer writes one row per handled event into. */
export const kitMigrations: readonly Migration[] = [
  { id: '0001_orders', up: 'create table orders (id text primary key, n integer not null)' },
  {
    id: '0002_effects',
    up: 'create table effects (ord integer not null, grp text not null, event_id text not null, subject text not null, n integer not null, instance text not null)',
  },
  ...eventsMigrations,
];

/** Events of the suite. */
export const OrderPlaced = defineEvent('conformance.OrderPlaced', {
  version: 1,
  schema: z.object({ orderId: z.string(), n: z.number().int() }),
});

/** Version 2 of `OrderPlaced` for upcasting: `n` became `position`, and a `note` was added. */
export const OrderPlacedV2 = defineEvent('conformance.OrderPlaced', {
  version: 2,
  schema: z.object({ orderId: z.string(), position: z.number().int(), note: z.string() }),
  upcast: {
    1: (v1) => {
      const { n, ...rest } = v1 as { n: number };
      return { ...rest, position: n, note: 'from v1' };
    },
  },
});

/** A span recorder implementing the bus's tracer interface, for asserting trace propagation. */
export class SpanRecorder implements EventTracer {
  readonly spans: { name: string; kind: string; context: TraceContext; status: string }[] = [];

  startSpan(
    name: string,
    options: { kind: 'producer' | 'consumer'; parent?: TraceContext | undefined },
  ): ActiveSpan {
    const context = childContext(options.parent);
    return {
      context,
      setAttribute: () => {},
      end: (status = 'ok') => {
        this.spans.push({ name, kind: options.kind, context, status });
      },
    };
  }
}

/** A logger that keeps what it is given. */
export class MemoryLogger implements EventsLogger {
  readonly lines: { level: string; msg: string; obj: Record<string, unknown> }[] = [];
  debug(obj: Record<string, unknown>, msg: string): void {
    this.lines.push({ level: 'debug', msg, obj });
  }
  info(obj: Record<string, unknown>, msg: string): void {
    this.lines.push({ level: 'info', msg, obj });
  }
  warn(obj: Record<string, unknown>, msg: string): void {
    this.lines.push({ level: 'warn', msg, obj });
  }
  error(obj: Record<string, unknown>, msg: string): void {
    this.lines.push({ level: 'error', msg, obj });
  }
}

/**
 * Wraps a transport so that the first settlement of every message is replaced by an immediate
 * retry, as if the acknowledgement had been lost after the handler committed.
 */
export function losingFirstAcks(transport: Transport): Transport {
  const seen = new Set<string>();
  return {
    kind: transport.kind,
    publish: (messages, signal) => transport.publish(messages, signal),
    check: (signal) => transport.check(signal),
    close: () => transport.close(),
    ...(transport.lag === undefined
      ? {}
      : { lag: (group: string, signal?: AbortSignal) => transport.lag!(group, signal) }),
    subscribe: (options, handler) => {
      const lossy: DeliveryHandler = async (delivery) => {
        const settlement: Settlement = await handler(delivery);
        if (settlement.kind === 'ack' && !seen.has(delivery.id)) {
          seen.add(delivery.id);
          return { kind: 'retry', delayMs: 0 };
        }
        return settlement;
      };
      return transport.subscribe(options, lossy);
    },
  };
}

let ordering = 0;

/** Helpers of one conformance test: opens services and buses and closes them in the right order. */
export class Kit {
  readonly logger = new MemoryLogger();
  private readonly buses: EventBus<KitDb>[] = [];

  constructor(
    readonly harness: EventBusHarness,
    private readonly waitTimeoutMs: number,
  ) {}

  async store(service: string): Promise<Store<KitDb>> {
    return (await this.harness.store(service, kitMigrations)) as Store<KitDb>;
  }

  /** A bus of `service` on a transport of its own (or `transport`), not started. */
  async bus(
    service: string,
    options: { transport?: Transport; tracer?: EventTracer; batchSize?: number } = {},
  ): Promise<EventBus<KitDb>> {
    const bus = createEventBus<KitDb>({
      service,
      store: await this.store(service),
      transport: options.transport ?? (await this.harness.transport()),
      logger: this.logger,
      relay: {
        pollIntervalMs: 100,
        ...(options.batchSize === undefined ? {} : { batchSize: options.batchSize }),
      },
      ...(options.tracer === undefined ? {} : { tracer: options.tracer }),
    });
    this.buses.push(bus);
    return bus;
  }

  /** A started consumer bus of `service` whose `group` writes one effect row per handled event. */
  async consumer(
    service: string,
    group: string,
    options: Partial<EventSubscribeOptions<KitDb, readonly AnyEventContract[]>> & {
      transport?: Transport;
      instance?: string;
      before?: (event: { id: string; subject: string; data: unknown }, deliveryCount: number) => void;
      after?: (event: { id: string; subject: string; data: unknown }, deliveryCount: number) => void;
    } = {},
  ): Promise<EventBus<KitDb>> {
    const { transport, instance = 'one', before, after, ...subscribe } = options;
    const bus = await this.bus(service, transport === undefined ? {} : { transport });
    bus.subscribe({
      group,
      events: [OrderPlaced],
      backoff: constantBackoff(20),
      startAt: 'beginning',
      ...subscribe,
      handler: async (event, { tx, deliveryCount }) => {
        before?.(event, deliveryCount);
        const data = event.data as { n?: number; position?: number };
        await tx
          .insertInto('effects')
          .values({
            ord: ++ordering,
            grp: group,
            event_id: event.id,
            subject: event.subject,
            n: data.n ?? data.position ?? -1,
            instance,
          })
          .execute();
        after?.(event, deliveryCount);
      },
    });
    await bus.start();
    return bus;
  }

  /** Publishes `OrderPlaced` for `subject` in its own committed transaction with an order row. */
  async place(bus: EventBus<KitDb>, subject: string, n: number): Promise<string> {
    const store = await this.store(bus.service);
    return store.transaction(async (tx) => {
      await tx
        .insertInto('orders')
        .values({ id: `${subject}#${n}#${Math.random()}`, n })
        .execute();
      const envelope = await bus.publish(tx, OrderPlaced, { subject, data: { orderId: subject, n } });
      return envelope.id;
    });
  }

  /** Effect rows of `service` (optionally of one group), in the order they were written. */
  async effects(service: string, group?: string): Promise<KitDb['effects'][]> {
    const store = await this.store(service);
    let q = store.db.selectFrom('effects').selectAll();
    if (group !== undefined) q = q.where('grp', '=', group);
    return q.orderBy('ord').execute();
  }

  async countEffects(service: string): Promise<number> {
    const store = await this.store(service);
    const { rows } = await sql<{ n: number }>`select count(*) as n from effects`.execute(store.db);
    return Number(rows[0]?.n ?? 0);
  }

  /** Waits for `condition`, polling, and fails after the suite's timeout. */
  async until(condition: () => boolean | Promise<boolean>, what: string): Promise<void> {
    const deadline = Date.now() + this.waitTimeoutMs;
    while (!(await condition())) {
      if (Date.now() > deadline) assert.fail(`timed out after ${this.waitTimeoutMs} ms waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  /** Closes the buses, then the harness's transports and stores. */
  async dispose(): Promise<void> {
    await Promise.allSettled(this.buses.map((b) => b.close()));
    await this.harness.dispose();
  }
}
