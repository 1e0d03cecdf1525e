// Helpers of the shipping tests (not a test file itself): the service on a temp data folder, a
// JSON caller, and a publisher standing in for the order service on the same embedded bus.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type AnyEventContract,
  createEventBus,
  type EventBus,
  type EventInput,
  eventsMigrations,
  type Transport,
  transportFromUrl,
} from '@flotilla/events';
import type { RunningService } from '@flotilla/service';
import { startForTest, testToken } from '@flotilla/service/testing';
import { openStore, type Store } from '@flotilla/store';
import { createShippingService, type ShippingDeps, type ShippingServiceOptions } from './service.js';

/** A JSON answer. */
export interface Answer {
  readonly status: number;
  // biome-ignore lint/suspicious/noExplicitAny: tests read whatever the route answered
  readonly body: any;
}

/** Publishes events as another service would: its own store, outbox and relay on the test's bus. */
export interface TestPublisher {
  publish<C extends AnyEventContract>(
    event: C,
    input: { subject: string; id?: string; data: EventInput<C> },
  ): Promise<void>;
  close(): Promise<void>;
}

/** A running shipping service for a test. */
export interface TestShipping {
  readonly svc: RunningService<ShippingDeps>;
  readonly dir: string;
  /** Publishes as the order service. */
  readonly order: TestPublisher;
  call(path: string, options?: { user?: string; token?: string | null }): Promise<Answer>;
  close(): Promise<void>;
}

/** Opens a publisher named `service` on the embedded bus of `dir`. */
export async function openPublisher(dir: string, service: string): Promise<TestPublisher> {
  const store: Store<unknown> = await openStore({
    service,
    url: `sqlite:${join(dir, `${service}-publisher.db`)}`,
    migrations: eventsMigrations,
  });
  const transport: Transport = await transportFromUrl(`embedded:${join(dir, 'bus.db')}`);
  const bus: EventBus<unknown> = createEventBus({ service, store, transport });
  await bus.start();
  return {
    publish: async (event, input) => {
      await store.transaction(async (tx) => {
        await bus.publish(tx, event, input);
      });
    },
    close: async () => {
      await bus.close();
      await transport.close();
      await store.close();
    },
  };
}

/** Starts shipping on a fresh data folder with an order publisher beside it. */
export async function startShipping(
  options: ShippingServiceOptions & { env?: Record<string, string> } = {},
): Promise<TestShipping> {
  const dir = mkdtempSync(join(tmpdir(), 'flotilla-shipping-'));
  const env = {
    FLOTILLA_LOG_LEVEL: 'silent',
    FLOTILLA_DATA_DIR: dir,
    FLOTILLA_TRANSPORT: `embedded:${join(dir, 'bus.db')}`,
    ...options.env,
  };
  let svc: RunningService<ShippingDeps> | undefined;
  let order: TestPublisher | undefined;
  try {
    svc = await startForTest(createShippingService(options), { env });
    order = await openPublisher(dir, 'order');
  } catch (err) {
    await svc?.close();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const running = svc;
  const publisher = order;
  return {
    svc: running,
    dir,
    order: publisher,
    async call(path, o = {}) {
      const token =
        o.token === undefined
          ? await testToken(
              'shipping',
              'gateway',
              o.user === undefined ? undefined : { id: o.user, scopes: ['orders:read'] },
            )
          : o.token;
      const res = await fetch(
        `${running.url}${path}`,
        token === null ? {} : { headers: { authorization: token } },
      );
      const text = await res.text();
      return { status: res.status, body: text === '' ? undefined : JSON.parse(text) };
    },
    async close() {
      try {
        await publisher.close();
        await running.close();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

/** Resolves with `probe()`'s first non-undefined value, checking every 10 ms for up to `timeoutMs`. */
export async function eventually<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 15_000,
): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
