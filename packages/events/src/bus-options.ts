import { type Backoff, type Clock, exponentialBackoff, type RandomSource } from '@flotilla/resilience';
import type { Tracer } from '@flotilla/service';
import type { Store } from '@flotilla/store';
import type { AnyEventContract } from './define-event.js';
import type { EventOf } from './envelope.js';
import type { EventHandler } from './handler-invocation.js';
import type { EventsLogger } from './logger.js';
import type { Transport } from './transport.js';
import { checkDuration, checkInteger } from './transports/validation.js';

/** What the bus needs of a tracer: @flotilla/service's `Tracer` fits (only `startSpan` is used). */
export type EventTracer = Pick<Tracer, 'startSpan'>;

/** Options of the outbox relay. */
export interface RelayOptions {
  /**
   * Most outbox rows sent to the transport in one publish call (and deleted in one statement);
   * an integer in [1, 10000].
   * @default 100
   */
  readonly batchSize?: number;
  /**
   * How often the relay looks for unsent rows when nothing woke it, in milliseconds. A publish in
   * this process wakes it at once; rows written by other instances of the service are found by
   * this poll.
   * @default 250
   */
  readonly pollIntervalMs?: number;
}

/** Options of the inbox. */
export interface InboxOptions {
  /**
   * How long a handled event's id is kept to recognise redeliveries, in milliseconds. Keep it
   * above the transport's retention (7 days by default): a copy can arrive as long as the
   * transport holds one.
   * @default 604800000 (7 days)
   */
  readonly retentionMs?: number;
  /**
   * How often expired inbox rows are deleted, in milliseconds.
   * @default 60000
   */
  readonly pruneIntervalMs?: number;
}

/** Options of {@link createEventBus}. */
export interface EventBusOptions<DB> {
  /** The service publishing and consuming: the envelope's `source`. */
  readonly service: string;
  /** The service's store, migrated with `eventsMigrations`; holds the outbox, inbox and dead letters. */
  readonly store: Store<DB>;
  /** The transport (see `transportFromUrl`); owned by the caller, who closes it after the bus. */
  readonly transport: Transport;
  /**
   * The contracts this service publishes. When given, `publish` refuses other events, so a typo
   * or an undeclared event fails in the producer instead of surprising consumers.
   * @default any contract may be published
   */
  readonly events?: readonly AnyEventContract[];
  /**
   * Where relay failures, retries and dead letters are reported (pino fits). Handlers get it as
   * `ctx.log`, with the event bound.
   * @default warnings and errors go to `process.emitWarning`; handlers get no `ctx.log`
   */
  readonly logger?: EventsLogger;
  /** Records a producer span per publish and a consumer span per handled event (the service's tracer fits). */
  readonly tracer?: EventTracer;
  /** The outbox relay. */
  readonly relay?: RelayOptions;
  /** The inbox. */
  readonly inbox?: InboxOptions;
  /**
   * Timers of the relay and the inbox pruning, and handler latencies.
   * @default systemClock
   */
  readonly clock?: Clock;
  /**
   * Wall-clock time in epoch milliseconds: envelope `time` and the tables' timestamps.
   * @default Date.now
   */
  readonly now?: () => number;
  /**
   * Randomness of retry jitter.
   * @default Math.random
   */
  readonly random?: RandomSource;
}

/** Options of `bus.subscribe`. */
export interface EventSubscribeOptions<DB, Es extends readonly AnyEventContract[]> {
  /**
   * The consumer group: instances with the same group share the work, each group gets every
   * event. Letters, digits, `_`, `-` and `.` (1 to 100). Usually the service's name, or
   * `<service>.<purpose>` when one service has several handlers.
   */
  readonly group: string;
  /** The events to receive (at least one); the handler gets a union of them. */
  readonly events: Es;
  /** Runs inside the store transaction that records the event in the inbox. */
  readonly handler: EventHandler<DB, EventOf<Es[number]>>;
  /**
   * Deliveries before an event is dead-lettered (the first included); an integer in [1, 1000].
   * @default 10
   */
  readonly maxAttempts?: number;
  /**
   * Delay before each retry of a failed handler.
   * @default exponentialBackoff({ initialDelayMs: 100, maxDelayMs: 30000 }) (full jitter)
   */
  readonly backoff?: Backoff;
  /**
   * Most events handled at once by this instance, across keys (one key is always handled one
   * event at a time, in order); an integer in [1, 10000].
   * @default 16
   */
  readonly concurrency?: number;
  /**
   * Where a group seen for the first time starts: `'new'` (events published from now on) or
   * `'beginning'` (the transport's retained history, e.g. to build a new projection). A known
   * group always resumes where it stopped.
   * @default 'new'
   */
  readonly startAt?: 'new' | 'beginning';
  /**
   * How long a handler may run, in milliseconds, before the transport delivers the event again
   * (possibly to another instance); it must exceed the slowest handler.
   * @default 30000
   */
  readonly ackWaitMs?: number;
}

/** Bus options with defaults applied (internal). */
export interface ResolvedBusOptions<DB> {
  readonly service: string;
  readonly store: Store<DB>;
  readonly transport: Transport;
  readonly events: readonly AnyEventContract[] | undefined;
  readonly logger: EventsLogger | undefined;
  readonly tracer: EventTracer | undefined;
  readonly batchSize: number;
  readonly pollIntervalMs: number;
  readonly inboxRetentionMs: number;
  readonly pruneIntervalMs: number;
  readonly clock: Clock;
  readonly now: () => number;
  readonly random: RandomSource;
}

const SERVICE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/;
const GROUP = /^[A-Za-z0-9_.-]{1,100}$/;

/** Checks bus options and applies their defaults. */
export function resolveBusOptions<DB>(
  options: EventBusOptions<DB>,
  defaults: { clock: Clock },
): ResolvedBusOptions<DB> {
  if (typeof options !== 'object' || options === null)
    throw new TypeError('createEventBus(options) needs { service, store, transport }');
  const { service, store, transport, events, logger, tracer, relay = {}, inbox = {} } = options;
  if (typeof service !== 'string' || !SERVICE.test(service))
    throw new RangeError(
      `createEventBus.service must be 1-100 letters, digits, '_', '.' or '-' starting with a letter or digit, got ${String(service)}`,
    );
  if (typeof store !== 'object' || store === null || typeof store.transaction !== 'function')
    throw new TypeError('createEventBus.store must be a store from openStore()');
  if (typeof transport !== 'object' || transport === null || typeof transport.publish !== 'function')
    throw new TypeError('createEventBus.transport must be a Transport (see transportFromUrl)');
  if (events !== undefined && !Array.isArray(events))
    throw new TypeError('createEventBus.events must be an array of event contracts');
  const { batchSize = 100, pollIntervalMs = 250 } = relay;
  const { retentionMs = 7 * 24 * 3600 * 1000, pruneIntervalMs = 60_000 } = inbox;
  return {
    service,
    store,
    transport,
    events,
    logger,
    tracer,
    batchSize: checkInteger('createEventBus.relay.batchSize', batchSize, 1, 10_000),
    pollIntervalMs: checkDuration('createEventBus.relay.pollIntervalMs', pollIntervalMs),
    inboxRetentionMs: checkDuration('createEventBus.inbox.retentionMs', retentionMs, true),
    pruneIntervalMs: checkDuration('createEventBus.inbox.pruneIntervalMs', pruneIntervalMs),
    clock: options.clock ?? defaults.clock,
    now: options.now ?? Date.now,
    random: options.random ?? Math.random,
  };
}

/** Subscribe options with defaults applied (internal). */
export interface ResolvedSubscribe {
  readonly group: string;
  readonly contracts: ReadonlyMap<string, AnyEventContract>;
  readonly maxAttempts: number;
  readonly backoff: Backoff;
  readonly concurrency: number;
  readonly startAt: 'new' | 'beginning';
  readonly ackWaitMs: number;
}

/** Checks subscribe options and applies their defaults. */
export function resolveSubscribe<DB>(
  options: EventSubscribeOptions<DB, readonly AnyEventContract[]>,
): ResolvedSubscribe {
  if (typeof options !== 'object' || options === null)
    throw new TypeError('subscribe(options) needs { group, events, handler }');
  const {
    group,
    events,
    handler,
    maxAttempts = 10,
    backoff = exponentialBackoff({ initialDelayMs: 100, maxDelayMs: 30_000 }),
    concurrency = 16,
    startAt = 'new',
    ackWaitMs = 30_000,
  } = options;
  if (typeof group !== 'string' || !GROUP.test(group))
    throw new RangeError(
      `subscribe.group must be 1 to 100 letters, digits, '_', '-' or '.', got ${String(group)}`,
    );
  if (!Array.isArray(events) || events.length === 0)
    throw new RangeError(`subscribe.events of group ${group} must be a non-empty array of event contracts`);
  const contracts = new Map<string, AnyEventContract>();
  events.forEach((contract: AnyEventContract, i) => {
    if (typeof contract !== 'object' || contract === null || typeof contract.type !== 'string')
      throw new TypeError(`subscribe.events[${i}] of group ${group} must be a contract from defineEvent()`);
    if (contracts.has(contract.type))
      throw new RangeError(`subscribe.events of group ${group} lists ${contract.type} twice`);
    contracts.set(contract.type, contract);
  });
  if (typeof handler !== 'function')
    throw new TypeError(`subscribe.handler of group ${group} must be a function, got ${typeof handler}`);
  if (typeof backoff !== 'object' || backoff === null || typeof backoff.delayMs !== 'function')
    throw new TypeError(`subscribe.backoff of group ${group} must be a Backoff (e.g. exponentialBackoff())`);
  if (startAt !== 'new' && startAt !== 'beginning')
    throw new RangeError(`subscribe.startAt must be 'new' or 'beginning', got ${String(startAt)}`);
  return {
    group,
    contracts,
    maxAttempts: checkInteger('subscribe.maxAttempts', maxAttempts, 1, 1000),
    backoff,
    concurrency: checkInteger('subscribe.concurrency', concurrency, 1, 10_000),
    startAt,
    ackWaitMs: checkDuration('subscribe.ackWaitMs', ackWaitMs),
  };
}
