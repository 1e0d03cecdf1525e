// The shop's load scenario for `flotilla load`: a demo customer logs in (once per run), orders one
// or two products through the gateway with an Idempotency-Key, retries the same request on
// transport errors and 429/502/503/504 like a real client, then follows the order until it is
// CONFIRMED or CANCELLED. About 2% of orders are the declined demo product alone (its price ends
// in 13 cents, which the payment simulator declines).
import { setTimeout as sleep } from 'node:timers/promises';
import type { LoadContext } from 'flotilla';
import { DECLINED_DEMO_SKU, LOW_STOCK_SKU, seedProducts } from '../seed/catalog.js';
import { demoCustomers } from '../seed/customers.js';

/** SKUs a regular load order picks from: plenty of stock, never declined. */
const REGULAR_SKUS = seedProducts
  .filter((p) => p.sku !== DECLINED_DEMO_SKU && p.sku !== LOW_STOCK_SKU && p.initialStock >= 500)
  .map((p) => p.sku);

/** How long one order may stay PENDING before the iteration reports it as `still_pending`. */
const SETTLE_TIMEOUT_MS = 60_000;
const RETRYABLE = new Set([429, 502, 503, 504]);

async function login(gatewayUrl: string, signal: AbortSignal, index: number): Promise<string> {
  const customer = demoCustomers[index % demoCustomers.length];
  if (customer === undefined) throw new Error('the seed has no demo customers');
  const res = await fetch(`${gatewayUrl}/api/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: customer.email, password: customer.password }),
    signal,
  });
  if (!res.ok) throw new Error(`login of ${customer.email} answered ${res.status}: ${await res.text()}`);
  return ((await res.json()) as { token: string }).token;
}

/** Sends `init` until it gets an answer that is not retryable (at most 8 attempts, backing off). */
async function send(url: string, init: RequestInit, signal: AbortSignal): Promise<Response> {
  for (let attempt = 1; ; attempt++) {
    try {
      const res = await fetch(url, { ...init, signal });
      if (!RETRYABLE.has(res.status) || attempt >= 8) return res;
      await res.arrayBuffer();
    } catch (error) {
      if (signal.aborted || attempt >= 8) throw error;
    }
    await sleep(Math.min(2_000, 50 * 2 ** attempt), undefined, { signal });
  }
}

/** One iteration: place an order and follow it to its end; reports `confirmed`, `cancelled:<reason>`, … */
export async function load({
  gatewayUrl,
  signal,
  random,
  once,
  iteration,
  report,
}: LoadContext): Promise<string> {
  const customers = Math.min(demoCustomers.length, 4);
  const token = await once(`token-${iteration % customers}`, () =>
    login(gatewayUrl, signal, iteration % customers),
  );
  const auth = { authorization: `Bearer ${token}` };
  const pick = () => REGULAR_SKUS[Math.floor(random() * REGULAR_SKUS.length)] as string;
  const first = pick();
  const second = random() < 0.3 ? pick() : first;
  const items = [{ sku: first, quantity: 1 }];
  if (second !== first) items.push({ sku: second, quantity: 1 });
  if (random() < 0.02) items.splice(0, items.length, { sku: DECLINED_DEMO_SKU, quantity: 1 });

  const placed = await send(
    `${gatewayUrl}/api/v2/orders`,
    {
      method: 'POST',
      headers: {
        ...auth,
        'content-type': 'application/json',
        'idempotency-key': `load-${crypto.randomUUID()}`,
      },
      body: JSON.stringify({ items }),
    },
    signal,
  );
  if (placed.status !== 202) {
    await placed.arrayBuffer();
    return `rejected_${placed.status}`;
  }
  report('accepted');
  const { orderId } = (await placed.json()) as { orderId: string };

  const deadline = Date.now() + SETTLE_TIMEOUT_MS;
  for (let wait = 20; Date.now() < deadline; wait = Math.min(500, wait * 2)) {
    await sleep(wait, undefined, { signal });
    const res = await send(`${gatewayUrl}/api/v2/orders/${orderId}`, { headers: auth }, signal);
    if (!res.ok) {
      await res.arrayBuffer();
      continue;
    }
    const view = (await res.json()) as { order: { status: string; reason?: string } };
    if (view.order.status === 'CONFIRMED') return 'confirmed';
    if (view.order.status === 'CANCELLED') return `cancelled:${view.order.reason ?? 'unknown'}`;
  }
  return 'still_pending';
}
