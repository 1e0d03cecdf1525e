import { createHash } from 'node:crypto';
import pg from 'pg';
import { mapEnvValues } from './infra-env.js';
import { ChaosInfraError } from './infra-errors.js';
import type { System, SystemPlan } from './validate-system.js';

/** A PostgreSQL database that services of a system use, found in their environment. */
export interface ServiceDatabase {
  /** The database's name. */
  readonly database: string;
  /** A URL to reach it with, as a service does (its credentials; without Flotilla's `?schema=`). */
  readonly connectionString: string;
  /** `host:port/database`, without credentials, for messages and the report. */
  readonly display: string;
  /** The services whose environment names it (several when they share it, one schema each). */
  readonly services: readonly string[];
}

const POSTGRES_URL = /^postgres(?:ql)?:\/\//i;

/** The named database of a `postgres://` URL with its server, or `undefined` for anything else. */
function databaseOf(value: string): { database: string; server: string; url: URL } | undefined {
  if (!POSTGRES_URL.test(value)) return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return undefined;
  }
  const database = decodeURIComponent(url.pathname.slice(1));
  if (database === '' || database.includes('/')) return undefined;
  url.searchParams.delete('schema');
  return { database, server: `${url.hostname}:${url.port || '5432'}`, url };
}

/**
 * The PostgreSQL databases the services of `plan` use: every variable of every instance whose
 * value is a `postgres://` (or `postgresql://`) URL naming a database. One entry per database
 * and server, listing every service that names it.
 */
export function systemDatabases(plan: SystemPlan): ServiceDatabase[] {
  const found = new Map<
    string,
    { database: string; connectionString: string; display: string; services: Set<string> }
  >();
  for (const service of plan.services)
    for (const instance of service.instances)
      for (const value of Object.values(instance.env)) {
        const db = databaseOf(value);
        if (db === undefined) continue;
        const key = `${db.server}/${db.database}`;
        const entry = found.get(key) ?? {
          database: db.database,
          connectionString: db.url.toString(),
          display: key,
          services: new Set<string>(),
        };
        entry.services.add(service.name);
        found.set(key, entry);
      }
  return [...found.values()].map((e) => ({ ...e, services: [...e.services] }));
}

/**
 * Terminates every connection to `db` but the one asking
 * (`pg_terminate_backend` of each of its sessions in `pg_stat_activity`), as a failover or an
 * administrator would; resolves with how many it terminated. It connects with the services'
 * own credentials, so it can end their sessions without superuser rights.
 */
export async function terminateConnections(db: ServiceDatabase, timeoutMs = 5_000): Promise<number> {
  const client = new pg.Client({
    connectionString: db.connectionString,
    connectionTimeoutMillis: timeoutMs,
    query_timeout: timeoutMs,
    application_name: 'flotilla-chaos',
  });
  client.on('error', () => {});
  try {
    await client.connect();
    const result = await client.query<{ terminated: number }>(
      `select count(*) filter (where pg_terminate_backend(pid))::int as terminated
         from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()`,
      [db.database],
    );
    return result.rows[0]?.terminated ?? 0;
  } catch (err) {
    throw new ChaosInfraError(
      `could not terminate the connections to ${db.display}: ${err instanceof Error ? err.message : String(err)}`,
      { cause: err },
    );
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * The name of `database` for run `tag`: `<database>_<tag>`, shortened (with a hash of the full
 * name) to PostgreSQL's 63-byte limit.
 */
export function isolatedName(database: string, tag: string): string {
  const name = `${database}_${tag}`;
  if (Buffer.byteLength(name) <= 63) return name;
  const hash = createHash('sha256').update(name).digest('hex').slice(0, 8);
  return `${database.slice(0, 63 - tag.length - hash.length - 2)}_${hash}_${tag}`;
}

/**
 * A copy of `system` whose every `postgres://` URL names a database of this run's own,
 * `<database>_<tag>` (see {@link isolatedName}), so it can run beside the original without
 * sharing its data — nor having its connections terminated by a `pg-kill`. Services that shared
 * a database still share its copy. Returns the copy and the databases it names.
 */
export function isolateDatabases(
  system: System,
  tag: string,
  profile: string | undefined,
): { system: System; databases: ServiceDatabase[] } {
  const copy = mapEnvValues(system, (value) => {
    const db = databaseOf(value);
    if (db === undefined) return value;
    const url = new URL(value);
    url.pathname = `/${encodeURIComponent(isolatedName(db.database, tag))}`;
    return url.toString();
  });
  return { system: copy, databases: systemDatabases(copy.plan(profile)) };
}

/** Runs `statement` in the `postgres` database of the server of `db`, with its credentials. */
async function onServer(db: ServiceDatabase, statement: string): Promise<void> {
  const url = new URL(db.connectionString);
  url.pathname = '/postgres';
  const client = new pg.Client({ connectionString: url.toString(), connectionTimeoutMillis: 10_000 });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query(statement);
  } finally {
    await client.end().catch(() => {});
  }
}

/** SQLSTATEs of "database already exists" and of two concurrent creations colliding. */
const ALREADY_EXISTS = new Set(['42P04', '23505']);

/** Creates each of `databases` that does not exist yet (through its server's `postgres` database). */
export async function createDatabases(databases: readonly ServiceDatabase[]): Promise<void> {
  for (const db of databases)
    try {
      await onServer(db, `create database ${pg.escapeIdentifier(db.database)}`);
    } catch (err) {
      if (ALREADY_EXISTS.has((err as { code?: string }).code ?? '')) continue;
      throw new ChaosInfraError(
        `could not create the database ${db.display}: ${err instanceof Error ? err.message : String(err)}`,
        { cause: err },
      );
    }
}

/** Drops each of `databases`, ending any session still connected to it (`with (force)`). */
export async function dropDatabases(databases: readonly ServiceDatabase[]): Promise<void> {
  const errors: string[] = [];
  for (const db of databases)
    await onServer(db, `drop database if exists ${pg.escapeIdentifier(db.database)} with (force)`).catch(
      (err: unknown) => errors.push(`${db.display}: ${err instanceof Error ? err.message : String(err)}`),
    );
  if (errors.length > 0)
    throw new ChaosInfraError(`could not drop the run's databases: ${errors.join('; ')}`);
}
