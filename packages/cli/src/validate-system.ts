import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { LIFELINE_ENV, serviceUrlVariable } from '@flotilla/service';
import { expandTemplate, TEMPLATE_KEYS, unknownPlaceholders } from './env-template.js';
import { SystemDefinitionError, type SystemProblem } from './errors.js';
import type { LoadScenario } from './load-scenario.js';
import { startOrder } from './start-order.js';
import type {
  BannerFunction,
  EnvTemplate,
  InstanceDefinition,
  RestartSettings,
  ServiceDefinition,
  ServiceOverride,
  SystemDefinition,
} from './system-definition.js';
import { SystemSchema, schemaProblems } from './system-schema.js';

/** One instance of a service as it will run. */
export interface PlannedInstance {
  /** The service's name. */
  readonly service: string;
  /** 0, 1, … */
  readonly index: number;
  readonly port: number;
  /** The IPv4 address it binds (`FLOTILLA_HOST`) and is reached at; `127.0.0.1` unless the system file gives `host`. */
  readonly host: string;
  /** The Linux network namespace its process runs in; `undefined`: the supervisor's own. */
  readonly netns: string | undefined;
  /** `http://<host>:<port>`. */
  readonly url: string;
  /** The variables from the system file, placeholders expanded (the supervisor adds its own). */
  readonly env: Readonly<Record<string, string>>;
}

/** A service as it will run under one profile. */
export interface PlannedService {
  readonly name: string;
  /** Absolute path of its program. */
  readonly entry: string;
  readonly critical: boolean;
  readonly dependsOn: readonly string[];
  readonly instances: readonly PlannedInstance[];
}

/** The services of a system under one profile, in start order (dependencies first). */
export interface SystemPlan {
  readonly profile: string | undefined;
  readonly services: readonly PlannedService[];
}

/** A validated system with defaults applied and paths made absolute; see {@link validateSystem}. */
export interface System {
  readonly name: string;
  /** The file it was loaded from, if any. */
  readonly file: string | undefined;
  /** The directory relative paths were resolved against. */
  readonly baseDir: string;
  /** Absolute data directory. */
  readonly dataDir: string;
  readonly controlPort: number;
  /** The service `flotilla load` targets by default. */
  readonly gateway: string | undefined;
  /** Names of the secrets to generate, `FLOTILLA_SERVICE_KEY` and `FLOTILLA_ADMIN_TOKEN` first. */
  readonly secrets: readonly string[];
  readonly readyTimeoutMs: number;
  readonly stopTimeoutMs: number;
  readonly restart: Readonly<Required<RestartSettings>>;
  /** The names of the profiles. */
  readonly profiles: readonly string[];
  readonly banner: BannerFunction | undefined;
  readonly load: LoadScenario | undefined;
  /** The definition as written. */
  readonly definition: SystemDefinition;
  /** The services under `profile` (the base system without one); throws for an unknown profile. */
  plan(profile?: string): SystemPlan;
}

/** Options of {@link validateSystem}. */
export interface ValidateSystemOptions {
  /**
   * Directory that `entry` and `dataDir` paths are relative to.
   * @default process.cwd()
   */
  baseDir?: string;
  /**
   * The file the definition came from, named in error messages.
   * @default undefined (messages say "system definition")
   */
  file?: string;
}

/** Variables the supervisor sets itself; a system file may not. */
const RESERVED_ENV = [
  'FLOTILLA_PORT',
  'PORT',
  'FLOTILLA_HOST',
  'FLOTILLA_TOPOLOGY',
  'FLOTILLA_INSTANCE',
  'FLOTILLA_DATA_DIR',
  'FLOTILLA_SYSTEM_NAME',
  LIFELINE_ENV,
];
const ALWAYS_SECRETS = ['FLOTILLA_SERVICE_KEY', 'FLOTILLA_ADMIN_TOKEN'];
const ENTRY_EXTENSION = /\.(?:[cm]?js|[cm]?ts)$/;
/** The address an instance without `host` binds. */
export const DEFAULT_HOST = '127.0.0.1';
const validated = new WeakSet<object>();
/** Where each planned instance's `host` and `netns` were given, for errors found at start. */
const placementKeys = new WeakMap<PlannedInstance, PlacementKeys>();

/** The keys of the system file that placed an instance (internal): `services[2].netns`, … */
export interface PlacementKeys {
  /** The key its `host` came from, or where to give one (the service's `host`) when it has the default. */
  readonly host: string;
  /** The key its `netns` came from (undefined when it has none). */
  readonly netns: string | undefined;
}

/** The keys that gave `instance` its host and network namespace (internal; for start-time checks). */
export function placementKeysOf(instance: PlannedInstance): PlacementKeys {
  return placementKeys.get(instance) ?? { host: `${instance.service}.host`, netns: undefined };
}

/** True for an address of the loopback network (127.0.0.0/8), which each network namespace has its own of. */
export function isLoopback(host: string): boolean {
  return host.startsWith('127.');
}

/** True when `value` came from {@link validateSystem} or `loadSystem`. */
export function isSystem(value: unknown): value is System {
  return typeof value === 'object' && value !== null && validated.has(value);
}

/**
 * Checks a system definition and every one of its profiles: the shape (zod), then what a schema
 * cannot say — unknown or disabled dependencies, dependency cycles, ports used twice on one host,
 * entries that do not exist, unknown `${…}` placeholders, variables the supervisor owns, instances
 * in a network namespace on a loopback address (or depending on a service only reachable there).
 * Whether the namespaces and addresses exist is checked when the system starts. Throws a
 * {@link SystemDefinitionError} naming every bad key.
 *
 * @example
 * const system = validateSystem({ name: 'demo', services: [{ name: 'api', entry: 'api.ts', port: 7101 }] });
 * system.plan().services[0]?.instances[0]?.url; // 'http://127.0.0.1:7101'
 */
export function validateSystem(input: unknown, options: ValidateSystemOptions = {}): System {
  const source = options.file === undefined ? 'system definition' : `system file ${options.file}`;
  const parsed = SystemSchema.safeParse(input);
  if (!parsed.success) throw new SystemDefinitionError(source, schemaProblems(input, parsed.error.issues));
  const def = input as SystemDefinition;
  const baseDir = resolve(options.baseDir ?? process.cwd());
  const dataDir = resolve(baseDir, def.dataDir ?? '.flotilla/data');
  const problems = new Problems();
  const names = def.services.map((s) => s.name);

  def.services.forEach((s, i) => {
    const first = names.indexOf(s.name);
    if (first !== i)
      problems.add(`services[${i}].name`, `duplicate service "${s.name}" (also services[${first}])`);
  });
  if (def.gateway !== undefined && !names.includes(def.gateway))
    problems.add('gateway', `unknown service "${def.gateway}" (services: ${names.join(', ')})`);

  const secrets = [...new Set([...ALWAYS_SECRETS, ...(def.secrets ?? [])])];
  (def.secrets ?? []).forEach((name, i) => {
    if (RESERVED_ENV.includes(name))
      problems.add(`secrets[${i}]`, `${name} is set by the supervisor and cannot be a secret`);
  });
  const reserved = new Set([...RESERVED_ENV, ...secrets, ...names.map(serviceUrlVariable)]);
  const checkEnv = (env: EnvTemplate | undefined, path: string): void => {
    for (const [key, value] of Object.entries(env ?? {})) {
      if (reserved.has(key))
        problems.add(
          `${path}.${key}`,
          secrets.includes(key)
            ? `${key} is a generated secret; the supervisor passes it to every service`
            : key.endsWith('_URL') && !RESERVED_ENV.includes(key)
              ? `${key} would override the topology file the supervisor writes for this service`
              : `${key} is set by the supervisor`,
        );
      for (const placeholder of unknownPlaceholders(String(value)))
        problems.add(
          `${path}.${key}`,
          `unknown placeholder \${${placeholder}} (known: ${TEMPLATE_KEYS.map((k) => `\${${k}}`).join(', ')})`,
        );
    }
  };
  checkEnv(def.env, 'env');
  def.services.forEach((s, i) => {
    checkEnv(s.env, `services[${i}].env`);
    s.instances?.forEach((inst, j) => {
      checkEnv(inst.env, `services[${i}].instances[${j}].env`);
    });
  });
  for (const [profile, p] of Object.entries(def.profiles ?? {})) {
    checkEnv(p.env, `profiles.${profile}.env`);
    for (const [service, o] of Object.entries(p.services ?? {})) {
      const path = `profiles.${profile}.services.${service}`;
      if (!names.includes(service))
        problems.add(path, `unknown service "${service}" (services: ${names.join(', ')})`);
      checkEnv(o.env, `${path}.env`);
      o.instances?.forEach((inst, j) => {
        checkEnv(inst.env, `${path}.instances[${j}].env`);
      });
    }
  }

  const controlPort = def.controlPort ?? 7100;
  const plans = new Map<string | undefined, SystemPlan>();
  for (const profile of [undefined, ...Object.keys(def.profiles ?? {})]) {
    const plan = buildPlan(def, profile, { baseDir, dataDir, controlPort, problems });
    if (plan !== undefined) plans.set(profile, plan);
  }
  if (problems.size > 0) throw new SystemDefinitionError(source, problems.list());

  const system: System = {
    name: def.name,
    file: options.file,
    baseDir,
    dataDir,
    controlPort,
    gateway: def.gateway,
    secrets,
    readyTimeoutMs: def.readyTimeoutMs ?? 60_000,
    stopTimeoutMs: def.stopTimeoutMs ?? 15_000,
    restart: {
      initialDelayMs: def.restart?.initialDelayMs ?? 500,
      maxDelayMs: def.restart?.maxDelayMs ?? 30_000,
      resetAfterMs: def.restart?.resetAfterMs ?? 30_000,
      maxStartFailures: def.restart?.maxStartFailures ?? 5,
    },
    profiles: Object.keys(def.profiles ?? {}),
    banner: def.banner,
    load: def.load,
    definition: def,
    plan(profile) {
      const plan = plans.get(profile);
      if (plan === undefined)
        throw new SystemDefinitionError(source, [
          {
            path: 'profiles',
            message: `no profile "${profile}"${
              system.profiles.length === 0
                ? ' (the system has none)'
                : ` (profiles: ${system.profiles.join(', ')})`
            }`,
          },
        ]);
      return plan;
    },
  };
  validated.add(system);
  return Object.freeze(system);
}

/** Problems keyed by path and message, so a fault shared by several profiles is reported once. */
class Problems {
  private readonly seen = new Map<string, SystemProblem>();

  get size(): number {
    return this.seen.size;
  }

  add(path: string, message: string): void {
    this.seen.set(`${path}\0${message}`, { path, message });
  }

  list(): SystemProblem[] {
    return [...this.seen.values()];
  }
}

interface PlanContext {
  readonly baseDir: string;
  readonly dataDir: string;
  readonly controlPort: number;
  readonly problems: Problems;
}

/** The services under one profile, or undefined (with problems added) when they do not fit together. */
function buildPlan(
  def: SystemDefinition,
  profileName: string | undefined,
  ctx: PlanContext,
): SystemPlan | undefined {
  const { problems } = ctx;
  const before = problems.size;
  const profile = profileName === undefined ? undefined : def.profiles?.[profileName];
  const where = profileName === undefined ? '' : ` (profile ${profileName})`;
  const services: (PlannedService & { readonly at: (key: string) => string })[] = [];
  const enabled = new Set<string>();

  def.services.forEach((base, i) => {
    const override: ServiceOverride = profile?.services?.[base.name] ?? {};
    const at = (key: string): string =>
      key in override ? `profiles.${profileName}.services.${base.name}.${key}` : `services[${i}].${key}`;
    const s: ServiceDefinition = { ...base, ...override, name: base.name };
    if ('port' in override || 'instances' in override) {
      // A profile that gives instances replaces a base port, and vice versa.
      if (!('port' in override)) delete (s as { port?: number }).port;
      if (!('instances' in override)) delete (s as { instances?: unknown }).instances;
    }
    if (s.enabled === false) return;
    enabled.add(s.name);
    const owner =
      'port' in override || 'instances' in override
        ? `profiles.${profileName}.services.${s.name}`
        : `services[${i}]`;
    if (s.port !== undefined && s.instances !== undefined)
      problems.add(owner, `give either port or instances, not both${where}`);
    if (s.port === undefined && s.instances === undefined)
      problems.add(owner, `needs a port or instances${where}`);

    const entry = resolve(ctx.baseDir, s.entry);
    if (!ENTRY_EXTENSION.test(entry))
      problems.add(
        at('entry'),
        `must be a .js, .mjs, .cjs, .ts, .mts or .cts file, got ${JSON.stringify(s.entry)}`,
      );
    else if (!existsSync(entry) || !statSync(entry).isFile())
      problems.add(at('entry'), `file not found: ${entry}`);

    const serviceEnv = { ...def.env, ...base.env, ...profile?.env, ...override.env };
    const ports: readonly InstanceDefinition[] =
      s.instances ?? (s.port === undefined ? [] : [{ port: s.port }]);
    const instances = ports.map((inst, index): PlannedInstance => {
      const own = (key: 'host' | 'netns'): string =>
        s.instances === undefined || inst[key] === undefined
          ? at(key)
          : `${at('instances')}[${index}].${key}`;
      const host = inst.host ?? s.host ?? DEFAULT_HOST;
      const netns = inst.netns ?? s.netns;
      const values = { dataDir: ctx.dataDir, port: inst.port, name: s.name, instance: index, host };
      const env: Record<string, string> = {};
      for (const [key, value] of Object.entries({ ...serviceEnv, ...inst.env }))
        env[key] = expandTemplate(String(value), values);
      const planned: PlannedInstance = {
        service: s.name,
        index,
        port: inst.port,
        host,
        netns,
        url: `http://${host}:${inst.port}`,
        env,
      };
      const keys = { host: own('host'), netns: netns === undefined ? undefined : own('netns') };
      placementKeys.set(planned, keys);
      if (netns !== undefined && isLoopback(host))
        problems.add(
          inst.host === undefined && s.host === undefined ? (keys.netns as string) : keys.host,
          `${label(s.name, index, ports.length)} runs in network namespace "${netns}" but on ${host}: a loopback address there is the namespace's own, which the supervisor cannot reach; give it a host address of the namespace${where}`,
        );
      return planned;
    });
    services.push({
      name: s.name,
      entry,
      critical: s.critical ?? true,
      dependsOn: [...new Set(s.dependsOn ?? [])],
      instances,
      at,
    });
  });

  const byName = new Map(services.map((s) => [s.name, s]));
  for (const s of services) {
    s.dependsOn.forEach((dep, k) => {
      if (!def.services.some((d) => d.name === dep))
        problems.add(
          `${s.at('dependsOn')}[${k}]`,
          `unknown service "${dep}" (services: ${def.services.map((d) => d.name).join(', ')})`,
        );
      else if (!enabled.has(dep)) problems.add(`${s.at('dependsOn')}[${k}]`, `"${dep}" is disabled${where}`);
      else {
        // A process in a namespace reaches the loopback of its own namespace, never another's.
        const caller = s.instances.find((i) => i.netns !== undefined);
        const callee = byName.get(dep)?.instances.find((i) => isLoopback(i.host));
        if (caller !== undefined && callee !== undefined)
          problems.add(
            `${s.at('dependsOn')}[${k}]`,
            `${label(s.name, caller.index, s.instances.length)} runs in network namespace "${caller.netns}" and cannot reach "${dep}" on ${callee.host}, the loopback of another namespace; give ${dep} a host address the namespace reaches${where}`,
          );
      }
    });
  }
  const ordered = startOrder(services);
  if (ordered.kind === 'cycle') {
    const first = services.find((s) => s.name === ordered.cycle[0]);
    problems.add(
      first === undefined ? 'services' : first.at('dependsOn'),
      `dependency cycle ${ordered.cycle.join(' -> ')}${where}`,
    );
  }

  // A port is taken per address and network namespace: two hosts may use the same one.
  const portOwners = new Map<string, string>();
  const socket = (netns: string | undefined, host: string, port: number): string =>
    `${netns ?? ''}\0${host}\0${port}`;
  if (ctx.controlPort !== 0)
    portOwners.set(socket(undefined, DEFAULT_HOST, ctx.controlPort), 'the control API (controlPort)');
  for (const s of services) {
    for (const inst of s.instances) {
      const key = socket(inst.netns, inst.host, inst.port);
      const owner = portOwners.get(key);
      if (owner !== undefined)
        problems.add(
          s.instances.length > 1 ? `${s.at('instances')}[${inst.index}].port` : s.at('port'),
          `port ${inst.port}${inst.host === DEFAULT_HOST && inst.netns === undefined ? '' : ` of ${inst.host}${inst.netns === undefined ? '' : ` in network namespace ${inst.netns}`}`} is already used by ${owner}${where}`,
        );
      else portOwners.set(key, label(s.name, inst.index, s.instances.length));
    }
  }

  if (problems.size > before || ordered.kind === 'cycle') return undefined;
  const planned = new Map(services.map(({ at: _at, ...s }) => [s.name, s]));
  return {
    profile: profileName,
    services: ordered.order.map((name) => planned.get(name)!),
  };
}

/** `order`, or `order[1]` for a service with several instances. */
function label(service: string, index: number, count: number): string {
  return count > 1 ? `${service}[${index}]` : service;
}
