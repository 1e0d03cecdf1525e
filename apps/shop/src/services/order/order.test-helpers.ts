// Helpers of the order tests (not a test file itself): the order service with the real legacy,
// inventory and payment services (and optionally shipping and notification) in this process, on
// one temp data folder and one embedded event bus; a JSON caller; an observer of published events.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type AnyEventContract,
  createEventBus,
  type EventEnvelope,
  eventsMigrations,
  transportFromUrl,
} from '@flotilla/events';
import type { ManualClock } from '@flotilla/resilience';
import { discovery, type RunningService, type Service } from '@flotilla/service';
import { startForTest, testToken } from '@flotilla/service/testing';
import { openStore } from '@flotilla/store';
import { createInventoryService } from '../inventory/service.js';
import { createLegacyService } from '../legacy/service.js';
import { createNotificationService } from '../notification/service.js';
import { createPaymentService } from '../payment/service.js';
import { createShippingService } from '../shipping/service.js';
import type { OrderDeps } from './order-deps.js';
import { createOrderService, type OrderServiceOptions } from './service.js';

/** A JSON answer. */
export interface Answer {
  readonly status: number;
  // biome-ignore lint/suspicious/noExplicitAny: tests read whatever the route answered
  readonly body: any;
}

/** How a test calls a service. */
export interface CallOptions {
  readonly method?: string;
  readonly body?: unknown;
  /** A raw request body (sent as JSON unless `contentType` says otherwise). */
  readonly raw?: string;
  readonly contentType?: string;
  readonly idempotencyKey?: string;
  /** The end user in the service token; `null` for none. @default 'cus-0001' */
  readonly user?: string | null;
  /** The whole `authorization` header instead of a service token; `null` for none. */
  readonly authorization?: string | null;
}

/** Calls `service` at `baseUrl` as the gateway would, on behalf of `user`. */
export async function callService(
  service: string,
  baseUrl: string,
  path: string,
  o: CallOptions = {},
): Promise<Answer> {
  const user = o.user === undefined ? 'cus-0001' : o.user;
  const authorization =
    o.authorization === undefined
      ? await testToken(
          service,
          'gateway',
          user === null ? undefined : { id: user, scopes: ['orders:read', 'orders:write'] },
        )
      : o.authorization;
  const headers: Record<string, string> = {};
  if (authorization !== null) headers.authorization = authorization;
  if (o.idempotencyKey !== undefined) headers['idempotency-key'] = o.idempotencyKey;
  const body = o.raw ?? (o.body === undefined ? undefined : JSON.stringify(o.body));
  if (body !== undefined) headers['content-type'] = o.contentType ?? 'application/json';
  const res = await fetch(`${baseUrl}${path}`, {
    method: o.method ?? (body === undefined ? 'GET' : 'POST'),
    headers,
    ...(body === undefined ? {} : { body }),
  });
  const text = await res.text();
  return { status: res.status, body: text === '' ? undefined : JSON.parse(text) };
}

/** The environment every service of a test shares: quiet, one data folder, one embedded bus. */
export function shopEnv(dir: string): Record<string, string> {
  return {
    FLOTILLA_LOG_LEVEL: 'silent',
    FLOTILLA_DATA_DIR: dir,
    FLOTILLA_TRANSPORT: `embedded:${join(dir, 'bus.db')}`,
    FLOTILLA_JWT_SECRET: 'order-tests-end-user-token-secret-0123456789',
    // Retries and compensations back off for a few ms in tests, not seconds.
    ORDER_RETRY_INITIAL_DELAY_MS: '1',
    ORDER_RETRY_MAX_DELAY_MS: '5',
    ORDER_COMPENSATION_MAX_DELAY_MS: '20',
    ORDER_SAGA_POLL_INTERVAL_MS: '50',
  };
}

/** The participants the order service calls, running in this process. */
export interface Participants {
  readonly dir: string;
  readonly env: Record<string, string>;
  readonly legacy: RunningService<unknown>;
  readonly inventory: RunningService<unknown>;
  readonly payment: RunningService<unknown>;
  /** Shipping and notification, when asked for. */
  readonly shipping: RunningService<unknown> | undefined;
  readonly notification: RunningService<unknown> | undefined;
  /** `FLOTILLA_<SERVICE>_URL` of each. */
  readonly urls: Record<string, string>;
  close(): Promise<void>;
}

/** Starts legacy, inventory and payment (and shipping and notification if asked) on a fresh folder. */
export async function startParticipants(
  options: { consumers?: boolean; env?: Record<string, string> } = {},
): Promise<Participants> {
  const dir = mkdtempSync(join(tmpdir(), 'flotilla-order-'));
  const env = { ...shopEnv(dir), ...options.env };
  const started: RunningService<unknown>[] = [];
  const start = async <D>(service: Service<D>): Promise<RunningService<unknown>> => {
    const running = (await startForTest(service, { env })) as RunningService<unknown>;
    started.push(running);
    return running;
  };
  const close = async (): Promise<void> => {
    try {
      for (const s of started.reverse()) if (s.phase !== 'stopped') await s.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
  try {
    const legacy = await start(createLegacyService());
    const inventory = await start(createInventoryService());
    const payment = await start(createPaymentService());
    const shipping = options.consumers === true ? await start(createShippingService()) : undefined;
    const notification = options.consumers === true ? await start(createNotificationService()) : undefined;
    const urls = {
      FLOTILLA_LEGACY_URL: legacy.url,
      FLOTILLA_INVENTORY_URL: inventory.url,
      FLOTILLA_PAYMENT_URL: payment.url,
    };
    return { dir, env, legacy, inventory, payment, shipping, notification, urls, close };
  } catch (err) {
    await close();
    throw err;
  }
}

/** The order service and its participants in this process. */
export interface TestShop extends Participants {
  readonly order: RunningService<OrderDeps>;
  /** Calls the order service. */
  call(path: string, options?: CallOptions): Promise<Answer>;
  /** Calls a participant (inventory, payment, shipping, notification) as an operator, without an end user. */
  inspect(service: 'inventory' | 'payment' | 'shipping' | 'notification', path: string): Promise<Answer>;
  /** Places an order and waits until its saga settled; resolves with the final order. */
  placeAndSettle(items: readonly { sku: string; quantity: number }[], options?: CallOptions): Promise<Answer>;
}

/**
 * Starts the order service with its participants; `env` adds to (or overrides) the shared
 * environment, `order` are the order service's own options (a manual clock).
 */
export async function startShop(
  options: { consumers?: boolean; env?: Record<string, string>; order?: OrderServiceOptions } = {},
): Promise<TestShop> {
  const participants = await startParticipants(options);
  let order: RunningService<OrderDeps>;
  try {
    order = await startForTest(createOrderService(options.order), {
      env: participants.env,
      discovery: discovery({ env: participants.urls }),
    });
  } catch (err) {
    await participants.close();
    throw err;
  }
  const call = (path: string, o?: CallOptions) => callService('order', order.url, path, o);
  return {
    ...participants,
    order,
    call,
    inspect: (service, path) => {
      const running = participants[service];
      if (running === undefined) throw new Error(`${service} is not running in this test`);
      return callService(service, running.url, path, { user: null });
    },
    async placeAndSettle(items, o = {}) {
      const placed = await call('/orders', {
        body: { items },
        idempotencyKey: o.idempotencyKey ?? `key-${Math.random()}`,
        ...o,
      });
      if (placed.status !== 202) return placed;
      await order.deps.runner.settled(placed.body.orderId);
      return call(`/orders/${placed.body.orderId}`, o);
    },
    async close() {
      try {
        if (order.phase !== 'stopped') await order.close();
      } finally {
        await participants.close();
      }
    },
  };
}

/** Collects every event of some types published on a test's embedded bus. */
export interface EventObserver {
  readonly events: EventEnvelope[];
  /** Resolves with the events matching `predicate` once there are at least `count`. */
  waitFor(predicate: (e: EventEnvelope) => boolean, count?: number): Promise<EventEnvelope[]>;
  close(): Promise<void>;
}

/** Subscribes a throw-away consumer group to `contracts` on the embedded bus of `dir`, from the beginning. */
export async function observeEvents(
  dir: string,
  contracts: readonly AnyEventContract[],
): Promise<EventObserver> {
  const store = await openStore({
    service: 'test-observer',
    url: `sqlite:${join(dir, 'test-observer.db')}`,
    migrations: eventsMigrations,
  });
  const transport = await transportFromUrl(`embedded:${join(dir, 'bus.db')}`);
  const bus = createEventBus({ service: 'test-observer', store, transport });
  const events: EventEnvelope[] = [];
  bus.subscribe({
    group: 'test-observer',
    events: contracts,
    startAt: 'beginning',
    handler: async (event) => {
      events.push(event as EventEnvelope);
    },
  });
  await bus.start();
  return {
    events,
    waitFor: (predicate, count = 1) =>
      eventually(`${count} matching event(s)`, () => {
        const found = events.filter(predicate);
        return found.length >= count ? found : undefined;
      }),
    close: async () => {
      await bus.close();
      await transport.close();
      await store.close();
    },
  };
}

/**
 * Moves `clock` forward in steps of `stepMs` until `promise` settles, letting real I/O (HTTP
 * calls, database writes) run between steps; real time only bounds a hung test.
 */
export async function drive<T>(clock: ManualClock, promise: Promise<T>, stepMs = 100): Promise<T> {
  let done = false;
  const watched = promise.finally(() => {
    done = true;
  });
  const giveUpAt = Date.now() + 60_000;
  while (!done && Date.now() < giveUpAt) {
    await clock.advance(stepMs);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  return watched;
}

/** Resolves with `probe()`'s first non-undefined value, checking every 10 ms for up to `timeoutMs`. */
export async function eventually<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 20_000,
): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
