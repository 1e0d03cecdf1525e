import { userInfo } from 'node:os';
import { resolve } from 'node:path';

/** Where a SQLite store lives. */
export interface SqliteTarget {
  readonly dialect: 'sqlite';
  /** Absolute file path, or `:memory:`. */
  readonly path: string;
}

/** Where a PostgreSQL store lives. */
export interface PostgresTarget {
  readonly dialect: 'postgres';
  /** The URL for `pg`, without Flotilla's own `schema` parameter. */
  readonly connectionString: string;
  /** The service's schema (`?schema=`), or `undefined` for the database's default search path. */
  readonly schema: string | undefined;
  readonly host: string;
  readonly port: number;
  readonly database: string;
  /** The URL with its password masked, for messages and logs. */
  readonly display: string;
}

/** A parsed store URL. */
export type StoreTarget = SqliteTarget | PostgresTarget;

const SCHEME = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//;
const SCHEMA_NAME = /^(?!pg_)[a-z_][a-z0-9_]{0,62}$/;

/**
 * Parses a store URL: `sqlite:<path>`, `sqlite://<path>`, a plain file path, `:memory:`, or
 * `postgres://…` / `postgresql://…` with an optional `?schema=<name>`. Relative SQLite paths
 * resolve against the working directory.
 */
export function parseStoreUrl(url: string): StoreTarget {
  if (typeof url !== 'string' || url.trim() === '')
    throw new TypeError(
      `url must be a non-empty string, got ${typeof url === 'string' ? "''" : String(url)}`,
    );
  if (url === ':memory:' || url === 'sqlite::memory:') return { dialect: 'sqlite', path: ':memory:' };
  if (url.startsWith('sqlite:')) {
    const path = url.startsWith('sqlite://') ? url.slice('sqlite://'.length) : url.slice('sqlite:'.length);
    if (path === '') throw new TypeError(`url '${url}' names no file (use sqlite:<path> or :memory:)`);
    return { dialect: 'sqlite', path: path === ':memory:' ? path : resolve(path) };
  }
  const scheme = SCHEME.exec(url)?.[1]?.toLowerCase();
  if (scheme === 'postgres' || scheme === 'postgresql') return parsePostgres(url);
  if (scheme !== undefined)
    throw new TypeError(
      `url scheme '${scheme}:' is not supported in ${redactUrl(url)} (use sqlite:<path>, a file path, :memory: or postgres://…)`,
    );
  return { dialect: 'sqlite', path: resolve(url) };
}

function parsePostgres(url: string): PostgresTarget {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (err) {
    throw new TypeError(`url ${redactUrl(url)} is not a valid PostgreSQL URL`, { cause: err });
  }
  const schema = parsed.searchParams.get('schema') ?? undefined;
  if (schema !== undefined && !SCHEMA_NAME.test(schema))
    throw new TypeError(
      `url ?schema= must be a lowercase identifier (a-z, 0-9, _; at most 63 characters; not starting with pg_), got '${schema}'`,
    );
  parsed.searchParams.delete('schema');
  const env = process.env;
  const user = decodeURIComponent(parsed.username) || env.PGUSER || userInfo().username;
  const host =
    parsed.hostname.replace(/^\[|\]$/g, '') || parsed.searchParams.get('host') || env.PGHOST || 'localhost';
  const port = Number(parsed.port || parsed.searchParams.get('port') || env.PGPORT || 5432);
  const database = decodeURIComponent(parsed.pathname.slice(1)) || env.PGDATABASE || user;
  const connectionString = parsed.toString();
  return {
    dialect: 'postgres',
    connectionString,
    schema,
    host,
    port,
    database,
    display: redactUrl(schema === undefined ? connectionString : url),
  };
}

/** `url` with any password replaced by `***`, safe to log. */
export function redactUrl(url: string): string {
  return url.replace(/(\/\/[^/?#@:]*:)[^/?#@]*@/, '$1***@');
}
