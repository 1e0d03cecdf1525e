import { formatTraceparent } from '@flotilla/service';
import { errorJson, replyForUpstreamError, spanErrorCode } from './error-reply.js';
import type { Exchange } from './exchange.js';
import type { CapturedResponse } from './json-compare.js';
import { compareResponses } from './json-compare.js';
import { applyRewrite } from './path-pattern.js';
import { type CompiledSplit, type CompiledTarget, clientSpanName } from './snapshot.js';
import { callBuffered } from './upstream-call.js';

/**
 * Shadow traffic (internal): after the client has its response from legacy, the same request
 * goes to the candidate and both responses are compared. The copy is sent only once the
 * primary response is complete, so it can neither delay nor change what the client gets. It
 * records a client span (`gateway.shadow: true`) under the request's server span.
 */

/** Responses larger than this are not compared (the primary's capture stops there too). */
const COMPARE_LIMIT_BYTES = 1024 * 1024;

/** What a shadow copy needs, prepared before the primary request goes out. */
export interface ShadowPlan {
  readonly split: CompiledSplit;
  readonly target: CompiledTarget;
  /** The request body, read whole before forwarding (bounded by `limits.bodyBytes`). */
  readonly body: Buffer | null;
  /** The client's forwarded headers, before the gateway added its own. */
  readonly headers: readonly string[];
}

/** Sends the shadow copy and records the comparison; never rejects. */
export async function sendShadowCopy(
  ex: Exchange,
  plan: ShadowPlan,
  primary: CapturedResponse,
): Promise<void> {
  const { target, split } = plan;
  const { ctx } = ex;
  try {
    const headers: string[] = [];
    const drop = target.drop;
    for (let i = 0; i < plan.headers.length; i += 2) {
      const name = plan.headers[i] as string;
      if (drop === undefined || !drop.has(name)) headers.push(name, plan.headers[i + 1] as string);
    }
    headers.push('x-request-id', ex.requestId, 'traceparent', ex.traceparent, 'x-flotilla-shadow', '1');
    const traceSlot = headers.length - 3;
    if (ctx.tokens !== undefined && target.sendsToken) {
      const now = ctx.now();
      headers.push(
        'authorization',
        ctx.tokens.cached(target.service, ex.user, now) ?? (await ctx.tokens.mint(target.service, ex.user)),
      );
    }
    headers.push(...target.set);
    const hit = ex.hit;
    const path =
      (target.rewrite === undefined || hit === undefined
        ? ex.path
        : applyRewrite(target.rewrite, hit.values, hit.rest)) + ex.query;
    let candidate: CapturedResponse;
    const span = ctx.tracer.startSpan(
      clientSpanName(target, ex.method, ex.route?.config.match.path ?? ex.path),
      {
        kind: 'client',
        parent: ex.span?.context,
        attributes: {
          'peer.service': target.service,
          'http.method': ex.method,
          'http.target': path,
          'gateway.shadow': true,
        },
      },
    );
    // The candidate's server span is a child of this client span.
    headers[traceSlot] = formatTraceparent(span.context);
    try {
      const res = await callBuffered(target.upstream, target.upstream.once, {
        method: ex.method,
        path,
        headers,
        body: plan.body,
        maxBytes: COMPARE_LIMIT_BYTES,
      });
      span.setAttribute('http.status_code', res.status);
      span.end(res.status >= 500 ? 'error' : 'ok');
      if (res.truncated) return;
      const type = res.headers['content-type'];
      candidate = {
        status: res.status,
        contentType: typeof type === 'string' ? type : undefined,
        body: res.body,
      };
    } catch (err) {
      span.setAttribute('error.code', spanErrorCode(err));
      span.end('error');
      // A candidate that fails where legacy answered is a mismatch like any other.
      const reply = replyForUpstreamError(err, target.service, ex.snapshot.requestTimeoutMs);
      candidate = {
        status: reply.status,
        contentType: 'application/json',
        body: Buffer.from(errorJson(reply)),
      };
    }
    const result = compareResponses(primary, candidate, split.ignore);
    split.controller.recordComparison(result, { method: ex.method, path: ex.path });
    if (!result.match)
      ctx.logger.debug(
        { route: split.controller.routeId, reqId: ex.requestId, differences: result.differences.slice(0, 5) },
        'shadow mismatch',
      );
  } catch (err) {
    ctx.logger.warn({ err, reqId: ex.requestId, route: split.controller.routeId }, 'shadow copy failed');
  }
}
