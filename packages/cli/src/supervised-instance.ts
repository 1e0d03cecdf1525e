import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Clock, TimerHandle } from '@flotilla/resilience';
import { LIFELINE_ENV } from '@flotilla/service';
import type { LogPrinter } from './log-printer.js';
import type { ReadinessProbe } from './readiness-probe.js';
import { type RestartPolicy, restartPolicy } from './restart-policy.js';
import type { InstanceState, InstanceStatus, SupervisorEvent } from './supervisor-events.js';
import type { RestartSettings } from './system-definition.js';
import type { PlannedInstance, PlannedService } from './validate-system.js';

/** Everything one supervised instance needs (internal). */
export interface InstanceSettings {
  readonly service: PlannedService;
  readonly instance: PlannedInstance;
  /** `order` or `order[1]`. */
  readonly label: string;
  readonly colourIndex: number;
  /** The complete environment of its process. */
  readonly env: Readonly<Record<string, string>>;
  readonly cwd: string;
  /** Node flags before the entry (`--import tsx --conditions=source` for TypeScript). */
  readonly nodeArgs: readonly string[];
  /** The `ip` program: an instance with a `netns` runs as `ip netns exec <netns> node …`. */
  readonly ip: string | undefined;
  readonly clock: Clock;
  readonly restart: RestartSettings;
  readonly stopTimeoutMs: number;
  readonly probeIntervalMs: number;
  readonly probe: ReadinessProbe;
  readonly printer: LogPrinter;
  readonly emit: (event: SupervisorEvent) => void;
  /** Called when its process id changes, so the lock file can list the children. */
  readonly onProcessChange: () => void;
}

/** How waiting for an instance ended. */
export type SettleOutcome = 'ready' | 'gave-up' | 'stopped' | 'timed-out';

const TAIL_LINES = 40;
/** Probe pace while a process starts: often, so dependents start soon after it is ready. */
const STARTING_PROBE_MS = 100;

/**
 * One instance of a service under supervision (internal): its process, its state, its restarts.
 * The clock drives the restart backoff, its reset window, uptimes and the SIGKILL grace period;
 * probes are paced by real timers since they wait on I/O, not on policy.
 */
export class SupervisedInstance {
  private child: ChildProcess | undefined;
  private current: InstanceState = 'stopped';
  /** Whether the instance should be running (false once the operator or the system stops it). */
  private wanted = false;
  private startedAt = 0;
  private becameReady = false;
  private spawns = 0;
  private restartCount = 0;
  private gaveUp = false;
  private lastExit: InstanceStatus['lastExit'] = null;
  private lastProbe = 'not probed yet';
  private restartTimer: TimerHandle | undefined;
  private probeTimer: NodeJS.Timeout | undefined;
  private closed: Promise<void> = Promise.resolve();
  private readonly policy: RestartPolicy;
  private readonly watchers = new Set<() => void>();
  private readonly tail: string[] = [];

  constructor(private readonly settings: InstanceSettings) {
    this.policy = restartPolicy(settings.restart);
  }

  get state(): InstanceState {
    return this.current;
  }

  get pid(): number | null {
    return this.child?.pid ?? null;
  }

  get label(): string {
    return this.settings.label;
  }

  /** The last lines its processes wrote, oldest first, in readable form. */
  lastLines(count = 15): string[] {
    return this.tail.slice(-count);
  }

  /** The last readiness probe's answer, for messages. */
  get lastProbeDetail(): string {
    return this.lastProbe;
  }

  status(): InstanceStatus {
    const { service, instance } = this.settings;
    return {
      service: service.name,
      instance: instance.index,
      port: instance.port,
      url: instance.url,
      pid: this.pid,
      state: this.current,
      restarts: this.restartCount,
      uptimeMs: this.child === undefined ? null : Math.max(0, this.settings.clock.now() - this.startedAt),
      critical: service.critical,
      lastExit: this.lastExit,
      gaveUp: this.gaveUp,
    };
  }

  /** Starts its process unless one runs, forgetting past crashes. */
  start(): void {
    this.wanted = true;
    this.gaveUp = false;
    this.policy.reset();
    this.cancelRestart();
    if (this.child === undefined) this.spawnProcess();
  }

  /** Stops it for good: SIGTERM, then SIGKILL after the grace period; it is not restarted. */
  async stop(): Promise<void> {
    this.wanted = false;
    this.cancelRestart();
    // A draining service answers 503 on readiness: that is the stop in progress, not unreadiness.
    clearTimeout(this.probeTimer);
    const child = this.child;
    if (child === undefined) {
      if (this.current !== 'stopped') this.setState('stopped');
      return;
    }
    const closed = this.closed;
    this.signal(child, 'SIGTERM');
    // A paused process only acts on SIGTERM once it runs again.
    if (this.current === 'frozen') this.signal(child, 'SIGCONT');
    let graceTimer: TimerHandle | undefined;
    const graceOver = new Promise<'grace-over'>((resolve) => {
      graceTimer = this.settings.clock.setTimeout(() => resolve('grace-over'), this.settings.stopTimeoutMs);
    });
    const outcome = await Promise.race([closed.then(() => 'closed' as const), graceOver]);
    if (graceTimer !== undefined) this.settings.clock.clearTimeout(graceTimer);
    if (outcome === 'grace-over' && this.child === child) {
      this.settings.printer.system(
        `${this.label} did not exit within ${this.settings.stopTimeoutMs} ms of SIGTERM; sending SIGKILL`,
        'warn',
      );
      this.signal(child, 'SIGKILL');
      await closed;
    }
  }

  /** Kills its process with SIGKILL, as a crash would: it is restarted with backoff. */
  kill(): boolean {
    if (this.child === undefined) return false;
    this.signal(this.child, 'SIGKILL');
    return true;
  }

  /** Pauses its process (SIGSTOP) and resolves once it is paused; probes pause too. */
  async freeze(): Promise<boolean> {
    const child = this.child;
    if (child === undefined) return false;
    if (this.current === 'frozen') return true;
    this.signal(child, 'SIGSTOP');
    clearTimeout(this.probeTimer);
    this.setState('frozen');
    if (child.pid !== undefined) await untilStopped(child.pid);
    return true;
  }

  /** Resumes a frozen process (SIGCONT) and re-probes it at once. */
  async thaw(): Promise<boolean> {
    if (this.child === undefined || this.current !== 'frozen') return false;
    this.signal(this.child, 'SIGCONT');
    await this.probeOnce(true);
    return true;
  }

  /**
   * Resolves when the instance is ready, gave up restarting, or was stopped; or with
   * `timed-out` once `signal` aborts.
   */
  settle(signal: AbortSignal): Promise<SettleOutcome> {
    return new Promise((resolve) => {
      const finish = (outcome: SettleOutcome): void => {
        this.watchers.delete(check);
        signal.removeEventListener('abort', onAbort);
        resolve(outcome);
      };
      const check = (): void => {
        if (this.current === 'ready') finish('ready');
        else if (this.gaveUp) finish('gave-up');
        else if (!this.wanted) finish('stopped');
      };
      const onAbort = (): void => finish('timed-out');
      if (signal.aborted) return resolve('timed-out');
      this.watchers.add(check);
      signal.addEventListener('abort', onAbort, { once: true });
      check();
    });
  }

  /** Probes once more without changing the state, so a failure message shows the latest answer. */
  async refreshProbe(): Promise<void> {
    if (this.child === undefined || this.current === 'frozen') return;
    this.lastProbe = (await this.settings.probe.check(this.settings.instance.url)).detail;
  }

  /** Sends SIGKILL to a process still running (the supervisor itself is exiting abruptly). */
  killNow(): void {
    if (this.child !== undefined) this.signal(this.child, 'SIGKILL');
  }

  private spawnProcess(): void {
    const { service, instance, env, cwd, nodeArgs, printer } = this.settings;
    const node = [...nodeArgs, service.entry];
    // `ip netns exec` enters the namespace and execs node in place: the child's pid is node's,
    // so signals (stop, kill, freeze) reach the service itself.
    const [command, args] =
      instance.netns === undefined
        ? [process.execPath, node]
        : [this.settings.ip ?? 'ip', ['netns', 'exec', instance.netns, process.execPath, ...node]];
    const child = spawn(command, args, {
      cwd,
      // The child's stdin is a lifeline: never written, it ends only when this process is gone,
      // even by SIGKILL, and a service run by runService (or watching onLifelineCut) then stops
      // by itself instead of living on as an orphan.
      env: { ...env, [LIFELINE_ENV]: 'stdin' },
      stdio: ['pipe', 'pipe', 'pipe'],
      // Its own process group: a Ctrl-C in the terminal reaches only the supervisor, which then
      // stops the services in reverse dependency order.
      detached: true,
    });
    // A child that closed its stdin, or exited, must not make the supervisor's end of it throw.
    child.stdin?.on('error', () => {});
    if (this.spawns++ > 0) this.restartCount++;
    this.child = child;
    this.startedAt = this.settings.clock.now();
    this.becameReady = false;
    this.lastProbe = 'not probed yet';
    let ended = false;
    let markClosed!: () => void;
    this.closed = new Promise((resolve) => {
      markClosed = resolve;
    });
    const end = (code: number | null, signal: NodeJS.Signals | null): void => {
      if (ended) return;
      ended = true;
      this.onEnd(child, code, signal);
      markClosed();
    };
    for (const stream of [child.stdout, child.stderr]) {
      if (stream === null) continue;
      createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY }).on('line', (line) => {
        this.remember(printer.service(this.label, this.settings.colourIndex, line));
      });
    }
    child.once('close', end);
    child.once('error', (err) => {
      printer.system(`${this.label} could not be started: ${err.message}`, 'error');
      this.remember(`(spawn failed: ${err.message})`);
      if (child.pid === undefined) end(null, null);
    });
    this.setState('starting');
    this.settings.onProcessChange();
    this.scheduleProbe(STARTING_PROBE_MS);
  }

  private onEnd(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.child !== child) return;
    const { clock, printer, emit, service, instance } = this.settings;
    const uptimeMs = clock.now() - this.startedAt;
    this.child = undefined;
    clearTimeout(this.probeTimer);
    this.lastExit = { code, signal };
    this.settings.onProcessChange();
    const expected = !this.wanted;
    emit({
      type: 'exit',
      time: new Date().toISOString(),
      service: service.name,
      instance: instance.index,
      pid: child.pid ?? null,
      code,
      signal,
      expected,
    });
    if (expected) {
      this.setState('stopped');
      return;
    }
    const how = signal === null ? `exited with code ${code}` : `was killed by ${signal}`;
    const decision = this.policy.next({ uptimeMs, becameReady: this.becameReady });
    if (decision.kind === 'give-up') {
      this.gaveUp = true;
      printer.system(
        `${this.label} ${how}; it crashed ${decision.startFailures} times in a row before becoming ready, so it is not restarted (run: flotilla start ${service.name})`,
        'error',
      );
      emit({
        type: 'gave-up',
        time: new Date().toISOString(),
        service: service.name,
        instance: instance.index,
        startFailures: decision.startFailures,
      });
      this.setState('crashed');
      return;
    }
    printer.system(`${this.label} ${how}; restarting in ${decision.delayMs} ms`, 'warn');
    this.setState('crashed');
    emit({
      type: 'restart-scheduled',
      time: new Date().toISOString(),
      service: service.name,
      instance: instance.index,
      delayMs: decision.delayMs,
      crashes: decision.crashes,
    });
    this.restartTimer = clock.setTimeout(() => {
      this.restartTimer = undefined;
      if (this.wanted && this.child === undefined) this.spawnProcess();
    }, decision.delayMs);
  }

  private scheduleProbe(delayMs: number): void {
    clearTimeout(this.probeTimer);
    this.probeTimer = setTimeout(() => void this.probeOnce(false), delayMs);
    this.probeTimer.unref();
  }

  /** Probes readiness once and updates the state; `afterThaw` lets a frozen instance leave `frozen`. */
  private async probeOnce(afterThaw: boolean): Promise<void> {
    const child = this.child;
    if (child === undefined || (this.current === 'frozen' && !afterThaw)) return;
    const result = await this.settings.probe.check(this.settings.instance.url);
    if (this.child !== child || !this.wanted || (this.current === 'frozen' && !afterThaw)) return;
    this.lastProbe = result.detail;
    if (result.ready) {
      this.becameReady = true;
      if (this.current !== 'ready') this.setState('ready');
    } else if (this.current === 'ready' || (afterThaw && this.becameReady)) {
      this.setState('unready');
    } else if (afterThaw) {
      this.setState('starting');
    }
    this.scheduleProbe(this.current === 'starting' ? STARTING_PROBE_MS : this.settings.probeIntervalMs);
  }

  private setState(next: InstanceState): void {
    const previous = this.current;
    if (previous === next) return;
    this.current = next;
    const { service, instance } = this.settings;
    this.settings.emit({
      type: 'state',
      time: new Date().toISOString(),
      service: service.name,
      instance: instance.index,
      state: next,
      previous,
      pid: this.pid,
      restarts: this.restartCount,
    });
    for (const watcher of [...this.watchers]) watcher();
  }

  private cancelRestart(): void {
    if (this.restartTimer === undefined) return;
    this.settings.clock.clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
  }

  private remember(line: string): void {
    this.tail.push(line);
    if (this.tail.length > TAIL_LINES) this.tail.shift();
  }

  private signal(child: ChildProcess, name: NodeJS.Signals): void {
    try {
      child.kill(name);
    } catch {
      // The process is already gone; its close event follows.
    }
  }
}

/**
 * Waits until the kernel shows the process as stopped: SIGSTOP takes effect when the process is
 * next scheduled, and callers (chaos experiments) expect a frozen service to be frozen. Only Linux
 * shows this (in /proc); elsewhere, and after about a second, it returns anyway.
 */
async function untilStopped(pid: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      return;
    }
    // The state follows the parenthesised command name: `1234 (node) T …`.
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    if (state === 'T' || state === 't') return;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
