import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pgAvailable } from '@flotilla/store/testing';
import type { SystemPlan } from 'flotilla';
import { Pool } from 'undici';
import { fmtInt, fmtRatio } from '../lib/stats.js';
import { publish } from '../lib/table.js';
import { type Confirmations, followOrders } from './confirmations.js';
import { type LoadResult, placeOrders } from './order-load.js';
import { loginCustomers, type PlannedOrder, planOrders, stockedProducts } from './order-plan.js';
import {
  type CountedProcess,
  countCpu,
  countMachineCpu,
  infrastructureGroups,
  type MachineCpu,
  type ProcessCpu,
} from './process-cpu.js';
import { awaitProfiles, hotspots, type ProcessHotspots, shortWhere } from './profile-summary.js';
import {
  type BenchShop,
  type DistributedSettings,
  type InstanceCount,
  natsProblem,
  startShop,
} from './shop-system.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..', '..');
const SYSTEM_FILE = join(root, 'apps', 'shop', 'flotilla.system.ts');
/** Profiling wrapper of the services, compiled beside this file (or run through tsx from src/). */
const PROFILED_ENTRY = join(here, `profiled-service.${import.meta.url.endsWith('.ts') ? 'ts' : 'js'}`);

/** Options of {@link benchShop}. */
export interface ShopBenchOptions {
  /**
   * Orders measured per set-up (after the warm-up orders).
   * @default 2000
   */
  readonly orders?: number;
  /**
   * Orders in flight at once: clients that each place an order and follow it to its end.
   * @default 50
   */
  readonly concurrency?: number;
  /**
   * Re-run a shorter embedded load with a CPU profile of every service afterwards and report
   * where each process spends its time.
   * @default true
   */
  readonly profile?: boolean;
  /**
   * PostgreSQL server of the distributed row (a database per service is created and dropped).
   * @default FLOTILLA_TEST_PG_URL or postgres://postgres@127.0.0.1:5432/postgres
   */
  readonly pgUrl?: string;
  /**
   * NATS JetStream server of the distributed rows.
   * @default FLOTILLA_TEST_NATS_URL or nats://127.0.0.1:4222
   */
  readonly natsUrl?: string;
  /**
   * Redis of the distributed rows' gateways (their rate limits, under keys of the run's own).
   * @default FLOTILLA_TEST_REDIS_URL or redis://127.0.0.1:6379
   */
  readonly redisUrl?: string;
}

/**
 * Warm-up orders before a measurement (connections opened, code optimised): not counted. V8
 * keeps compiling the services' hot paths for the first seconds of load (a system-wide `perf`
 * profile after 200 orders still showed its optimising compiler busy), so the warm-up is half
 * the measured orders, up to 1,000: the measurement is of a shop that has been running.
 */
function warmupOf(orders: number): number {
  return Math.min(1000, Math.max(20, Math.ceil(orders / 2)));
}

/** Measured orders of the profiled run. */
function profiledOrders(orders: number): number {
  return Math.max(200, Math.ceil(orders / 4));
}

/** What happens around the measured orders of one set-up. */
interface Window {
  /** Called after the warm-up, right before the measured orders. */
  readonly begin?: (shop: BenchShop) => void;
  /** Called right after the measured orders. */
  readonly end?: (shop: BenchShop) => void | Promise<void>;
}

interface SetUp {
  readonly name: string;
  readonly api: 'v1' | 'v2';
  readonly distributed?: DistributedSettings;
  readonly profileDir?: string;
}

/** The benchmark's shared state: the order plan is made once, on the first fresh shop. */
interface Run {
  readonly measured: number;
  readonly concurrency: number;
  readonly runId: string;
  plan?: PlannedOrder[];
}

/**
 * Runs one set-up in a shop of its own: starts it, logs the customers in, places the warm-up
 * orders, then the measured ones, and stops it (its data, databases and stream are removed).
 */
async function measure(run: Run, setUp: SetUp, measured: number, window: Window = {}): Promise<LoadResult> {
  process.stderr.write(`shop: ${setUp.name}: starting the shop…\n`);
  const shop = await startShop({
    systemFile: SYSTEM_FILE,
    ...(setUp.distributed === undefined ? {} : { distributed: setUp.distributed }),
    ...(setUp.profileDir === undefined
      ? {}
      : { profile: { wrapper: PROFILED_ENTRY, dir: setUp.profileDir } }),
  });
  // One pool per gateway instance, the clients spread over them (as behind a load balancer).
  const perGateway = Math.ceil(run.concurrency / shop.gatewayUrls.length) + 2;
  const pools = shop.gatewayUrls.map((url) => new Pool(url, { connections: perGateway }));
  let confirmations: Confirmations | undefined;
  try {
    // A token from one gateway is good at every other (they share the JWT secret).
    const tokens = await loginCustomers(pools[0]!);
    const warmup = warmupOf(run.measured);
    run.plan ??= planOrders(
      warmup + Math.max(run.measured, profiledOrders(run.measured)),
      tokens.length,
      await stockedProducts(pools[0]!),
    );
    if (setUp.api === 'v2') confirmations = await followOrders(shop.transport.url, shop.transport.options);
    const api =
      confirmations === undefined ? { version: 'v1' as const } : { version: 'v2' as const, confirmations };
    const common = { pools, tokens, concurrency: run.concurrency, api };
    process.stderr.write(`shop: ${setUp.name}: ${warmup} warm-up orders…\n`);
    const warm = await placeOrders({
      ...common,
      orders: run.plan.slice(0, warmup),
      runId: `${run.runId}-${setUp.name}-warm`,
    });
    if (warm.confirmed === 0)
      throw new Error(
        `${setUp.name}: no warm-up order was confirmed (${JSON.stringify(warm.reasons)})\n${shop.lastLines()}`,
      );
    process.stderr.write(`shop: ${setUp.name}: ${measured} orders at concurrency ${run.concurrency}…\n`);
    window.begin?.(shop);
    const result = await placeOrders({
      ...common,
      orders: run.plan.slice(warmup, warmup + measured),
      runId: `${run.runId}-${setUp.name}`,
    });
    await window.end?.(shop);
    process.stderr.write(
      `shop: ${setUp.name}: ${fmtInt(result.rate)} orders/s, p50 ${result.p50Ms} ms, p99 ${result.p99Ms} ms, ${result.confirmed} confirmed, ${result.cancelled} cancelled, ${result.errors} errors\n`,
    );
    return result;
  } finally {
    await confirmations?.close().catch(() => {});
    await Promise.all(pools.map((p) => p.close().catch(() => {})));
    await shop.stop();
  }
}

/** The shop's processes plus this one (the load generator and the event consumer). */
function countedProcesses(shop: BenchShop): CountedProcess[] {
  return [...shop.processes(), { label: 'bench client', pid: process.pid }];
}

function describeCpu(cpu: readonly ProcessCpu[]): string {
  return cpu
    .map(
      (c) =>
        `${c.label} ${(c.share * 100).toFixed(0)}% (${c.seconds.toFixed(1)} s${
          c.processes === undefined ? '' : `, ${c.processes} process${c.processes === 1 ? '' : 'es'}`
        })`,
    )
    .join(', ');
}

/** `a`, `a and b`, `a, b and c`. */
function joinAnd(items: readonly string[]): string {
  return items.length <= 1 ? (items[0] ?? '') : `${items.slice(0, -1).join(', ')} and ${items.at(-1)}`;
}

/**
 * How many instances of which services a plan runs, for a row's label: "1 instance of each
 * service", or "2 instances of inventory, payment, order and gateway" (services in start order).
 */
function instancesLabel(plan: SystemPlan): string {
  const byCount = new Map<number, string[]>();
  for (const s of plan.services)
    if (s.instances.length > 1)
      byCount.set(s.instances.length, [...(byCount.get(s.instances.length) ?? []), s.name]);
  if (byCount.size === 0) return '1 instance of each service';
  return [...byCount.entries()]
    .sort(([a], [b]) => b - a)
    .map(([count, names]) => `${count} instances of ${joinAnd(names)}`)
    .join(', ');
}

/** A single process's CPU at or above this many cores, or the machine's at or above this share, is saturated. */
const SATURATED = 0.85;

/**
 * Names where a distributed measurement spent its CPU, from the numbers: the busiest component
 * (a service's instances summed, or an infrastructure server), the busiest single process, the
 * cores the counted processes used and how busy the whole machine was, and which of them was
 * saturated — the machine (then more instances cannot add throughput on it), one process (the
 * bottleneck), or neither (the limit is waiting, not CPU).
 */
function bottleneck(cpu: readonly ProcessCpu[], machine: MachineCpu): string {
  const window = machine.windowSeconds;
  if (cpu.length === 0 || !(window > 0)) return 'no CPU time could be read.';
  const components = new Map<string, { seconds: number; processes: number }>();
  for (const c of cpu) {
    const name = c.label.replace(/\[\d+\]$/, '');
    const prev = components.get(name) ?? { seconds: 0, processes: 0 };
    components.set(name, {
      seconds: prev.seconds + c.seconds,
      processes: prev.processes + (c.processes ?? 1),
    });
  }
  const [topName, top] = [...components.entries()].sort(([, a], [, b]) => b.seconds - a.seconds)[0]!;
  const counted = cpu.reduce((n, c) => n + c.seconds, 0);
  const single = cpu.filter((c) => (c.processes ?? 1) === 1)[0];
  const cores = (seconds: number): string => (seconds / window).toFixed(2);
  const countedUse = counted / (window * machine.cores);
  const machineUse = Number.isFinite(machine.busy) ? machine.busy : countedUse;
  const parts = [
    `busiest component: ${topName}${top.processes > 1 ? ` (${top.processes} processes)` : ''}, ${cores(top.seconds)} cores, ${((top.seconds / counted) * 100).toFixed(0)}% of the counted CPU`,
    ...(single === undefined
      ? []
      : [`busiest single process: ${single.label}, ${cores(single.seconds)} cores`]),
    `the counted processes used ${(counted / window).toFixed(2)} of the ${machine.cores} cores over the ${window.toFixed(1)} s window (${(countedUse * 100).toFixed(0)}%)${
      Number.isFinite(machine.busy)
        ? `, the whole machine was busy ${(machine.busy * 100).toFixed(0)}% (its other work included)`
        : ''
    }`,
  ];
  let verdict: string;
  if (machineUse >= SATURATED)
    verdict = `the machine's cores were saturated (≥ ${(SATURATED * 100).toFixed(0)}%), so more instances on this machine cannot raise the throughput; the CPU went first to ${topName}`;
  else if (single !== undefined && single.seconds / window >= SATURATED)
    verdict = `${single.label} kept about one core busy (≥ ${SATURATED} cores) while the machine had CPU to spare: that process is the bottleneck`;
  else
    verdict = `neither the machine's cores nor one process was saturated (≥ ${(SATURATED * 100).toFixed(0)}% of the cores, ≥ ${SATURATED} cores of one process): the throughput was limited by waiting (round trips, commits, locks, the clients' concurrency) rather than by CPU`;
  return `${parts.join('; ')}: ${verdict}.`;
}

/** One distributed measurement: its result (or why there is none), its instances and where its CPU went. */
interface DistributedRow {
  /** What runs: "1 instance of each service", "2 instances of …" (from the running plan). */
  readonly instances: string;
  readonly result: LoadResult | string;
  /** CPU per shop process, the benchmark client and the infrastructure servers, busiest first. */
  readonly cpu: readonly ProcessCpu[];
  readonly machine: MachineCpu | undefined;
}

/**
 * Measures the distributed profile with `settings.instances`, counting the CPU of every shop
 * process, the benchmark client, PostgreSQL (all its processes), NATS and Redis over the
 * measured orders; a failure, or `skip`, becomes the row's text instead of failing the run.
 */
async function measureDistributed(
  run: Run,
  settings: DistributedSettings & { readonly instances: InstanceCount },
  skip: string | undefined,
): Promise<DistributedRow> {
  const name = `distributed-${settings.instances}`;
  let instances =
    settings.instances === 'single' ? '1 instance of each service' : 'the instances of the profile';
  if (skip !== undefined) {
    process.stderr.write(`shop: ${name}: skipped: ${skip}\n`);
    return { instances, result: `skipped: ${skip}`, cpu: [], machine: undefined };
  }
  let counter: ReturnType<typeof countCpu> | undefined;
  let machineCounter: ReturnType<typeof countMachineCpu> | undefined;
  let cpu: ProcessCpu[] = [];
  let machine: MachineCpu | undefined;
  try {
    const result = await measure(run, { name, api: 'v2', distributed: settings }, run.measured, {
      begin: (shop) => {
        instances = instancesLabel(shop.running.plan);
        counter = countCpu([...countedProcesses(shop), ...infrastructureGroups()]);
        machineCounter = countMachineCpu();
      },
      end: () => {
        cpu = counter?.stop() ?? [];
        machine = machineCounter?.stop();
      },
    });
    return { instances, result, cpu, machine };
  } catch (err) {
    // The other rows stand on their own: report the failure in the table.
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`shop: ${name}: failed: ${message}\n`);
    return { instances, result: `failed: ${message.split('\n')[0]}`, cpu: [], machine: undefined };
  }
}

/** The note comparing the distributed rows: throughput ratio and p99 of each, when both ran. */
function scaling(single: DistributedRow, scaled: DistributedRow): string[] {
  if (typeof single.result === 'string' || typeof scaled.result === 'string') return [];
  const ratio = single.result.rate > 0 ? fmtRatio(scaled.result.rate / single.result.rate) : '—';
  return [
    `Scaling: ${scaled.instances} / ${single.instances} = ${ratio} (${fmtInt(scaled.result.rate)} vs ${fmtInt(single.result.rate)} confirmed orders/s); p99 ${fmtInt(scaled.result.p99Ms)} ms vs ${fmtInt(single.result.p99Ms)} ms.`,
  ];
}

/** Re-runs a shorter embedded load with a CPU profile of every service process. */
async function profileEmbedded(run: Run): Promise<ProcessHotspots[]> {
  const dir = mkdtempSync(join(tmpdir(), 'flotilla-bench-shop-prof-'));
  try {
    let counter: ReturnType<typeof countCpu> | undefined;
    let cpu: ProcessCpu[] = [];
    let folders = new Map<string, string>();
    const toggle = (shop: BenchShop): void => {
      for (const p of shop.processes()) process.kill(p.pid, 'SIGUSR2');
    };
    await measure(run, { name: 'profile', api: 'v2', profileDir: dir }, profiledOrders(run.measured), {
      begin: (shop) => {
        toggle(shop);
        counter = countCpu(countedProcesses(shop));
      },
      end: async (shop) => {
        cpu = counter?.stop() ?? [];
        toggle(shop);
        // The wrapper writes into `<dir>/<service>-<instance>`.
        folders = new Map(shop.processes().map((p) => [p.label, `${p.service}-${p.instance}`]));
        const missing = await awaitProfiles(dir, [...folders.values()]);
        if (missing.length > 0) process.stderr.write(`shop: no CPU profile from ${missing.join(', ')}\n`);
      },
    });
    return hotspots(dir, cpu, (label) => folders.get(label) ?? label);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function check(name: string, value: number, min: number): void {
  if (!Number.isInteger(value) || value < min)
    throw new RangeError(`benchShop: ${name} must be an integer >= ${min}, got ${String(value)}`);
}

/**
 * Orders per second through the shop's gateway, in one run on this machine: the microservice
 * flow (POST /api/v2/orders, then the order saga reserves stock, takes the payment and confirms)
 * on the embedded set-up, the monolith's one-transaction v1 orders as the ceiling, and the
 * distributed set-up (PostgreSQL per service, NATS JetStream, rate limits in Redis) when
 * PostgreSQL and NATS answer, twice: one instance of every service, then the profile's instances,
 * each with the CPU of every process and server and the bottleneck it shows. Each row runs in a
 * fresh shop started by the supervisor on free ports; the same customers place the same orders.
 * Then, by default, a profiled embedded run names where each process spends its CPU.
 */
export async function benchShop(options: ShopBenchOptions = {}): Promise<void> {
  const orders = options.orders ?? 2000;
  const concurrency = options.concurrency ?? 50;
  const profile = options.profile ?? true;
  const pgUrl =
    options.pgUrl ?? (process.env.FLOTILLA_TEST_PG_URL || 'postgres://postgres@127.0.0.1:5432/postgres');
  const natsUrl = options.natsUrl ?? (process.env.FLOTILLA_TEST_NATS_URL || 'nats://127.0.0.1:4222');
  check('orders', orders, 100);
  check('concurrency', concurrency, 1);
  const run: Run = { measured: orders, concurrency, runId: randomBytes(4).toString('hex') };
  const loadBefore = loadavg();

  let embeddedCpu: ProcessCpu[] = [];
  let counter: ReturnType<typeof countCpu> | undefined;
  const embedded = await measure(run, { name: 'embedded', api: 'v2' }, orders, {
    begin: (shop) => {
      counter = countCpu(countedProcesses(shop));
    },
    end: () => {
      embeddedCpu = counter?.stop() ?? [];
    },
  });
  const monolith = await measure(run, { name: 'monolith', api: 'v1' }, orders);

  const pgProblem = (await pgAvailable(pgUrl, { connectTimeoutMs: 2000 }))
    ? undefined
    : `PostgreSQL not reachable at ${pgUrl.replace(/\/\/[^@/]*@/, '//')}`;
  const skip = pgProblem ?? (await natsProblem(natsUrl, SYSTEM_FILE));
  const infrastructure = {
    pgUrl,
    natsUrl,
    ...(options.redisUrl === undefined ? {} : { redisUrl: options.redisUrl }),
  };
  const single = await measureDistributed(run, { ...infrastructure, instances: 'single' }, skip);
  const scaled = await measureDistributed(run, { ...infrastructure, instances: 'profile' }, skip);

  const spots = profile ? await profileEmbedded(run) : [];
  const loadAfter = loadavg();

  const ratio = (r: LoadResult): string => (monolith.rate > 0 ? fmtRatio(r.rate / monolith.rate) : '—');
  const row = (label: string, r: LoadResult, isCeiling = false): string[] => [
    label,
    fmtInt(r.orders),
    fmtInt(r.rate),
    isCeiling ? '1.00' : ratio(r),
    fmtInt(r.p50Ms),
    fmtInt(r.p99Ms),
    fmtInt(r.confirmed),
    fmtInt(r.cancelled),
    fmtInt(r.errors),
  ];
  const distributedLabel = (d: DistributedRow): string =>
    `microservices, distributed: PostgreSQL database per service, NATS JetStream, ${d.instances}`;
  const distributedRow = (d: DistributedRow): string[] =>
    typeof d.result === 'string'
      ? [distributedLabel(d), d.result, '—', '—', '—', '—', '—', '—', '—']
      : row(distributedLabel(d), d.result);
  const rows = [
    row('microservices, embedded: SQLite per service, embedded event log', embedded),
    row('monolith v1 (ceiling): stock, payment and order in one SQLite transaction', monolith, true),
    distributedRow(single),
    distributedRow(scaled),
  ];
  const meets = (ok: boolean): string => (ok ? 'met' : 'not met');
  const embeddedRatio = monolith.rate > 0 ? embedded.rate / monolith.rate : 0;
  const list = (counts: Readonly<Record<string, number>>): string =>
    Object.entries(counts)
      .map(([k, v]) => `${k} ×${v}`)
      .join(', ');
  const breakdown = (name: string, r: LoadResult | string): string[] => {
    if (typeof r === 'string') return [];
    const out: string[] = [];
    if (Object.keys(r.reasons).length > 0)
      out.push(`${name}: cancelled/refused orders and errors by cause: ${list(r.reasons)}.`);
    if (Object.keys(r.retries).length > 0)
      out.push(`${name}: requests sent again (same Idempotency-Key, backing off) after: ${list(r.retries)}.`);
    return out;
  };
  const busiest = spots.find((p) => p.label !== 'bench client');
  const busiestEmbedded = embeddedCpu.find((p) => p.label !== 'bench client');
  const warmup = warmupOf(orders);
  publish({
    name: 'shop',
    title: 'The shop: confirmed orders per second through the gateway',
    command: `npm run bench -- shop --orders ${orders} --concurrency ${concurrency}${profile ? '' : ' --no-profile'}`,
    header: [
      'set-up',
      'orders',
      'confirmed orders/s',
      'ratio to monolith',
      'p50 ms',
      'p99 ms',
      'confirmed',
      'cancelled',
      'errors',
    ],
    rows,
    notes: [
      `Goals: embedded ≥ 300 confirmed orders/s on this 2-core machine → ${fmtInt(embedded.rate)} (${meets(embedded.rate >= 300)}); microservices/monolith ≥ 0.3 → ${fmtRatio(embeddedRatio)} (${meets(embeddedRatio >= 0.3)}).`,
      `Each row: a fresh shop started as \`flotilla up\` does (loadSystem + startSystem on apps/shop/flotilla.system.ts, one process per service instance from apps/shop/dist, free ports, a temporary data directory; distributed: fresh PostgreSQL databases and a JetStream stream of its own, removed afterwards, and the gateways' rate limits in Redis under a key prefix of its own), the 6 demo customers logged in through the gateway, ${fmtInt(warmup)} warm-up orders not counted, then ${fmtInt(orders)} measured orders.`,
      `${concurrency} clients in a closed loop: each places an order with an Idempotency-Key and follows it to its end before placing the next; like the shop's load scenario, a client sends a refused request again, backing off (v2: after 429/502/503/504 or a transport error; v1, which has no key: after 429/503 only), and the latency counts from the first attempt. Orders are the same in every row: 1 unit of a regular in-stock product, every third with a second product, rotating over the catalogue (never GIFT-013 or TEA-012, never past a product's stock).`,
      'Microservices: POST /api/v2/orders (202), then the saga reserves stock, takes the payment and confirms. Confirmation is detected from the order service without polling: a consumer group of the benchmark on the same transport as the services (embedded log or NATS), subscribed to OrderConfirmed/OrderCancelled; the latency is the event’s `time` (stamped in the transaction that confirms the order) minus the submit time, and the rate counts confirmed orders from the first submit to the last confirmation.',
      'Monolith: POST /api/v1/orders through the same gateway; the legacy service checks and takes the stock, charges the simulated payment and writes the order in one database transaction and answers 201; the latency is the request’s, the rate counts 201s from the first submit to the last answer.',
      'Distributed: the system file’s `distributed` profile (a PostgreSQL database per service, events on NATS JetStream, the gateways’ rate limits in Redis), measured twice: with one instance of every service (the profile’s `instances` lists dropped), then with the instances the profile declares. The clients spread over the gateway instances as behind a load balancer (client i sends through gateway i mod n); the services balance their calls over the instances of the services they call.',
      ...scaling(single, scaled),
      ...breakdown('embedded', embedded),
      ...breakdown('monolith', monolith),
      ...breakdown(`distributed, ${single.instances}`, single.result),
      ...breakdown(`distributed, ${scaled.instances}`, scaled.result),
      `CPU per process during the embedded measurement (Linux /proc, all threads, no profiler): ${describeCpu(embeddedCpu)}${
        spots.length === 0 ? `; busiest: ${busiestEmbedded?.label ?? '—'}` : ''
      }.`,
      ...(spots.length === 0
        ? []
        : [
            `Where the time goes: a second embedded run of ${fmtInt(profiledOrders(orders))} orders with a V8 CPU profile of every service process over the measured orders (each service started through a wrapper entry that records between two signals; \`--cpu-prof\` is refused in NODE_OPTIONS by Node 20). Per process: its share of the CPU time of the shop's processes and the benchmark client (Linux /proc, all threads), how much of the window its main thread was not idle (running, blocked in a synchronous call such as a SQLite commit, or runnable and waiting for a core), and its top 5 functions by self time (share of its non-idle samples; (native) = C++ such as better-sqlite3's \`run\`).`,
            `Busiest process: ${busiest?.label ?? '—'} (${((busiest?.share ?? 0) * 100).toFixed(0)}% of the CPU${
              busiest !== undefined && Number.isFinite(busiest.mainThreadBusy)
                ? `; main thread busy ${(busiest.mainThreadBusy * 100).toFixed(0)}% of the window`
                : ''
            }).`,
            ...spots.map(
              (s) =>
                `${s.label}: ${(s.share * 100).toFixed(0)}% of the CPU (${s.seconds.toFixed(1)} s)${
                  Number.isFinite(s.mainThreadBusy)
                    ? `, main thread busy ${(s.mainThreadBusy * 100).toFixed(0)}%`
                    : ''
                }${
                  s.top.length === 0
                    ? ''
                    : `; top self time: ${s.top.map((t) => `${t.name} ${(t.share * 100).toFixed(1)}% (${shortWhere(t.where)})`).join('; ')}`
                }.`,
            ),
          ]),
      ...[single, scaled].flatMap((d) =>
        d.machine === undefined
          ? []
          : [
              `CPU during the distributed measurement with ${d.instances} (Linux /proc, all threads; PostgreSQL: all its processes, backends included; NATS: nats-server; Redis: redis-server): ${describeCpu(d.cpu)}. Bottleneck: ${bottleneck(d.cpu, d.machine)}`,
            ],
      ),
      `Load average (1, 5, 15 min) when the run started: ${loadBefore.map((l) => l.toFixed(1)).join(', ')}; when it ended: ${loadAfter.map((l) => l.toFixed(1)).join(', ')}, on ${cpus().length} cores shared by every service, the benchmark client, PostgreSQL, NATS and Redis, and whatever else runs on the machine.`,
    ],
  });
}
