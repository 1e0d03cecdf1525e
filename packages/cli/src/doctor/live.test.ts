import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { freePorts, runCli, temporaryDirectory, until } from '../fixtures/harness.js';
import { freePortCopy } from '../free-port-copy.js';
import { loadSystem } from '../load-system.js';
import { type RunningSystem, startSystem } from '../start-system.js';
import type { System } from '../validate-system.js';
import type { Finding } from './finding.js';
import { fetchLiveSpans, isLiveSpansError, type LiveSpansError } from './live-spans.js';
import { runDoctor } from './run-doctor.js';

const systemFile = fileURLToPath(new URL('./fixtures/live/flotilla.system.ts', import.meta.url));

function only(findings: readonly Finding[], id: string): Finding {
  const matching = findings.filter((f) => f.id === id);
  assert.equal(matching.length, 1, `one ${id} finding, got ${JSON.stringify(findings, null, 2)}`);
  return matching[0]!;
}

const cli = (...args: string[]) => runCli(['doctor', ...args]);

async function rejection(promise: Promise<unknown>): Promise<LiveSpansError> {
  const err = await promise.then(
    () => assert.fail('expected a rejection'),
    (e: unknown) => e,
  );
  assert.ok(isLiveSpansError(err), `a LiveSpansError, got ${String(err)}`);
  return err;
}

describe('flotilla doctor --live', () => {
  const tmp = temporaryDirectory();
  let system: System;
  let running: RunningSystem;
  const checkouts: string[] = [];
  let basket = '';

  before(async () => {
    system = await freePortCopy(await loadSystem(systemFile), join(tmp.dir, 'data'));
    running = await startSystem(system, {
      write: () => {},
      colour: false,
      pretty: false,
      probeIntervalMs: 200,
    });
    const gateway = running.plan.services.find((s) => s.name === 'gateway')!.instances[0]!.url;
    // Each request starts its own trace, named by the caller so the findings can be checked against it.
    const send = async (method: 'GET' | 'POST', path: string): Promise<string> => {
      const traceId = randomBytes(16).toString('hex');
      const res = await request(`${gateway}${path}`, {
        method,
        headers: {
          traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01`,
          'content-type': 'application/json',
        },
        ...(method === 'POST' ? { body: '{}' } : {}),
      });
      const body = await res.body.text();
      assert.equal(res.statusCode, 200, `${method} ${path}: ${body}`);
      return traceId;
    };
    for (let i = 0; i < 3; i++) checkouts.push(await send('POST', '/checkout'));
    basket = await send('GET', '/basket');
    // A span is recorded when its response has ended: wait until the gateway's of every request is held.
    const sent = new Set([...checkouts, basket]);
    await until(async () => {
      const spans = await fetchLiveSpans(running.control.url, { token: running.control.token });
      return (
        spans.filter((s) => s.service === 'gateway' && s.kind === 'server' && sent.has(s.traceId)).length ===
        4
      );
    }, 15_000);
  });
  after(async () => {
    await running?.stop();
    tmp.remove();
  });

  it('reports the synchronous chain from the gateway and the chatty basket, from the running system', async () => {
    // No token given: it is read from the data directory, as flotilla up left it.
    const report = await runDoctor(system, { live: running.control.url });
    const chain = only(report.findings, 'long-sync-chain');
    assert.equal(
      chain.message,
      `a request waits on a synchronous chain of 4 hops: gateway → front → middle → back → tax (3 requests)`,
    );
    assert.deepEqual(chain.services, ['gateway', 'front', 'middle', 'back', 'tax']);
    assert.equal(chain.evidence[0]!.traceId, checkouts[0]);
    assert.equal(chain.evidence[0]!.file, running.control.url);
    const chatty = only(report.findings, 'chatty-calls');
    assert.match(
      chatty.message,
      /^front → middle: up to 7 calls within one request \(more than 5\) in 1 request$/,
    );
    assert.equal(chatty.evidence[0]!.traceId, basket);
  });

  it('runs from the command line with --live and --token', async () => {
    const { code, out, err } = await cli(
      systemFile,
      '--live',
      `${running.control.url}/`,
      '--token',
      running.control.token,
      '--json',
    );
    assert.equal(code, 0, err);
    const chain = (JSON.parse(out).findings as Finding[]).find((f) => f.id === 'long-sync-chain');
    assert.equal(chain?.evidence[0]?.traceId, checkouts[0]);
  });

  it('says the token was refused (401) with the code the control API sent', async () => {
    const err = await rejection(
      runDoctor(system, { live: { url: running.control.url, token: 'not-the-token' } }),
    );
    assert.equal(err.status, 401);
    assert.equal(err.reason, 'UNAUTHORIZED');
    assert.match(
      err.message,
      /^cannot read spans from http:\/\/127\.0\.0\.1:\d+: 401 UNAUTHORIZED: .*--token/,
    );
    const run = await cli(systemFile, '--live', running.control.url, '--token', 'not-the-token');
    assert.equal(run.code, 1);
    assert.match(run.err, /^flotilla doctor: cannot read spans from .*: 401 UNAUTHORIZED: /);
    assert.doesNotMatch(run.err, /\n\s+at /, 'no stack');
  });

  it('says when nothing answers at the URL', async () => {
    const [port] = await freePorts(1);
    const url = `http://127.0.0.1:${port}`;
    const err = await rejection(fetchLiveSpans(url, { token: 'x' }));
    assert.equal(err.status, undefined);
    assert.equal(err.reason, 'UNREACHABLE');
    assert.match(
      err.message,
      /^cannot read spans from http:\/\/127\.0\.0\.1:\d+: UNREACHABLE: nothing answered \(ECONNREFUSED\)/,
    );
    const run = await cli(systemFile, '--live', url, '--token', 'x');
    assert.equal(run.code, 1);
    assert.match(run.err, /UNREACHABLE: nothing answered/);
  });

  it('says when the answer is not spans', async () => {
    const answers = ['<html>', JSON.stringify({ items: [] }), JSON.stringify({ spans: [{ spanId: 'a' }] })];
    const server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(answers.shift());
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const messages: string[] = [];
      for (let i = 0; i < 3; i++) {
        const err = await rejection(fetchLiveSpans(url, { token: 'x' }));
        assert.equal(err.status, 200);
        assert.equal(err.reason, 'MALFORMED_ANSWER');
        messages.push(err.message.replace(/^.*MALFORMED_ANSWER: /, ''));
      }
      assert.deepEqual(messages, [
        'the body is not JSON; is this a flotilla control API?',
        'expected { "spans": [...] }; is this a flotilla control API?',
        'span 0 needs a traceId',
      ]);
    } finally {
      server.close();
    }
  });

  it('refuses --live with --traces, a URL that is not http, and no token to send', async () => {
    const both = await cli(systemFile, '--live', 'http://127.0.0.1:7100', '--traces', 'spans.json');
    assert.equal(both.code, 2);
    assert.match(both.err, /give --traces FILE or --live URL, not both/);
    const bad = await cli(systemFile, '--live', 'ftp://127.0.0.1:7100');
    assert.equal(bad.code, 2);
    assert.match(bad.err, /--live must be an http\(s\) URL/);
    // The fixture file's own data directory was never used by flotilla up: no secrets.json there.
    const tokenless = await cli(systemFile, '--live', running.control.url);
    assert.equal(tokenless.code, 1);
    assert.match(tokenless.err, /: NO_TOKEN: no admin token: pass --token, set FLOTILLA_ADMIN_TOKEN/);
  });
});
