import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { backoffDelay, openStream, type SseEvent, SseParser, type StreamState } from './sse.js';

describe('SseParser', () => {
  it('dispatches events on blank lines, joins data lines and ignores comments', () => {
    const parser = new SseParser();
    const events = parser.push(
      ': hello\nevent: snapshot\ndata: {"a":\ndata: 1}\n\ndata: plain\nid: 7\n\nevent: empty\n\n',
    );
    assert.deepEqual(events, [
      { event: 'snapshot', data: '{"a":\n1}', id: null },
      { event: 'message', data: 'plain', id: '7' },
    ]);
  });

  it('gives the same events whatever the chunking and line endings', () => {
    const text = 'event: supervisor\r\ndata: {"type":"state"}\r\n\r\nevent:snapshot\rdata:x\r\r\ndata:y\n\n';
    const whole = new SseParser().push(text);
    const parser = new SseParser();
    const pieces: SseEvent[] = [];
    for (const ch of text) pieces.push(...parser.push(ch));
    assert.deepEqual(pieces, whole);
    assert.deepEqual(whole, [
      { event: 'supervisor', data: '{"type":"state"}', id: null },
      { event: 'snapshot', data: 'x', id: null },
      { event: 'message', data: 'y', id: null },
    ]);
  });

  it('keeps an unfinished event for the next chunk and drops it at the end of the stream', () => {
    const parser = new SseParser();
    assert.deepEqual(parser.push('event: snapshot\ndata: 1'), []);
    assert.deepEqual(parser.push('2\n\n'), [{ event: 'snapshot', data: '12', id: null }]);
    assert.deepEqual(parser.push('data: lost\n'), []);
    parser.end();
    assert.deepEqual(parser.push('\n'), []);
  });

  it('reads retry: as the reconnection time', () => {
    const parser = new SseParser();
    parser.push('retry: 2500\nretry: soon\n\n');
    assert.equal(parser.retryMs, 2500);
  });
});

describe('backoffDelay', () => {
  it('doubles from the base up to the cap, less up to a quarter of jitter', () => {
    assert.deepEqual(
      [0, 1, 2, 3, 4, 5, 30].map((a) => backoffDelay(a, 0)),
      [500, 1000, 2000, 4000, 8000, 10_000, 10_000],
    );
    assert.equal(backoffDelay(2, 0.999), 1501);
    assert.equal(backoffDelay(0, 0.5, 100, 1000), 88);
  });
});

/** A server whose handler the test sets per request. */
async function serve(handler: (req: IncomingMessage, res: ServerResponse, n: number) => void): Promise<{
  server: Server;
  url: string;
  requests: IncomingMessage[];
}> {
  const requests: IncomingMessage[] = [];
  const server = createServer((req, res) => {
    requests.push(req);
    handler(req, res, requests.length);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { server, url: `http://127.0.0.1:${port}/console/api/stream`, requests };
}

/** The idle watchdog of the tests, ms. */
const IDLE_MS = 10_000;

/** Timers that skip reconnection waits (so tests do not wait out real backoff) but keep the idle watchdog's. */
const fastTimers = {
  set: (fn: () => void, ms: number): unknown => setTimeout(fn, ms === IDLE_MS ? ms : 0),
  clear: (handle: unknown): void => clearTimeout(handle as NodeJS.Timeout),
};

describe('openStream', () => {
  it('sends the bearer token, delivers events and reconnects after the server ends the stream', async () => {
    const { server, url, requests } = await serve((_req, res, n) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(': ping\n\n');
      res.end(`event: snapshot\ndata: {"n":${n}}\n\n`);
    });
    const events: string[] = [];
    const states: StreamState[] = [];
    let stop = (): void => {};
    const twoEvents = new Promise<void>((resolve) => {
      stop = resolve;
    });
    const handle = openStream({
      url,
      headers: () => ({ authorization: 'Bearer secret-token' }),
      onEvent: (e) => {
        events.push(`${e.event}:${e.data}`);
        if (events.length === 2) stop();
      },
      onState: (s) => states.push(s),
      idleMs: IDLE_MS,
      timers: fastTimers,
    });
    try {
      await twoEvents;
    } finally {
      handle.close();
      server.closeAllConnections();
      server.close();
    }
    assert.deepEqual(events, ['snapshot:{"n":1}', 'snapshot:{"n":2}']);
    assert.equal(requests[0]?.headers.authorization, 'Bearer secret-token');
    assert.equal(requests[0]?.headers.accept, 'text/event-stream');
    assert.deepEqual(states.slice(0, 4), ['connecting', 'live', 'reconnecting', 'live']);
  });

  it('stops with state unauthorized on a 401 and does not retry', async () => {
    const { server, url, requests } = await serve((_req, res) => {
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end('{"error":{"code":"unauthorized","message":"bad token"}}');
    });
    const states: StreamState[] = [];
    const stopped = new Promise<void>((resolve) => {
      openStream({
        url,
        headers: () => ({}),
        onEvent: () => assert.fail('no event expected'),
        onState: (s) => {
          states.push(s);
          if (s === 'unauthorized') resolve();
        },
        idleMs: IDLE_MS,
        timers: fastTimers,
      });
    });
    await stopped;
    // Give a wrongly scheduled retry the chance to arrive.
    await new Promise((resolve) => setTimeout(resolve, 20));
    server.close();
    assert.deepEqual(states, ['connecting', 'unauthorized']);
    assert.equal(requests.length, 1);
  });

  it('retries after an error status and after a silent stream', async () => {
    // The armed idle watchdog: it fires when the test says the stream has been silent long
    // enough, never by itself (a real 50 ms timer could fire before a slow machine's 503).
    let idle: (() => void) | undefined;
    const { server, url, requests } = await serve((_req, res, n) => {
      if (n === 1) {
        res.writeHead(503);
        res.end();
      } else if (n === 2) {
        // Headers and then nothing: the idle watchdog must give up on it.
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.flushHeaders();
        setImmediate(() => idle?.());
      } else {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write('event: snapshot\ndata: third\n\n');
      }
    });
    const details: string[] = [];
    const got = new Promise<string>((resolve) => {
      const handle = openStream({
        url,
        headers: () => ({}),
        onEvent: (e) => {
          handle.close();
          resolve(e.data);
        },
        onState: (s, detail) => {
          if (s === 'reconnecting') details.push(detail ?? '');
        },
        idleMs: 50,
        timers: {
          set: (fn: () => void, ms: number): unknown => {
            if (ms !== 50) return setTimeout(fn, 0);
            idle = fn;
            return fn;
          },
          clear: (handle: unknown): void => {
            if (handle === idle) idle = undefined;
            else fastTimers.clear(handle);
          },
        },
      });
    });
    assert.equal(await got, 'third');
    server.closeAllConnections();
    server.close();
    assert.equal(requests.length, 3);
    assert.match(details[0] ?? '', /HTTP 503/);
    assert.match(details[1] ?? '', /dropped/);
  });
});
