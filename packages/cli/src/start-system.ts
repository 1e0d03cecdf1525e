import { type Console, createConsole } from '@flotilla/console';
import { type Clock, systemClock } from '@flotilla/resilience';
import { serviceUrlVariable } from '@flotilla/service';
import { colourFor } from './ansi.js';
import { consoleHost } from './console-host.js';
import { type ControlApiServer, startControlApi } from './control-api.js';
import { SystemStartError } from './errors.js';
import { eventStream } from './event-stream.js';
import { acquireLock } from './lock-file.js';
import { createLogPrinter } from './log-printer.js';
import { checkPlacement, isInstancePortFree, proxyListenHost } from './placement.js';
import { type ProxyMesh, startProxyMesh } from './proxy-mesh.js';
import { readinessProbe } from './readiness-probe.js';
import { loadOrCreateSecrets } from './secrets-file.js';
import { Supervisor } from './supervisor.js';
import type { InstanceStatus } from './supervisor-events.js';
import type { SystemControl } from './system-control.js';
import type { BannerInfo, SystemDefinition } from './system-definition.js';
import { writeTopology } from './topology-file.js';
import { isSystem, type System, type SystemPlan, validateSystem } from './validate-system.js';

/** Options of {@link startSystem}. */
export interface StartSystemOptions {
  /**
   * The profile to run (`distributed`).
   * @default the base system
   */
  profile?: string;
  /**
   * Directory relative paths of a definition object resolve against (a loaded system knows its own).
   * @default process.cwd()
   */
  baseDir?: string;
  /**
   * Port of the control API; 0 picks a free one.
   * @default the system's controlPort (7100)
   */
  controlPort?: number;
  /**
   * Receives the supervisor's output: prefixed service lines and its own messages.
   * @default writes to standard output
   */
  write?: (chunk: string) => void;
  /**
   * Colour prefixes and levels.
   * @default true when standard output is a terminal and NO_COLOR is unset
   */
  colour?: boolean;
  /**
   * Render services' pino JSON lines as short readable lines instead of passing them through.
   * @default true when standard output is a terminal
   */
  pretty?: boolean;
  /**
   * The environment services inherit (before the system's variables and the supervisor's own).
   * @default process.env
   */
  env?: Readonly<Record<string, string | undefined>>;
  /**
   * Drives restart backoff, its reset window, uptimes, the ready timeout and the stop grace period.
   * @default systemClock
   */
  clock?: Clock;
  /**
   * Time between readiness probes of a running instance, in milliseconds.
   * @default 1000
   */
  probeIntervalMs?: number;
  /** Cancels start-up: what was started is stopped and the call rejects with a `SystemStartError` (`aborted`). */
  signal?: AbortSignal;
  /**
   * Serve the web console under `/console/` on the control API's port.
   * @default true
   */
  console?: boolean;
  /**
   * Put a fault-injecting proxy in front of every instance once the system is ready, so the
   * console can add latency, errors, resets, blackholes and bandwidth limits to the calls into a
   * service. Each internal call then crosses one more local hop. The proxies listen on
   * 127.0.0.1, or, when instances run in network namespaces, on the supervisor's address on
   * their network (which every instance reaches).
   * @default false
   */
  faultProxies?: boolean;
}

/** A running system; see {@link startSystem}. */
export interface RunningSystem {
  readonly system: System;
  readonly plan: SystemPlan;
  /** The absolute data directory. */
  readonly dataDir: string;
  /** The topology file every service watches (`FLOTILLA_TOPOLOGY`). */
  readonly topologyFile: string;
  /** The generated secrets, by variable name. */
  readonly secrets: Readonly<Record<string, string>>;
  /** The status of every instance, in start order (a fresh snapshot on each read). */
  readonly services: InstanceStatus[];
  /** In-process control, and the control API's address and token. */
  readonly control: SystemControl;
  /** The lines of the system's banner (empty without one). */
  readonly banner: readonly string[];
  /** Non-critical services that did not come up, one message each. */
  readonly warnings: readonly string[];
  /** Settles once the system has stopped. */
  readonly stopped: Promise<void>;
  /** Stops every service in reverse dependency order (SIGTERM, SIGKILL after the grace period), then the control API. */
  stop(): Promise<void>;
}

/**
 * Runs a system: checks that every instance can run where it is placed (its `host` and `netns`),
 * takes the data directory's lock, loads or generates the secrets, checks every port, writes the
 * topology file, opens the control API, then starts each service as its own process (in its
 * network namespace, if it has one) once its dependencies are ready, and resolves when all are
 * ready. A critical service that does not become ready (or crashes repeatedly) stops everything
 * and rejects with a {@link SystemStartError} naming it, with its last lines of output; an
 * instance that cannot run where it is placed is a `SystemDefinitionError` naming its key.
 *
 * @example
 * const running = await startSystem(await loadSystem('flotilla.system.ts'), { profile: 'distributed' });
 * console.log(running.services.map((s) => `${s.service}[${s.instance}] ${s.url} ${s.state}`));
 * await running.control.kill('payment'); // restarted with backoff
 * await running.stop();
 */
export async function startSystem(
  input: System | SystemDefinition,
  options: StartSystemOptions = {},
): Promise<RunningSystem> {
  const system = isSystem(input)
    ? input
    : validateSystem(input, options.baseDir === undefined ? {} : { baseDir: options.baseDir });
  const plan = system.plan(options.profile);
  const tools = await checkPlacement(system, plan);
  const proxyHost = options.faultProxies === true ? proxyListenHost(system, plan) : undefined;
  const clock = options.clock ?? systemClock;
  const baseEnv = options.env ?? process.env;
  const printer = createLogPrinter({
    write: options.write ?? ((chunk) => process.stdout.write(chunk)),
    colour: options.colour ?? colourFor(process.stdout),
    pretty: options.pretty ?? process.stdout.isTTY === true,
    labels: plan.services.flatMap((s) =>
      s.instances.map((i) => (s.instances.length > 1 ? `${s.name}[${i.index}]` : s.name)),
    ),
  });
  const lock = await acquireLock(system.dataDir, {
    system: system.name,
    profile: plan.profile ?? null,
    controlPort: 0,
    startedAt: new Date().toISOString(),
    children: [],
  });
  const probe = readinessProbe();
  let supervisor: Supervisor | undefined;
  let api: ControlApiServer | undefined;
  let webConsole: Console | undefined;
  let mesh: ProxyMesh | undefined;
  const killOnExit = (): void => supervisor?.killAll();
  try {
    const secrets = loadOrCreateSecrets(system.dataDir, system.secrets);
    for (const service of plan.services)
      for (const inst of service.instances)
        if (!(await isInstancePortFree(inst, tools.ip)))
          throw new SystemStartError(
            `port ${inst.port} of service "${service.name}"${service.instances.length > 1 ? ` (instance ${inst.index})` : ''} is already in use on ${inst.host}${inst.netns === undefined ? '' : ` in network namespace ${inst.netns}`}; stop what holds it (${inst.netns === undefined ? `lsof -i :${inst.port}` : `ip netns exec ${inst.netns} ss -ltnp`}) or change the port in the system file`,
            service.name,
            inst.index,
            'port-in-use',
            [],
          );
    const topologyFile = writeTopology(system.dataDir, plan);
    const ownUrlVariables = new Set(plan.services.map((s) => serviceUrlVariable(s.name)));
    const inherited: Record<string, string> = {};
    // A stray FLOTILLA_<SERVICE>_URL would win over the topology file and bypass the instances.
    for (const [key, value] of Object.entries(baseEnv))
      if (value !== undefined && !ownUrlVariables.has(key) && key !== 'FLOTILLA_SYSTEM')
        inherited[key] = value;
    const sup = new Supervisor({
      system,
      plan,
      clock,
      printer,
      probe,
      probeIntervalMs: options.probeIntervalMs ?? 1_000,
      readyTimeoutMs: system.readyTimeoutMs,
      ip: tools.ip,
      envOf: (_service, inst) => ({
        ...inherited,
        FLOTILLA_LOG_PRETTY: 'false',
        ...inst.env,
        ...secrets,
        FLOTILLA_PORT: String(inst.port),
        FLOTILLA_HOST: inst.host,
        FLOTILLA_TOPOLOGY: topologyFile,
        FLOTILLA_INSTANCE: String(inst.index),
        FLOTILLA_DATA_DIR: system.dataDir,
        FLOTILLA_SYSTEM_NAME: system.name,
      }),
      nodeArgsOf: (entry) =>
        /\.[cm]?ts$/.test(entry) ? ['--import', tsxSpecifier(), '--conditions=source'] : [],
      onProcessChange: () => {
        try {
          lock.update({ children: supervisor?.children() ?? [] });
        } catch (err) {
          // The lock only helps clean up after a crash of the supervisor; losing it must not stop the system.
          printer.system(`cannot update ${lock.file}: ${(err as Error).message}`, 'warn');
        }
      },
    });
    supervisor = sup;
    process.on('exit', killOnExit);
    const token = secrets.FLOTILLA_ADMIN_TOKEN!;
    if (options.console !== false)
      webConsole = createConsole({
        host: consoleHost({ system, plan, supervisor: sup, secrets, mesh: () => mesh }),
      });
    api = await startControlApi({
      ...(webConsole === undefined ? {} : { console: webConsole }),
      port: options.controlPort ?? system.controlPort,
      token,
      system: { name: system.name, profile: plan.profile ?? null },
      status: () => sup.status(),
      act: (action, service, target) => sup.act(action, service, target),
      onEvent: (listener) => sup.onEvent(listener),
    });
    lock.update({ controlPort: api.port });
    const control: SystemControl = {
      url: api.url,
      port: api.port,
      token,
      status: () => sup.status(),
      act: (action, service, target) => sup.act(action, service, target),
      stop: (service, target) => sup.act('stop', service, target),
      start: (service, target) => sup.act('start', service, target),
      restart: (service, target) => sup.act('restart', service, target),
      kill: (service, target) => sup.act('kill', service, target),
      freeze: (service, target) => sup.act('freeze', service, target),
      thaw: (service, target) => sup.act('thaw', service, target),
      onEvent: (listener) => sup.onEvent(listener),
      events: (eventOptions = {}) =>
        eventStream((listener) => sup.onEvent(listener), {
          ...(eventOptions.signal === undefined ? {} : { signal: eventOptions.signal }),
          isLast: (e) => e.type === 'system' && e.phase === 'stopped',
        }),
    };
    printer.system(
      `system ${system.name}${plan.profile === undefined ? '' : ` (profile ${plan.profile})`}: data in ${system.dataDir}, control API at ${api.url}`,
    );
    const warnings = await sup.startAll(options.signal);
    if (options.faultProxies === true) {
      // Services re-read the topology file: from now on their calls to one another cross the proxies.
      mesh = await startProxyMesh({
        plan,
        topologyFile,
        seed: Math.floor(Math.random() * 2 ** 32),
        ...(proxyHost === undefined ? {} : { host: proxyHost }),
      });
      printer.system(`fault proxies in front of every instance (the console's Chaos page sets their faults)`);
    }
    const banner = await renderBanner(system, {
      system: system.name,
      profile: plan.profile,
      dataDir: system.dataDir,
      controlUrl: api.url,
      consoleUrl: webConsole === undefined ? undefined : `${api.url}/console/#token=${token}`,
      urls: Object.fromEntries(plan.services.map((s) => [s.name, s.instances.map((i) => i.url)])),
      secrets,
    });
    const controlApi = api;
    let stopping: Promise<void> | undefined;
    let markStopped!: () => void;
    const stopped = new Promise<void>((resolve) => {
      markStopped = resolve;
    });
    return {
      system,
      plan,
      dataDir: system.dataDir,
      topologyFile,
      secrets,
      get services() {
        return sup.status();
      },
      control,
      banner,
      warnings,
      stopped,
      stop() {
        stopping ??= (async () => {
          try {
            await sup.stopAll();
            printer.system('all services stopped');
          } finally {
            await webConsole?.close();
            await controlApi.close();
            await mesh?.close();
            await probe.close();
            process.off('exit', killOnExit);
            lock.release();
            markStopped();
          }
        })();
        return stopping;
      },
    };
  } catch (err) {
    await supervisor?.stopAll();
    await webConsole?.close();
    await api?.close();
    await mesh?.close();
    await probe.close();
    process.off('exit', killOnExit);
    lock.release();
    throw err;
  }
}

/** The banner's lines; a failing banner is reported in place of its lines, never fatal. */
async function renderBanner(system: System, info: BannerInfo): Promise<readonly string[]> {
  if (system.banner === undefined) return [];
  try {
    const out = await system.banner(info);
    return (typeof out === 'string' ? [out] : out).flatMap((l) => l.split('\n'));
  } catch (err) {
    return [`(the banner of ${system.name} failed: ${err instanceof Error ? err.message : String(err)})`];
  }
}

let tsx: string | undefined;

/**
 * The tsx loader for TypeScript entries, resolved from this package so a system outside the
 * repository still finds it; plain `tsx` (resolved from the entry's directory) otherwise.
 */
function tsxSpecifier(): string {
  if (tsx !== undefined) return tsx;
  try {
    tsx = import.meta.resolve('tsx');
  } catch {
    tsx = 'tsx';
  }
  return tsx;
}
