import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import type { TransportFromUrlOptions } from '@flotilla/events';
import { createTestDatabase, type TestDatabase } from '@flotilla/store/testing';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import {
  type EnvTemplate,
  freePorts,
  loadSystem,
  type RunningSystem,
  type ServiceDefinition,
  type ServiceOverride,
  type SystemDefinition,
  startSystem,
} from 'flotilla';

/** The JetStream stream the shop's services use (natsTransport's default; the shop does not change it). */
export const SHOP_STREAM = 'FLOTILLA_EVENTS';

/** Where the distributed profile's infrastructure is, and how many instances it runs. */
export interface DistributedSettings {
  /** A URL of the PostgreSQL server (any database on it); one fresh database per service is created. */
  readonly pgUrl: string;
  /** NATS server with JetStream. */
  readonly natsUrl: string;
  /**
   * Redis the gateways keep their rate limits in (`FLOTILLA_RATE_LIMIT_REDIS`), under a key
   * prefix of the run's own (`FLOTILLA_RATE_LIMIT_PREFIX`).
   * @default FLOTILLA_TEST_REDIS_URL or redis://127.0.0.1:6379
   */
  readonly redisUrl?: string;
  /**
   * `profile`: the instances the profile declares (two of gateway, order, inventory and
   * payment); `single`: one instance of every service, the profile's `instances` lists dropped.
   * @default 'profile'
   */
  readonly instances?: InstanceCount;
}

/** Which instances a started shop runs: those its definition and profile declare, or one per service. */
export type InstanceCount = 'profile' | 'single';

/** Per-process CPU profiling: every service runs under {@link profiledEntry}, writing into `dir/<label>/`. */
export interface ProfileSettings {
  /** The wrapper entry (bench/…/shop/profiled-service.js). */
  readonly wrapper: string;
  /** Directory that receives one folder per instance. */
  readonly dir: string;
}

/** Options of {@link startShop}. */
export interface StartShopOptions {
  /** The shop's system file. */
  readonly systemFile: string;
  /** Run the `distributed` profile on these servers; embedded (SQLite + embedded log) otherwise. */
  readonly distributed?: DistributedSettings;
  /** Wrap every service in the profiling entry. */
  readonly profile?: ProfileSettings;
}

/** One process of the running shop. */
export interface ShopProcess {
  /** `order` or `order[1]`. */
  readonly label: string;
  readonly service: string;
  /** 0, 1, … */
  readonly instance: number;
  readonly pid: number;
}

/** A shop started for one measurement, on free ports and in a data directory of its own. */
export interface BenchShop {
  /** The first gateway instance's URL. */
  readonly gatewayUrl: string;
  /** Every gateway instance's URL, in instance order (a client may use any of them). */
  readonly gatewayUrls: readonly string[];
  /** The event transport the services use: `embedded:<dataDir>/bus.db`, or NATS with the run's stream. */
  readonly transport: { readonly url: string; readonly options: TransportFromUrlOptions };
  readonly running: RunningSystem;
  /** Its service processes, in start order. */
  processes(): ShopProcess[];
  /** The last lines the services and the supervisor wrote, for error messages. */
  lastLines(): string;
  /** Stops every service and removes the data directory, databases and stream it created. */
  stop(): Promise<void>;
}

/** The compiled entry of a service: `src/x.ts` becomes `dist/x.js` (the benchmark measures the build). */
function builtEntry(entry: string, baseDir: string): string {
  const js = entry.replace(/^(\.\/)?src\/(.*)\.ts$/, 'dist/$2.js');
  const path = isAbsolute(js) ? js : resolve(baseDir, js);
  if (!existsSync(path))
    throw new Error(`${path} does not exist: build the shop first (npx tsc -b apps/shop)`);
  return path;
}

/**
 * Ports every planned instance of `definition` needs under `profile`, rewritten to free ones;
 * with `instances: 'single'`, every service gets one instance (the first of its list, if it has
 * one) on one free port.
 */
async function withFreePorts(
  definition: SystemDefinition,
  profile: string | undefined,
  instances: InstanceCount = 'profile',
): Promise<SystemDefinition> {
  const overrides = profile === undefined ? {} : (definition.profiles?.[profile]?.services ?? {});
  const listOf = (s: ServiceDefinition) => {
    const list = overrides[s.name]?.instances ?? s.instances;
    return instances === 'single' ? list?.slice(0, 1) : list;
  };
  const needed = definition.services.reduce((n, s) => n + (listOf(s)?.length ?? 1), 0);
  const ports = await freePorts(needed);
  const take = (): number => ports.shift() as number;
  const services = definition.services.map((s): ServiceDefinition => {
    const { port: _port, instances: _instances, ...rest } = s;
    const list = listOf(s);
    if (list === undefined) return { ...rest, port: take() };
    return { ...rest, instances: list.map((i) => ({ ...i, port: take() })) };
  });
  // The profile's own instance lists would bring the fixed ports back: they were folded in above.
  const profiles =
    profile === undefined || definition.profiles?.[profile] === undefined
      ? definition.profiles
      : {
          ...definition.profiles,
          [profile]: {
            ...definition.profiles[profile],
            services: Object.fromEntries(
              Object.entries(overrides).map(([name, o]) => {
                const { instances: _i, port: _p, ...rest } = o;
                return [name, rest satisfies ServiceOverride];
              }),
            ),
          },
        };
  return { ...definition, services, ...(profiles === undefined ? {} : { profiles }) };
}

/** The JetStream stream and subjects a distributed run uses. */
interface NatsNames {
  readonly stream: string;
  readonly subjectPrefix: string;
  /** Variables that give the services these names; empty when the shop uses its fixed ones. */
  readonly env: Readonly<Record<string, string>>;
}

/**
 * Whether the built shop reads `FLOTILLA_NATS_STREAM` / `FLOTILLA_NATS_SUBJECT_PREFIX` (its
 * platform runtime passes them to the NATS transport). Read from the build the benchmark runs,
 * since a shop that ignored them would put its events on the fixed stream while the benchmark
 * listened on another.
 */
function shopHonoursStreamVariables(systemFile: string): boolean {
  try {
    return readFileSync(join(dirname(systemFile), 'dist', 'platform', 'runtime.js'), 'utf8').includes(
      'FLOTILLA_NATS_STREAM',
    );
  } catch {
    return false;
  }
}

function natsNames(systemFile: string): NatsNames {
  if (!shopHonoursStreamVariables(systemFile))
    return { stream: SHOP_STREAM, subjectPrefix: 'flotilla.events', env: {} };
  const id = randomBytes(4).toString('hex');
  const stream = `BENCH_SHOP_${id}`;
  const subjectPrefix = `bench_shop.${id}`;
  return {
    stream,
    subjectPrefix,
    env: { FLOTILLA_NATS_STREAM: stream, FLOTILLA_NATS_SUBJECT_PREFIX: subjectPrefix },
  };
}

/**
 * Why the distributed profile cannot run on NATS at `url`, or `undefined` when it can: the server
 * must answer with JetStream, and — when the shop cannot be given a stream of its own — its
 * fixed stream must not exist (another distributed shop, running or stopped, would share its
 * events and consumer groups with the benchmark's).
 */
export async function natsProblem(url: string, systemFile: string): Promise<string | undefined> {
  try {
    const nc = await connect({ servers: url, timeout: 2000, maxReconnectAttempts: 0 });
    try {
      const jsm = await jetstreamManager(nc);
      await jsm.getAccountInfo();
      if (shopHonoursStreamVariables(systemFile)) return undefined;
      const existing = await jsm.streams.info(SHOP_STREAM).then(
        () => true,
        () => false,
      );
      if (existing)
        return `stream ${SHOP_STREAM} already exists on ${url}, and this build of the shop has no setting for another one: a run would share events and consumer groups with the distributed shop that owns it`;
      return undefined;
    } finally {
      await nc.close();
    }
  } catch (err) {
    return `NATS JetStream not reachable at ${url}: ${err instanceof Error ? err.message : String(err)}`;
  }
}

/** Throws unless `stream` exists: the services were given it and must have created it on start. */
async function expectStream(url: string, stream: string): Promise<void> {
  const nc = await connect({ servers: url, timeout: 2000, maxReconnectAttempts: 0 });
  try {
    const made = await (await jetstreamManager(nc)).streams.info(stream).then(
      () => true,
      () => false,
    );
    if (!made)
      throw new Error(
        `the shop's services did not create stream ${stream}: they ignore FLOTILLA_NATS_STREAM`,
      );
  } finally {
    await nc.close();
  }
}

async function deleteStream(url: string, stream: string): Promise<void> {
  const nc = await connect({ servers: url, timeout: 2000, maxReconnectAttempts: 0 });
  try {
    await (await jetstreamManager(nc)).streams.delete(stream).catch(() => false);
  } finally {
    await nc.close();
  }
}

/**
 * Starts the shop as `flotilla up` does (its system file, the supervisor, one process per
 * instance, services from apps/shop/dist), but on free ports, with the control API on a free
 * port, in a fresh temporary data directory and — for the distributed profile — on fresh
 * PostgreSQL databases, a JetStream stream of its own and rate-limit keys of its own in Redis,
 * with the profile's instances or one of each service. Never touches the fixed ports (8080,
 * 7100-7120) a running shop may use.
 */
export async function startShop(options: StartShopOptions): Promise<BenchShop> {
  const system = await loadSystem(options.systemFile);
  const profile = options.distributed === undefined ? undefined : 'distributed';
  const runId = randomBytes(4).toString('hex');
  const dataDir = mkdtempSync(join(tmpdir(), 'flotilla-bench-shop-'));
  const databases: TestDatabase[] = [];
  const tail: string[] = [];
  let nats: NatsNames | undefined;
  const cleanup = async (): Promise<void> => {
    for (const d of databases) await d.drop().catch(() => {});
    if (nats !== undefined && options.distributed !== undefined)
      await deleteStream(options.distributed.natsUrl, nats.stream).catch(() => {});
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    let definition = await withFreePorts(system.definition, profile, options.distributed?.instances);
    definition = {
      ...definition,
      dataDir,
      controlPort: 0,
      services: definition.services.map((s) => {
        const entry = builtEntry(s.entry, system.baseDir);
        if (options.profile === undefined) return { ...s, entry };
        const env: EnvTemplate = {
          ...s.env,
          BENCH_PROFILE_ENTRY: entry,
          // `${name}` and `${instance}` are expanded by the supervisor per instance.
          BENCH_PROFILE_DIR: `${options.profile.dir.replaceAll('$', () => '$$')}/\${name}-\${instance}`,
        };
        return { ...s, entry: options.profile.wrapper, env };
      }),
    };
    let transport: BenchShop['transport'] = { url: `embedded:${join(dataDir, 'bus.db')}`, options: {} };
    if (options.distributed !== undefined && profile !== undefined) {
      const { pgUrl, natsUrl } = options.distributed;
      const redisUrl =
        options.distributed.redisUrl ?? (process.env.FLOTILLA_TEST_REDIS_URL || 'redis://127.0.0.1:6379');
      nats = natsNames(options.systemFile);
      const base = definition.profiles?.[profile];
      if (base === undefined) throw new Error(`the shop has no "${profile}" profile`);
      const services: Record<string, ServiceOverride> = {};
      for (const [name, o] of Object.entries(base.services ?? {})) {
        const env: Record<string, string | number | boolean> = { ...o.env };
        for (const key of Object.keys(env))
          if (key === 'FLOTILLA_RATE_LIMIT_REDIS') env[key] = redisUrl;
          // Buckets of this run only: other shops on the same Redis keep theirs (keys expire on their own).
          else if (key === 'FLOTILLA_RATE_LIMIT_PREFIX') env[key] = `bench:shop:${runId}:rl:`;
          else if (key.startsWith('FLOTILLA_DATABASE_URL_')) {
            const db = await createTestDatabase({
              prefix: `bench_shop_${name.replace(/\W/g, '_')}`,
              url: pgUrl,
            });
            databases.push(db);
            env[key] = db.url;
          }
        services[name] = { ...o, env };
      }
      definition = {
        ...definition,
        profiles: {
          ...definition.profiles,
          [profile]: { ...base, env: { ...base.env, FLOTILLA_TRANSPORT: natsUrl, ...nats.env }, services },
        },
      };
      transport = {
        url: natsUrl,
        options: { nats: { stream: nats.stream, subjectPrefix: nats.subjectPrefix } },
      };
    }
    // The services inherit this process's environment minus anything that would point them
    // at another system's databases, transport or data.
    const env: Record<string, string | undefined> = {};
    for (const [key, value] of Object.entries(process.env))
      if (!key.startsWith('FLOTILLA_') && !key.startsWith('BENCH_PROFILE_') && key !== 'NODE_OPTIONS')
        env[key] = value;
    const running = await startSystem(definition, {
      baseDir: system.baseDir,
      ...(profile === undefined ? {} : { profile }),
      controlPort: 0,
      colour: false,
      pretty: false,
      env,
      write: (chunk) => {
        for (const line of chunk.split('\n')) if (line !== '') tail.push(line);
        if (tail.length > 200) tail.splice(0, tail.length - 200);
      },
    });
    let gateways: RunningSystem['services'] = [];
    try {
      if (nats !== undefined && options.distributed !== undefined && Object.keys(nats.env).length > 0)
        await expectStream(options.distributed.natsUrl, nats.stream);
      gateways = running.services
        .filter((s) => s.service === (system.gateway ?? 'gateway'))
        .sort((a, b) => a.instance - b.instance);
      if (gateways.length === 0) throw new Error('the shop has no gateway service');
    } catch (err) {
      await running.stop();
      throw err;
    }
    return {
      gatewayUrl: gateways[0]!.url,
      gatewayUrls: gateways.map((g) => g.url),
      transport,
      running,
      processes: () =>
        running.services.flatMap((s) =>
          s.pid === null
            ? []
            : [
                {
                  label:
                    running.plan.services.find((p) => p.name === s.service)!.instances.length > 1
                      ? `${s.service}[${s.instance}]`
                      : s.service,
                  service: s.service,
                  instance: s.instance,
                  pid: s.pid,
                },
              ],
        ),
      lastLines: () => tail.slice(-40).join('\n'),
      stop: async () => {
        try {
          await running.stop();
        } finally {
          await cleanup();
        }
      },
    };
  } catch (err) {
    await cleanup();
    if (tail.length > 0)
      process.stderr.write(`shop: last lines before the failure:\n${tail.slice(-40).join('\n')}\n`);
    throw err;
  }
}
