import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChaosDefinition, InvariantResult } from './chaos-definition.js';
import { type FaultSpec, isNetworkFault, seededRandom } from './chaos-schedule.js';
import { freePortCopy } from './free-port-copy.js';
import { type FaultRecord, healSystem, runNemesis } from './nemesis.js';
import { type ProxyMesh, startProxyMesh } from './proxy-mesh.js';
import { type RunningSystem, startSystem } from './start-system.js';
import type { System } from './validate-system.js';

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
   * instead of on the system file's ports and data.
   * @default false
   */
  readonly freePorts?: boolean;
  /** The environment the services inherit. @default process.env */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Receives the supervisor's and the services' output. @default discarded */
  readonly write?: (chunk: string) => void;
  /** Called with every fault record as it happens. */
  readonly onFault?: (record: FaultRecord) => void;
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
 * cross them. Resolves with the report; `report.passed` is the verdict.
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
  try {
    phase('starting');
    const target = tmp === undefined ? system : await freePortCopy(system, join(tmp, 'data'));
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
      });
      const timer = setTimeout(() => stop.abort(), options.durationMs);
      await nemesis;
      clearTimeout(timer);
      const faultsEnded = Date.now();

      phase('healing');
      mesh?.clearAll();
      const healStart = Date.now() - t0;
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
    try {
      await running?.stop();
    } finally {
      await mesh?.close();
    }
    if (tmp !== undefined) rmSync(tmp, { recursive: true, force: true });
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
    nemesis: records,
    notHealed,
    check,
    history: history ?? null,
    passed: !cancelled() && workloadError === undefined && check.passed,
  };
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
