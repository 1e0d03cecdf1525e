import type { StoreDialect } from '@flotilla/store';
import { type Kysely, type RawBuilder, sql } from 'kysely';
import { SagaLeaseLostError } from './errors.js';
import type { SagaInstanceTable, SagaTables } from './migrations.js';

/** A query handle over the saga tables: the store, or a transaction (internal). */
export type SagaDb = Kysely<SagaTables>;

/** An instance row as read back (internal). */
export type InstanceRow = SagaInstanceTable;

/** The part of an instance row a checkpoint rewrites (internal). */
export interface Checkpoint {
  readonly state: string;
  readonly direction: string;
  readonly step_index: number;
  readonly attempt: number;
  readonly ctx: string;
  readonly reply: string | null;
  readonly run_at: number;
  /** `null` releases the lease. */
  readonly lease_owner: string | null;
  readonly lease_until: number;
  readonly last_error: string | null;
  /** The whole attempt log (JSON). */
  readonly log: string;
  readonly updated_at: number;
}

/** A definition the runner can resume: instances of other (name, version, hash) are left alone. */
export interface DefinitionKey {
  readonly name: string;
  readonly version: number;
  readonly stepsHash: string;
}

const ACTIVE = sql`('running', 'waiting', 'compensating')`;

/** Inserts a new instance; `false` when one with this id exists already. */
export async function insertInstance(db: SagaDb, row: InstanceRow): Promise<boolean> {
  const { rows } = await sql<{ id: string }>`insert into flotilla_saga_instances
    (id, format, name, version, steps_hash, state, direction, step_index, attempt, ctx, reply, run_at,
     lease_owner, lease_until, epoch, deadline_at, traceparent, last_error, note, log, created_at, updated_at)
    values (${row.id}, ${row.format}, ${row.name}, ${row.version}, ${row.steps_hash}, ${row.state},
     ${row.direction}, ${row.step_index}, ${row.attempt}, ${row.ctx}, ${row.reply}, ${row.run_at},
     ${row.lease_owner}, ${row.lease_until}, ${row.epoch}, ${row.deadline_at}, ${row.traceparent},
     ${row.last_error}, ${row.note}, ${row.log}, ${row.created_at}, ${row.updated_at})
    on conflict (id) do nothing returning id`.execute(db);
  return rows.length > 0;
}

/**
 * PostgreSQL only: waits until the transaction that inserted `row` has ended (an insert of the
 * same key blocks on it), then checks the lease. Resolves `true` when the instance is committed
 * and still leased at `row.epoch`; `false` when the inserting transaction rolled back (this
 * statement then inserted the row itself, and the caller must roll back) or the lease is gone.
 */
export async function awaitStartCommitted(db: SagaDb, row: InstanceRow): Promise<'ours' | 'absent' | 'lost'> {
  const { rows } = await sql<{ inserted: boolean }>`insert into flotilla_saga_instances
    (id, format, name, version, steps_hash, state, direction, step_index, attempt, ctx, reply, run_at,
     lease_owner, lease_until, epoch, deadline_at, traceparent, last_error, note, log, created_at, updated_at)
    values (${row.id}, ${row.format}, ${row.name}, ${row.version}, ${row.steps_hash}, ${row.state},
     ${row.direction}, ${row.step_index}, ${row.attempt}, ${row.ctx}, ${row.reply}, ${row.run_at},
     ${row.lease_owner}, ${row.lease_until}, ${row.epoch}, ${row.deadline_at}, ${row.traceparent},
     ${row.last_error}, ${row.note}, ${row.log}, ${row.created_at}, ${row.updated_at})
    on conflict (id) do update set epoch = flotilla_saga_instances.epoch
      where flotilla_saga_instances.epoch = ${row.epoch} and flotilla_saga_instances.lease_owner = ${row.lease_owner}
    returning (xmax = 0) as inserted`.execute(db);
  const first = rows[0];
  if (first === undefined) return 'lost';
  return first.inserted ? 'absent' : 'ours';
}

/**
 * Leases up to `limit` due instances of known definitions to `owner`, raising each one's epoch.
 * PostgreSQL: `FOR UPDATE SKIP LOCKED`, so concurrent runners take disjoint sets without
 * waiting. SQLite: the statement runs in a `BEGIN IMMEDIATE` transaction, which holds the
 * file's write lock, so the conditional update is atomic across processes.
 */
export async function claimDue(
  db: SagaDb,
  dialect: StoreDialect,
  options: { owner: string; now: number; leaseMs: number; limit: number; keys: readonly DefinitionKey[] },
): Promise<InstanceRow[]> {
  const { owner, now, leaseMs, limit, keys } = options;
  if (keys.length === 0 || limit <= 0) return [];
  const known = sql.join(
    keys.map((k) => sql`(name = ${k.name} and version = ${k.version} and steps_hash = ${k.stepsHash})`),
    sql` or `,
  );
  const lock = dialect === 'postgres' ? sql` for update skip locked` : sql``;
  const { rows } = await sql<InstanceRow>`update flotilla_saga_instances
    set lease_owner = ${owner}, lease_until = ${now + leaseMs}, epoch = epoch + 1
    where id in (select id from flotilla_saga_instances
      where state in ${ACTIVE} and run_at <= ${now} and (lease_owner is null or lease_until < ${now})
        and format = 1 and (${known})
      order by run_at limit ${limit}${lock})
    returning *`.execute(db);
  return rows;
}

/** Writes a checkpoint under the lease `epoch`; throws {@link SagaLeaseLostError} when it is no longer held. */
export async function writeCheckpoint(
  db: SagaDb,
  id: string,
  epoch: number,
  owner: string,
  c: Checkpoint,
): Promise<void> {
  const result = await sql`update flotilla_saga_instances set state = ${c.state}, direction = ${c.direction},
    step_index = ${c.step_index}, attempt = ${c.attempt}, ctx = ${c.ctx}, reply = ${c.reply}, run_at = ${c.run_at},
    lease_owner = ${c.lease_owner}, lease_until = ${c.lease_until}, last_error = ${c.last_error},
    log = ${c.log}, updated_at = ${c.updated_at}
    where id = ${id} and epoch = ${epoch} and lease_owner = ${owner}`.execute(db);
  if (Number(result.numAffectedRows ?? 0) !== 1) throw new SagaLeaseLostError(id, epoch);
}

/** Extends the lease (fenced). */
export async function renewLease(
  db: SagaDb,
  id: string,
  epoch: number,
  owner: string,
  until: number,
): Promise<void> {
  const result = await sql`update flotilla_saga_instances set lease_until = ${until}
    where id = ${id} and epoch = ${epoch} and lease_owner = ${owner}`.execute(db);
  if (Number(result.numAffectedRows ?? 0) !== 1) throw new SagaLeaseLostError(id, epoch);
}

/**
 * Gives up the lease `epoch` of `owner` if it still holds it, leaving the rest of the row as it is
 * (fenced; a no-op otherwise).
 */
export async function releaseLease(db: SagaDb, id: string, epoch: number, owner: string): Promise<void> {
  await sql`update flotilla_saga_instances set lease_owner = null, lease_until = 0
    where id = ${id} and epoch = ${epoch} and lease_owner = ${owner}`.execute(db);
}

/** Releases the leases a previous incarnation of this runner instance left (it is dead: same instance id). */
export async function releaseOwnLeases(db: SagaDb, owner: string): Promise<number> {
  const result = await sql`update flotilla_saga_instances set lease_owner = null, lease_until = 0
    where lease_owner = ${owner}`.execute(db);
  return Number(result.numAffectedRows ?? 0);
}

/** Hands a reply to a waiting instance; `false` when it was not waiting (late or duplicate reply). */
export async function deliverReply(
  db: SagaDb,
  id: string,
  stepIndex: number,
  reply: string,
  now: number,
): Promise<boolean> {
  const result =
    await sql`update flotilla_saga_instances set reply = ${reply}, state = 'running', run_at = ${now}, updated_at = ${now}
    where id = ${id} and state = 'waiting' and step_index = ${stepIndex}`.execute(db);
  return Number(result.numAffectedRows ?? 0) === 1;
}

/** Reads one instance. */
export async function readInstance(db: SagaDb, id: string): Promise<InstanceRow | undefined> {
  const { rows } = await sql<InstanceRow>`select * from flotilla_saga_instances where id = ${id}`.execute(db);
  return rows[0];
}

/** Active instances no registered definition matches, grouped (for the report and the gauge). */
export async function unmatchedInstances(
  db: SagaDb,
  keys: readonly DefinitionKey[],
): Promise<{ name: string; version: number; steps_hash: string; format: number; count: number }[]> {
  const known: RawBuilder<unknown> =
    keys.length === 0
      ? sql`false`
      : sql.join(
          keys.map((k) => sql`(name = ${k.name} and version = ${k.version} and steps_hash = ${k.stepsHash})`),
          sql` or `,
        );
  const { rows } = await sql<{
    name: string;
    version: number;
    steps_hash: string;
    format: number;
    count: number;
  }>`select name, version, steps_hash, format, count(*) as count from flotilla_saga_instances
    where state in ${ACTIVE} and not (format = 1 and (${known}))
    group by name, version, steps_hash, format order by name, version`.execute(db);
  return rows.map((r) => ({
    ...r,
    version: Number(r.version),
    format: Number(r.format),
    count: Number(r.count),
  }));
}

/** The run_at of the oldest due instance nobody holds, for the lag gauge. */
export async function oldestDue(db: SagaDb, now: number): Promise<number | null> {
  const { rows } = await sql<{
    oldest: number | null;
  }>`select min(run_at) as oldest from flotilla_saga_instances
    where state in ${ACTIVE} and run_at <= ${now} and (lease_owner is null or lease_until < ${now})`.execute(
    db,
  );
  const oldest = rows[0]?.oldest;
  return oldest === null || oldest === undefined ? null : Number(oldest);
}

/** Operator: moves a stuck instance back to work (fresh attempts, due now). */
export async function reviveStuck(db: SagaDb, id: string, now: number, state: string): Promise<boolean> {
  const result = await sql`update flotilla_saga_instances set state = ${state}, attempt = 0, run_at = ${now},
    lease_owner = null, lease_until = 0, updated_at = ${now}
    where id = ${id} and state = 'stuck'`.execute(db);
  return Number(result.numAffectedRows ?? 0) === 1;
}

/** Operator: closes a stuck instance with a note. */
export async function resolveStuck(db: SagaDb, id: string, now: number, note: string): Promise<boolean> {
  const result = await sql`update flotilla_saga_instances set state = 'resolved', note = ${note},
    lease_owner = null, lease_until = 0, updated_at = ${now}
    where id = ${id} and state = 'stuck'`.execute(db);
  return Number(result.numAffectedRows ?? 0) === 1;
}
