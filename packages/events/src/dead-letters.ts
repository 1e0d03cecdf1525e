import { randomUUID } from 'node:crypto';
import { flotillaCode } from '@flotilla/resilience';
import type { Store } from '@flotilla/store';
import type { EventEnvelope } from './envelope.js';
import { DeadLetterNotFoundError, messageOf } from './errors.js';
import type { DeadLetterTable } from './migrations.js';
import type { EventsDb } from './outbox.js';

/** Why an event was dead-lettered. */
export type DeadLetterReason =
  /** The handler failed `maxAttempts` times. */
  | 'handler-failed'
  /** The envelope or its data did not match the contract: never retried. */
  | 'poison';

/** The error that dead-lettered an event (or failed its last replay). */
export interface DeadLetterError {
  readonly message: string;
  /** The error's `code` (a Flotilla code, or a driver's), when it had one. */
  readonly code?: string;
  /** The stack trace: kept in the service's database for its operators, never sent to clients. */
  readonly stack?: string;
}

/** An event a consumer group gave up on. */
export interface DeadLetter {
  /** The dead letter's own id (for `get`, `replay`, `discard`). */
  readonly id: string;
  /** The consumer group that failed to handle it. */
  readonly group: string;
  readonly eventId: string;
  readonly eventType: string;
  /** The event's subject (aggregate id). */
  readonly subject: string;
  readonly reason: DeadLetterReason;
  readonly error: DeadLetterError;
  /** Deliveries and replays so far. */
  readonly attempts: number;
  /** When it was dead-lettered, epoch milliseconds. */
  readonly deadLetteredAt: number;
  /** When it was last tried (delivered or replayed), epoch milliseconds. */
  readonly lastAttemptAt: number;
  /** The envelope as received, when it was a JSON object (a poison message may not be). */
  readonly envelope: EventEnvelope | undefined;
  /** The payload as received, as text. */
  readonly payload: string;
}

/** Query of `deadLetters.list`. */
export interface DeadLetterQuery {
  /** Only this consumer group's. */
  readonly group?: string;
  /** Only events of this type. */
  readonly type?: string;
  /**
   * At most this many, oldest first; an integer in [1, 1000].
   * @default 100
   */
  readonly limit?: number;
  /** Aborts the query. */
  readonly signal?: AbortSignal;
}

/** What a successful replay did. */
export interface ReplayResult {
  readonly id: string;
  readonly eventId: string;
  /** Attempts including this replay. */
  readonly attempts: number;
}

/**
 * The dead letters in the service's database: inspect them, replay them through their group's
 * handler once the cause is fixed, or discard them.
 */
export interface DeadLetters {
  /** Dead letters matching `query`, oldest first. */
  list(query?: DeadLetterQuery): Promise<DeadLetter[]>;
  /** One dead letter, or `undefined`. */
  get(id: string, options?: { signal?: AbortSignal }): Promise<DeadLetter | undefined>;
  /**
   * Runs the group's handler again, in one transaction with the inbox update and the removal of
   * the dead letter. Rejects with `DeadLetterReplayError` (the cause is the handler's error) when
   * it fails again, recording that error and one more attempt; with `DeadLetterNotFoundError`
   * when the dead letter is gone. The group must be subscribed on this bus.
   */
  replay(id: string): Promise<ReplayResult>;
  /**
   * Deletes the dead letter for good; the event stays marked in the inbox, so redeliveries are
   * still ignored. Rejects with `DeadLetterNotFoundError` when it does not exist.
   */
  discard(id: string): Promise<void>;
}

/** The facts of a dead letter to record (internal). */
export interface DeadLetterRecord {
  readonly group: string;
  readonly eventId: string;
  readonly eventType: string;
  readonly subject: string;
  readonly payload: string;
  readonly reason: DeadLetterReason;
  readonly error: unknown;
  readonly attempts: number;
  readonly now: number;
}

/**
 * Records a dead letter and its inbox row in `tx`. Returns `false` (and writes nothing) when the
 * inbox already has the event: it was handled or dead-lettered before, and this is a copy.
 */
export async function recordDeadLetter(tx: EventsDb, record: DeadLetterRecord): Promise<boolean> {
  const inbox = await tx
    .insertInto('flotilla_inbox')
    .values({ grp: record.group, event_id: record.eventId, outcome: 'dead-lettered', handled_at: record.now })
    .onConflict((oc) => oc.columns(['grp', 'event_id']).doNothing())
    .executeTakeFirst();
  if (Number(inbox.numInsertedOrUpdatedRows ?? 0n) === 0) return false;
  await tx
    .insertInto('flotilla_dead_letters')
    .values({
      id: randomUUID(),
      grp: record.group,
      event_id: record.eventId,
      event_type: record.eventType,
      subject: record.subject,
      payload: record.payload,
      reason: record.reason,
      ...errorColumns(record.error),
      attempts: record.attempts,
      dead_lettered_at: record.now,
      last_attempt_at: record.now,
    })
    .onConflict((oc) => oc.columns(['grp', 'event_id']).doNothing())
    .execute();
  return true;
}

/** The error columns of a dead letter. */
export function errorColumns(
  err: unknown,
): Pick<DeadLetterTable, 'error_message' | 'error_code' | 'error_stack'> {
  const code = flotillaCode(err) ?? (err as { code?: unknown } | null)?.code;
  return {
    error_message: messageOf(err).slice(0, 4000),
    error_code: typeof code === 'string' || typeof code === 'number' ? String(code).slice(0, 200) : null,
    error_stack: err instanceof Error && typeof err.stack === 'string' ? err.stack.slice(0, 16_000) : null,
  };
}

/** What the dead-letter API needs from the bus (internal). */
export interface DeadLetterHost {
  readonly store: Store<unknown>;
  readonly now: () => number;
  /** Replays a dead letter through its group's handler (throws when the group is not subscribed here). */
  replay(row: DeadLetterTable): Promise<ReplayResult>;
}

/** The dead-letter API of a bus (internal factory). */
export function deadLetterApi(host: DeadLetterHost): DeadLetters {
  const db = (): EventsDb => host.store.db as unknown as EventsDb;
  const find = async (id: string): Promise<DeadLetterTable | undefined> => {
    checkId(id);
    return db().selectFrom('flotilla_dead_letters').selectAll().where('id', '=', id).executeTakeFirst();
  };
  return {
    async list(query = {}) {
      const { group, type, limit = 100, signal } = query;
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
        throw new RangeError(`deadLetters.list: limit must be an integer in [1, 1000], got ${String(limit)}`);
      signal?.throwIfAborted();
      let q = db().selectFrom('flotilla_dead_letters').selectAll();
      if (group !== undefined) q = q.where('grp', '=', group);
      if (type !== undefined) q = q.where('event_type', '=', type);
      const rows = await q.orderBy('dead_lettered_at').orderBy('id').limit(limit).execute();
      signal?.throwIfAborted();
      return rows.map(toDeadLetter);
    },
    async get(id, options = {}) {
      options.signal?.throwIfAborted();
      const row = await find(id);
      return row === undefined ? undefined : toDeadLetter(row);
    },
    async replay(id) {
      const row = await find(id);
      if (row === undefined) throw new DeadLetterNotFoundError(id);
      return host.replay(row);
    },
    async discard(id) {
      checkId(id);
      await host.store.transaction(async (t) => {
        const tx = t as unknown as EventsDb;
        const row = await tx
          .deleteFrom('flotilla_dead_letters')
          .where('id', '=', id)
          .returning(['grp', 'event_id'])
          .executeTakeFirst();
        if (row === undefined) throw new DeadLetterNotFoundError(id);
        await tx
          .updateTable('flotilla_inbox')
          .set({ outcome: 'discarded', handled_at: host.now() })
          .where('grp', '=', row.grp)
          .where('event_id', '=', row.event_id)
          .execute();
      });
    },
  };
}

function checkId(id: unknown): void {
  if (typeof id !== 'string' || id.length === 0 || id.length > 200)
    throw new TypeError(`dead letter id must be a non-empty string, got ${String(id)}`);
}

function toDeadLetter(row: DeadLetterTable): DeadLetter {
  let envelope: EventEnvelope | undefined;
  try {
    const parsed: unknown = JSON.parse(row.payload);
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed))
      envelope = parsed as EventEnvelope;
  } catch {
    envelope = undefined;
  }
  return {
    id: row.id,
    group: row.grp,
    eventId: row.event_id,
    eventType: row.event_type,
    subject: row.subject,
    reason: row.reason === 'poison' ? 'poison' : 'handler-failed',
    error: {
      message: row.error_message,
      ...(row.error_code === null ? {} : { code: row.error_code }),
      ...(row.error_stack === null ? {} : { stack: row.error_stack }),
    },
    attempts: Number(row.attempts),
    deadLetteredAt: Number(row.dead_lettered_at),
    lastAttemptAt: Number(row.last_attempt_at),
    envelope,
    payload: row.payload,
  };
}
