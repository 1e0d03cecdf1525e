import { randomFillSync } from 'node:crypto';

/** W3C trace context of one unit of work (a request, a call, an event). */
export interface TraceContext {
  /** 32 lowercase hex characters, shared by every span of one trace. */
  readonly traceId: string;
  /** 16 lowercase hex characters identifying this span. */
  readonly spanId: string;
  /** The span that caused this one, if any. */
  readonly parentSpanId?: string;
  /** The sampled flag of the `traceparent` header. */
  readonly sampled: boolean;
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(?:-.*)?$/;
const ZERO_TRACE = '0'.repeat(32);
const ZERO_SPAN = '0'.repeat(16);

// Random ids come from a pooled buffer: one crypto call per 512 ids instead of one per id.
const pool = Buffer.alloc(4096);
let offset = pool.length;
function randomHex(bytes: number): string {
  if (offset + bytes > pool.length) {
    randomFillSync(pool);
    offset = 0;
  }
  const hex = pool.toString('hex', offset, offset + bytes);
  offset += bytes;
  return hex;
}

/** A new random span id (16 hex characters). */
export function newSpanId(): string {
  return randomHex(8);
}

/** A new random trace id (32 hex characters). */
export function newTraceId(): string {
  return randomHex(16);
}

/**
 * Parses a `traceparent` header (W3C Trace Context level 1). Returns `undefined` for anything
 * malformed, including the all-zero ids and version `ff` the spec forbids, so a bad header from a
 * client simply starts a new trace.
 */
export function parseTraceparent(header: string | undefined): TraceContext | undefined {
  if (header === undefined || header.length < 55 || header.length > 512) return undefined;
  const m = TRACEPARENT.exec(header.trim().toLowerCase());
  if (m === null) return undefined;
  const [, version, traceId, spanId, flags] = m as unknown as [string, string, string, string, string];
  if (version === 'ff' || traceId === ZERO_TRACE || spanId === ZERO_SPAN) return undefined;
  if (version === '00' && header.trim().length !== 55) return undefined;
  return { traceId, spanId, sampled: (Number.parseInt(flags, 16) & 1) === 1 };
}

/** Formats a context as a `traceparent` header value. */
export function formatTraceparent(ctx: TraceContext): string {
  return `00-${ctx.traceId}-${ctx.spanId}-${ctx.sampled ? '01' : '00'}`;
}

/** A child span of `parent` (or the root span of a new trace). */
export function childContext(parent: TraceContext | undefined): TraceContext {
  if (parent === undefined) return rootContext(true);
  return new OwnContext(parent.traceId, newSpanId(), parent.sampled, parent.spanId);
}

/** The root span of a new trace, sampled or not (the tracer decides; not exported by the package). */
export function rootContext(sampled: boolean): TraceContext {
  return new OwnContext(newTraceId(), newSpanId(), sampled, undefined);
}

/**
 * The context {@link childContext} makes. A class, not an object literal: a span keeps its context
 * as long as the work it times, often past a young-generation collection, and V8 then
 * "pretenures" a literal, allocating every later object of it in the old generation, where each
 * waits for a full collection and keeps what it points to alive until then. Instances of classes
 * are never pretenured.
 */
class OwnContext implements TraceContext {
  declare readonly parentSpanId?: string;

  constructor(
    readonly traceId: string,
    readonly spanId: string,
    readonly sampled: boolean,
    parentSpanId: string | undefined,
  ) {
    if (parentSpanId !== undefined) (this as { parentSpanId?: string }).parentSpanId = parentSpanId;
  }
}
