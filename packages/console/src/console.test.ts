import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { defineService, discovery, type RunningService } from '@flotilla/service';
import { startForTest, testServiceKey } from '@flotilla/service/testing';
import { type Console, createConsole } from './console.js';
import type { ConsoleSnapshot, ConsoleTrace, ConsoleTraceList } from './contract.js';
import type { ConsoleHost, HostInstance } from './host.js';

const TOKEN = 'console-test-admin-token-0123456789abcdef';

/** Reads Server-Sent Events from a response until `want` returns a value. */
async function readEvents<T>(
  res: Response,
  want: (event: string, data: string) => T | undefined,
): Promise<T> {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) throw new Error('stream ended');
      buffer += decoder.decode(value, { stream: true });
      let end = buffer.indexOf('\n\n');
      while (end >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (event !== undefined && data !== undefined) {
          const hit = want(event, data);
          if (hit !== undefined) return hit;
        }
        end = buffer.indexOf('\n\n');
      }
    }
  } finally {
    await reader.cancel();
  }
}

/** A GET with the path sent exactly as written (fetch would normalise `..`). */
function rawGet(base: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}${path}`, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.path = path;
    req.end();
  });
}

describe('the console against two real services', () => {
  let back: RunningService<unknown>;
  let front: RunningService<unknown>;
  let server: Server;
  let webConsole: Console;
  let base: string;
  const acted: string[] = [];

  before(async () => {
    back = await startForTest(
      defineService({ name: 'back', version: '1.0.0' }).route({
        method: 'GET',
        path: '/work',
        handler: () => ({ done: true }),
      }),
    );
    front = await startForTest(
      defineService({ name: 'front', version: '1.0.0' }).route({
        method: 'GET',
        path: '/go',
        auth: 'none',
        handler: (_input, ctx) => ctx.client('back').get('/work'),
      }),
      { discovery: discovery({ env: { FLOTILLA_BACK_URL: back.url } }) },
    );
    const instances: HostInstance[] = [
      {
        service: 'front',
        instance: 0,
        url: front.url,
        pid: process.pid,
        state: 'ready',
        restarts: 0,
        uptimeMs: 1,
        critical: true,
      },
      {
        service: 'back',
        instance: 0,
        url: back.url,
        pid: process.pid,
        state: 'ready',
        restarts: 0,
        uptimeMs: 1,
        critical: true,
      },
      {
        service: 'spare',
        instance: 0,
        url: 'http://127.0.0.1:9',
        pid: null,
        state: 'stopped',
        restarts: 0,
        uptimeMs: null,
        critical: false,
      },
    ];
    const webRoot = mkdtempSync(join(tmpdir(), 'console-web-'));
    writeFileSync(join(webRoot, 'index.html'), '<!doctype html><title>console</title>');
    const host: ConsoleHost = {
      system: { name: 'pair', profile: null },
      adminToken: TOKEN,
      serviceKey: testServiceKey,
      gateway: undefined,
      status: () => instances,
      act: async (action, service, instance) => {
        if (!instances.some((i) => i.service === service))
          throw Object.assign(new Error(`unknown service "${service}"`), {
            status: 404,
            code: 'UNKNOWN_SERVICE',
          });
        acted.push(`${action} ${service} ${instance ?? '*'}`);
        return instances.filter((i) => i.service === service);
      },
      onEvent: () => ({ dispose: () => {} }),
    };
    webConsole = createConsole({ host, webRoot, intervalMs: 100, heartbeatMs: 60_000 });
    server = createServer((req, res) => {
      void webConsole.handle(req, res).then((handled) => {
        if (!handled) res.writeHead(404).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(async () => {
    await webConsole.close();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await front.close();
    await back.close();
  });

  const auth = { authorization: `Bearer ${TOKEN}` };
  const api = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${base}/console/api${path}`, {
      method,
      headers: body === undefined ? auth : { ...auth, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
    return {
      status: res.status,
      body: (await res.json()) as Record<string, unknown> & { error?: { code: string } },
    };
  };

  it('refuses the API without the admin token and serves the web app without it', async () => {
    assert.equal((await fetch(`${base}/console/api/snapshot`)).status, 401);
    const wrong = await fetch(`${base}/console/api/snapshot`, { headers: { authorization: 'Bearer nope' } });
    assert.equal(wrong.status, 401);
    assert.equal(((await wrong.json()) as { error: { code: string } }).error.code, 'UNAUTHORIZED');
    const page = await fetch(`${base}/console/`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /text\/html/);
    assert.match(await page.text(), /<title>console<\/title>/);
    // Client-side routes get the app; files outside the web root are never served.
    assert.equal((await fetch(`${base}/console/traces`)).status, 200);
    for (const path of [
      '/console/..%2f..%2fpackage.json',
      '/console/../../package.json',
      '/console/%2e%2e/package.json',
    ]) {
      const answer = await rawGet(base, path);
      assert.doesNotMatch(answer.body, /"dependencies"/, path);
      assert.notEqual(answer.status, 200, path);
    }
    const redirect = await fetch(`${base}/console`, { redirect: 'manual' });
    assert.equal(redirect.status, 308);
    assert.equal(redirect.headers.get('location'), '/console/');
  });

  it('draws the call edge, the breaker tile and the traces from the services’ own spans', async () => {
    for (let i = 0; i < 5; i++) assert.equal((await fetch(`${front.url}/go`)).status, 200);
    // The first poll reads the last window of spans; the current second is not counted yet.
    let snapshot: ConsoleSnapshot | undefined;
    for (let i = 0; i < 40; i++) {
      snapshot = (await api('GET', '/snapshot')).body as unknown as ConsoleSnapshot;
      if (snapshot.edges.some((e) => e.from === 'front' && e.to === 'back' && e.count >= 5)) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const edge = snapshot!.edges.find((e) => e.from === 'front' && e.to === 'back');
    assert.equal(edge?.kind, 'call');
    assert.equal(edge?.count, 5);
    assert.equal(edge?.errorRate, 0);
    assert.ok((edge?.p99Ms ?? -1) >= 0);
    const tile = snapshot!.resilience.find((t) => t.caller === 'front' && t.upstream === 'back');
    assert.equal(tile?.breaker, 'closed');
    assert.equal(tile?.window.successes, 5);
    assert.deepEqual(
      snapshot!.services.map((s) => [s.service, s.health]),
      [
        ['front', 'ready'],
        ['back', 'ready'],
        ['spare', 'down'],
      ],
    );
    assert.equal(snapshot!.faults.available, false);
    assert.equal(snapshot!.load, null);
    assert.deepEqual(snapshot!.problems, []);

    const traces = (await api('GET', '/traces?limit=10')).body as unknown as ConsoleTraceList;
    const go = traces.items.find((t) => t.name === 'front GET /go');
    assert.ok(go !== undefined, JSON.stringify(traces.items));
    const trace = (await api('GET', `/traces/${go.traceId}`)).body as unknown as ConsoleTrace;
    assert.deepEqual([...new Set(trace.spans.map((s) => `${s.service}:${s.kind}`))].sort(), [
      'back:server',
      'front:client',
      'front:server',
    ]);
    const all = (await api('GET', '/spans')).body as unknown as ConsoleTrace;
    assert.ok(all.spans.filter((s) => s.traceId === go.traceId).length >= 3);
    assert.equal((await api('GET', '/spans?sinceMs=yesterday')).status, 400);
    const missing = await api('GET', `/traces/${'0'.repeat(32)}`);
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error?.code, 'TRACE_NOT_FOUND');
  });

  it('streams snapshots over Server-Sent Events', async () => {
    const res = await fetch(`${base}/console/api/stream`, { headers: auth });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /text\/event-stream/);
    const snapshot = await readEvents(res, (event, data) =>
      event === 'snapshot' ? (JSON.parse(data) as ConsoleSnapshot) : undefined,
    );
    assert.equal(snapshot.system.name, 'pair');
    assert.equal(snapshot.series.length, 120);
  });

  it('answers bad requests with a status, a code and a message', async () => {
    const cases: [string, string, unknown, number, string][] = [
      ['POST', '/faults', { service: 'back', latencyMs: 10 }, 409, 'NO_FAULT_PROXIES'],
      ['POST', '/load', { concurrency: 2 }, 409, 'NO_LOAD_SCENARIO'],
      ['PUT', '/migrations/x/weight', { weight: 'half' }, 400, 'VALIDATION_FAILED'],
      ['PUT', '/migrations/x/weight', '{"weight":', 400, 'MALFORMED_JSON'],
      ['PUT', '/migrations/x/weight', { weight: 10 }, 404, 'NO_GATEWAY'],
      ['GET', '/sagas?state=lost', undefined, 400, 'VALIDATION_FAILED'],
      ['GET', '/sagas/front/x', undefined, 404, 'NO_SAGAS'],
      ['GET', '/traces/not-hex', undefined, 400, 'VALIDATION_FAILED'],
      ['GET', '/traces?limit=0', undefined, 400, 'VALIDATION_FAILED'],
      ['POST', '/services/back/explode', undefined, 404, 'UNKNOWN_ACTION'],
      ['POST', '/services/back/kill?instance=-1', undefined, 400, 'VALIDATION_FAILED'],
      ['POST', '/services/ghost/kill', undefined, 404, 'UNKNOWN_SERVICE'],
      ['GET', '/nothing', undefined, 404, 'NOT_FOUND'],
    ];
    for (const [method, path, body, status, code] of cases) {
      const res = await api(method, path, body);
      assert.equal(res.status, status, `${method} ${path}`);
      assert.equal(res.body.error?.code, code, `${method} ${path}`);
      assert.equal(typeof (res.body.error as { message?: unknown }).message, 'string');
    }
    const text = await fetch(`${base}/console/api/migrations/x/weight`, {
      method: 'PUT',
      headers: { ...auth, 'content-type': 'text/plain' },
      body: 'x',
    });
    assert.equal(text.status, 415);
  });

  it('runs service actions through the host and lists no sagas when no service runs any', async () => {
    const res = await api('POST', '/services/back/restart?instance=0');
    assert.equal(res.status, 200);
    assert.deepEqual(acted.at(-1), 'restart back 0');
    assert.deepEqual((await api('GET', '/sagas')).body, { items: [] });
    assert.deepEqual((await api('GET', '/dead-letters')).body, { items: [] });
  });
});
