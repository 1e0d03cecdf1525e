import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { defineEvent, eventsMigrations, memoryTransport } from '@flotilla/events';
import { BrokenCircuitError, constantBackoff, manualClock } from '@flotilla/resilience';
import { createTracer } from '@flotilla/service';
import { type Migration, openStore } from '@flotilla/store';
import { Registry } from 'prom-client';
import { z } from 'zod';
import { defineSaga } from './define-saga.js';
import { CommandRejectedError } from './errors.js';
import { idempotent } from './idempotent.js';
import { idempotencyMigrations, sagaMigrations } from './migrations.js';
import {
  defer,
  dialects,
  drive,
  freshDatabase,
  memoryBus,
  orderMigrations,
  Participant,
  type ParticipantDb,
  participantMigrations,
  placeOrder,
  type ShopDb,
  testRunner,
  testStore,
} from './saga.test-helpers.js';

const quick = { backoff: constantBackoff(1000) };

const ChargeCard = defineEvent('saga-test.ChargeCard', {
  version: 1,
  schema: z.object({ key: z.string(), cents: z.number() }),
});
const CardCharged = defineEvent('saga-test.CardCharged', {
  version: 1,
  schema: z.object({ chargeId: z.string() }),
});
const CardDeclined = defineEvent('saga-test.CardDeclined', {
  version: 1,
  schema: z.object({ reason: z.string() }),
});

for (const { dialect, skip } of dialects) {
  describe(`saga features on ${dialect}`, { skip }, () => {
    it('retries a failing step with its backoff and records every attempt', async (t) => {
      const store = await testStore<ShopDb>(t, dialect, 'order', orderMigrations);
      const p = new Participant(
        await testStore<ParticipantDb>(t, dialect, 'participant', participantMigrations),
      );
      p.flaky.set('reserve', 2);
      const saga = defineSaga<{ orderId: string }>('retry', { version: 1 }).step('reserve', {
        action: (_c, s) => p.act(s.idempotencyKey, s.sagaId, 'reserve'),
        compensate: (_c, s) => p.undo(s.idempotencyKey, s.sagaId, 'reserve'),
        retry: { maxAttempts: 3, ...quick },
      });
      const { runner, clock } = testRunner(t, store, { sagas: [saga] });
      await runner.run();
      const id = await placeOrder(store, runner, 'retry', { orderId: 'o' }, 'o');
      assert.equal(await drive(clock, runner.settled(id)), 'completed');
      const { timeline } = await runner.get(id);
      assert.deepEqual(
        timeline.map((a) => `${a.attempt}:${a.outcome}`),
        ['1:error', '2:error', '3:ok'],
      );
      assert.deepEqual(await p.effects(id), ['reserve:action']);
    });

    it("waits out a failure's retry hint (an open circuit) before the next attempt, at most maxRetryAfterMs", async (t) => {
      const store = await testStore<ShopDb>(t, dialect, 'order', orderMigrations);
      const failures: unknown[] = [
        new BrokenCircuitError(5_000),
        // A hint in the cause chain counts too; this one is longer than the runner allows.
        new Error('reserve failed', { cause: new BrokenCircuitError(600_000) }),
      ];
      const saga = defineSaga<{ orderId: string }>('hinted', { version: 1 }).step('reserve', {
        action: async () => {
          const failure = failures.shift();
          if (failure !== undefined) throw failure;
        },
        compensate: async () => {},
        retry: { maxAttempts: 3, ...quick },
      });
      const { runner, clock } = testRunner(t, store, { sagas: [saga], maxRetryAfterMs: 30_000 });
      await runner.run();
      const id = await placeOrder(store, runner, 'hinted', { orderId: 'o' }, 'o');
      assert.equal(await drive(clock, runner.settled(id)), 'completed');
      const { timeline } = await runner.get(id);
      assert.deepEqual(
        timeline.map((a) => `${a.attempt}:${a.outcome}`),
        ['1:error', '2:error', '3:ok'],
      );
      const gap = (i: number) => (timeline[i + 1]?.startedAt ?? 0) - (timeline[i]?.finishedAt ?? 0);
      // The backoff alone would retry after 1 s. The lower bounds are exact; the upper ones only
      // tell the hint from the cap and the cap from the uncapped 600 s, because the test's clock
      // keeps moving while the runner waits on its database (seconds of it on a loaded machine).
      assert.ok(gap(0) >= 5_000 && gap(0) < 30_000, `first retry after ${gap(0)} ms`);
      assert.ok(gap(1) >= 30_000 && gap(1) < 120_000, `second retry after ${gap(1)} ms`);
    });

    it('a retriable step that keeps failing gets stuck; an operator retry completes it', async (t) => {
      const store = await testStore<ShopDb>(t, dialect, 'order', orderMigrations);
      const p = new Participant(
        await testStore<ParticipantDb>(t, dialect, 'participant', participantMigrations),
      );
      p.failing.set('notify', 100);
      const saga = defineSaga<{ orderId: string }>('notify', { version: 1 }).step('notify', {
        kind: 'retriable',
        action: (_c, s) => p.act(s.idempotencyKey, s.sagaId, 'notify'),
        retry: quick,
      });
      const registry = new Registry();
      const errors: string[] = [];
      const { runner, clock } = testRunner(t, store, {
        sagas: [saga],
        registry,
        logger: { info: () => {}, warn: () => {}, error: (_o, msg) => errors.push(msg) },
      });
      await runner.run();
      const id = await placeOrder(store, runner, 'notify', { orderId: 'o' }, 'o');
      assert.equal(await drive(clock, runner.settled(id)), 'stuck');
      assert.match(errors.join('\n'), /saga is stuck/);
      assert.match(
        await registry.getSingleMetricAsString('flotilla_saga_stuck_total'),
        /flotilla_saga_stuck_total\{saga="notify"\} 1/,
      );
      assert.equal((await runner.list({ state: 'stuck' })).items[0]?.id, id);

      p.failing.set('notify', 0);
      await runner.retry(id);
      assert.equal(await drive(clock, runner.settled(id)), 'completed');
      assert.deepEqual(await p.effects(id), ['notify:action']);
      await assert.rejects(runner.retry(id), /is completed, not stuck/);
    });

    it('a compensation that keeps failing gets stuck; an operator resolves it with a note', async (t) => {
      const store = await testStore<ShopDb>(t, dialect, 'order', orderMigrations);
      const p = new Participant(
        await testStore<ParticipantDb>(t, dialect, 'participant', participantMigrations),
      );
      p.failing.set('pay', 1);
      p.failingCompensation.set('reserve', 100);
      const saga = defineSaga<{ orderId: string }>('stuck', { version: 1 })
        .step('reserve', {
          action: (_c, s) => p.act(s.idempotencyKey, s.sagaId, 'reserve'),
          compensate: (_c, s) => p.undo(s.idempotencyKey, s.sagaId, 'reserve'),
        })
        .step('pay', {
          kind: 'pivot',
          retry: { maxAttempts: 1 },
          action: (_c, s) => p.act(s.idempotencyKey, s.sagaId, 'pay'),
        });
      const { runner, clock } = testRunner(t, store, { sagas: [saga] });
      await runner.run();
      const id = await placeOrder(store, runner, 'stuck', { orderId: 'o' }, 'o');
      assert.equal(await drive(clock, runner.settled(id)), 'stuck');
      const stuck = await runner.get(id);
      assert.equal(stuck.direction, 'backward');
      assert.deepEqual(
        stuck.timeline.filter((a) => a.phase === 'compensation').map((a) => a.outcome),
        ['error', 'error', 'error'],
      );
      await assert.rejects(runner.resolve(id, ''), /note must be 1 to 2000 characters/);
      await runner.resolve(id, 'reservation released by hand, ticket OPS-12');
      assert.equal(await runner.settled(id), 'resolved');
      assert.equal((await runner.get(id)).note, 'reservation released by hand, ticket OPS-12');
    });

    it('a failing pivot compensates; a retriable step after the pivot is retried, never compensated', async (t) => {
      const store = await testStore<ShopDb>(t, dialect, 'order', orderMigrations);
      const p = new Participant(
        await testStore<ParticipantDb>(t, dialect, 'participant', participantMigrations),
      );
      const saga = defineSaga<{ orderId: string }>('pivot', { version: 1 })
        .step('reserve', {
          action: (_c, s) => p.act(s.idempotencyKey, s.sagaId, 'reserve'),
          compensate: (_c, s) => p.undo(s.idempotencyKey, s.sagaId, 'reserve'),
        })
        .step('pay', {
          kind: 'pivot',
          retry: { maxAttempts: 1 },
          action: (_c, s) => p.act(s.idempotencyKey, s.sagaId, 'pay'),
        })
        .step('ship', {
          kind: 'retriable',
          retry: quick,
          action: (_c, s) => p.act(s.idempotencyKey, s.sagaId, 'ship'),
        });
      const { runner, clock } = testRunner(t, store, { sagas: [saga], stuckAfterAttempts: 10 });
      await runner.run();

      p.failing.set('pay', 1);
      const failed = await placeOrder(store, runner, 'pivot', { orderId: 'a' }, 'a');
      assert.equal(await drive(clock, runner.settled(failed)), 'compensated');
      assert.deepEqual(await p.effects(failed), ['reserve:action', 'reserve:compensation']);

      p.failing.set('ship', 4);
      const shipped = await placeOrder(store, runner, 'pivot', { orderId: 'b' }, 'b');
      assert.equal(await drive(clock, runner.settled(shipped)), 'completed');
      assert.deepEqual(await p.effects(shipped), ['reserve:action', 'pay:action', 'ship:action']);
      assert.equal((await runner.get(shipped)).timeline.filter((a) => a.step === 'ship').length, 5);
    });

    it('passing the whole-saga deadline before the pivot compensates', async (t) => {
      const store = await testStore<ShopDb>(t, dialect, 'order', orderMigrations);
      const p = new Participant(
        await testStore<ParticipantDb>(t, dialect, 'participant', participantMigrations),
      );
      p.flaky.set('pay', 100);
      const saga = defineSaga<{ orderId: string }>('deadline', { version: 1, deadlineMs: 5000 })
        .step('reserve', {
          action: (_c, s) => p.act(s.idempotencyKey, s.sagaId, 'reserve'),
          compensate: (_c, s) => p.undo(s.idempotencyKey, s.sagaId, 'reserve'),
        })
        .step('pay', {
          kind: 'pivot',
          retry: { maxAttempts: 100, backoff: constantBackoff(2000) },
          action: (_c, s) => p.act(s.idempotencyKey, s.sagaId, 'pay'),
        });
      const { runner, clock } = testRunner(t, store, { sagas: [saga] });
      await runner.run();
      const id = await placeOrder(store, runner, 'deadline', { orderId: 'o' }, 'o');
      assert.equal(await drive(clock, runner.settled(id)), 'compensated');
      const saved = await runner.get(id);
      assert.match(saved.lastError ?? '', /passed its deadline/);
      // Attempts every 2 s until the 5 s deadline: how many fit depends on when each ran. drive()
      // moves the test clock on while the runner waits on the database, so on a slow database the
      // deadline can pass before the first one (none); never more than three fit.
      const payAttempts = saved.timeline.filter((a) => a.step === 'pay');
      assert.ok(payAttempts.length <= 3, `${payAttempts.length} attempts of pay`);
      assert.ok(payAttempts.every((a) => a.outcome === 'error'));
      assert.deepEqual(await p.effects(id), ['reserve:action', 'reserve:compensation']);
    });

    it('times out a call step that does not answer, and compensates it as possibly applied', async (t) => {
      const store = await testStore<ShopDb>(t, dialect, 'order', orderMigrations);
      const p = new Participant(
        await testStore<ParticipantDb>(t, dialect, 'participant', participantMigrations),
      );
      const signals: AbortSignal[] = [];
      const saga = defineSaga<{ orderId: string }>('timeout', { version: 1 })
        .step('reserve', {
          action: (_c, s) => p.act(s.idempotencyKey, s.sagaId, 'reserve'),
          compensate: (_c, s) => p.undo(s.idempotencyKey, s.sagaId, 'reserve'),
        })
        .step('hang', {
          timeoutMs: 3000,
          retry: { maxAttempts: 2, ...quick },
          action: (_c, s) => {
            signals.push(s.signal);
            return new Promise<void>(() => {});
          },
          compensate: (_c, s) => p.undo(s.idempotencyKey, s.sagaId, 'hang'),
        });
      const { runner, clock } = testRunner(t, store, { sagas: [saga] });
      await runner.run();
      const id = await placeOrder(store, runner, 'timeout', { orderId: 'o' }, 'o');
      assert.equal(await drive(clock, runner.settled(id)), 'compensated');
      assert.equal(signals.length, 2);
      assert.ok(signals.every((s) => s.aborted));
      const { timeline } = await runner.get(id);
      assert.deepEqual(
        timeline.filter((a) => a.step === 'hang').map((a) => `${a.phase}:${a.outcome}`),
        ['action:timeout', 'action:timeout', 'compensation:ok'],
      );
      assert.deepEqual(await p.effects(id), ['reserve:action', 'hang:compensation', 'reserve:compensation']);
    });

    it('runs consecutive local steps together, and finds a failing one without applying the others twice', async (t) => {
      const store = await testStore<ShopDb>(t, dialect, 'order', orderMigrations);
      let secondFails = 2;
      let calls = 0;
      const local =
        (n: number) =>
        async (
          tx: Parameters<Parameters<typeof store.transaction>[0]>[0],
          _c: unknown,
          s: { idempotencyKey: string },
        ) => {
          calls++;
          if (n === 2 && secondFails-- > 0) throw new Error('second step refused');
          await idempotent(tx, s.idempotencyKey, async (tx) => {
            await tx
              .insertInto('orders')
              .values({ id: s.idempotencyKey, status: `step${n}` })
              .execute();
          });
        };
      const saga = defineSaga<{ orderId: string }, ShopDb>('locals', { version: 1 })
        .step('one', { kind: 'retriable', retry: quick, local: local(1) })
        .step('two', { kind: 'retriable', retry: quick, local: local(2) })
        .step('three', { kind: 'retriable', retry: quick, local: local(3) });
      const { runner, clock } = testRunner(t, store, { sagas: [saga] });
      await runner.run();
      const id = await store.transaction((tx) => runner.start(tx, saga, { orderId: 'x' }));
      assert.equal(await drive(clock, runner.settled(id)), 'completed');
      const rows = await store.db.selectFrom('orders').select('status').orderBy('status').execute();
      assert.deepEqual(
        rows.map((r) => r.status),
        ['step1', 'step2', 'step3'],
      );
      // Batch (1, 2 fails) rolled back, unrecorded; then 1 alone, 2 alone fails (recorded), then 2 and 3 together.
      assert.equal(calls, 2 + 1 + 1 + 2);
      assert.deepEqual(
        (await runner.get(id)).timeline.map((a) => `${a.step}:${a.attempt}:${a.outcome}`),
        ['one:1:ok', 'two:1:error', 'two:2:ok', 'three:1:ok'],
      );
    });

    it('continues the starting trace in a span per step and counts completions', async (t) => {
      const store = await testStore<ShopDb>(t, dialect, 'order', orderMigrations);
      const tracer = createTracer({ service: 'order' });
      const registry = new Registry();
      const saga = defineSaga<{ orderId: string }, ShopDb>('traced', { version: 1 })
        .step('one', { kind: 'pivot', action: async () => ({ a: 1 }) })
        .step('two', { kind: 'retriable', local: async () => ({ b: 2 }) });
      const { runner, clock } = testRunner(t, store, { sagas: [saga], tracer, registry });
      await runner.run();
      const trace = { traceId: 'a'.repeat(32), spanId: 'b'.repeat(16), sampled: true };
      const id = await store.transaction((tx) => runner.start(tx, saga, { orderId: 'x' }, { trace }));
      assert.equal(await drive(clock, runner.settled(id)), 'completed');
      const spans = tracer.spans({ traceId: trace.traceId });
      assert.deepEqual(spans.map((s) => s.name).sort(), ['saga traced one', 'saga traced two']);
      assert.ok(spans.every((s) => s.parentSpanId === trace.spanId && s.kind === 'internal'));
      assert.equal((await runner.get(id)).traceparent, `00-${trace.traceId}-${trace.spanId}-01`);
      assert.match(
        await registry.getSingleMetricAsString('flotilla_saga_completed_total'),
        /saga="traced"\} 1/,
      );
      assert.match(
        await registry.getSingleMetricAsString('flotilla_saga_step_duration_seconds'),
        /step="two"/,
      );
      assert.match(
        await registry.getSingleMetricAsString('flotilla_saga_runner_lag_seconds'),
        /flotilla_saga_runner_lag_seconds 0/,
      );
    });

    it('resumes an instance only on its own definition; others are left untouched and reported', async (t) => {
      const db = await freshDatabase(dialect, 'versions');
      defer(t, () => db.cleanup());
      const open = () => openStore<ShopDb>({ service: 'order', url: db.url, migrations: orderMigrations });
      const calls: string[] = [];
      const v1 = defineSaga<{ orderId: string }>('order', { version: 1 })
        .step('reserve', { kind: 'pivot', action: async () => void calls.push('v1 reserve') })
        .step('ship', { kind: 'retriable', action: async () => void calls.push('v1 ship') });
      const v2 = defineSaga<{ orderId: string }>('order', { version: 2 })
        .step('reserve', { kind: 'pivot', action: async () => void calls.push('v2 reserve') })
        .step('pack', { kind: 'retriable', action: async () => void calls.push('v2 pack') })
        .step('ship', { kind: 'retriable', action: async () => void calls.push('v2 ship') });
      // Deployed with v1 only, an instance is started but not run (the process stops).
      const first = await open();
      const old = testRunner(t, first, { sagas: [v1] });
      const oldId = await first.transaction((tx) => old.runner.start(tx, 'order', { orderId: 'old' }));
      await old.runner.close();
      await first.close();

      const second = await open();
      defer(t, () => second.close());
      const warnings: string[] = [];
      const clock = manualClock(1_700_000_000_000);
      const onlyV2 = testRunner(
        t,
        second,
        {
          sagas: [v2],
          logger: { info: () => {}, warn: (_o, msg) => warnings.push(msg), error: () => {} },
        },
        clock,
      );
      await onlyV2.runner.run();
      const newId = await second.transaction((tx) => onlyV2.runner.start(tx, 'order', { orderId: 'new' }));
      assert.equal(await drive(clock, onlyV2.runner.settled(newId)), 'completed');
      assert.deepEqual(calls, ['v2 reserve', 'v2 pack', 'v2 ship']);
      const untouched = await onlyV2.runner.get(oldId);
      assert.equal(untouched.state, 'running');
      assert.equal(untouched.matched, false);
      assert.deepEqual(untouched.timeline, []);
      assert.deepEqual(
        (await onlyV2.runner.unmatched()).map((u) => [u.name, u.version, u.count]),
        [['order', 1, 1]],
      );
      assert.match(warnings.join('\n'), /no matching definition/);
      await onlyV2.runner.close();

      // Keeping v1 registered next to v2 drains it.
      const both = testRunner(t, second, { sagas: [v1, v2] }, clock);
      await both.runner.run();
      assert.equal(await drive(clock, both.runner.settled(oldId)), 'completed');
      assert.deepEqual(calls.slice(3), ['v1 reserve', 'v1 ship']);
      assert.deepEqual(await both.runner.unmatched(), []);
    });

    it('sends a command through the outbox, parks without a lease, and resumes on the reply', async (t) => {
      const store = await testStore<ShopDb>(t, dialect, 'order', orderMigrations);
      const clock = manualClock(1_700_000_000_000);
      const transport = memoryTransport();
      defer(t, () => transport.close());
      const bus = memoryBus(t, store, clock, transport);
      const saga = defineSaga<{ orderId: string; cents: number }, ShopDb>('pay', { version: 1 }).step(
        'charge',
        {
          kind: 'pivot',
          timeoutMs: 60_000,
          command: {
            send: (ctx, s) => ({ event: ChargeCard, data: { key: s.idempotencyKey, cents: ctx.cents } }),
            replies: [CardCharged, CardDeclined],
            onReply: (reply) => {
              if (reply.type === CardDeclined.type)
                throw new CommandRejectedError(reply.subject, 'charge', 'declined');
              return { chargeId: (reply.data as { chargeId: string }).chargeId };
            },
          },
        },
      );
      const { runner } = testRunner(t, store, { sagas: [saga], bus }, clock);
      // The payment service: its own store, replying through its own outbox.
      const payment = await testStore<ParticipantDb>(t, dialect, 'payment', [
        participantMigrations[0] as Migration,
        ...eventsMigrations,
        ...idempotencyMigrations,
      ]);
      // The payment service's bus shares the in-memory transport (the broker) with the order service's.
      const paymentBus = memoryBus(t, payment, clock, transport);
      const seen: string[] = [];
      paymentBus.subscribe({
        group: 'payment',
        events: [ChargeCard],
        handler: async (event, { tx }) => {
          seen.push(event.data.key);
          const declined = event.data.cents > 1000;
          await idempotent(tx, event.data.key, async (tx) => {
            await tx
              .insertInto('effects')
              .values({ key: event.data.key, saga_id: event.subject, step: 'charge', kind: 'action' })
              .execute();
          });
          if (declined)
            await paymentBus.publish(tx, CardDeclined, { subject: event.subject, data: { reason: 'limit' } });
          else
            await paymentBus.publish(tx, CardCharged, {
              subject: event.subject,
              data: { chargeId: `ch-${event.subject}` },
            });
        },
      });
      await bus.start();
      await paymentBus.start();
      await runner.run();

      const id = await store.transaction((tx) => runner.start(tx, saga, { orderId: 'o', cents: 500 }));
      assert.equal(await drive(clock, runner.settled(id), 10), 'completed');
      assert.deepEqual(seen, [`${id}:charge`]);
      const done = await runner.get(id);
      assert.equal((done.context as { chargeId: string }).chargeId, `ch-${id}`);
      assert.deepEqual(
        done.timeline.map((a) => a.outcome),
        ['ok'],
      );

      const declined = await store.transaction((tx) => runner.start(tx, saga, { orderId: 'p', cents: 5000 }));
      assert.equal(await drive(clock, runner.settled(declined), 10), 'compensated');
      assert.match((await runner.get(declined)).lastError ?? '', /declined/);
    });

    it('a command without a reply times out, is sent again, then fails', async (t) => {
      const store = await testStore<ShopDb>(t, dialect, 'order', orderMigrations);
      const clock = manualClock(1_700_000_000_000);
      const bus = memoryBus(t, store, clock);
      const p = new Participant(
        await testStore<ParticipantDb>(t, dialect, 'participant', participantMigrations),
      );
      const saga = defineSaga<{ orderId: string }, ShopDb>('silent', { version: 1 })
        .step('reserve', {
          action: (_c, s) => p.act(s.idempotencyKey, s.sagaId, 'reserve'),
          compensate: (_c, s) => p.undo(s.idempotencyKey, s.sagaId, 'reserve'),
        })
        .step('charge', {
          timeoutMs: 5000,
          // The charge may have happened (no reply is no answer): its compensation runs too.
          compensate: { local: async () => {} },
          retry: { maxAttempts: 2, ...quick },
          command: {
            send: (_ctx, s) => ({ event: ChargeCard, data: { key: s.idempotencyKey, cents: 1 } }),
            replies: [CardCharged],
            onReply: () => ({}),
          },
        })
        .step('confirm', { kind: 'pivot', local: async () => {} });
      const { runner } = testRunner(t, store, { sagas: [saga], bus }, clock);
      await bus.start();
      await runner.run();
      const id = await store.transaction((tx) => runner.start(tx, saga, { orderId: 'o' }));
      const parked = new Promise<void>((resolve) => runner.onEvent((e) => e.type === 'parked' && resolve()));
      await drive(clock, parked, 10);
      const waiting = (await store.db
        .selectFrom('flotilla_saga_instances' as never)
        .selectAll()
        .execute()) as unknown as { state: string; lease_owner: string | null }[];
      assert.equal(waiting[0]?.state, 'waiting');
      assert.equal(waiting[0]?.lease_owner, null);
      assert.equal(await drive(clock, runner.settled(id)), 'compensated');
      const { timeline } = await runner.get(id);
      assert.deepEqual(
        timeline.filter((a) => a.step === 'charge').map((a) => `${a.phase}:${a.attempt}:${a.outcome}`),
        ['action:1:timeout', 'action:2:timeout', 'compensation:1:ok'],
      );
      assert.deepEqual(await p.effects(id), ['reserve:action', 'reserve:compensation']);
      const outbox = await store.db
        .selectFrom('flotilla_outbox' as never)
        .select('id' as never)
        .execute();
      assert.ok(outbox.length <= 2);
    });
  });
}

describe('saga migrations', () => {
  it('have flotilla_saga_ ids', () => {
    for (const m of [...sagaMigrations, ...idempotencyMigrations]) assert.match(m.id, /^flotilla_saga_/);
  });
});
