import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
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
import type { SagaEvent } from './saga-events.js';

/** open (local) → reserve → charge → ship (calls) → confirm (local pivot). */
function tripSaga(p: Participant, failConfirm: { on: boolean }) {
  return defineSaga<{ orderId: string }, ShopDb>('trip', { version: 1 })
    .step('open', {
      local: async (tx, ctx) => {
        await tx.updateTable('orders').set({ status: 'OPEN' }).where('id', '=', ctx.orderId).execute();
      },
      compensate: {
        local: async (tx, ctx) => {
          await tx.updateTable('orders').set({ status: 'CANCELLED' }).where('id', '=', ctx.orderId).execute();
        },
      },
    })
    .step('reserve', {
      action: (_ctx, s) => p.act(s.idempotencyKey, s.sagaId, 'reserve'),
      compensate: (_ctx, s) => p.undo(s.idempotencyKey, s.sagaId, 'reserve'),
      retry: { maxAttempts: 1 },
    })
    .step('charge', {
      action: (_ctx, s) => p.act(s.idempotencyKey, s.sagaId, 'charge'),
      compensate: (_ctx, s) => p.undo(s.idempotencyKey, s.sagaId, 'charge'),
      retry: { maxAttempts: 1 },
    })
    .step('ship', {
      action: (_ctx, s) => p.act(s.idempotencyKey, s.sagaId, 'ship'),
      compensate: (_ctx, s) => p.undo(s.idempotencyKey, s.sagaId, 'ship'),
      retry: { maxAttempts: 1 },
    })
    .step('confirm', {
      kind: 'pivot',
      retry: { maxAttempts: 1 },
      local: async (tx, ctx) => {
        await tx.updateTable('orders').set({ status: 'CONFIRMED' }).where('id', '=', ctx.orderId).execute();
        if (failConfirm.on) throw new Error('confirm refused');
      },
    });
}

function describeEvent(e: SagaEvent): string {
  switch (e.type) {
    case 'step-succeeded':
    case 'step-failed':
      return `${e.type}:${e.step}:${e.phase}`;
    case 'finished':
      return `${e.type}:${e.state}`;
    default:
      return e.type;
  }
}

async function orderStatus(store: { db: unknown }, id: string): Promise<string | undefined> {
  const { rows } = await sql<{ status: string }>`select status from orders where id = ${id}`.execute(
    store.db as never,
  );
  return rows[0]?.status;
}

for (const { dialect, skip } of dialects) {
  describe(`saga runner on ${dialect}`, { skip }, () => {
    it('runs every step, merging outputs into the persisted context', async (t) => {
      const store = await testStore<ShopDb>(t, dialect, 'order', orderMigrations);
      const p = new Participant(
        await testStore<ParticipantDb>(t, dialect, 'participant', participantMigrations),
      );
      const saga = tripSaga(p, { on: false });
      const { runner, clock } = testRunner(t, store, { sagas: [saga] });
      await runner.run();
      const id = await placeOrder(store, runner, 'trip', { orderId: 'o-1' }, 'o-1');
      assert.equal(await drive(clock, runner.settled(id)), 'completed');
      const saved = await runner.get(id);
      assert.deepEqual(saved.context, {
        orderId: 'o-1',
        reserveRef: 'reserve-o-1',
        chargeRef: 'charge-o-1',
        shipRef: 'ship-o-1',
      });
      assert.deepEqual(
        saved.timeline.map((a) => `${a.step}:${a.phase}:${a.outcome}`),
        ['open:action:ok', 'reserve:action:ok', 'charge:action:ok', 'ship:action:ok', 'confirm:action:ok'],
      );
      assert.equal(await orderStatus(store, 'o-1'), 'CONFIRMED');
      assert.deepEqual(await p.effects(id), ['reserve:action', 'charge:action', 'ship:action']);
    });

    for (const failing of ['open', 'reserve', 'charge', 'ship', 'confirm']) {
      it(`compensates the completed steps in reverse when ${failing} fails`, async (t) => {
        const store = await testStore<ShopDb>(t, dialect, 'order', orderMigrations);
        const p = new Participant(
          await testStore<ParticipantDb>(t, dialect, 'participant', participantMigrations),
        );
        const failConfirm = { on: failing === 'confirm' };
        let saga = tripSaga(p, failConfirm);
        if (failing === 'open')
          saga = defineSaga<{ orderId: string }, ShopDb>('trip', { version: 1 })
            .step('open', {
              local: async () => {
                throw new Error('open refused');
              },
              compensate: { local: async () => {} },
              retry: { maxAttempts: 1 },
            })
            .step('reserve', {
              action: (_c, s) => p.act(s.idempotencyKey, s.sagaId, 'reserve'),
              compensate: (_c, s) => p.undo(s.idempotencyKey, s.sagaId, 'reserve'),
            }) as unknown as typeof saga;
        else if (failing !== 'confirm') p.failing.set(failing, 1);
        const { runner, clock } = testRunner(t, store, { sagas: [saga] });
        const events: SagaEvent[] = [];
        runner.onEvent((e) => events.push(e));
        await runner.run();
        const id = await placeOrder(store, runner, 'trip', { orderId: 'o-2' }, 'o-2');
        assert.equal(await drive(clock, runner.settled(id)), 'compensated');

        const order = ['open', 'reserve', 'charge', 'ship', 'confirm'];
        const done = order.slice(0, order.indexOf(failing));
        const remote = done.filter((s) => s !== 'open');
        assert.deepEqual(await p.effects(id), [
          ...remote.map((s) => `${s}:action`),
          ...[...remote].reverse().map((s) => `${s}:compensation`),
        ]);
        const compensations = [...done].reverse();
        assert.deepEqual(events.filter((e) => e.type !== 'started').map(describeEvent), [
          ...done.map((s) => `step-succeeded:${s}:action`),
          `step-failed:${failing}:action`,
          ...compensations.map((s) => `step-succeeded:${s}:compensation`),
          'finished:compensated',
        ]);
        assert.equal(await orderStatus(store, 'o-2'), done.includes('open') ? 'CANCELLED' : 'PENDING');
        const saved = await runner.get(id);
        assert.equal(saved.state, 'compensated');
        assert.match(saved.lastError ?? '', new RegExp(failing));
      });
    }

    it('starting twice with one id is a no-op that returns the id', async (t) => {
      const store = await testStore<ShopDb>(t, dialect, 'order', orderMigrations);
      const p = new Participant(
        await testStore<ParticipantDb>(t, dialect, 'participant', participantMigrations),
      );
      const { runner, clock } = testRunner(t, store, { sagas: [tripSaga(p, { on: false })] });
      await runner.run();
      const id = await placeOrder(store, runner, 'trip', { orderId: 'o-3' }, 'o-3');
      const again = await store.transaction((tx) => runner.start(tx, 'trip', { orderId: 'other' }, { id }));
      assert.equal(again, id);
      assert.equal(await drive(clock, runner.settled(id)), 'completed');
      assert.equal(((await runner.get(id)).context as { orderId: string }).orderId, 'o-3');
      assert.deepEqual(await p.effects(id), ['reserve:action', 'charge:action', 'ship:action']);
    });

    it('a saga started in a transaction that rolls back never exists nor runs', async (t) => {
      const store = await testStore<ShopDb>(t, dialect, 'order', orderMigrations);
      const p = new Participant(
        await testStore<ParticipantDb>(t, dialect, 'participant', participantMigrations),
      );
      const { runner, clock } = testRunner(t, store, { sagas: [tripSaga(p, { on: false })] });
      await runner.run();
      await assert.rejects(
        store.transaction(async (tx) => {
          await runner.start(tx, 'trip', { orderId: 'o-4' }, { id: 'o-4' });
          throw new Error('the order was invalid');
        }),
        /the order was invalid/,
      );
      // A later saga runs to the end; the rolled-back one must not have been touched meanwhile.
      const id = await placeOrder(store, runner, 'trip', { orderId: 'o-5' }, 'o-5');
      assert.equal(await drive(clock, runner.settled(id)), 'completed');
      assert.equal((await runner.list()).items.length, 1);
      assert.deepEqual(await p.effects('o-4'), []);
    });
  });
}
