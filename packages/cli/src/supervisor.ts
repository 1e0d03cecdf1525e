import type { Clock, Disposable, TimerHandle } from '@flotilla/resilience';
import { ControlCommandError, SystemStartError } from './errors.js';
import { Listeners } from './event-stream.js';
import type { LogPrinter } from './log-printer.js';
import type { ReadinessProbe } from './readiness-probe.js';
import { type SettleOutcome, SupervisedInstance } from './supervised-instance.js';
import type { InstanceStatus, SupervisorEvent } from './supervisor-events.js';
import type { ServiceAction, TargetOptions } from './system-control.js';
import type { PlannedInstance, PlannedService, System, SystemPlan } from './validate-system.js';

/** What the supervisor needs besides the plan (internal). */
export interface SupervisorSettings {
  readonly system: System;
  readonly plan: SystemPlan;
  readonly clock: Clock;
  readonly printer: LogPrinter;
  readonly probe: ReadinessProbe;
  readonly probeIntervalMs: number;
  readonly readyTimeoutMs: number;
  /** The `ip` program, which starts the instances that run in a network namespace. */
  readonly ip: string | undefined;
  /** The environment of one instance's process. */
  readonly envOf: (service: PlannedService, instance: PlannedInstance) => Record<string, string>;
  /** Node flags for an entry. */
  readonly nodeArgsOf: (entry: string) => readonly string[];
  /** Called when a child process starts or ends. */
  readonly onProcessChange: () => void;
}

/** The phase of the whole system. */
export type SystemPhase = 'starting' | 'ready' | 'stopping' | 'stopped';

type ServiceOutcome = 'ready' | 'gave-up' | 'timed-out' | 'blocked' | 'stopped';

/**
 * Runs the instances of a plan (internal): starts services in dependency order, stops them in
 * reverse, and carries out control actions.
 */
export class Supervisor {
  private readonly instances = new Map<string, SupervisedInstance[]>();
  private readonly listeners = new Listeners<SupervisorEvent>();
  private currentPhase: SystemPhase = 'starting';
  private stopping: Promise<void> | undefined;

  constructor(private readonly settings: SupervisorSettings) {
    const { plan } = settings;
    plan.services.forEach((service, colourIndex) => {
      this.instances.set(
        service.name,
        service.instances.map(
          (instance) =>
            new SupervisedInstance({
              service,
              instance,
              label: service.instances.length > 1 ? `${service.name}[${instance.index}]` : service.name,
              colourIndex,
              env: settings.envOf(service, instance),
              cwd: settings.system.baseDir,
              nodeArgs: settings.nodeArgsOf(service.entry),
              ip: settings.ip,
              clock: settings.clock,
              restart: settings.system.restart,
              stopTimeoutMs: settings.system.stopTimeoutMs,
              probeIntervalMs: settings.probeIntervalMs,
              probe: settings.probe,
              printer: settings.printer,
              emit: (event) => this.listeners.emit(event),
              onProcessChange: settings.onProcessChange,
            }),
        ),
      );
    });
  }

  get phase(): SystemPhase {
    return this.currentPhase;
  }

  onEvent(listener: (event: SupervisorEvent) => void): Disposable {
    return this.listeners.on(listener);
  }

  status(): InstanceStatus[] {
    return this.all().map((i) => i.status());
  }

  /** Every instance's process id, for the lock file. */
  children(): { service: string; instance: number; pid: number; entry: string }[] {
    const out: { service: string; instance: number; pid: number; entry: string }[] = [];
    for (const service of this.settings.plan.services)
      for (const inst of this.instances.get(service.name) ?? []) {
        const { pid } = inst;
        if (pid !== null)
          out.push({ service: service.name, instance: inst.status().instance, pid, entry: service.entry });
      }
    return out;
  }

  /**
   * Starts every service once its dependencies are ready and waits until all are ready. Throws a
   * {@link SystemStartError} naming the first critical service that crashed repeatedly, or every
   * critical service not ready when the ready timeout passed (or `signal` aborted); returns
   * warnings for non-critical services that did not come up.
   */
  async startAll(signal: AbortSignal | undefined): Promise<string[]> {
    this.setPhase('starting');
    const { plan, printer, clock, readyTimeoutMs } = this.settings;
    const deadline = new AbortController();
    let timedOut = false;
    const timer: TimerHandle = clock.setTimeout(() => {
      timedOut = true;
      deadline.abort();
    }, readyTimeoutMs);
    const onAbort = (): void => deadline.abort();
    signal?.addEventListener('abort', onAbort, { once: true });
    if (signal?.aborted === true) deadline.abort();
    let crashed: SystemStartError | undefined;
    const outcomes = new Map<string, Promise<ServiceOutcome>>();
    const byName = new Map(plan.services.map((s) => [s.name, s]));

    const run = (service: PlannedService): Promise<ServiceOutcome> => {
      let outcome = outcomes.get(service.name);
      if (outcome !== undefined) return outcome;
      outcome = (async (): Promise<ServiceOutcome> => {
        const deps = await Promise.all(service.dependsOn.map((d) => run(byName.get(d)!)));
        // A non-critical dependency that gave up does not hold its dependents back.
        if (
          deps.some((d) => d === 'timed-out' || d === 'blocked' || d === 'stopped') ||
          deadline.signal.aborted
        )
          return 'blocked';
        const instances = this.instances.get(service.name)!;
        printer.system(
          `starting ${service.name}${instances.length > 1 ? ` (${instances.length} instances)` : ''}`,
        );
        for (const inst of instances) inst.start();
        const results = await Promise.all(instances.map((i) => i.settle(deadline.signal)));
        if (results.every((r) => r === 'ready')) return 'ready';
        if (results.includes('gave-up')) {
          if (service.critical && crashed === undefined) {
            const inst = instances[results.indexOf('gave-up')]!;
            crashed = startError(
              service,
              inst,
              'crashed',
              `service "${service.name}" crashed repeatedly before becoming ready`,
            );
            deadline.abort();
          }
          return 'gave-up';
        }
        return results.includes('stopped') ? 'stopped' : 'timed-out';
      })();
      outcomes.set(service.name, outcome);
      return outcome;
    };

    try {
      const results = await Promise.all(plan.services.map(run));
      if (crashed !== undefined) throw crashed;
      if (signal?.aborted === true && !timedOut) {
        const pending = plan.services.find((_, k) => results[k] !== 'ready') ?? plan.services[0]!;
        throw new SystemStartError(
          `start-up of ${this.settings.system.name} was cancelled`,
          pending.name,
          0,
          'aborted',
          [],
        );
      }
      await Promise.all(
        plan.services
          .filter((_, k) => results[k] === 'timed-out')
          .flatMap((s) => this.instances.get(s.name)!.filter((i) => i.state !== 'ready'))
          .map((i) => i.refreshProbe()),
      );
      const failed: SystemStartError[] = [];
      const warnings: string[] = [];
      plan.services.forEach((service, k) => {
        const outcome = results[k]!;
        if (outcome === 'ready') return;
        const instances = this.instances.get(service.name)!;
        const inst = instances.find((i) => i.state !== 'ready') ?? instances[0]!;
        const error =
          outcome === 'stopped'
            ? startError(
                service,
                inst,
                'not-ready',
                `service "${service.name}" was stopped during start-up`,
                false,
              )
            : outcome === 'blocked'
              ? startError(
                  service,
                  inst,
                  'not-ready',
                  `service "${service.name}" was not started: it waits for ${service.dependsOn.map((d) => `"${d}"`).join(', ')}`,
                  false,
                )
              : outcome === 'gave-up'
                ? startError(
                    service,
                    inst,
                    'crashed',
                    `service "${service.name}" crashed repeatedly before becoming ready`,
                  )
                : startError(
                    service,
                    inst,
                    'not-ready',
                    `service "${service.name}"${instances.length > 1 ? ` (instance ${inst.status().instance})` : ''} did not become ready within ${readyTimeoutMs} ms; its /health/ready: ${inst.lastProbeDetail}`,
                  );
        if (service.critical) failed.push(error);
        else warnings.push(error.message.split('\n')[0]!);
      });
      if (failed.length > 0) {
        // Services that ran and did not become ready explain the failure; those that waited for them follow.
        failed.sort((a, b) => Number(a.lastLines.length === 0) - Number(b.lastLines.length === 0));
        const [first] = failed;
        throw new SystemStartError(
          failed.map((f) => f.message).join('\n\n'),
          first!.service,
          first!.instance,
          first!.reason,
          first!.lastLines,
        );
      }
      for (const warning of warnings) printer.system(`${warning} (not critical; continuing)`, 'warn');
      this.setPhase('ready');
      return warnings;
    } finally {
      clock.clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    }
  }

  /** Stops every service, each after the services that depend on it (instances concurrently). */
  stopAll(): Promise<void> {
    this.stopping ??= (async () => {
      this.setPhase('stopping');
      const { plan, printer } = this.settings;
      const done = new Map<string, Promise<void>>();
      const stop = (service: PlannedService): Promise<void> => {
        let p = done.get(service.name);
        if (p !== undefined) return p;
        p = (async () => {
          await Promise.all(plan.services.filter((s) => s.dependsOn.includes(service.name)).map(stop));
          const instances = this.instances.get(service.name)!;
          if (instances.some((i) => i.pid !== null)) printer.system(`stopping ${service.name}`);
          await Promise.all(instances.map((i) => i.stop()));
        })();
        done.set(service.name, p);
        return p;
      };
      await Promise.all(plan.services.map(stop));
      this.setPhase('stopped');
    })();
    return this.stopping;
  }

  /** Sends SIGKILL to every child at once (the supervisor process is exiting without a stop). */
  killAll(): void {
    for (const inst of this.all()) inst.killNow();
  }

  /** Carries out a control action; see `SystemControl`. */
  async act(action: ServiceAction, service: string, options: TargetOptions = {}): Promise<InstanceStatus[]> {
    if (this.currentPhase === 'stopping' || this.currentPhase === 'stopped')
      throw new ControlCommandError(`the system is ${this.currentPhase}`, 'system-stopping');
    const targets = this.targets(service, options.instance);
    const { printer } = this.settings;
    switch (action) {
      case 'stop':
        printer.system(`stopping ${describe(service, options)} (operator)`);
        await Promise.all(targets.map((t) => t.stop()));
        break;
      case 'start':
        printer.system(`starting ${describe(service, options)} (operator)`);
        await this.startAndWait(targets);
        break;
      case 'restart':
        printer.system(`restarting ${describe(service, options)} (operator)`);
        await Promise.all(targets.map((t) => t.stop()));
        await this.startAndWait(targets);
        break;
      case 'kill':
        this.requireRunning(targets, service, action);
        printer.system(`killing ${describe(service, options)} with SIGKILL (operator)`, 'warn');
        for (const t of targets) t.kill();
        break;
      case 'freeze':
        this.requireRunning(targets, service, action);
        printer.system(`freezing ${describe(service, options)} with SIGSTOP (operator)`, 'warn');
        await Promise.all(targets.map((t) => t.freeze()));
        break;
      case 'thaw':
        if (!targets.some((t) => t.state === 'frozen'))
          throw new ControlCommandError(`${describe(service, options)} is not frozen`, 'not-frozen');
        printer.system(`thawing ${describe(service, options)} with SIGCONT (operator)`);
        await Promise.all(targets.map((t) => t.thaw()));
        break;
      default:
        throw new ControlCommandError(`unknown action ${String(action satisfies never)}`, 'unknown-service');
    }
    return targets.map((t) => t.status());
  }

  private async startAndWait(targets: readonly SupervisedInstance[]): Promise<SettleOutcome[]> {
    for (const t of targets) t.start();
    const { clock, readyTimeoutMs } = this.settings;
    const limit = new AbortController();
    const timer = clock.setTimeout(() => limit.abort(), readyTimeoutMs);
    try {
      return await Promise.all(targets.map((t) => t.settle(limit.signal)));
    } finally {
      clock.clearTimeout(timer);
    }
  }

  private requireRunning(
    targets: readonly SupervisedInstance[],
    service: string,
    action: ServiceAction,
  ): void {
    const idle = targets.filter((t) => t.pid === null);
    if (idle.length > 0)
      throw new ControlCommandError(
        `cannot ${action} ${idle.map((t) => t.label).join(', ')}: no process runs (state ${idle[0]!.state}); start ${service} first`,
        'not-running',
      );
  }

  private targets(service: string, instance: number | undefined): SupervisedInstance[] {
    const instances = this.instances.get(service);
    if (instances === undefined)
      throw new ControlCommandError(
        `unknown service "${service}" (services: ${[...this.instances.keys()].join(', ')})`,
        'unknown-service',
      );
    if (instance === undefined) return instances;
    const one = instances[instance];
    if (one === undefined)
      throw new ControlCommandError(
        `service "${service}" has no instance ${instance} (instances: 0${instances.length > 1 ? `-${instances.length - 1}` : ''})`,
        'unknown-instance',
      );
    return [one];
  }

  private all(): SupervisedInstance[] {
    return this.settings.plan.services.flatMap((s) => this.instances.get(s.name) ?? []);
  }

  private setPhase(phase: SystemPhase): void {
    if (this.currentPhase === phase && phase !== 'starting') return;
    this.currentPhase = phase;
    this.listeners.emit({ type: 'system', time: new Date().toISOString(), phase });
  }
}

function describe(service: string, options: TargetOptions): string {
  return options.instance === undefined ? service : `${service}[${options.instance}]`;
}

function startError(
  service: PlannedService,
  inst: SupervisedInstance,
  reason: SystemStartError['reason'],
  headline: string,
  withLines = true,
): SystemStartError {
  const lines = withLines ? inst.lastLines() : [];
  const message =
    lines.length === 0
      ? headline
      : `${headline}. Last lines of ${inst.label}:\n${lines.map((l) => `  ${l}`).join('\n')}`;
  return new SystemStartError(message, service.name, inst.status().instance, reason, lines);
}
