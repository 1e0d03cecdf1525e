/**
 * The narrow interface between the event bus and a message transport (memory, embedded SQLite
 * log, NATS JetStream; a Kafka transport would be one more implementation). A transport moves
 * opaque messages; envelopes, schemas, the outbox and the inbox live above it.
 */

/** One message as a transport carries it. */
export interface TransportMessage {
  /**
   * Unique id (the event id); transports deduplicate on it where they can. 1 to 256 characters,
   * no line breaks.
   */
  readonly id: string;
  /**
   * Topic = event type, e.g. `"OrderCreated"`. Letters, digits, `_`, `-` and `.` only; dots
   * separate non-empty segments (`"orders.OrderCreated"`).
   */
  readonly topic: string;
  /**
   * Ordering key = aggregate id. Messages with the same key are delivered in publish order within
   * a group. 1 to 1024 characters, no line breaks.
   */
  readonly key: string;
  /** The serialised envelope. */
  readonly payload: Uint8Array;
  /**
   * Small string headers (trace context, content type). Names are HTTP-style tokens (letters,
   * digits, `-`, `_`, `.`) and must not start with `Nats-` or `Flotilla-`, which transports
   * reserve; values have no line breaks.
   */
  readonly headers?: Readonly<Record<string, string>>;
}

/** A message handed to a subscriber, with what it needs to settle it. */
export interface Delivery extends TransportMessage {
  /** 1 on first delivery, then 2, 3, … on redeliveries. */
  readonly deliveryCount: number;
  /** Position in the transport's log, when it has one (for diagnostics and replay). */
  readonly sequence?: number;
}

/** What a handler tells the transport about one delivery. */
export type Settlement =
  | { readonly kind: 'ack' }
  /** Redeliver this message after `delayMs`; later messages of the same key wait for it. */
  | { readonly kind: 'retry'; readonly delayMs: number }
  /** Never deliver this message again to this group (it has been dead-lettered above). */
  | { readonly kind: 'drop' };

/** Options of one subscription. */
export interface SubscribeOptions {
  /**
   * Consumer group. Instances subscribing with the same group share the work (competing
   * consumers); different groups each get every message. Letters, digits, `_`, `-` and `.`
   * (1 to 100 characters).
   */
  readonly group: string;
  /**
   * Topics to receive (at least one). Every subscriber of a group should name the same topics:
   * messages of other topics are settled without a handler call by whichever subscriber holds
   * their partition.
   */
  readonly topics: readonly string[];
  /**
   * Where a group seen for the first time starts: `"new"` (only messages published from now
   * on) or `"beginning"` (all retained history, to build a projection).
   * @default 'new'
   */
  readonly startAt?: 'new' | 'beginning';
  /**
   * Maximum deliveries being handled at once by this subscriber (across keys; one key is
   * always handled one message at a time).
   * @default 16
   */
  readonly concurrency?: number;
  /**
   * How long a delivery may stay unsettled, in milliseconds, before the transport delivers it
   * again (deliveryCount + 1), possibly to another consumer: the visibility timeout. It covers
   * both a consumer that died (its claim is not renewed) and a handler that hangs in a live
   * process (its delivery is abandoned and its late settlement ignored), so it must exceed the
   * slowest handler. The clock starts when the handler is called, not while a delivery waits
   * for a free `concurrency` slot (transports that can extend the broker's timer do so then).
   * @default 30000
   */
  readonly ackWaitMs?: number;
}

/**
 * Handles one delivery. The returned settlement tells the transport what to do; a handler that
 * throws is treated as `{ kind: 'retry', delayMs: 1000 }` by the transport.
 */
export type DeliveryHandler = (delivery: Delivery) => Promise<Settlement>;

/** A live subscription. */
export interface Subscription {
  /**
   * Stops taking new deliveries, waits for those in progress (each at most `ackWaitMs`), records
   * their settlements, and releases the subscriber's share of the group.
   */
  close(): Promise<void>;
}

/** What every transport implements. */
export interface Transport {
  /** `"memory"`, `"embedded"`, `"nats"`, … */
  readonly kind: string;
  /**
   * Publishes messages durably, in order. When the promise resolves, every message is stored by
   * the transport (it survives a crash of this process; the memory transport only keeps it in
   * memory). A message whose id was already published may be dropped as a duplicate.
   */
  publish(messages: readonly TransportMessage[], signal?: AbortSignal): Promise<void>;
  /** Starts delivering messages of `options.topics` to `handler`. */
  subscribe(options: SubscribeOptions, handler: DeliveryHandler): Promise<Subscription>;
  /** Resolves when the transport can publish and deliver; rejects with the reason otherwise. */
  check(signal: AbortSignal): Promise<void>;
  /**
   * Messages of the group's topics not yet settled by `group` (approximate: transports may count
   * topics the group does not subscribe to, or lag behind the latest settlements), for dashboards
   * and readiness details. 0 for a group the transport has never seen.
   */
  lag?(group: string, signal?: AbortSignal): Promise<number>;
  /**
   * Closes every subscription gracefully (in-flight handlers finish and are settled), then the
   * connections the transport owns. Publishing or subscribing afterwards rejects.
   */
  close(): Promise<void>;
}
