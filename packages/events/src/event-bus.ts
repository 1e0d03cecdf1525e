import { randomUUID } from 'node:crypto';
import { systemClock, type TimerHandle } from '@flotilla/resilience';
import { childContext, formatTraceparent, type HealthCheck, type TraceContext } from '@flotilla/service';
import { onTransactionEnd, type Tx } from '@flotilla/store';
import {
  type EventBusOptions,
  type EventSubscribeOptions,
  type ResolvedBusOptions,
  resolveBusOptions,
  resolveSubscribe,
} from './bus-options.js';
import { type DeadLetters, deadLetterApi } from './dead-letters.js';
import { type AnyEventContract, type EventInput, validateForPublish } from './define-event.js';
import type { EventEnvelope, EventOf } from './envelope.js';
import { EventBusClosedError, messageOf, UnknownEventError } from './errors.js';
import { GroupConsumer } from './group-consumer.js';
import { type EventsLogger, warningLogger } from './logger.js';
import { type EventsDb, outboxBacklog, writeOutbox } from './outbox.js';
import { OutboxRelay, type RelayStatus } from './relay.js';
import type { GroupStats } from './stats.js';

/** What to publish. */
export interface PublishInput<C extends AnyEventContract> {
  /** The aggregate the event is about (e.g. the order id): the ordering key. 1 to 1024 characters, no line breaks. */
  readonly subject: string;
  /** The event's data; validated against the contract's schema (defaults and transforms applied). */
  readonly data: EventInput<C>;
  /** The publishing unit of work's trace context (the request's span): the event continues its trace. */
  readonly trace?: TraceContext | undefined;
  /**
   * The event id. Give a deterministic one (derived from a command's idempotency key) to make
   * publishing idempotent: an id published twice may be sent twice, but each group's inbox
   * hands it to its handler once (the transport also drops the copy where it can).
   * @default a random UUID
   */
  readonly id?: string;
}

/** Options of `bus.healthCheck()`. */
export interface EventBusHealthCheckOptions {
  /**
   * Time limit of one check, in milliseconds.
   * @default 2000
   */
  readonly timeoutMs?: number;
  /**
   * Whether a failing check makes the service unready.
   * @default true
   */
  readonly critical?: boolean;
  /**
   * Fail when the oldest unsent outbox row is older than this, in milliseconds (the relay is
   * stuck or the transport unreachable).
   * @default no limit (the age is only reported)
   */
  readonly maxOutboxAgeMs?: number;
}

/** The outbox and relay part of {@link EventBusStats}. */
export interface OutboxStats extends RelayStatus {
  /** Rows waiting to be sent (all instances of the service). */
  readonly backlog: number;
  /** Age of the oldest waiting row, in milliseconds; `null` when none waits. */
  readonly oldestAgeMs: number | null;
}

/** Numbers for dashboards. */
export interface EventBusStats {
  readonly service: string;
  /** The transport's kind. */
  readonly transport: string;
  readonly outbox: OutboxStats;
  /** Per consumer group of this instance. */
  readonly groups: Readonly<Record<string, GroupStats>>;
}

/** A service's event bus: publishes through its outbox, consumes through its inbox. */
export interface EventBus<DB> {
  readonly service: string;
  /**
   * Validates the data and writes the event into the outbox within `tx` (a transaction of the
   * bus's store): it is sent if and only if `tx` commits. Resolves with the envelope written.
   * Allowed before `start()` and after `close()`: the row waits in the outbox for a relay.
   */
  publish<C extends AnyEventContract>(tx: Tx<DB>, event: C, input: PublishInput<C>): Promise<EventOf<C>>;
  /** Declares a subscription; call before `start()`. Throws for bad options or a group subscribed twice. */
  subscribe<const Es extends readonly AnyEventContract[]>(options: EventSubscribeOptions<DB, Es>): void;
  /** Starts the declared subscriptions and the outbox relay. Calling it again returns the same promise. */
  start(options?: { signal?: AbortSignal }): Promise<void>;
  /**
   * Stops gracefully: the relay finishes its batch, subscriptions finish their handlers in flight
   * and settle them. Close the bus before the transport and the store. Idempotent.
   */
  close(): Promise<void>;
  /** A readiness check named `events`: the transport answers; details give relay state, backlog and group lag. */
  healthCheck(options?: EventBusHealthCheckOptions): HealthCheck;
  /** Outbox backlog and its oldest age, relay state, and per-group counts and latencies. */
  stats(options?: { signal?: AbortSignal }): Promise<EventBusStats>;
  /**
   * Per consumer group of this bus, the messages the transport holds that the group has not
   * settled yet (approximate, see `Transport.lag`); `null` for every group when the transport
   * does not count them. Rejects when the transport cannot answer.
   */
  lag(options?: { signal?: AbortSignal }): Promise<Readonly<Record<string, number | null>>>;
  /** Inspect, replay and discard the dead letters of this service's groups. */
  readonly deadLetters: DeadLetters;
}

const LINE_BREAK = /[\r\n]/;

/** `promise`, or a rejection with the signal's reason as soon as it aborts (the query itself runs on). */
function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    promise.catch(() => undefined);
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}

/**
 * Creates a service's event bus over its store and a transport.
 *
 * @example
 * const OrderConfirmed = defineEvent('OrderConfirmed', { version: 1, schema: z.object({ orderId: z.string() }) });
 * const store = await openStore<ShopDb>({ service: 'orders', migrations: [...migrations, ...eventsMigrations] });
 * const bus = createEventBus({ service: 'orders', store, transport: await transportFromUrl('embedded:') });
 * bus.subscribe({ group: 'orders', events: [OrderConfirmed], handler: async (event, { tx }) => { … } });
 * await bus.start();
 * await store.transaction(async (tx) => {
 *   await tx.updateTable('orders').set({ status: 'CONFIRMED' }).where('id', '=', 'o-1').execute();
 *   await bus.publish(tx, OrderConfirmed, { subject: 'o-1', data: { orderId: 'o-1' } });
 * });
 */
export function createEventBus<DB>(options: EventBusOptions<DB>): EventBus<DB> {
  return new ServiceEventBus(resolveBusOptions(options, { clock: systemClock }));
}

class ServiceEventBus<DB> implements EventBus<DB> {
  readonly service: string;
  readonly deadLetters: DeadLetters;
  private readonly logger: EventsLogger;
  private readonly relay: OutboxRelay;
  /** Transactions whose commit already nudges the relay (one listener per transaction). */
  private readonly nudgeOnCommit = new WeakSet<object>();
  private readonly consumers = new Map<string, GroupConsumer<DB>>();
  private readonly published = new Map<string, AnyEventContract>();
  private starting: Promise<void> | undefined;
  private closing: Promise<void> | undefined;
  private pruneTimer: TimerHandle | undefined;

  constructor(private readonly o: ResolvedBusOptions<DB>) {
    this.service = o.service;
    this.logger = o.logger ?? warningLogger;
    for (const contract of o.events ?? []) this.remember(this.published, contract);
    this.relay = new OutboxRelay({
      store: o.store as never,
      transport: o.transport,
      batchSize: o.batchSize,
      pollIntervalMs: o.pollIntervalMs,
      clock: o.clock,
      now: o.now,
      logger: this.logger,
    });
    this.deadLetters = deadLetterApi({
      store: o.store as never,
      now: o.now,
      replay: (row) => {
        const consumer = this.consumers.get(row.grp);
        if (consumer === undefined)
          throw new RangeError(
            `dead letter ${row.id} belongs to group ${row.grp}, which is not subscribed on this bus`,
          );
        return consumer.replay(row);
      },
    });
  }

  async publish<C extends AnyEventContract>(
    tx: Tx<DB>,
    event: C,
    input: PublishInput<C>,
  ): Promise<EventOf<C>> {
    this.checkPublishable(event);
    if (typeof input !== 'object' || input === null)
      throw new TypeError(`publish(${event.type}) needs { subject, data }`);
    const { subject, trace, id = randomUUID() } = input;
    if (
      typeof subject !== 'string' ||
      subject.length === 0 ||
      subject.length > 1024 ||
      LINE_BREAK.test(subject)
    )
      throw new RangeError(
        `publish(${event.type}).subject must be 1 to 1024 characters without line breaks, got ${JSON.stringify(subject)}`,
      );
    if (typeof id !== 'string' || id.length === 0 || id.length > 256 || LINE_BREAK.test(id))
      throw new RangeError(
        `publish(${event.type}).id must be 1 to 256 characters without line breaks, got ${JSON.stringify(id)}`,
      );
    const data = validateForPublish(event, input.data);
    const span = this.o.tracer?.startSpan(`publish ${event.type}`, {
      kind: 'producer',
      parent: trace,
      attributes: {
        'messaging.system': this.o.transport.kind,
        'messaging.destination.name': event.type,
        'messaging.message.id': id,
        'flotilla.subject': subject,
      },
    });
    const now = this.o.now();
    const envelope: EventEnvelope = {
      specversion: '1.0',
      id,
      type: event.type,
      source: this.service,
      subject,
      time: new Date(now).toISOString(),
      datacontenttype: 'application/json',
      schemaversion: event.version,
      traceparent: formatTraceparent(span?.context ?? childContext(trace)),
      data,
    };
    try {
      await writeOutbox(tx as unknown as EventsDb, envelope, now);
    } catch (err) {
      span?.setAttribute('error.message', messageOf(err));
      span?.end('error');
      throw err;
    }
    span?.end('ok');
    // The relay reads the outbox as soon as the transaction commits. A transaction the store did
    // not begin (no end to listen to) nudges it now instead, and it re-reads until the row shows.
    if (!this.nudgeOnCommit.has(tx)) {
      if (onTransactionEnd(tx, (committed) => committed && this.relay.nudge())) this.nudgeOnCommit.add(tx);
      else this.relay.nudge(id);
    }
    return envelope as EventOf<C>;
  }

  subscribe<const Es extends readonly AnyEventContract[]>(options: EventSubscribeOptions<DB, Es>): void {
    if (this.closing !== undefined) throw new EventBusClosedError(this.service, 'subscribe');
    if (this.starting !== undefined)
      throw new Error(
        `subscribe(${String(options?.group)}) after start(): declare every subscription before starting the bus`,
      );
    const resolved = resolveSubscribe(options as EventSubscribeOptions<DB, readonly AnyEventContract[]>);
    if (this.consumers.has(resolved.group))
      throw new RangeError(
        `group ${resolved.group} is already subscribed on this bus (one handler per group)`,
      );
    const o = this.o;
    this.consumers.set(
      resolved.group,
      new GroupConsumer<DB>({
        ...resolved,
        service: o.service,
        store: o.store,
        transport: o.transport,
        logger: this.logger,
        handlerLogger: o.logger,
        tracer: o.tracer,
        clock: o.clock,
        now: o.now,
        random: o.random,
        handler: options.handler as never,
      }),
    );
  }

  start(options: { signal?: AbortSignal } = {}): Promise<void> {
    if (this.closing !== undefined) return Promise.reject(new EventBusClosedError(this.service, 'start'));
    this.starting ??= this.startUp(options.signal);
    return this.starting;
  }

  close(): Promise<void> {
    this.closing ??= this.shutDown();
    return this.closing;
  }

  healthCheck(options: EventBusHealthCheckOptions = {}): HealthCheck {
    const { timeoutMs = 2000, critical = true, maxOutboxAgeMs } = options;
    if (!(timeoutMs > 0) || !Number.isFinite(timeoutMs))
      throw new RangeError(`healthCheck.timeoutMs must be a finite number > 0, got ${String(timeoutMs)}`);
    if (maxOutboxAgeMs !== undefined && !(maxOutboxAgeMs > 0))
      throw new RangeError(`healthCheck.maxOutboxAgeMs must be a number > 0, got ${String(maxOutboxAgeMs)}`);
    return {
      name: 'events',
      timeoutMs,
      critical,
      check: async (signal: AbortSignal) => {
        if (this.closing !== undefined) throw new EventBusClosedError(this.service, 'health check');
        await this.o.transport.check(signal);
        const outbox = await abortable(this.outboxStats(), signal);
        const lag = this.o.transport.lag === undefined ? {} : await this.lag({ signal });
        if (
          maxOutboxAgeMs !== undefined &&
          outbox.oldestAgeMs !== null &&
          outbox.oldestAgeMs > maxOutboxAgeMs
        )
          throw new Error(
            `the oldest unsent outbox event is ${Math.round(outbox.oldestAgeMs)} ms old (limit ${maxOutboxAgeMs} ms)` +
              (outbox.lastError === null ? '' : `; last relay error: ${outbox.lastError}`),
          );
        return { details: { transport: this.o.transport.kind, outbox, lag } };
      },
    };
  }

  async stats(options: { signal?: AbortSignal } = {}): Promise<EventBusStats> {
    options.signal?.throwIfAborted();
    const groups: Record<string, GroupStats> = {};
    for (const [group, consumer] of this.consumers) groups[group] = consumer.counters.snapshot();
    return {
      service: this.service,
      transport: this.o.transport.kind,
      outbox: await this.outboxStats(),
      groups,
    };
  }

  async lag(options: { signal?: AbortSignal } = {}): Promise<Readonly<Record<string, number | null>>> {
    const { signal } = options;
    signal?.throwIfAborted();
    const lag: Record<string, number | null> = {};
    const transport = this.o.transport;
    for (const group of this.consumers.keys())
      lag[group] = transport.lag === undefined ? null : await transport.lag(group, signal);
    return lag;
  }

  private async outboxStats(): Promise<OutboxStats> {
    const { count, oldestCreatedAt } = await outboxBacklog(this.o.store.db as unknown as EventsDb);
    return {
      ...this.relay.status(),
      backlog: count,
      oldestAgeMs: oldestCreatedAt === null ? null : Math.max(0, this.o.now() - oldestCreatedAt),
    };
  }

  private async startUp(signal: AbortSignal | undefined): Promise<void> {
    const started: GroupConsumer<DB>[] = [];
    try {
      for (const consumer of this.consumers.values()) {
        signal?.throwIfAborted();
        await consumer.start();
        started.push(consumer);
      }
      signal?.throwIfAborted();
    } catch (err) {
      await Promise.all(started.map((c) => c.close()));
      this.starting = undefined;
      throw err;
    }
    this.relay.start();
    if (this.consumers.size > 0 && Number.isFinite(this.o.inboxRetentionMs)) this.schedulePrune();
    this.logger.info(
      { service: this.service, transport: this.o.transport.kind, groups: [...this.consumers.keys()] },
      'event bus started',
    );
  }

  private async shutDown(): Promise<void> {
    if (this.pruneTimer !== undefined) this.o.clock.clearTimeout(this.pruneTimer);
    await this.starting?.catch(() => undefined);
    await Promise.all([this.relay.close(), ...[...this.consumers.values()].map((c) => c.close())]);
  }

  private schedulePrune(): void {
    this.pruneTimer = this.o.clock.setTimeout(
      () => {
        if (this.closing !== undefined) return;
        (this.o.store.db as unknown as EventsDb)
          .deleteFrom('flotilla_inbox')
          .where('handled_at', '<', this.o.now() - this.o.inboxRetentionMs)
          .where('outcome', '!=', 'dead-lettered')
          .execute()
          .catch((err: unknown) => this.logger.error({ err, service: this.service }, 'inbox pruning failed'))
          .finally(() => {
            if (this.closing === undefined) this.schedulePrune();
          });
      },
      this.o.pruneIntervalMs,
      true,
    );
  }

  private checkPublishable(event: AnyEventContract): void {
    if (typeof event !== 'object' || event === null || typeof event.type !== 'string')
      throw new TypeError('publish(tx, event, input) needs an event contract from defineEvent()');
    const known = this.published.get(event.type);
    if (known === undefined) {
      if (this.o.events !== undefined)
        throw new UnknownEventError(
          event.type,
          `${this.service} does not publish ${event.type}: add its contract to createEventBus({ events })`,
        );
      this.remember(this.published, event);
    } else if (known !== event && known.version !== event.version)
      throw new UnknownEventError(
        event.type,
        `${event.type} is published with schema versions ${known.version} and ${event.version} by ${this.service}; use one contract`,
      );
  }

  private remember(map: Map<string, AnyEventContract>, contract: AnyEventContract): void {
    const known = map.get(contract.type);
    if (known !== undefined && known !== contract && known.version !== contract.version)
      throw new UnknownEventError(
        contract.type,
        `createEventBus.events has ${contract.type} with schema versions ${known.version} and ${contract.version}`,
      );
    map.set(contract.type, contract);
  }
}
