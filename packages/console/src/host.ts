import type { Disposable } from '@flotilla/resilience';
import type { ConsoleFault, ConsoleLoad, InstanceState } from './contract.js';

/** One supervised instance, as the console's host reports it. */
export interface HostInstance {
  readonly service: string;
  readonly instance: number;
  readonly url: string;
  readonly pid: number | null;
  readonly state: InstanceState;
  readonly restarts: number;
  readonly uptimeMs: number | null;
  readonly critical: boolean;
}

/** The operations on a service the console offers (the supervisor's control actions). */
export type HostAction = 'stop' | 'start' | 'restart' | 'kill' | 'freeze' | 'thaw';

/** Network faults on the calls into a service, changed at run time. */
export interface HostFaults {
  /** The services with fault proxies in front of them. */
  readonly services: readonly string[];
  /** The faults in force on the proxies of `service` (its first instance's). */
  current(service: string): Omit<ConsoleFault, 'service'>;
  /** Changes the faults of every proxy of `service`; unset fields keep their value. */
  set(
    service: string,
    faults: { readonly [K in keyof Omit<ConsoleFault, 'service'>]?: ConsoleFault[K] | undefined },
  ): void;
  /** Ends every fault on every proxy. */
  clearAll(): void;
}

/** A load generator that runs the system's load scenario until stopped. */
export interface HostLoad {
  /** Starts (or re-starts with a new concurrency) the load. */
  start(concurrency: number): void;
  /** Stops it; iterations in flight are cancelled. */
  stop(): Promise<void>;
  status(): ConsoleLoad;
}

/**
 * What the console needs from the process that runs the system (the supervisor of `flotilla up`):
 * the instances and their states, the actions, the secrets to call services, and optionally
 * network faults and a load generator.
 */
export interface ConsoleHost {
  /** The system's name and profile. */
  readonly system: { readonly name: string; readonly profile: string | null };
  /** The admin token every `/console/api` request must carry. */
  readonly adminToken: string;
  /** The key that signs service tokens, to call services' operator routes; without it those are skipped. */
  readonly serviceKey: string | undefined;
  /** The name of the gateway service (its admin API is read for spans, upstreams and migrations). */
  readonly gateway: string | undefined;
  /** Every instance, in start order. */
  status(): readonly HostInstance[];
  /** Runs an action on a service (every instance, or one); rejects for unknown services or unfit states. */
  act(action: HostAction, service: string, instance: number | undefined): Promise<unknown>;
  /** Calls `listener` with every supervisor event (state changes, exits, restarts). */
  onEvent(listener: (event: { readonly type: string } & Record<string, unknown>) => void): Disposable;
  /** Network faults, when the system runs with fault proxies. */
  readonly faults?: HostFaults | undefined;
  /** The load generator, when the system has a load scenario and a gateway. */
  readonly load?: HostLoad | undefined;
}
