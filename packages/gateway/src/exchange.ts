import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ActiveSpan, Tracer } from '@flotilla/service';
import type { Logger } from 'pino';
import type { Identity } from './auth.js';
import { type ErrorReply, errorJson } from './error-reply.js';
import type { RequestHeaders } from './headers.js';
import type { GatewayMetrics, RouteStats } from './metrics.js';
import type { RouteHit } from './router.js';
import type { ServiceTokenCache } from './service-token-cache.js';
import type { CompiledRoute, CompiledTarget, Snapshot } from './snapshot.js';

/** What every request of a gateway shares, whatever its configuration (internal). */
export interface GatewayContext {
  readonly name: string;
  readonly metrics: GatewayMetrics;
  readonly logger: Logger;
  readonly accessLog: boolean;
  /** Service tokens for upstream calls; `undefined` without a service key (nothing is signed). */
  readonly tokens: ServiceTokenCache | undefined;
  readonly trustProxy: boolean;
  /** Wall clock, epoch ms. */
  readonly now: () => number;
  /** Stats of requests that matched no route. */
  readonly unmatched: RouteStats;
  /** Records the server span of every request and a client span per upstream call. */
  readonly tracer: Tracer;
  /** Called when a replaced snapshot's last request finished. */
  release(snapshot: Snapshot): void;
}

/** The status logged for a request whose client left before its response was complete (nginx's). */
export const CLIENT_CLOSED_STATUS = 499;

/**
 * One request through the gateway, from arrival to the last byte of its response (internal).
 * Fields are filled as the pipeline learns them; one object per request keeps the hot path
 * free of closures.
 */
export class Exchange {
  requestId = '';
  traceId = '';
  /** The request's trace and server span as a `traceparent`; each upstream call sends its client span's instead. */
  traceparent = '';
  /** The request's server span, whose id `traceparent` carries; ended by {@link finish}. */
  span: ActiveSpan | undefined = undefined;
  path = '';
  query = '';
  route: CompiledRoute | undefined = undefined;
  hit: RouteHit<CompiledRoute> | undefined = undefined;
  user: Identity | undefined = undefined;
  /**
   * Response headers of this request besides the snapshot's fixed ones (request id, CORS, rate
   * limits). `Array.of()`, not `[]`: V8 pretenures an array literal whose arrays outlive young
   * collections, as a request's do (docs/gateway.md, "Why it is fast"); it never pretenures these.
   */
  extra: string[] = Array.of<string>();
  /** Where the request went, for stats and the access log. */
  target: CompiledTarget | undefined = undefined;
  status = 0;
  /** The response head was written: nothing can be retried or replaced any more. */
  headSent = false;
  /** The client closed the connection before the response was complete. */
  clientGone = false;
  /** Work still to do after the response (a shadow copy) holds the snapshot. */
  pending = 0;
  private settled = false;
  private released = false;

  constructor(
    readonly ctx: GatewayContext,
    readonly snapshot: Snapshot,
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly head: RequestHeaders,
    readonly method: string,
    /** performance.now() at arrival. */
    readonly startedAt: number,
  ) {}

  /** Answers with a JSON body the gateway made (errors, aggregates, preflights use their own). */
  replyJson(status: number, body: string, headers?: readonly string[]): void {
    if (this.headSent) return;
    this.headSent = true;
    const out = [
      'content-type',
      'application/json; charset=utf-8',
      'content-length',
      String(Buffer.byteLength(body)),
      ...this.snapshot.responseHeaders,
      ...this.extra,
    ];
    if (headers !== undefined) for (const h of headers) out.push(h);
    this.res.writeHead(status, out);
    this.res.end(this.method === 'HEAD' ? undefined : body);
    this.finish(status);
  }

  /** Answers with an error in the standard shape. */
  replyError(reply: ErrorReply): void {
    this.span?.setAttribute('error.code', reply.code);
    const headers: string[] =
      reply.retryAfterSec === undefined ? [] : ['retry-after', String(reply.retryAfterSec)];
    if (reply.headers !== undefined) headers.push(...reply.headers);
    this.replyJson(reply.status, errorJson(reply), headers);
  }

  /**
   * Records the request once: stats of its route and upstream, the split's outcome, the server
   * span, the access log line. `broken` tells that the response was cut off after its head (the
   * upstream failed mid-body). The snapshot is released when nothing else holds it.
   */
  finish(status: number, broken = false): void {
    if (this.settled) return;
    this.settled = true;
    this.status = status;
    const durationMs = performance.now() - this.startedAt;
    const target = this.target;
    const stats = target?.stats ?? this.route?.stats ?? this.ctx.unmatched;
    stats.observe(status, durationMs / 1000);
    const split = this.route?.split;
    let side: 'legacy' | 'candidate' | undefined;
    if (split !== undefined && target !== undefined) {
      side = target === split.candidate ? 'candidate' : 'legacy';
      split.controller.record(side, { status, durationMs });
    }
    const span = this.span;
    if (span !== undefined) {
      span.setAttribute('http.status_code', status);
      if (target !== undefined) span.setAttribute('gateway.upstream', target.service);
      if (side !== undefined) span.setAttribute('gateway.side', side);
      span.end(status >= 500 || broken ? 'error' : 'ok');
    }
    if (this.ctx.accessLog)
      this.ctx.logger.info(
        {
          method: this.method,
          path: this.path,
          route: this.route?.id,
          upstream: target?.service,
          status,
          durationMs: Math.round(durationMs * 1000) / 1000,
          reqId: this.requestId,
          traceId: this.traceId,
          user: this.user?.id,
        },
        'request',
      );
    this.done();
  }

  /** Releases the snapshot when the request and its after-work (`pending`) are over. */
  done(): void {
    if (this.pending > 0 || !this.settled || this.released) return;
    this.released = true;
    const snapshot = this.snapshot;
    if (--snapshot.inflight === 0 && snapshot.retired) this.ctx.release(snapshot);
  }

  /** Whether the exchange is over (finished and accounted). */
  get finished(): boolean {
    return this.settled;
  }
}
