// Shared bootstrap of the shop's services: where a service's database and the event transport
// are, and how a service opens them. Infrastructure only — no domain type of any service lives
// here (domain contracts are in contracts/, one file per producing service).
import { resolve } from 'node:path';
import {
  createEventBus,
  type EventBus,
  eventsMigrations,
  type TransportFromUrlOptions,
  transportFromUrl,
} from '@flotilla/events';
import type { SetupContext } from '@flotilla/service';
import { type Migration, openStore, type PostgresPoolOptions, type Store } from '@flotilla/store';

/** The data folder of the running system (the supervisor sets it; `.flotilla/data` by default). */
export function dataDir(env: Readonly<Record<string, string | undefined>>): string {
  return resolve(env.FLOTILLA_DATA_DIR ?? '.flotilla/data');
}

/**
 * The database URL of one service: `FLOTILLA_DATABASE_URL_<SERVICE>` (PostgreSQL in the
 * distributed profile), else a SQLite file of its own in the data folder. Never shared.
 */
export function databaseUrl(service: string, env: Readonly<Record<string, string | undefined>>): string {
  const variable = `FLOTILLA_DATABASE_URL_${service.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
  return env[variable] ?? `sqlite:${dataDir(env)}/${service}.db`;
}

/** The event transport URL: `FLOTILLA_TRANSPORT`, else the embedded log in the data folder. */
export function transportUrl(env: Readonly<Record<string, string | undefined>>): string {
  return env.FLOTILLA_TRANSPORT ?? `embedded:${dataDir(env)}/bus.db`;
}

/**
 * Settings of the transport that a URL cannot carry: on NATS, `FLOTILLA_NATS_STREAM` and
 * `FLOTILLA_NATS_SUBJECT_PREFIX` give a system a stream and subjects of its own (so two systems,
 * e.g. test runs, on one server never see each other's events), and `FLOTILLA_NATS_REPLICAS`
 * (1 to 5) the stream's replicas on a NATS cluster; unset, the transport's defaults.
 */
export function transportOptions(env: Readonly<Record<string, string | undefined>>): TransportFromUrlOptions {
  const stream = env.FLOTILLA_NATS_STREAM;
  const subjectPrefix = env.FLOTILLA_NATS_SUBJECT_PREFIX;
  const replicasText = env.FLOTILLA_NATS_REPLICAS;
  const replicas = replicasText === undefined || replicasText === '' ? undefined : Number(replicasText);
  if (replicas !== undefined && !(Number.isInteger(replicas) && replicas >= 1 && replicas <= 5))
    throw new RangeError(
      `FLOTILLA_NATS_REPLICAS must be an integer from 1 to 5, got ${JSON.stringify(replicasText)}`,
    );
  return {
    nats: {
      ...(stream === undefined || stream === '' ? {} : { stream }),
      ...(subjectPrefix === undefined || subjectPrefix === '' ? {} : { subjectPrefix }),
      ...(replicas === undefined ? {} : { replicas }),
    },
  };
}

/**
 * The pool settings of a service's PostgreSQL store: `FLOTILLA_PG_PREPARED_STATEMENTS` (an
 * integer >= 0) caps the statements prepared per connection, 0 for none (behind a pooler that
 * cannot keep prepared statements); unset, the store's default.
 */
export function poolOptions(env: Readonly<Record<string, string | undefined>>): PostgresPoolOptions {
  const text = env.FLOTILLA_PG_PREPARED_STATEMENTS;
  if (text === undefined || text === '') return {};
  const preparedStatements = Number(text);
  if (!(Number.isInteger(preparedStatements) && preparedStatements >= 0))
    throw new RangeError(
      `FLOTILLA_PG_PREPARED_STATEMENTS must be an integer >= 0, got ${JSON.stringify(text)}`,
    );
  return { preparedStatements };
}

/** SQLSTATE of "database does not exist". */
const INVALID_CATALOG_NAME = '3D000';
/** SQLSTATE of "database already exists". */
const DUPLICATE_DATABASE = '42P04';
/** Two concurrent CREATE DATABASE of one name can also collide on the catalogue's unique index. */
const UNIQUE_VIOLATION = '23505';

/**
 * Creates the PostgreSQL database a `postgres://` URL names when it does not exist yet, through
 * the server's `postgres` database, so `flotilla up --profile distributed` needs nothing made by
 * hand. Several instances may race to create it: the loser's "already exists" is success.
 * Resolves `true` when this call created it; any other URL is left alone (`false`).
 */
export async function ensureDatabase(
  url: string,
  log?: { info(obj: object, msg: string): void },
): Promise<boolean> {
  if (!/^postgres(?:ql)?:\/\//i.test(url)) return false;
  const target = new URL(url);
  // `?schema=` is the store's own parameter, not the driver's.
  target.searchParams.delete('schema');
  const name = decodeURIComponent(target.pathname.slice(1));
  if (name === '') return false;
  const { default: pg } = await import('pg');
  const run = async (connectionString: string, statement?: string): Promise<void> => {
    const client = new pg.Client({ connectionString, connectionTimeoutMillis: 10_000 });
    client.on('error', () => {});
    try {
      await client.connect();
      if (statement !== undefined) await client.query(statement);
    } finally {
      await client.end().catch(() => {});
    }
  };
  try {
    await run(target.toString());
    return false;
  } catch (err) {
    if (sqlState(err) !== INVALID_CATALOG_NAME) throw err;
  }
  const admin = new URL(target);
  admin.pathname = '/postgres';
  try {
    await run(admin.toString(), `create database ${pg.escapeIdentifier(name)}`);
  } catch (err) {
    const state = sqlState(err);
    if (state === DUPLICATE_DATABASE || state === UNIQUE_VIOLATION) return false;
    throw new Error(
      `database ${name} does not exist on ${target.host} and could not be created through its postgres database: ${err instanceof Error ? err.message : String(err)}`,
      { cause: err },
    );
  }
  log?.info({ database: name }, 'created the database');
  return true;
}

function sqlState(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** What {@link openPlatform} gives a service: its store, its event bus and the transport under it. */
export interface Platform<DB> {
  readonly store: Store<DB>;
  readonly bus: EventBus<DB>;
}

/**
 * Opens a service's own database (created first when it is a PostgreSQL database that does not
 * exist yet; its migrations plus the event tables and any extra ones, e.g. the saga's), the
 * event transport and the service's event bus, registering each for shutdown in the right order
 * (bus, then transport, then store) and their readiness checks.
 * Subscribe on `bus` and then call `bus.start()` once the service is wired.
 */
export async function openPlatform<DB>(
  ctx: SetupContext<unknown>,
  migrations: readonly Migration[],
  extraMigrations: readonly Migration[] = [],
): Promise<Platform<DB>> {
  const url = databaseUrl(ctx.service, ctx.env);
  await ensureDatabase(url, ctx.log);
  const store = await openStore<DB>({
    service: ctx.service,
    url,
    migrations: [...migrations, ...extraMigrations, ...eventsMigrations].sort((a, b) =>
      a.id < b.id ? -1 : 1,
    ),
    pool: poolOptions(ctx.env),
    logger: ctx.log,
  });
  ctx.onClose(() => store.close());
  const transport = await transportFromUrl(transportUrl(ctx.env), transportOptions(ctx.env));
  ctx.onClose(() => transport.close());
  const bus = createEventBus<DB>({
    service: ctx.service,
    store,
    transport,
    logger: ctx.log,
    tracer: ctx.tracer,
  });
  ctx.onClose(() => bus.close());
  ctx.addCheck(store.healthCheck());
  ctx.addCheck(bus.healthCheck());
  return { store, bus };
}
