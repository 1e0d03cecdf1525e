import type { Disposable } from '@flotilla/resilience';
import { childContext, type TraceContext } from './trace-context.js';

/** The role of a span, as OpenTelemetry names them. */
export type SpanKind = 'server' | 'client' | 'producer' | 'consumer' | 'internal';

/** A finished span. */
export interface SpanRecord {
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId?: string;
  /** What happened, e.g. `"POST /orders"`, `"payment POST /payments"`, `"publish OrderCreated"`. */
  readonly name: string;
  readonly kind: SpanKind;
  /** The service that recorded the span. */
  readonly service: string;
  /** Wall-clock start, epoch milliseconds. */
  readonly startTimeMs: number;
  readonly durationMs: number;
  readonly status: 'ok' | 'error';
  /** Small facts: `http.status_code`, `peer.service`, `error.code`, `flotilla.policy`, … */
  readonly attributes: Readonly<Record<string, string | number | boolean>>;
}

/** A span being recorded. */
export interface ActiveSpan {
  /** The span's own trace context: pass it on to calls and events made within it. */
  readonly context: TraceContext;
  /** Adds or replaces an attribute. */
  setAttribute(key: string, value: string | number | boolean): void;
  /** Finishes the span. Calling it twice records it once. */
  end(status?: 'ok' | 'error'): void;
}

/** Options of {@link createTracer}. */
export interface TracerOptions {
  /** Name of the service recording spans. */
  service: string;
  /**
   * How many finished spans to keep in memory for `/internal/spans`.
   * @default 5000
   */
  capacity?: number;
}

/** Query of {@link Tracer.spans}. */
export interface SpanQuery {
  /** Only spans of this trace. */
  traceId?: string;
  /** Only spans that started at or after this epoch millisecond. */
  sinceMs?: number;
  /**
   * Only spans recorded after this position of the recording sequence (a previous
   * {@link Tracer.recorded} value): a poller that passes the last value it saw gets each span once.
   */
  after?: number;
  /**
   * At most this many, newest last.
   * @default 1000
   */
  limit?: number;
}

/**
 * Records spans of one service: the server span of every request, a client span per outgoing
 * call, producer/consumer spans for events, internal spans for saga steps. Finished spans are
 * kept in a ring buffer (served at `/internal/spans` for the console and `flotilla doctor`) and
 * handed to listeners (an exporter).
 */
export interface Tracer {
  /** Starts a span as a child of `parent` (or a new trace). */
  startSpan(
    name: string,
    options: {
      kind: SpanKind;
      parent?: TraceContext | undefined;
      attributes?: Record<string, string | number | boolean>;
    },
  ): ActiveSpan;
  /** Finished spans matching `query`, oldest first. */
  spans(query?: SpanQuery): SpanRecord[];
  /** How many spans were recorded since the tracer started: the position to pass as `after` next time. */
  recorded(): number;
  /** Calls `listener` with every finished span. */
  onSpan(listener: (span: SpanRecord) => void): Disposable;
}

/** Creates a tracer for one service. */
export function createTracer(options: TracerOptions): Tracer {
  const capacity = options.capacity ?? 5000;
  if (!Number.isInteger(capacity) || capacity < 1)
    throw new RangeError(`tracer.capacity must be an integer >= 1, got ${capacity}`);
  return new RingTracer(options.service, capacity);
}

/** Epoch milliseconds from the monotonic clock: one clock read instead of `Date.now()` plus `performance.now()`. */
const epochNow = (): number => performance.timeOrigin + performance.now();

class RingTracer implements Tracer {
  private readonly ring: (SpanRecord | undefined)[];
  private next = 0;
  private total = 0;
  private listeners: ((span: SpanRecord) => void)[] = [];

  constructor(
    readonly service: string,
    private readonly capacity: number,
  ) {
    this.ring = new Array(capacity);
  }

  startSpan(
    name: string,
    options: {
      kind: SpanKind;
      parent?: TraceContext | undefined;
      attributes?: Record<string, string | number | boolean>;
    },
  ): ActiveSpan {
    return new Span(this, name, options.kind, childContext(options.parent), options.attributes ?? {});
  }

  record(span: SpanRecord): void {
    this.ring[this.next] = span;
    this.next = (this.next + 1) % this.capacity;
    this.total++;
    for (const l of this.listeners) l(span);
  }

  recorded(): number {
    return this.total;
  }

  spans({ traceId, sinceMs, after, limit = 1000 }: SpanQuery = {}): SpanRecord[] {
    const out: SpanRecord[] = [];
    // The ring holds positions [total - held, total); `after` skips the ones seen before.
    const held = Math.min(this.total, this.capacity);
    const skip = after === undefined ? 0 : Math.min(held, Math.max(0, after - (this.total - held)));
    for (let i = skip; i < held; i++) {
      const span = this.ring[(this.next - held + i + this.capacity) % this.capacity];
      if (span === undefined) continue;
      if (traceId !== undefined && span.traceId !== traceId) continue;
      if (sinceMs !== undefined && span.startTimeMs < sinceMs) continue;
      out.push(span);
    }
    return out.length > limit ? out.slice(out.length - limit) : out;
  }

  onSpan(listener: (span: SpanRecord) => void): Disposable {
    this.listeners = [...this.listeners, listener];
    return { dispose: () => (this.listeners = this.listeners.filter((l) => l !== listener)) };
  }
}

/** A span being recorded; becomes a {@link SpanRecord} when it ends. */
class Span implements ActiveSpan {
  private readonly start = epochNow();
  private ended = false;

  constructor(
    private readonly tracer: RingTracer,
    private readonly name: string,
    private readonly kind: SpanKind,
    readonly context: TraceContext,
    private readonly attributes: Record<string, string | number | boolean>,
  ) {}

  setAttribute(key: string, value: string | number | boolean): void {
    this.attributes[key] = value;
  }

  end(status: 'ok' | 'error' = 'ok'): void {
    if (this.ended) return;
    this.ended = true;
    const c = this.context;
    this.tracer.record({
      traceId: c.traceId,
      spanId: c.spanId,
      ...(c.parentSpanId === undefined ? {} : { parentSpanId: c.parentSpanId }),
      name: this.name,
      kind: this.kind,
      service: this.tracer.service,
      startTimeMs: this.start,
      durationMs: epochNow() - this.start,
      status,
      attributes: this.attributes,
    });
  }
}
