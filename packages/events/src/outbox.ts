import type { StoreDialect } from '@flotilla/store';
import { type Kysely, sql } from 'kysely';
import type { EventEnvelope } from './envelope.js';
import { encodeEnvelope } from './envelope.js';
import type { EventsTables } from './migrations.js';
import type { TransportMessage } from './transport.js';

/** A query handle over the events tables: the store, a transaction, or one pinned connection. */
export type EventsDb = Kysely<EventsTables>;

/** An unsent outbox row as the relay reads it. */
export interface OutboxRow {
  readonly seq: number;
  readonly id: string;
  readonly topic: string;
  readonly key: string;
  readonly payload: string;
  readonly traceparent: string | null;
}

/**
 * Writes an envelope into the outbox within the caller's transaction. A raw statement rather
 * than the query builder: it runs once per published event, inside the caller's transaction.
 */
export async function writeOutbox(tx: EventsDb, envelope: EventEnvelope, createdAt: number): Promise<void> {
  await sql`insert into flotilla_outbox (id, topic, key, payload, traceparent, created_at) values (${envelope.id}, ${envelope.type}, ${envelope.subject}, ${encodeEnvelope(envelope)}, ${envelope.traceparent ?? null}, ${createdAt})`.execute(
    tx,
  );
}

/**
 * The oldest unsent rows, in insertion order. Every row still in the table is unsent (sent rows
 * are deleted), so a row whose transaction committed after later ones is found on the next read:
 * there is no cursor to have moved past it.
 */
export function readUnsent(db: EventsDb, limit: number): Promise<OutboxRow[]> {
  return db
    .selectFrom('flotilla_outbox')
    .select(['seq', 'id', 'topic', 'key', 'payload', 'traceparent'])
    .orderBy('seq')
    .limit(limit)
    .execute();
}

/**
 * Deletes exactly the rows that were sent. Never a range (`seq <= max`): a row with a lower seq
 * that committed late may be in that range without having been sent. The ids are checked too,
 * because SQLite may give a seq value again once every row was deleted (another instance's
 * relay could have sent and deleted these rows, and a new row taken one of their seq values).
 * One SQL text whatever the number of rows (an array on PostgreSQL, a JSON list on SQLite), so
 * it is parsed and prepared once rather than once per batch size.
 */
export async function deleteSent(
  db: EventsDb,
  dialect: StoreDialect,
  rows: readonly OutboxRow[],
): Promise<void> {
  if (rows.length === 0) return;
  const seqs = rows.map((r) => Number(r.seq));
  const ids = rows.map((r) => r.id);
  if (dialect === 'postgres')
    await sql`delete from flotilla_outbox where seq = any(${seqs}::bigint[]) and id = any(${ids}::text[])`.execute(
      db,
    );
  else
    await sql`delete from flotilla_outbox where seq in (select value from json_each(${JSON.stringify(seqs)})) and id in (select value from json_each(${JSON.stringify(ids)}))`.execute(
      db,
    );
}

/** How many rows wait to be sent, and the creation time (epoch ms) of the oldest. */
export async function outboxBacklog(
  db: EventsDb,
): Promise<{ count: number; oldestCreatedAt: number | null }> {
  const row = await db
    .selectFrom('flotilla_outbox')
    .select((eb) => [
      eb.fn.countAll<number>().as('count'),
      eb.fn.min<number | null>('created_at').as('oldest'),
    ])
    .executeTakeFirst();
  return { count: Number(row?.count ?? 0), oldestCreatedAt: row?.oldest == null ? null : Number(row.oldest) };
}

const encoder = new TextEncoder();

/** The transport message of an outbox row: topic = event type, key = subject, the envelope as payload. */
export function toMessage(row: OutboxRow): TransportMessage {
  const message = { id: row.id, topic: row.topic, key: row.key, payload: encoder.encode(row.payload) };
  return row.traceparent === null ? message : { ...message, headers: { traceparent: row.traceparent } };
}
