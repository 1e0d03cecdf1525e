import type { GatewayConfig } from './config.js';

/**
 * Request hygiene at the edge (internal): path normalisation that refuses traversal and
 * smuggling, CORS, and the security headers added to every response.
 */

/** Why a request target was refused (always a 400). */
export interface PathProblem {
  readonly code: 'BAD_PERCENT_ENCODING' | 'PATH_TRAVERSAL' | 'ENCODED_SEPARATOR' | 'INVALID_PATH';
  readonly message: string;
}

/** A request target split into its normalized path and its raw query (with the `?`, or `''`). */
export interface RequestTarget {
  readonly path: string;
  readonly query: string;
}

// Anything outside visible ASCII: control characters, space, DEL and raw non-ASCII bytes.
const NOT_VISIBLE_ASCII = /[^\x21-\x7e]/;
// What sends a path down the slow, careful route: escapes, backslashes, dot segments, `//`.
const NEEDS_CARE = /[%\\]|\/\.|\/\//;
const HEX = /^[0-9A-Fa-f]{2}$/;
/** Characters whose escapes are decoded: RFC 3986 unreserved, plus ":" and "@" (route patterns may use them). */
const DECODED = /[A-Za-z0-9\-._~:@]/;

const problem = (code: PathProblem['code'], message: string): PathProblem => ({ code, message });

/**
 * Splits and normalizes a request target (`req.url`). The path is what routes match and what
 * goes upstream, so a path that could mean something else to the upstream is refused:
 * - escapes of unreserved characters (and `:`, `@`) are decoded, others kept with upper-case hex,
 *   so `/%61dmin` is `/admin` for the router as it will be for the upstream;
 * - malformed escapes, encoded `/` or `\` (`%2F`, `%5C`), encoded NUL, raw backslashes, `//`,
 *   and dot segments (`/../`, `/./`, `%2e%2e`, `..;`) are refused;
 * - anything but visible ASCII (control characters, spaces, raw UTF-8) is refused.
 */
export function normalizeTarget(url: string): RequestTarget | PathProblem {
  if (url.charCodeAt(0) !== 47 /* / */)
    return problem('INVALID_PATH', 'the request target must be an absolute path starting with "/"');
  if (NOT_VISIBLE_ASCII.test(url))
    return problem('INVALID_PATH', 'the request target may only contain visible ASCII characters');
  const q = url.indexOf('?');
  const rawPath = q < 0 ? url : url.slice(0, q);
  const query = q < 0 ? '' : url.slice(q);
  if (!NEEDS_CARE.test(rawPath)) return { path: rawPath, query };
  const path = carefulPath(rawPath);
  return typeof path === 'string' ? { path, query } : path;
}

function carefulPath(raw: string): string | PathProblem {
  const segments = raw.slice(1).split('/');
  let out = '';
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i] as string;
    if (segment === '' && i < segments.length - 1)
      return problem('INVALID_PATH', 'empty path segments ("//") are not allowed');
    if (segment.includes('\\')) return problem('INVALID_PATH', 'backslashes are not allowed in the path');
    let decoded = '';
    for (let j = 0; j < segment.length; j++) {
      const c = segment[j] as string;
      if (c !== '%') {
        decoded += c;
        continue;
      }
      const hex = segment.slice(j + 1, j + 3);
      if (!HEX.test(hex))
        return problem('BAD_PERCENT_ENCODING', `malformed percent-escape at "${segment.slice(j, j + 3)}"`);
      const code = Number.parseInt(hex, 16);
      if (code === 0x2f || code === 0x5c)
        return problem('ENCODED_SEPARATOR', 'encoded "/" or "\\" (%2F, %5C) is not allowed in the path');
      if (code < 0x20 || code === 0x7f)
        return problem(
          'INVALID_PATH',
          'encoded control characters (%00–%1F, %7F) are not allowed in the path',
        );
      const char = String.fromCharCode(code);
      decoded += DECODED.test(char) ? char : `%${hex.toUpperCase()}`;
      j += 2;
    }
    if (decoded === '.' || decoded === '..' || decoded.startsWith('..;') || decoded.startsWith('.;'))
      return problem('PATH_TRAVERSAL', 'dot segments ("." and "..") are not allowed in the path');
    out += `/${decoded}`;
  }
  return out;
}

/** The CORS policy of a configuration, with its headers rendered once. */
export interface CorsPolicy {
  /** Whether `origin` may call the gateway. */
  allows(origin: string): boolean;
  /** Response headers (flat name/value list) for a simple or actual request from an allowed `origin`. */
  responseHeaders(origin: string): string[];
  /** Response headers for an allowed preflight. */
  preflightHeaders(origin: string): string[];
}

/** Gateway headers browsers may read in cross-origin responses. */
const EXPOSED = 'x-request-id, retry-after, ratelimit-limit, ratelimit-remaining, ratelimit-reset';

/** Compiles the `cors` section; `undefined` when CORS is off. */
export function createCorsPolicy(config: GatewayConfig['cors']): CorsPolicy | undefined {
  if (config === undefined) return undefined;
  const any = config.origins === '*';
  const origins = new Set(any ? [] : (config.origins as string[]).map((o) => new URL(o).origin));
  // A credentialed response may not say "*": the origin is echoed instead.
  const echo = !any || config.credentials;
  const credentials = config.credentials ? ['access-control-allow-credentials', 'true'] : [];
  const methods = config.methods.join(', ');
  const headers = config.headers.join(', ');
  const maxAge = String(config.maxAgeSec);
  const allowOrigin = (origin: string): string[] =>
    echo ? ['access-control-allow-origin', origin, 'vary', 'origin'] : ['access-control-allow-origin', '*'];
  return {
    allows: (origin) => any || origins.has(origin),
    responseHeaders: (origin) => [
      ...allowOrigin(origin),
      ...credentials,
      'access-control-expose-headers',
      EXPOSED,
    ],
    preflightHeaders: (origin) => [
      ...allowOrigin(origin),
      ...credentials,
      'access-control-allow-methods',
      methods,
      'access-control-allow-headers',
      headers,
      'access-control-max-age',
      maxAge,
    ],
  };
}

/** Added to every response: no MIME sniffing, no framing, no referrer leaks. */
export const SECURITY_HEADERS: readonly string[] = Object.freeze([
  'x-content-type-options',
  'nosniff',
  'x-frame-options',
  'DENY',
  'referrer-policy',
  'no-referrer',
]);

/** Added when the client reached the gateway over TLS (`x-forwarded-proto: https` from the terminating proxy). */
export const HSTS_HEADER: readonly string[] = Object.freeze([
  'strict-transport-security',
  'max-age=31536000; includeSubDomains',
]);
