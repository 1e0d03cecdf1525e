import { readFileSync } from 'node:fs';
import { UsageError } from '../cli/args.js';

/** The role of a span (OpenTelemetry's kinds, as `@flotilla/service` records them). */
export type TraceSpanKind = 'server' | 'client' | 'producer' | 'consumer' | 'internal';

/** A recorded span as `flotilla doctor --traces` reads it. */
export interface TraceSpan {
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId?: string;
  /** The service that recorded the span. */
  readonly service: string;
  readonly kind: TraceSpanKind;
  /** E.g. `POST /orders` (server) or `payment POST /payments` (client). */
  readonly name: string;
  /** The service a client span calls (`peer.service` in the tracer's attributes). */
  readonly peerService?: string;
  /** Start, epoch milliseconds. */
  readonly startMs: number;
  readonly durationMs: number;
}

const KINDS = new Set(['server', 'client', 'producer', 'consumer', 'internal']);

/**
 * Parses recorded spans: a JSON array of spans, or `{ "spans": [...] }` as a service's
 * `/internal/spans` answers. Each span is the format above, or `@flotilla/service`'s SpanRecord
 * (`startTimeMs`, `attributes["peer.service"]`), which is accepted as is.
 */
export function parseTraces(json: unknown, source = 'traces'): TraceSpan[] {
  const list = Array.isArray(json)
    ? json
    : typeof json === 'object' && json !== null && Array.isArray((json as { spans?: unknown }).spans)
      ? (json as { spans: unknown[] }).spans
      : undefined;
  if (list === undefined)
    throw new UsageError(`${source}: expected an array of spans or { "spans": [...] }`, 'doctor');
  return list.map((raw, i) => {
    const s = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
    const attributes = (
      typeof s.attributes === 'object' && s.attributes !== null ? s.attributes : {}
    ) as Record<string, unknown>;
    const str = (key: string) =>
      typeof s[key] === 'string' && s[key] !== '' ? (s[key] as string) : undefined;
    const bad = (what: string): never => {
      throw new UsageError(`${source}: span ${i} ${what}`, 'doctor');
    };
    const traceId = str('traceId') ?? bad('needs a traceId');
    const spanId = str('spanId') ?? bad('needs a spanId');
    const service = str('service') ?? bad('needs a service');
    const kind = str('kind') ?? bad('needs a kind');
    if (!KINDS.has(kind)) bad(`has kind "${kind}"; expected server, client, producer, consumer or internal`);
    const start = s.startMs ?? s.startTimeMs;
    const peer =
      str('peerService') ??
      (typeof attributes['peer.service'] === 'string' ? attributes['peer.service'] : undefined);
    const parent = str('parentSpanId');
    return {
      traceId,
      spanId,
      service,
      kind: kind as TraceSpanKind,
      name: str('name') ?? '',
      startMs: typeof start === 'number' ? start : 0,
      durationMs: typeof s.durationMs === 'number' ? s.durationMs : 0,
      ...(parent === undefined ? {} : { parentSpanId: parent }),
      ...(peer === undefined ? {} : { peerService: peer }),
    };
  });
}

/** Reads and parses a traces file. */
export function readTraces(path: string): TraceSpan[] {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new UsageError(`--traces ${path}: ${(err as Error).message}`, 'doctor');
  }
  return parseTraces(json, path);
}
