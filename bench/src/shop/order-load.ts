import { setTimeout as sleep } from 'node:timers/promises';
import type { Dispatcher, Pool } from 'undici';
import { quantile } from '../lib/stats.js';
import type { Confirmations } from './confirmations.js';
import type { PlannedOrder } from './order-plan.js';

/** How long an order may take to be confirmed or cancelled before it counts as an error. */
const OUTCOME_TIMEOUT_MS = 60_000;

/** Attempts of one POST before the order counts as an error (the shop's load scenario uses 8 too). */
const MAX_ATTEMPTS = 8;
/**
 * Answers after which a client sends the same request again (same Idempotency-Key), backing off:
 * v2 orders are idempotent, so any gateway refusal or timeout may be retried; a v1 order has no
 * key, so only answers that say it was not taken (429, and 503 with an open circuit) are.
 */
const RETRYABLE = { v2: new Set([429, 502, 503, 504]), v1: new Set([429, 503]) } as const;

/** What one load run measured. */
export interface LoadResult {
  readonly orders: number;
  /** Orders confirmed (v2: CONFIRMED event; v1: 201). */
  readonly confirmed: number;
  /** Orders the shop refused or cancelled (v2: CANCELLED; v1: 402 or 409). */
  readonly cancelled: number;
  /** Anything else: other statuses, transport errors, orders without an outcome in time. */
  readonly errors: number;
  /** Counts by cancellation reason and by error. */
  readonly reasons: Readonly<Record<string, number>>;
  /** Requests sent again after a retryable answer, by answer. */
  readonly retries: Readonly<Record<string, number>>;
  /** Confirmed orders per second, from the first submit to the last confirmation. */
  readonly rate: number;
  /** Submit-to-confirmed (v2) or request (v1) latency of the confirmed orders, ms. */
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** From the first submit to the last confirmation, ms. */
  readonly elapsedMs: number;
}

/** How orders are placed and followed. */
export type OrderApi =
  /** POST /api/v2/orders (202), then the order service's verdict from its events. */
  | { readonly version: 'v2'; readonly confirmations: Confirmations }
  /** POST /api/v1/orders: the monolith answers 201 once the order is confirmed. */
  | { readonly version: 'v1' };

/** Options of {@link placeOrders}. */
export interface PlaceOrdersOptions {
  /**
   * One pool per gateway instance: client `i` sends every request through `pools[i % n]`, as
   * clients behind a load balancer would spread over the instances.
   */
  readonly pools: readonly Pool[];
  readonly tokens: readonly string[];
  readonly orders: readonly PlannedOrder[];
  /** Orders in flight at once: a client places its next order once its previous one is settled. */
  readonly concurrency: number;
  readonly api: OrderApi;
  /** Makes the Idempotency-Keys unique to this run. */
  readonly runId: string;
}

async function errorCode(body: { json(): Promise<unknown> }): Promise<string> {
  try {
    const parsed = (await body.json()) as { error?: { code?: string } };
    return parsed.error?.code ?? 'no error code';
  } catch {
    return 'no JSON body';
  }
}

/**
 * Places `orders` through the gateway (the clients spread over its instances) with `concurrency`
 * clients, each of which places an order and follows it until it is confirmed or cancelled
 * before it places the next (a closed loop, like the shop's `flotilla load` scenario, without
 * its poller).
 */
export async function placeOrders(options: PlaceOrdersOptions): Promise<LoadResult> {
  const { pools, tokens, orders, api, runId } = options;
  if (pools.length === 0) throw new RangeError('placeOrders: no pool to send orders through');
  const latencies: number[] = [];
  const reasons: Record<string, number> = {};
  const retries: Record<string, number> = {};
  const count = (key: string, into = reasons): void => {
    into[key] = (into[key] ?? 0) + 1;
  };
  const retryable = RETRYABLE[api.version];

  /** POSTs the order, again on a retryable answer (or, for v2, a transport error). */
  const send = async (pool: Pool, index: number, order: PlannedOrder): Promise<Dispatcher.ResponseData> => {
    for (let attempt = 1; ; attempt++) {
      try {
        const res = await pool.request({
          path: api.version === 'v2' ? '/api/v2/orders' : '/api/v1/orders',
          method: 'POST',
          headers: {
            authorization: `Bearer ${tokens[order.customer]}`,
            'content-type': 'application/json',
            'idempotency-key': `bench-${runId}-${index}`,
          },
          body: JSON.stringify({ items: order.items }),
        });
        if (!retryable.has(res.statusCode) || attempt >= MAX_ATTEMPTS) return res;
        count(`${res.statusCode} ${await errorCode(res.body)}`, retries);
      } catch (err) {
        if (api.version === 'v1' || attempt >= MAX_ATTEMPTS) throw err;
        count(err instanceof Error ? err.name : 'error', retries);
      }
      await sleep(Math.min(2_000, 50 * 2 ** attempt));
    }
  };
  let confirmed = 0;
  let cancelled = 0;
  let errors = 0;
  let firstSubmit = Number.POSITIVE_INFINITY;
  let lastConfirmed = Number.NEGATIVE_INFINITY;
  let next = 0;

  const placeOne = async (pool: Pool, index: number, order: PlannedOrder): Promise<void> => {
    const submitAt = Date.now();
    firstSubmit = Math.min(firstSubmit, submitAt);
    const res = await send(pool, index, order);
    if (api.version === 'v1') {
      if (res.statusCode === 201) {
        await res.body.dump();
        const at = Date.now();
        confirmed++;
        latencies.push(at - submitAt);
        lastConfirmed = Math.max(lastConfirmed, at);
      } else if (res.statusCode === 402 || res.statusCode === 409) {
        cancelled++;
        count(await errorCode(res.body));
      } else {
        errors++;
        count(`${res.statusCode} ${await errorCode(res.body)}`);
      }
      return;
    }
    if (res.statusCode !== 202) {
      errors++;
      count(`${res.statusCode} ${await errorCode(res.body)}`);
      return;
    }
    const { orderId } = (await res.body.json()) as { orderId: string };
    const outcome = await api.confirmations.wait(orderId, OUTCOME_TIMEOUT_MS);
    if (outcome === undefined) {
      errors++;
      count(`no outcome within ${OUTCOME_TIMEOUT_MS / 1000} s`);
    } else if (outcome.status === 'CONFIRMED') {
      confirmed++;
      latencies.push(outcome.at - submitAt);
      lastConfirmed = Math.max(lastConfirmed, outcome.at);
    } else {
      cancelled++;
      count(outcome.reason ?? 'CANCELLED');
    }
  };

  const client = async (_: unknown, clientIndex: number): Promise<void> => {
    const pool = pools[clientIndex % pools.length]!;
    for (let index = next++; index < orders.length; index = next++) {
      try {
        await placeOne(pool, index, orders[index]!);
      } catch (err) {
        errors++;
        count(err instanceof Error ? `${err.name}: ${err.message}` : String(err));
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.concurrency, orders.length) }, client));
  const elapsedMs = lastConfirmed - firstSubmit;
  return {
    orders: orders.length,
    confirmed,
    cancelled,
    errors,
    reasons,
    retries,
    rate: confirmed === 0 || !(elapsedMs > 0) ? 0 : (confirmed * 1000) / elapsedMs,
    p50Ms: quantile(latencies, 0.5),
    p99Ms: quantile(latencies, 0.99),
    elapsedMs: confirmed === 0 ? 0 : elapsedMs,
  };
}
