/**
 * The state of one supervised instance:
 * - `starting`: its process runs and has not answered `/health/ready` with 200 yet;
 * - `ready`: `/health/ready` answers 200;
 * - `unready`: it was ready, and `/health/ready` now fails (a dependency is down, it drains);
 * - `crashed`: its process exited on its own; a restart is scheduled unless it gave up;
 * - `stopped`: not running, because the operator or the system stopped it (not restarted);
 * - `frozen`: its process is paused with SIGSTOP until thawed.
 */
export type InstanceState = 'starting' | 'ready' | 'unready' | 'crashed' | 'stopped' | 'frozen';

/** A snapshot of one supervised instance. */
export interface InstanceStatus {
  readonly service: string;
  /** 0, 1, … */
  readonly instance: number;
  readonly port: number;
  readonly url: string;
  /** Its process id while a process runs. */
  readonly pid: number | null;
  readonly state: InstanceState;
  /** How many times its process was started again (automatically or by the operator). */
  readonly restarts: number;
  /** How long the current process has run, in milliseconds. */
  readonly uptimeMs: number | null;
  /** Whether `up` fails without it. */
  readonly critical: boolean;
  /** How the last process ended. */
  readonly lastExit: { readonly code: number | null; readonly signal: string | null } | null;
  /** True when it crashed repeatedly before becoming ready and is no longer restarted. */
  readonly gaveUp: boolean;
}

/** What the supervisor reports as it works (the control API streams these at `/events`). */
export type SupervisorEvent =
  | {
      /** An instance changed state. */
      readonly type: 'state';
      readonly time: string;
      readonly service: string;
      readonly instance: number;
      readonly state: InstanceState;
      readonly previous: InstanceState;
      readonly pid: number | null;
      readonly restarts: number;
    }
  | {
      /** An instance's process exited; `expected` when it was asked to stop. */
      readonly type: 'exit';
      readonly time: string;
      readonly service: string;
      readonly instance: number;
      readonly pid: number | null;
      readonly code: number | null;
      readonly signal: string | null;
      readonly expected: boolean;
    }
  | {
      /** A crashed instance will be started again after `delayMs`. */
      readonly type: 'restart-scheduled';
      readonly time: string;
      readonly service: string;
      readonly instance: number;
      readonly delayMs: number;
      /** Consecutive crashes so far. */
      readonly crashes: number;
    }
  | {
      /** An instance crashed `startFailures` times before becoming ready; it is not restarted. */
      readonly type: 'gave-up';
      readonly time: string;
      readonly service: string;
      readonly instance: number;
      readonly startFailures: number;
    }
  | {
      /** The system as a whole changed phase. */
      readonly type: 'system';
      readonly time: string;
      readonly phase: 'starting' | 'ready' | 'stopping' | 'stopped';
    };
