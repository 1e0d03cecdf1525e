import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { idempotent } from './idempotent.js';
import { dialects, type ParticipantDb, participantMigrations, testStore } from './saga.test-helpers.js';

for (const { dialect, skip } of dialects) {
  describe(`idempotent() on ${dialect}`, { skip }, () => {
    it('applies an effect once per key and returns the first result to every repeat', async (t) => {
      const store = await testStore<ParticipantDb>(t, dialect, 'payment', participantMigrations);
      let calls = 0;
      const charge = (key: string, cents: number) =>
        store.transaction((tx) =>
          idempotent(tx, key, async (tx) => {
            calls++;
            await tx
              .insertInto('effects')
              .values({ key, saga_id: 's', step: 'charge', kind: 'action' })
              .execute();
            return { chargeId: `ch-${calls}`, cents };
          }),
        );
      assert.deepEqual(await charge('s:charge', 100), { chargeId: 'ch-1', cents: 100 });
      assert.deepEqual(await charge('s:charge', 999), { chargeId: 'ch-1', cents: 100 });
      assert.deepEqual(await charge('t:charge', 5), { chargeId: 'ch-2', cents: 5 });
      assert.equal(calls, 2);
      assert.equal((await store.db.selectFrom('effects').selectAll().execute()).length, 2);
    });

    it('forgets the key when the effect rolls back, so a retry acts', async (t) => {
      const store = await testStore<ParticipantDb>(t, dialect, 'payment', participantMigrations);
      await assert.rejects(
        store.transaction((tx) =>
          idempotent(tx, 'k', async (tx) => {
            await tx
              .insertInto('effects')
              .values({ key: 'k', saga_id: 's', step: 'x', kind: 'action' })
              .execute();
            throw new Error('card network down');
          }),
        ),
        /card network down/,
      );
      const result = await store.transaction((tx) => idempotent(tx, 'k', async () => 'second try'));
      assert.equal(result, 'second try');
      assert.equal((await store.db.selectFrom('effects').selectAll().execute()).length, 0);
    });

    it('concurrent duplicates act once; the others get the first result', async (t) => {
      const store = await testStore<ParticipantDb>(t, dialect, 'payment', participantMigrations);
      let calls = 0;
      const results = await Promise.all(
        Array.from({ length: 8 }, () =>
          store.transaction((tx) =>
            idempotent(tx, 'dup', async (tx) => {
              calls++;
              await tx
                .insertInto('effects')
                .values({ key: 'dup', saga_id: 's', step: 'x', kind: 'action' })
                .execute();
              return calls;
            }),
          ),
        ),
      );
      assert.equal(calls, 1);
      assert.deepEqual(new Set(results), new Set([1]));
    });

    it('rejects an empty or oversized key', async (t) => {
      const store = await testStore<ParticipantDb>(t, dialect, 'payment', participantMigrations);
      await assert.rejects(
        store.transaction((tx) => idempotent(tx, '', async () => 1)),
        /idempotent\(key\) needs a string of 1 to 512/,
      );
      await assert.rejects(
        store.transaction((tx) => idempotent(tx, 'x'.repeat(513), async () => 1)),
        /1 to 512/,
      );
    });
  });
}
