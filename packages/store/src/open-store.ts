import type { HealthCheck } from '@flotilla/service';
import { type Dialect, Kysely, PostgresDialect, sql, type Transaction } from 'kysely';
import { abortPlugin, guardPlugin, raceSignal } from './abort.js';
import { StoreClosedError } from './errors.js';
import { type StoreLogger, warningLogger } from './logger.js';
import { compileMigrations, type Migration, type MigrationStatus } from './migration.js';
import { type MigrateResult, type MigratorContext, migrationStatus, runMigrations } from './migrator.js';
import type { PgPool } from './pg-module.js';
import { createPostgresPool, ensureSchema, type PostgresPoolOptions } from './postgres-pool.js';
import { claimDatabase, type DatabaseClaim } from './shared-database-guard.js';
import type { StoreDialect } from './sql-splitter.js';
import { openSqlite, prepareSqlitePath, type SqliteOptions, sqliteSettings } from './sqlite-database.js';
import { parseStoreUrl, redactUrl, type StoreTarget } from './store-url.js';

/** A transaction handed to `store.transaction(fn)`: Kysely's `Transaction` over the service's tables. */
export type Tx<DB> = Transaction<DB>;

/** Options of {@link openStore}. */
export interface StoreOptions {
  /** The owning service's name; it keys the migration lock and the shared-database guard. */
  service: string;
  /**
   * Where the database lives: `sqlite:<path>` (or a plain file path), `:memory:`, or
   * `postgres://user@host:port/db` / `postgresql://…`, optionally with `?schema=<name>` to keep
   * the service in its own schema (created when absent).
   * @default `sqlite:.flotilla/data/<service>.db` (relative to the working directory)
   */
  url?: string;
  /**
   * The service's migrations, in ascending id order.
   * @default []
   */
  migrations?: readonly Migration[];
  /**
   * Apply pending migrations while opening. When false, nothing is written on open and
   * `migrationStatus()` shows what `migrate()` would do (including checksum mismatches).
   * @default true
   */
  migrate?: boolean;
  /** Connection pool settings (PostgreSQL only). @default { max: 10 } */
  pool?: PostgresPoolOptions;
  /** File settings (SQLite only). @default { synchronous: 'normal', busyTimeoutMs: 5000 } */
  sqlite?: SqliteOptions;
  /**
   * Where migrations and connection errors are reported; a pino logger fits.
   * @default warnings and errors go to `process.emitWarning`, info is dropped
   */
  logger?: StoreLogger;
  /**
   * Wall-clock time in epoch milliseconds, recorded as a migration's `applied_at`.
   * @default Date.now
   */
  now?: () => number;
  /** Aborts opening: checked between the steps of connecting and migrating. */
  signal?: AbortSignal;
}

/** Options of a store operation that can wait. */
export interface StoreCallOptions {
  /** Aborts the operation; it rejects with `signal.reason`. */
  signal?: AbortSignal;
}

/** Options of {@link Store.healthCheck}. */
export interface StoreHealthCheckOptions {
  /**
   * Time limit of one check, in milliseconds.
   * @default 2000
   */
  timeoutMs?: number;
  /**
   * Whether a failing database makes the service unready.
   * @default true
   */
  critical?: boolean;
}

/** A service's database: one Kysely code path over SQLite or PostgreSQL, migrated on open. */
export interface Store<DB> extends AsyncDisposable {
  /** The query builder. Queries after `close()` reject with `StoreClosedError`. */
  readonly db: Kysely<DB>;
  readonly dialect: StoreDialect;
  /** The owning service. */
  readonly service: string;
  /**
   * Runs `fn` in one transaction: committed when it resolves, rolled back when it rejects.
   * On SQLite it begins IMMEDIATE (takes the write lock up front, waiting up to the busy
   * timeout). When `signal` aborts, every further query of `tx` rejects with `signal.reason`
   * and the transaction rolls back; a statement already running finishes first.
   */
  transaction<T>(fn: (tx: Tx<DB>) => Promise<T>, options?: StoreCallOptions): Promise<T>;
  /** Applies pending migrations under the migration lock (what opening does by default). */
  migrate(options?: StoreCallOptions): Promise<MigrateResult>;
  /** Every migration known to the code or the database, with its state, in id order. */
  migrationStatus(options?: StoreCallOptions): Promise<readonly MigrationStatus[]>;
  /**
   * A readiness check named `database` for `defineService({ checks })`: runs `select 1`,
   * bounded by the check's signal; its details give the dialect and, on PostgreSQL, the pool's
   * `totalCount`, `idleCount` and `waitingCount`. It fails once the store is closing.
   */
  healthCheck(options?: StoreHealthCheckOptions): HealthCheck;
  /**
   * Refuses new transactions, waits for running ones, then closes the database or pool and
   * releases the database claim. Calling it again returns the same promise.
   */
  close(): Promise<void>;
}

const SERVICE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/;

/**
 * Opens a service's database and applies its pending migrations. SQLite by default (one file
 * per service, WAL); PostgreSQL when the URL says `postgres://`.
 *
 * @example
 * interface OrdersDb { orders: { id: string; total_cents: number } }
 * const store = await openStore<OrdersDb>({
 *   service: 'orders',
 *   url: 'sqlite:.flotilla/data/orders.db',
 *   migrations: [{ id: '0001_orders', up: 'create table orders (id text primary key, total_cents integer not null)' }],
 * });
 * await store.transaction((tx) => tx.insertInto('orders').values({ id: 'o-1', total_cents: 1250 }).execute());
 * const orders = await store.db.selectFrom('orders').selectAll().execute();
 * await store.close();
 */
export async function openStore<DB>(options: StoreOptions): Promise<Store<DB>> {
  if (typeof options !== 'object' || options === null)
    throw new TypeError('openStore(options) needs an options object with at least { service }');
  const {
    service,
    migrations = [],
    migrate = true,
    logger = warningLogger,
    now = Date.now,
    signal,
  } = options;
  if (typeof service !== 'string' || !SERVICE_NAME.test(service))
    throw new TypeError(
      `service must be 1-100 letters, digits, '_', '.' or '-' starting with a letter or digit, got ${String(service)}`,
    );
  if (typeof migrate !== 'boolean') throw new TypeError(`migrate must be a boolean, got ${String(migrate)}`);
  signal?.throwIfAborted();
  const url = options.url ?? `sqlite:.flotilla/data/${service}.db`;
  const target = parseStoreUrl(url);
  const compiled = compileMigrations(migrations, target.dialect);

  const { dialect, pool, claim, schema, display } = connect(target, service, options, logger);
  const store = new ServiceStore<DB>(service, target.dialect, new Kysely<DB>({ dialect }), pool, claim, {
    schema,
    migrations: compiled,
    logger,
    now,
  });
  try {
    if (pool !== undefined && schema !== undefined) await raceSignal(ensureSchema(pool, schema), signal);
    if (migrate) await store.migrate(signal === undefined ? {} : { signal });
  } catch (err) {
    await store.close();
    throw annotateConnectError(err, display);
  }
  logger.info({ service, dialect: target.dialect, database: display }, 'store opened');
  return store;
}

interface Connection {
  readonly dialect: Dialect;
  readonly pool: PgPool | undefined;
  readonly claim: DatabaseClaim | undefined;
  readonly schema: string | undefined;
  /** The database for messages: a file path, or the URL without its password. */
  readonly display: string;
}

/**
 * Claims the database for the service and prepares its Kysely dialect. Options are checked and
 * the claim taken before a file is touched; a failure after claiming releases the claim.
 */
function connect(
  target: StoreTarget,
  service: string,
  options: StoreOptions,
  logger: StoreLogger,
): Connection {
  if (target.dialect === 'sqlite') {
    const settings = sqliteSettings(options.sqlite);
    const memory = target.path === ':memory:';
    const display = memory ? ':memory:' : prepareSqlitePath(target.path);
    const claim = memory ? undefined : claimDatabase(`sqlite:${display}`, service);
    try {
      const { dialect } = openSqlite(target.path, settings);
      return { dialect, pool: undefined, claim, schema: undefined, display };
    } catch (err) {
      claim?.release();
      throw err;
    }
  }
  const { schema, display } = target;
  const claim = claimDatabase(
    `postgres://${target.host}:${target.port}/${target.database} (schema ${schema ?? 'public'})`,
    service,
  );
  try {
    const pool = createPostgresPool(target, service, options.pool ?? {}, logger);
    return { dialect: new PostgresDialect({ pool }), pool, claim, schema, display };
  } catch (err) {
    claim.release();
    throw err;
  }
}

/** Adds which database could not be reached to a bare connection error. */
function annotateConnectError(err: unknown, display: string): unknown {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && ['ECONNREFUSED', 'ENOTFOUND', 'ETIMEDOUT', 'EHOSTUNREACH'].includes(code))
    return new Error(`cannot connect to ${redactUrl(display)}: ${(err as Error).message}`, { cause: err });
  return err;
}

interface MigrationSetup {
  readonly schema: string | undefined;
  readonly migrations: MigratorContext['migrations'];
  readonly logger: StoreLogger;
  readonly now: () => number;
}

/** The end listeners of the transactions `store.transaction` runs, by the handle it handed out. */
const transactionEnds = new WeakMap<object, ((committed: boolean) => void)[]>();

/**
 * Calls `listener` once the transaction `tx` has ended: with `true` after it committed, `false`
 * after it rolled back or its COMMIT failed (it may then have committed or not). The listeners
 * run, in the order they were added, before the caller of `store.transaction` resumes. Returns
 * `false`, and never calls `listener`, when `tx` is not the handle `store.transaction(fn)` gave
 * `fn` (one derived from it with `withPlugin`, or a transaction Kysely began directly), or when
 * that transaction has ended already.
 *
 * @example
 * await store.transaction(async (tx) => {
 *   await tx.insertInto('orders').values(order).execute();
 *   onTransactionEnd(tx, (committed) => committed && queue.push(order.id));
 * });
 */
export function onTransactionEnd(tx: object, listener: (committed: boolean) => void): boolean {
  const listeners = transactionEnds.get(tx);
  if (listeners === undefined) return false;
  listeners.push(listener);
  return true;
}

class ServiceStore<DB> implements Store<DB> {
  readonly db: Kysely<DB>;
  private closing: Promise<void> | undefined;
  private closed = false;
  private readonly running = new Set<Promise<unknown>>();
  private readonly migrator: MigratorContext;
  private readonly logger: StoreLogger;

  constructor(
    readonly service: string,
    readonly dialect: StoreDialect,
    private readonly kysely: Kysely<DB>,
    private readonly pool: PgPool | undefined,
    private readonly claim: DatabaseClaim | undefined,
    setup: MigrationSetup,
  ) {
    this.logger = setup.logger;
    this.db = kysely.withPlugin(
      guardPlugin(
        () => this.closed,
        () => new StoreClosedError(service, 'query'),
      ),
    );
    this.migrator = {
      service,
      dialect,
      ...setup,
      db: this.db as unknown as Kysely<unknown>,
      transaction: (fn) => this.transaction((tx) => fn(tx as unknown as Kysely<unknown>)),
    };
  }

  transaction<T>(fn: (tx: Tx<DB>) => Promise<T>, options: StoreCallOptions = {}): Promise<T> {
    const { signal } = options;
    if (this.closing !== undefined) return Promise.reject(new StoreClosedError(this.service, 'transaction'));
    if (signal?.aborted) return Promise.reject(signal.reason);
    let handed: Tx<DB> | undefined;
    const run = this.db.transaction().execute(async (tx) => {
      handed = signal === undefined ? tx : tx.withPlugin(abortPlugin(signal));
      transactionEnds.set(handed, []);
      const result = await fn(handed);
      // Work that swallowed the abort still must not commit.
      signal?.throwIfAborted();
      return result;
    });
    this.running.add(run);
    // Attached before the caller gets `run`, so the listeners run before the caller resumes.
    const end = (committed: boolean): void => {
      this.running.delete(run);
      if (handed === undefined) return;
      const listeners = transactionEnds.get(handed) ?? [];
      transactionEnds.delete(handed);
      for (const listener of listeners) {
        try {
          listener(committed);
        } catch (err) {
          this.logger.error({ err, service: this.service }, 'a transaction end listener threw');
        }
      }
    };
    run.then(
      () => end(true),
      () => end(false),
    );
    return run;
  }

  async migrate(options: StoreCallOptions = {}): Promise<MigrateResult> {
    this.assertOpen('migrate');
    const { signal } = options;
    if (signal === undefined) return runMigrations(this.migrator);
    signal.throwIfAborted();
    return runMigrations({
      ...this.migrator,
      signal,
      transaction: (fn) => this.transaction((tx) => fn(tx as unknown as Kysely<unknown>), { signal }),
    });
  }

  async migrationStatus(options: StoreCallOptions = {}): Promise<readonly MigrationStatus[]> {
    this.assertOpen('migrationStatus');
    options.signal?.throwIfAborted();
    return raceSignal(migrationStatus(this.migrator), options.signal);
  }

  healthCheck(options: StoreHealthCheckOptions = {}): HealthCheck {
    const { timeoutMs = 2000, critical = true } = options;
    if (!(timeoutMs > 0) || !Number.isFinite(timeoutMs))
      throw new RangeError(`healthCheck.timeoutMs must be a finite number > 0, got ${String(timeoutMs)}`);
    return {
      name: 'database',
      timeoutMs,
      critical,
      check: async (signal: AbortSignal) => {
        this.assertOpen('health check');
        await raceSignal(sql`select 1`.execute(this.db), signal);
        const { pool } = this;
        return {
          details:
            pool === undefined
              ? { dialect: this.dialect }
              : {
                  dialect: this.dialect,
                  totalCount: pool.totalCount,
                  idleCount: pool.idleCount,
                  waitingCount: pool.waitingCount,
                },
        };
      },
    };
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  private async shutdown(): Promise<void> {
    try {
      await Promise.allSettled([...this.running]);
      this.closed = true;
      await this.kysely.destroy();
    } finally {
      this.closed = true;
      this.claim?.release();
    }
  }

  private assertOpen(operation: string): void {
    if (this.closing !== undefined) throw new StoreClosedError(this.service, operation);
  }
}
