import type { LoadScenario } from './load-scenario.js';

/**
 * Environment variables for a service. Values may reference `${dataDir}` (the absolute data
 * directory), `${port}`, `${name}` (the service), `${instance}` (0, 1, …) and `${host}` (the
 * instance's address); `$$` is a literal `$`. Numbers and booleans are turned into strings.
 */
export type EnvTemplate = Readonly<Record<string, string | number | boolean>>;

/**
 * Where an instance runs: the address it binds and is reached at, and the Linux network
 * namespace of its process. Both default to the machine itself (`127.0.0.1`, the supervisor's
 * namespace); see "Several hosts on one machine" in docs/supervisor.md.
 */
export interface Placement {
  /**
   * The IPv4 address the instance binds (`FLOTILLA_HOST`) and is reached at: its URL, the
   * topology file and the readiness probes use it. It must be an address of the machine (or of
   * `netns`) that the supervisor's namespace reaches.
   * @default '127.0.0.1'
   */
  readonly host?: string;
  /**
   * A Linux network namespace (`ip netns add <name>`) to run the process in, through
   * `ip netns exec <name> node …`. The namespace must exist when the system starts, and the
   * supervisor must run as root on Linux; `host` must then be a non-loopback address of the
   * namespace.
   * @default undefined (the supervisor's own namespace)
   */
  readonly netns?: string;
}

/** One instance of a service that runs several. */
export interface InstanceDefinition extends Placement {
  /** Its fixed port on its host (127.0.0.1 by default), so its URL stays the same across restarts. */
  readonly port: number;
  /** Variables for this instance only (they win over the service's). */
  readonly env?: EnvTemplate;
}

/** Restart behaviour for crashed services. */
export interface RestartSettings {
  /**
   * Delay before the first restart after a crash, in milliseconds; it doubles with each further
   * crash.
   * @default 500
   */
  readonly initialDelayMs?: number;
  /**
   * Longest delay between restarts, in milliseconds.
   * @default 30000
   */
  readonly maxDelayMs?: number;
  /**
   * A process that stays up this long before crashing starts the backoff over, in milliseconds.
   * @default 30000
   */
  readonly resetAfterMs?: number;
  /**
   * Consecutive crashes before becoming ready after which the supervisor stops restarting the
   * service and reports it (the operator can start it again).
   * @default 5
   */
  readonly maxStartFailures?: number;
}

/**
 * A service of the system: one Node process per instance. Its `host` and `netns` apply to every
 * instance that does not give its own.
 */
export interface ServiceDefinition extends Placement {
  /** Lowercase name used in discovery, logs and commands (`order`, `payment`). */
  readonly name: string;
  /**
   * Its program, relative to the system file: a `.js`/`.mjs` file run with the current node, or a
   * `.ts` file run with `--import tsx --conditions=source`.
   */
  readonly entry: string;
  /** Its fixed port on its host (one instance). Give either `port` or `instances`. */
  readonly port?: number;
  /** Several instances behind client-side load balancing, each with its fixed port. */
  readonly instances?: readonly InstanceDefinition[];
  /** Extra environment variables. */
  readonly env?: EnvTemplate;
  /** Services that must be ready before this one starts; a cycle is an error. */
  readonly dependsOn?: readonly string[];
  /**
   * Whether `up` fails when this service does not become ready. A non-critical service that
   * fails is reported, and its dependents start anyway.
   * @default true
   */
  readonly critical?: boolean;
  /**
   * Whether the service runs at all (a profile can switch it on or off).
   * @default true
   */
  readonly enabled?: boolean;
}

/** What a profile changes in one service; `port`/`instances` replace both, `env` is merged. */
export type ServiceOverride = Partial<Omit<ServiceDefinition, 'name'>>;

/** A named variant of the system (`flotilla up --profile distributed`). */
export interface ProfileDefinition {
  /** Variables for every service; they win over the system's and the services' own. */
  readonly env?: EnvTemplate;
  /** Changes per service, keyed by service name. */
  readonly services?: Readonly<Record<string, ServiceOverride>>;
}

/** What `banner` receives once every service is ready. */
export interface BannerInfo {
  /** The system's name. */
  readonly system: string;
  /** The profile in use, if any. */
  readonly profile: string | undefined;
  /** The absolute data directory. */
  readonly dataDir: string;
  /** The control API's base URL. */
  readonly controlUrl: string;
  /** The web console's URL, with the admin token in its fragment; undefined when it is off. */
  readonly consoleUrl: string | undefined;
  /** Every service's instance URLs, by service name. */
  readonly urls: Readonly<Record<string, readonly string[]>>;
  /** The generated secrets (service key, admin token, …), by variable name. */
  readonly secrets: Readonly<Record<string, string>>;
}

/** Lines to print once everything is ready (demo credentials, where to point a browser). */
export type BannerFunction = (
  info: BannerInfo,
) => string | readonly string[] | Promise<string | readonly string[]>;

/**
 * A system: the services `flotilla up` runs, one process per instance. Write it as the default
 * export of a TypeScript or JavaScript module, or as JSON (without `banner` and `load`).
 *
 * @example
 * import type { SystemDefinition } from 'flotilla';
 *
 * export default {
 *   name: 'shop',
 *   secrets: ['SHOP_JWT_SECRET'],
 *   services: [
 *     { name: 'inventory', entry: 'src/inventory/main.ts', port: 7201, env: { DATABASE_URL: 'sqlite:${dataDir}/inventory.db' } },
 *     { name: 'order', entry: 'src/order/main.ts', port: 7202, dependsOn: ['inventory'] },
 *   ],
 *   profiles: { distributed: { services: { order: { instances: [{ port: 7202 }, { port: 7212 }] } } } },
 *   banner: ({ urls }) => [`shop: ${urls.order?.[0]}`],
 * } satisfies SystemDefinition;
 */
export interface SystemDefinition {
  /** The system's name, shown in messages and the control API. */
  readonly name: string;
  /** The services. */
  readonly services: readonly ServiceDefinition[];
  /**
   * Where services keep their data and the supervisor its secrets, topology and lock file;
   * relative to the system file.
   * @default '.flotilla/data'
   */
  readonly dataDir?: string;
  /**
   * Port of the control API on 127.0.0.1; 0 picks a free one (commands find it in the data dir).
   * @default 7100
   */
  readonly controlPort?: number;
  /** The service that fronts the system: `flotilla load` sends its traffic there by default. */
  readonly gateway?: string;
  /** Variables for every service. */
  readonly env?: EnvTemplate;
  /**
   * Names of secrets to generate once (32 random bytes, hex), keep in the data directory and pass
   * to every service. `FLOTILLA_SERVICE_KEY` and `FLOTILLA_ADMIN_TOKEN` are always generated.
   */
  readonly secrets?: readonly string[];
  /** Named variants, e.g. `distributed`. */
  readonly profiles?: Readonly<Record<string, ProfileDefinition>>;
  /**
   * How long `up` waits for every service to become ready, in milliseconds.
   * @default 60000
   */
  readonly readyTimeoutMs?: number;
  /**
   * How long a service may take to exit after SIGTERM before it gets SIGKILL, in milliseconds.
   * @default 15000
   */
  readonly stopTimeoutMs?: number;
  /** Restart backoff for crashed services. */
  readonly restart?: RestartSettings;
  /** Lines printed when everything is ready. */
  readonly banner?: BannerFunction;
  /** The scenario `flotilla load` runs (may also be the module's named export `load`). */
  readonly load?: LoadScenario;
}
