import { type Clock, systemClock } from '@flotilla/resilience';
import {
  AckPolicy,
  type Consumer,
  type ConsumerInfo,
  DeliverPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamClient,
  type JetStreamManager,
  jetstream,
  jetstreamManager,
  ReplayPolicy,
} from '@nats-io/jetstream';
import { connect, type NatsConnection, nanos, headers as natsHeaders } from '@nats-io/transport-node';
import type {
  DeliveryHandler,
  SubscribeOptions,
  Subscription,
  Transport,
  TransportMessage,
} from '../transport.js';
import { TransportClosedError, TransportUnavailableError } from './errors.js';
import { durableName, partitionFilter, subjectOf } from './nats/naming.js';
import { KEY_HEADER, NatsSubscription } from './nats/nats-subscription.js';
import { ensureStream } from './nats/stream.js';
import { partitionOf } from './partitioning.js';
import {
  checkDuration,
  checkInteger,
  checkMessages,
  resolveSubscription,
  throwIfAborted,
} from './validation.js';

/** Options of {@link natsTransport}. */
export interface NatsTransportOptions {
  /**
   * Server URL(s) to connect to; ignored when `connection` is given.
   * @default 'nats://127.0.0.1:4222'
   */
  readonly servers?: string | readonly string[];
  /**
   * JetStream stream holding the events; created (file storage, limits retention) or updated on
   * start.
   * @default 'FLOTILLA_EVENTS'
   */
  readonly stream?: string;
  /**
   * Subject prefix; messages go to `<prefix>.<partition>.<topic>`.
   * @default 'flotilla.events'
   */
  readonly subjectPrefix?: string;
  /**
   * Number of partitions keys are hashed into, fixed per stream (recorded in its description);
   * an integer in [1, 1024].
   * @default 16
   */
  readonly partitions?: number;
  /**
   * JetStream's duplicate window, in milliseconds: a message id published again within it is
   * dropped by the server. An id republished later is stored and delivered again, so keep it
   * longer than the longest time a publisher may retry (an outbox relay down for an hour needs
   * more than the default); the server keeps every id of the window in memory.
   * @default 120000
   */
  readonly duplicateWindowMs?: number;
  /**
   * How long the stream keeps messages, in milliseconds, consumed or not.
   * @default 604800000 (7 days)
   */
  readonly maxAgeMs?: number;
  /**
   * Stream replicas: 1 on a single server; 3 in a cluster to survive the loss of one node.
   * @default 1
   */
  readonly replicas?: number;
  /**
   * An existing connection to use (its owner closes it); otherwise the transport connects to
   * `servers`, reconnects without limit, and closes the connection on `close()`.
   */
  readonly connection?: NatsConnection;
  /**
   * How long `publish` waits for the server's acknowledgements, in milliseconds.
   * @default 5000
   */
  readonly publishTimeoutMs?: number;
  /**
   * Time source of handler deadlines (`ackWaitMs`) and restart pauses.
   * @default systemClock
   */
  readonly clock?: Clock;
  /**
   * Receives errors of background work (pull loops while the broker is away) that the transport
   * retries by itself.
   * @default writes them to `console.error`
   */
  readonly onError?: (error: unknown) => void;
}

/** Longest a closing subscription waits for its last acks to reach the server. */
const FLUSH_TIMEOUT_MS = 2000;
const STREAM_NAME = /^[A-Za-z0-9_-]{1,200}$/;
const PREFIX = /^[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*$/;

/**
 * A transport on NATS JetStream: one file-backed stream, subjects `<prefix>.<partition>.<topic>`,
 * publishes deduplicated by `Nats-Msg-Id`, and one durable pull consumer per (group, partition)
 * with `max_ack_pending: 1`, shared by every instance of the group. Connects, and creates or
 * checks the stream, before it resolves.
 *
 * @example
 * const transport = await natsTransport({ servers: 'nats://127.0.0.1:4222' });
 * await transport.subscribe({ group: 'shipping', topics: ['OrderConfirmed'] }, async (d) => ({ kind: 'ack' }));
 * await transport.publish([{ id: 'e1', topic: 'OrderConfirmed', key: 'order-1', payload: new Uint8Array() }]);
 */
export async function natsTransport(options: NatsTransportOptions = {}): Promise<Transport> {
  if (typeof options !== 'object' || options === null)
    throw new TypeError('natsTransport options must be an object');
  const {
    servers = 'nats://127.0.0.1:4222',
    stream = 'FLOTILLA_EVENTS',
    subjectPrefix = 'flotilla.events',
    partitions = 16,
    duplicateWindowMs = 120_000,
    maxAgeMs = 7 * 24 * 3600 * 1000,
    replicas = 1,
    connection,
    publishTimeoutMs = 5000,
    clock = systemClock,
    onError = (error: unknown) => console.error('[flotilla nats transport]', error),
  } = options;
  if (typeof stream !== 'string' || !STREAM_NAME.test(stream))
    throw new RangeError(
      `natsTransport.stream must be 1 to 200 letters, digits, '_' or '-', got ${JSON.stringify(stream)}`,
    );
  if (typeof subjectPrefix !== 'string' || !PREFIX.test(subjectPrefix))
    throw new RangeError(
      `natsTransport.subjectPrefix must be dot-separated tokens of letters, digits, '_' or '-', got ${JSON.stringify(subjectPrefix)}`,
    );
  checkInteger('natsTransport.partitions', partitions, 1, 1024);
  checkDuration('natsTransport.duplicateWindowMs', duplicateWindowMs);
  checkDuration('natsTransport.maxAgeMs', maxAgeMs);
  if (duplicateWindowMs > maxAgeMs)
    throw new RangeError(
      `natsTransport.duplicateWindowMs (${duplicateWindowMs}) must not exceed natsTransport.maxAgeMs (${maxAgeMs})`,
    );
  checkInteger('natsTransport.replicas', replicas, 1, 5);
  checkDuration('natsTransport.publishTimeoutMs', publishTimeoutMs);

  let nc: NatsConnection;
  try {
    nc =
      connection ??
      (await connect({
        servers: typeof servers === 'string' ? servers : [...servers],
        name: 'flotilla-events',
        maxReconnectAttempts: -1,
        reconnectTimeWait: 500,
        // Every JetStream publish is a request; by default the client captures a stack trace for
        // each one (two Error objects) in case it fails, a measurable share of a relay's CPU.
        // Failures are wrapped in TransportUnavailableError with their cause anyway.
        noAsyncTraces: true,
      }));
  } catch (err) {
    throw new TransportUnavailableError('nats', 'connect', errorMessage(err), { cause: err });
  }
  try {
    const jsm = await jetstreamManager(nc);
    await ensureStream(jsm, { stream, subjectPrefix, partitions, duplicateWindowMs, maxAgeMs, replicas });
    return new NatsTransport(nc, connection === undefined, jsm, jetstream(nc), {
      stream,
      subjectPrefix,
      partitions,
      publishTimeoutMs,
      clock,
      onError,
    });
  } catch (err) {
    if (connection === undefined) await nc.close();
    throw err;
  }
}

interface Settings {
  readonly stream: string;
  readonly subjectPrefix: string;
  readonly partitions: number;
  readonly publishTimeoutMs: number;
  readonly clock: Clock;
  readonly onError: (error: unknown) => void;
}

class NatsTransport implements Transport {
  readonly kind = 'nats';
  private readonly subscriptions = new Set<NatsSubscription>();
  private closed = false;
  private closing: Promise<void> | undefined;

  constructor(
    private readonly nc: NatsConnection,
    private readonly ownsConnection: boolean,
    private readonly jsm: JetStreamManager,
    private readonly js: JetStreamClient,
    private readonly settings: Settings,
  ) {}

  async publish(messages: readonly TransportMessage[], signal?: AbortSignal): Promise<void> {
    if (this.closed) throw new TransportClosedError(this.kind);
    throwIfAborted(signal);
    checkMessages(messages);
    const { subjectPrefix, partitions, stream, publishTimeoutMs } = this.settings;
    // Pipelined: every publish is on the wire before the first ack is awaited. One connection
    // keeps them in order, so the stream stores them in the order given.
    const acks = messages.map((m) => {
      const h = natsHeaders();
      h.set(KEY_HEADER, m.key);
      for (const [name, value] of Object.entries(m.headers ?? {})) h.set(name, value);
      return this.js.publish(subjectOf(subjectPrefix, partitionOf(m.key, partitions), m.topic), m.payload, {
        msgID: m.id,
        headers: h,
        timeout: publishTimeoutMs,
      });
    });
    const all = Promise.all(acks);
    let stored: Awaited<typeof all>;
    try {
      stored = await abortable(all, signal);
    } catch (err) {
      if (signal?.aborted && err === signal.reason) throw err;
      throw new TransportUnavailableError(this.kind, 'publish', errorMessage(err), { cause: err });
    }
    const stranger = stored.find((ack) => ack.stream !== stream);
    if (stranger !== undefined)
      throw new TransportUnavailableError(
        this.kind,
        'publish',
        `messages were stored by stream ${stranger.stream}, not ${stream}: another stream captures ${subjectPrefix}.>`,
      );
  }

  async subscribe(options: SubscribeOptions, handler: DeliveryHandler): Promise<Subscription> {
    if (this.closed) throw new TransportClosedError(this.kind);
    const resolved = resolveSubscription(options, handler);
    let consumers: Consumer[];
    try {
      consumers = await Promise.all(
        Array.from({ length: this.settings.partitions }, (_, p) => this.ensureConsumer(resolved, p)),
      );
    } catch (err) {
      throw new TransportUnavailableError(this.kind, 'subscribe', errorMessage(err), { cause: err });
    }
    if (this.closed) throw new TransportClosedError(this.kind);
    const subscription = new NatsSubscription(
      {
        stream: this.settings.stream,
        subjectPrefix: this.settings.subjectPrefix,
        clock: this.settings.clock,
        onError: this.settings.onError,
        flush: () => this.flushAcks(),
      },
      resolved,
      handler,
      consumers,
      (s) => this.subscriptions.delete(s),
    );
    this.subscriptions.add(subscription);
    return subscription;
  }

  async check(signal: AbortSignal): Promise<void> {
    throwIfAborted(signal);
    if (this.closed) throw new TransportClosedError(this.kind);
    if (this.nc.isClosed())
      throw new TransportUnavailableError(this.kind, 'check', 'the connection is closed');
    try {
      await abortable(this.jsm.streams.info(this.settings.stream), signal);
    } catch (err) {
      if (signal.aborted && err === signal.reason) throw err;
      throw new TransportUnavailableError(this.kind, 'check', errorMessage(err), { cause: err });
    }
  }

  /** Pending plus unacknowledged messages of the group's consumers (every topic of their partitions). */
  async lag(group: string, signal?: AbortSignal): Promise<number> {
    throwIfAborted(signal);
    if (this.closed) throw new TransportClosedError(this.kind);
    const infos = await abortable(
      Promise.all(
        Array.from({ length: this.settings.partitions }, (_, p) => this.consumerInfo(durableName(group, p))),
      ),
      signal,
    );
    return infos.reduce(
      (sum, info) => sum + (info === undefined ? 0 : info.num_pending + info.num_ack_pending),
      0,
    );
  }

  close(): Promise<void> {
    this.closing ??= this.shutDown();
    return this.closing;
  }

  private async shutDown(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.subscriptions].map((s) => s.close()));
    if (this.ownsConnection && !this.nc.isClosed()) await this.nc.close();
  }

  /**
   * Waits until the acks sent so far reached the server, but not long: while the broker is away
   * a flush would wait for the reconnect, and unflushed acks only mean redeliveries.
   */
  private async flushAcks(): Promise<void> {
    if (this.nc.isClosed()) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      this.nc.flush().catch(() => undefined),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, FLUSH_TIMEOUT_MS);
      }),
    ]);
    clearTimeout(timer);
  }

  /** Creates the durable consumer of (group, partition), or aligns the ack wait of an existing one. */
  private async ensureConsumer(
    options: ReturnType<typeof resolveSubscription>,
    partition: number,
  ): Promise<Consumer> {
    const { stream, subjectPrefix } = this.settings;
    const name = durableName(options.group, partition);
    const ackWait = nanos(options.ackWaitMs);
    let info = await this.consumerInfo(name);
    if (info === undefined) {
      try {
        info = await this.jsm.consumers.add(stream, {
          durable_name: name,
          description: `Flotilla group ${options.group}, partition ${partition}`,
          filter_subject: partitionFilter(subjectPrefix, partition),
          ack_policy: AckPolicy.Explicit,
          ack_wait: ackWait,
          // One unacknowledged message per partition, across every instance of the group: the
          // next message of a key is not handed out before the previous one is settled.
          max_ack_pending: 1,
          // Unlimited: dead-lettering is decided above the transport from deliveryCount.
          max_deliver: -1,
          deliver_policy: options.startAt === 'beginning' ? DeliverPolicy.All : DeliverPolicy.New,
          replay_policy: ReplayPolicy.Instant,
        });
      } catch (err) {
        // A competing instance created it first.
        info = await this.consumerInfo(name);
        if (info === undefined) throw err;
      }
    }
    if (info.config.ack_wait !== ackWait)
      info = await this.jsm.consumers.update(stream, name, { ack_wait: ackWait });
    return this.js.consumers.getConsumerFromInfo(info);
  }

  private async consumerInfo(name: string): Promise<ConsumerInfo | undefined> {
    try {
      return await this.jsm.consumers.info(this.settings.stream, name);
    } catch (err) {
      if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.ConsumerNotFound)
        return undefined;
      throw err;
    }
  }
}

/** `promise`, or a rejection with the signal's reason as soon as it aborts. */
function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise;
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    if (signal.aborted) onAbort();
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

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
