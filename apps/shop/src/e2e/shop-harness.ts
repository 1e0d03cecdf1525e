// The harness of the shop's end-to-end tests (not a test file itself): the whole shop of
// flotilla.system.ts started through the supervisor (`loadSystem` + `startSystem`), as
// `npm start` runs it, but on free ports, with a fresh data directory, services run from src/,
// and its output kept for failure messages instead of printed. Two modes:
// - `embedded`: SQLite files and the embedded event log in the temporary data directory;
// - `distributed`: the system file's `distributed` profile — two instances of gateway, order,
//   inventory and payment, a PostgreSQL database per service (named for this run; the services
//   create them, as they do under `flotilla up --profile distributed`), the events on NATS
//   JetStream in a stream and subjects of this run's own, and the gateways' rate limits in Redis
//   under keys of this run's own.
// Requests go to the public gateway only, as a customer would, plus the supervisor for
// stopping and starting services.
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect as connectTcp } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { privateStream, requireNats, testNatsUrl } from '@flotilla/events/testing';
import { requirePg, skipUnlessCi, testPgUrl } from '@flotilla/store/testing';
import {
  type EnvTemplate,
  freePorts,
  type InstanceDefinition,
  loadSystem,
  type ProfileDefinition,
  type RunningSystem,
  type ServiceDefinition,
  type ServiceOverride,
  type SystemDefinition,
  SystemStartError,
  startSystem,
  validateSystem,
} from 'flotilla';
import pg from 'pg';
import type { z } from 'zod';
import type { ReservationList } from '../contracts/inventory-api.js';
import type { OrderView } from '../contracts/order-api.js';
import type { PaymentList } from '../contracts/payment-api.js';
import type { ShipmentPage } from '../contracts/shipping-api.js';
import { demoCustomers } from '../seed/index.js';

const here = dirname(fileURLToPath(import.meta.url));
/** The system file the tests start, as `npm start` does. */
export const SYSTEM_FILE = resolve(here, '../../flotilla.system.ts');
const SOURCE_DIR = resolve(here, '..');

/** How the shop runs: one machine's files, or PostgreSQL + NATS with several instances. */
export type ShopMode = 'embedded' | 'distributed';

/** Options of {@link startShop}. */
export interface StartShopOptions {
  /** `embedded` (the base system) or `distributed` (the system file's `distributed` profile). */
  readonly mode: ShopMode;
  /** Variables for every service, over the system file's (e.g. `ORDER_PAYMENT_RETRY_ATTEMPTS`). */
  readonly env?: Readonly<Record<string, string>>;
  /**
   * The services' log level; everything they print is kept for failure messages.
   * @default 'info'
   */
  readonly logLevel?: string;
  /** Put fault proxies in front of every instance (`flotilla up --fault-proxies`). @default false */
  readonly faultProxies?: boolean;
}

/** A response of the gateway: status, headers and the body, parsed when it is JSON. */
export interface GatewayResponse<T = unknown> {
  readonly status: number;
  readonly headers: Headers;
  readonly body: T;
  /** The body as received. */
  readonly text: string;
}

/** A part of the order view that may be down. */
export type Part<T> = T | 'unavailable';

/** `GET /api/v2/orders/:id` at the gateway: the order and what the other services know of it. */
export interface OrderAggregate {
  readonly order: OrderView;
  readonly payment: Part<z.infer<typeof PaymentList>>;
  readonly reservation: Part<z.infer<typeof ReservationList>>;
  readonly shipment: Part<z.infer<typeof ShipmentPage>>;
  readonly parts: Readonly<Record<string, { readonly status: string; readonly code?: string }>>;
}

/** A line of an order. */
export interface OrderItem {
  readonly sku: string;
  readonly quantity: number;
}

/** A started shop; {@link Shop.close} stops it and removes everything it made. */
export interface Shop {
  readonly mode: ShopMode;
  /** The supervisor's handle on the system. */
  readonly running: RunningSystem;
  /** The public gateway, `http://127.0.0.1:<port>`. */
  readonly gatewayUrl: string;
  /**
   * Distributed: the database URL of each service, by the `FLOTILLA_DATABASE_URL_<SERVICE>`
   * suffix (`ORDER`, …); the services created them. Embedded: empty.
   */
  readonly databases: Readonly<Record<string, string>>;
  /** The instance URLs of a service. */
  urlsOf(service: string): readonly string[];
  /** The last `lines` lines the supervisor and the services printed (for assertion messages). */
  output(lines?: number): string;
  /** A request to the gateway. `body` is sent as JSON unless it is a string or a Buffer. */
  request<T = unknown>(
    method: string,
    path: string,
    options?: { token?: string; body?: unknown; headers?: Record<string, string> },
  ): Promise<GatewayResponse<T>>;
  /** Logs a customer in and returns the bearer token. */
  login(email: string, password: string): Promise<string>;
  /** Places an order (202 expected) and returns its id. */
  placeOrder(token: string, items: readonly OrderItem[], idempotencyKey?: string): Promise<string>;
  /** Polls the order view until `predicate` holds, and returns that view; fails after `deadlineMs`. */
  waitForOrder(
    token: string,
    id: string,
    predicate: (view: OrderAggregate) => boolean,
    deadlineMs?: number,
  ): Promise<OrderAggregate>;
  /** `GET /api/v2/inventory/:sku` → what can be sold now. */
  available(sku: string): Promise<number>;
  /** Stops every instance of a service (through the supervisor; it stays stopped). */
  stopService(service: string): Promise<void>;
  /** Starts a stopped service again and resolves once it is ready. */
  startService(service: string): Promise<void>;
  /** Stops the system and removes its data directory (and, distributed, its databases and stream). */
  close(): Promise<void>;
}

/** The email and (public, demo) password of a demo customer of the seed. */
export function demoLogin(email: string): { readonly email: string; readonly password: string } {
  const customer = demoCustomers.find((c) => c.email === email);
  if (customer === undefined) throw new Error(`no demo customer ${email} in the seed`);
  return { email, password: customer.password };
}

/** Redis of the distributed tests: `FLOTILLA_TEST_REDIS_URL`, else the machine's default. */
export function testRedisUrl(): string {
  return process.env.FLOTILLA_TEST_REDIS_URL || 'redis://127.0.0.1:6379';
}

/** Why Redis at `url` does not answer a PING within 2 s, or `undefined` when it does. */
async function redisProblem(url: string): Promise<string | undefined> {
  const { hostname, port } = new URL(url);
  return new Promise((done) => {
    const socket = connectTcp({ host: hostname, port: Number(port || 6379) });
    let reply = '';
    const finish = (problem: string | undefined): void => {
      socket.destroy();
      done(problem);
    };
    socket.setTimeout(2_000, () => finish(`Redis at ${url} did not answer within 2 s`));
    socket.on('error', (err) => finish(`Redis not reachable at ${url}: ${err.message}`));
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      reply += chunk.toString('latin1');
      if (reply.includes('\r\n'))
        finish(reply.startsWith('+PONG') ? undefined : `Redis at ${url} answered ${reply.trim()}`);
    });
  });
}

/**
 * Why the distributed mode cannot run here (PostgreSQL, NATS JetStream or Redis unreachable),
 * for a suite's `skip`; `undefined` when it can. Throws instead when `CI` is set: CI never
 * passes by skipping.
 */
export async function distributedUnavailable(): Promise<string | undefined> {
  const pgReason = (await requirePg()).skip;
  const natsReason = await requireNats();
  const redisReason = skipUnlessCi(await redisProblem(testRedisUrl()));
  const reasons = [pgReason || undefined, natsReason, redisReason || undefined].filter(
    (r): r is string => r !== undefined,
  );
  if (reasons.length === 0) return undefined;
  const reason = `distributed shop tests skipped: ${reasons.join('; ')}`;
  console.warn(reason);
  return reason;
}

/**
 * Asserts that `res` is a client error in the standard shape — a 4xx with
 * `{ error: { code, message, retryable } }` and nothing that looks like a stack trace — and, when
 * given, of the expected status and code.
 */
export function assertClientError(
  res: GatewayResponse,
  expected: { status?: number; code?: string } = {},
  what = '',
): void {
  const label = `${what} → HTTP ${res.status} ${res.text.slice(0, 500)}`;
  assert.ok(res.status >= 400 && res.status < 500, `expected a 4xx: ${label}`);
  if (expected.status !== undefined) assert.equal(res.status, expected.status, label);
  const error = (res.body as { error?: Record<string, unknown> } | null)?.error;
  assert.ok(typeof error === 'object' && error !== null, `expected { error: … }: ${label}`);
  assert.equal(typeof error.code, 'string', label);
  assert.ok((error.code as string).length > 0, label);
  assert.equal(typeof error.message, 'string', label);
  assert.ok((error.message as string).length > 0, label);
  assert.equal(typeof error.retryable, 'boolean', label);
  if (expected.code !== undefined) assert.equal(error.code, expected.code, label);
  assert.doesNotMatch(
    res.text,
    /"stack"|\bat [^\s]+ \(|\.ts:\d+:\d+|node:internal/,
    `a stack trace leaked: ${label}`,
  );
}

/**
 * The value of a Prometheus sample in `text` (the `/metrics` exposition format) whose labels
 * include `labels`; `undefined` when there is none.
 */
export function metricValue(
  text: string,
  name: string,
  labels: Readonly<Record<string, string>> = {},
): number | undefined {
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (match === null || match[1] !== name) continue;
    const found = new Map(
      [...(match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].map((m) => [
        m[1],
        m[2],
      ]),
    );
    if (Object.entries(labels).every(([k, v]) => found.get(k) === v)) return Number(match[3]);
  }
  return undefined;
}

/**
 * Polls `probe` until it returns a value other than `undefined` and returns it; throws after
 * `deadlineMs` with `what` and the last value seen.
 */
export async function until<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  options: { deadlineMs?: number; intervalMs?: number; describe?: () => string } = {},
): Promise<T> {
  const { deadlineMs = 30_000, intervalMs = 100 } = options;
  const end = Date.now() + deadlineMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > end)
      throw new Error(
        `timed out after ${deadlineMs} ms waiting for ${what}${lastError === undefined ? '' : ` (last error: ${String(lastError)})`}${options.describe === undefined ? '' : `\n${options.describe()}`}`,
      );
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Starts the shop in `mode`; see the file's header. Close it in `after`. */
export async function startShop(options: StartShopOptions): Promise<Shop> {
  const { mode } = options;
  const system = await loadShopFromSource();
  const tmp = mkdtempSync(join(tmpdir(), `flotilla-shop-e2e-${mode}-`));
  const log = outputTail();
  const cleanups: (() => Promise<void>)[] = [async () => rmSync(tmp, { recursive: true, force: true })];
  const cleanup = async (): Promise<void> => {
    const errors: unknown[] = [];
    for (const step of cleanups.splice(0).reverse()) await step().catch((err: unknown) => errors.push(err));
    if (errors.length > 0) throw new AggregateError(errors, `closing the shop (${mode}) failed`);
  };

  let running: RunningSystem;
  let databases: Readonly<Record<string, string>> = {};
  try {
    const env: Record<string, string> = {
      FLOTILLA_LOG_LEVEL: options.logLevel ?? 'info',
      ...options.env,
    };
    let distributed: DistributedSettings | undefined;
    if (mode === 'distributed') {
      distributed = distributedSettings();
      const stream = distributed.stream;
      cleanups.push(() => stream.remove());
      databases = distributed.databases;
      const named = distributed.databases;
      // Named while the definition is rewritten: read them when cleaning up.
      cleanups.push(() => dropDatabases(Object.values(named)));
    }
    // Ports picked free a moment ago may be taken by another test before the start checks
    // them (nothing has started then): pick them again, up to three times.
    for (let attempt = 1; ; attempt++) {
      const definition = await rewrite(system.definition, { dataDir: join(tmp, 'data'), env, distributed });
      try {
        running = await startRewritten(definition);
        break;
      } catch (err) {
        if (!(err instanceof SystemStartError && err.reason === 'port-in-use') || attempt >= 3) throw err;
      }
    }
  } catch (err) {
    await cleanup().catch(() => {});
    throw new Error(`the shop (${mode}) did not start: ${String(err)}\n--- output ---\n${log.text(200)}`, {
      cause: err,
    });
  }
  cleanups.push(() => running.stop());

  /** Validates the rewritten definition, checks it runs the sources, and starts it. */
  async function startRewritten(definition: SystemDefinition): Promise<RunningSystem> {
    const rewritten = validateSystem(definition, {
      baseDir: system.baseDir,
      ...(system.file === undefined ? {} : { file: system.file }),
    });
    const plan = rewritten.plan(mode === 'distributed' ? 'distributed' : undefined);
    for (const service of plan.services) {
      const inSource = relative(SOURCE_DIR, service.entry);
      if (!service.entry.endsWith('.ts') || inSource.startsWith('..'))
        throw new Error(
          `service ${service.name} would run ${service.entry}, not its source under ${SOURCE_DIR}: the system file did not honour FLOTILLA_SHOP_FROM_SOURCE=1`,
        );
      if (mode === 'distributed' && service.name !== 'gateway')
        for (const instance of service.instances)
          if (!Object.keys(instance.env).some((k) => k.startsWith('FLOTILLA_DATABASE_URL_')))
            throw new Error(
              `the distributed profile gives ${service.name}[${instance.index}] no FLOTILLA_DATABASE_URL_*`,
            );
    }
    const inherited: Record<string, string | undefined> = { ...process.env, FLOTILLA_SHOP_FROM_SOURCE: '1' };
    // The test runner's own marker must not reach the services.
    delete inherited.NODE_TEST_CONTEXT;
    return startSystem(rewritten, {
      ...(mode === 'distributed' ? { profile: 'distributed' } : {}),
      controlPort: 0,
      write: log.write,
      colour: false,
      pretty: false,
      env: inherited,
      probeIntervalMs: 200,
      faultProxies: options.faultProxies === true,
    });
  }

  const urlsOf = (service: string): readonly string[] => {
    const planned = running.plan.services.find((s) => s.name === service);
    if (planned === undefined) throw new Error(`no service ${service}`);
    return planned.instances.map((i) => i.url);
  };
  const gatewayUrl = urlsOf('gateway')[0]!;

  const request = async <T = unknown>(
    method: string,
    path: string,
    init: { token?: string; body?: unknown; headers?: Record<string, string> } = {},
  ): Promise<GatewayResponse<T>> => {
    const headers: Record<string, string> = { ...init.headers };
    if (init.token !== undefined) headers.authorization = `Bearer ${init.token}`;
    let body: string | Buffer | undefined;
    if (typeof init.body === 'string' || Buffer.isBuffer(init.body)) body = init.body;
    else if (init.body !== undefined) body = JSON.stringify(init.body);
    if (body !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-type'))
      headers['content-type'] = 'application/json';
    const res = await fetch(`${gatewayUrl}${path}`, {
      method,
      headers,
      ...(body === undefined ? {} : { body }),
    });
    const text = await res.text();
    let parsed: unknown = text;
    if ((res.headers.get('content-type') ?? '').includes('json') && text !== '')
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = text;
      }
    return { status: res.status, headers: res.headers, body: parsed as T, text };
  };

  const fail = (what: string, res: GatewayResponse): Error =>
    new Error(`${what}: HTTP ${res.status} ${res.text}\n--- output ---\n${log.text()}`);

  const shop: Shop = {
    mode,
    running,
    gatewayUrl,
    databases,
    urlsOf,
    output: log.text,
    request,
    async login(email, password) {
      const res = await request<{ token?: string }>('POST', '/api/login', { body: { email, password } });
      if (res.status !== 200 || typeof res.body.token !== 'string') throw fail(`login of ${email}`, res);
      return res.body.token;
    },
    async placeOrder(token, items, idempotencyKey = randomUUID()) {
      const res = await request<{ orderId?: string }>('POST', '/api/v2/orders', {
        token,
        body: { items },
        headers: { 'idempotency-key': idempotencyKey },
      });
      if (res.status !== 202 || typeof res.body.orderId !== 'string')
        throw fail(`placing ${JSON.stringify(items)}`, res);
      return res.body.orderId;
    },
    async waitForOrder(token, id, predicate, deadlineMs = 30_000) {
      let last: GatewayResponse<OrderAggregate> | undefined;
      return until(
        `order ${id} to reach the expected state`,
        async () => {
          last = await request<OrderAggregate>('GET', `/api/v2/orders/${id}`, { token });
          return last.status === 200 && predicate(last.body) ? last.body : undefined;
        },
        {
          deadlineMs,
          describe: () =>
            `last view: ${last === undefined ? '(none)' : `HTTP ${last.status} ${last.text}`}\n--- output ---\n${log.text()}`,
        },
      );
    },
    async available(sku) {
      const res = await request<{ available?: number }>('GET', `/api/v2/inventory/${sku}`);
      if (res.status !== 200 || typeof res.body.available !== 'number') throw fail(`stock of ${sku}`, res);
      return res.body.available;
    },
    async stopService(service) {
      await running.control.stop(service);
    },
    async startService(service) {
      await running.control.start(service);
      const states = running.services.filter((s) => s.service === service).map((s) => s.state);
      if (states.some((s) => s !== 'ready'))
        throw new Error(`${service} did not become ready (${states.join(', ')})\n${log.text()}`);
    },
    close: cleanup,
  };
  return shop;
}

/**
 * How long a test gives the whole shop to become ready: ten processes compiling TypeScript at
 * once, beside the other test files of the run, on a small machine take a while (the system
 * file's 60 s has run out under CI).
 */
function testReadyTimeoutMs(def: SystemDefinition): number {
  return Math.max(def.readyTimeoutMs ?? 60_000, 120_000);
}

/**
 * The shop's system file, loaded with `FLOTILLA_SHOP_FROM_SOURCE=1` (it chooses its entries, src/
 * or dist/, when imported) and `extra` set while it is imported, the environment restored
 * afterwards; with the test's ready timeout.
 */
export async function loadShopFromSource(
  extra: Readonly<Record<string, string>> = {},
): Promise<Awaited<ReturnType<typeof loadSystem>>> {
  const settings: Record<string, string> = { FLOTILLA_SHOP_FROM_SOURCE: '1', ...extra };
  const previous = Object.fromEntries(Object.keys(settings).map((k) => [k, process.env[k]]));
  Object.assign(process.env, settings);
  try {
    const system = await loadSystem(SYSTEM_FILE);
    return validateSystem(
      { ...system.definition, readyTimeoutMs: testReadyTimeoutMs(system.definition) },
      { baseDir: system.baseDir, ...(system.file === undefined ? {} : { file: system.file }) },
    );
  } finally {
    for (const [k, v] of Object.entries(previous))
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
  }
}

interface DistributedSettings {
  readonly natsUrl: string;
  readonly stream: ReturnType<typeof privateStream>;
  /** Start of this run's rate-limit keys in Redis. */
  readonly rateLimitPrefix: string;
  /** The database URL of each service, by the `FLOTILLA_DATABASE_URL_<SERVICE>` suffix. */
  readonly databases: Record<string, string>;
  /** The database URL of a variable's suffix (created on first use). */
  databaseFor(suffix: string): string;
}

function distributedSettings(): DistributedSettings {
  const natsUrl = testNatsUrl();
  const run = `${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
  const databases: Record<string, string> = {};
  return {
    natsUrl,
    stream: privateStream(natsUrl),
    rateLimitPrefix: `flotilla:e2e:${run}:rl:`,
    databases,
    databaseFor(suffix) {
      let url = databases[suffix];
      if (url === undefined) {
        const target = new URL(testPgUrl());
        target.pathname = `/e2e_shop_${run}_${suffix.toLowerCase()}`;
        url = target.toString();
        databases[suffix] = url;
      }
      return url;
    },
  };
}

/**
 * The system file's definition on fresh ports (every service, instance and profile instance),
 * a control API on a free port, the data in `dataDir`, `env` for every service, and for the
 * distributed profile this run's databases and NATS stream.
 */
async function rewrite(
  def: SystemDefinition,
  options: { dataDir: string; env: Record<string, string>; distributed: DistributedSettings | undefined },
): Promise<SystemDefinition> {
  const profiles = Object.entries(def.profiles ?? {});
  const portsNeeded = (s: { port?: number; instances?: readonly InstanceDefinition[] }): number =>
    (s.port === undefined ? 0 : 1) + (s.instances?.length ?? 0);
  const total =
    def.services.reduce((n, s) => n + portsNeeded(s), 0) +
    profiles.reduce(
      (n, [, p]) => n + Object.values(p.services ?? {}).reduce((m, o) => m + portsNeeded(o), 0),
      0,
    );
  const free = (await freePorts(total)).values();
  const port = (): number => free.next().value as number;
  const withPorts = <T extends { port?: number; instances?: readonly InstanceDefinition[] }>(s: T): T => ({
    ...s,
    ...(s.port === undefined ? {} : { port: port() }),
    ...(s.instances === undefined ? {} : { instances: s.instances.map((i) => ({ ...i, port: port() })) }),
  });
  const { distributed } = options;
  // The run's own databases, Redis and rate-limit keys in place of the profile's.
  const isolate = (env: EnvTemplate | undefined): EnvTemplate | undefined => {
    if (env === undefined || distributed === undefined) return env;
    return Object.fromEntries(
      Object.entries(env).map(([key, value]) => {
        if (key === 'FLOTILLA_RATE_LIMIT_REDIS') return [key, testRedisUrl()];
        if (key === 'FLOTILLA_RATE_LIMIT_PREFIX') return [key, distributed.rateLimitPrefix];
        const suffix = /^FLOTILLA_DATABASE_URL_(.+)$/.exec(key)?.[1];
        return [key, suffix === undefined ? value : distributed.databaseFor(suffix)];
      }),
    );
  };
  const rewriteProfile = (name: string, p: ProfileDefinition): ProfileDefinition => {
    const services = Object.fromEntries(
      Object.entries(p.services ?? {}).map(([service, o]): [string, ServiceOverride] => {
        const env = name === 'distributed' ? isolate(o.env) : o.env;
        return [service, { ...withPorts(o), ...(env === undefined ? {} : { env }) }];
      }),
    );
    const env: EnvTemplate =
      name === 'distributed' && distributed !== undefined
        ? {
            ...p.env,
            FLOTILLA_TRANSPORT: distributed.natsUrl,
            FLOTILLA_NATS_STREAM: distributed.stream.stream,
            FLOTILLA_NATS_SUBJECT_PREFIX: distributed.stream.subjectPrefix,
          }
        : { ...p.env };
    return { ...p, env, services };
  };
  return {
    ...def,
    dataDir: options.dataDir,
    controlPort: 0,
    readyTimeoutMs: testReadyTimeoutMs(def),
    env: { ...def.env, ...options.env },
    services: def.services.map((s): ServiceDefinition => withPorts(s)),
    profiles: Object.fromEntries(profiles.map(([name, p]) => [name, rewriteProfile(name, p)])),
  };
}

async function dropDatabases(urls: readonly string[]): Promise<void> {
  if (urls.length === 0) return;
  const client = new pg.Client({ connectionString: testPgUrl(), connectionTimeoutMillis: 5_000 });
  client.on('error', () => {});
  try {
    await client.connect();
    for (const url of urls) {
      const name = decodeURIComponent(new URL(url).pathname.slice(1));
      await client.query(`drop database if exists ${pg.escapeIdentifier(name)} with (force)`);
    }
  } finally {
    await client.end().catch(() => {});
  }
}

/** What the system printed, bounded, so a long run does not hold all of its output. */
function outputTail(maxChars = 1_000_000): {
  write: (chunk: string) => void;
  text: (lines?: number) => string;
} {
  let chunks: string[] = [];
  let size = 0;
  return {
    write: (chunk) => {
      chunks.push(chunk);
      size += chunk.length;
      if (size > maxChars * 2) {
        chunks = [chunks.join('').slice(-maxChars)];
        size = maxChars;
      }
    },
    text: (lines = 80) =>
      chunks
        .join('')
        .split('\n')
        .slice(-lines - 1)
        .join('\n'),
  };
}
