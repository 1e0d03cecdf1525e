import { FlotillaError, type FlotillaErrorOptions, hasFlotillaCode } from '@flotilla/resilience';
import { request } from 'undici';
import { findAdminToken } from '../admin-token.js';
import { isUsageError, UsageError } from '../cli/args.js';
import { parseTraces, type TraceSpan } from './trace-file.js';

/**
 * Raised when the spans of a running system cannot be read: `status` is the HTTP status of the
 * answer (undefined when there was none) and `reason` says why — `UNREACHABLE`, `NO_TOKEN`,
 * `MALFORMED_ANSWER`, or the code the control API answered with (`UNAUTHORIZED`, …). The message
 * reads `cannot read spans from <url>: [<status> ]<reason>: <detail>`.
 */
export class LiveSpansError extends FlotillaError {
  override readonly name = 'LiveSpansError';
  readonly retryable: boolean;

  constructor(
    /** What went wrong and what to do about it. */
    detail: string,
    /** The control API's base URL. */
    readonly url: string,
    /** The HTTP status of the answer; undefined when nothing answered. */
    readonly status: number | undefined,
    /** `UNREACHABLE`, `NO_TOKEN`, `MALFORMED_ANSWER` or the control API's error code. */
    readonly reason: string,
    options?: FlotillaErrorOptions,
  ) {
    super(
      'LIVE_SPANS_FAILED',
      `cannot read spans from ${url}: ${status === undefined ? '' : `${status} `}${reason}: ${detail}`,
      options,
    );
    this.retryable = reason === 'UNREACHABLE' || (status !== undefined && status >= 500);
  }
}

/** True when `err` is a {@link LiveSpansError} (from any copy of this package). */
export function isLiveSpansError(err: unknown): err is LiveSpansError {
  return hasFlotillaCode(err, 'LIVE_SPANS_FAILED');
}

/** Options of {@link fetchLiveSpans}. */
export interface LiveSpansOptions {
  /** The control API's bearer token (`FLOTILLA_ADMIN_TOKEN`). */
  readonly token: string;
  /** Only spans that started at or after this epoch millisecond. @default every span held */
  readonly sinceMs?: number;
  /** How long to wait for the answer, in milliseconds. @default 30000 */
  readonly timeoutMs?: number;
  /** Cancels the request. */
  readonly signal?: AbortSignal;
}

/**
 * The control API's base URL as given (`http://127.0.0.1:7100`, a trailing slash allowed), checked
 * and without the trailing slash; a {@link UsageError} for anything that is not http(s).
 */
export function liveBaseUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(
      `--live must be the control API's URL (http://127.0.0.1:7100), got "${text}"`,
      'doctor',
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new UsageError(`--live must be an http(s) URL, got "${text}"`, 'doctor');
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

/**
 * The admin token to read a running system's spans with: `explicit` (`--token`), else
 * `FLOTILLA_ADMIN_TOKEN` in `env`, else the one in the system's data directory (`secrets.json`,
 * as `flotilla up` generated it), found by {@link findAdminToken}. Throws a {@link LiveSpansError}
 * (`NO_TOKEN`) when there is none.
 */
export function liveToken(
  system: { readonly dataDir: string },
  url: string,
  explicit: string | undefined,
  env: Readonly<Record<string, string | undefined>>,
): string {
  const token = findAdminToken(system, explicit, env);
  if (token !== undefined) return token;
  throw new LiveSpansError(
    `no admin token: pass --token, set FLOTILLA_ADMIN_TOKEN, or name the system flotilla up started (its data directory ${system.dataDir} holds secrets.json)`,
    url,
    undefined,
    'NO_TOKEN',
  );
}

/**
 * Reads every span a running system still holds — each running instance's and the gateway's —
 * from its control API: `GET <url>/console/api/spans[?sinceMs=…]` with the admin token, as
 * `flotilla up` serves it. Throws {@link LiveSpansError} when nothing answers, the token is
 * refused, or the answer is not `{ spans: SpanRecord[] }`.
 *
 * @example
 * const spans = await fetchLiveSpans('http://127.0.0.1:7100', { token: process.env.FLOTILLA_ADMIN_TOKEN! });
 */
export async function fetchLiveSpans(url: string, options: LiveSpansOptions): Promise<TraceSpan[]> {
  const base = liveBaseUrl(url);
  const endpoint = `${base}/console/api/spans${options.sinceMs === undefined ? '' : `?sinceMs=${Math.floor(options.sinceMs)}`}`;
  const timeoutMs = options.timeoutMs ?? 30_000;
  let res: Awaited<ReturnType<typeof request>>;
  try {
    res = await request(endpoint, {
      method: 'GET',
      headers: { authorization: `Bearer ${options.token}`, accept: 'application/json' },
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
  } catch (err) {
    if (options.signal?.aborted === true) throw err;
    const cause = (err as { code?: string }).code ?? (err as Error).message;
    throw new LiveSpansError(
      `nothing answered (${cause}); is the system running? flotilla up prints its control API's URL`,
      base,
      undefined,
      'UNREACHABLE',
      { cause: err },
    );
  }
  let text: string;
  try {
    text = await res.body.text();
  } catch (err) {
    throw new LiveSpansError(
      `the answer broke off (${(err as { code?: string }).code ?? (err as Error).message})`,
      base,
      res.statusCode,
      'UNREACHABLE',
      { cause: err },
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  if (res.statusCode >= 400) {
    const error = (json as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
    const code = typeof error?.code === 'string' ? error.code : `HTTP_${res.statusCode}`;
    const said = typeof error?.message === 'string' ? error.message : 'no error message';
    const hint =
      res.statusCode === 401
        ? ' (the admin token was refused: pass the one of the system behind this URL with --token or FLOTILLA_ADMIN_TOKEN; flotilla up keeps it in the data directory, secrets.json)'
        : res.statusCode === 404
          ? ' (does this URL serve the console API? flotilla up serves it unless --no-console)'
          : '';
    throw new LiveSpansError(`${said}${hint}`, base, res.statusCode, code);
  }
  const malformed = (what: string): never => {
    throw new LiveSpansError(what, base, res.statusCode, 'MALFORMED_ANSWER');
  };
  if (json === undefined) malformed('the body is not JSON; is this a flotilla control API?');
  if (typeof json !== 'object' || json === null || !Array.isArray((json as { spans?: unknown }).spans))
    malformed('expected { "spans": [...] }; is this a flotilla control API?');
  try {
    return parseTraces(json, `${base}/console/api/spans`);
  } catch (err) {
    if (!isUsageError(err)) throw err;
    return malformed(err.message.replace(`${base}/console/api/spans: `, ''));
  }
}
