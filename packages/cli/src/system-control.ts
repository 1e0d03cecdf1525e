import type { Disposable } from '@flotilla/resilience';
import type { InstanceStatus, SupervisorEvent } from './supervisor-events.js';

/** The operations the control API offers on a service; see {@link SystemControl}. */
export type ServiceAction = 'stop' | 'start' | 'restart' | 'kill' | 'freeze' | 'thaw';

/** Every {@link ServiceAction}, in the order help texts list them. */
export const SERVICE_ACTIONS: readonly ServiceAction[] = [
  'stop',
  'start',
  'restart',
  'kill',
  'freeze',
  'thaw',
];

/** Which instances of a service an action targets. */
export interface TargetOptions {
  /** One instance (0, 1, …); every instance of the service when omitted. */
  instance?: number;
}

/**
 * Controls a running system, in process; the control API serves the same operations over HTTP.
 * Each action resolves with the status of the instances it touched once it took effect:
 * `stop` once the processes exited, `start`/`restart` once they are ready (or crashed, or the
 * system's ready timeout passed), `kill` at once, `freeze`/`thaw` once paused / re-probed.
 * Unknown services or instances, and actions that do not fit the state (freeze a stopped
 * service), reject with a `ControlCommandError`.
 */
export interface SystemControl {
  /** The control API's base URL, `http://127.0.0.1:<port>`. */
  readonly url: string;
  /** The control API's port. */
  readonly port: number;
  /** The bearer token the control API requires (`FLOTILLA_ADMIN_TOKEN`). */
  readonly token: string;
  /** The status of every instance, in start order. */
  status(): InstanceStatus[];
  /** Runs `action` on a service (all its instances, or one). */
  act(action: ServiceAction, service: string, options?: TargetOptions): Promise<InstanceStatus[]>;
  /** Stops a service; it stays stopped (no automatic restart) until started again. */
  stop(service: string, options?: TargetOptions): Promise<InstanceStatus[]>;
  /** Starts a stopped or given-up service and waits until it is ready. */
  start(service: string, options?: TargetOptions): Promise<InstanceStatus[]>;
  /** Stops, then starts, a service. */
  restart(service: string, options?: TargetOptions): Promise<InstanceStatus[]>;
  /** Kills a service's processes with SIGKILL; the supervisor restarts them as after a crash. */
  kill(service: string, options?: TargetOptions): Promise<InstanceStatus[]>;
  /** Pauses a service's processes with SIGSTOP. */
  freeze(service: string, options?: TargetOptions): Promise<InstanceStatus[]>;
  /** Resumes frozen processes with SIGCONT. */
  thaw(service: string, options?: TargetOptions): Promise<InstanceStatus[]>;
  /** Calls `listener` with every supervisor event. */
  onEvent(listener: (event: SupervisorEvent) => void): Disposable;
  /** The supervisor's events as they happen, until `signal` aborts or the system stops. */
  events(options?: { signal?: AbortSignal }): AsyncIterable<SupervisorEvent>;
}
