import type { ActiveSpan } from '@flotilla/service';
import type { Tx } from '@flotilla/store';
import { errorColumns, type ReplayResult } from './dead-letters.js';
import type { EventEnvelope } from './envelope.js';
import { DeadLetterNotFoundError, DeadLetterReplayError, isDeadLetterNotFoundError } from './errors.js';
import { type ConsumerSettings, endSpan, invokeHandler } from './handler-invocation.js';
import type { DeadLetterTable } from './migrations.js';
import type { EventsDb } from './outbox.js';

/**
 * Runs a dead letter's event through its group's handler in one transaction that also removes
 * the dead letter and marks the inbox row handled. On failure the dead letter records the new
 * error and one more attempt, and `DeadLetterReplayError` is thrown (internal).
 */
export async function replayDeadLetter<DB>(
  s: ConsumerSettings<DB>,
  row: DeadLetterTable,
  read: (text: string, topic: string) => EventEnvelope,
): Promise<ReplayResult> {
  const attempts = Number(row.attempts) + 1;
  let span: ActiveSpan | undefined;
  try {
    const event = read(row.payload, row.event_type);
    await s.store.transaction(async (t) => {
      const tx = t as unknown as EventsDb;
      const deleted = await tx
        .deleteFrom('flotilla_dead_letters')
        .where('id', '=', row.id)
        .executeTakeFirst();
      if (Number(deleted.numDeletedRows) !== 1) throw new DeadLetterNotFoundError(row.id);
      const now = s.now();
      const updated = await tx
        .updateTable('flotilla_inbox')
        .set({ outcome: 'handled', handled_at: now })
        .where('grp', '=', s.group)
        .where('event_id', '=', row.event_id)
        .executeTakeFirst();
      if (Number(updated.numUpdatedRows) === 0)
        await tx
          .insertInto('flotilla_inbox')
          .values({ grp: s.group, event_id: row.event_id, outcome: 'handled', handled_at: now })
          .execute();
      span = await invokeHandler(s, t as Tx<DB>, event, attempts);
    });
    endSpan(span);
    s.logger.info({ group: s.group, eventId: row.event_id, deadLetterId: row.id }, 'dead letter replayed');
    return { id: row.id, eventId: row.event_id, attempts };
  } catch (err) {
    endSpan(span, err);
    if (isDeadLetterNotFoundError(err)) throw err;
    await (s.store.db as unknown as EventsDb)
      .updateTable('flotilla_dead_letters')
      .set({ ...errorColumns(err), attempts, last_attempt_at: s.now() })
      .where('id', '=', row.id)
      .execute();
    throw new DeadLetterReplayError(row.id, attempts, { cause: err });
  }
}
