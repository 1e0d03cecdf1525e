import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { manualClock } from '@flotilla/resilience';
import { z } from 'zod';
import { defineService, type RunningService } from './define-service.js';
import { discovery } from './discovery.js';
import { startForTest } from './testing.js';

/** A service that reports what it saw of the request: trace, parent span, deadline, caller. */
function echoService(name: string) {
  return defineService({ name, version: '1.0.0' }).route({
    method: 'GET',
    path: '/seen',
    handler: (_input, ctx) => ({
      service: name,
      traceId: ctx.trace.traceId,
      parentSpanId: ctx.trace.parentSpanId ?? null,
      deadline: ctx.deadline ?? null,
      caller: ctx.caller?.service ?? null,
      user: ctx.user?.id ?? null,
    }),
  });
}

const Seen = z.object({
  service: z.string(),
  traceId: z.string(),
  parentSpanId: z.string().nullable(),
  deadline: z.number().nullable(),
  caller: z.string().nullable(),
  user: z.string().nullable(),
});

describe('three services A → B, A → C (real servers)', () => {
  const running: RunningService<unknown>[] = [];
  after(async () => {
    for (const s of running.reverse()) await s.close();
  });

  it('propagates the trace and the deadline, then opens, probes and closes the breaker as B dies and returns', async () => {
    const b = await startForTest(echoService('b'));
    const c = await startForTest(echoService('c'));
    running.push(b, c);
    const clock = manualClock();
    const a = defineService({ name: 'a', version: '1.0.0' })
      .route({
        method: 'GET',
        path: '/fan',
        auth: 'none',
        handler: async (_input, ctx) => {
          const [fromB, fromC] = await Promise.all([
            ctx.client('b').get('/seen', { schema: Seen }),
            ctx.client('c').get('/seen', { schema: Seen }),
          ]);
          return { b: fromB, c: fromC, self: { traceId: ctx.trace.traceId, spanId: ctx.trace.spanId } };
        },
      })
      .route({
        method: 'GET',
        path: '/b',
        auth: 'none',
        handler: (_input, ctx) => ctx.client('b').get('/seen', { schema: Seen }),
      });
    const bPort = b.port;
    const svcA = await startForTest(a, {
      clock,
      discovery: discovery({ env: { FLOTILLA_B_URL: b.url, FLOTILLA_C_URL: c.url } }),
      upstreamDefaults: { retry: { maxAttempts: 1 } },
    });
    running.push(svcA);

    // 1. Trace and deadline propagation.
    const traceId = '0af7651916cd43dd8448eb211c80319c';
    const deadline = Date.now() + 60_000;
    const res = await fetch(`${svcA.url}/fan`, {
      headers: { traceparent: `00-${traceId}-b7ad6b7169203331-01`, 'x-request-deadline': String(deadline) },
    });
    assert.equal(res.status, 200);
    const body = (await res.json()) as {
      b: z.infer<typeof Seen>;
      c: z.infer<typeof Seen>;
      self: { traceId: string };
    };
    assert.equal(body.self.traceId, traceId);
    assert.equal(body.b.traceId, traceId);
    assert.equal(body.c.traceId, traceId);
    assert.equal(body.b.caller, 'a');
    assert.ok(body.b.deadline !== null && body.b.deadline <= deadline, 'B got a deadline no later than A');
    assert.ok(body.c.deadline !== null && body.c.deadline <= deadline, 'C got a deadline no later than A');
    const clientSpans = svcA.tracer.spans({ traceId }).filter((s) => s.kind === 'client');
    assert.deepEqual(
      clientSpans.map((s) => s.spanId).sort(),
      [body.b.parentSpanId, body.c.parentSpanId].sort(),
    );

    // 2. B dies: calls fail, the breaker opens after 5 failures, then calls fail fast.
    await b.close();
    for (let i = 0; i < 5; i++) {
      const r = await fetch(`${svcA.url}/b`);
      assert.equal(r.status, 503);
      assert.equal(((await r.json()) as { error: { code: string } }).error.code, 'UPSTREAM_UNAVAILABLE');
    }
    const fast = await fetch(`${svcA.url}/b`);
    assert.equal(fast.status, 503);
    assert.equal(((await fast.json()) as { error: { code: string } }).error.code, 'BROKEN_CIRCUIT');
    assert.ok(Number(fast.headers.get('retry-after')) >= 1);
    const breakerState = async () => {
      const info = (await (await fetch(`${svcA.url}/internal/policies`)).json()) as {
        upstreams: { service: string; policy: { policies: { kind: string; state?: string }[] } }[];
      };
      return info.upstreams
        .find((u) => u.service === 'b')
        ?.policy.policies.find((p) => p.kind === 'circuit-breaker')?.state;
    };
    assert.equal(await breakerState(), 'open');

    // 3. B returns on the same port; after the open period the half-open probe succeeds and the circuit closes.
    const b2 = await startForTest(echoService('b'), { port: bPort });
    running.push(b2);
    await clock.advance(10_000);
    assert.equal(await breakerState(), 'half-open');
    const probe = await fetch(`${svcA.url}/b`);
    assert.equal(probe.status, 200);
    assert.equal(await breakerState(), 'closed');
  });
});
