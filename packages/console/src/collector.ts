import type { Disposable } from '@flotilla/resilience';
import { type ServiceTokens, serviceTokens } from '@flotilla/service';
import type {
  ConsoleEvents,
  ConsoleFault,
  ConsoleResilienceTile,
  ConsoleSagaCounts,
  ConsoleService,
  ConsoleSnapshot,
  MigrationStatus,
  PolicySnapshot,
  SagaState,
  SpanRecord,
} from './contract.js';
import type { ConsoleHost, HostInstance } from './host.js';
import { Traffic } from './traffic.js';
import type { Upstreams } from './upstream.js';

/** Options of {@link Collector}. */
export interface CollectorOptions {
  readonly host: ConsoleHost;
  readonly upstreams: Upstreams;
  /** Time between two polls of the system, in milliseconds. @default 1000 */
  readonly intervalMs?: number;
  /** Window of edge rates and percentiles, in milliseconds. @default 10000 */
  readonly windowMs?: number;
  /** Epoch milliseconds. @default Date.now */
  readonly now?: () => number;
}

/** What the console learned about one instance's routes (from `/internal/info`). */
interface Features {
  readonly pid: number | null;
  /** Base path of the saga operator API, when the instance serves it. */
  readonly sagas: string | undefined;
  readonly eventStats: boolean;
  readonly deadLetters: boolean;
}

/** A policy snapshot as a service reports it per upstream (`/internal/policies`). */
interface UpstreamSnapshotLike {
  readonly service: string;
  readonly policy?: PolicySnapshot;
  readonly policies?: PolicySnapshot;
  readonly instances: readonly {
    readonly url: string;
    readonly outstanding: number;
    readonly ejected: boolean;
  }[];
  readonly retryBudget?: { readonly withdrawals: number; readonly available: number };
}

/** Per-group numbers of `GET /events/stats`. */
interface EventStatsAnswer {
  readonly outbox?: { readonly backlog: number; readonly oldestAgeMs: number | null };
  readonly groups?: Readonly<
    Record<
      string,
      {
        readonly handled: number;
        readonly failed: number;
        readonly duplicates: number;
        readonly deadLettered: number;
        readonly handlerLatency?: { readonly p99Ms: number | null };
      }
    >
  >;
  readonly lag?: Readonly<Record<string, number | null>>;
}

interface InstanceData {
  features?: Features;
  /** Position of the instance's span recording already read. */
  after?: number | undefined;
  tiles: ConsoleResilienceTile[];
  eventStats?: EventStatsAnswer | undefined;
}

const POLLED_STATES = new Set(['ready', 'unready', 'starting']);
const SPAN_LIMIT = 5000;

/** The service's routes, as `/internal/info` lists them. */
function featuresOf(info: { pid?: number; routes?: { method: string; path: string }[] }): Features {
  const routes = new Set((info.routes ?? []).map((r) => `${r.method} ${r.path}`));
  let sagas: string | undefined;
  for (const route of routes) {
    const m = /^GET (\/.*)\/counts$/.exec(route);
    if (m !== null && routes.has(`POST ${m[1]}/:id/retry`)) sagas = m[1];
  }
  return {
    pid: info.pid ?? null,
    sagas,
    eventStats: routes.has('GET /events/stats'),
    deadLetters: routes.has('GET /dead-letters'),
  };
}

function find(policy: PolicySnapshot | undefined, kind: string): PolicySnapshot | undefined {
  if (policy === undefined) return undefined;
  if (policy.kind === kind) return policy;
  for (const inner of policy.policies ?? []) {
    const hit = find(inner, kind);
    if (hit !== undefined) return hit;
  }
  return undefined;
}

/** A Hystrix-style tile from one caller instance's view of one upstream. */
export function tileOf(
  caller: string,
  callerInstance: number,
  u: UpstreamSnapshotLike,
): ConsoleResilienceTile | undefined {
  const policy = u.policy ?? u.policies;
  if (policy === undefined) return undefined;
  const breaker = find(policy, 'circuit-breaker');
  const bulkhead = find(policy, 'bulkhead');
  const w = policy.window;
  const num = (v: unknown): number => (typeof v === 'number' ? v : 0);
  return {
    caller,
    callerInstance,
    upstream: u.service,
    breaker: breaker?.state ?? null,
    window: {
      calls: w.calls,
      successes: w.successes,
      failures: w.failures,
      rejections: w.rejections,
      failureRate: w.failureRate,
      p50Ms: w.latency.samples > 0 ? w.latency.p50Ms : null,
      p90Ms: w.latency.samples > 0 ? w.latency.p90Ms : null,
      p99Ms: w.latency.samples > 0 ? w.latency.p99Ms : null,
    },
    bulkhead:
      bulkhead === undefined
        ? null
        : {
            active: num(bulkhead.details?.active),
            queued: num(bulkhead.details?.queued),
            limit: num(bulkhead.details?.limit),
          },
    retryBudget:
      u.retryBudget === undefined
        ? null
        : { spent: u.retryBudget.withdrawals, available: u.retryBudget.available },
    instances: u.instances.map((i) => ({ url: i.url, outstanding: i.outstanding, ejected: i.ejected })),
    policy,
  };
}

const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/**
 * Polls the running system about once a second while someone watches (a stream is open): every
 * instance's new spans, policies and event statistics, saga counts, and the gateway's spans,
 * upstreams and migrations; and turns them into {@link ConsoleSnapshot}s.
 */
export class Collector {
  private readonly host: ConsoleHost;
  private readonly upstreams: Upstreams;
  private readonly intervalMs: number;
  private readonly windowMs: number;
  private readonly now: () => number;
  private readonly traffic: Traffic;
  private readonly tokens: ServiceTokens | undefined;
  private readonly data = new Map<string, InstanceData>();
  private readonly listeners = new Set<(snapshot: ConsoleSnapshot) => void>();
  private migrations: readonly MigrationStatus[] = [];
  private sagaCounts: ConsoleSagaCounts[] = [];
  private deadLetters = 0;
  private deadLettersReadAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  private latest: ConsoleSnapshot | undefined;
  private closed = false;
  /** A nudge came during a poll. */
  private again = false;

  constructor(options: CollectorOptions) {
    this.host = options.host;
    this.upstreams = options.upstreams;
    this.intervalMs = options.intervalMs ?? 1000;
    this.windowMs = options.windowMs ?? 10_000;
    this.now = options.now ?? Date.now;
    this.traffic = new Traffic(options.host.gateway);
    this.tokens =
      options.host.serviceKey === undefined
        ? undefined
        : serviceTokens({ service: 'console', key: options.host.serviceKey });
  }

  /** The last snapshot built, if any. */
  get snapshot(): ConsoleSnapshot | undefined {
    return this.latest;
  }

  /** The traffic model (recent traces). */
  get recent(): Traffic {
    return this.traffic;
  }

  /** Calls `listener` with every new snapshot; polling runs while at least one listener is registered. */
  subscribe(listener: (snapshot: ConsoleSnapshot) => void): Disposable {
    this.listeners.add(listener);
    if (this.timer === undefined && !this.closed) {
      void this.poll();
      this.timer = setInterval(() => void this.poll(), this.intervalMs);
      this.timer.unref();
    }
    return {
      dispose: () => {
        this.listeners.delete(listener);
        if (this.listeners.size === 0 && this.timer !== undefined) {
          clearInterval(this.timer);
          this.timer = undefined;
        }
      },
    };
  }

  /**
   * Polls soon, so watchers see a change (an instance crashed, started) without waiting for the
   * next tick; nudges during a poll are folded into one more poll after it.
   */
  nudge(): void {
    if (this.listeners.size === 0 || this.closed) return;
    if (this.polling === undefined) void this.poll();
    else this.again = true;
  }

  /**
   * Polls now and resolves with a snapshot no older than the call. A poll already in progress
   * began before it (what it read may predate the call), so it is waited for and a new one runs.
   */
  async refresh(): Promise<ConsoleSnapshot> {
    const inProgress = this.polling;
    if (inProgress !== undefined) await inProgress;
    await this.poll();
    return this.latest!;
  }

  /** Stops polling. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    this.listeners.clear();
    await this.polling;
  }

  /** A service token for calling `service`'s operator routes; undefined without a service key. */
  async authorization(service: string): Promise<Record<string, string>> {
    if (this.tokens === undefined) return {};
    return { authorization: `Bearer ${await this.tokens.mint(service)}` };
  }

  /** The routes `service` is known to serve (from its first polled instance). */
  features(service: string): Features | undefined {
    for (const inst of this.host.status())
      if (inst.service === service) {
        const f = this.data.get(`${inst.service}#${inst.instance}`)?.features;
        if (f !== undefined) return f;
      }
    return undefined;
  }

  /** Reads `/internal/info` of an instance when its process is new, to learn its routes. */
  private async featuresFor(inst: HostInstance, d: InstanceData): Promise<Features> {
    if (d.features !== undefined && d.features.pid === inst.pid) return d.features;
    const info = await this.upstreams.json<{ pid?: number; routes?: { method: string; path: string }[] }>(
      `${inst.url}/internal/info`,
    );
    d.features = featuresOf(info);
    d.after = undefined;
    return d.features;
  }

  private poll(): Promise<void> {
    this.polling ??= this.pollOnce().finally(() => {
      this.polling = undefined;
      if (this.again) {
        this.again = false;
        this.nudge();
      }
    });
    return this.polling;
  }

  private async pollOnce(): Promise<void> {
    const started = this.now();
    const problems: { source: string; message: string }[] = [];
    const statuses = this.host.status();
    const spans: SpanRecord[] = [];
    const gateway = this.host.gateway;
    const adminHeaders = { authorization: `Bearer ${this.host.adminToken}` };
    const polled = statuses.filter((s) => POLLED_STATES.has(s.state));
    const perService = new Map<string, number>();
    for (const s of statuses) perService.set(s.service, (perService.get(s.service) ?? 0) + 1);
    const sagaServices = new Map<string, { url: string; base: string }>();
    const deadLetterServices = new Map<string, string>();

    await Promise.all(
      polled.map(async (inst) => {
        const key = `${inst.service}#${inst.instance}`;
        let d = this.data.get(key);
        if (d === undefined) {
          d = { tiles: [] };
          this.data.set(key, d);
        }
        const source =
          (perService.get(inst.service) ?? 1) > 1 ? `${inst.service}[${inst.instance}]` : inst.service;
        try {
          if (inst.service === gateway) {
            const since = d.after === undefined ? `sinceMs=${started - this.windowMs}` : `after=${d.after}`;
            const [spanPage, upstreams, migrations] = await Promise.all([
              this.upstreams
                .json<{ spans: SpanRecord[]; next?: number }>(
                  `${inst.url}/__admin/spans?${since}&limit=${SPAN_LIMIT}`,
                  {
                    headers: adminHeaders,
                  },
                )
                .catch((err: unknown) => {
                  problems.push({ source: `${source} spans`, message: messageOf(err) });
                  return undefined;
                }),
              this.upstreams.json<UpstreamSnapshotLike[]>(`${inst.url}/__admin/upstreams`, {
                headers: adminHeaders,
              }),
              this.upstreams.json<MigrationStatus[]>(`${inst.url}/__admin/migrations`, {
                headers: adminHeaders,
              }),
            ]);
            if (spanPage !== undefined) {
              spans.push(...spanPage.spans);
              d.after = spanPage.next;
            }
            d.tiles = upstreams.flatMap((u) => tileOf(inst.service, inst.instance, u) ?? []);
            if (inst.instance === 0 || this.migrations.length === 0) this.migrations = migrations;
            return;
          }
          const features = await this.featuresFor(inst, d);
          const since = d.after === undefined ? `sinceMs=${started - this.windowMs}` : `after=${d.after}`;
          const auth = await this.authorization(inst.service);
          const [spanPage, policies, eventStats] = await Promise.all([
            this.upstreams.json<{ spans: SpanRecord[]; next?: number }>(
              `${inst.url}/internal/spans?${since}&limit=${SPAN_LIMIT}`,
            ),
            this.upstreams.json<{ upstreams: UpstreamSnapshotLike[] }>(`${inst.url}/internal/policies`),
            features.eventStats && this.tokens !== undefined
              ? this.upstreams.json<EventStatsAnswer>(`${inst.url}/events/stats`, { headers: auth })
              : Promise.resolve(undefined),
          ]);
          spans.push(...spanPage.spans);
          d.after = spanPage.next;
          d.tiles = policies.upstreams.flatMap((u) => tileOf(inst.service, inst.instance, u) ?? []);
          d.eventStats = eventStats;
          if (features.sagas !== undefined && !sagaServices.has(inst.service))
            sagaServices.set(inst.service, { url: inst.url, base: features.sagas });
          if (features.deadLetters && !deadLetterServices.has(inst.service))
            deadLetterServices.set(inst.service, inst.url);
        } catch (err) {
          problems.push({ source, message: messageOf(err) });
        }
      }),
    );
    // Instances that are not running report nothing: drop what they said before.
    const running = new Set(polled.map((s) => `${s.service}#${s.instance}`));
    for (const [key, d] of this.data)
      if (!running.has(key)) {
        d.tiles = [];
        d.eventStats = undefined;
      }

    await Promise.all([
      this.readSagaCounts(sagaServices, problems),
      started - this.deadLettersReadAt >= 5000
        ? this.readDeadLetters(deadLetterServices, problems)
        : undefined,
    ]);

    const now = this.now();
    this.traffic.ingest(spans, now);
    this.latest = this.build(statuses, problems, now);
    for (const listener of this.listeners) listener(this.latest);
  }

  private async readSagaCounts(
    services: ReadonlyMap<string, { url: string; base: string }>,
    problems: { source: string; message: string }[],
  ): Promise<void> {
    const counts: ConsoleSagaCounts[] = [];
    await Promise.all(
      [...services].map(async ([service, { url, base }]) => {
        try {
          const answer = await this.upstreams.json<{ counts: Partial<Record<SagaState, number>> }>(
            `${url}${base}/counts`,
            {
              headers: await this.authorization(service),
            },
          );
          counts.push({ service, counts: answer.counts });
        } catch (err) {
          problems.push({ source: `${service} sagas`, message: messageOf(err) });
        }
      }),
    );
    if (counts.length > 0 || services.size === 0)
      this.sagaCounts = counts.sort((a, b) => a.service.localeCompare(b.service));
  }

  private async readDeadLetters(
    services: ReadonlyMap<string, string>,
    problems: { source: string; message: string }[],
  ): Promise<void> {
    if (this.tokens === undefined) return;
    let total = 0;
    await Promise.all(
      [...services].map(async ([service, url]) => {
        try {
          const answer = await this.upstreams.json<{ items: unknown[] }>(`${url}/dead-letters?limit=1000`, {
            headers: await this.authorization(service),
          });
          total += answer.items.length;
        } catch (err) {
          problems.push({ source: `${service} dead letters`, message: messageOf(err) });
        }
      }),
    );
    this.deadLetters = total;
    this.deadLettersReadAt = this.now();
  }

  private build(
    statuses: readonly HostInstance[],
    problems: { source: string; message: string }[],
    now: number,
  ): ConsoleSnapshot {
    const services: ConsoleService[] = [];
    for (const s of statuses) {
      let entry = services.find((e) => e.service === s.service);
      if (entry === undefined) {
        entry = { service: s.service, health: 'down', critical: s.critical, instances: [] };
        services.push(entry);
      }
      (entry.instances as ConsoleService['instances'][number][]).push({
        instance: s.instance,
        url: s.url,
        pid: s.pid,
        state: s.state,
        restarts: s.restarts,
        uptimeMs: s.uptimeMs,
      });
    }
    for (const [i, e] of services.entries()) {
      const ready = e.instances.filter((x) => x.state === 'ready').length;
      services[i] = {
        ...e,
        health: ready === e.instances.length ? 'ready' : ready > 0 ? 'degraded' : 'down',
      };
    }

    const events: ConsoleEvents = {
      types: this.traffic.eventTypes(now, this.windowMs),
      groups: [],
      outboxes: [],
      deadLetters: this.deadLetters,
    };
    const groups = new Map<string, ConsoleEvents['groups'][number]>();
    const outboxes = new Map<string, ConsoleEvents['outboxes'][number]>();
    for (const [key, d] of this.data) {
      const service = key.slice(0, key.lastIndexOf('#'));
      const stats = d.eventStats;
      if (stats === undefined) continue;
      if (stats.outbox !== undefined) {
        const prev = outboxes.get(service);
        // Every instance reports the service's whole outbox: keep the largest reading.
        if (prev === undefined || stats.outbox.backlog > prev.backlog)
          outboxes.set(service, {
            service,
            backlog: stats.outbox.backlog,
            oldestAgeMs: stats.outbox.oldestAgeMs,
          });
      }
      for (const [group, g] of Object.entries(stats.groups ?? {})) {
        const id = `${service}\u0000${group}`;
        const prev = groups.get(id);
        const lag = stats.lag?.[group] ?? null;
        const p99 = g.handlerLatency?.p99Ms ?? null;
        groups.set(id, {
          service,
          group,
          handled: (prev?.handled ?? 0) + g.handled,
          failed: (prev?.failed ?? 0) + g.failed,
          duplicates: (prev?.duplicates ?? 0) + g.duplicates,
          deadLettered: (prev?.deadLettered ?? 0) + g.deadLettered,
          lag: prev?.lag == null ? lag : lag === null ? prev.lag : Math.max(prev.lag, lag),
          p99Ms: prev?.p99Ms == null ? p99 : p99 === null ? prev.p99Ms : Math.max(prev.p99Ms, p99),
        });
      }
    }
    const faults = this.host.faults;
    const active: ConsoleFault[] = [];
    if (faults !== undefined)
      for (const service of faults.services) {
        const f = faults.current(service);
        if (
          f.latencyMs > 0 ||
          f.bandwidthBytesPerSecond > 0 ||
          f.resetProbability > 0 ||
          f.blackhole ||
          f.errorRate > 0
        )
          active.push({ service, ...f });
      }

    return {
      at: now,
      system: this.host.system,
      windowMs: this.windowMs,
      services,
      edges: this.traffic.edges(now, this.windowMs),
      resilience: [...this.data.values()]
        .flatMap((d) => d.tiles)
        .sort((a, b) =>
          `${a.caller}${a.callerInstance}${a.upstream}`.localeCompare(
            `${b.caller}${b.callerInstance}${b.upstream}`,
          ),
        ),
      series: this.traffic.series(now),
      events: {
        ...events,
        groups: [...groups.values()].sort((a, b) =>
          `${a.service}${a.group}`.localeCompare(`${b.service}${b.group}`),
        ),
        outboxes: [...outboxes.values()].sort((a, b) => a.service.localeCompare(b.service)),
      },
      sagas: this.sagaCounts,
      migrations: this.migrations,
      load: this.host.load?.status() ?? null,
      faults: { available: faults !== undefined, services: faults?.services ?? [], active },
      problems,
    };
  }
}
