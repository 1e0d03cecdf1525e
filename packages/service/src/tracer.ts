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
  /** Calls `listener` with every finished span. */
  onSpan(listener: (span: SpanRecord) => void): Disposable;
}

/** Creates a tracer for one service. */
export function createTracer(options: TracerOptions): Tracer {
  const capacity = options.capacity ?? 5000;
  if (!Number.isInteger(capacity) || capacity < 1)
    throw new RangeError(`tracer.capacity must be an integer >= 1, got ${capacity}`);
  const ring: (SpanRecord | undefined)[] = new Array(capacity);
  let next = 0;
  let listeners: ((span: SpanRecord) => void)[] = [];

  const record = (span: SpanRecord): void => {
    ring[next] = span;
    next = (next + 1) % capacity;
    for (const l of listeners) l(span);
  };

  return {
    startSpan(name, { kind, parent, attributes }) {
      const context = childContext(parent);
      const startTimeMs = Date.now();
      const start = performance.now();
      const attrs: Record<string, string | number | boolean> = attributes ?? {};
      let ended = false;
      return {
        context,
        setAttribute(key, value) {
          attrs[key] = value;
        },
        end(status = 'ok') {
          if (ended) return;
          ended = true;
          record({
            traceId: context.traceId,
            spanId: context.spanId,
            ...(context.parentSpanId === undefined ? {} : { parentSpanId: context.parentSpanId }),
            name,
            kind,
            service: options.service,
            startTimeMs,
            durationMs: performance.now() - start,
            status,
            attributes: attrs,
          });
        },
      };
    },
    spans({ traceId, sinceMs, limit = 1000 } = {}) {
      const out: SpanRecord[] = [];
      for (let i = 0; i < capacity; i++) {
        const span = ring[(next + i) % capacity];
        if (span === undefined) continue;
        if (traceId !== undefined && span.traceId !== traceId) continue;
        if (sinceMs !== undefined && span.startTimeMs < sinceMs) continue;
        out.push(span);
      }
      return out.length > limit ? out.slice(out.length - limit) : out;
    },
    onSpan(listener) {
      listeners = [...listeners, listener];
      return { dispose: () => (listeners = listeners.filter((l) => l !== listener)) };
    },
  };
}
