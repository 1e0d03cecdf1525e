import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createTestDatabase } from '@flotilla/store/testing';
import { childArgs } from '../lib/child.js';
import { fmtInt, fmtRatio, median } from '../lib/stats.js';
import { publish } from '../lib/table.js';
import type { WorkerConfig } from './worker.js';

const run = promisify(execFile);

/** Options of the saga benchmark. */
export interface SagaBenchOptions {
  /** Rounds of every measurement; medians are reported. */
  readonly rounds: number;
  /** Sagas per 50-concurrent measurement (a fifth of it, at least 100, sequentially). */
  readonly sagas: number;
  /** PostgreSQL server; a fresh database is created (and dropped) per measurement. */
  readonly pgUrl: string;
}

interface Sample {
  readonly sagasPerSec: number;
  readonly statementsPerSaga: number;
  readonly transactionsPerSaga: number;
}

interface Variant {
  readonly key: string;
  readonly label: string;
  readonly variant: WorkerConfig['variant'];
  readonly dialect: 'postgres' | 'sqlite';
  /** The key of the ceiling it is compared with. */
  readonly ceiling: string;
}

const VARIANTS: readonly Variant[] = [
  {
    key: 'bare-pg',
    label: 'bare work: 4 plain transactions (ceiling)',
    variant: 'bare',
    dialect: 'postgres',
    ceiling: 'bare-pg',
  },
  {
    key: 'flotilla-pg',
    label: '@flotilla/saga',
    variant: 'flotilla',
    dialect: 'postgres',
    ceiling: 'bare-pg',
  },
  { key: 'dbos-pg', label: 'DBOS Transact 5.3', variant: 'dbos', dialect: 'postgres', ceiling: 'bare-pg' },
  {
    key: 'bare-sqlite',
    label: 'bare work: 4 plain transactions (ceiling)',
    variant: 'bare',
    dialect: 'sqlite',
    ceiling: 'bare-sqlite',
  },
  {
    key: 'flotilla-sqlite',
    label: '@flotilla/saga',
    variant: 'flotilla',
    dialect: 'sqlite',
    ceiling: 'bare-sqlite',
  },
];

async function measure(v: Variant, concurrency: number, sagas: number, pgUrl: string): Promise<Sample> {
  let url: string;
  let cleanup: () => Promise<void>;
  if (v.dialect === 'postgres') {
    const database = await createTestDatabase({ prefix: 'bench_saga', url: pgUrl });
    url = database.url;
    cleanup = () => database.drop();
  } else {
    const dir = mkdtempSync(join(tmpdir(), 'flotilla-bench-saga-'));
    url = `sqlite:${join(dir, 'bench.db')}`;
    cleanup = async () => rmSync(dir, { recursive: true, force: true });
  }
  try {
    const config: WorkerConfig = {
      variant: v.variant,
      url,
      concurrency,
      sagas,
      warmup: Math.min(200, sagas),
    };
    const { stdout } = await run(
      process.execPath,
      [...childArgs(import.meta.url, 'worker'), JSON.stringify(config)],
      {
        maxBuffer: 16 * 1024 * 1024,
        env: { ...process.env, NODE_NO_WARNINGS: '1' },
      },
    );
    return JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as Sample;
  } finally {
    await cleanup();
  }
}

/**
 * Completed 4-step sagas per second (each step one insert through `idempotent()` in the
 * service's database): @flotilla/saga and DBOS Transact on the same PostgreSQL, @flotilla/saga
 * on embedded SQLite, and the bare work (the 4 inserts as 4 plain transactions) as the ceiling;
 * sequential and 50 concurrent. Every measurement runs in a fresh process on a fresh database;
 * rounds interleave the variants; medians are reported.
 */
export async function benchSaga({ rounds, sagas, pgUrl }: SagaBenchOptions): Promise<void> {
  const modes = [
    { concurrency: 1, sagas: Math.max(100, Math.round(sagas / 5)) },
    { concurrency: 50, sagas },
  ];
  const samples = new Map<string, Sample[]>();
  for (let round = 1; round <= rounds; round++) {
    for (const mode of modes)
      for (const v of VARIANTS) {
        const sample = await measure(v, mode.concurrency, mode.sagas, pgUrl);
        const key = `${v.key}@${mode.concurrency}`;
        samples.set(key, [...(samples.get(key) ?? []), sample]);
      }
    process.stderr.write(`saga: round ${round}/${rounds} done\n`);
  }
  const rate = (key: string, c: number) =>
    median((samples.get(`${key}@${c}`) ?? []).map((s) => s.sagasPerSec));
  const per = (key: string, field: 'statementsPerSaga' | 'transactionsPerSaga') =>
    median((samples.get(`${key}@50`) ?? []).map((s) => s[field]));
  const rows = VARIANTS.map((v) => {
    const seq = rate(v.key, 1);
    const conc = rate(v.key, 50);
    return [
      v.dialect === 'postgres' ? 'PostgreSQL' : 'SQLite (WAL)',
      v.label,
      fmtInt(seq),
      fmtRatio(seq / rate(v.ceiling, 1)),
      fmtInt(conc),
      fmtRatio(conc / rate(v.ceiling, 50)),
      per(v.key, 'statementsPerSaga').toFixed(1),
      per(v.key, 'transactionsPerSaga').toFixed(1),
    ];
  });
  const vsDbos = rate('flotilla-pg', 50) / rate('dbos-pg', 50);
  const vsDbosSeq = rate('flotilla-pg', 1) / rate('dbos-pg', 1);
  publish({
    name: 'saga',
    title: 'Sagas: completed 4-step sagas/s (each step one insert through idempotent())',
    command: `npm run bench -- saga --rounds ${rounds} --sagas ${sagas}`,
    header: [
      'database',
      'variant',
      'sequential sagas/s',
      'ratio to ceiling',
      '50-concurrent sagas/s',
      'ratio to ceiling',
      'statements per saga',
      'transactions per saga',
    ],
    rows,
    notes: [
      `Medians of ${rounds} round(s); ${fmtInt(modes[0]?.sagas ?? 0)} sequential and ${fmtInt(sagas)} 50-concurrent sagas per measurement after a warm-up, each in a fresh Node process and a fresh database (PostgreSQL 15 at 127.0.0.1, fsync and synchronous_commit on; SQLite in WAL with synchronous=NORMAL).`,
      'Each saga: a transaction starts it (@flotilla/saga: runner.start inside the caller transaction; DBOS: calling the registered workflow), then 4 steps each insert one row through idempotent() (key + effect in one transaction); the caller waits for completion. Bare work: the 4 inserts as 4 plain transactions, no key, no log.',
      '@flotilla/saga runs consecutive local steps in one transaction under its lease (effects, attempt log and fenced checkpoint atomic). DBOS runs each step as DBOS.runStep around the same store transaction (DBOS checkpoints step outputs in its own transactions; its transactional datasource packages are not installed).',
      'Statements and transactions are counted in the worker process as they are sent (pg Client.query and better-sqlite3 prepare; BEGIN/COMMIT/ROLLBACK not counted as statements; a statement outside BEGIN counts as a transaction), over the measured 50-concurrent sagas, including the worker’s start transaction.',
      'Every variant’s inserts go through the same @flotilla/store, which runs repeated parameterised statements as PostgreSQL prepared statements (parsed and planned once per connection; its default). DBOS’s own checkpoint statements go through its own pool.',
      `@flotilla/saga / DBOS on PostgreSQL: ${vsDbosSeq.toFixed(1)}x sequential, ${vsDbos.toFixed(1)}x at 50 concurrent (goal >= 5x at 50 concurrent; >= 0.5 of the bare ceiling).`,
      'The machine has 2 cores shared by Node and PostgreSQL; other work on it adds noise, which interleaved rounds spread over all variants.',
    ],
  });
}
