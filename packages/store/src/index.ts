export { loadBetterSqlite3, NAPI_SQLITE_FROM_NODE } from './better-sqlite.js';
export {
  isMigrationChecksumError,
  isMigrationFailedError,
  isSharedDatabaseError,
  isStoreClosedError,
  MigrationChecksumError,
  MigrationFailedError,
  SharedDatabaseError,
  StoreClosedError,
} from './errors.js';
export type { StoreLogger } from './logger.js';
export type { Migration, MigrationSql, MigrationState, MigrationStatus } from './migration.js';
export { MIGRATIONS_TABLE, type MigrateResult } from './migrator.js';
export {
  onTransactionEnd,
  openStore,
  type Store,
  type StoreCallOptions,
  type StoreHealthCheckOptions,
  type StoreOptions,
  type Tx,
} from './open-store.js';
export type { PostgresPoolOptions } from './postgres-pool.js';
export { type StoreDialect, splitSqlStatements } from './sql-splitter.js';
export type { SqliteOptions } from './sqlite-database.js';
