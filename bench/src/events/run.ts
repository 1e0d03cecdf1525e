import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { createTestDatabase, type TestDatabase } from '@flotilla/store/testing';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { childArgs } from '../lib/child.js';
import { fmtInt, fmtRatio, median } from '../lib/stats.js';
import { publish } from '../lib/table.js';
import type { WorkerConfig } from './worker.js';

/**
 * Events published and handled before each measurement: pools connected, code optimised. V8 is
 * still compiling the hot paths with its optimising compiler after 1,000 events (a system-wide
 * `perf` profile showed TurboFan busy for the first second of the measured window, doubling the
 * CPU per event and, at half the maximum rate, the latency of that second); after 5,000 the
 * window measures the steady state of a running service.
 */
const WARMUP = 5000;

/** Options of the events benchmark. */
export interface EventsBenchOptions {
  /**
   * Rounds of every measurement; medians are reported.
   * @default 3
   */
  readonly rounds?: number;
  /**
   * Events per maximum-rate measurement.
   * @default 10000
   */
  readonly events?: number;
  /**
   * Length of each latency measurement at half the maximum rate, in seconds.
   * @default 4
   */
  readonly latencySeconds?: number;
  /**
   * PostgreSQL server (a database per service is created and dropped).
   * @default FLOTILLA_TEST_PG_URL or postgres://postgres@127.0.0.1:5432/postgres
   */
  readonly pgUrl?: string;
  /**
   * NATS server with JetStream.
   * @default FLOTILLA_TEST_NATS_URL or nats://127.0.0.1:4222
   */
  readonly natsUrl?: string;
}

/** Options with their defaults applied. */
type Settings = Required<EventsBenchOptions>;

interface Line {
  readonly event: string;
  readonly [field: string]: unknown;
}

/** A worker process and the JSON lines it printed. */
class Worker {
  private readonly child: ChildProcess;
  private readonly lines: Line[] = [];
  private readonly waiters = new Set<() => void>();
  private stderr = '';
  private readonly exited: Promise<number | null>;

  constructor(
    readonly role: string,
    config: WorkerConfig,
  ) {
    this.child = spawn(
      process.execPath,
      [...childArgs(import.meta.url, 'worker'), role, JSON.stringify(config)],
      {
        stdio: ['pipe', 'pipe', 'pipe'],
      },
    );
    this.child.stderr!.on('data', (c: Buffer) => {
      this.stderr += c.toString();
    });
    createInterface({ input: this.child.stdout! }).on('line', (text) => {
      this.lines.push(JSON.parse(text) as Line);
      for (const w of this.waiters) w();
    });
    this.exited = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)));
    this.child.once('exit', () => {
      for (const w of this.waiters) w();
    });
  }

  line(event: string, timeoutMs = 300_000): Promise<Line> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => finish(new Error(`${this.role}: no "${event}" after ${timeoutMs} ms\n${this.stderr}`)),
        timeoutMs,
      );
      const finish = (err?: Error, line?: Line): void => {
        clearTimeout(timer);
        this.waiters.delete(check);
        if (err !== undefined) reject(err);
        else resolve(line!);
      };
      const check = (): void => {
        const found = this.lines.find((l) => l.event === event);
        if (found !== undefined) finish(undefined, found);
        else if (this.child.exitCode !== null)
          finish(new Error(`${this.role} exited (${this.child.exitCode}) before "${event}"\n${this.stderr}`));
      };
      this.waiters.add(check);
      check();
    });
  }

  /** Sends one line to the worker's standard input. */
  send(text: string): void {
    this.child.stdin!.write(`${text}\n`);
  }

  /** SIGTERM (so a profiled worker writes its profile), then SIGKILL after 2 s. */
  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 2_000);
      await this.exited;
      clearTimeout(timer);
    }
    await this.exited;
  }
}

/** One end-to-end measurement: events/s, and latency percentiles when paced. */
interface Measurement {
  readonly rate: number;
  readonly p50?: number;
  readonly p99?: number;
  readonly offeredRate?: number;
}

interface Environment {
  readonly config: Omit<WorkerConfig, 'count' | 'concurrency'>;
  readonly producerConcurrency: number;
  dispose(): Promise<void>;
}

type EnvironmentFactory = () => Promise<Environment>;

/** Runs a producer and a consumer process (or the memory worker) and measures from first publish to last effect. */
async function measureBus(
  kind: 'memory' | 'processes',
  make: EnvironmentFactory,
  count: number,
  rate?: number,
): Promise<Measurement> {
  const env = await make();
  const workers: Worker[] = [];
  try {
    const config: WorkerConfig = {
      ...env.config,
      count,
      warmup: WARMUP,
      concurrency: env.producerConcurrency,
      ...(rate === undefined ? {} : { rate }),
    };
    let done: Line;
    let published: Line;
    if (kind === 'memory') {
      const w = new Worker('bus-memory', config);
      workers.push(w);
      published = await w.line('published');
      done = await w.line('done');
    } else {
      const consumer = new Worker('bus-consumer', config);
      workers.push(consumer);
      await consumer.line('ready');
      const producer = new Worker('bus-producer', config);
      workers.push(producer);
      await Promise.all([producer.line('warmed'), consumer.line('warm')]);
      producer.send('go');
      published = await producer.line('published');
      done = await consumer.line('done');
    }
    const start = published.start as number;
    const last = done.last as number;
    return {
      rate: (count * 1000) / (last - start),
      p50: done.p50 as number,
      p99: done.p99 as number,
      ...(rate === undefined ? {} : { offeredRate: rate }),
    };
  } finally {
    await Promise.all(workers.map((w) => w.stop()));
    await env.dispose();
  }
}

/** Raw JetStream: a publisher and a consumer process, warmed up, then `count` messages. */
async function measureJetStream(config: WorkerConfig): Promise<number> {
  const consumer = new Worker('js-consumer', config);
  const publisher = new Worker('js-publisher', config);
  try {
    await consumer.line('ready');
    await Promise.all([publisher.line('warmed'), consumer.line('warm')]);
    publisher.send('go');
    const [published, done] = await Promise.all([publisher.line('published'), consumer.line('done')]);
    return (config.count * 1000) / ((done.last as number) - (published.start as number));
  } finally {
    await Promise.all([publisher.stop(), consumer.stop()]);
  }
}

/** The bare database work: a producer and a consumer process inserting side by side, warmed up, then `count` each. */
async function measureBareDb(producerConfig: WorkerConfig, consumerConfig: WorkerConfig): Promise<number> {
  const producer = new Worker('db-producer', producerConfig);
  const consumer = new Worker('db-consumer', consumerConfig);
  try {
    await Promise.all([producer.line('warmed'), consumer.line('warmed')]);
    producer.send('go');
    consumer.send('go');
    const [a, b] = await Promise.all([producer.line('published'), consumer.line('published')]);
    const start = Math.min(a.start as number, b.start as number);
    const end = Math.max(a.end as number, b.end as number);
    return (producerConfig.count * 1000) / (end - start);
  } finally {
    await Promise.all([producer.stop(), consumer.stop()]);
  }
}

function sqliteEnv(transport: 'memory' | 'embedded'): EnvironmentFactory {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), 'flotilla-bench-events-'));
    return {
      config: {
        storeUrl: `sqlite:${join(dir, 'orders.db')}`,
        consumerStoreUrl: `sqlite:${join(dir, 'shipping.db')}`,
        transportUrl: transport === 'memory' ? 'memory:' : `embedded:${join(dir, 'bus.db')}`,
      },
      producerConcurrency: 2,
      dispose: async () => rmSync(dir, { recursive: true, force: true }),
    };
  };
}

async function streamAdmin(natsUrl: string): Promise<{
  add(name: string, subjects: string[]): Promise<void>;
  remove(name: string): Promise<void>;
  close(): Promise<void>;
}> {
  const nc = await connect({ servers: natsUrl });
  const jsm = await jetstreamManager(nc);
  return {
    add: async (name, subjects) => {
      await jsm.streams.add({ name, subjects, duplicate_window: 120_000_000_000 });
    },
    remove: async (name) => {
      await jsm.streams.delete(name).catch(() => false);
    },
    close: () => nc.close(),
  };
}

function pgNatsEnv(options: Settings): EnvironmentFactory {
  return async () => {
    const databases: TestDatabase[] = [];
    const orders = await createTestDatabase({ prefix: 'bench_events', url: options.pgUrl });
    databases.push(orders);
    const shipping = await createTestDatabase({ prefix: 'bench_events', url: options.pgUrl });
    databases.push(shipping);
    const id = Math.random().toString(36).slice(2, 10);
    const stream = `BENCH_EVENTS_${id}`;
    return {
      config: {
        storeUrl: orders.url,
        consumerStoreUrl: shipping.url,
        transportUrl: options.natsUrl,
        stream,
        subjectPrefix: `bench_events.${id}`,
      },
      producerConcurrency: 16,
      dispose: async () => {
        const admin = await streamAdmin(options.natsUrl);
        await admin.remove(stream);
        await admin.close();
        for (const d of databases) await d.drop();
      },
    };
  };
}

/** The end-to-end set-ups, in the order of the table. */
interface Variant {
  readonly label: string;
  readonly kind: 'memory' | 'processes';
  readonly make: EnvironmentFactory;
}

/** What one round measured. */
interface Round {
  /** Per variant: maximum rate, then latency at half of it. */
  readonly variants: { readonly max: Measurement; readonly paced: Measurement }[];
  readonly jetstream: number;
  readonly pgBare: number;
  readonly sqliteBare: number;
}

async function measureRound(variants: readonly Variant[], options: Settings, round: number): Promise<Round> {
  const results: Round['variants'] = [];
  for (const v of variants) {
    process.stderr.write(`events: round ${round}: ${v.label}: maximum rate…\n`);
    const max = await measureBus(v.kind, v.make, options.events);
    const half = Math.max(1, Math.round(max.rate / 2));
    process.stderr.write(
      `events: round ${round}: ${v.label}: ${fmtInt(max.rate)} events/s; latency at ${fmtInt(half)} events/s…\n`,
    );
    const paced = await measureBus(v.kind, v.make, half * options.latencySeconds, half);
    results.push({ max, paced });
  }

  process.stderr.write(`events: round ${round}: ceiling: raw JetStream…\n`);
  const admin = await streamAdmin(options.natsUrl);
  const rawStream = `BENCH_RAW_${Math.random().toString(36).slice(2, 10)}`;
  let jetstream: number;
  try {
    await admin.add(rawStream, [`bench_raw.${rawStream}.>`]);
    jetstream = await measureJetStream({
      storeUrl: '',
      transportUrl: '',
      natsUrl: options.natsUrl,
      stream: rawStream,
      subject: `bench_raw.${rawStream}`,
      count: options.events,
      warmup: WARMUP,
      concurrency: 1,
    });
  } finally {
    await admin.remove(rawStream);
    await admin.close();
  }

  process.stderr.write(`events: round ${round}: ceiling: bare database work…\n`);
  const bare = async (make: EnvironmentFactory): Promise<number> => {
    const env = await make();
    try {
      const common = {
        ...env.config,
        count: options.events,
        warmup: WARMUP,
        concurrency: env.producerConcurrency,
      };
      // Each service's insert in its own database, as in the bus set-ups.
      return await measureBareDb(common, {
        ...common,
        storeUrl: env.config.consumerStoreUrl ?? env.config.storeUrl,
      });
    } finally {
      await env.dispose();
    }
  };
  const pgBare = await bare(pgNatsEnv(options));
  const sqliteBare = await bare(sqliteEnv('embedded'));
  return { variants: results, jetstream, pgBare, sqliteBare };
}

/**
 * Events per second from a publish in a committed transaction to the consumer's committed effect
 * row, and publish-to-handled latency at half that rate, for the memory, embedded and NATS +
 * PostgreSQL set-ups, beside two ceilings measured in the same rounds: raw JetStream and the
 * bare database work. Rounds interleave every measurement so that drift in the machine's load
 * affects all of them alike; medians are reported, and the ratio is the median of the per-round
 * ratios.
 */
export async function benchEvents(input: EventsBenchOptions = {}): Promise<void> {
  const options: Settings = {
    rounds: input.rounds ?? 3,
    events: input.events ?? 10_000,
    latencySeconds: input.latencySeconds ?? 4,
    pgUrl: input.pgUrl ?? (process.env.FLOTILLA_TEST_PG_URL || 'postgres://postgres@127.0.0.1:5432/postgres'),
    natsUrl: input.natsUrl ?? (process.env.FLOTILLA_TEST_NATS_URL || 'nats://127.0.0.1:4222'),
  };
  for (const [name, value, min] of [
    ['rounds', options.rounds, 1],
    ['events', options.events, 1000],
    ['latencySeconds', options.latencySeconds, 1],
  ] as const)
    if (!Number.isInteger(value) || value < min)
      throw new RangeError(`benchEvents: ${name} must be an integer >= ${min}, got ${String(value)}`);
  const variants: Variant[] = [
    { label: 'memory transport + SQLite (one process)', kind: 'memory', make: sqliteEnv('memory') },
    {
      label: 'embedded log + SQLite (producer and consumer processes)',
      kind: 'processes',
      make: sqliteEnv('embedded'),
    },
    {
      label: 'NATS JetStream + PostgreSQL (producer and consumer processes)',
      kind: 'processes',
      make: pgNatsEnv(options),
    },
  ];
  const rounds: Round[] = [];
  const loadBefore = loadavg()[0]!;
  for (let r = 1; r <= options.rounds; r++) rounds.push(await measureRound(variants, options, r));
  const loadAfter = loadavg()[0]!;

  const of = (pick: (round: Round) => number): number => median(rounds.map(pick));
  const natsIndex = 2;
  const lower = (round: Round): number => Math.min(round.jetstream, round.pgBare);
  const ratio = of((round) => round.variants[natsIndex]!.max.rate / lower(round));
  const rows = variants.map((v, i) => [
    v.label,
    fmtInt(of((round) => round.variants[i]!.max.rate)),
    i === natsIndex ? fmtRatio(ratio) : '—',
    fmtInt(of((round) => round.variants[i]!.paced.offeredRate ?? 0)),
    `${of((round) => round.variants[i]!.paced.p50 ?? Number.NaN).toFixed(1)} ms`,
    `${of((round) => round.variants[i]!.paced.p99 ?? Number.NaN).toFixed(1)} ms`,
  ]);
  const p99 = (i: number): string =>
    `${of((round) => round.variants[i]!.paced.p99 ?? Number.NaN).toFixed(1)} ms`;
  publish({
    name: 'events',
    title: 'Events: publish in a committed transaction → handler’s committed effect',
    command: `npm run bench -- events --rounds ${options.rounds} --events ${options.events} --latency-seconds ${options.latencySeconds}`,
    header: [
      'set-up',
      'events/s (max)',
      'ratio to the lower ceiling',
      'paced at events/s',
      'p50 publish→handled',
      'p99 publish→handled',
    ],
    rows: [
      ...rows,
      [
        'ceiling: raw JetStream (publish with msg id in batches of 100, pull-consume with ack)',
        fmtInt(of((r) => r.jetstream)),
        '—',
        '—',
        '—',
        '—',
      ],
      [
        'ceiling: bare PostgreSQL work (producer insert ‖ consumer insert, plain transactions)',
        fmtInt(of((r) => r.pgBare)),
        '—',
        '—',
        '—',
        '—',
      ],
      [
        'reference: bare SQLite work (producer insert ‖ consumer insert, plain transactions)',
        fmtInt(of((r) => r.sqliteBare)),
        '—',
        '—',
        '—',
        '—',
      ],
    ],
    notes: [
      `Medians of ${options.rounds} rounds; each round measures every row once, in fresh databases, log and stream. ${fmtInt(options.events)} events per maximum-rate run, after ${fmtInt(WARMUP)} warm-up events (connections opened, code optimised) that are not counted.`,
      'One event per producer transaction (an order row + the outbox row); the consumer writes one effect row per event in the inbox transaction. Rate: events / (last effect committed − first publish started). Latency: from the `publish` call (the last statement of the producer’s transaction, so its commit is included) to just after the consumer’s commit (wall clock of one machine), at half the round’s maximum rate for ' +
        `${options.latencySeconds} s.`,
      'Producer: 2 transactions at a time on SQLite, 16 on PostgreSQL; consumer subscription concurrency 16 (16 partitions). The ceilings run the same way: a producer and a consumer process side by side.',
      `Goals: PostgreSQL + NATS ≥ 0.5 × the lower ceiling → ${fmtRatio(ratio)}; embedded ≥ 5,000 events/s → ${fmtInt(of((r) => r.variants[1]!.max.rate))}; p99 < 50 ms at half the maximum rate → memory ${p99(0)}, embedded ${p99(1)}, NATS + PostgreSQL ${p99(2)}.`,
      `Load average (1 min) when the run started and ended: ${loadBefore.toFixed(1)} and ${loadAfter.toFixed(1)} on ${cpus().length} cores; every process of a set-up (producer, consumer, PostgreSQL, NATS) shares them with whatever else runs.`,
      `Per-round ratios (NATS + PostgreSQL / lower ceiling): ${rounds.map((r) => fmtRatio(r.variants[natsIndex]!.max.rate / lower(r))).join(', ')}.`,
    ],
  });
}
