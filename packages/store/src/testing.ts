import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadPg } from './pg-module.js';
import { redactUrl } from './store-url.js';

/** The PostgreSQL server tests use when `FLOTILLA_TEST_PG_URL` is not set. */
export const DEFAULT_TEST_PG_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

/** The test PostgreSQL server: `FLOTILLA_TEST_PG_URL`, or {@link DEFAULT_TEST_PG_URL}. */
export function testPgUrl(): string {
  const fromEnv = process.env.FLOTILLA_TEST_PG_URL;
  return fromEnv === undefined || fromEnv === '' ? DEFAULT_TEST_PG_URL : fromEnv;
}

/** Options of {@link pgAvailable}. */
export interface PgAvailableOptions {
  /**
   * How long to wait for the connection, in milliseconds. Under CI, where an absent server fails
   * the run, a loaded machine must not look like a missing server: it waits longer there.
   * @default 1000, or 10000 when CI is set
   */
  connectTimeoutMs?: number;
}

const availability = new Map<string, Promise<boolean>>();

/**
 * Whether a PostgreSQL server answers at `url` (connects and runs `select 1`). Fast: a short
 * connect timeout, and the answer is remembered per URL for the rest of the process, so every
 * test file can ask.
 *
 * @example
 * if (await pgAvailable()) console.log('PostgreSQL tests will run');
 */
export function pgAvailable(url: string = testPgUrl(), options: PgAvailableOptions = {}): Promise<boolean> {
  const { connectTimeoutMs = process.env.CI ? 10_000 : 1000 } = options;
  let answer = availability.get(url);
  if (answer === undefined) {
    answer = probe(url, connectTimeoutMs);
    availability.set(url, answer);
  }
  return answer;
}

async function probe(url: string, connectTimeoutMs: number): Promise<boolean> {
  // Under CI a second try rules out a connection that was slow rather than refused.
  for (let attempt = process.env.CI ? 2 : 1; attempt > 0; attempt--)
    if (await probeOnce(url, connectTimeoutMs)) return true;
  return false;
}

async function probeOnce(url: string, connectTimeoutMs: number): Promise<boolean> {
  const { Client } = loadPg();
  const client = new Client({ connectionString: url, connectionTimeoutMillis: connectTimeoutMs });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('select 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

/** What {@link requirePg} found: the server URL and, when tests must not run, why. */
export interface PgRequirement {
  /** The test server's URL. */
  readonly url: string;
  /** `false` when PostgreSQL is reachable; otherwise the reason to skip, for `{ skip }`. */
  readonly skip: string | false;
}

/** The part of node:test's `TestContext` that {@link requirePg} uses. */
export interface SkippableTest {
  skip(message?: string): void;
}

/**
 * The repository's rule for tests that need PostgreSQL: run when the server is reachable; when
 * it is not, skip with a loud reason, unless the `CI` environment variable is set, in which
 * case throw (CI must never pass by skipping). With a test context, it also marks that test
 * skipped; the test should then return.
 *
 * @example
 * // A whole suite:
 * const pg = await requirePg();
 * describe('on PostgreSQL', { skip: pg.skip }, () => { … });
 * // One test:
 * it('reads int8 as numbers', async (t) => {
 *   const pg = await requirePg(t);
 *   if (pg.skip) return;
 *   …
 * });
 */
export async function requirePg(t?: SkippableTest, url: string = testPgUrl()): Promise<PgRequirement> {
  if (await pgAvailable(url)) return { url, skip: false };
  const reason = `PostgreSQL not reachable at ${redactUrl(url)} (start it, or set FLOTILLA_TEST_PG_URL)`;
  if (isCi()) throw new Error(`${reason}; CI is set, so tests that need PostgreSQL fail instead of skipping`);
  t?.skip(reason);
  return { url, skip: reason };
}

/** Whether the tests run under CI (`CI` set to anything but empty, `0` or `false`): CI never passes by skipping. */
export function isCi(): boolean {
  const ci = process.env.CI;
  return ci !== undefined && ci !== '' && ci !== '0' && ci.toLowerCase() !== 'false';
}

/**
 * What a suite whose requirement is missing passes as `skip`: `false` when `reason` is undefined;
 * else the reason, warned loudly — or, under CI, an error, since CI must run the suite.
 */
export function skipUnlessCi(reason: string | undefined): string | false {
  if (reason === undefined) return false;
  if (isCi()) throw new Error(`${reason}; CI is set, so it fails instead of skipping`);
  console.warn(reason);
  return reason;
}

/** Options of {@link createTestDatabase}. */
export interface CreateTestDatabaseOptions {
  /** Start of the database's name (lowercase letters, digits, `_`), e.g. the package's name. */
  prefix: string;
  /**
   * A URL of the server to create it on (any existing database on it).
   * @default testPgUrl()
   */
  url?: string;
}

/** A throwaway PostgreSQL database. */
export interface TestDatabase extends AsyncDisposable {
  /** The database's name. */
  readonly name: string;
  /** A URL to it, for `openStore({ url })`. */
  readonly url: string;
  /** Drops it, closing any connection still open to it. Idempotent. */
  drop(): Promise<void>;
}

const PREFIX = /^[a-z][a-z0-9_]{0,29}$/;

/**
 * Creates a fresh, uniquely named database on the test server. Drop it in `after` so a failing
 * test leaves nothing behind.
 *
 * @example
 * const database = await createTestDatabase({ prefix: 'store' });
 * after(() => database.drop());
 * const store = await openStore({ service: 'orders', url: database.url });
 */
export async function createTestDatabase(options: CreateTestDatabaseOptions): Promise<TestDatabase> {
  const { prefix, url = testPgUrl() } = options;
  if (typeof prefix !== 'string' || !PREFIX.test(prefix))
    throw new TypeError(
      `createTestDatabase.prefix must be 1-30 lowercase letters, digits or '_' starting with a letter, got ${String(prefix)}`,
    );
  const name = `${prefix}_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
  await queryDatabase(url, `create database "${name}"`);
  const target = new URL(url);
  target.pathname = `/${name}`;
  let dropped: Promise<void> | undefined;
  const drop = (): Promise<void> => {
    dropped ??= queryDatabase(url, `drop database if exists "${name}" with (force)`).then(() => undefined);
    return dropped;
  };
  return { name, url: target.toString(), drop, [Symbol.asyncDispose]: drop };
}

/**
 * Runs one statement on a connection of its own to the PostgreSQL database at `url`, outside any
 * store (to create or alter what a test's store then meets), and returns its rows.
 *
 * @example
 * await queryDatabase(database.url, 'alter table items add column colour text');
 */
export async function queryDatabase<Row = Record<string, unknown>>(
  url: string,
  text: string,
  params: readonly unknown[] = [],
): Promise<Row[]> {
  const { Client } = loadPg();
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  client.on('error', () => {});
  try {
    await client.connect();
    return (await client.query(text, [...params])).rows as Row[];
  } finally {
    await client.end().catch(() => {});
  }
}

/** A SQLite database file in a fresh temporary folder. */
export interface TempSqlite {
  /** `sqlite:<path>`, for `openStore({ url })`. */
  readonly url: string;
  /** The database file's path (not created yet). */
  readonly path: string;
  /** The temporary folder holding it (and its `-wal` / `-shm` files). */
  readonly dir: string;
  /** Removes the folder and everything in it. Close stores on it first. */
  cleanup(): void;
}

/**
 * A `sqlite:` URL for a database file `<name>.db` in a fresh folder under the OS temp dir.
 *
 * @example
 * const db = tempSqliteUrl('orders');
 * after(() => db.cleanup());
 * const store = await openStore({ service: 'orders', url: db.url });
 */
export function tempSqliteUrl(name: string): TempSqlite {
  if (typeof name !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/.test(name))
    throw new TypeError(`tempSqliteUrl(name) needs letters, digits, '_', '.' or '-', got ${String(name)}`);
  const dir = mkdtempSync(join(tmpdir(), `flotilla-${name}-`));
  const path = join(dir, `${name}.db`);
  return { url: `sqlite:${path}`, path, dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
