import type { ConsoleHost, ConsoleLoad, HostFaults, HostLoad } from '@flotilla/console';
import { isControlCommandError } from './errors.js';
import type { ProxyMesh } from './proxy-mesh.js';
import { type LoadProgress, runLoad } from './run-load.js';
import type { Supervisor } from './supervisor.js';
import type { System, SystemPlan } from './validate-system.js';

/** What {@link consoleHost} builds on (internal). */
export interface ConsoleHostOptions {
  readonly system: System;
  readonly plan: SystemPlan;
  readonly supervisor: Supervisor;
  readonly secrets: Readonly<Record<string, string>>;
  /** The fault proxies, when the system runs with them. */
  readonly mesh: () => ProxyMesh | undefined;
}

/** The supervisor as the console sees it: instances, actions, secrets, faults and load (internal). */
export function consoleHost(options: ConsoleHostOptions): ConsoleHost {
  const { system, plan, supervisor, secrets } = options;
  const gatewayUrl =
    system.gateway === undefined
      ? undefined
      : plan.services.find((s) => s.name === system.gateway)?.instances[0]?.url;
  const faults: HostFaults = {
    get services() {
      return options.mesh()?.services ?? [];
    },
    current(service) {
      const proxy = options.mesh()?.proxies[service]?.[0];
      if (proxy === undefined) throw new Error(`no fault proxy in front of ${service}`);
      const { latencyMs, jitterMs, bandwidthBytesPerSecond, resetProbability, blackhole, errorRate } =
        proxy.faults;
      return { latencyMs, jitterMs, bandwidthBytesPerSecond, resetProbability, blackhole, errorRate };
    },
    set(service, change) {
      const mesh = options.mesh();
      if (mesh === undefined) throw new Error('the system runs without fault proxies');
      mesh.set(
        service,
        undefined,
        Object.fromEntries(Object.entries(change).filter(([, v]) => v !== undefined)),
      );
    },
    clearAll() {
      options.mesh()?.clearAll();
    },
  };
  return {
    system: { name: system.name, profile: plan.profile ?? null },
    adminToken: secrets.FLOTILLA_ADMIN_TOKEN!,
    serviceKey: secrets.FLOTILLA_SERVICE_KEY,
    gateway: system.gateway,
    status: () => supervisor.status(),
    async act(action, service, instance) {
      try {
        return await supervisor.act(action, service, instance === undefined ? {} : { instance });
      } catch (err) {
        if (!isControlCommandError(err)) throw err;
        const status = err.reason === 'unknown-service' || err.reason === 'unknown-instance' ? 404 : 409;
        throw Object.assign(new Error(err.message), {
          status,
          code: err.reason.toUpperCase().replaceAll('-', '_'),
        });
      }
    },
    onEvent: (listener) => supervisor.onEvent((event) => listener(event)),
    get faults() {
      return options.mesh() === undefined ? undefined : faults;
    },
    load:
      system.load === undefined || gatewayUrl === undefined
        ? undefined
        : loadRunner(system, gatewayUrl, secrets),
  };
}

/** Runs the system's load scenario until stopped, restarting it when the concurrency changes. */
function loadRunner(system: System, gatewayUrl: string, secrets: Readonly<Record<string, string>>): HostLoad {
  const scenario = system.load!;
  let state: ConsoleLoad = {
    running: false,
    concurrency: 0,
    startedAt: null,
    completed: 0,
    failed: 0,
    outcomes: {},
  };
  /** The running load's latest progress (a live view of its counts). */
  let progress: LoadProgress | undefined;
  let current: { controller: AbortController; done: Promise<unknown> } | undefined;
  const stop = async (): Promise<void> => {
    const run = current;
    current = undefined;
    if (run === undefined) return;
    run.controller.abort();
    await run.done;
    state = { ...state, running: false };
  };
  return {
    start(concurrency) {
      const previous = current;
      const controller = new AbortController();
      previous?.controller.abort();
      state = { running: true, concurrency, startedAt: Date.now(), completed: 0, failed: 0, outcomes: {} };
      progress = undefined;
      const done = Promise.resolve(previous?.done)
        .then(() =>
          runLoad(scenario, {
            iterations: Number.MAX_SAFE_INTEGER,
            concurrency,
            gatewayUrl,
            secrets,
            signal: controller.signal,
            onProgress: (p) => {
              if (current?.controller === controller) progress = p;
            },
          }),
        )
        .catch(() => undefined)
        .finally(() => {
          if (current?.controller === controller) {
            current = undefined;
            state = { ...state, running: false };
          }
        });
      current = { controller, done };
    },
    stop,
    // Copied when asked (about once a second), not after every iteration.
    status: () =>
      progress === undefined
        ? state
        : { ...state, completed: progress.done, failed: progress.failed, outcomes: { ...progress.outcomes } },
  };
}
