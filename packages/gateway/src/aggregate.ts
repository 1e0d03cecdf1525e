import { type Clock, systemClock } from '@flotilla/resilience';
import { aggregate, errorBody, type PartFailure, UpstreamError } from '@flotilla/service';
import type { AggregateConfig } from './config.js';

/** One call to an upstream with its policies (provided by the gateway core). */
export type PartCall = (
  service: string,
  method: 'GET' | 'POST',
  path: string,
  options: {
    timeoutMs?: number;
    signal: AbortSignal;
    headers: Record<string, string>;
    /** The part's configured path, placeholders and all: what names the call's span. */
    template?: string;
  },
) => Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: unknown }>;

/** The response of an aggregated route. */
export interface AggregateResponse {
  readonly status: number;
  readonly headers: Record<string, string>;
  /** A JSON value: the merged parts, or the standard error body. */
  readonly body: unknown;
}

/** How one part ended, as shown in the aggregated body's `parts`. */
export type AggregatePartStatus =
  | { readonly status: 'ok' }
  | {
      /** `skipped`: not called because a part it depends on failed or lacked the value it needs. */
      readonly status: 'unavailable' | 'timeout' | 'error' | 'not_found' | 'skipped';
      /** Stable code: `BROKEN_CIRCUIT`, `TIMEOUT`, `ORDER_NOT_FOUND`, `DEPENDENCY_FAILED`, … */
      readonly code: string;
      readonly message: string;
      /** The upstream's HTTP status, when it answered with an error. */
      readonly upstreamStatus?: number;
    };

/** The aggregator of one route. */
export interface Aggregator {
  readonly routeId: string;
  /** Part names in declaration order. */
  readonly parts: readonly string[];
  /**
   * Calls the parts (dependencies first, the rest at once) and merges their results. `params`
   * are the route's params, percent-decoded (they are encoded here); `headers` go to every part.
   * Rejects with the signal's reason when it aborts, and with a `TypeError` when the route does
   * not capture a param a part needs.
   */
  handle(
    params: Readonly<Record<string, string>>,
    options: { signal: AbortSignal; headers: Record<string, string> },
  ): Promise<AggregateResponse>;
}

/** Options of {@link createAggregator}. */
export interface AggregatorOptions {
  /**
   * Source of time for part timeouts; pass a `manualClock()` in tests.
   * @default systemClock
   */
  clock?: Clock;
}

/** Lists the parts that did not answer, on a 200 that carries fallbacks. */
export const PARTIAL_HEADER = 'x-flotilla-partial';

type PartConfig = AggregateConfig['parts'][string];
type Piece =
  | { readonly kind: 'text'; readonly text: string }
  | { readonly kind: 'param'; readonly name: string }
  | {
      readonly kind: 'ref';
      readonly part: string;
      readonly fields: readonly string[];
      readonly source: string;
    };

interface CompiledPart {
  readonly name: string;
  readonly config: PartConfig;
  readonly pieces: readonly Piece[];
  readonly deps: readonly string[];
}

type Failure = Exclude<AggregatePartStatus, { status: 'ok' }>;
/** A part's result; a skipped part keeps the failure it was skipped for, to answer with it. */
type Result =
  | {
      readonly status: 'ok';
      readonly body: unknown;
      readonly headers: Record<string, string | string[] | undefined>;
    }
  | (Failure & { readonly root?: Failure });

/** Headers that describe the aggregated response itself, never one part's. */
const OWN_HEADERS: ReadonlySet<string> = new Set([
  'connection',
  'content-encoding',
  'content-length',
  'content-type',
  'keep-alive',
  'proxy-authenticate',
  'set-cookie',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

const PLACEHOLDER = /\{\{\s*([^{}]*?)\s*\}\}/g;
const REFERENCE = /^([A-Za-z][A-Za-z0-9_]*)((?:\.[^.\s{}]+)*)$/;
// Only right after a slash, so a literal colon (`/things:batch`) stays text.
const PARAM = /(?<=\/):(\*|[A-Za-z_][A-Za-z0-9_]*)/g;

function compilePath(path: string, field: string): Piece[] {
  const pieces: Piece[] = [];
  const text = (chunk: string): void => {
    if (chunk.includes('{{') || chunk.includes('}}'))
      throw new TypeError(`${field} ${JSON.stringify(path)} has an unbalanced "{{" or "}}"`);
    let last = 0;
    for (const m of chunk.matchAll(PARAM)) {
      if (m.index > last) pieces.push({ kind: 'text', text: chunk.slice(last, m.index) });
      pieces.push({ kind: 'param', name: m[1] as string });
      last = m.index + m[0].length;
    }
    if (last < chunk.length) pieces.push({ kind: 'text', text: chunk.slice(last) });
  };
  let last = 0;
  for (const m of path.matchAll(PLACEHOLDER)) {
    text(path.slice(last, m.index));
    const ref = REFERENCE.exec(m[1] as string);
    if (ref === null)
      throw new TypeError(`${field} placeholder ${m[0]} must look like {{part.field.subfield}}`);
    const fields = (ref[2] as string).split('.').slice(1);
    pieces.push({ kind: 'ref', part: ref[1] as string, fields, source: m[0] });
    last = m.index + m[0].length;
  }
  text(path.slice(last));
  return pieces;
}

/** Parts in an order where every part comes after those it depends on; throws on a cycle. */
function dependencyOrder(parts: ReadonlyMap<string, CompiledPart>, routeId: string): CompiledPart[] {
  const order: CompiledPart[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (part: CompiledPart, trail: string[]): void => {
    const seen = state.get(part.name);
    if (seen === 'done') return;
    if (seen === 'visiting') {
      const cycle = [...trail.slice(trail.indexOf(part.name)), part.name].join(' -> ');
      throw new TypeError(`aggregate route "${routeId}": parts depend on each other in a cycle: ${cycle}`);
    }
    state.set(part.name, 'visiting');
    for (const dep of part.deps) visit(parts.get(dep) as CompiledPart, [...trail, part.name]);
    state.set(part.name, 'done');
    order.push(part);
  };
  for (const part of parts.values()) visit(part, []);
  return order;
}

function compile(routeId: string, config: AggregateConfig): Map<string, CompiledPart> {
  const entries = Object.entries(config.parts);
  if (entries.length === 0) throw new TypeError(`aggregate route "${routeId}" needs at least one part`);
  const names = entries.map(([name]) => name);
  const parts = new Map<string, CompiledPart>();
  for (const [name, part] of entries) {
    const field = `aggregate route "${routeId}" part "${name}"`;
    if (name === 'parts')
      throw new TypeError(`${field}: the name "parts" is reserved for the per-part statuses`);
    if (part.timeoutMs !== undefined && !(part.timeoutMs > 0 && Number.isFinite(part.timeoutMs)))
      throw new RangeError(`${field}.timeoutMs must be a finite number > 0, got ${part.timeoutMs}`);
    for (const header of part.passHeaders)
      if (OWN_HEADERS.has(header.toLowerCase()))
        throw new TypeError(
          `${field}.passHeaders cannot include "${header}": the aggregated response sets its own`,
        );
    const pieces = compilePath(part.path, `${field}.path`);
    const deps = [...new Set(pieces.flatMap((p) => (p.kind === 'ref' ? [p.part] : [])))];
    for (const dep of deps)
      if (!names.includes(dep))
        throw new TypeError(
          `${field}.path ${JSON.stringify(part.path)} references unknown part "${dep}" (parts: ${names.join(', ')})`,
        );
    parts.set(name, { name, config: part, pieces, deps });
  }
  return parts;
}

/** The value at `fields` in a part's body, or `undefined`. */
function dig(body: unknown, fields: readonly string[]): unknown {
  let value = body;
  for (const field of fields) {
    if (typeof value !== 'object' || value === null) return undefined;
    value =
      Array.isArray(value) && /^\d+$/.test(field)
        ? value[Number(field)]
        : Object.hasOwn(value, field)
          ? (value as Record<string, unknown>)[field]
          : undefined;
  }
  return value;
}

/** A sentence a client may see: never an instance address or an internal error message. */
function publicMessage(service: string, failure: PartFailure, timeoutMs: number | undefined): string {
  switch (failure.code) {
    case 'UPSTREAM_UNAVAILABLE':
      return `${service} is unreachable`;
    case 'BROKEN_CIRCUIT':
      return `${service} is unavailable (circuit open)`;
    case 'ISOLATED_CIRCUIT':
      return `${service} is isolated by an operator`;
    case 'BULKHEAD_REJECTED':
      return `${service} is at its concurrency limit`;
    case 'TIMEOUT':
      return timeoutMs === undefined
        ? `${service} did not answer in time`
        : `${service} did not answer within ${timeoutMs} ms`;
  }
  // An upstream error's message is built from the service name and its public error message.
  if (failure.httpStatus !== undefined) return failure.message;
  return `${service} call failed (${failure.code})`;
}

const HTTP_STATUS = { unavailable: 503, timeout: 504, not_found: 404, error: 502 } as const;

/** The error response for a failed required part. */
function failedRequired(
  routeId: string,
  part: CompiledPart,
  result: Failure & { root?: Failure },
): AggregateResponse {
  const cause: Failure = result.status === 'skipped' ? (result.root ?? result) : result;
  // A client error of the upstream (400, 401, 403, 409, 422, 429, …) is the client's: passed on
  // with its status and code, not turned into a gateway failure.
  const clientError =
    cause.status === 'error' &&
    cause.upstreamStatus !== undefined &&
    cause.upstreamStatus >= 400 &&
    cause.upstreamStatus < 500;
  const status = clientError
    ? (cause.upstreamStatus as number)
    : cause.status === 'skipped'
      ? 502
      : HTTP_STATUS[cause.status];
  const code =
    clientError || cause.status === 'not_found' || status === 503 || status === 504
      ? cause.code
      : 'BAD_GATEWAY';
  const retryable =
    status === 503 || status === 504 || (status === 502 && (cause.upstreamStatus ?? 0) >= 500);
  const verb = result.status === 'skipped' ? 'was skipped' : 'failed';
  const details = {
    route: routeId,
    part: part.name,
    service: part.config.service,
    status: result.status,
    code: result.code,
    ...(result.upstreamStatus === undefined ? {} : { upstreamStatus: result.upstreamStatus }),
  };
  return {
    status,
    headers: status === 503 ? { 'retry-after': '1' } : {},
    body: errorBody(code, `required part "${part.name}" ${verb}: ${result.message}`, retryable, details),
  };
}

/**
 * Creates the aggregator of one route: its parts run at once, except that a part whose path
 * uses `{{other.field}}` waits for `other`. Route params fill `:name` placeholders; every value
 * is URL-encoded. An optional part that fails yields its fallback (default `null`) and a status
 * in `parts`; a part depending on a failed part is `skipped`; a failed required part fails the
 * whole with 503 (unavailable), 504 (timeout), 404 (not found) or 502 (anything else), naming it.
 *
 * Headers listed in a part's `passHeaders` are copied from its response: `cache-control` merged
 * to the most restrictive, `vary` united, any other from the first part in declaration order
 * that sent it. A response with a failed part is `cache-control: no-store` and names the failed
 * parts in `x-flotilla-partial`, so no cache keeps a degraded view.
 *
 * @example
 * const view = createAggregator('order-view', route.aggregate!, (service, method, path, options) =>
 *   clients.get(service).request(method, path, options),
 * );
 * const response = await view.handle({ id: 'o-1' }, { signal: req.signal, headers: {} });
 */
export function createAggregator(
  routeId: string,
  config: AggregateConfig,
  call: PartCall,
  options: AggregatorOptions = {},
): Aggregator {
  if (typeof routeId !== 'string' || routeId === '')
    throw new TypeError(
      `createAggregator routeId must be a non-empty string, got ${JSON.stringify(routeId)}`,
    );
  if (typeof call !== 'function')
    throw new TypeError(`aggregate route "${routeId}": call must be a function`);
  const clock = options.clock ?? systemClock;
  const compiled = compile(routeId, config);
  const order = dependencyOrder(compiled, routeId);
  const declared = [...compiled.values()];
  const routeParams = [
    ...new Set(
      declared.flatMap((p) => p.pieces.flatMap((piece) => (piece.kind === 'param' ? [piece.name] : []))),
    ),
  ];

  const buildPath = (
    part: CompiledPart,
    params: Readonly<Record<string, string>>,
    results: ReadonlyMap<string, Result>,
  ): string | Failure => {
    let path = '';
    for (const piece of part.pieces) {
      if (piece.kind === 'text') path += piece.text;
      else if (piece.kind === 'param') {
        const value = params[piece.name] as string;
        if (piece.name !== '*') path += encodeURIComponent(value);
        else {
          // The wildcard's rest may come with its leading slash (`/a/b`) or without (`a/b`).
          const rest = path.endsWith('/') && value.startsWith('/') ? value.slice(1) : value;
          path += rest.split('/').map(encodeURIComponent).join('/');
        }
      } else {
        const dep = results.get(piece.part) as Result & { status: 'ok' };
        const value = dig(dep.body, piece.fields);
        if (
          typeof value !== 'string' &&
          typeof value !== 'boolean' &&
          !(typeof value === 'number' && Number.isFinite(value))
        )
          return {
            status: 'skipped',
            code: 'DEPENDENCY_VALUE_MISSING',
            message: `${piece.source} is ${value === undefined ? 'missing' : 'not a string, number or boolean'} in the response of part "${piece.part}"`,
          };
        path += encodeURIComponent(String(value));
      }
    }
    return path;
  };

  const runPart = async (
    part: CompiledPart,
    path: string,
    signal: AbortSignal,
    headers: Record<string, string>,
  ): Promise<Result> => {
    const { service, method, timeoutMs } = part.config;
    const invoke = async ({ signal: partSignal }: { signal: AbortSignal }) => {
      const response = await call(service, method, path, {
        ...(timeoutMs === undefined ? {} : { timeoutMs }),
        signal: partSignal,
        headers: { ...headers },
        template: part.config.path,
      });
      // The contract has `call` throw for error statuses; a core that returns them is held to it here.
      if (response.status >= 400)
        throw new UpstreamError({ service, status: response.status, body: response.body });
      return response;
    };
    try {
      // @flotilla/service's aggregate gives the part its timeout on our clock and classifies
      // its failure exactly as every other Flotilla view does.
      const outcome = await aggregate(
        { part: timeoutMs === undefined ? invoke : { run: invoke, timeoutMs } },
        { signal, clock },
      );
      const r = outcome.part;
      if (r.status === 'ok') return { status: 'ok', body: r.value.body, headers: r.value.headers };
      return {
        status: r.status,
        code: r.code,
        message: publicMessage(service, r, timeoutMs),
        ...(r.httpStatus === undefined ? {} : { upstreamStatus: r.httpStatus }),
      };
    } catch {
      // Only an abort of the whole request gets here; nobody reads this result any more.
      return { status: 'error', code: 'ABORTED', message: 'the request was abandoned' };
    }
  };

  return {
    routeId,
    parts: declared.map((p) => p.name),
    async handle(params, { signal, headers }) {
      if (signal.aborted) throw signal.reason;
      for (const name of routeParams)
        if (typeof params[name] !== 'string')
          throw new TypeError(
            `aggregate route "${routeId}" needs route param ":${name}", which the route's path does not capture`,
          );
      const controller = new AbortController();
      const results = new Map<string, Result>();
      const running = new Map<string, Promise<Result>>();
      let failRequired!: (failure: { part: CompiledPart; result: Failure }) => void;
      const requiredFailure = new Promise<{ part: CompiledPart; result: Failure }>((resolve) => {
        failRequired = resolve;
      });
      let onAbort!: () => void;
      const aborted = new Promise<never>((_, reject) => {
        onAbort = () => {
          controller.abort(signal.reason);
          reject(signal.reason);
        };
      });
      signal.addEventListener('abort', onAbort, { once: true });

      for (const part of order) {
        const promise = (async (): Promise<Result> => {
          await Promise.all(part.deps.map((dep) => running.get(dep)));
          const failedDep = part.deps.find((dep) => results.get(dep)?.status !== 'ok');
          if (failedDep !== undefined) {
            const dep = results.get(failedDep) as Failure & { root?: Failure };
            const root = dep.root ?? dep;
            return {
              status: 'skipped',
              code: 'DEPENDENCY_FAILED',
              message: `depends on part "${failedDep}", which ${dep.status === 'skipped' ? 'was skipped' : 'failed'}: ${root.message}`,
              root,
            };
          }
          const path = buildPath(part, params, results);
          if (typeof path !== 'string') return path;
          return runPart(part, path, controller.signal, headers);
        })().then((result) => {
          results.set(part.name, result);
          if (part.config.required && result.status !== 'ok') failRequired({ part, result });
          return result;
        });
        running.set(part.name, promise);
      }

      try {
        const outcome = await Promise.race([
          Promise.all(running.values()).then(() => undefined),
          requiredFailure,
          aborted,
        ]);
        if (outcome !== undefined) return failedRequired(routeId, outcome.part, outcome.result);
        return merge(declared, results);
      } finally {
        signal.removeEventListener('abort', onAbort);
        // Parts still running after a required part failed are of no use any more.
        if (!controller.signal.aborted) controller.abort(new Error(`aggregate route "${routeId}" finished`));
      }
    },
  };
}

function merge(parts: readonly CompiledPart[], results: ReadonlyMap<string, Result>): AggregateResponse {
  const body: Record<string, unknown> = {};
  const statuses: Record<string, AggregatePartStatus> = {};
  const failed: string[] = [];
  for (const part of parts) {
    const result = results.get(part.name) as Result;
    if (result.status === 'ok') {
      body[part.name] = result.body;
      statuses[part.name] = { status: 'ok' };
    } else {
      const { root: _root, ...status } = result;
      body[part.name] = part.config.fallback === undefined ? null : part.config.fallback;
      statuses[part.name] = status;
      failed.push(part.name);
    }
  }
  body.parts = statuses;
  const headers = passHeaders(parts, results);
  if (failed.length > 0) {
    headers['cache-control'] = 'no-store';
    headers[PARTIAL_HEADER] = failed.join(',');
  }
  return { status: 200, headers, body };
}

const headerText = (value: string | string[] | undefined): string | undefined =>
  Array.isArray(value) ? (value.length === 0 ? undefined : value.join(', ')) : value;

function passHeaders(
  parts: readonly CompiledPart[],
  results: ReadonlyMap<string, Result>,
): Record<string, string> {
  const out: Record<string, string> = {};
  const cacheControls: (string | undefined)[] = [];
  const vary: string[] = [];
  for (const part of parts) {
    const result = results.get(part.name);
    if (result?.status !== 'ok') continue;
    for (const name of part.config.passHeaders) {
      const key = name.toLowerCase();
      const value = headerText(result.headers[key]);
      if (key === 'cache-control') cacheControls.push(value);
      else if (key === 'vary') {
        if (value !== undefined)
          vary.push(
            ...value
              .split(',')
              .map((v) => v.trim())
              .filter((v) => v !== ''),
          );
      } else if (value !== undefined && !(key in out)) out[key] = value;
    }
  }
  if (cacheControls.length > 0) out['cache-control'] = mergeCacheControl(cacheControls);
  if (vary.length > 0) {
    const unique = new Map<string, string>();
    for (const v of vary) if (!unique.has(v.toLowerCase())) unique.set(v.toLowerCase(), v);
    out.vary = unique.has('*') ? '*' : [...unique.values()].join(', ');
  }
  return out;
}

/**
 * The most restrictive of several `cache-control` values: `no-store` when any part says so or
 * sends none (its data carries no permission to be cached), `private` over `public`, the
 * smallest ages, any revalidation requirement; directives not understood are dropped.
 */
export function mergeCacheControl(values: readonly (string | undefined)[]): string {
  const parsed = values.map((value) =>
    value === undefined
      ? undefined
      : new Map<string, string | true>(
          value
            .split(',')
            .map((d) => d.trim())
            .filter((d) => d !== '')
            .map((d) => {
              const eq = d.indexOf('=');
              return eq < 0
                ? ([d.toLowerCase(), true] as const)
                : ([
                    d.slice(0, eq).trim().toLowerCase(),
                    d
                      .slice(eq + 1)
                      .trim()
                      .replace(/^"|"$/g, ''),
                  ] as const);
            }),
        ),
  );
  if (parsed.length === 0 || parsed.some((p) => p === undefined || p.has('no-store'))) return 'no-store';
  const all = parsed as Map<string, string | true>[];
  const seconds = (p: Map<string, string | true>, name: string): number | undefined => {
    const v = p.get(name);
    return typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : undefined;
  };
  const minOf = (name: string, fallback?: string): number | undefined => {
    const ages = all.map(
      (p) => seconds(p, name) ?? (fallback === undefined ? undefined : seconds(p, fallback)),
    );
    return ages.some((a) => a === undefined) ? undefined : Math.min(...(ages as number[]));
  };
  const any = (name: string) => all.some((p) => p.has(name));
  const every = (name: string) => all.every((p) => p.has(name));
  const out: string[] = [];
  if (any('private')) out.push('private');
  else if (every('public')) out.push('public');
  const maxAge = minOf('max-age');
  // A part with no max-age gives no freshness; revalidating every time is what it can promise.
  if (any('no-cache') || maxAge === undefined) out.push('no-cache');
  if (maxAge !== undefined) out.push(`max-age=${maxAge}`);
  if (any('s-maxage') && !any('private')) {
    const shared = minOf('s-maxage', 'max-age');
    if (shared !== undefined) out.push(`s-maxage=${shared}`);
  }
  for (const flag of ['must-revalidate', 'proxy-revalidate', 'no-transform']) if (any(flag)) out.push(flag);
  for (const name of ['stale-while-revalidate', 'stale-if-error']) {
    const age = minOf(name);
    if (age !== undefined) out.push(`${name}=${age}`);
  }
  if (every('immutable')) out.push('immutable');
  return out.join(', ');
}
