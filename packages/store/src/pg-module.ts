import { createRequire } from 'node:module';
import type { PostgresPool } from 'kysely';

/** A text-format value parser, as `pg` types use. */
export type PgTypeParser = (value: string) => unknown;

/** The `types` option of a `pg` pool or client: which parser reads a column of a given type OID. */
export interface PgTypes {
  getTypeParser(oid: number, format?: string): PgTypeParser;
}

/** Connection settings of a `pg` client or pool, the subset Flotilla uses. */
export interface PgConfig {
  connectionString: string;
  connectionTimeoutMillis?: number;
  idleTimeoutMillis?: number;
  max?: number;
  fallback_application_name?: string;
  types?: PgTypes;
}

/** Result of a `pg` query. */
export interface PgResult {
  readonly rows: Record<string, unknown>[];
}

/** The part of a `pg` Pool a store uses. */
export interface PgPool extends PostgresPool {
  readonly totalCount: number;
  readonly idleCount: number;
  readonly waitingCount: number;
  query(sql: string, parameters?: readonly unknown[]): Promise<PgResult>;
  on(event: 'error', listener: (err: Error) => void): unknown;
  /** Each new client, once connected, before it is handed out. */
  on(event: 'connect' | 'acquire', listener: (client: PgEventSource) => void): unknown;
  /** A client given back to the pool (with the error it was released with, if any). */
  on(event: 'release', listener: (err: Error | undefined, client: PgEventSource) => void): unknown;
}

/** A `pg` client as the pool's `connect` event hands it over. */
export interface PgEventSource {
  on(event: 'error', listener: (err: Error) => void): unknown;
}

/** The part of a `pg` Client the testing helpers use. */
export interface PgClient {
  connect(): Promise<void>;
  query(sql: string, parameters?: readonly unknown[]): Promise<PgResult>;
  end(): Promise<void>;
  on(event: 'error', listener: (err: Error) => void): unknown;
}

/** The part of the `pg` module Flotilla uses. */
export interface PgModule {
  readonly Pool: new (config: PgConfig) => PgPool;
  readonly Client: new (config: PgConfig) => PgClient;
  /** The process-wide default parsers; Flotilla reads them and never changes them. */
  readonly types: PgTypes;
}

// pg ships no type declarations and @types/pg is not installed, so the module is loaded
// through require and described by the local interfaces above.
const require = createRequire(import.meta.url);

/** Loads `pg` (once; Node caches the module). */
export function loadPg(): PgModule {
  return require('pg') as PgModule;
}
