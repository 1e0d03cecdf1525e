// What the fulfillment remembers about failed calls, beside the saga's own log: the
// classification of each failed attempt (see step-failure.ts). Two questions are answered from
// it and from the saga's attempt log: "may this step have acted although it failed?" (its
// compensation must then look for the effect) and "why is the order being cancelled?".
import type { LoggedAttempt } from '@flotilla/saga';
import type { Kysely } from 'kysely';
import type { OrderDb } from './db.js';
import type { CallStep, Reason, StepFailure } from './step-failure.js';

/** Why an order is cancelled, as the cancellation records and publishes it. */
export interface CancellationCause {
  readonly reason: Reason;
  readonly detail: string;
}

/** Records the classification of a failed attempt of `step` (a retried write replaces it). */
export async function recordFailure(
  db: Kysely<OrderDb>,
  row: { orderId: string; step: CallStep; attempt: number; failure: StepFailure; now: number },
): Promise<void> {
  const { failure } = row;
  const values = {
    reason: failure.reason,
    code: failure.code,
    detail: failure.detail,
    uncertain: failure.uncertain ? 1 : 0,
    created_at: row.now,
  };
  await db
    .insertInto('fulfillment_failures')
    .values({ order_id: row.orderId, step: row.step, attempt: row.attempt, ...values })
    .onConflict((oc) => oc.columns(['order_id', 'step', 'attempt']).doUpdateSet(values))
    .execute();
}

/** The saga's attempt log and last error (the runner's own record, read in `db`'s transaction). */
async function sagaLog(
  db: Kysely<OrderDb>,
  sagaId: string,
): Promise<{ log: readonly LoggedAttempt[]; lastError: string | null }> {
  const row = await db
    .selectFrom('flotilla_saga_instances')
    .select(['log', 'last_error'])
    .where('id', '=', sagaId)
    .executeTakeFirst();
  if (row === undefined) return { log: [], lastError: null };
  return { log: JSON.parse(row.log) as LoggedAttempt[], lastError: row.last_error };
}

/**
 * Whether some attempt of `step` may have been applied by the participant although none
 * returned a result: one whose process died mid-call (logged `started`), one that timed out, or
 * one whose failure was classified as uncertain (or not classified at all).
 */
export async function mayHaveApplied(
  db: Kysely<OrderDb>,
  sagaId: string,
  orderId: string,
  step: CallStep,
): Promise<boolean> {
  const { log } = await sagaLog(db, sagaId);
  const attempts = log.filter((a) => a.step === step && a.phase === 'action');
  if (attempts.length === 0) return false;
  const rows = await db
    .selectFrom('fulfillment_failures')
    .select(['attempt', 'uncertain'])
    .where('order_id', '=', orderId)
    .where('step', '=', step)
    .execute();
  const certain = new Set(rows.filter((r) => Number(r.uncertain) === 0).map((r) => Number(r.attempt)));
  return attempts.some((a) => a.outcome !== 'error' || !certain.has(a.attempt));
}

/**
 * Why the saga of `orderId` is compensating: the classification of its last failed action
 * attempt, or FAILED with the saga's last error when that attempt was not a classified call
 * (a local step that kept failing).
 */
export async function cancellationCause(
  db: Kysely<OrderDb>,
  sagaId: string,
  orderId: string,
): Promise<CancellationCause> {
  const { log, lastError } = await sagaLog(db, sagaId);
  const last = log.findLast((a) => a.phase === 'action');
  if (last !== undefined && last.outcome !== 'ok') {
    const row = await db
      .selectFrom('fulfillment_failures')
      .select(['reason', 'detail'])
      .where('order_id', '=', orderId)
      .where('step', '=', last.step)
      .where('attempt', '=', last.attempt)
      .executeTakeFirst();
    if (row !== undefined) return { reason: row.reason as Reason, detail: row.detail };
  }
  return { reason: 'FAILED', detail: (lastError ?? 'the fulfillment failed').slice(0, 500) };
}
