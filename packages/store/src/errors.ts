import { FlotillaError, type FlotillaErrorOptions, hasFlotillaCode } from '@flotilla/resilience';

/**
 * Raised when a process opens one database for two different services. Each service owns its
 * database; sharing one couples their schemas and deploys ("No shared databases between
 * services, ever"). Not retryable: it is a configuration error.
 */
export class SharedDatabaseError extends FlotillaError {
  override readonly name = 'SharedDatabaseError';
  readonly retryable = false;

  constructor(
    /** The database, as identified by the guard (a SQLite file path, or PostgreSQL host/port/database/schema). */
    readonly database: string,
    /** The service that tried to open it. */
    readonly service: string,
    /** The service that already has it open in this process. */
    readonly ownerService: string,
  ) {
    super(
      'SHARED_DATABASE',
      `service '${service}' cannot open ${database}: it is already open for service '${ownerService}' ` +
        'in this process (each service owns its database; give each service its own file, database or schema)',
    );
  }
}

/** True when `err` is a {@link SharedDatabaseError} (from any copy of this package). */
export function isSharedDatabaseError(err: unknown): err is SharedDatabaseError {
  return hasFlotillaCode(err, 'SHARED_DATABASE');
}

/**
 * Raised when a migration already applied to the database has a different checksum than the
 * migration of the same id in the code: someone edited an applied migration. Add a new
 * migration instead. Not retryable.
 */
export class MigrationChecksumError extends FlotillaError {
  override readonly name = 'MigrationChecksumError';
  readonly retryable = false;

  constructor(
    /** The service whose migrations disagree. */
    readonly service: string,
    /** The id of the edited migration. */
    readonly migrationId: string,
    /** The checksum of the migration in the code. */
    readonly expectedChecksum: string,
    /** The checksum recorded when the migration was applied. */
    readonly appliedChecksum: string,
  ) {
    super(
      'MIGRATION_CHECKSUM',
      `migration '${migrationId}' of service '${service}' was changed after it was applied: ` +
        `the code's checksum is ${expectedChecksum}, the database recorded ${appliedChecksum} ` +
        '(never edit an applied migration; add a new one)',
    );
  }
}

/** True when `err` is a {@link MigrationChecksumError} (from any copy of this package). */
export function isMigrationChecksumError(err: unknown): err is MigrationChecksumError {
  return hasFlotillaCode(err, 'MIGRATION_CHECKSUM');
}

/**
 * Raised when a statement of a migration fails. Every migration of that run was rolled back
 * (they run in one transaction), so the database is as it was before. Not retryable: the
 * migration must be fixed.
 */
export class MigrationFailedError extends FlotillaError {
  override readonly name = 'MigrationFailedError';
  readonly retryable = false;

  constructor(
    /** The service whose migration failed. */
    readonly service: string,
    /** The id of the failing migration. */
    readonly migrationId: string,
    /** Index (0-based) of the failing statement in the migration's statements. */
    readonly statementIndex: number,
    /** The failing statement's SQL. */
    readonly statement: string,
    options?: FlotillaErrorOptions,
  ) {
    super(
      'MIGRATION_FAILED',
      `migration '${migrationId}' of service '${service}' failed at statements[${statementIndex}] ` +
        `(${abbreviate(statement)}): ${messageOf(options?.cause)}; the run was rolled back`,
      options,
    );
  }
}

/** True when `err` is a {@link MigrationFailedError} (from any copy of this package). */
export function isMigrationFailedError(err: unknown): err is MigrationFailedError {
  return hasFlotillaCode(err, 'MIGRATION_FAILED');
}

/** Raised when a store is used after `close()`. Not retryable: open a new store. */
export class StoreClosedError extends FlotillaError {
  override readonly name = 'StoreClosedError';
  readonly retryable = false;

  constructor(
    /** The service whose store is closed. */
    readonly service: string,
    /** What was attempted, e.g. `"transaction"`. */
    readonly operation: string,
  ) {
    super('STORE_CLOSED', `store of service '${service}' is closed (${operation} after close())`);
  }
}

/** True when `err` is a {@link StoreClosedError} (from any copy of this package). */
export function isStoreClosedError(err: unknown): err is StoreClosedError {
  return hasFlotillaCode(err, 'STORE_CLOSED');
}

function abbreviate(statement: string): string {
  const oneLine = statement.replace(/\s+/g, ' ').trim();
  return oneLine.length > 120 ? `${oneLine.slice(0, 117)}...` : oneLine;
}

function messageOf(cause: unknown): string {
  return cause instanceof Error ? cause.message : String(cause);
}
