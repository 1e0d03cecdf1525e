import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChaosDefinition, InvariantResult } from './chaos-definition.js';
import {
  ChaosScheduleError,
  type FaultSpec,
  formatTarget,
  isInfraFault,
  isNetworkFault,
  seededRandom,
} from './chaos-schedule.js';
import { SystemStartError } from './errors.js';
import { freePortCopy } from './free-port-copy.js';
import { mapEnvValues } from './infra-env.js';
import { ChaosInfraError } from './infra-errors.js';
import {
  type NatsServerOptions,
  type OwnedNatsServer,
  pointNatsAt,
  startNatsServer,
  usesNats,
} from './infra-nats-server.js';
import {
  createDatabases,
  dropDatabases,
  isolateDatabases,
  type ServiceDatabase,
  systemDatabases,
  terminateConnections,
} from './infra-postgres.js';
import { type FaultRecord, healSystem, type InfraFaultControl, runNemesis } from './nemesis.js';
import { findIp, type NamespacePartitions, namespacePartitions } from './netns.js';
import { proxyListenHost } from './placement.js';
import { type ProxyMesh, startProxyMesh } from './proxy-mesh.js';
import { type RunningSystem, startSystem } from './start-system.js';
import type { SupervisorEvent } from './supervisor-events.js';
import type { System, SystemPlan } from './validate-system.js';

/** Options of {@link runChaos}. */
export interface RunChaosOptions {
  /** How long the workload and the nemesis run, in milliseconds. */
  readonly durationMs: number;
  /** Seeds the nemesis' choices and the workload's random numbers. */
  readonly seed: number;
  /** The faults to inject (see `parseFaultSchedule`). */
  readonly faults: readonly FaultSpec[];
  /** How many clients the workload runs at once. */
  readonly concurrency: number;
  /**
   * After the faults stop: how long to wait for the system to heal and for every invariant to
   * hold, in milliseconds.
   * @default 90000
   */
  readonly quiesceMs?: number;
  /** The profile to run (`distributed`). @default the base system */
  readonly profile?: string;
  /**
   * Run a copy of the system on free ports with a temporary data directory (removed afterwards),
   * instead of on the system file's ports and data. Every PostgreSQL database the services name
   * (`postgres://…/<db>` in their environment) is replaced by one of the run's own,
   * `<db>_chaos_<id>`, created before the start and dropped afterwards, and every
   * `FLOTILLA_RATE_LIMIT_PREFIX` (the gateways' Redis keys) gets `chaos_<id>:` appended.
   * @default false
   */
  readonly freePorts?: boolean;
  /**
   * Start a NATS server with JetStream of the run's own (`nats-server -js` on a free port of
   * 127.0.0.1, its store in a temporary directory, removed afterwards) and point every variable
   * of the system's environment that holds a `nats://` URL at it. `nats-restart` faults need it:
   * they restart only a server the run owns, never one that others share.
   */
  readonly natsServer?: Pick<NatsServerOptions, 'binary'>;
  /** The environment the services inherit. @default process.env */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Receives the supervisor's and the services' output. @default discarded */
  readonly write?: (chunk: string) => void;
  /** Called with every fault record as it happens. */
  readonly onFault?: (record: FaultRecord) => void;
  /**
   * Called with every event of the supervisor (instances' state changes, exits, restarts) from
   * the moment the system is ready until it has stopped: how the faults looked from outside.
   */
  readonly onEvent?: (event: SupervisorEvent) => void;
  /** Called when the run moves on: `starting`, `running`, `healing`, `checking`, `stopping`. */
  readonly onPhase?: (phase: ChaosPhase) => void;
  /** Cancels the run: the system is stopped and the report says `cancelled`. */
  readonly signal?: AbortSignal;
}

/** The phases of a chaos run, in order. */
export type ChaosPhase = 'starting' | 'running' | 'healing' | 'checking' | 'stopping';

/** What a chaos run found; `flotilla chaos --report` writes it as JSON. */
export interface ChaosReport {
  readonly system: string;
  readonly profile: string | null;
  readonly seed: number;
  readonly durationMs: number;
  readonly concurrency: number;
  /** The schedule, one fault per entry. */
  readonly faults: readonly string[];
  readonly startedAt: string;
  /** Wall time of the whole run, start-up and stop included. */
  readonly elapsedMs: number;
  readonly cancelled: boolean;
  readonly workload: {
    /** Operations the workload reported, in all. */
    readonly operations: number;
    readonly outcomes: Readonly<Record<string, number>>;
    /** The workload's own failure, if it threw. */
    readonly error?: string;
  };
  /** The infrastructure under the run: its own NATS server, the PostgreSQL databases of the services. */
  readonly infrastructure: {
    /** The URL of the NATS server the run started (`natsServer`), or null. */
    readonly natsServer: string | null;
    /** The services' PostgreSQL databases (`host:port/name`), which `pg-kill` acts on. */
    readonly databases: readonly string[];
  };
  /** What the nemesis did, then what healing did. */
  readonly nemesis: readonly FaultRecord[];
  /** Instances still not ready when the quiescence time ran out. */
  readonly notHealed: readonly string[];
  readonly check: {
    readonly passed: boolean;
    /** How many times the checker ran before every invariant held (or time ran out). */
    readonly attempts: number;
    /** Time from the end of the faults until every invariant held; null when they never did. */
    readonly settledAfterMs: number | null;
    readonly invariants: readonly InvariantResult[];
    /** The checker's own failure on its last attempt (a service did not answer). */
    readonly error?: string;
  };
  /** The workload's history, as the checker saw it. */
  readonly history: unknown;
  /** True when the run completed and every invariant held. */
  readonly passed: boolean;
}

/**
 * Runs a chaos experiment: starts the system, runs its workload and the nemesis together for
 * `durationMs`, then ends every fault (thaws, starts, clears the proxies), lets the workload's
 * operations finish, and runs the checker until every invariant holds or `quiesceMs` passes.
 * Stops the system in every case. With network faults in the schedule, a fault proxy stands in
 * front of every instance and the topology file lists the proxies, so calls between services
 * cross them. With `natsServer` the system runs on a NATS server of the run's own, which
 * `nats-restart` faults restart; `pg-kill` faults terminate the connections to the databases
 * the services name; `partition` faults cut the network namespaces the instances run in (their
 * `netns`) off the network, and every cut is undone before the system stops. Resolves with the
 * report; `report.passed` is the verdict. Throws a
 * `ChaosScheduleError` (or, for `natsServer` on a system without NATS, a `ChaosInfraError`)
 * before starting anything when an infrastructure fault cannot act (see {@link infraFaultProblem}).
 *
 * @example
 * const report = await runChaos(await loadSystem('flotilla.system.ts'), chaos, {
 *   durationMs: 60_000, seed: 1, concurrency: 8,
 *   faults: parseFaultSchedule('kill:random@every=5s,freeze:inventory@every=15s,for=3s'),
 * });
 * if (!report.passed) process.exitCode = 1;
 */
export async function runChaos<H>(
  system: System,
  chaos: ChaosDefinition<H>,
  options: RunChaosOptions,
): Promise<ChaosReport> {
  const problem = infraFaultProblem(system, options.faults, options);
  if (problem !== undefined)
    throw problem.fault === undefined
      ? new ChaosInfraError(problem.message)
      : new ChaosScheduleError(problem.message, problem.fault);
  const quiesceMs = options.quiesceMs ?? 90_000;
  const startedAt = new Date();
  const t0 = Date.now();
  const phase = (p: ChaosPhase): void => options.onPhase?.(p);
  const cancelled = (): boolean => options.signal?.aborted === true;
  const tmp = options.freePorts === true ? mkdtempSync(join(tmpdir(), 'flotilla-chaos-')) : undefined;
  const records: FaultRecord[] = [];
  const onRecord = (r: FaultRecord): void => {
    records.push(r);
    options.onFault?.(r);
  };
  const outcomes: Record<string, number> = {};
  let workloadError: string | undefined;
  let history: H | undefined;
  let notHealed: string[] = [];
  let check: ChaosReport['check'] = { passed: false, attempts: 0, settledAfterMs: null, invariants: [] };
  let running: RunningSystem | undefined;
  let mesh: ProxyMesh | undefined;
  let nats: OwnedNatsServer | undefined;
  let isolated: ServiceDatabase[] = [];
  let databases: ServiceDatabase[] = [];
  let partitions: NamespacePartitions | undefined;
  try {
    phase('starting');
    let target = tmp === undefined ? system : await freePortCopy(system, join(tmp, 'data'));
    if (tmp !== undefined) {
      const tag = `chaos_${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
      const copy = isolateDatabases(target, tag, options.profile);
      // Rate-limit buckets in a shared Redis: the run's own keys, not those of a running copy.
      target = mapEnvValues(copy.system, (value, name) =>
        name === 'FLOTILLA_RATE_LIMIT_PREFIX' ? `${value}${tag}:` : value,
      );
      isolated = copy.databases;
      await createDatabases(isolated);
    }
    if (options.natsServer !== undefined) {
      const write = options.write;
      nats = await startNatsServer({
        ...(options.natsServer.binary === undefined ? {} : { binary: options.natsServer.binary }),
        ...(write === undefined ? {} : { write }),
      });
      target = pointNatsAt(target, nats.url, options.profile);
    }
    databases = systemDatabases(target.plan(options.profile));
    const namespaces = namespacesOf(target.plan(options.profile));
    // Where the proxies of network faults will listen, found before anything starts.
    const proxyHost = options.faults.some(isNetworkFault)
      ? proxyListenHost(target, target.plan(options.profile))
      : undefined;
    // startSystem checks that the namespaces exist and that `ip` runs them (root, Linux).
    if (namespaces.length > 0) partitions = namespacePartitions(findIp() ?? 'ip', namespaces);
    for (let attempt = 1; ; attempt++) {
      try {
        running = await startSystem(target, {
          ...(options.profile === undefined ? {} : { profile: options.profile }),
          ...(tmp === undefined ? {} : { controlPort: 0 }),
          write: options.write ?? (() => {}),
          colour: false,
          pretty: false,
          env: options.env ?? process.env,
          probeIntervalMs: 250,
          ...(options.signal === undefined ? {} : { signal: options.signal }),
        });
        break;
      } catch (err) {
        // A port picked free a moment ago can be taken by another program before the start
        // checks it (nothing has started then): pick the copy's ports again.
        const portTaken = err instanceof SystemStartError && err.reason === 'port-in-use';
        if (tmp === undefined || !portTaken || attempt >= 3) throw err;
        target = await freePortCopy(target, join(tmp, 'data'));
      }
    }
    if (options.onEvent !== undefined) running.control.onEvent(options.onEvent);
    const urls = Object.fromEntries(
      running.plan.services.map((s) => [s.name, s.instances.map((i) => i.url)]),
    );
    const gatewayUrl = system.gateway === undefined ? undefined : urls[system.gateway]?.[0];
    if (gatewayUrl === undefined)
      throw new Error(`${system.name} names no gateway service: set \`gateway\` in the system file`);
    // Network faults act on calls between services: the topology the services read is pointed
    // at proxies. The workload and the checker keep the direct addresses (`urls`).
    if (options.faults.some(isNetworkFault))
      mesh = await startProxyMesh({
        plan: running.plan,
        topologyFile: running.topologyFile,
        seed: options.seed ^ 0x27d4eb2f,
        ...(proxyHost === undefined ? {} : { host: proxyHost }),
      });

    const stop = new AbortController();
    const giveUp = new AbortController();
    const onCancel = (): void => {
      stop.abort(options.signal?.reason);
      giveUp.abort(options.signal?.reason);
    };
    options.signal?.addEventListener('abort', onCancel, { once: true });
    try {
      phase('running');
      const control = running.control;
      const workload = chaos
        .workload({
          gatewayUrl,
          urls,
          secrets: running.secrets,
          concurrency: options.concurrency,
          random: seededRandom(options.seed),
          stop: stop.signal,
          signal: giveUp.signal,
          report: (outcome, count = 1) => {
            outcomes[outcome] = (outcomes[outcome] ?? 0) + count;
          },
        })
        .then(
          (h) => {
            history = h;
          },
          (err: unknown) => {
            workloadError = err instanceof Error ? err.message : String(err);
            stop.abort();
          },
        );
      // The nemesis draws from its own stream: the workload's draws depend on timing, and must
      // not change which instance the nemesis hits next.
      const nemesis = runNemesis({
        faults: options.faults,
        control,
        random: seededRandom(options.seed ^ 0x5bd1e995),
        signal: stop.signal,
        onRecord,
        ...(mesh === undefined ? {} : { network: mesh }),
        infra: infraControl(databases, nats, partitions),
      });
      const timer = setTimeout(() => stop.abort(), options.durationMs);
      await nemesis;
      clearTimeout(timer);
      const faultsEnded = Date.now();

      phase('healing');
      mesh?.clearAll();
      const healStart = Date.now() - t0;
      // A restart that failed (its port taken meanwhile) left the system without its broker.
      if (nats !== undefined && !nats.running)
        await restartNats(nats, (r) => onRecord({ ...r, atMs: healStart }));
      notHealed = (
        await healSystem(control, {
          timeoutMs: quiesceMs,
          signal: giveUp.signal,
          onRecord: (r) => onRecord({ ...r, atMs: healStart }),
        })
      ).map((s) => `${s.service}[${s.instance}] ${s.state}`);
      const remaining = Math.max(1_000, quiesceMs - (Date.now() - faultsEnded));
      const cap = setTimeout(() => giveUp.abort(new Error('quiescence time ran out')), remaining);
      await workload;
      clearTimeout(cap);

      if (!cancelled() && workloadError === undefined) {
        phase('checking');
        check = await checkUntilSettled(chaos, {
          history: history as H,
          gatewayUrl,
          urls,
          secrets: running.secrets,
          deadline: faultsEnded + quiesceMs,
          faultsEnded,
          ...(options.signal === undefined ? {} : { signal: options.signal }),
        });
      }
    } finally {
      options.signal?.removeEventListener('abort', onCancel);
    }
  } finally {
    phase('stopping');
    await inTurn([
      () => partitions?.reconnectAll(),
      () => running?.stop(),
      () => mesh?.close(),
      () => nats?.close(),
      () => (tmp === undefined ? undefined : rmSync(tmp, { recursive: true, force: true })),
      () => dropDatabases(isolated),
    ]);
  }
  const operations = Object.values(outcomes).reduce((a, b) => a + b, 0);
  return {
    system: system.name,
    profile: options.profile ?? null,
    seed: options.seed,
    durationMs: options.durationMs,
    concurrency: options.concurrency,
    faults: options.faults.map((f) => f.text),
    startedAt: startedAt.toISOString(),
    elapsedMs: Date.now() - t0,
    cancelled: cancelled(),
    workload: { operations, outcomes, ...(workloadError === undefined ? {} : { error: workloadError }) },
    infrastructure: { natsServer: nats?.url ?? null, databases: databases.map((d) => d.display) },
    nemesis: records,
    notHealed,
    check,
    history: history ?? null,
    passed: !cancelled() && workloadError === undefined && check.passed,
  };
}

/**
 * Why the infrastructure faults of `faults` cannot act on `system` with these options, naming the
 * fault (`fault` undefined when the problem is an option's); `undefined` when they can: a
 * `nats-restart` needs `natsServer` (the run restarts only a server of its own), `natsServer`
 * needs a variable holding a `nats://` URL under `profile` to point at it, a `pg-kill` needs
 * services whose environment names a PostgreSQL database under `profile` — its target among them
 * — and a `partition` instances in network namespaces, its target among those namespaces.
 */
export function infraFaultProblem(
  system: System,
  faults: readonly FaultSpec[],
  options: Pick<RunChaosOptions, 'profile' | 'natsServer'>,
): { message: string; fault: string | undefined } | undefined {
  const plan = system.plan(options.profile);
  const where = `${system.name}${options.profile === undefined ? '' : ` (profile ${options.profile})`}`;
  if (options.natsServer !== undefined && !usesNats(plan))
    return {
      fault: undefined,
      message: `no environment variable of ${where} holds a nats:// URL to point at the run's NATS server${options.profile === undefined ? '; choose the profile that uses NATS (--profile)' : ''}`,
    };
  const infra = faults.filter(isInfraFault);
  if (infra.length === 0) return undefined;
  const databases = systemDatabases(plan);
  const withDatabase = new Set(databases.flatMap((d) => d.services));
  const namespaces = namespacesOf(plan);
  for (const fault of infra) {
    if (fault.kind === 'partition') {
      if (namespaces.length === 0)
        return {
          fault: fault.text,
          message: `fault "${fault.text}": no instance of ${where} runs in a network namespace (netns) to cut off`,
        };
      if (fault.target.kind === 'netns' && !namespaces.includes(fault.target.netns))
        return {
          fault: fault.text,
          message: `fault "${fault.text}": no instance of ${where} runs in network namespace "${fault.target.netns}" (namespaces: ${namespaces.join(', ')})`,
        };
      continue;
    }
    if (fault.kind === 'nats-restart' && options.natsServer === undefined)
      return {
        fault: fault.text,
        message: `fault "${fault.text}": nats-restart restarts a NATS server the run starts itself, never a shared one: add --nats-server`,
      };
    if (fault.kind !== 'pg-kill') continue;
    if (withDatabase.size === 0)
      return {
        fault: fault.text,
        message: `fault "${fault.text}": no service of ${where} names a PostgreSQL database (postgres://…/<db>) in its environment${options.profile === undefined ? '; choose the profile that uses PostgreSQL (--profile)' : ''}`,
      };
    if (fault.target.kind === 'service' && !withDatabase.has(fault.target.service))
      return {
        fault: fault.text,
        message: `fault "${fault.text}": ${formatTarget(fault.target)} has no PostgreSQL database in ${where} (services with one: ${[...withDatabase].join(', ')})`,
      };
  }
  return undefined;
}

/** Runs every step, whatever the ones before did, then rejects with the first failure. */
async function inTurn(steps: readonly (() => unknown)[]): Promise<void> {
  let failure: { error: unknown } | undefined;
  for (const step of steps)
    try {
      await step();
    } catch (error) {
      failure ??= { error };
    }
  if (failure !== undefined) throw failure.error;
}

/** The network namespaces a plan's instances run in, in order of appearance. */
function namespacesOf(plan: SystemPlan): string[] {
  const names = plan.services.flatMap((s) => s.instances.map((i) => i.netns));
  return [...new Set(names.filter((n): n is string => n !== undefined))];
}

/** The nemesis' handle on the run's infrastructure. */
function infraControl(
  databases: readonly ServiceDatabase[],
  nats: OwnedNatsServer | undefined,
  partitions: NamespacePartitions | undefined,
): InfraFaultControl {
  return {
    ...(partitions === undefined ? {} : { partitions }),
    databaseServices: [...new Set(databases.flatMap((d) => d.services))],
    async killConnections(service) {
      const mine = databases.filter((d) => d.services.includes(service));
      const counts = await Promise.all(mine.map((d) => terminateConnections(d)));
      const total = counts.reduce((a, b) => a + b, 0);
      return `${total} connection${total === 1 ? '' : 's'} to ${mine.map((d) => d.display).join(', ')}`;
    },
    ...(nats === undefined ? {} : { nats }),
  };
}

/** Starts the run's NATS server again after a failed restart, trying for up to 30 s. */
async function restartNats(nats: OwnedNatsServer, onRecord: (r: FaultRecord) => void): Promise<void> {
  const until = Date.now() + 30_000;
  for (;;) {
    try {
      const ms = await nats.start();
      onRecord({
        atMs: 0,
        fault: 'heal',
        action: 'nats-start',
        target: 'nats',
        outcome: 'applied',
        ...(ms === undefined ? {} : { detail: `accepting clients after ${ms} ms` }),
      });
      return;
    } catch (err) {
      if (Date.now() > until) {
        onRecord({
          atMs: 0,
          fault: 'heal',
          action: 'nats-start',
          target: 'nats',
          outcome: 'failed',
          detail: err instanceof Error ? err.message : String(err),
        });
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    }
  }
}

/** Runs the checker about once a second until every invariant holds or `deadline` passes. */
async function checkUntilSettled<H>(
  chaos: ChaosDefinition<H>,
  input: {
    history: H;
    gatewayUrl: string;
    urls: Readonly<Record<string, readonly string[]>>;
    secrets: Readonly<Record<string, string>>;
    deadline: number;
    faultsEnded: number;
    signal?: AbortSignal;
  },
): Promise<ChaosReport['check']> {
  const signal = input.signal ?? new AbortController().signal;
  let attempts = 0;
  let invariants: readonly InvariantResult[] = [];
  let error: string | undefined;
  for (;;) {
    attempts++;
    try {
      invariants = await chaos.check({
        history: input.history,
        gatewayUrl: input.gatewayUrl,
        urls: input.urls,
        secrets: input.secrets,
        signal,
      });
      error = undefined;
      if (invariants.every((i) => i.violations.length === 0))
        return { passed: true, attempts, settledAfterMs: Date.now() - input.faultsEnded, invariants };
    } catch (err) {
      error = err instanceof Error ? err.message : String(err);
    }
    if (Date.now() >= input.deadline || signal.aborted) break;
    await new Promise((resolve) => setTimeout(resolve, 1_000));
  }
  return {
    passed: false,
    attempts,
    settledAfterMs: null,
    invariants,
    ...(error === undefined ? {} : { error }),
  };
}
