// Helpers of the inventory tests: a service on a temp data folder and a JSON caller.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunningService } from '@flotilla/service';
import { startForTest, testToken } from '@flotilla/service/testing';
import { createInventoryService, type InventoryDeps, type InventoryServiceOptions } from './service.js';

/** A JSON answer. */
export interface Answer {
  readonly status: number;
  // biome-ignore lint/suspicious/noExplicitAny: tests read whatever the route answered
  readonly body: any;
}

/** A running inventory for a test, and how to call it. */
export interface TestInventory {
  readonly svc: RunningService<InventoryDeps>;
  readonly dir: string;
  readonly env: Record<string, string>;
  call(
    method: string,
    path: string,
    options?: { body?: unknown; raw?: string; key?: string; user?: string },
  ): Promise<Answer>;
  close(): Promise<void>;
}

/** Starts inventory on a fresh data folder (SQLite unless `env` names a database). */
export async function startInventory(
  options: InventoryServiceOptions & { env?: Record<string, string> } = {},
): Promise<TestInventory> {
  const dir = mkdtempSync(join(tmpdir(), 'flotilla-inventory-'));
  const env = {
    FLOTILLA_LOG_LEVEL: 'silent',
    FLOTILLA_DATA_DIR: dir,
    FLOTILLA_TRANSPORT: `embedded:${join(dir, 'bus.db')}`,
    ...options.env,
  };
  let svc: RunningService<InventoryDeps>;
  try {
    svc = await startForTest(createInventoryService(options), { env });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    svc,
    dir,
    env,
    async call(method, path, o = {}) {
      const headers: Record<string, string> = {
        authorization: await testToken(
          'inventory',
          'order',
          o.user === undefined ? undefined : { id: o.user, scopes: ['orders:read'] },
        ),
      };
      if (o.key !== undefined) headers['idempotency-key'] = o.key;
      if (o.body !== undefined || o.raw !== undefined) headers['content-type'] = 'application/json';
      const res = await fetch(`${svc.url}${path}`, {
        method,
        headers,
        ...(o.raw !== undefined
          ? { body: o.raw }
          : o.body === undefined
            ? {}
            : { body: JSON.stringify(o.body) }),
      });
      const text = await res.text();
      return { status: res.status, body: text === '' ? undefined : JSON.parse(text) };
    },
    async close() {
      try {
        await svc.close();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
