// The shop's chaos workload: demo customers ordering concurrently through the gateway while the
// nemesis kills and freezes services. Each client behaves like a careful real one: every order
// carries an Idempotency-Key, and a transport error or a 429/502/503/504 is retried with the SAME
// request and key (backing off) until the gateway answers for good. Some orders are meant to be
// declined (GIFT-013 alone: its amount ends in 13) or to run out of stock (TEA-012 has 3 units).
// The history records every order the gateway accepted (202 + orderId) with its customer: what
// the checker then holds the shop to.
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ChaosWorkload, ChaosWorkloadContext } from 'flotilla';
import { DECLINED_DEMO_SKU, LOW_STOCK_SKU, seedProducts } from '../seed/catalog.js';
import { demoCustomers } from '../seed/customers.js';

/** What an order was meant to do. */
export type OrderIntent = 'regular' | 'declined' | 'low-stock';

/** An order the gateway accepted. */
export interface AcceptedOrder {
  readonly orderId: string;
  /** The customer's id (the `sub` of their login token). */
  readonly customerId: string;
  readonly idempotencyKey: string;
  readonly items: readonly { readonly sku: string; readonly quantity: number }[];
  readonly intent: OrderIntent;
  /** Attempts it took to get the 202 (1 without retries). */
  readonly attempts: number;
}

/** A request whose outcome the client never learned (it gave up when the run ended). */
export interface UnknownOutcome {
  readonly customerId: string;
  readonly idempotencyKey: string;
  readonly error: string;
}

/** The workload's history: what the shop acknowledged. */
export interface ShopChaosHistory {
  readonly orders: readonly AcceptedOrder[];
  readonly unknown: readonly UnknownOutcome[];
  /** Requests retried after a transport error or a retryable status. */
  readonly retries: number;
}

const RETRYABLE = new Set([429, 502, 503, 504]);
/** SKUs of regular orders: plenty of stock, never declined. */
const REGULAR_SKUS = seedProducts
  .filter((p) => p.sku !== DECLINED_DEMO_SKU && p.sku !== LOW_STOCK_SKU && p.initialStock >= 300)
  .map((p) => p.sku);
/** The customers who order (the staff account only manages the catalogue). */
const CUSTOMERS = demoCustomers.filter((c) => c.extraScopes.length === 0);

/** Thrown when the run gave up on a request: its outcome is unknown. */
class GaveUp extends Error {}

/**
 * Sends a request until the answer is not retryable, the same request every time; retries
 * transport errors and 429/502/503/504 with backoff. Attempt `n` goes to gateway
 * `(first + n - 1) % gateways.length`, so with several gateway instances a retry reaches another
 * one, as a client behind DNS or a load balancer would. Throws {@link GaveUp} once `signal` aborts.
 */
async function send(
  gateways: readonly string[],
  first: number,
  path: string,
  init: RequestInit,
  signal: AbortSignal,
  onRetry: () => void,
): Promise<{ status: number; body: unknown; attempts: number }> {
  let lastError = 'no attempt';
  for (let attempt = 1; ; attempt++) {
    if (signal.aborted) throw new GaveUp(lastError);
    const url = `${gateways[(first + attempt - 1) % gateways.length]}${path}`;
    try {
      // Each attempt has a deadline of its own: a frozen gateway must not hold the client forever.
      const res = await fetch(url, {
        ...init,
        signal: AbortSignal.any([signal, AbortSignal.timeout(10_000)]),
      });
      const text = await res.text();
      if (!RETRYABLE.has(res.status)) {
        let body: unknown = text;
        try {
          body = JSON.parse(text);
        } catch {
          // Not JSON: keep the text.
        }
        return { status: res.status, body, attempts: attempt };
      }
      lastError = `HTTP ${res.status}`;
    } catch (err) {
      lastError = err instanceof Error ? err.message : String(err);
    }
    onRetry();
    await sleep(Math.min(2_000, 50 * 2 ** Math.min(attempt, 6)), undefined, { signal }).catch(() => {});
  }
}

/** What one order of a client looks like, drawn from the seeded numbers. */
function nextOrder(random: () => number): { items: AcceptedOrder['items']; intent: OrderIntent } {
  const draw = random();
  if (draw < 0.1) return { items: [{ sku: DECLINED_DEMO_SKU, quantity: 1 }], intent: 'declined' };
  if (draw < 0.15) return { items: [{ sku: LOW_STOCK_SKU, quantity: 1 }], intent: 'low-stock' };
  const pick = (): string => REGULAR_SKUS[Math.floor(random() * REGULAR_SKUS.length)] as string;
  const first = pick();
  const second = pick();
  const quantity = 1 + Math.floor(random() * 2);
  return {
    items:
      first === second || random() < 0.5
        ? [{ sku: first, quantity }]
        : [
            { sku: first, quantity },
            { sku: second, quantity: 1 },
          ],
    intent: 'regular',
  };
}

/**
 * The workload of `flotilla chaos` for the shop: `concurrency` clients, each a demo customer,
 * placing orders (with a short pause between them) until the run's duration ends.
 */
export const shopWorkload: ChaosWorkload<ShopChaosHistory> = async (ctx: ChaosWorkloadContext) => {
  const orders: AcceptedOrder[] = [];
  const unknown: UnknownOutcome[] = [];
  let retries = 0;
  const onRetry = (): void => {
    retries++;
  };
  const { gatewayUrl, signal, stop, report } = ctx;
  // Every instance of the gateway; client i starts on gateway i.
  const gateways =
    ctx.urls.gateway !== undefined && ctx.urls.gateway.length > 0 ? ctx.urls.gateway : [gatewayUrl];

  const login = async (customer: (typeof CUSTOMERS)[number], first: number): Promise<string> => {
    const res = await send(
      gateways,
      first,
      '/api/login',
      {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: customer.email, password: customer.password }),
      },
      signal,
      onRetry,
    );
    const token = (res.body as { token?: unknown }).token;
    if (res.status !== 200 || typeof token !== 'string')
      throw new Error(`login of ${customer.email} answered ${res.status}: ${JSON.stringify(res.body)}`);
    return token;
  };

  const client = async (index: number): Promise<void> => {
    const customer = CUSTOMERS[index % CUSTOMERS.length];
    if (customer === undefined) throw new Error('the seed has no demo customers');
    let token: string;
    try {
      token = await login(customer, index);
    } catch (err) {
      if (err instanceof GaveUp) return;
      throw err;
    }
    while (!stop.aborted) {
      const { items, intent } = nextOrder(ctx.random);
      const idempotencyKey = `chaos-${randomUUID()}`;
      const request = (): Promise<{ status: number; body: unknown; attempts: number }> =>
        send(
          gateways,
          index,
          '/api/v2/orders',
          {
            method: 'POST',
            headers: {
              authorization: `Bearer ${token}`,
              'content-type': 'application/json',
              'idempotency-key': idempotencyKey,
            },
            body: JSON.stringify({ items }),
          },
          signal,
          onRetry,
        );
      try {
        let res = await request();
        if (res.status === 401) {
          token = await login(customer, index);
          res = await request();
        }
        const orderId = (res.body as { orderId?: unknown }).orderId;
        if (res.status === 202 && typeof orderId === 'string') {
          orders.push({
            orderId,
            customerId: customer.id,
            idempotencyKey,
            items,
            intent,
            attempts: res.attempts,
          });
          report('accepted');
        } else report(`rejected_${res.status}`);
      } catch (err) {
        if (!(err instanceof GaveUp)) throw err;
        unknown.push({ customerId: customer.id, idempotencyKey, error: err.message });
        report('gave_up');
        return;
      }
      await sleep(50 + Math.floor(ctx.random() * 200), undefined, { signal: stop }).catch(() => {});
    }
  };

  await Promise.all(Array.from({ length: ctx.concurrency }, (_, i) => client(i)));
  return { orders, unknown, retries };
};
