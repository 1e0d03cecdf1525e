import type { Migration } from '@flotilla/store';

/** One saga instance: where it is, its context, and its lease (see `sagaMigrations`). */
export interface SagaInstanceTable {
  id: string;
  /** Persisted format version (`INSTANCE_FORMAT`). */
  format: number;
  name: string;
  version: number;
  /** sha256 (hex, first 16 characters) of the ordered step names of the definition that started it. */
  steps_hash: string;
  /** One of `SagaState`. */
  state: string;
  /** `forward` or `backward`. */
  direction: string;
  /** Forward: the next step to run. Backward: the step whose compensation is next (counting down). */
  step_index: number;
  /** Attempts already made of the current step or compensation. */
  attempt: number;
  /** The context as JSON. */
  ctx: string;
  /** The reply event (JSON) received for a waiting command step, until the runner consumes it. */
  reply: string | null;
  /** Epoch ms at which the saga is due (a retry delay, a command timeout). */
  run_at: number;
  /** The runner instance holding the lease, if any. */
  lease_owner: string | null;
  /** Epoch ms at which the lease expires. */
  lease_until: number;
  /** Fencing token: raised by every claim; every checkpoint write is conditional on it. */
  epoch: number;
  /** Whole-saga deadline, epoch ms. */
  deadline_at: number | null;
  /** W3C traceparent of the request that started the saga. */
  traceparent: string | null;
  /** The error that made the saga compensate or get stuck. */
  last_error: string | null;
  /** An operator's note (resolve). */
  note: string | null;
  /** The attempt log as a JSON array of `LoggedAttempt`. */
  log: string;
  created_at: number;
  updated_at: number;
}

/**
 * One attempt of a step's action or compensation, as kept (JSON) in the instance's `log`: the
 * timeline is written by the checkpoint that records the attempt, in the same statement.
 */
export interface LoggedAttempt {
  readonly step: string;
  readonly phase: 'action' | 'compensation';
  readonly attempt: number;
  /** `started` (in flight, or its runner died), `ok`, `error`, `timeout`, `waiting` (command sent). */
  readonly outcome: string;
  readonly error: string | null;
  /** The lease epoch of the runner that made the attempt. */
  readonly epoch: number;
  /** Epoch ms. */
  readonly startedAt: number;
  /** Epoch ms; `null` while in flight. */
  readonly finishedAt: number | null;
}

/** Results of effects already applied by a participant, by idempotency key. */
export interface IdempotencyTable {
  key: string;
  /** The result as JSON; `null` when the effect returned nothing. */
  result: string | null;
  created_at: number;
}

/** The table of `sagaMigrations`. */
export interface SagaTables {
  flotilla_saga_instances: SagaInstanceTable;
}

/** The table of `idempotencyMigrations`. */
export interface IdempotencyTables {
  flotilla_saga_idempotency: IdempotencyTable;
}

/**
 * The orchestrator's table, for SQLite and PostgreSQL: `flotilla_saga_instances` (one row per
 * saga, with its context, lease and attempt log). Add them to the owning service's migrations, with `eventsMigrations`
 * when a saga sends commands.
 *
 * @example
 * const store = await openStore({ service: 'order', migrations: [...orderMigrations, ...eventsMigrations, ...sagaMigrations] });
 */
export const sagaMigrations: readonly Migration[] = Object.freeze([
  {
    id: 'flotilla_saga_0001_instances',
    up: [
      `create table flotilla_saga_instances (
        id text primary key,
        format integer not null,
        name text not null,
        version integer not null,
        steps_hash text not null,
        state text not null,
        direction text not null,
        step_index integer not null,
        attempt integer not null,
        ctx text not null,
        reply text,
        run_at bigint not null,
        lease_owner text,
        lease_until bigint not null,
        epoch integer not null,
        deadline_at bigint,
        traceparent text,
        last_error text,
        note text,
        log text not null,
        created_at bigint not null,
        updated_at bigint not null
      )`,
      'create index flotilla_saga_instances_due on flotilla_saga_instances (state, run_at)',
      'create index flotilla_saga_instances_by_time on flotilla_saga_instances (created_at)',
    ],
  },
] satisfies Migration[]);

/**
 * The table `idempotent()` keeps in a participant's own database: `flotilla_saga_idempotency`,
 * and (`flotilla_saga_idempotency_0002`) its index on `created_at`, which `pruneIdempotencyKeys`
 * and `idempotencyPruner` use to find expired keys without scanning the table.
 *
 * @example
 * const store = await openStore({ service: 'payment', migrations: [...paymentMigrations, ...idempotencyMigrations] });
 */
export const idempotencyMigrations: readonly Migration[] = Object.freeze([
  {
    id: 'flotilla_saga_idempotency_0001',
    up: {
      sqlite:
        'create table flotilla_saga_idempotency (key text primary key, result text, created_at integer not null) without rowid',
      postgres:
        'create table flotilla_saga_idempotency (key text primary key, result text, created_at bigint not null)',
    },
  },
  {
    id: 'flotilla_saga_idempotency_0002',
    // The same statement on SQLite and PostgreSQL (as the instances' indexes above).
    up: 'create index flotilla_saga_idempotency_by_time on flotilla_saga_idempotency (created_at)',
  },
] satisfies Migration[]);
