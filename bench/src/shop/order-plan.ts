import type { Pool } from 'undici';

/**
 * The shop's demo customers (apps/shop/src/seed/customers.ts; public demo passwords, printed by
 * `npm start`). The staff account is left out: these are the customers who shop.
 */
export const DEMO_CUSTOMERS: readonly { readonly email: string; readonly password: string }[] = [
  { email: 'ada@example.com', password: 'analytical-engine' },
  { email: 'grace@example.com', password: 'cobol-1959' },
  { email: 'alan@example.com', password: 'bombe-1940' },
  { email: 'barbara@example.com', password: 'clu-1974' },
  { email: 'edsger@example.com', password: 'shortest-path' },
  { email: 'margaret@example.com', password: 'apollo-11' },
];

/** SKUs a benchmark order never carries: always declined by payment, and a 3-unit product. */
const AVOIDED_SKUS = new Set(['GIFT-013', 'TEA-012']);
/** Units of each SKU left untouched by the plan, so that a run never reaches zero stock. */
const STOCK_MARGIN = 5;

/** One order of the plan: who places it and what. */
export interface PlannedOrder {
  /** Index into the customers' tokens. */
  readonly customer: number;
  readonly items: readonly { readonly sku: string; readonly quantity: number }[];
}

/** A product the plan may use: its price and the units in stock when the shop starts. */
export interface StockedProduct {
  readonly sku: string;
  readonly priceMinor: number;
  readonly available: number;
}

async function getJson<T>(pool: Pool, path: string, headers: Record<string, string> = {}): Promise<T> {
  const res = await pool.request({ path, method: 'GET', headers });
  if (res.statusCode !== 200)
    throw new Error(`GET ${path} answered ${res.statusCode}: ${await res.body.text()}`);
  return (await res.body.json()) as T;
}

/** Logs every demo customer in through the gateway; returns their bearer tokens. */
export async function loginCustomers(pool: Pool): Promise<string[]> {
  const tokens: string[] = [];
  for (const c of DEMO_CUSTOMERS) {
    const res = await pool.request({
      path: '/api/login',
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: c.email, password: c.password }),
    });
    if (res.statusCode !== 200)
      throw new Error(`login of ${c.email} answered ${res.statusCode}: ${await res.body.text()}`);
    tokens.push(((await res.body.json()) as { token: string }).token);
  }
  return tokens;
}

/**
 * The products a plan may use, read through the gateway from a freshly seeded shop: the
 * monolith's catalogue (`GET /api/v1/products`) and the inventory service's stock
 * (`GET /api/v2/inventory/:sku`), without the avoided SKUs and any price ending in 13 cents.
 */
export async function stockedProducts(pool: Pool): Promise<StockedProduct[]> {
  const products: { sku: string; priceMinor: number }[] = [];
  let cursor: string | null = null;
  do {
    const page: { items: { sku: string; priceMinor: number }[]; nextCursor: string | null } = await getJson(
      pool,
      `/api/v1/products?limit=100${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`,
    );
    products.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor !== null);
  const out: StockedProduct[] = [];
  for (const p of products) {
    if (AVOIDED_SKUS.has(p.sku) || p.priceMinor % 100 === 13) continue;
    const stock = await getJson<{ available: number }>(
      pool,
      `/api/v2/inventory/${encodeURIComponent(p.sku)}`,
    );
    if (stock.available > STOCK_MARGIN * 4) out.push({ ...p, available: stock.available });
  }
  if (out.length < 2) throw new Error(`the shop has only ${out.length} products in stock to order`);
  return out;
}

/**
 * `count` orders over the customers in turn, each of one unit of a product, every third with a
 * second product; the products rotate through the catalogue so that no stock row is hot, and
 * no product is planned past its stock (less a margin). Orders are deterministic: every set-up
 * places the same ones. Throws when the seed's stock cannot carry `count` orders.
 */
export function planOrders(
  count: number,
  customers: number,
  products: readonly StockedProduct[],
): PlannedOrder[] {
  const left = new Map(products.map((p) => [p.sku, p.available - STOCK_MARGIN]));
  const price = new Map(products.map((p) => [p.sku, p.priceMinor]));
  let next = 0;
  const take = (except?: string): string | undefined => {
    for (let tried = 0; tried < products.length; tried++) {
      const sku = products[next++ % products.length]!.sku;
      if (sku !== except && (left.get(sku) ?? 0) > 0) {
        left.set(sku, left.get(sku)! - 1);
        return sku;
      }
    }
    return undefined;
  };
  const orders: PlannedOrder[] = [];
  for (let i = 0; i < count; i++) {
    const first = take();
    if (first === undefined) {
      const units = products.reduce((n, p) => n + p.available - STOCK_MARGIN, 0);
      throw new RangeError(
        `the seed's stock (${units} units across ${products.length} products) cannot carry ${count} orders; use fewer orders`,
      );
    }
    const items = [{ sku: first, quantity: 1 }];
    if (i % 3 === 0) {
      const second = take(first);
      // A total ending in 13 cents is declined by the payment demo rule.
      if (second !== undefined && ((price.get(first) ?? 0) + (price.get(second) ?? 0)) % 100 !== 13)
        items.push({ sku: second, quantity: 1 });
      else if (second !== undefined) left.set(second, left.get(second)! + 1);
    }
    orders.push({ customer: i % customers, items });
  }
  return orders;
}
