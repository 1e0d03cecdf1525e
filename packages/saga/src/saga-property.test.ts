import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { constantBackoff, manualClock } from '@flotilla/resilience';
import type { Store } from '@flotilla/store';
import fc from 'fast-check';
import { sql } from 'kysely';
import { defineSaga } from './define-saga.js';
import { idempotent } from './idempotent.js';
import {
  defer,
  dialects,
  drive,
  orderMigrations,
  type ParticipantDb,
  participantMigrations,
  type ShopDb,
  testStore,
} from './saga.test-helpers.js';
import { createSagaRunner, type SagaRunner } from './saga-runner.js';
import { isTerminal } from './states.js';

/**
 * What one attempt does:
 * - ok: applies its effect and returns;
 * - fail: throws before acting;
 * - fail-after: acts (commits), then throws (like a lost response);
 * - timeout: hangs without acting, until the step's timeout;
 * - crash: acts, then the runner process "dies" (stops claiming, never writes again) and a
 *   new runner takes over once the lease expires.
 */
const outcome = fc.constantFrom('ok', 'ok', 'ok', 'fail', 'fail-after', 'timeout', 'crash');
type Outcome = 'ok' | 'fail' | 'fail-after' | 'timeout' | 'crash';

const STEPS = ['reserve', 'charge', 'pay', 'notify'] as const;

const scenario = fc.array(
  fc.record({
    actions: fc.tuple(...STEPS.map(() => fc.array(outcome, { maxLength: 3 }))),
    compensations: fc.tuple(...STEPS.map(() => fc.array(outcome, { maxLength: 4 }))),
  }),
  { minLength: 1, maxLength: 4 },
);

const quiet = { info: () => {}, warn: () => {}, error: () => {} };

async function runScenario(
  order: Store<ShopDb>,
  participant: Store<ParticipantDb>,
  plans: fc.Arbitrary<unknown> extends never ? never : { actions: Outcome[][]; compensations: Outcome[][] }[],
): Promise<void> {
  await sql`delete from flotilla_saga_instances`.execute(order.db);
  await sql`delete from effects`.execute(participant.db);
  await sql`delete from flotilla_saga_idempotency`.execute(participant.db);
  const clock = manualClock(1_700_000_000_000);
  const hung: (() => void)[] = [];
  /**
   * The participant's side of every call: the manual clock times a call out without waiting for
   * it, so under load it may still act after its saga settled. The run waits for all of them
   * before checking (a late effect must be seen by the checks) and before it ends: the next run
   * reuses the saga ids and keys on emptied tables, and an effect committed there by a call of
   * this run would be an effect that run never logged.
   */
  const inflight = new Set<Promise<unknown>>();
  const drain = async (): Promise<void> => {
    while (inflight.size > 0) await Promise.allSettled([...inflight]);
  };
  /** Set once the sagas settled: a late "crash" starts no runner any more. */
  let over = false;
  const runners: SagaRunner<ShopDb>[] = [];
  let generation = 0;
  let runner: SagaRunner<ShopDb>;
  const newRunner = (): SagaRunner<ShopDb> => {
    generation++;
    const r = createSagaRunner<ShopDb>({
      store: order,
      sagas: [saga],
      instanceId: `gen-${generation}`,
      clock,
      now: () => clock.now(),
      leaseMs: 20_000,
      pollIntervalMs: 500,
      stuckAfterAttempts: 4,
      compensationBackoff: constantBackoff(500),
      logger: quiet,
    });
    runners.push(r);
    void r.run();
    return r;
  };
  const attempt = async (
    i: number,
    step: number,
    phase: 'action' | 'compensation',
    n: number,
    key: string,
    sagaId: string,
  ): Promise<void> => {
    const plan = (phase === 'action' ? plans[i]?.actions : plans[i]?.compensations)?.[step] ?? [];
    const what = plan[n - 1] ?? 'ok';
    const work = participate(what, step, phase, key, sagaId);
    inflight.add(work);
    const forget = () => inflight.delete(work);
    work.then(forget, forget);
    if ((await work) === 'answered') return;
    if (what === 'fail') throw new Error(`${STEPS[step]} ${phase} refused`);
    if (what === 'timeout') return new Promise<void>(() => {});
    if (what === 'fail-after') throw new Error(`${STEPS[step]} ${phase} lost its response`);
    if (what === 'crash' && !over) {
      const dead = runner;
      void dead.close();
      runner = newRunner();
      return new Promise<void>((resolve) => hung.push(resolve));
    }
  };
  /** What the participant does for one call: `answered` when it had seen the key already. */
  const participate = async (
    what: Outcome,
    step: number,
    phase: 'action' | 'compensation',
    key: string,
    sagaId: string,
  ): Promise<'answered' | 'done'> => {
    // A participant answers a key it has seen with the first result, whatever else happens now.
    const seen = await sql`select 1 from flotilla_saga_idempotency where key = ${key}`.execute(
      participant.db,
    );
    if (seen.rows.length > 0) return 'answered';
    if (what === 'fail' || what === 'timeout') return 'done';
    await participant.transaction((tx) =>
      idempotent(tx, key, async (tx) => {
        if (phase === 'compensation') {
          // Undoing an action that never happened is a no-op — but a call that timed out may
          // still act later. So the compensation first takes the action's key for itself: an
          // action in flight either committed before (its key is there: undo it) or finds the
          // key taken and never acts, as a real participant must ensure.
          const actionKey = key.slice(0, -':compensate'.length);
          const { rows: refused } = await sql`insert into flotilla_saga_idempotency (key, result, created_at)
            values (${actionKey}, null, 0) on conflict (key) do nothing returning key`.execute(tx);
          if (refused.length > 0) return;
        }
        await tx
          .insertInto('effects')
          .values({ key, saga_id: sagaId, step: STEPS[step] as string, kind: phase })
          .execute();
      }),
    );
    return 'done';
  };
  const call = (step: number) => ({
    timeoutMs: 3000,
    retry: { maxAttempts: 2, backoff: constantBackoff(500) },
    action: (ctx: { i: number }, s: { attempt: number; idempotencyKey: string; sagaId: string }) =>
      attempt(ctx.i, step, 'action', s.attempt, s.idempotencyKey, s.sagaId),
  });
  const compensate =
    (step: number) => (ctx: { i: number }, s: { attempt: number; idempotencyKey: string; sagaId: string }) =>
      attempt(ctx.i, step, 'compensation', s.attempt, s.idempotencyKey, s.sagaId);
  const saga = defineSaga<{ i: number }, ShopDb>('property', { version: 1 })
    .step('reserve', { ...call(0), compensate: compensate(0) })
    .step('charge', { ...call(1), compensate: compensate(1) })
    .step('pay', { ...call(2), kind: 'pivot' })
    .step('notify', { ...call(3), kind: 'retriable' });
  runner = newRunner();
  const ids: string[] = [];
  for (const [i] of plans.entries())
    ids.push(await order.transaction((tx) => runner.start(tx, saga, { i }, { id: `s${i}` })));

  const settle = async (): Promise<void> => {
    for (const id of ids) await runner.settled(id);
  };
  try {
    await drive(clock, settle(), 200);
    // A call the clock timed out may still be acting: what it does counts too.
    await drain();

    // Invariants.
    const { rows: effects } = await sql<{ saga_id: string; step: string; kind: string; n: number }>`
      select saga_id, step, kind, count(*) as n from effects group by saga_id, step, kind`.execute(
      participant.db,
    );
    for (const e of effects) assert.equal(Number(e.n), 1, `effect applied twice: ${JSON.stringify(e)}`);
    for (const id of ids) {
      const saga = await runner.get(id);
      assert.ok(isTerminal(saga.state) || saga.state === 'stuck', `${id} ended ${saga.state}`);
      const mine = effects.filter((e) => e.saga_id === id);
      const has = (step: string, kind: string) => mine.some((e) => e.step === step && e.kind === kind);
      for (const e of mine) {
        // No effect without its record in the saga's log…
        assert.ok(
          saga.timeline.some((a) => a.step === e.step && a.phase === e.kind),
          `${id}: ${e.step} ${e.kind} applied but never logged`,
        );
        // …and no compensation without its action.
        if (e.kind === 'compensation')
          assert.ok(has(e.step, 'action'), `${id}: ${e.step} compensated without its action`);
      }
      if (saga.state === 'completed') {
        for (const step of STEPS) assert.ok(has(step, 'action'), `${id} completed without ${step}`);
        assert.ok(!mine.some((e) => e.kind === 'compensation'), `${id} completed yet compensated`);
      }
      if (saga.state === 'compensated') {
        assert.ok(!has('pay', 'action'), `${id} compensated after its pivot succeeded`);
        for (const step of ['reserve', 'charge'])
          if (has(step, 'action')) assert.ok(has(step, 'compensation'), `${id}: ${step} never compensated`);
      }
    }
  } finally {
    // Nothing of this run may act in the next one: no late call, no runner still writing.
    over = true;
    for (const resolve of hung) resolve();
    await drain();
    await drive(clock, Promise.all(runners.map((r) => r.close())), 200);
  }
}

for (const { dialect, skip } of dialects) {
  describe(`saga invariants under random failures, timeouts and crashes on ${dialect}`, { skip }, () => {
    it('every saga ends completed, compensated or stuck, each effect once, none unlogged or orphaned', async (t) => {
      const order = await testStore<ShopDb>(t, dialect, 'order', orderMigrations);
      const participant = await testStore<ParticipantDb>(t, dialect, 'participant', participantMigrations);
      defer(t, () => undefined);
      await fc.assert(
        fc.asyncProperty(scenario, (plans) => runScenario(order, participant, plans as never)),
        { numRuns: dialect === 'sqlite' ? 40 : 15, seed: 20261127, includeErrorInReport: true },
      );
    });
  });
}
