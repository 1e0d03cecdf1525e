import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { constantBackoff } from '@flotilla/resilience';
import type { Store, Tx } from '@flotilla/store';
import { sql } from 'kysely';
import { defineSaga } from './define-saga.js';
import {
  dialects,
  drive,
  orderMigrations,
  Participant,
  type ParticipantDb,
  participantMigrations,
  placeOrder,
  type ShopDb,
  testRunner,
  testStore,
} from './saga.test-helpers.js';

/**
 * What happens to the next transaction of the store once its body has run:
 * - `terminate`: its connection's backend is terminated before COMMIT, so COMMIT fails and the
 *   transaction rolls back (as when PostgreSQL kills the backend or fails over);
 * - `lose-reply`: it commits, then the caller gets the error of a dropped connection instead of
 *   the commit's reply (as when the backend dies between committing and answering).
 */
type Fault = 'terminate' | 'lose-reply';

/** The store with a fault that a step arms for the transaction it runs in. */
function faultyStore(store: Store<ShopDb>): Store<ShopDb> & { arm(fault: Fault): void } {
  let armed: Fault | undefined;
  const transaction = async <T>(fn: (tx: Tx<ShopDb>) => Promise<T>): Promise<T> => {
    let fault: Fault | undefined;
    const result = await store.transaction(async (tx) => {
      const value = await fn(tx);
      fault = armed;
      armed = undefined;
      if (fault === 'terminate') {
        const { rows } = await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(tx);
        // From another connection, waiting (up to 5 s) until the backend has ended.
        const { rows: done } = await sql<{
          ok: boolean;
        }>`select pg_terminate_backend(${rows[0]?.pid}, 5000) as ok`.execute(store.db);
        assert.equal(done[0]?.ok, true, 'the backend should have been terminated');
      }
      return value;
    });
    if (fault === 'lose-reply') throw new Error('Connection terminated unexpectedly');
    return result;
  };
  return Object.assign(Object.create(store) as Store<ShopDb>, {
    transaction,
    arm: (fault: Fault) => {
      armed = fault;
    },
  });
}

const pg = dialects.find((d) => d.dialect === 'postgres');

describe('a checkpoint whose COMMIT fails on PostgreSQL', { skip: pg?.skip ?? 'no postgres' }, () => {
  const cases: { fault: Fault; at: 'accept' | 'confirm' }[] = [
    { fault: 'terminate', at: 'confirm' },
    { fault: 'terminate', at: 'accept' },
    { fault: 'lose-reply', at: 'confirm' },
    { fault: 'lose-reply', at: 'accept' },
  ];
  for (const { fault, at } of cases) {
    it(`${fault} at the commit of ${at}: every local step takes effect once, with its checkpoint`, async (t) => {
      const base = await testStore<ShopDb>(t, 'postgres', 'order', orderMigrations);
      const store = faultyStore(base);
      const p = new Participant(
        await testStore<ParticipantDb>(t, 'postgres', 'participant', participantMigrations),
      );
      const runs: string[] = [];
      let faulted = false;
      /** A local step moving the order from `from` to `to`; it throws when the order is not in `from`. */
      const move =
        (name: 'accept' | 'confirm', from: string, to: string) =>
        async (tx: Tx<ShopDb>, ctx: { orderId: string }, step: { attempt: number }) => {
          runs.push(`${name}:${step.attempt}`);
          const result =
            await sql`update orders set status = ${to} where id = ${ctx.orderId} and status = ${from}`.execute(
              tx,
            );
          if (Number(result.numAffectedRows ?? 0) !== 1)
            throw new Error(`order ${ctx.orderId} is not ${from}`);
          if (name === at && !faulted) {
            faulted = true;
            store.arm(fault);
          }
        };
      const saga = defineSaga<{ orderId: string }, ShopDb>('commit-failure', { version: 1 })
        .step('accept', {
          local: move('accept', 'PENDING', 'ACCEPTED'),
          compensate: {
            local: async (tx, ctx) => {
              await sql`update orders set status = 'CANCELLED' where id = ${ctx.orderId}`.execute(tx);
            },
          },
        })
        .step('reserve', {
          action: (_c, s) => p.act(s.idempotencyKey, s.sagaId, 'reserve'),
          compensate: (_c, s) => p.undo(s.idempotencyKey, s.sagaId, 'reserve'),
          retry: { maxAttempts: 3, backoff: constantBackoff(1000) },
        })
        .step('confirm', {
          kind: 'pivot',
          retry: { maxAttempts: 5, backoff: constantBackoff(1000) },
          local: move('confirm', 'ACCEPTED', 'CONFIRMED'),
        });
      const { runner, clock } = testRunner(t, store, { sagas: [saga] });
      await runner.run();
      const id = await placeOrder(store, runner, 'commit-failure', { orderId: 'o' }, 'o');

      assert.equal(await drive(clock, runner.settled(id)), 'completed');
      const { rows } = await sql<{ status: string }>`select status from orders where id = ${id}`.execute(
        base.db,
      );
      assert.equal(rows[0]?.status, 'CONFIRMED', `steps ran as ${runs.join(', ')}`);
      assert.deepEqual(await p.effects(id), ['reserve:action']);
      // A step whose transaction rolled back runs again; one whose transaction committed does not.
      assert.equal(
        runs.filter((r) => r.startsWith(`${at}:`)).length,
        fault === 'terminate' ? 2 : 1,
        `steps ran as ${runs.join(', ')}`,
      );
    });
  }
});
