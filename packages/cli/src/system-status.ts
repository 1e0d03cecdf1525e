import { Agent, request } from 'undici';
import { findAdminToken } from './admin-token.js';
import { connectControl } from './control-client.js';
import { isSystemNotRunningError } from './errors.js';
import type { InstanceState } from './supervisor-events.js';
import type { System } from './validate-system.js';

/** The health of one instance as `flotilla status` shows it. */
export interface InstanceHealth {
  readonly service: string;
  readonly instance: number;
  readonly url: string;
  /** What the supervisor knows, when one runs. */
  readonly supervisor: {
    readonly state: InstanceState;
    readonly pid: number | null;
    readonly restarts: number;
    readonly uptimeMs: number | null;
  } | null;
  /** `/health/ready`'s status, or `down` when nothing answers. */
  readonly health: 'ready' | 'not_ready' | 'starting' | 'draining' | 'down';
  /** Readiness checks that fail, with their error. */
  readonly failingChecks: readonly string[];
  /**
   * Circuit breaker state per upstream (`closed`, `open`, `half-open`), from `/internal/policies`;
   * for the system's gateway service also from its admin API, `/__admin/upstreams` (with the admin
   * token; none from there when there is no token, or it is refused).
   */
  readonly breakers: Readonly<Record<string, string>>;
  /** Queue depths the service reports in `/internal/info` under `queues`, by queue name. */
  readonly queues: Readonly<Record<string, number>>;
}

/** The status of a whole system. */
export interface SystemStatus {
  readonly system: string;
  readonly profile: string | null;
  /** Whether a supervisor (`flotilla up`) runs it. */
  readonly supervised: boolean;
  readonly services: readonly InstanceHealth[];
}

/** Options of {@link systemStatus}. */
export interface SystemStatusOptions {
  /**
   * The profile whose instances to probe when no supervisor runs (a running one knows its own).
   * @default the base system
   */
  profile?: string;
  /**
   * Time allowed for each request to a service, in milliseconds.
   * @default 2000
   */
  timeoutMs?: number;
  /** Cancels the probes. */
  signal?: AbortSignal;
  /**
   * The admin token (`FLOTILLA_ADMIN_TOKEN`) the gateway's `/__admin/upstreams` needs, to read its
   * breakers. It is sent to the gateway service's instances only.
   * @default `FLOTILLA_ADMIN_TOKEN` in `env`, else the system's data directory `secrets.json`
   */
  adminToken?: string;
  /**
   * Where `FLOTILLA_ADMIN_TOKEN` is looked up when `adminToken` is not given.
   * @default process.env
   */
  env?: Readonly<Record<string, string | undefined>>;
}

/**
 * Asks every instance of a system how it is: `/health/ready`, its breakers from
 * `/internal/policies` and its queue depths from `/internal/info` (a `queues` object of name →
 * depth, when the service reports one), alongside the supervisor's view when `up` runs. The
 * gateway service's instances (`system.gateway`) are also asked for their upstreams' breakers on
 * their admin API, `/__admin/upstreams`, with the admin token ({@link SystemStatusOptions.adminToken});
 * without a token, or when it is refused, the gateway's breakers are simply not known.
 *
 * @example
 * const status = await systemStatus(await loadSystem('flotilla.system.ts'));
 * status.services.filter((s) => s.health !== 'ready');
 */
export async function systemStatus(system: System, options: SystemStatusOptions = {}): Promise<SystemStatus> {
  const timeoutMs = options.timeoutMs ?? 2_000;
  let supervised: Awaited<ReturnType<ReturnType<typeof connectControl>['services']>> | undefined;
  try {
    supervised = await connectControl(system).services(
      options.signal === undefined ? {} : { signal: options.signal },
    );
  } catch (err) {
    if (!isSystemNotRunningError(err)) throw err;
  }
  const targets =
    supervised?.services.map((s) => ({
      service: s.service,
      instance: s.instance,
      url: s.url,
      supervisor: s,
    })) ??
    system
      .plan(options.profile)
      .services.flatMap((s) =>
        s.instances.map((i) => ({ service: s.name, instance: i.index, url: i.url, supervisor: undefined })),
      );
  const gateway = system.gateway;
  const adminToken = targets.some((t) => t.service === gateway)
    ? findAdminToken(system, options.adminToken, options.env ?? process.env)
    : undefined;
  const dispatcher = new Agent({ keepAliveTimeout: 1_000, connectTimeout: timeoutMs });
  const get = async (
    url: string,
    headers: Record<string, string> = {},
  ): Promise<{ status: number; body: unknown } | undefined> => {
    const signals = [
      AbortSignal.timeout(timeoutMs),
      ...(options.signal === undefined ? [] : [options.signal]),
    ];
    try {
      const res = await request(url, {
        dispatcher,
        headers,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
        signal: AbortSignal.any(signals),
      });
      const text = await res.body.text();
      try {
        return { status: res.statusCode, body: JSON.parse(text) as unknown };
      } catch {
        return { status: res.statusCode, body: undefined };
      }
    } catch {
      return undefined;
    }
  };
  try {
    const services = await Promise.all(
      targets.map(async (t): Promise<InstanceHealth> => {
        const [ready, policies, info, upstreams] = await Promise.all([
          get(`${t.url}/health/ready`),
          get(`${t.url}/internal/policies`),
          get(`${t.url}/internal/info`),
          t.service === gateway && adminToken !== undefined
            ? get(`${t.url}/__admin/upstreams`, { authorization: `Bearer ${adminToken}` })
            : undefined,
        ]);
        const report = (ready?.body ?? {}) as {
          status?: string;
          checks?: Record<string, { status?: string; error?: string }>;
        };
        return {
          service: t.service,
          instance: t.instance,
          url: t.url,
          supervisor:
            t.supervisor === undefined
              ? null
              : {
                  state: t.supervisor.state,
                  pid: t.supervisor.pid,
                  restarts: t.supervisor.restarts,
                  uptimeMs: t.supervisor.uptimeMs,
                },
          health: ready === undefined ? 'down' : healthOf(ready.status, report.status),
          failingChecks: Object.entries(report.checks ?? {})
            .filter(([, c]) => c.status === 'fail')
            .map(([name, c]) => (c.error === undefined ? name : `${name}: ${c.error}`)),
          breakers: {
            ...breakersOf(policies?.body),
            // Only a 200 counts: 401/403 (token refused) and 404 (no admin API) tell nothing.
            ...(upstreams?.status === 200 ? gatewayBreakersOf(upstreams.body) : {}),
          },
          queues: queuesOf(info?.body),
        };
      }),
    );
    return {
      system: system.name,
      profile: supervised?.profile ?? options.profile ?? null,
      supervised: supervised !== undefined,
      services,
    };
  } finally {
    await dispatcher.close();
  }
}

function healthOf(status: number, reported: string | undefined): InstanceHealth['health'] {
  if (status === 200) return 'ready';
  if (reported === 'starting' || reported === 'draining') return reported;
  return 'not_ready';
}

/** `{ payment: 'closed' }` from `/internal/policies`: the first circuit breaker in each upstream's pipeline. */
export function breakersOf(body: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  const upstreams = (body as { upstreams?: unknown } | undefined)?.upstreams;
  if (!Array.isArray(upstreams)) return out;
  for (const upstream of upstreams as { service?: unknown; policy?: unknown }[]) {
    const state = breakerState(upstream.policy);
    if (typeof upstream.service === 'string' && state !== undefined) out[upstream.service] = state;
  }
  return out;
}

/**
 * `{ payment: 'open' }` from the gateway's `/__admin/upstreams`: each upstream's `service` and the
 * state of its `breaker`.
 */
export function gatewayBreakersOf(body: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!Array.isArray(body)) return out;
  for (const upstream of body as ({ service?: unknown; breaker?: unknown } | null)[]) {
    if (typeof upstream?.service === 'string' && typeof upstream.breaker === 'string')
      out[upstream.service] = upstream.breaker;
  }
  return out;
}

function breakerState(policy: unknown): string | undefined {
  if (typeof policy !== 'object' || policy === null) return undefined;
  const p = policy as { kind?: unknown; state?: unknown; policies?: unknown };
  if (p.kind === 'circuit-breaker' && typeof p.state === 'string') return p.state;
  if (!Array.isArray(p.policies)) return undefined;
  for (const inner of p.policies) {
    const state = breakerState(inner);
    if (state !== undefined) return state;
  }
  return undefined;
}

/** Queue depths from `/internal/info`'s `queues`: `{ name: depth }` or `{ name: { depth } }`. */
export function queuesOf(body: unknown): Record<string, number> {
  const out: Record<string, number> = {};
  const queues = (body as { queues?: unknown } | undefined)?.queues;
  if (typeof queues !== 'object' || queues === null) return out;
  for (const [name, value] of Object.entries(queues)) {
    const depth = typeof value === 'number' ? value : (value as { depth?: unknown } | null)?.depth;
    if (typeof depth === 'number' && Number.isFinite(depth)) out[name] = depth;
  }
  return out;
}
