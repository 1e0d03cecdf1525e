import type { Clock } from '@flotilla/resilience';
import type { Consumer, ConsumerMessages, JsMsg } from '@nats-io/jetstream';
import type { Delivery, DeliveryHandler, Subscription } from '../../transport.js';
import { runHandler } from '../run-handler.js';
import { Slots } from '../slots.js';
import type { ResolvedSubscription } from '../validation.js';

/** Header carrying the ordering key (the partition is in the subject, the id in `Nats-Msg-Id`). */
export const KEY_HEADER = 'Flotilla-Key';
const ID_HEADER = 'Nats-Msg-Id';
const RESERVED = /^(?:nats-|flotilla-)/i;

/**
 * Messages one pull request asks for. The consumer's `max_ack_pending: 1` still lets only one
 * through at a time; a larger request just stays open across acks, so the next message follows
 * an ack without another pull round trip.
 */
const PULL_BATCH = 64;
/** How long one pull request waits on the server; re-issued by the client when it expires. */
const PULL_EXPIRES_MS = 10_000;
/** Pause before pulling again after the pull loop failed (consumer gone while the broker restarts). */
const RESTART_PAUSE_MS = 1000;

/** What a subscription needs from its transport. */
export interface NatsSubscriptionContext {
  readonly stream: string;
  readonly subjectPrefix: string;
  readonly clock: Clock;
  readonly onError: (error: unknown) => void;
  /** Resolves once acks sent so far have left the client (best effort). */
  readonly flush: () => Promise<void>;
}

/**
 * One subscription on JetStream: a pull loop per partition on that partition's durable consumer
 * (shared with every other instance of the group, `max_ack_pending: 1` keeping the partition in
 * order), the handler bounded by `concurrency` slots and `ackWaitMs` (internal).
 */
export class NatsSubscription implements Subscription {
  private readonly slots: Slots;
  private readonly stopping = new AbortController();
  private readonly pulls = new Set<ConsumerMessages>();
  private readonly loops: Promise<void>[];
  private closing: Promise<void> | undefined;

  constructor(
    private readonly ctx: NatsSubscriptionContext,
    private readonly options: ResolvedSubscription,
    private readonly handler: DeliveryHandler,
    consumers: readonly Consumer[],
    private readonly onClosed: (s: NatsSubscription) => void,
  ) {
    this.slots = new Slots(options.concurrency);
    this.loops = consumers.map((c, partition) => this.pullLoop(c, partition));
  }

  close(): Promise<void> {
    this.closing ??= this.shutDown();
    return this.closing;
  }

  private async shutDown(): Promise<void> {
    this.stopping.abort();
    await Promise.all([...this.pulls].map((p) => p.close().catch(() => undefined)));
    await Promise.all(this.loops);
    await this.ctx.flush().catch(() => undefined);
    this.onClosed(this);
  }

  private async pullLoop(consumer: Consumer, partition: number): Promise<void> {
    const prefixLength = `${this.ctx.subjectPrefix}.${partition}.`.length;
    while (!this.stopping.signal.aborted) {
      let messages: ConsumerMessages | undefined;
      try {
        messages = await consumer.consume({ max_messages: PULL_BATCH, expires: PULL_EXPIRES_MS });
        this.pulls.add(messages);
        if (this.stopping.signal.aborted) await messages.close();
        for await (const m of messages) {
          if (this.stopping.signal.aborted) {
            // Pulled while closing: hand it back at once instead of letting ack_wait run out.
            m.nak();
            continue;
          }
          await this.handle(m, m.subject.slice(prefixLength));
        }
      } catch (err) {
        if (!this.stopping.signal.aborted) this.ctx.onError(err);
      } finally {
        if (messages !== undefined) this.pulls.delete(messages);
      }
      if (!this.stopping.signal.aborted) await pause(this.ctx.clock, RESTART_PAUSE_MS, this.stopping.signal);
    }
  }

  private async handle(m: JsMsg, topic: string): Promise<void> {
    if (!this.options.topics.has(topic)) {
      m.ack();
      return;
    }
    let waited = false;
    let keepAlive: ReturnType<typeof setInterval> | undefined;
    if (!this.slots.available) {
      waited = true;
      // Waiting for a slot is not the handler's time: keep the broker from redelivering meanwhile.
      keepAlive = setInterval(() => m.working(), Math.max(100, this.options.ackWaitMs / 2));
    }
    const granted = await this.slots.acquire(this.stopping.signal);
    if (keepAlive !== undefined) clearInterval(keepAlive);
    if (!granted) {
      m.nak();
      return;
    }
    try {
      // Restart the broker's ack timer as the handler starts, so both measure ackWaitMs from here.
      if (waited) m.working();
      const outcome = await runHandler(
        this.handler,
        toDelivery(m, topic, this.ctx.stream),
        this.ctx.clock,
        this.options.ackWaitMs,
      );
      switch (outcome.kind) {
        case 'ack':
          m.ack();
          break;
        case 'drop':
          m.term();
          break;
        case 'retry':
          m.nak(outcome.delayMs);
          break;
        case 'expired':
          // The handler hung: the broker redelivers when ack_wait runs out; a late settlement is ignored.
          break;
        default:
          outcome satisfies never;
      }
    } finally {
      this.slots.release();
    }
  }
}

function toDelivery(m: JsMsg, topic: string, stream: string): Delivery {
  const headers: Record<string, string> = {};
  let id = `${stream}:${m.seq}`;
  let key = '';
  let any = false;
  for (const name of m.headers?.keys() ?? []) {
    const value = m.headers!.get(name);
    if (name === ID_HEADER) id = value;
    else if (name === KEY_HEADER) key = value;
    else if (!RESERVED.test(name)) {
      headers[name] = value;
      any = true;
    }
  }
  const delivery: Delivery = {
    id,
    topic,
    key,
    payload: m.data,
    deliveryCount: m.info.deliveryCount,
    sequence: m.seq,
  };
  return any ? { ...delivery, headers } : delivery;
}

function pause(clock: Clock, ms: number, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = (): void => {
      clock.clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = clock.setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
