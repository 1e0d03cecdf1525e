import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { openStore, type Store } from '@flotilla/store';
import { createTestDatabase, requirePg, tempSqliteUrl } from '@flotilla/store/testing';
import { claimInbox } from './handler-invocation.js';
import { deleteSent, type EventsDb, type OutboxRow, readUnsent } from './outbox.js';
import { type KitDb, kitMigrations } from './testing/conformance-kit.js';

const pgSkip = (await requirePg()).skip;

async function storeOf(t: TestContext, dialect: 'sqlite' | 'postgres'): Promise<Store<KitDb>> {
  if (dialect === 'sqlite') {
    const file = tempSqliteUrl('outbox');
    const store = await openStore<KitDb>({ service: 'outbox', url: file.url, migrations: kitMigrations });
    t.after(async () => {
      await store.close();
      file.cleanup();
    });
    return store;
  }
  const database = await createTestDatabase({ prefix: 'events_outbox' });
  const store = await openStore<KitDb>({ service: 'outbox', url: database.url, migrations: kitMigrations });
  t.after(async () => {
    await store.close();
    await database.drop();
  });
  return store;
}

for (const dialect of ['sqlite', 'postgres'] as const) {
  describe(`outbox and inbox rows on ${dialect}`, { skip: dialect === 'postgres' ? pgSkip : false }, () => {
    it('deletes exactly the rows sent, matching seq and id, whatever their number', async (t) => {
      const store = await storeOf(t, dialect);
      const db = store.db as unknown as EventsDb;
      for (let i = 0; i < 6; i++)
        await db
          .insertInto('flotilla_outbox')
          .values({ id: `e-${i}`, topic: 'T', key: 'k', payload: '{}', traceparent: null, created_at: i })
          .execute();
      const rows = await readUnsent(db, 10);
      assert.deepEqual(
        rows.map((r) => r.id),
        ['e-0', 'e-1', 'e-2', 'e-3', 'e-4', 'e-5'],
      );
      const pick = (i: number): OutboxRow => rows[i] as OutboxRow;
      // A row whose seq matches but whose id does not (its seq was given again) stays.
      await deleteSent(db, dialect, [pick(0), pick(2), pick(4), { ...pick(1), id: 'someone-else' }]);
      assert.deepEqual(
        (await readUnsent(db, 10)).map((r) => r.id),
        ['e-1', 'e-3', 'e-5'],
      );
      await deleteSent(db, dialect, []);
      await deleteSent(db, dialect, await readUnsent(db, 1));
      assert.deepEqual(
        (await readUnsent(db, 10)).map((r) => r.id),
        ['e-3', 'e-5'],
      );
    });

    it("claims only the ids not yet in the group's inbox, whatever the batch size", async (t) => {
      const store = await storeOf(t, dialect);
      const claim = (group: string, ids: string[]) =>
        store.transaction((tx) => claimInbox(tx as unknown as EventsDb, dialect, group, ids, 1_000));
      assert.deepEqual([...(await claim('g', ['a', 'b']))].sort(), ['a', 'b']);
      assert.deepEqual([...(await claim('g', ['b', 'c', 'd']))].sort(), ['c', 'd']);
      assert.deepEqual([...(await claim('g', ['a']))], []);
      assert.deepEqual([...(await claim('other', ['a']))], ['a']);
      // A claim that rolls back leaves the ids free.
      await assert.rejects(
        store.transaction(async (tx) => {
          await claimInbox(tx as unknown as EventsDb, dialect, 'g', ['e'], 1_000);
          throw new Error('handler failed');
        }),
        /handler failed/,
      );
      assert.deepEqual([...(await claim('g', ['e']))], ['e']);
    });
  });
}
