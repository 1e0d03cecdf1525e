import type { Migration } from '@flotilla/store';
import type { Generated } from 'kysely';

/** Unsent events of the service, written in the caller's transaction and deleted once sent. */
export interface OutboxTable {
  /** Insertion order; the relay sends in this order. Not a cursor: see the relay. */
  seq: Generated<number>;
  /** The event id. */
  id: string;
  /** The event type. */
  topic: string;
  /** The subject (aggregate id). */
  key: string;
  /** The serialised envelope. */
  payload: string;
  traceparent: string | null;
  /** Epoch milliseconds. */
  created_at: number;
}

/** Events a consumer group has handled (or dead-lettered), so a redelivery is ignored. */
export interface InboxTable {
  grp: string;
  event_id: string;
  /** `handled`, `dead-lettered` or `discarded`. */
  outcome: string;
  /** Epoch milliseconds; rows older than the inbox retention are pruned. */
  handled_at: number;
}

/** Events a group gave up on, with the error, for inspection, replay or discard. */
export interface DeadLetterTable {
  id: string;
  grp: string;
  event_id: string;
  event_type: string;
  subject: string;
  /** The envelope as received (text). */
  payload: string;
  /** `handler-failed` or `poison`. */
  reason: string;
  error_message: string;
  error_code: string | null;
  error_stack: string | null;
  attempts: number;
  /** Epoch milliseconds. */
  dead_lettered_at: number;
  /** Epoch milliseconds of the last delivery or replay attempt. */
  last_attempt_at: number;
}

/** The tables of `eventsMigrations`, for typing queries against them. */
export interface EventsTables {
  flotilla_outbox: OutboxTable;
  flotilla_inbox: InboxTable;
  flotilla_dead_letters: DeadLetterTable;
}

/**
 * The tables the event bus needs in the service's own database, for SQLite and PostgreSQL:
 * `flotilla_outbox`, `flotilla_inbox` and `flotilla_dead_letters`. Add them after the
 * service's own migrations (ids sort after zero-padded numbers: `0001_…` < `flotilla_events_…`).
 *
 * @example
 * const store = await openStore<OrdersDb>({
 *   service: 'orders',
 *   migrations: [...ordersMigrations, ...eventsMigrations],
 * });
 */
export const eventsMigrations: readonly Migration[] = Object.freeze([
  {
    id: 'flotilla_events_0001_outbox',
    up: {
      // No AUTOINCREMENT and no index on id: each costs a b-tree write per publish. A seq value
      // can then come back once every row was deleted, which is why the relay deletes by seq and id.
      sqlite: `create table flotilla_outbox (
        seq integer primary key,
        id text not null,
        topic text not null,
        key text not null,
        payload text not null,
        traceparent text,
        created_at integer not null
      )`,
      postgres: `create table flotilla_outbox (
        seq bigint generated always as identity primary key,
        id text not null,
        topic text not null,
        key text not null,
        payload text not null,
        traceparent text,
        created_at bigint not null
      )`,
    },
  },
  {
    id: 'flotilla_events_0002_inbox',
    up: {
      sqlite: [
        `create table flotilla_inbox (
          grp text not null,
          event_id text not null,
          outcome text not null,
          handled_at integer not null,
          primary key (grp, event_id)
        ) without rowid`,
        'create index flotilla_inbox_by_time on flotilla_inbox (handled_at)',
      ],
      postgres: [
        `create table flotilla_inbox (
          grp text not null,
          event_id text not null,
          outcome text not null,
          handled_at bigint not null,
          primary key (grp, event_id)
        )`,
        'create index flotilla_inbox_by_time on flotilla_inbox (handled_at)',
      ],
    },
  },
  {
    id: 'flotilla_events_0003_dead_letters',
    up: [
      `create table flotilla_dead_letters (
        id text primary key,
        grp text not null,
        event_id text not null,
        event_type text not null,
        subject text not null,
        payload text not null,
        reason text not null,
        error_message text not null,
        error_code text,
        error_stack text,
        attempts integer not null,
        dead_lettered_at bigint not null,
        last_attempt_at bigint not null,
        unique (grp, event_id)
      )`,
      'create index flotilla_dead_letters_by_time on flotilla_dead_letters (dead_lettered_at)',
    ],
  },
] satisfies Migration[]);
