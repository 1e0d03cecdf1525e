import { createHash } from 'node:crypto';
import { type StoreDialect, splitSqlStatements } from './sql-splitter.js';

/** SQL of a migration: one script (split at statement ends) or one statement per element. */
export type MigrationSql = string | readonly string[];

/**
 * One step of a service's schema, applied once and never edited afterwards. The SQL is data, not
 * code, so its checksum does not depend on how TypeScript was compiled.
 *
 * @example
 * const migrations: Migration[] = [
 *   { id: '0001_orders', up: 'create table orders (id text primary key, total_cents integer not null);' },
 *   {
 *     id: '0002_orders_created_at',
 *     up: {
 *       sqlite: 'alter table orders add column created_at integer',
 *       postgres: 'alter table orders add column created_at bigint',
 *     },
 *   },
 * ];
 */
export interface Migration {
  /**
   * Unique id. Migrations are listed in ascending id order, comparing ids as strings, so
   * zero-pad numbers (`0009_…` before `0010_…`). Letters, digits, `_`, `.` and `-`.
   */
  readonly id: string;
  /** The statements: the same for both dialects, or per dialect. */
  readonly up:
    | MigrationSql
    | {
        readonly sqlite: MigrationSql;
        readonly postgres: MigrationSql;
      };
}

/** A migration made ready for one dialect: validated, split into statements, checksummed. */
export interface CompiledMigration {
  readonly id: string;
  readonly statements: readonly string[];
  /** Hex sha256 of the JSON array of `statements`. */
  readonly checksum: string;
}

/** Where a migration stands, as reported by `store.migrationStatus()`. */
export type MigrationState =
  /** In the code and in the database, with the same checksum. */
  | 'applied'
  /** In the code, not yet in the database. */
  | 'pending'
  /** In the database but not in this code: a newer version of the service applied it. Tolerated. */
  | 'applied-unknown'
  /** In both, but the code's SQL changed since it was applied. An error when migrating. */
  | 'checksum-mismatch';

/** One row of `store.migrationStatus()`. */
export interface MigrationStatus {
  readonly id: string;
  readonly state: MigrationState;
  /** The code's checksum; for `applied-unknown`, the recorded one. */
  readonly checksum: string;
  /** When it was applied, in epoch milliseconds (absent while pending). */
  readonly appliedAt?: number;
  /** For `checksum-mismatch`: the checksum recorded when it was applied. */
  readonly appliedChecksum?: string;
}

const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,199}$/;

/**
 * Validates `migrations` (unique ids in ascending order, at least one statement each) and
 * compiles them for `dialect`. Errors name the offending entry: `migrations[2].id …`.
 */
export function compileMigrations(
  migrations: readonly Migration[],
  dialect: StoreDialect,
): CompiledMigration[] {
  if (!Array.isArray(migrations))
    throw new TypeError(`migrations must be an array of { id, up }, got ${describe(migrations)}`);
  const compiled: CompiledMigration[] = [];
  let previous: string | undefined;
  migrations.forEach((migration: Migration, index) => {
    const at = `migrations[${index}]`;
    if (typeof migration !== 'object' || migration === null)
      throw new TypeError(`${at} must be an object { id, up }, got ${describe(migration)}`);
    const { id } = migration;
    if (typeof id !== 'string' || !ID_PATTERN.test(id))
      throw new TypeError(
        `${at}.id must be 1-200 letters, digits, '_', '.' or '-' starting with a letter or digit, got ${describe(id)}`,
      );
    if (previous !== undefined && id === previous) throw new RangeError(`${at}.id '${id}' is a duplicate`);
    if (previous !== undefined && id < previous)
      throw new RangeError(
        `${at}.id '${id}' must sort after the previous id '${previous}': list migrations in ascending id order ` +
          `(ids compare as strings, so zero-pad numbers: '0009_…', '0010_…')`,
      );
    previous = id;
    const statements = statementsOf(migration.up, dialect, `${at}.up`);
    compiled.push({ id, statements, checksum: checksumOf(statements) });
  });
  return compiled;
}

function statementsOf(up: Migration['up'], dialect: StoreDialect, at: string): string[] {
  if (typeof up === 'object' && up !== null && !Array.isArray(up)) {
    const perDialect = up as { readonly sqlite: MigrationSql; readonly postgres: MigrationSql };
    for (const d of ['sqlite', 'postgres'] as const)
      if (!(d in perDialect)) throw new TypeError(`${at}.${d} is required when up is given per dialect`);
    return statementsOf(perDialect[dialect], dialect, `${at}.${dialect}`);
  }
  let statements: string[];
  if (typeof up === 'string') statements = split(up, dialect, at);
  else if (Array.isArray(up)) {
    statements = (up as readonly unknown[]).map((element, i) => {
      if (typeof element !== 'string')
        throw new TypeError(`${at}[${i}] must be a string, got ${describe(element)}`);
      const parts = split(element, dialect, `${at}[${i}]`);
      if (parts.length !== 1)
        throw new RangeError(
          `${at}[${i}] must hold exactly one statement, found ${parts.length} (give one statement per element)`,
        );
      return parts[0]!;
    });
  } else
    throw new TypeError(
      `${at} must be SQL text, an array of statements, or { sqlite, postgres }, got ${describe(up)}`,
    );
  if (statements.length === 0) throw new RangeError(`${at} has no statements`);
  return statements;
}

function split(sql: string, dialect: StoreDialect, at: string): string[] {
  try {
    return splitSqlStatements(sql, dialect);
  } catch (err) {
    throw new SyntaxError(`${at}: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * The checksum of a migration's statements. Normalised statements (trimmed, no final semicolon)
 * are hashed, so `'a; b;'` and `['a', 'b']` agree and reformatting around statements does not
 * change it, while any change inside a statement does.
 */
export function checksumOf(statements: readonly string[]): string {
  return createHash('sha256').update(JSON.stringify(statements)).digest('hex');
}

function describe(value: unknown): string {
  if (typeof value === 'string') return `'${value}'`;
  if (Array.isArray(value)) return 'an array';
  return value === null ? 'null' : typeof value === 'object' ? 'an object' : String(value);
}
