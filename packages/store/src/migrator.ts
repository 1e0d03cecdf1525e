import { createHash } from 'node:crypto';
import { type Kysely, sql } from 'kysely';
import { MigrationChecksumError, MigrationFailedError } from './errors.js';
import type { StoreLogger } from './logger.js';
import type { CompiledMigration, MigrationStatus } from './migration.js';
import type { StoreDialect } from './sql-splitter.js';

/** The table recording applied migrations, in the service's database (or schema). */
export const MIGRATIONS_TABLE = 'flotilla_migrations';

interface MigrationsTable {
  flotilla_migrations: {
    id: string;
    checksum: string;
    /** Epoch milliseconds. */
    applied_at: number;
    duration_ms: number;
  };
}

type MigrationsDb = Kysely<MigrationsTable>;

/** A row of the migrations table. */
interface AppliedMigration {
  readonly id: string;
  readonly checksum: string;
  readonly appliedAt: number;
}

/** What `store.migrate()` did. */
export interface MigrateResult {
  /** Ids of the migrations this call applied, in order (empty when none were pending). */
  readonly applied: readonly string[];
  /** Ids recorded in the database that this code does not know (applied by a newer version). */
  readonly unknown: readonly string[];
}

/** What the migrator needs from its store. */
export interface MigratorContext {
  readonly service: string;
  readonly dialect: StoreDialect;
  /** The schema, for the lock key; `undefined` for the default one. */
  readonly schema: string | undefined;
  readonly migrations: readonly CompiledMigration[];
  readonly logger: StoreLogger;
  /** Wall-clock time in epoch milliseconds. */
  readonly now: () => number;
  /** A database handle outside any transaction. */
  readonly db: Kysely<unknown>;
  /** Aborts the run; its reason is rethrown as is, not as a failed migration. */
  readonly signal?: AbortSignal;
  /** Runs `fn` in one store transaction (BEGIN IMMEDIATE on SQLite). */
  transaction<T>(fn: (tx: Kysely<unknown>) => Promise<T>): Promise<T>;
}

/**
 * Applies pending migrations. A first look without a lock settles the common case (nothing to
 * do) cheaply; otherwise one transaction takes the lock (SQLite's write lock through
 * BEGIN IMMEDIATE, or a PostgreSQL transaction-scoped advisory lock), re-reads the applied
 * list, since another instance may have migrated meanwhile, and applies and records every
 * pending migration. Any failure rolls the whole run back.
 */
export async function runMigrations(ctx: MigratorContext): Promise<MigrateResult> {
  const first = await readApplied(ctx.db as unknown as MigrationsDb, ctx.dialect);
  if (first !== undefined && pendingAfterChecks(ctx, first).length === 0) return finish(ctx, first, []);
  const { applied, done } = await ctx.transaction(async (tx) => {
    const db = tx as unknown as MigrationsDb;
    if (ctx.dialect === 'postgres')
      await sql`select pg_advisory_xact_lock(${migrationLockKey(ctx.service, ctx.schema)}::bigint)`.execute(
        db,
      );
    await db.schema
      .createTable(MIGRATIONS_TABLE)
      .ifNotExists()
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('checksum', 'text', (c) => c.notNull())
      .addColumn('applied_at', 'bigint', (c) => c.notNull())
      .addColumn('duration_ms', 'integer', (c) => c.notNull())
      .execute();
    const applied = (await readApplied(db, ctx.dialect)) ?? [];
    const done: string[] = [];
    for (const migration of pendingAfterChecks(ctx, applied)) {
      const started = ctx.now();
      for (const [index, statement] of migration.statements.entries()) {
        try {
          await sql.raw(statement).execute(db);
        } catch (err) {
          if (ctx.signal?.aborted && err === ctx.signal.reason) throw err;
          throw new MigrationFailedError(ctx.service, migration.id, index, statement, { cause: err });
        }
      }
      const appliedAt = ctx.now();
      await db
        .insertInto(MIGRATIONS_TABLE)
        .values({
          id: migration.id,
          checksum: migration.checksum,
          applied_at: appliedAt,
          duration_ms: Math.max(0, Math.round(appliedAt - started)),
        })
        .execute();
      done.push(migration.id);
    }
    return { applied, done };
  });
  for (const id of done) ctx.logger.info({ service: ctx.service, migration: id }, 'applied migration');
  return finish(ctx, applied, done);
}

/** Throws for the first checksum mismatch; returns the migrations not yet applied. */
function pendingAfterChecks(ctx: MigratorContext, applied: readonly AppliedMigration[]): CompiledMigration[] {
  const byId = new Map(applied.map((a) => [a.id, a]));
  const pending: CompiledMigration[] = [];
  for (const migration of ctx.migrations) {
    const row = byId.get(migration.id);
    if (row === undefined) pending.push(migration);
    else if (row.checksum !== migration.checksum)
      throw new MigrationChecksumError(ctx.service, migration.id, migration.checksum, row.checksum);
  }
  return pending;
}

function finish(ctx: MigratorContext, applied: readonly AppliedMigration[], done: string[]): MigrateResult {
  const known = new Set(ctx.migrations.map((m) => m.id));
  const unknown = applied.filter((a) => !known.has(a.id)).map((a) => a.id);
  if (unknown.length > 0)
    ctx.logger.warn(
      { service: ctx.service, migrations: unknown },
      'the database has migrations this code does not know (applied by a newer version); continuing',
    );
  return { applied: done, unknown };
}

/** Every migration of the code and of the database, with its state, in id order. */
export async function migrationStatus(ctx: MigratorContext): Promise<MigrationStatus[]> {
  const applied = (await readApplied(ctx.db as unknown as MigrationsDb, ctx.dialect)) ?? [];
  const byId = new Map(applied.map((a) => [a.id, a]));
  const statuses: MigrationStatus[] = ctx.migrations.map((m): MigrationStatus => {
    const row = byId.get(m.id);
    if (row === undefined) return { id: m.id, state: 'pending', checksum: m.checksum };
    byId.delete(m.id);
    return row.checksum === m.checksum
      ? { id: m.id, state: 'applied', checksum: m.checksum, appliedAt: row.appliedAt }
      : {
          id: m.id,
          state: 'checksum-mismatch',
          checksum: m.checksum,
          appliedAt: row.appliedAt,
          appliedChecksum: row.checksum,
        };
  });
  for (const row of byId.values())
    statuses.push({ id: row.id, state: 'applied-unknown', checksum: row.checksum, appliedAt: row.appliedAt });
  return statuses.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** The applied migrations, or `undefined` when the table does not exist yet. */
async function readApplied(db: MigrationsDb, dialect: StoreDialect): Promise<AppliedMigration[] | undefined> {
  const exists =
    dialect === 'sqlite'
      ? await sql<{
          n: number;
        }>`select count(*) as n from sqlite_master where type = 'table' and name = ${MIGRATIONS_TABLE}`.execute(
          db,
        )
      : await sql<{
          n: number;
        }>`select count(*) as n from (select to_regclass(${MIGRATIONS_TABLE}) as t) r where t is not null`.execute(
          db,
        );
  if (Number(exists.rows[0]?.n) === 0) return undefined;
  const rows = await db.selectFrom(MIGRATIONS_TABLE).select(['id', 'checksum', 'applied_at']).execute();
  return rows
    .map((r) => ({ id: r.id, checksum: r.checksum, appliedAt: Number(r.applied_at) }))
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/**
 * The PostgreSQL advisory lock key that serialises migrations of one service in one schema:
 * the first 64 bits of sha256('flotilla:migrations:<service>:<schema>'), as a signed decimal.
 * Stable across processes, versions and machines; advisory locks are per database already.
 */
export function migrationLockKey(service: string, schema: string | undefined): string {
  const digest = createHash('sha256')
    .update(`flotilla:migrations:${service}:${schema ?? ''}`)
    .digest();
  return digest.readBigInt64BE(0).toString();
}
