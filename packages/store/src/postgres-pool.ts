import type { StoreLogger } from './logger.js';
import { loadPg, type PgEventSource, type PgPool, type PgTypeParser, type PgTypes } from './pg-module.js';
import { prepareRepeatedStatements, StatementNames } from './prepared-statements.js';
import type { PostgresTarget } from './store-url.js';

/** Options of a PostgreSQL store's connection pool. */
export interface PostgresPoolOptions {
  /**
   * Most connections the pool opens.
   * @default 10
   */
  max?: number;
  /**
   * How long to wait for a new connection before failing, in milliseconds.
   * @default 10000
   */
  connectTimeoutMs?: number;
  /**
   * How long an unused connection stays open, in milliseconds.
   * @default 10000
   */
  idleTimeoutMs?: number;
  /**
   * Most distinct SQL texts run as server-side prepared statements: a parameterised statement
   * seen twice is then parsed and planned once per connection instead of on every execution.
   * 0 turns it off (needed behind a connection pooler that does not support prepared
   * statements, such as PgBouncer in transaction mode before 1.21).
   * @default 200
   */
  preparedStatements?: number;
}

const INT8 = 20;
const NUMERIC = 1700;
const INT8_ARRAY = 1016;
const NUMERIC_ARRAY = 1231;

/**
 * Creates the pool of a PostgreSQL store: `int8` and `numeric` come back as JS numbers (for this
 * pool only, so other code's `pg` pools keep their own parsing), every connection starts with
 * the service's schema as its search path, repeated statements are prepared once per connection
 * (see `preparedStatements`), and an idle connection's error is logged instead of crashing the
 * process.
 */
export function createPostgresPool(
  target: PostgresTarget,
  service: string,
  options: PostgresPoolOptions,
  logger: StoreLogger,
): PgPool {
  const { max = 10, connectTimeoutMs = 10_000, idleTimeoutMs = 10_000, preparedStatements = 200 } = options;
  for (const [field, value, min] of [
    ['max', max, 1],
    ['connectTimeoutMs', connectTimeoutMs, 1],
    ['idleTimeoutMs', idleTimeoutMs, 0],
    ['preparedStatements', preparedStatements, 0],
  ] as const) {
    if (!Number.isInteger(value) || value < min)
      throw new RangeError(`pool.${field} must be an integer >= ${min}, got ${String(value)}`);
  }
  const pg = loadPg();
  const pool = new pg.Pool({
    connectionString: withSearchPath(target.connectionString, target.schema),
    max,
    connectionTimeoutMillis: connectTimeoutMs,
    idleTimeoutMillis: idleTimeoutMs,
    fallback_application_name: service,
    types: numericTypes(pg.types),
  });
  // An idle client whose connection drops (server restart, failover, a killed backend) makes
  // the pool emit 'error'; without a listener Node would throw it and end the process. The
  // pool has already discarded that client, so logging is all there is to do.
  pool.on('error', (err) => {
    logger.error({ err, service, database: target.display }, 'idle PostgreSQL connection failed');
  });
  // A connection that drops while checked out (inside a transaction, between two statements)
  // makes its client emit 'error' too, and the pool listens only to idle clients: without a
  // listener of its own that error would end the process. The client is then unusable: the next
  // statement of whoever holds it fails (and with it the transaction), and on release the pool
  // discards it. Idle clients' errors are logged by the pool's listener above.
  const inUse = new WeakSet<PgEventSource>();
  pool.on('acquire', (client) => inUse.add(client));
  pool.on('release', (_err, client) => inUse.delete(client));
  const names = new StatementNames(preparedStatements);
  pool.on('connect', (client) => {
    if (preparedStatements > 0) prepareRepeatedStatements(client, names);
    let reported = false;
    client.on('error', (err) => {
      // A dying connection may report twice (the server's message, then the socket's end).
      if (!inUse.has(client) || reported) return;
      reported = true;
      logger.warn(
        { err, service, database: target.display },
        'PostgreSQL connection failed while in use; its transaction fails and the pool replaces it',
      );
    });
  });
  return pool;
}

/**
 * `pg` reads the URL's parameters over its explicit settings, so the search path goes into the
 * URL's `options` parameter, after whatever options it already had.
 */
function withSearchPath(connectionString: string, schema: string | undefined): string {
  if (schema === undefined) return connectionString;
  const url = new URL(connectionString);
  const existing = url.searchParams.get('options');
  url.searchParams.set('options', `${existing === null ? '' : `${existing} `}-c search_path=${schema}`);
  return url.toString();
}

/** Parsers reading `int8` / `numeric` (and arrays of them) as numbers, deferring the rest. */
export function numericTypes(defaults: PgTypes): PgTypes {
  return {
    getTypeParser(oid, format = 'text') {
      if (format !== 'text') return defaults.getTypeParser(oid, format);
      switch (oid) {
        case INT8:
          return parseInt8;
        case NUMERIC:
          return Number;
        case INT8_ARRAY:
        case NUMERIC_ARRAY: {
          const parseArray = defaults.getTypeParser(oid, format);
          const element: PgTypeParser = oid === INT8_ARRAY ? parseInt8 : Number;
          return (value) => mapDeep(parseArray(value), element);
        }
        default:
          return defaults.getTypeParser(oid, format);
      }
    },
  };
}

/**
 * An `int8` beyond 2^53 cannot be a JS number without silently changing its value; failing
 * the query is better than a wrong amount or id. (`pg` turns a parser's throw into a rejected
 * query.) Cast to `text` in SQL to read such values.
 */
function parseInt8(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n))
    throw new RangeError(
      `int8 value ${value} is outside the safe integer range of a JS number; cast it to text`,
    );
  return n;
}

function mapDeep(value: unknown, parse: PgTypeParser): unknown {
  if (Array.isArray(value)) return value.map((v) => mapDeep(v, parse));
  return typeof value === 'string' ? parse(value) : value;
}

/**
 * Creates the service's schema when absent. Two processes starting together may both try:
 * the loser's CREATE fails with a unique violation even with IF NOT EXISTS, which is success.
 */
export async function ensureSchema(pool: PgPool, schema: string): Promise<void> {
  try {
    await pool.query(`create schema if not exists "${schema}"`);
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (code !== '23505' && code !== '42P06') throw err;
  }
}
