import { mkdirSync, realpathSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import {
  CompiledQuery,
  type DatabaseConnection,
  type Driver,
  type SqliteDatabase as KyselySqliteDatabase,
  SqliteDialect,
  type SqliteDialectConfig,
  SqliteDriver,
} from 'kysely';
import { loadBetterSqlite3 } from './better-sqlite.js';

/** Options of a SQLite store. */
export interface SqliteOptions {
  /**
   * `PRAGMA synchronous`. In WAL mode `'normal'` never corrupts the database and loses at most
   * the last transactions on power loss (not on a process crash); `'full'` loses none.
   * @default 'normal'
   */
  synchronous?: 'normal' | 'full';
  /**
   * How long a statement waits for another process's lock on the file before failing with
   * SQLITE_BUSY, in milliseconds.
   * @default 5000
   */
  busyTimeoutMs?: number;
}

/** The part of better-sqlite3's `Database` a store uses. */
export interface BetterSqliteDatabase extends KyselySqliteDatabase {
  pragma(source: string, options: { simple: true }): unknown;
  readonly open: boolean;
}

type BetterSqliteConstructor = new (
  path: string,
  options: { timeout: number; fileMustExist?: boolean },
) => BetterSqliteDatabase;

/** An open SQLite database with its Kysely dialect. */
export interface OpenedSqlite {
  readonly database: BetterSqliteDatabase;
  readonly dialect: SqliteDialect;
}

/** Validates SQLite options and fills in their defaults. */
export function sqliteSettings(options: SqliteOptions = {}): Required<SqliteOptions> {
  const { synchronous = 'normal', busyTimeoutMs = 5000 } = options;
  if (synchronous !== 'normal' && synchronous !== 'full')
    throw new RangeError(`sqlite.synchronous must be 'normal' or 'full', got ${String(synchronous)}`);
  if (!Number.isInteger(busyTimeoutMs) || busyTimeoutMs < 0)
    throw new RangeError(`sqlite.busyTimeoutMs must be an integer >= 0, got ${String(busyTimeoutMs)}`);
  return { synchronous, busyTimeoutMs };
}

/**
 * Creates the folders of a SQLite file and returns the file's canonical path (its folder's
 * symlinks resolved), so that two spellings of one file are recognised as one database.
 */
export function prepareSqlitePath(path: string): string {
  mkdirSync(dirname(path), { recursive: true });
  return join(realpathSync(dirname(path)), basename(path));
}

/**
 * Opens (creating it when absent) a SQLite file for a store: WAL journal, foreign keys on, a
 * busy timeout, and `synchronous` as asked. Its folder must exist ({@link prepareSqlitePath}).
 */
export function openSqlite(path: string, settings: Required<SqliteOptions>): OpenedSqlite {
  const { synchronous, busyTimeoutMs } = settings;
  const memory = path === ':memory:';
  const Database = loadBetterSqlite3() as BetterSqliteConstructor;
  let database: BetterSqliteDatabase;
  try {
    // `timeout` is better-sqlite3's busy timeout; it is set before the journal-mode switch below,
    // which takes a lock that a second process opening the same new file may hold.
    database = new Database(path, { timeout: busyTimeoutMs });
  } catch (err) {
    throw new Error(`cannot open SQLite database ${path}: ${(err as Error).message}`, { cause: err });
  }
  try {
    if (!memory) {
      const mode = database.pragma('journal_mode = WAL', { simple: true });
      if (mode !== 'wal')
        throw new Error(`journal_mode is '${String(mode)}', not 'wal' (is the file system local?)`);
    }
    database.pragma(`synchronous = ${synchronous.toUpperCase()}`, { simple: true });
    database.pragma('foreign_keys = ON', { simple: true });
  } catch (err) {
    database.close();
    throw new Error(`cannot configure SQLite database ${path}: ${(err as Error).message}`, { cause: err });
  }
  return { database, dialect: new ImmediateSqliteDialect({ database: withStatementCache(database) }) };
}

/**
 * Most statements of a service are the same few SQL strings run again and again; preparing
 * one costs more than running it. Kysely prepares every query it runs, so the store hands it a
 * view of the database whose `prepare` returns a cached statement per SQL text (bounded, oldest
 * evicted). Safe because a store's SQLite connection runs one statement at a time.
 */
function withStatementCache(database: BetterSqliteDatabase, capacity = 500): BetterSqliteDatabase {
  const cache = new Map<string, ReturnType<BetterSqliteDatabase['prepare']>>();
  return new Proxy(database, {
    get(target, property, receiver) {
      if (property !== 'prepare') return Reflect.get(target, property, receiver);
      return (sql: string) => {
        let statement = cache.get(sql);
        if (statement === undefined) {
          statement = target.prepare(sql);
          if (cache.size >= capacity) {
            const oldest = cache.keys().next();
            if (oldest.done !== true) cache.delete(oldest.value);
          }
          cache.set(sql, statement);
        }
        return statement;
      };
    },
  });
}

/**
 * Kysely's SQLite dialect with `BEGIN IMMEDIATE` transactions. A deferred `BEGIN` takes the
 * write lock only at its first write, and if another process wrote in between, SQLite fails
 * that write with SQLITE_BUSY at once, without honouring the busy timeout. Taking the lock up
 * front makes concurrent writers (two instances of a service, or two processes migrating)
 * wait their turn instead.
 */
class ImmediateSqliteDialect extends SqliteDialect {
  constructor(private readonly dialectConfig: SqliteDialectConfig) {
    super(dialectConfig);
  }

  override createDriver(): Driver {
    return new ImmediateSqliteDriver(this.dialectConfig);
  }
}

class ImmediateSqliteDriver extends SqliteDriver {
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }
}
