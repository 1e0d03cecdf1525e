import type { ConsoleEdge, ConsolePoint, ConsoleTraceList, SpanRecord } from './contract.js';

/** Seconds of per-second buckets kept (the length of {@link ConsoleSnapshot.series}). */
export const SERIES_SECONDS = 120;
/** Most recent traces kept for the traces list. */
const TRACES_KEPT = 200;
/** Durations kept per bucket and key for percentiles; beyond it, a uniform sample is kept. */
const SAMPLES_PER_BUCKET = 512;

/** Counts and a duration sample of one key in one second. */
class Cell {
  count = 0;
  errors = 0;
  readonly durations: number[] = [];

  add(durationMs: number, error: boolean, random: () => number): void {
    this.count++;
    if (error) this.errors++;
    if (this.durations.length < SAMPLES_PER_BUCKET) this.durations.push(durationMs);
    else {
      // Reservoir sampling keeps every duration equally likely to be in the sample.
      const i = Math.floor(random() * this.count);
      if (i < SAMPLES_PER_BUCKET) this.durations[i] = durationMs;
    }
  }
}

/** One second of observed traffic. */
class Bucket {
  readonly cells = new Map<string, Cell>();
  constructor(readonly second: number) {}

  cell(key: string): Cell {
    let cell = this.cells.get(key);
    if (cell === undefined) {
      cell = new Cell();
      this.cells.set(key, cell);
    }
    return cell;
  }
}

const GATEWAY_KEY = 'gateway';

function percentile(sorted: readonly number[], q: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

const round = (n: number | null): number | null => (n === null ? null : Math.round(n * 10) / 10);

interface TraceEntry {
  readonly traceId: string;
  readonly name: string;
  readonly startTimeMs: number;
  readonly durationMs: number;
  readonly status: 'ok' | 'error';
}

/**
 * Turns the spans collected from every instance into what the console draws: per-edge rates,
 * error rates and p99 (synchronous calls from client spans, event flows from producer and
 * consumer spans), per-second gateway traffic, and the list of recent traces.
 */
export class Traffic {
  private readonly buckets = new Map<number, Bucket>();
  /** Event type → services seen publishing it (kept, so a consumer's edge has its source). */
  private readonly producers = new Map<string, Set<string>>();
  private readonly traces: TraceEntry[] = [];
  /** Whether the gateway records a client span per upstream call (else its server spans name the upstream). */
  private gatewayClientSpans = false;
  /** Trace id → spans and services seen, for the traces of the list (pruned with it). */
  private readonly traceStats = new Map<string, { spans: number; services: Set<string>; seenAt: number }>();

  constructor(
    private readonly gateway: string | undefined,
    private readonly random: () => number = Math.random,
  ) {}

  /** Adds the spans of one poll. */
  ingest(spans: readonly SpanRecord[], nowMs: number): void {
    for (const span of spans) this.add(span, nowMs);
    this.prune(nowMs);
  }

  private bucket(endMs: number): Bucket {
    const second = Math.floor(endMs / 1000);
    let bucket = this.buckets.get(second);
    if (bucket === undefined) {
      bucket = new Bucket(second);
      this.buckets.set(second, bucket);
    }
    return bucket;
  }

  private add(span: SpanRecord, nowMs: number): void {
    // A call answered with a 4xx did what it should (out of stock, not found): not an error of the edge.
    const code = span.attributes['http.status_code'];
    const error = span.status === 'error' && !(typeof code === 'number' && code >= 400 && code < 500);
    const bucket = this.bucket(span.startTimeMs + span.durationMs);
    const attrs = span.attributes;
    const stats = this.traceStats.get(span.traceId);
    if (stats !== undefined) {
      stats.spans++;
      stats.services.add(span.service);
    } else this.traceStats.set(span.traceId, { spans: 1, services: new Set([span.service]), seenAt: nowMs });

    if (span.kind === 'client') {
      if (span.service === this.gateway) this.gatewayClientSpans = true;
      const peer = attrs['peer.service'];
      if (typeof peer === 'string')
        bucket.cell(`call\u0000${span.service}\u0000${peer}`).add(span.durationMs, error, this.random);
    } else if (span.kind === 'producer') {
      const type = attrs['messaging.destination.name'];
      if (typeof type === 'string') {
        let set = this.producers.get(type);
        if (set === undefined) {
          set = new Set();
          this.producers.set(type, set);
        }
        set.add(span.service);
        bucket.cell(`pub\u0000${type}`).add(span.durationMs, error, this.random);
      }
    } else if (span.kind === 'consumer') {
      const type = attrs['messaging.destination.name'];
      if (typeof type === 'string')
        bucket.cell(`con\u0000${span.service}\u0000${type}`).add(span.durationMs, error, this.random);
    } else if (span.kind === 'server') {
      const isGateway = span.service === this.gateway;
      if (isGateway) {
        const status = Number(attrs['http.status_code']);
        bucket.cell(GATEWAY_KEY).add(span.durationMs, error || status >= 500, this.random);
        // A gateway that records no client spans names its upstream on the server span.
        const upstream = attrs['gateway.upstream'];
        if (typeof upstream === 'string' && upstream !== '' && !this.gatewayClientSpans)
          bucket.cell(`call\u0000${span.service}\u0000${upstream}`).add(span.durationMs, error, this.random);
      }
      // With a gateway, traces start there; operators' direct calls to a service are not listed.
      if (isGateway || (this.gateway === undefined && span.parentSpanId === undefined)) {
        this.traces.push({
          traceId: span.traceId,
          name: isGateway ? span.name : `${span.service} ${span.name}`,
          startTimeMs: span.startTimeMs,
          durationMs: span.durationMs,
          status: span.status,
        });
        if (this.traces.length > TRACES_KEPT) this.traces.splice(0, this.traces.length - TRACES_KEPT);
      }
    }
  }

  private prune(nowMs: number): void {
    const oldest = Math.floor(nowMs / 1000) - SERIES_SECONDS;
    for (const second of this.buckets.keys()) if (second < oldest) this.buckets.delete(second);
    const listed = new Set(this.traces.map((t) => t.traceId));
    for (const [id, stats] of this.traceStats)
      if (!listed.has(id) && nowMs - stats.seenAt > 60_000) this.traceStats.delete(id);
  }

  private cellsSince(sinceSecond: number, untilSecond: number): Map<string, Cell[]> {
    const out = new Map<string, Cell[]>();
    for (const bucket of this.buckets.values()) {
      if (bucket.second < sinceSecond || bucket.second >= untilSecond) continue;
      for (const [key, cell] of bucket.cells) {
        const list = out.get(key);
        if (list === undefined) out.set(key, [cell]);
        else list.push(cell);
      }
    }
    return out;
  }

  /**
   * The edges over the `windowMs` before `nowMs` (the current, unfinished second excluded).
   * Event edges go from every service seen publishing the type to each consumer of it.
   */
  edges(nowMs: number, windowMs: number): ConsoleEdge[] {
    const until = Math.floor(nowMs / 1000);
    const seconds = Math.max(1, Math.round(windowMs / 1000));
    const cells = this.cellsSince(until - seconds, until);
    const edges: ConsoleEdge[] = [];
    const summarise = (list: readonly Cell[]) => {
      let count = 0;
      let errors = 0;
      const durations: number[] = [];
      for (const c of list) {
        count += c.count;
        errors += c.errors;
        durations.push(...c.durations);
      }
      durations.sort((a, b) => a - b);
      return {
        count,
        ratePerSec: Math.round((count / seconds) * 100) / 100,
        errorRate: count === 0 ? 0 : errors / count,
        p99Ms: round(percentile(durations, 0.99)),
      };
    };
    for (const [key, list] of cells) {
      const parts = key.split('\u0000');
      if (parts[0] === 'call')
        edges.push({ from: parts[1]!, to: parts[2]!, kind: 'call', ...summarise(list) });
      else if (parts[0] === 'con') {
        const [, consumer, type] = parts as [string, string, string];
        for (const producer of this.producers.get(type) ?? [])
          edges.push({ from: producer, to: consumer, kind: 'event', label: type, ...summarise(list) });
      }
    }
    return edges.sort((a, b) =>
      `${a.from}${a.to}${a.label ?? ''}`.localeCompare(`${b.from}${b.to}${b.label ?? ''}`),
    );
  }

  /** Published and consumed events per second, by type, over the window. */
  eventTypes(
    nowMs: number,
    windowMs: number,
  ): { type: string; publishedPerSec: number; consumedPerSec: number }[] {
    const until = Math.floor(nowMs / 1000);
    const seconds = Math.max(1, Math.round(windowMs / 1000));
    const byType = new Map<string, { published: number; consumed: number }>();
    const entry = (type: string) => {
      let e = byType.get(type);
      if (e === undefined) {
        e = { published: 0, consumed: 0 };
        byType.set(type, e);
      }
      return e;
    };
    for (const type of this.producers.keys()) entry(type);
    for (const [key, list] of this.cellsSince(until - seconds, until)) {
      const parts = key.split('\u0000');
      const n = list.reduce((sum, c) => sum + c.count, 0);
      if (parts[0] === 'pub') entry(parts[1]!).published += n;
      else if (parts[0] === 'con') entry(parts[2]!).consumed += n;
    }
    return [...byType]
      .map(([type, e]) => ({
        type,
        publishedPerSec: Math.round((e.published / seconds) * 100) / 100,
        consumedPerSec: Math.round((e.consumed / seconds) * 100) / 100,
      }))
      .sort((a, b) => a.type.localeCompare(b.type));
  }

  /** The gateway's traffic per second over the last {@link SERIES_SECONDS}, oldest first, ending before `nowMs`'s second. */
  series(nowMs: number): ConsolePoint[] {
    const until = Math.floor(nowMs / 1000);
    const points: ConsolePoint[] = [];
    for (let second = until - SERIES_SECONDS; second < until; second++) {
      const cell = this.buckets.get(second)?.cells.get(GATEWAY_KEY);
      const sorted = cell === undefined ? [] : [...cell.durations].sort((a, b) => a - b);
      points.push({
        t: second * 1000,
        requests: cell?.count ?? 0,
        errors: cell?.errors ?? 0,
        p50Ms: round(percentile(sorted, 0.5)),
        p99Ms: round(percentile(sorted, 0.99)),
      });
    }
    return points;
  }

  /** The most recent traces that entered the system, newest first. */
  recentTraces(limit: number): ConsoleTraceList['items'] {
    return this.traces
      .slice(-limit)
      .reverse()
      .map((t) => {
        const stats = this.traceStats.get(t.traceId);
        return { ...t, spans: stats?.spans ?? 1, services: [...(stats?.services ?? [])].sort() };
      });
  }
}
