import { type Clock, type Disposable, systemClock, tokenBucket } from '@flotilla/resilience';
import { type AttributeValue, type FinishedSpan, SpanRing } from './span-ring.js';
import { childContext, rootContext, type TraceContext } from './trace-context.js';

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
   * How many finished spans to keep in memory for `/internal/spans`. They are kept as columns of
   * numbers and interned strings, allocated up front: about 330 bytes per span, and no object
   * per span for the garbage collector.
   * @default 5000
   */
  capacity?: number;
  /**
   * New traces sampled (recorded) per second at most, as a token bucket that holds one second's
   * worth. A span without a parent starts a trace and takes a token; without one, the trace is
   * not sampled: its spans still get ids, and `traceparent` passes them on with the sampled flag
   * off, but nothing of it is recorded, here or in the services that follow the flag. A span with
   * a parent records exactly when its parent was sampled. A limit bounds what tracing costs a
   * busy process, at the price of the console's rates and counts, which then see sampled traces
   * only.
   * @default Infinity (every trace)
   */
  maxTracesPerSecond?: number;
  /**
   * Source of time for the sampling budget; pass a `manualClock()` in tests.
   * @default systemClock
   */
  clock?: Clock;
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
 * call, producer/consumer spans for events, internal spans for saga steps. Finished spans of
 * sampled traces (see {@link TracerOptions.maxTracesPerSecond}) are kept in a ring buffer (served
 * at `/internal/spans` for the console and `flotilla doctor`) and handed to listeners (an exporter).
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
  const rate = options.maxTracesPerSecond ?? DEFAULT_TRACES_PER_SECOND;
  if (!(rate >= 0))
    throw new RangeError(`tracer.maxTracesPerSecond must be a number >= 0, got ${String(rate)}`);
  return new RingTracer(options.service, capacity, sampler(rate, options.clock ?? systemClock));
}

/** The default of {@link TracerOptions.maxTracesPerSecond}: every trace is sampled. */
const DEFAULT_TRACES_PER_SECOND = Number.POSITIVE_INFINITY;

/**
 * Reads `FLOTILLA_TRACES_PER_SECOND`: a number >= 0, or `all` to sample every trace; the default
 * when unset or empty. Throws a RangeError naming the variable for anything else.
 *
 * @example
 * createTracer({ service: 'order', maxTracesPerSecond: tracesPerSecondFromEnv(process.env.FLOTILLA_TRACES_PER_SECOND) });
 */
export function tracesPerSecondFromEnv(value: string | undefined): number {
  const text = value?.trim() ?? '';
  if (text === '') return DEFAULT_TRACES_PER_SECOND;
  if (text.toLowerCase() === 'all') return Number.POSITIVE_INFINITY;
  const rate = Number(text);
  if (!Number.isFinite(rate) || rate < 0)
    throw new RangeError(
      `FLOTILLA_TRACES_PER_SECOND must be a number >= 0 or "all", got ${JSON.stringify(value)}`,
    );
  return rate;
}

/**
 * Decides whether a new trace is recorded: at most `rate` a second, in bursts of up to a second's
 * worth (a token bucket).
 */
function sampler(rate: number, clock: Clock): () => boolean {
  if (rate === Number.POSITIVE_INFINITY) return () => true;
  if (rate === 0) return () => false;
  const bucket = tokenBucket({ capacity: Math.max(1, rate), refillPerSecond: rate, clock });
  return () => bucket.tryTake() === 0;
}

/** When the monotonic clock started, epoch milliseconds: a getter, so read once. */
const timeOrigin = performance.timeOrigin;
/** Epoch milliseconds from the monotonic clock: one clock read instead of `Date.now()` plus `performance.now()`. */
const epochNow = (): number => timeOrigin + performance.now();

class RingTracer implements Tracer {
  /** Finished spans as columns: nothing of a span stays alive after it ends. */
  private readonly ring: SpanRing;
  private listeners: ((span: SpanRecord) => void)[] = [];

  constructor(
    readonly service: string,
    capacity: number,
    /** Whether a new trace is sampled. */
    private readonly sample: () => boolean,
  ) {
    this.ring = new SpanRing(capacity, service);
  }

  startSpan(
    name: string,
    options: {
      kind: SpanKind;
      parent?: TraceContext | undefined;
      attributes?: Record<string, string | number | boolean>;
    },
  ): ActiveSpan {
    const { parent } = options;
    const context = parent !== undefined ? childContext(parent) : rootContext(this.sample());
    const attributes = new SpanAttributes();
    const given = options.attributes;
    // An unsampled span records nothing: its attributes are never read.
    if (given !== undefined && context.sampled)
      for (const key in given) attributes[key] = given[key] as AttributeValue;
    return new Span(this, name, options.kind, context, attributes);
  }

  record(span: Span): void {
    this.ring.write(span);
    const listeners = this.listeners;
    if (listeners.length === 0) return;
    const record = span.toRecord();
    for (const l of listeners) l(record);
  }

  recorded(): number {
    return this.ring.written();
  }

  spans({ traceId, sinceMs, after, limit = 1000 }: SpanQuery = {}): SpanRecord[] {
    const out = this.ring.read(after ?? 0, { traceId, sinceMs });
    return out.length > limit ? out.slice(out.length - limit) : out;
  }

  onSpan(listener: (span: SpanRecord) => void): Disposable {
    this.listeners = [...this.listeners, listener];
    return { dispose: () => (this.listeners = this.listeners.filter((l) => l !== listener)) };
  }
}

/**
 * A span's attributes: the caller's are copied into an instance of this class, for the reason
 * `childContext` makes its contexts from a class (V8 never pretenures instances of classes).
 */
class SpanAttributes {
  [key: string]: AttributeValue;
}

/** A span being recorded. Once ended (and sampled), the ring copies its facts: the object dies young. */
class Span implements ActiveSpan, FinishedSpan {
  /** Wall-clock start, epoch milliseconds. */
  readonly start = epochNow();
  private ended = false;
  durationMs = 0;
  status: 'ok' | 'error' = 'ok';

  constructor(
    private readonly tracer: RingTracer,
    readonly name: string,
    readonly kind: SpanKind,
    readonly context: TraceContext,
    readonly attributes: Record<string, string | number | boolean>,
  ) {}

  setAttribute(key: string, value: string | number | boolean): void {
    if (this.context.sampled) this.attributes[key] = value;
  }

  end(status: 'ok' | 'error' = 'ok'): void {
    if (this.ended) return;
    this.ended = true;
    if (!this.context.sampled) return;
    this.durationMs = epochNow() - this.start;
    this.status = status;
    this.tracer.record(this);
  }

  /** The finished span as a plain record (for readers and listeners). */
  toRecord(): SpanRecord {
    const c = this.context;
    const record: SpanRecord = {
      traceId: c.traceId,
      spanId: c.spanId,
      ...(c.parentSpanId === undefined ? {} : { parentSpanId: c.parentSpanId }),
      name: this.name,
      kind: this.kind,
      service: this.tracer.service,
      startTimeMs: this.start,
      durationMs: this.durationMs,
      status: this.status,
      // A plain copy: listeners get the record's own object, as readers of the ring do.
      attributes: { ...this.attributes },
    };
    return record;
  }
}
