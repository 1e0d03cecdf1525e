import { type Clock, systemClock } from '@flotilla/resilience';
import {
  type FaultSpec,
  type InfraFaultSpec,
  isInfraFault,
  isNetworkFault,
  type NetworkFaultKind,
  type NetworkFaultSpec,
  type ProcessFaultSpec,
} from './chaos-schedule.js';
import { NO_PROXY_FAULTS, type ProxyFaults } from './fault-proxy.js';
import type { OwnedNatsServer } from './infra-nats-server.js';
import type { NamespacePartitions } from './netns.js';
import type { InstanceState, InstanceStatus } from './supervisor-events.js';
import type { ServiceAction, SystemControl } from './system-control.js';

/**
 * What an infrastructure fault does: `pg-kill` terminates a service's database connections;
 * `nats-stop` and `nats-start` are the two halves of a `nats-restart`, `cut` and `reconnect`
 * those of a `partition`.
 */
export type InfraAction = 'pg-kill' | 'nats-stop' | 'nats-start' | 'cut' | 'reconnect';

/** One thing the nemesis did (or tried to do). */
export interface FaultRecord {
  /** When, in milliseconds since the nemesis started. */
  readonly atMs: number;
  /** The schedule entry it belongs to (`freeze:inventory@every=15s,for=3s`), or `heal`. */
  readonly fault: string;
  /** A supervisor action, a network fault applied, `clear` when a network fault ends, or an infrastructure action. */
  readonly action: ServiceAction | NetworkFaultKind | 'clear' | InfraAction;
  /**
   * The instance, as `service[instance]` (a network fault on every instance, or a `pg-kill`:
   * `service`; the NATS server: `nats`; a `partition`: the network namespace); `-` when nothing
   * fitted.
   */
  readonly target: string;
  /** `applied`; `skipped` when no instance was in a state the action fits; `failed` when the supervisor (or the infrastructure) refused. */
  readonly outcome: 'applied' | 'skipped' | 'failed';
  /**
   * Why it was skipped or failed; for a `reset` of current connections, how many it reset; for a
   * `pg-kill`, how many connections it terminated and in which database; for a `nats-start`,
   * how long the server took to accept clients again; for a `cut` or `reconnect`, the interfaces.
   */
  readonly detail?: string;
}

/** Options of {@link runNemesis}. */
export interface NemesisOptions {
  /** The faults to inject, each on its own timeline. */
  readonly faults: readonly FaultSpec[];
  /** The running system's control. */
  readonly control: Pick<SystemControl, 'status' | 'act'>;
  /** Chooses targets and intervals; seeded, so the same seed gives the same schedule. */
  readonly random: () => number;
  /** Stops injecting; faults in progress end at once (thaw, start). */
  readonly signal: AbortSignal;
  /**
   * Times the intervals and durations.
   * @default systemClock
   */
  readonly clock?: Clock;
  /** Called with every record as it happens. */
  readonly onRecord?: (record: FaultRecord) => void;
  /** The proxies network faults act through; required when the schedule has network faults. */
  readonly network?: NetworkFaultControl;
  /** The infrastructure infrastructure faults act on; required when the schedule has some. */
  readonly infra?: InfraFaultControl;
}

/** The infrastructure under a running system, as the nemesis drives it. */
export interface InfraFaultControl {
  /** The services `pg-kill` can act on: those whose environment names a PostgreSQL database. */
  readonly databaseServices: readonly string[];
  /**
   * Terminates every connection to the database(s) of `service`; resolves with what it did, for
   * the report (`3 connections to 127.0.0.1:5432/shop_order`).
   */
  killConnections(service: string): Promise<string>;
  /** The NATS server the run started and may restart; absent when it started none. */
  readonly nats?: Pick<OwnedNatsServer, 'running' | 'stop' | 'start'>;
  /** The network namespaces `partition` cuts off; absent when no instance runs in one. */
  readonly partitions?: Pick<NamespacePartitions, 'namespaces' | 'isCut' | 'cut' | 'reconnect'>;
}

/** The fault proxies in front of a system's instances, as the nemesis drives them. */
export interface NetworkFaultControl {
  /** The services that have proxies. */
  readonly services: readonly string[];
  /** Changes the faults of the proxies of `service` (of one instance, or all when `instance` is undefined). */
  set(service: string, instance: number | undefined, faults: Partial<ProxyFaults>): void;
  /** Resets every current connection through those proxies; returns how many. */
  resetConnections(service: string, instance: number | undefined): number;
}

/** States in which an instance has a process that can be killed, frozen or stopped. */
const RUNNING: readonly InstanceState[] = ['starting', 'ready', 'unready'];

/**
 * Runs the nemesis: every fault of the schedule on its own timeline — wait `every` ± jitter,
 * pick an instance (seeded), act through the supervisor; `freeze` and `stop` end after `for`.
 * Resolves with everything it did once `signal` aborts and the faults in progress have ended.
 * A target not in a state the action fits (crashed, already frozen) is recorded as `skipped`.
 * Network faults act on `network`'s proxies instead: set for `for` (or, without `every`, until
 * `signal` aborts) and then cleared, or, for a `reset` without `p`, the current connections reset.
 * Infrastructure faults act on `infra`: a `pg-kill` terminates a service's database connections
 * (the service chosen, seeded, among those with a database); a `nats-restart` stops the run's
 * NATS server and starts it again after `for` (at once when `signal` aborts meanwhile); a
 * `partition` cuts a network namespace off and reconnects it after `for` (at once likewise).
 */
export async function runNemesis(options: NemesisOptions): Promise<FaultRecord[]> {
  const { control, random, signal } = options;
  const clock = options.clock ?? systemClock;
  const started = clock.now();
  const records: FaultRecord[] = [];
  const record = (r: Omit<FaultRecord, 'atMs'>): void => {
    const full = { atMs: Math.round(clock.now() - started), ...r };
    records.push(full);
    options.onRecord?.(full);
  };
  const act = async (fault: FaultSpec, action: ServiceAction, target: InstanceStatus): Promise<boolean> => {
    const label = `${target.service}[${target.instance}]`;
    try {
      await control.act(action, target.service, { instance: target.instance });
      record({ fault: fault.text, action, target: label, outcome: 'applied' });
      return true;
    } catch (err) {
      record({
        fault: fault.text,
        action,
        target: label,
        outcome: 'failed',
        detail: err instanceof Error ? err.message : String(err),
      });
      return false;
    }
  };

  const network = options.network;
  if (network === undefined && options.faults.some(isNetworkFault))
    throw new Error('network faults need the fault proxies: pass `network` (runChaos starts them)');

  const networkTimeline = async (fault: NetworkFaultSpec, net: NetworkFaultControl): Promise<void> => {
    const off = Object.fromEntries(
      Object.keys(fault.proxy).map((k) => [k, NO_PROXY_FAULTS[k as keyof ProxyFaults]]),
    ) as Partial<ProxyFaults>;
    const choose = (): { service: string; instance: number | undefined; label: string } | undefined => {
      const t = fault.target;
      if (t.kind === 'service') {
        if (!net.services.includes(t.service)) return undefined;
        return {
          service: t.service,
          instance: t.instance,
          label: t.instance === undefined ? t.service : `${t.service}[${t.instance}]`,
        };
      }
      const service = net.services[Math.floor(random() * net.services.length)];
      return service === undefined ? undefined : { service, instance: undefined, label: service };
    };
    const apply = (
      target: NonNullable<ReturnType<typeof choose>>,
      action: FaultRecord['action'],
      change: () => string | undefined,
    ): boolean => {
      try {
        const detail = change();
        record({
          fault: fault.text,
          action,
          target: target.label,
          outcome: 'applied',
          ...(detail === undefined ? {} : { detail }),
        });
        return true;
      } catch (err) {
        const detail = err instanceof Error ? err.message : String(err);
        record({ fault: fault.text, action, target: target.label, outcome: 'failed', detail });
        return false;
      }
    };
    const hold = async (
      target: NonNullable<ReturnType<typeof choose>>,
      ms: number | undefined,
    ): Promise<void> => {
      if (
        !apply(target, fault.kind, () => {
          net.set(target.service, target.instance, fault.proxy);
          return undefined;
        })
      )
        return;
      if (ms === undefined) await aborted(signal);
      else await sleep(clock, ms, signal);
      apply(target, 'clear', () => {
        net.set(target.service, target.instance, off);
        return undefined;
      });
    };
    if (fault.everyMs === 0) {
      const target = choose();
      if (target !== undefined) await hold(target, undefined);
      return;
    }
    for (;;) {
      const interval = fault.everyMs + (random() * 2 - 1) * fault.jitterMs;
      if (!(await sleep(clock, interval, signal))) return;
      const target = choose();
      if (target === undefined) {
        record({
          fault: fault.text,
          action: fault.kind,
          target: '-',
          outcome: 'skipped',
          detail: 'no proxy fits the target',
        });
        continue;
      }
      if (fault.forMs === 0)
        apply(target, 'reset', () => {
          const n = net.resetConnections(target.service, target.instance);
          return `${n} connection${n === 1 ? '' : 's'}`;
        });
      else await hold(target, fault.forMs);
    }
  };

  const infra = options.infra;
  for (const fault of options.faults.filter(isInfraFault)) {
    if (infra === undefined)
      throw new Error(`${fault.kind} needs the system's infrastructure: pass \`infra\` (runChaos does)`);
    if (fault.kind === 'nats-restart' && infra.nats === undefined)
      throw new Error('nats-restart needs a NATS server the run started itself (runChaos: natsServer)');
    if (fault.kind === 'partition' && infra.partitions === undefined)
      throw new Error('partition needs instances in network namespaces (runChaos finds them in the plan)');
  }

  const infraTimeline = async (fault: InfraFaultSpec, control: InfraFaultControl): Promise<void> => {
    const failed = (action: InfraAction, target: string, err: unknown): void =>
      record({
        fault: fault.text,
        action,
        target,
        outcome: 'failed',
        detail: err instanceof Error ? err.message : String(err),
      });
    for (;;) {
      const interval = fault.everyMs + (random() * 2 - 1) * fault.jitterMs;
      if (!(await sleep(clock, interval, signal))) return;
      if (fault.kind === 'pg-kill') {
        const t = fault.target;
        const candidates =
          t.kind === 'service'
            ? control.databaseServices.filter((s) => s === t.service)
            : control.databaseServices;
        const service = candidates[Math.floor(random() * candidates.length)];
        if (service === undefined) {
          record({
            fault: fault.text,
            action: 'pg-kill',
            target: '-',
            outcome: 'skipped',
            detail: 'no service with a PostgreSQL database fits the target',
          });
          continue;
        }
        try {
          const detail = await control.killConnections(service);
          record({ fault: fault.text, action: 'pg-kill', target: service, outcome: 'applied', detail });
        } catch (err) {
          failed('pg-kill', service, err);
        }
        continue;
      }
      if (fault.kind === 'partition') {
        const partitions = control.partitions;
        if (partitions === undefined) return;
        const t = fault.target;
        const candidates = partitions.namespaces.filter(
          (n) => !partitions.isCut(n) && (t.kind !== 'netns' || t.netns === n),
        );
        const netns = candidates[Math.floor(random() * candidates.length)];
        if (netns === undefined) {
          record({
            fault: fault.text,
            action: 'cut',
            target: t.kind === 'netns' ? t.netns : '-',
            outcome: 'skipped',
            detail: 'no network namespace of the system fits the target that is not cut off already',
          });
          continue;
        }
        try {
          const detail = await partitions.cut(netns);
          record({ fault: fault.text, action: 'cut', target: netns, outcome: 'applied', detail });
        } catch (err) {
          failed('cut', netns, err);
          continue;
        }
        // Like a thaw, the reconnection comes even when the run is told to stop during the cut.
        await sleep(clock, fault.forMs, signal);
        try {
          const detail = await partitions.reconnect(netns);
          record({ fault: fault.text, action: 'reconnect', target: netns, outcome: 'applied', detail });
        } catch (err) {
          failed('reconnect', netns, err);
        }
        continue;
      }
      const nats = control.nats;
      if (nats === undefined) return;
      try {
        if (!(await nats.stop())) {
          record({
            fault: fault.text,
            action: 'nats-stop',
            target: 'nats',
            outcome: 'skipped',
            detail: 'the NATS server is already down',
          });
          continue;
        }
        record({ fault: fault.text, action: 'nats-stop', target: 'nats', outcome: 'applied' });
      } catch (err) {
        failed('nats-stop', 'nats', err);
        continue;
      }
      // Like a thaw, the start comes even when the run is told to stop during the downtime.
      await sleep(clock, fault.forMs, signal);
      try {
        const ms = await nats.start();
        record({
          fault: fault.text,
          action: 'nats-start',
          target: 'nats',
          outcome: 'applied',
          ...(ms === undefined ? {} : { detail: `accepting clients after ${ms} ms` }),
        });
      } catch (err) {
        failed('nats-start', 'nats', err);
      }
    }
  };

  const timeline = async (fault: FaultSpec): Promise<void> => {
    if (isNetworkFault(fault)) {
      if (network !== undefined) await networkTimeline(fault, network);
      return;
    }
    if (isInfraFault(fault)) {
      if (infra !== undefined) await infraTimeline(fault, infra);
      return;
    }
    for (;;) {
      const interval = fault.everyMs + (random() * 2 - 1) * fault.jitterMs;
      if (!(await sleep(clock, interval, signal))) return;
      const action: ServiceAction = fault.kind;
      const target = pickTarget(fault, control.status(), random);
      if (target === undefined) {
        record({
          fault: fault.text,
          action,
          target: '-',
          outcome: 'skipped',
          detail: 'no running instance fits the target',
        });
        continue;
      }
      if (!(await act(fault, action, target)) || fault.kind === 'kill') continue;
      await sleep(clock, fault.forMs, signal);
      await act(fault, fault.kind === 'freeze' ? 'thaw' : 'start', target);
    }
  };

  await Promise.all(options.faults.map(timeline));
  return records;
}

/** The instance a fault acts on this time, among those running; `undefined` when none fits. */
export function pickTarget(
  fault: Pick<ProcessFaultSpec, 'target'>,
  statuses: readonly InstanceStatus[],
  random: () => number,
): InstanceStatus | undefined {
  const candidates = statuses.filter(
    (s) =>
      RUNNING.includes(s.state) &&
      (fault.target.kind === 'random' ||
        (s.service === fault.target.service &&
          (fault.target.instance === undefined || s.instance === fault.target.instance))),
  );
  if (candidates.length === 0) return undefined;
  // Random picks a service first, then one of its instances: two instances of order must not
  // make order twice as likely a victim as payment.
  const services = [...new Set(candidates.map((c) => c.service))];
  const service = services[Math.floor(random() * services.length)];
  const instances = candidates.filter((c) => c.service === service);
  return instances[Math.floor(random() * instances.length)];
}

/**
 * Ends every fault: thaws frozen instances and starts stopped ones (and ones the supervisor gave
 * up on); crashed ones come back by themselves. Resolves once every instance is ready, or with
 * the instances that are not after `timeoutMs`.
 */
export async function healSystem(
  control: Pick<SystemControl, 'status' | 'act'>,
  options: {
    timeoutMs: number;
    signal?: AbortSignal;
    clock?: Clock;
    onRecord?: (record: FaultRecord) => void;
  },
): Promise<InstanceStatus[]> {
  const clock = options.clock ?? systemClock;
  const deadline = clock.now() + options.timeoutMs;
  for (;;) {
    const statuses = control.status();
    const notReady = statuses.filter((s) => s.state !== 'ready');
    if (notReady.length === 0 || clock.now() >= deadline || options.signal?.aborted === true) return notReady;
    for (const s of notReady) {
      const action: ServiceAction | undefined =
        s.state === 'frozen' ? 'thaw' : s.state === 'stopped' || s.gaveUp ? 'start' : undefined;
      if (action === undefined) continue;
      try {
        await control.act(action, s.service, { instance: s.instance });
        options.onRecord?.({
          atMs: 0,
          fault: 'heal',
          action,
          target: `${s.service}[${s.instance}]`,
          outcome: 'applied',
        });
      } catch {
        // The state changed under us (it was restarted meanwhile): look again.
      }
    }
    await sleep(clock, 200, options.signal);
  }
}

/** Waits `ms` on `clock`; resolves `false` at once when `signal` aborts (or has aborted). */
function sleep(clock: Clock, ms: number, signal: AbortSignal | undefined): Promise<boolean> {
  if (signal?.aborted === true) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onAbort = (): void => {
      clock.clearTimeout(timer);
      resolve(false);
    };
    const timer = clock.setTimeout(
      () => {
        signal?.removeEventListener('abort', onAbort);
        resolve(true);
      },
      Math.max(0, ms),
    );
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Resolves once `signal` aborts. */
function aborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}
