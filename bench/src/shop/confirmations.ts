import { randomBytes } from 'node:crypto';
import {
  type Subscription,
  type Transport,
  type TransportFromUrlOptions,
  transportFromUrl,
} from '@flotilla/events';

/** How an order ended, as the order service announced it. */
export interface OrderOutcome {
  readonly status: 'CONFIRMED' | 'CANCELLED';
  /** Cancellation reason (`OUT_OF_STOCK`, …). */
  readonly reason?: string;
  /**
   * When the order service changed the order's status, epoch ms: the event's `time`, stamped in
   * the transaction that confirms or cancels the order (the same instant as its `updated_at`).
   */
  readonly at: number;
}

/** Waits for the order service's verdict on orders, by id. */
export interface Confirmations {
  /** Resolves with the order's outcome, or `undefined` once `timeoutMs` has passed without one. */
  wait(orderId: string, timeoutMs: number): Promise<OrderOutcome | undefined>;
  close(): Promise<void>;
}

interface Envelope {
  readonly time: string;
  readonly data: { readonly orderId: string; readonly reason?: string };
}

const decoder = new TextDecoder();

/**
 * Follows orders to their end without polling: a consumer group of its own on the transport the
 * shop's services use (the embedded log, or NATS JetStream), subscribed to the order service's
 * `OrderConfirmed` and `OrderCancelled` events — one more subscriber beside shipping and
 * notification. An event that arrives before anyone waits for its order is kept.
 */
export async function followOrders(
  transportUrl: string,
  options: TransportFromUrlOptions = {},
): Promise<Confirmations> {
  const transport: Transport = await transportFromUrl(transportUrl, options);
  const outcomes = new Map<string, OrderOutcome>();
  const waiters = new Map<string, (outcome: OrderOutcome) => void>();
  let subscription: Subscription;
  try {
    subscription = await transport.subscribe(
      {
        group: `bench-shop-${randomBytes(4).toString('hex')}`,
        topics: ['OrderConfirmed', 'OrderCancelled'],
        startAt: 'new',
        concurrency: 64,
      },
      async (delivery) => {
        const envelope = JSON.parse(decoder.decode(delivery.payload)) as Envelope;
        const outcome: OrderOutcome = {
          status: delivery.topic === 'OrderConfirmed' ? 'CONFIRMED' : 'CANCELLED',
          ...(envelope.data.reason === undefined ? {} : { reason: envelope.data.reason }),
          at: Date.parse(envelope.time),
        };
        const waiter = waiters.get(envelope.data.orderId);
        if (waiter === undefined) outcomes.set(envelope.data.orderId, outcome);
        else waiter(outcome);
        return { kind: 'ack' };
      },
    );
  } catch (err) {
    await transport.close();
    throw err;
  }
  return {
    wait(orderId, timeoutMs) {
      const known = outcomes.get(orderId);
      if (known !== undefined) {
        outcomes.delete(orderId);
        return Promise.resolve(known);
      }
      return new Promise((resolve) => {
        const timer = setTimeout(() => {
          waiters.delete(orderId);
          resolve(undefined);
        }, timeoutMs);
        waiters.set(orderId, (outcome) => {
          clearTimeout(timer);
          waiters.delete(orderId);
          resolve(outcome);
        });
      });
    },
    async close() {
      await subscription.close();
      await transport.close();
    },
  };
}
