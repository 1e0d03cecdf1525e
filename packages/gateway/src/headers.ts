/**
 * Header handling in one pass (internal): what a client's request carries that the gateway
 * needs, and what goes upstream. Hop-by-hop headers (RFC 9110 §7.6.1: `Connection` and the
 * headers it lists, `Keep-Alive`, `Proxy-*`, `TE`, `Trailer`, `Transfer-Encoding`, `Upgrade`)
 * never cross the gateway, in either direction; internal headers a client must not be able to
 * set (`authorization`, `x-flotilla-*`, `x-request-deadline`, `x-forwarded-*` unless trusted) are
 * replaced by the gateway's own.
 */

// What the pass does with a header, by lower-case name.
const FORWARD = 0;
const DROP = 1;
const AUTHORIZATION = 2;
const HOST = 3;
const REQUEST_ID = 4;
const TRACEPARENT = 5;
const CONNECTION = 6;
const CONTENT_LENGTH = 7;
const TRANSFER_ENCODING = 8;
const ORIGIN = 9;
const COOKIE = 10;
const IDEMPOTENCY_KEY = 11;
const FORWARDED_FOR = 12;
const FORWARDED_PROTO = 13;
const FORWARDED_HOST = 14;
const CONTENT_TYPE = 15;

const ACTIONS: ReadonlyMap<string, number> = new Map([
  ['keep-alive', DROP],
  ['proxy-connection', DROP],
  ['proxy-authorization', DROP],
  ['proxy-authenticate', DROP],
  ['te', DROP],
  ['trailer', DROP],
  ['upgrade', DROP],
  ['expect', DROP],
  ['forwarded', DROP],
  ['x-request-deadline', DROP],
  ['authorization', AUTHORIZATION],
  ['host', HOST],
  ['x-request-id', REQUEST_ID],
  ['traceparent', TRACEPARENT],
  ['connection', CONNECTION],
  ['content-length', CONTENT_LENGTH],
  ['transfer-encoding', TRANSFER_ENCODING],
  ['origin', ORIGIN],
  ['cookie', COOKIE],
  ['idempotency-key', IDEMPOTENCY_KEY],
  ['x-forwarded-for', FORWARDED_FOR],
  ['x-forwarded-proto', FORWARDED_PROTO],
  ['x-forwarded-host', FORWARDED_HOST],
  ['content-type', CONTENT_TYPE],
]);

/** Tokens of `Connection` that name no other header. */
const CONNECTION_OPTIONS: ReadonlySet<string> = new Set(['close', 'keep-alive']);

/** What one pass over a request's headers found (internal). */
export class RequestHeaders {
  /**
   * The headers that go upstream as they are: lower-case name, value, name, value, …
   * (`Array.of()`, not `[]`, as for `Exchange.extra`).
   */
  readonly out: string[] = Array.of<string>();
  authorization: string | undefined = undefined;
  host: string | undefined = undefined;
  requestId: string | undefined = undefined;
  traceparent: string | undefined = undefined;
  origin: string | undefined = undefined;
  cookie: string | undefined = undefined;
  contentType: string | undefined = undefined;
  contentLength: string | undefined = undefined;
  /** A `Transfer-Encoding` was sent (the body is chunked). */
  chunked = false;
  idempotencyKey = false;
  forwardedFor: string | undefined = undefined;
  forwardedProto: string | undefined = undefined;
  forwardedHost: string | undefined = undefined;
  /** More than one `Content-Length`, `Host` or `Authorization`: a smuggling attempt or a broken client. */
  duplicate: string | undefined = undefined;

  /**
   * Reads `raw` (node's `rawHeaders`) once. `drop` names extra headers to leave out (a target's
   * `remove` and `set` rules).
   */
  constructor(raw: readonly string[], drop: ReadonlySet<string> | undefined) {
    const out = this.out;
    let connection: string | undefined;
    for (let i = 0; i < raw.length; i += 2) {
      const name = (raw[i] as string).toLowerCase();
      const value = raw[i + 1] as string;
      const action = ACTIONS.get(name);
      if (action === undefined) {
        // x-flotilla-* are the gateway's to set.
        if (name.charCodeAt(0) === 120 /* x */ && name.startsWith('x-flotilla-')) continue;
        if (drop?.has(name)) continue;
        out.push(name, value);
        continue;
      }
      switch (action) {
        case FORWARD:
          out.push(name, value);
          break;
        case DROP:
          break;
        case AUTHORIZATION:
          if (this.authorization !== undefined) this.duplicate = name;
          this.authorization = value;
          break;
        case HOST:
          if (this.host !== undefined) this.duplicate = name;
          this.host = value;
          break;
        case REQUEST_ID:
          this.requestId = value;
          break;
        case TRACEPARENT:
          this.traceparent = value;
          break;
        case CONNECTION:
          connection = connection === undefined ? value : `${connection}, ${value}`;
          break;
        case CONTENT_LENGTH:
          if (this.contentLength !== undefined && this.contentLength !== value) this.duplicate = name;
          this.contentLength = value;
          if (drop === undefined || !drop.has(name)) out.push(name, value);
          break;
        case TRANSFER_ENCODING:
          this.chunked = true;
          break;
        case ORIGIN:
          this.origin = value;
          out.push(name, value);
          break;
        case COOKIE:
          this.cookie = this.cookie === undefined ? value : `${this.cookie}; ${value}`;
          if (drop === undefined || !drop.has(name)) out.push(name, value);
          break;
        case IDEMPOTENCY_KEY:
          this.idempotencyKey = true;
          if (drop === undefined || !drop.has(name)) out.push(name, value);
          break;
        case FORWARDED_FOR:
          this.forwardedFor = this.forwardedFor === undefined ? value : `${this.forwardedFor}, ${value}`;
          break;
        case FORWARDED_PROTO:
          this.forwardedProto = value;
          break;
        case FORWARDED_HOST:
          this.forwardedHost = value;
          break;
        case CONTENT_TYPE:
          this.contentType = value;
          if (drop === undefined || !drop.has(name)) out.push(name, value);
          break;
      }
    }
    if (connection !== undefined) dropListed(out, connection);
  }
}

/** Removes the headers a `Connection` header lists (RFC 9110 §7.6.1). */
function dropListed(out: string[], connection: string): void {
  const listed = new Set<string>();
  for (const token of connection.split(',')) {
    const name = token.trim().toLowerCase();
    if (name !== '' && !CONNECTION_OPTIONS.has(name) && name !== 'content-length') listed.add(name);
  }
  if (listed.size === 0) return;
  let w = 0;
  for (let r = 0; r < out.length; r += 2) {
    if (listed.has(out[r] as string)) continue;
    out[w++] = out[r] as string;
    out[w++] = out[r + 1] as string;
  }
  out.length = w;
}

/** The value of the cookie `name` in a `Cookie` header, or `undefined`. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const pair of header.split(';')) {
    const eq = pair.indexOf('=');
    if (eq < 0) continue;
    if (pair.slice(0, eq).trim() === name) {
      const value = pair.slice(eq + 1).trim();
      return value === '' ? undefined : value;
    }
  }
  return undefined;
}

// Response headers the gateway drops or owns, by lower-case name; only names of these lengths
// are lower-cased at all.
const RESPONSE_HOP = 1;
const RESPONSE_OWNED = 2;
const RESPONSE_CORS = 3;
const RESPONSE_ACTIONS: ReadonlyMap<string, number> = new Map([
  ['connection', RESPONSE_HOP],
  ['keep-alive', RESPONSE_HOP],
  ['transfer-encoding', RESPONSE_HOP],
  ['upgrade', RESPONSE_HOP],
  ['trailer', RESPONSE_HOP],
  ['te', RESPONSE_HOP],
  ['proxy-connection', RESPONSE_HOP],
  ['proxy-authenticate', RESPONSE_HOP],
  ['x-request-id', RESPONSE_OWNED],
  ['x-content-type-options', RESPONSE_OWNED],
  ['x-frame-options', RESPONSE_OWNED],
  ['referrer-policy', RESPONSE_OWNED],
  ['strict-transport-security', RESPONSE_OWNED],
  ['access-control-allow-origin', RESPONSE_CORS],
  ['access-control-allow-credentials', RESPONSE_CORS],
  ['access-control-expose-headers', RESPONSE_CORS],
  ['access-control-allow-methods', RESPONSE_CORS],
  ['access-control-allow-headers', RESPONSE_CORS],
  ['access-control-max-age', RESPONSE_CORS],
]);
const INTERESTING_LENGTH = new Uint8Array(64);
for (const name of RESPONSE_ACTIONS.keys()) INTERESTING_LENGTH[name.length] = 1;
INTERESTING_LENGTH['content-length'.length] = 1;
INTERESTING_LENGTH['content-type'.length] = 1;

/**
 * Buffer's own latin1 decoder, without `toString`'s encoding dispatch (a tenth of the cost of a
 * whole response head on the hot path). Node has had it on every Buffer since v0.x.
 */
interface Latin1 {
  latin1Slice(): string;
}

/**
 * What the gateway learnt from an upstream's response headers. A class, not a literal, since it
 * lives as long as the request (as `Exchange.extra`).
 */
export class ResponseHeadInfo {
  /** The `content-length` value, or -1. */
  contentLength = -1;
  contentType: string | undefined = undefined;
}

/**
 * Converts undici's raw response headers (Buffers) into the flat list `writeHead` takes,
 * without hop-by-hop headers and the ones the gateway sets itself (CORS ones only when the
 * gateway answers CORS), then appends the gateway's `fixed` and per-request `extra` headers.
 * Fills `info`.
 */
export function responseHeaders(
  raw: readonly Buffer[],
  fixed: readonly string[],
  extra: readonly string[],
  gatewayCors: boolean,
  info: ResponseHeadInfo,
): string[] {
  const out: string[] = [];
  let listed: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = (raw[i] as unknown as Latin1).latin1Slice();
    const value = (raw[i + 1] as unknown as Latin1).latin1Slice();
    if (name.length < 64 && INTERESTING_LENGTH[name.length] === 1) {
      const lower = name.toLowerCase();
      const action = RESPONSE_ACTIONS.get(lower);
      if (action === RESPONSE_HOP || action === RESPONSE_OWNED || (action === RESPONSE_CORS && gatewayCors)) {
        if (lower === 'connection') listed = listed === undefined ? value : `${listed}, ${value}`;
        continue;
      }
      if (lower === 'content-length') info.contentLength = Number(value);
      else if (lower === 'content-type') info.contentType = value;
    }
    out.push(name, value);
  }
  // Only a Connection header naming other headers needs a second pass.
  if (listed !== undefined && !CONNECTION_OPTIONS.has(listed.trim().toLowerCase()))
    dropListedAnyCase(out, listed);
  for (let i = 0; i < fixed.length; i++) out.push(fixed[i] as string);
  for (let i = 0; i < extra.length; i++) out.push(extra[i] as string);
  return out;
}

function dropListedAnyCase(out: string[], connection: string): void {
  const listed = new Set<string>();
  for (const token of connection.split(',')) {
    const name = token.trim().toLowerCase();
    if (name !== '' && !CONNECTION_OPTIONS.has(name) && name !== 'content-length') listed.add(name);
  }
  if (listed.size === 0) return;
  let w = 0;
  for (let r = 0; r < out.length; r += 2) {
    if (listed.has((out[r] as string).toLowerCase())) continue;
    out[w++] = out[r] as string;
    out[w++] = out[r + 1] as string;
  }
  out.length = w;
}
