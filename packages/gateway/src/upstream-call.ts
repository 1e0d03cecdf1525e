import type { IncomingHttpHeaders } from 'node:http';
import { UpstreamUnavailableError } from '@flotilla/service';
import type { Dispatcher } from 'undici';
import type { PolicyRunner, Upstream } from './upstream-pool.js';

/**
 * A buffered call to an upstream through its policies, for what the gateway reads itself:
 * aggregate parts and shadow copies (internal). Client requests never take this path; they
 * stream (proxy.ts).
 */

/** A buffered upstream response. */
export interface BufferedResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
  /** The body was longer than `maxBytes` and was cut there. */
  readonly truncated: boolean;
}

/** One buffered request. */
export interface BufferedRequest {
  readonly method: string;
  /** Path and query, without the instance's base path. */
  readonly path: string;
  /** Flat name/value list. */
  readonly headers: readonly string[];
  readonly body: Buffer | null;
  readonly signal?: AbortSignal | undefined;
  /** Longest body read. */
  readonly maxBytes: number;
}

/** Network error codes after which the instance counts as unreachable. */
const NETWORK =
  /^(ECONN|EPIPE|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|EHOST|ENET|UND_ERR_(SOCKET|CLOSED|DESTROYED|CONNECT_TIMEOUT|HEADERS_TIMEOUT|BODY_TIMEOUT))/;

/** Calls `upstream` once per attempt of `policy`, on an instance its balancer picks. */
export function callBuffered(
  upstream: Upstream,
  policy: PolicyRunner,
  request: BufferedRequest,
): Promise<BufferedResponse> {
  return policy.execute(async ({ signal }) => {
    upstream.ensureInstances();
    const endpoint = upstream.balancer.pick();
    if (endpoint === undefined)
      throw new UpstreamUnavailableError(upstream.service, '(none)', new Error('no instance'));
    const { pool, prefix } = endpoint.value;
    try {
      const res = await pool.request({
        path: prefix + request.path,
        method: request.method as Dispatcher.HttpMethod,
        headers: request.headers as string[],
        body: request.body,
        signal,
      });
      const chunks: Buffer[] = [];
      let size = 0;
      let truncated = false;
      for await (const chunk of res.body as AsyncIterable<Buffer>) {
        size += chunk.length;
        if (size > request.maxBytes) {
          truncated = true;
          break;
        }
        chunks.push(chunk);
      }
      upstream.balancer.release(endpoint, res.statusCode >= 500 ? 'failure' : 'success');
      return {
        status: res.statusCode,
        headers: res.headers as IncomingHttpHeaders,
        body: Buffer.concat(chunks),
        truncated,
      };
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      if (signal.aborted) {
        upstream.balancer.release(endpoint, 'neutral');
        throw signal.reason;
      }
      upstream.balancer.release(endpoint, 'failure');
      if (typeof code === 'string' && NETWORK.test(code))
        throw new UpstreamUnavailableError(upstream.service, endpoint.url, err);
      throw err;
    }
  }, request.signal);
}
