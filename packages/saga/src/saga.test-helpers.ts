// Shared set-up of the saga tests (not a test file itself).
import { createEventBus, eventsMigrations, memoryTransport, type Transport } from '@flotilla/events';
import { constantBackoff, type ManualClock, manualClock } from '@flotilla/resilience';
import { type Migration, openStore, type Store, type Tx } from '@flotilla/store';
import { createTestDatabase, requirePg, tempSqliteUrl } from '@flotilla/store/testing';
import { sql } from 'kysely';
import { idempotencyMigrations, idempotent, sagaMigrations } from './index.js';
import type { SagaRunnerOptions } from './runner-options.js';
import { createSagaRunner, type SagaRunner } from './saga-runner.js';

/** The order service's tables in the tests. */
export interface ShopDb {
  orders: { id: string; status: string };
}

/** A participant's tables: one row per applied effect. */
export interface ParticipantDb {
  effects: { key: string; saga_id: string; step: string; kind: string };
}

export const orderMigrations: readonly Migration[] = [
  { id: '0001_orders', up: 'create table orders (id text primary key, status text not null)' },
  ...eventsMigrations,
  ...sagaMigrations,
  ...idempotencyMigrations,
];

export const participantMigrations: readonly Migration[] = [
  {
    id: '0001_effects',
    up: 'create table effects (key text not null, saga_id text not null, step text not null, kind text not null)',
  },
  ...idempotencyMigrations,
];

const pg = await requirePg();

type TestLike = { after(fn: () => unknown): void };
const stacks = new WeakMap<TestLike, (() => unknown)[]>();

/**
 * Registers a clean-up to run after the test, in reverse order of registration (a bus closes
 * before the store under it), even when the test failed.
 */
export function defer(t: TestLike, fn: () => unknown): void {
  let stack = stacks.get(t);
  if (stack === undefined) {
    const list: (() => unknown)[] = [];
    stack = list;
    stacks.set(t, list);
    t.after(async () => {
      for (const f of list.reverse()) await f();
    });
  }
  stack.push(fn);
}

/** The dialects every database test runs on. */
export const dialects = [
  { dialect: 'sqlite' as const, skip: false as const },
  { dialect: 'postgres' as const, skip: pg.skip },
];

/** A fresh database of `dialect`; `cleanup` closes nothing, it removes the database. */
export async function freshDatabase(
  dialect: 'sqlite' | 'postgres',
  name: string,
): Promise<{ url: string; cleanup: () => Promise<void> }> {
  if (dialect === 'sqlite') {
    const file = tempSqliteUrl(name);
    return { url: file.url, cleanup: async () => file.cleanup() };
  }
  const database = await createTestDatabase({ prefix: `saga_${name.replace(/[^a-z0-9_]/g, '_')}` });
  return { url: database.url, cleanup: () => database.drop() };
}

/** Opens a fresh store; registers its closing and removal with `t.after`. */
export async function testStore<DB>(
  t: { after(fn: () => unknown): void },
  dialect: 'sqlite' | 'postgres',
  service: string,
  migrations: readonly Migration[],
): Promise<Store<DB> & { url: string }> {
  const db = await freshDatabase(dialect, service);
  const store = await openStore<DB>({ service, url: db.url, migrations, pool: { max: 20 } });
  defer(t, async () => {
    await store.close();
    await db.cleanup();
  });
  return Object.assign(store, { url: db.url });
}

/**
 * A participant service in-process: its own database, every effect applied through
 * `idempotent()`, and a switchboard of failures.
 */
export class Participant {
  /** Step names whose action refuses (a definite no, `retryable: false`) this many more times. */
  readonly failing = new Map<string, number>();
  /** Step names whose action fails transiently (a plain error, worth retrying) this many more times. */
  readonly flaky = new Map<string, number>();
  /** Steps whose compensation fails this many more times. */
  readonly failingCompensation = new Map<string, number>();
  calls = 0;

  constructor(readonly store: Store<ParticipantDb>) {}

  /** Applies the action of `step` for key `key` (throws when told to fail). */
  act(key: string, sagaId: string, step: string): Promise<{ [k: string]: string }> {
    this.calls++;
    const transient = this.flaky.get(step) ?? 0;
    if (transient > 0) {
      this.flaky.set(step, transient - 1);
      return Promise.reject(new Error(`${step} is unavailable`));
    }
    const left = this.failing.get(step) ?? 0;
    if (left > 0) {
      this.failing.set(step, left - 1);
      // A definite refusal (like a 4xx): the participant did not act.
      return Promise.reject(Object.assign(new Error(`${step} refused`), { retryable: false }));
    }
    return this.store.transaction((tx) =>
      idempotent(tx, key, async (tx) => {
        await tx.insertInto('effects').values({ key, saga_id: sagaId, step, kind: 'action' }).execute();
        return { [`${step}Ref`]: `${step}-${sagaId}` };
      }),
    );
  }

  /** Undoes `step` for key `key`. */
  undo(key: string, sagaId: string, step: string): Promise<void> {
    this.calls++;
    const left = this.failingCompensation.get(step) ?? 0;
    if (left > 0) {
      this.failingCompensation.set(step, left - 1);
      return Promise.reject(new Error(`${step} compensation refused`));
    }
    return this.store.transaction((tx) =>
      idempotent(tx, key, async (tx) => {
        await tx.insertInto('effects').values({ key, saga_id: sagaId, step, kind: 'compensation' }).execute();
      }),
    );
  }

  /** Effects of a saga in insertion order, as `step:kind`. */
  async effects(sagaId?: string): Promise<string[]> {
    let q = this.store.db.selectFrom('effects').select(['step', 'kind', 'saga_id']);
    if (sagaId !== undefined) q = q.where('saga_id', '=', sagaId);
    const rows = await q.execute();
    return rows.map((r) => `${r.step}:${r.kind}`);
  }
}

/** Runs the clock forward until `promise` settles (real I/O gets to run between steps). */
export async function drive<T>(clock: ManualClock, promise: Promise<T>, stepMs = 100): Promise<T> {
  let done = false;
  const watched = promise.finally(() => {
    done = true;
  });
  // Real time only bounds a hung test; the assertions never depend on it.
  const giveUpAt = Date.now() + 120_000;
  while (!done && Date.now() < giveUpAt) {
    await clock.advance(stepMs);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  return watched;
}

/** A runner on `store` with a manual clock and quick, jitter-free retries; closed with `t.after`. */
export function testRunner<DB>(
  t: { after(fn: () => unknown): void },
  store: Store<DB>,
  options: Partial<SagaRunnerOptions<DB>> & Pick<SagaRunnerOptions<DB>, 'sagas'>,
  clock: ManualClock = manualClock(1_700_000_000_000),
): { runner: SagaRunner<DB>; clock: ManualClock } {
  const runner = createSagaRunner<DB>({
    store,
    clock,
    now: () => clock.now(),
    leaseMs: 1_000_000_000,
    pollIntervalMs: 1000,
    compensationBackoff: constantBackoff(1000),
    stuckAfterAttempts: 3,
    logger: { info: () => {}, warn: () => {}, error: () => {} },
    ...options,
  });
  defer(t, () => runner.close());
  return { runner, clock };
}

/** An event bus over a memory transport for command tests. */
export function memoryBus<DB>(
  t: { after(fn: () => unknown): void },
  store: Store<DB>,
  clock: ManualClock,
  shared?: Transport,
) {
  const transport = shared ?? memoryTransport();
  const bus = createEventBus<DB>({
    service: store.service,
    store,
    transport,
    clock,
    now: () => clock.now(),
    relay: { pollIntervalMs: 5 },
  });
  defer(t, async () => {
    await bus.close();
    if (shared === undefined) await transport.close();
  });
  return bus;
}

/** Inserts an order and starts `saga` for it in one transaction. */
export function placeOrder<DB extends ShopDb>(
  store: Store<DB>,
  runner: SagaRunner<DB>,
  saga: string,
  input: object,
  id: string,
): Promise<string> {
  return store.transaction(async (tx) => {
    await sql`insert into orders (id, status) values (${id}, 'PENDING')`.execute(tx as Tx<DB>);
    return runner.start(tx, saga, input, { id });
  });
}
