// One measurement of the saga benchmark in a fresh process: `worker.ts <config json>`.
// Prints one JSON line: { sagasPerSec, statementsPerSaga, transactionsPerSaga } (statements
// without BEGIN/COMMIT, counted in this process as they are sent).
import { createRequire } from 'node:module';
import { DBOS } from '@dbos-inc/dbos-sdk';
import {
  createSagaRunner,
  defineSaga,
  idempotencyMigrations,
  idempotent,
  sagaMigrations,
} from '@flotilla/saga';
import { loadBetterSqlite3, type Migration, openStore, type Store } from '@flotilla/store';
import { sql } from 'kysely';

/** What one worker measures. */
export interface WorkerConfig {
  readonly variant: 'flotilla' | 'dbos' | 'bare';
  /** `postgres://…` (a fresh database) or `sqlite:<file>`. */
  readonly url: string;
  /** Sagas (or workflows, or groups of 4 transactions) in flight at once. */
  readonly concurrency: number;
  /** Measured sagas, after the warm-up. */
  readonly sagas: number;
  readonly warmup: number;
}

interface BenchDb {
  effects: { key: string; step: number };
}

const migrations: readonly Migration[] = [
  { id: '0001_effects', up: 'create table effects (key text not null, step integer not null)' },
  ...sagaMigrations,
  ...idempotencyMigrations,
];

// Statement counting: every query the process sends (pg, which DBOS shares; better-sqlite3).
// A transaction is a BEGIN, or a statement sent outside one (autocommit).
let statements = 0;
let transactions = 0;
const inTransaction = new WeakMap<object, boolean>();
const sqliteConnection = {};
const require = createRequire(import.meta.url);
{
  const pg = require('pg') as { Client: { prototype: { query: (...args: unknown[]) => unknown } } };
  const query = pg.Client.prototype.query;
  pg.Client.prototype.query = function counted(this: unknown, ...args: unknown[]) {
    const text = typeof args[0] === 'string' ? args[0] : (args[0] as { text?: string } | null)?.text;
    count(this as object, text);
    return query.apply(this, args);
  };
  // The store caches prepared statements, so executions are counted, not prepares.
  // The same build of better-sqlite3 the store loads (it differs by Node version).
  const Database = loadBetterSqlite3() as new (
    path: string,
  ) => {
    prepare(source: string): object;
    close(): void;
  };
  const probe = new Database(':memory:');
  const statement = Object.getPrototypeOf(probe.prepare('select 1')) as Record<
    string,
    (this: { source: string }, ...args: unknown[]) => unknown
  >;
  probe.close();
  for (const method of ['run', 'all', 'get', 'iterate']) {
    const original = statement[method];
    if (original === undefined) continue;
    statement[method] = function counted(this: { source: string }, ...args: unknown[]) {
      count(sqliteConnection, this.source);
      return original.apply(this, args);
    };
  }
}
function count(connection: object, text: string | undefined): void {
  if (text === undefined) return;
  const head = text.trimStart().slice(0, 8).toLowerCase();
  if (head.startsWith('begin') || head.startsWith('start')) {
    transactions++;
    inTransaction.set(connection, true);
  } else if (head.startsWith('commit') || head.startsWith('rollback')) inTransaction.set(connection, false);
  else {
    statements++;
    if (inTransaction.get(connection) !== true) transactions++;
  }
}

const config = JSON.parse(process.argv[2] ?? '{}') as WorkerConfig;
const postgres = config.url.startsWith('postgres');
const store = await openStore<BenchDb>({
  service: 'bench',
  url: config.url,
  migrations,
  pool: { max: 20 },
});

/** One unit of work: the step's insert, deduplicated on its key (the same code in every durable variant). */
function insertStep(
  tx: Parameters<Parameters<Store<BenchDb>['transaction']>[0]>[0],
  key: string,
  step: number,
) {
  return idempotent(tx, key, async (tx) => {
    await sql`insert into effects (key, step) values (${key}, ${step})`.execute(tx);
  });
}

let runOne: (n: number) => Promise<void>;
let shutdown: () => Promise<void> = async () => {};

if (config.variant === 'bare') {
  runOne = async (n) => {
    for (let step = 1; step <= 4; step++)
      await store.transaction(async (tx) => {
        await sql`insert into effects (key, step) values (${`b${n}:${step}`}, ${step})`.execute(tx);
      });
  };
} else if (config.variant === 'flotilla') {
  let saga = defineSaga<{ n: number }, BenchDb>('bench', { version: 1 });
  for (let step = 1; step <= 4; step++)
    saga = saga.step(`s${step}`, {
      kind: 'retriable',
      local: (tx, _ctx, s) => insertStep(tx, s.idempotencyKey, step),
    });
  const runner = createSagaRunner({
    store,
    sagas: [saga],
    concurrency: Math.max(32, config.concurrency * 2),
  });
  await runner.run();
  runOne = async (n) => {
    const id = await store.transaction((tx) => runner.start(tx, saga, { n }));
    const state = await runner.settled(id);
    if (state !== 'completed') throw new Error(`saga ${id} ended ${state}`);
  };
  shutdown = () => runner.close();
} else {
  if (!postgres) throw new Error('DBOS runs on PostgreSQL only');
  DBOS.setConfig({
    name: 'bench',
    systemDatabaseUrl: config.url,
    systemDatabasePoolSize: 20,
    logLevel: 'error',
  });
  const steps = [1, 2, 3, 4].map((step) => async () => {
    const id = DBOS.workflowID as string;
    await store.transaction((tx) => insertStep(tx, `${id}:s${step}`, step));
  });
  const workflow = DBOS.registerWorkflow(
    async (_n: number) => {
      for (const [i, step] of steps.entries()) await DBOS.runStep(step, { name: `s${i + 1}` });
    },
    { name: 'bench' },
  );
  await DBOS.launch();
  runOne = (n) => workflow(n);
  shutdown = () => DBOS.shutdown();
}

async function drive(total: number, offset: number): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: config.concurrency }, async () => {
      while (next < total) await runOne(offset + next++);
    }),
  );
}

await drive(config.warmup, 0);
const statementsBefore = statements;
const transactionsBefore = transactions;
const t0 = performance.now();
await drive(config.sagas, config.warmup);
const seconds = (performance.now() - t0) / 1000;
const statementsAfter = statements;
const transactionsAfter = transactions;
await shutdown();
await store.close();
process.stdout.write(
  `${JSON.stringify({
    sagasPerSec: config.sagas / seconds,
    statementsPerSaga: (statementsAfter - statementsBefore) / config.sagas,
    transactionsPerSaga: (transactionsAfter - transactionsBefore) / config.sagas,
  })}\n`,
);
process.exit(0);
