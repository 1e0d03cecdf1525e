import { type Clock, systemClock } from '@flotilla/resilience';
import type { FaultSpec } from './chaos-schedule.js';
import type { InstanceState, InstanceStatus } from './supervisor-events.js';
import type { ServiceAction, SystemControl } from './system-control.js';

/** One thing the nemesis did (or tried to do). */
export interface FaultRecord {
  /** When, in milliseconds since the nemesis started. */
  readonly atMs: number;
  /** The schedule entry it belongs to (`freeze:inventory@every=15s,for=3s`), or `heal`. */
  readonly fault: string;
  readonly action: ServiceAction;
  /** The instance, as `service[instance]`; `-` when no instance fitted. */
  readonly target: string;
  /** `applied`; `skipped` when no instance was in a state the action fits; `failed` when the supervisor refused. */
  readonly outcome: 'applied' | 'skipped' | 'failed';
  /** Why it was skipped or failed. */
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
}

/** States in which an instance has a process that can be killed, frozen or stopped. */
const RUNNING: readonly InstanceState[] = ['starting', 'ready', 'unready'];

/**
 * Runs the nemesis: every fault of the schedule on its own timeline — wait `every` ± jitter,
 * pick an instance (seeded), act through the supervisor; `freeze` and `stop` end after `for`.
 * Resolves with everything it did once `signal` aborts and the faults in progress have ended.
 * A target not in a state the action fits (crashed, already frozen) is recorded as `skipped`.
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

  const timeline = async (fault: FaultSpec): Promise<void> => {
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
  fault: FaultSpec,
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
