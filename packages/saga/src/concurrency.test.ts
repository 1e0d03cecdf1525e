import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { exponentialBackoff } from '@flotilla/resilience';
import { openStore } from '@flotilla/store';
import { requirePg } from '@flotilla/store/testing';
import { sql } from 'kysely';
import { defineSaga } from './define-saga.js';
import { defer, freshDatabase, orderMigrations, type ShopDb } from './saga.test-helpers.js';
import type { SagaEvent } from './saga-events.js';
import { createSagaRunner } from './saga-runner.js';

const pg = await requirePg();
const quiet = { info: () => {}, warn: () => {}, error: () => {} };

interface Execution {
  readonly key: string;
  readonly attempt: number;
  readonly start: number;
  end: number;
}

describe('runners sharing one PostgreSQL database', { skip: pg.skip }, () => {
  it('never run the same step attempt at the same time, and each step runs once', async (t) => {
    const db = await freshDatabase('postgres', 'shared');
    defer(t, () => db.cleanup());
    const log: Execution[] = [];
    const running = new Map<string, number>();
    let overlaps = 0;
    const step = (name: string) => ({
      kind: 'retriable' as const,
      action: async (_ctx: unknown, s: { sagaId: string; attempt: number; idempotencyKey: string }) => {
        const key = s.idempotencyKey;
        if ((running.get(key) ?? 0) > 0) overlaps++;
        running.set(key, (running.get(key) ?? 0) + 1);
        const entry: Execution = { key, attempt: s.attempt, start: performance.now(), end: 0 };
        log.push(entry);
        // Real I/O between the start and the end of the attempt, so that overlaps could happen.
        await new Promise((resolve) => setTimeout(resolve, 1 + (key.length % 3)));
        entry.end = performance.now();
        running.set(key, (running.get(key) ?? 1) - 1);
        return { [name]: true };
      },
    });
    const byRunner = new Map<string, number>();
    const saga = defineSaga<{ n: number }>('shared', { version: 1 })
      .step('a', step('a'))
      .step('b', step('b'))
      .step('c', step('c'));
    const seed = await openStore<ShopDb>({ service: 'order', url: db.url, migrations: orderMigrations });
    defer(t, () => seed.close());
    // Started with no runner running here: unleased, for whichever runner claims them.
    const seeder = createSagaRunner({ store: seed, sagas: [saga], logger: quiet });
    const ids: string[] = [];
    for (let n = 0; n < 60; n++) ids.push(await seed.transaction((tx) => seeder.start(tx, saga, { n })));

    const runners = await Promise.all(
      ['runner-a', 'runner-b', 'runner-c'].map(async (instanceId) => {
        const store = await openStore<ShopDb>({
          service: 'order',
          url: db.url,
          migrations: orderMigrations,
          pool: { max: 5 },
        });
        const runner = createSagaRunner({
          store,
          sagas: [saga],
          instanceId,
          concurrency: 8,
          claimBatchSize: 4,
          pollIntervalMs: 20,
          logger: quiet,
        });
        runner.onEvent((e: SagaEvent) => {
          if (e.type === 'step-succeeded') byRunner.set(instanceId, (byRunner.get(instanceId) ?? 0) + 1);
        });
        defer(t, async () => {
          await runner.close();
          await store.close();
        });
        return runner;
      }),
    );
    await Promise.all(runners.map((r) => r.run()));
    const states = await Promise.all(ids.map((id) => (runners[0] as (typeof runners)[number]).settled(id)));
    assert.ok(states.every((s) => s === 'completed'));
    assert.equal(overlaps, 0);
    assert.equal(log.length, ids.length * 3, 'each step ran exactly once');
    const keys = new Set(log.map((e) => e.key));
    assert.equal(keys.size, ids.length * 3);
    // The work was shared, and no step ran twice across runners.
    assert.ok(byRunner.size >= 2, `only ${[...byRunner.keys()].join(', ')} did any work`);
    assert.equal(
      [...byRunner.values()].reduce((x, y) => x + y, 0),
      ids.length * 3,
    );
  });

  it('retries a failed step after a jittered backoff, its due time stored in whole milliseconds', async (t) => {
    const db = await freshDatabase('postgres', 'jitter');
    defer(t, () => db.cleanup());
    const store = await openStore<ShopDb>({ service: 'order', url: db.url, migrations: orderMigrations });
    defer(t, () => store.close());
    const failures: unknown[] = [];
    const saga = defineSaga<{ n: number }>('jittered', { version: 1 }).step('flaky', {
      kind: 'retriable',
      retry: { backoff: exponentialBackoff({ initialDelayMs: 10, maxDelayMs: 20 }) },
      action: async (_ctx, s) => {
        if (s.attempt === 1) throw new Error('first attempt fails');
        return { done: true };
      },
    });
    const runner = createSagaRunner({
      store,
      sagas: [saga],
      pollIntervalMs: 20,
      // Backoff jitter makes delays like 13.37 ms; the bigint due time must still take them.
      random: () => 0.337,
      logger: { ...quiet, error: (obj) => failures.push(obj) },
    });
    defer(t, () => runner.close());
    await runner.run();
    const id = await store.transaction((tx) => runner.start(tx, saga, { n: 1 }));
    assert.equal(await runner.settled(id), 'completed');
    assert.deepEqual(failures, []);
    const saved = await runner.get(id);
    assert.deepEqual(
      saved.timeline.map((x) => `${x.attempt}:${x.outcome}`),
      ['1:error', '2:ok'],
    );
  });

  it('fences a runner whose lease was taken over: its late checkpoint is refused', async (t) => {
    const db = await freshDatabase('postgres', 'fencing');
    defer(t, () => db.cleanup());
    let release: () => void = () => {};
    const blocked = new Promise<void>((resolve) => {
      release = resolve;
    });
    const attempts: string[] = [];
    const saga = defineSaga<{ n: number }>('fenced', { version: 1 }).step('slow', {
      kind: 'pivot',
      retry: { maxAttempts: 1 },
      action: async (_ctx, s) => {
        attempts.push(`attempt ${s.attempt}`);
        if (s.attempt === 1) {
          await blocked;
          return { by: 'stale runner' };
        }
        return { by: 'new owner' };
      },
    });
    const open = () =>
      openStore<ShopDb>({ service: 'order', url: db.url, migrations: orderMigrations, pool: { max: 4 } });
    const storeA = await open();
    const storeB = await open();
    const a = createSagaRunner({
      store: storeA,
      sagas: [saga],
      instanceId: 'stale',
      logger: quiet,
      // A does not poll again during the test: only B may take the expired lease.
      pollIntervalMs: 600_000,
    });
    const b = createSagaRunner({
      store: storeB,
      sagas: [saga],
      instanceId: 'owner',
      logger: quiet,
      pollIntervalMs: 20,
    });
    defer(t, async () => {
      release();
      await a.close();
      await b.close();
      await storeA.close();
      await storeB.close();
    });
    const aEvents: SagaEvent[] = [];
    a.onEvent((e) => aEvents.push(e));
    await a.run();
    const id = await storeA.transaction((tx) => a.start(tx, saga, { n: 1 }));
    while (attempts.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    // Runner A stalls past its lease (a GC pause, a partition): the lease runs out.
    await sql`update flotilla_saga_instances set lease_until = 0 where id = ${id}`.execute(storeA.db);
    await b.run();
    assert.equal(await b.settled(id), 'completed');
    release();
    while (!aEvents.some((e) => e.type === 'lease-lost'))
      await new Promise((resolve) => setTimeout(resolve, 5));
    const saved = await b.get(id);
    assert.deepEqual(saved.context, { n: 1, by: 'new owner' });
    assert.deepEqual(attempts, ['attempt 1', 'attempt 2']);
    assert.deepEqual(
      saved.timeline.map((x) => `${x.attempt}:${x.outcome}:${x.epoch}`),
      ['1:started:1', '2:ok:2'],
    );
  });
});
