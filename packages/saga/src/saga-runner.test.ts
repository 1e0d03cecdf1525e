import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import { sql } from 'kysely';
import { defineSaga } from './define-saga.js';
import { SagaNotFoundError } from './errors.js';
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

/** Records the text of every statement sent through `pg` until the test ends. */
function recordPgStatements(t: { after(fn: () => unknown): void }): string[] {
  const pg = createRequire(import.meta.url)('pg') as {
    Client: { prototype: { query: (...args: unknown[]) => unknown } };
  };
  const original = pg.Client.prototype.query;
  const sent: string[] = [];
  pg.Client.prototype.query = function recorded(this: unknown, ...args: unknown[]) {
    const text = typeof args[0] === 'string' ? args[0] : (args[0] as { text?: string } | null)?.text;
    if (text !== undefined) sent.push(text);
    return original.apply(this, args);
  };
  t.after(() => {
    pg.Client.prototype.query = original;
  });
  return sent;
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

    it('runs a saga started here once its transaction commits, seeing what it wrote, without a statement waiting for it', async (t) => {
      const store = await testStore<ShopDb>(t, dialect, 'order', orderMigrations);
      const seen: (string | undefined)[] = [];
      const saga = defineSaga<{ orderId: string }, ShopDb>('after-commit', { version: 1 })
        .step('look', {
          kind: 'retriable',
          local: async (tx, ctx) => {
            const row = await tx
              .selectFrom('orders')
              .select('status')
              .where('id', '=', ctx.orderId)
              .executeTakeFirst();
            seen.push(row?.status);
          },
        })
        .step('mark', {
          kind: 'retriable',
          local: async (tx, ctx) => {
            await tx.updateTable('orders').set({ status: 'MARKED' }).where('id', '=', ctx.orderId).execute();
          },
        });
      const { runner, clock } = testRunner(t, store, { sagas: [saga] });
      await runner.run();
      const sent = recordPgStatements(t);
      const gates = () => sent.filter((s) => /do update set epoch/.test(s)).length;
      // The order row is written after start(), and the commit comes a while later.
      const startLate = async (
        tx: Parameters<Parameters<typeof store.transaction>[0]>[0],
        orderId: string,
      ) => {
        const id = await runner.start(tx, saga, { orderId }, { id: orderId });
        await new Promise((resolve) => setTimeout(resolve, 30));
        await tx.insertInto('orders').values({ id: orderId, status: 'PENDING' }).execute();
        return id;
      };
      const first = await store.transaction((tx) => startLate(tx, 'o-1'));
      assert.equal(await drive(clock, runner.settled(first)), 'completed');
      assert.deepEqual(seen, ['PENDING']);
      assert.equal(await orderStatus(store, 'o-1'), 'MARKED');
      assert.deepEqual(
        (await runner.get(first)).timeline.map((a) => `${a.step}:${a.attempt}:${a.outcome}`),
        ['look:1:ok', 'mark:1:ok'],
      );
      if (dialect === 'postgres') {
        assert.equal(gates(), 0);
        // The start's insert and order insert, then the two steps and one checkpoint (the get's
        // read after); claims the runner makes meanwhile left out.
        const steps = sent.filter(
          (s) => !/^(begin|commit|rollback)/i.test(s.trim()) && !/epoch \+ 1/.test(s),
        );
        assert.deepEqual(
          steps.slice(0, 5).map((s) => s.trim().split(/\s+/).slice(0, 2).join(' ')),
          [
            'insert into',
            'insert into',
            'select "status"',
            'update "orders"',
            'update flotilla_saga_instances',
          ],
        );
      }
      // A transaction the store cannot report on (begun through Kysely): the saga's first
      // transaction waits for it on PostgreSQL, and still sees the order.
      const second = await store.db.transaction().execute((tx) => startLate(tx, 'o-2'));
      assert.equal(await drive(clock, runner.settled(second)), 'completed');
      assert.deepEqual(seen, ['PENDING', 'PENDING']);
      if (dialect === 'postgres') assert.equal(gates(), 1);
      // A start that rolls back leaves nothing, and the runner does not know it.
      await assert.rejects(
        store.transaction(async (tx) => {
          await startLate(tx, 'o-3');
          throw new Error('the order was invalid');
        }),
        /the order was invalid/,
      );
      const outcome = await drive(
        clock,
        runner.settled('o-3').then(
          (state) => state,
          (err: unknown) => err,
        ),
      );
      assert.ok(outcome instanceof SagaNotFoundError);
      assert.equal(await orderStatus(store, 'o-3'), undefined);
      assert.equal((await runner.list()).items.length, 2);
    });

    it('gives back the lease of a saga whose start commits after the runner closed', async (t) => {
      const store = await testStore<ShopDb>(t, dialect, 'order', orderMigrations);
      const saga = defineSaga<{ orderId: string }, ShopDb>('late', { version: 1 }).step('mark', {
        kind: 'retriable',
        local: async (tx, ctx) => {
          await tx.updateTable('orders').set({ status: 'MARKED' }).where('id', '=', ctx.orderId).execute();
        },
      });
      const { runner } = testRunner(t, store, { sagas: [saga] });
      await runner.run();
      await store.transaction(async (tx) => {
        await runner.start(tx, saga, { orderId: 'o-1' }, { id: 'o-1' });
        await runner.close();
        await tx.insertInto('orders').values({ id: 'o-1', status: 'PENDING' }).execute();
      });
      const lease = async () =>
        (
          await sql<{
            lease_owner: string | null;
          }>`select lease_owner from flotilla_saga_instances where id = 'o-1'`.execute(store.db)
        ).rows[0]?.lease_owner;
      for (let i = 0; i < 100 && (await lease()) !== null; i++)
        await new Promise((resolve) => setTimeout(resolve, 10));
      assert.equal(await lease(), null);
      // Not run by the closed runner; a new one takes it at once.
      assert.equal(await orderStatus(store, 'o-1'), 'PENDING');
      const next = testRunner(t, store, { sagas: [saga] });
      await next.runner.run();
      assert.equal(await drive(next.clock, next.runner.settled('o-1')), 'completed');
      assert.equal(await orderStatus(store, 'o-1'), 'MARKED');
    });

    it('runs many steps at once without warning of an abort-listener leak', async (t) => {
      const store = await testStore<ShopDb>(t, dialect, 'order', orderMigrations);
      let release = (): void => {};
      const gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      let waiting = 0;
      const saga = defineSaga<{ orderId: string }, ShopDb>('wide', { version: 1 }).step('wait', {
        kind: 'retriable',
        action: async () => {
          waiting++;
          await gate;
          return {};
        },
      });
      const warnings: string[] = [];
      const onWarning = (w: Error): void => {
        warnings.push(`${w.name}: ${w.message}`);
      };
      process.on('warning', onWarning);
      t.after(() => process.off('warning', onWarning));
      const { runner, clock } = testRunner(t, store, { sagas: [saga], concurrency: 32 });
      await runner.run();
      const ids: string[] = [];
      for (let i = 0; i < 20; i++)
        ids.push(await placeOrder(store, runner, 'wide', { orderId: `w-${i}` }, `w-${i}`));
      while (waiting < 20) await new Promise((resolve) => setImmediate(resolve));
      release();
      for (const id of ids) assert.equal(await drive(clock, runner.settled(id)), 'completed');
      // Node emits its warnings on a later tick.
      await new Promise((resolve) => setImmediate(resolve));
      assert.deepEqual(
        warnings.filter((w) => w.startsWith('MaxListenersExceededWarning')),
        [],
      );
    });
  });
}
