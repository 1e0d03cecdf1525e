import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';

/** Runs an ES module (it may import TypeScript sources) where V8's natives syntax is allowed; returns its output. */
const runWithNativesSyntax = (code: string): string =>
  execFileSync(
    process.execPath,
    ['--conditions=source', '--import', 'tsx', '--allow-natives-syntax', '--input-type=module', '-e', code],
    { encoding: 'utf8' },
  );

test('what a request keeps while in flight stays in the young generation, however many are in flight', () => {
  // V8 pretenures an object or array literal whose objects mostly outlive a young collection, as
  // a request's state does while it waits for its upstream: every later object of that literal
  // is allocated in the old generation, waits there for a full collection, and keeps what it
  // points to alive until then. The gateway and the tracer build that state from classes and
  // Array.of(), which V8 never pretenures.
  const source = (file: string): string => JSON.stringify(new URL(file, import.meta.url).href);
  const printed = runWithNativesSyntax(`
    const { createTracer } = await import('@flotilla/service');
    const { createRouter } = await import(${source('./router.ts')});
    const { RequestHeaders, ResponseHeadInfo } = await import(${source('./headers.ts')});
    const { Exchange } = await import(${source('./exchange.ts')});
    const tracer = createTracer({ service: 'gateway', capacity: 16 });
    const router = createRouter([{ pattern: '/api/items/:id', methods: undefined, value: 'items' }]);
    const raw = ['Host', 'gateway.test', 'Accept', 'application/json', 'User-Agent', 'probe'];
    // Held by an instance, as the gateway holds them (a literal holder would be pretenured itself,
    // and V8 then allocates in the old generation what is stored into it right away).
    class InFlight {
      constructor(hit, head, ex, info, server, client) {
        this.hit = hit;
        this.head = head;
        this.ex = ex;
        this.info = info;
        this.server = server;
        this.client = client;
      }
    }
    const request = () => {
      const hit = router.match('GET', '/api/items/42');
      const head = new RequestHeaders(raw, undefined);
      const ex = new Exchange({}, {}, {}, {}, head, 'GET', 0);
      ex.extra.push('x-request-id', 'r-1');
      head.out.push('x-forwarded-for', '127.0.0.1');
      const server = tracer.startSpan('GET /api/items/:id', { kind: 'server', attributes: { 'http.method': 'GET' } });
      const client = tracer.startSpan('items GET /api/items/:id', {
        kind: 'client',
        parent: server.context,
        attributes: { 'peer.service': 'items' },
      });
      return new InFlight(hit, head, ex, new ResponseHeadInfo(), server, client);
    };
    const inFlight = new Array(50_000);
    for (let i = 0; i < 400_000; i++) {
      const done = inFlight[i % inFlight.length];
      done?.client.end();
      done?.server.end();
      inFlight[i % inFlight.length] = request();
    }
    const young = (o) => %InYoungGeneration(o);
    const old = { hit: 0, headers: 0, extra: 0, info: 0, spans: 0 };
    for (let i = 0; i < 1_000; i++) {
      const r = request();
      if (!young(r.hit)) old.hit++;
      if (!young(r.head.out)) old.headers++;
      if (!young(r.ex.extra)) old.extra++;
      if (!young(r.info)) old.info++;
      for (const span of [r.server, r.client])
        if (!young(span.context) || !young(span.attributes)) old.spans++;
    }
    console.log(JSON.stringify(old));
  `);
  assert.deepEqual(JSON.parse(printed), { hit: 0, headers: 0, extra: 0, info: 0, spans: 0 });
});
