import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { manualClock } from '@flotilla/resilience';
import type { Store } from '@flotilla/store';
import { type KyselyPlugin, sql } from 'kysely';
import { idempotencyPruner, pruneIdempotencyKeys } from './idempotency-pruner.js';
import { idempotent } from './idempotent.js';
import type { SagaLogger } from './logger.js';
import { dialects, type ParticipantDb, participantMigrations, testStore } from './saga.test-helpers.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const T0 = Date.UTC(2026, 0, 1);

/** Inserts keys recorded at the given epoch ms. */
async function insertKeys(store: Store<ParticipantDb>, rows: Record<string, number>): Promise<void> {
  for (const [key, at] of Object.entries(rows))
    await sql`insert into flotilla_saga_idempotency (key, result, created_at) values (${key}, ${'"r"'}, ${at})`.execute(
      store.db,
    );
}

async function keys(store: Store<ParticipantDb>): Promise<string[]> {
  const { rows } = await sql<{ key: string }>`select key from flotilla_saga_idempotency order by key`.execute(
    store.db,
  );
  return rows.map((r) => r.key);
}

/** A logger that keeps what it was told. */
function recordingLogger(): SagaLogger & {
  lines: { level: string; obj: Record<string, unknown>; msg: string }[];
} {
  const lines: { level: string; obj: Record<string, unknown>; msg: string }[] = [];
  return {
    lines,
    info: (obj, msg) => lines.push({ level: 'info', obj, msg }),
    warn: (obj, msg) => lines.push({ level: 'warn', obj, msg }),
    error: (obj, msg) => lines.push({ level: 'error', obj, msg }),
  };
}

for (const { dialect, skip } of dialects) {
  describe(`idempotency key retention on ${dialect}`, { skip }, () => {
    it('migration 0002 indexes created_at', async (t) => {
      const store = await testStore<ParticipantDb>(t, dialect, 'payment', participantMigrations);
      const { rows } =
        dialect === 'sqlite'
          ? await sql<{
              name: string;
            }>`select name from sqlite_master where type = 'index' and tbl_name = 'flotilla_saga_idempotency'`.execute(
              store.db,
            )
          : await sql<{
              name: string;
            }>`select indexname as name from pg_indexes where tablename = 'flotilla_saga_idempotency'`.execute(
              store.db,
            );
      assert.ok(
        rows.some((r) => r.name === 'flotilla_saga_idempotency_by_time'),
        JSON.stringify(rows),
      );
    });

    it('deletes the keys older than the retention and keeps the recent ones', async (t) => {
      const store = await testStore<ParticipantDb>(t, dialect, 'payment', participantMigrations);
      const now = T0 + 30 * DAY;
      await insertKeys(store, {
        old1: now - 9 * DAY,
        old2: now - 7 * DAY - 1,
        edge: now - 7 * DAY,
        recent: now - HOUR,
      });
      assert.equal(await pruneIdempotencyKeys(store.db, { olderThanMs: 7 * DAY, now }), 2);
      assert.deepEqual(await keys(store), ['edge', 'recent']);
      assert.equal(await pruneIdempotencyKeys(store.db, { olderThanMs: 7 * DAY, now }), 0);
    });

    it('deletes in bounded batches until a batch comes back short', async (t) => {
      const store = await testStore<ParticipantDb>(t, dialect, 'payment', participantMigrations);
      const now = T0 + 30 * DAY;
      await insertKeys(store, {
        a: now - 10 * DAY,
        b: now - 10 * DAY + 1,
        c: now - 10 * DAY + 2,
        d: now - 10 * DAY + 3,
        e: now - 10 * DAY + 4,
        kept: now,
      });
      let statements = 0;
      const counting: KyselyPlugin = {
        transformQuery: ({ node }) => {
          statements++;
          return node;
        },
        transformResult: async ({ result }) => result,
      };
      const deleted = await pruneIdempotencyKeys(store.db.withPlugin(counting), {
        olderThanMs: DAY,
        now,
        batchSize: 2,
      });
      assert.equal(deleted, 5);
      assert.equal(statements, 3, 'batches of 2, 2 and 1');
      assert.deepEqual(await keys(store), ['kept']);

      // A backlog that is a multiple of the batch needs one more (empty) batch to know it is done.
      await insertKeys(store, { f: now - 5 * DAY, g: now - 5 * DAY, h: now - 5 * DAY, i: now - 5 * DAY });
      statements = 0;
      assert.equal(
        await pruneIdempotencyKeys(store.db.withPlugin(counting), { olderThanMs: DAY, now, batchSize: 2 }),
        4,
      );
      assert.equal(statements, 3);
    });

    it('stops between batches when its signal aborts', async (t) => {
      const store = await testStore<ParticipantDb>(t, dialect, 'payment', participantMigrations);
      await insertKeys(store, { a: T0, b: T0, c: T0 });
      const controller = new AbortController();
      controller.abort(new Error('closing'));
      await assert.rejects(
        pruneIdempotencyKeys(store.db, { olderThanMs: 0, now: T0 + DAY, signal: controller.signal }),
        /closing/,
      );
      assert.equal((await keys(store)).length, 3);
    });

    it('prunes on the clock and stops after dispose', async (t) => {
      const store = await testStore<ParticipantDb>(t, dialect, 'payment', participantMigrations);
      const clock = manualClock(T0);
      const logger = recordingLogger();
      await insertKeys(store, { day0: T0, day1: T0 + DAY });
      const pruner = idempotencyPruner({
        store,
        retentionMs: DAY,
        everyMs: HOUR,
        clock,
        now: clock.now,
        logger,
      });
      t.after(() => pruner.dispose());

      await clock.advance(HOUR);
      await pruner.idle();
      assert.deepEqual(await keys(store), ['day0', 'day1'], 'nothing older than a day yet');

      // Each tick is scheduled when the previous prune has finished: move time an hour at a time.
      for (let hour = 0; hour < 24; hour++) {
        await clock.advance(HOUR);
        await pruner.idle();
      }
      assert.deepEqual(await keys(store), ['day1']);
      assert.deepEqual(
        logger.lines.map((l) => [l.level, l.msg, l.obj.deleted]),
        [['info', 'pruned idempotency keys', 1]],
      );

      pruner.dispose();
      pruner.dispose();
      assert.equal(clock.pendingTimers, 0);
      await clock.advance(5 * DAY);
      await pruner.idle();
      assert.deepEqual(await keys(store), ['day1'], 'no prune after dispose');
    });

    it('defaults to keeping keys 7 days and pruning every hour', async (t) => {
      const store = await testStore<ParticipantDb>(t, dialect, 'payment', participantMigrations);
      const start = T0 + 30 * DAY;
      const clock = manualClock(start);
      const firstPrune = start + HOUR;
      await insertKeys(store, { expired: firstPrune - 7 * DAY - 1, kept: firstPrune - 7 * DAY });
      const pruner = idempotencyPruner({ store, clock, now: clock.now, logger: recordingLogger() });
      t.after(() => pruner.dispose());
      await clock.advance(HOUR - 1);
      await pruner.idle();
      assert.deepEqual(await keys(store), ['expired', 'kept'], 'no prune before the first hour');
      await clock.advance(1);
      await pruner.idle();
      assert.deepEqual(await keys(store), ['kept']);
    });

    it('logs a failed prune and tries again at the next tick', async (t) => {
      const store = await testStore<ParticipantDb>(t, dialect, 'payment', participantMigrations);
      const clock = manualClock(T0 + 10 * DAY);
      const logger = recordingLogger();
      await insertKeys(store, { old: T0 });
      const pruner = idempotencyPruner({ store, clock, now: clock.now, logger });
      t.after(() => pruner.dispose());

      await sql`alter table flotilla_saga_idempotency rename to flotilla_saga_idempotency_away`.execute(
        store.db,
      );
      await clock.advance(HOUR);
      await pruner.idle();
      assert.equal(logger.lines.length, 1);
      assert.equal(logger.lines[0]?.level, 'error');
      assert.match(logger.lines[0]?.msg ?? '', /pruning idempotency keys failed; retrying at the next tick/);
      assert.equal(clock.pendingTimers, 1, 'the next tick is scheduled');

      await sql`alter table flotilla_saga_idempotency_away rename to flotilla_saga_idempotency`.execute(
        store.db,
      );
      await clock.advance(HOUR);
      await pruner.idle();
      assert.deepEqual(await keys(store), []);
      assert.equal(logger.lines[1]?.level, 'info');
      assert.equal(logger.lines[1]?.obj.deleted, 1);
    });

    it('a pruned key is forgotten: idempotent() applies the effect again (why retention must outlast retries)', async (t) => {
      const store = await testStore<ParticipantDb>(t, dialect, 'payment', participantMigrations);
      let calls = 0;
      const charge = (at: number) =>
        store.transaction((tx) =>
          idempotent(
            tx,
            'saga-1:charge',
            async (tx) => {
              calls++;
              await tx
                .insertInto('effects')
                .values({ key: 'saga-1:charge', saga_id: 'saga-1', step: 'charge', kind: 'action' })
                .execute();
              return calls;
            },
            { now: () => at },
          ),
        );
      assert.equal(await charge(T0), 1);
      assert.equal(await charge(T0 + HOUR), 1, 'a retry within the retention is deduplicated');
      assert.equal(await pruneIdempotencyKeys(store.db, { olderThanMs: 7 * DAY, now: T0 + 8 * DAY }), 1);
      assert.equal(await charge(T0 + 8 * DAY), 2, 'a retry after the key was pruned acts again');
      assert.equal((await store.db.selectFrom('effects').selectAll().execute()).length, 2);
    });
  });
}

describe('idempotency key retention options', () => {
  const store = { db: {} } as Pick<Store<ParticipantDb>, 'db'>;

  it('idempotencyPruner refuses invalid options, naming the field', () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [
        { retentionMs: HOUR - 1 },
        /idempotencyPruner\.retentionMs must be an integer >= 3600000, got 3599999/,
      ],
      [{ retentionMs: DAY + 0.5 }, /idempotencyPruner\.retentionMs must be an integer/],
      [{ everyMs: 999 }, /idempotencyPruner\.everyMs must be an integer >= 1000/],
      [{ everyMs: Number.NaN }, /idempotencyPruner\.everyMs/],
      [{ batchSize: 0 }, /idempotencyPruner\.batchSize must be an integer from 1 to 100000, got 0/],
      [{ batchSize: 2.5 }, /idempotencyPruner\.batchSize/],
    ];
    for (const [options, message] of cases)
      assert.throws(() => idempotencyPruner({ store, ...options }), { name: 'RangeError', message });
    assert.throws(() => idempotencyPruner({ store: undefined as never }), /idempotencyPruner\.store/);
  });

  it('pruneIdempotencyKeys refuses invalid options, naming the field', async () => {
    const db = store.db;
    await assert.rejects(pruneIdempotencyKeys(db, { olderThanMs: -1 }), {
      name: 'RangeError',
      message: /pruneIdempotencyKeys\.olderThanMs must be an integer >= 0, got -1/,
    });
    await assert.rejects(pruneIdempotencyKeys(db, { olderThanMs: DAY, batchSize: 0 }), {
      name: 'RangeError',
      message: /pruneIdempotencyKeys\.batchSize/,
    });
    await assert.rejects(pruneIdempotencyKeys(db, { olderThanMs: DAY, now: Number.NaN }), {
      name: 'RangeError',
      message: /pruneIdempotencyKeys\.now/,
    });
  });
});
