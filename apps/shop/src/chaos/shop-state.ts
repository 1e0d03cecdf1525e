// Reading the whole shop's state through the services' HTTP APIs (never their database files),
// with a service token of its own signed with FLOTILLA_SERVICE_KEY, as any service would call
// another. Lists: orders, payments, reservations (the audit API), stock, shipments,
// notifications, dead letters of every consumer (`GET /dead-letters`), and stuck sagas.
import { serviceTokens } from '@flotilla/service';
import type { Reservation, StockEntry } from '../contracts/inventory-api.js';
import type { NotificationView } from '../contracts/notification-api.js';
import type { OrderView } from '../contracts/order-api.js';
import type { Payment } from '../contracts/payment-api.js';
import type { ShipmentView } from '../contracts/shipping-api.js';

/** A dead letter as `GET /dead-letters` lists it (its error's message only), with the service that holds it. */
export interface DeadLetterEntry {
  readonly service: string;
  readonly id: string;
  readonly group: string;
  readonly eventId: string;
  readonly eventType: string;
  readonly subject: string;
  readonly error: string;
}

/** A saga the runner gave up on. */
export interface StuckSaga {
  readonly id: string;
  readonly step: string | null;
}

/** Where the saga of an unsettled order is (`GET /sagas/:id`; the saga's id is the order's). */
export interface SagaSummary {
  readonly id: string;
  readonly state: string;
  readonly direction: string;
  readonly step: string | null;
  readonly attempt: number;
}

/** At most this many sagas of unsettled orders are read, for the counter-examples. */
const SAGAS_READ = 20;

/** Everything the checker looks at. */
export interface ShopState {
  readonly orders: readonly OrderView[];
  readonly payments: readonly Payment[];
  readonly reservations: readonly Reservation[];
  readonly stock: readonly StockEntry[];
  readonly shipments: readonly ShipmentView[];
  readonly notifications: readonly NotificationView[];
  readonly deadLetters: readonly DeadLetterEntry[];
  readonly stuckSagas: readonly StuckSaga[];
  /** The sagas of (up to 20) orders that are not settled yet. */
  readonly pendingSagas: readonly SagaSummary[];
}

/** The services whose consumers may dead-letter events. */
const CONSUMERS = ['order', 'inventory', 'shipping', 'notification'] as const;

/**
 * Reads the shop's state. `urls` are every service's instance URLs (the first of each is used);
 * `serviceKey` is the system's FLOTILLA_SERVICE_KEY. Rejects when a service does not answer 200.
 */
export async function readShopState(
  urls: Readonly<Record<string, readonly string[]>>,
  serviceKey: string,
  signal?: AbortSignal,
): Promise<ShopState> {
  const tokens = serviceTokens({ service: 'chaos-checker', key: serviceKey });
  const get = async <T>(service: string, path: string): Promise<T> => {
    const base = urls[service]?.[0];
    if (base === undefined) throw new Error(`the system has no service ${service}`);
    const res = await fetch(`${base}${path}`, {
      headers: { authorization: `Bearer ${await tokens.mint(service)}` },
      signal: AbortSignal.any([AbortSignal.timeout(10_000), ...(signal === undefined ? [] : [signal])]),
    });
    const text = await res.text();
    if (res.status !== 200)
      throw new Error(`${service} GET ${path} answered ${res.status}: ${text.slice(0, 300)}`);
    return JSON.parse(text) as T;
  };
  const all = async <T>(service: string, path: string, limit: number): Promise<T[]> => {
    const items: T[] = [];
    let cursor: string | null = null;
    do {
      const sep = path.includes('?') ? '&' : '?';
      const page: { items: T[]; nextCursor: string | null } = await get(
        service,
        `${path}${sep}limit=${limit}${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`,
      );
      items.push(...page.items);
      cursor = page.nextCursor;
    } while (cursor !== null);
    return items;
  };
  const [orders, payments, reservations, stock, shipments, notifications, stuckSagas, ...letters] =
    await Promise.all([
      all<OrderView>('order', '/audit/orders', 1000),
      all<Payment>('payment', '/audit/payments', 1000),
      all<Reservation>('inventory', '/audit/reservations', 1000),
      get<{ items: StockEntry[] }>('inventory', '/stock').then((r) => r.items),
      all<ShipmentView>('shipping', '/shipments', 500),
      all<NotificationView>('notification', '/notifications/all', 500),
      all<StuckSaga>('order', '/sagas?state=stuck', 100),
      ...CONSUMERS.map((service) =>
        get<{ items: (Omit<DeadLetterEntry, 'service' | 'error'> & { error: { message: string } })[] }>(
          service,
          '/dead-letters?limit=1000',
        ).then((r) =>
          r.items.map((d) => ({
            service,
            id: d.id,
            group: d.group,
            eventId: d.eventId,
            eventType: d.eventType,
            subject: d.subject,
            error: d.error.message,
          })),
        ),
      ),
    ]);
  const pendingSagas = await Promise.all(
    orders
      .filter((o) => o.status === 'PENDING')
      .slice(0, SAGAS_READ)
      .map((o) => get<SagaSummary>('order', `/sagas/${o.id}`)),
  );
  return {
    pendingSagas,
    orders,
    payments,
    reservations,
    stock,
    shipments,
    notifications,
    deadLetters: letters.flat(),
    stuckSagas,
  };
}
