import { loadBetterSqlite3 } from '@flotilla/store';

// The module is loaded through the store (which picks the better-sqlite3 build for the running
// Node.js); the few methods this transport uses are typed below.

/** Result of a statement that changes rows. */
export interface RunResult {
  readonly changes: number;
  readonly lastInsertRowid: number | bigint;
}

/** A prepared statement (the subset of better-sqlite3's `Statement` used here). */
export interface Statement<Row = unknown> {
  run(...params: readonly unknown[]): RunResult;
  get(...params: readonly unknown[]): Row | undefined;
  all(...params: readonly unknown[]): Row[];
}

/** A function wrapped by `db.transaction()`; `.immediate` takes the write lock at BEGIN. */
export interface TransactionFunction<A extends unknown[], T> {
  (...args: A): T;
  immediate(...args: A): T;
}

/** A better-sqlite3 connection (the subset used here). */
export interface SqliteDatabase {
  prepare<Row = unknown>(sql: string): Statement<Row>;
  exec(sql: string): void;
  pragma(source: string, options?: { simple?: boolean }): unknown;
  transaction<A extends unknown[], T>(fn: (...args: A) => T): TransactionFunction<A, T>;
  close(): void;
  readonly open: boolean;
}

type DatabaseConstructor = new (path: string, options?: { timeout?: number }) => SqliteDatabase;

const Database = loadBetterSqlite3() as DatabaseConstructor;

/**
 * Opens a connection with the settings every process sharing the log must use: WAL (readers
 * never block the writer), a busy timeout (several processes write), and the given sync mode.
 */
export function openDatabase(
  path: string,
  busyTimeoutMs: number,
  synchronous: 'normal' | 'full',
): SqliteDatabase {
  const db = new Database(path, { timeout: busyTimeoutMs });
  try {
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}
