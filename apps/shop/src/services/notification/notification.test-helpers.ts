// Helpers of the notification tests (not a test file itself): the service on a temp data folder,
// a JSON caller, and publishers standing in for the order and shipping services on its bus.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type AnyEventContract,
  createEventBus,
  type EventInput,
  eventsMigrations,
  transportFromUrl,
} from '@flotilla/events';
import type { RunningService } from '@flotilla/service';
import { startForTest, testToken } from '@flotilla/service/testing';
import { openStore } from '@flotilla/store';
import { createNotificationService, type NotificationDeps } from './service.js';

/** A JSON answer. */
export interface Answer {
  readonly status: number;
  // biome-ignore lint/suspicious/noExplicitAny: tests read whatever the route answered
  readonly body: any;
}

/** Publishes events as another service would, through its own outbox, on the test's bus. */
export interface TestPublisher {
  publish<C extends AnyEventContract>(
    event: C,
    input: { subject: string; id?: string; data: EventInput<C> },
  ): Promise<void>;
  close(): Promise<void>;
}

/** A running notification service for a test. */
export interface TestNotification {
  readonly svc: RunningService<NotificationDeps>;
  readonly order: TestPublisher;
  readonly shipping: TestPublisher;
  call(path: string, options?: { user?: string; token?: string | null }): Promise<Answer>;
  /** Resolves once the service has handled `count` events in all. */
  handled(count: number): Promise<void>;
  close(): Promise<void>;
}

async function openPublisher(dir: string, service: string): Promise<TestPublisher> {
  const store = await openStore({
    service,
    url: `sqlite:${join(dir, `${service}-publisher.db`)}`,
    migrations: eventsMigrations,
  });
  const transport = await transportFromUrl(`embedded:${join(dir, 'bus.db')}`);
  const bus = createEventBus({ service, store, transport });
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

/** Starts notification on a fresh data folder with order and shipping publishers beside it. */
export async function startNotification(): Promise<TestNotification> {
  const dir = mkdtempSync(join(tmpdir(), 'flotilla-notification-'));
  const env = {
    FLOTILLA_LOG_LEVEL: 'silent',
    FLOTILLA_DATA_DIR: dir,
    FLOTILLA_TRANSPORT: `embedded:${join(dir, 'bus.db')}`,
  };
  const opened: { close(): Promise<unknown> }[] = [];
  const close = async (): Promise<void> => {
    try {
      for (const o of opened.reverse()) await o.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
  try {
    const svc = await startForTest(createNotificationService(), { env });
    opened.push(svc);
    const order = await openPublisher(dir, 'order');
    opened.push(order);
    const shipping = await openPublisher(dir, 'shipping');
    opened.push(shipping);
    return {
      svc,
      order,
      shipping,
      async call(path, o = {}) {
        const token =
          o.token === undefined
            ? await testToken(
                'notification',
                'gateway',
                o.user === undefined ? undefined : { id: o.user, scopes: ['orders:read'] },
              )
            : o.token;
        const res = await fetch(
          `${svc.url}${path}`,
          token === null ? {} : { headers: { authorization: token } },
        );
        const text = await res.text();
        return { status: res.status, body: text === '' ? undefined : JSON.parse(text) };
      },
      async handled(count) {
        const until = Date.now() + 15_000;
        for (;;) {
          const stats = await svc.deps.bus.stats();
          if ((stats.groups.notification?.handled ?? 0) >= count) return;
          if (Date.now() > until) throw new Error(`timed out waiting for ${count} handled events`);
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
      },
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}
