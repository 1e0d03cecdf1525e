import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer as createHttpServer } from 'node:http';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { after, describe, it } from 'node:test';
import { manualClock } from '@flotilla/resilience';
import { seededRandom } from './chaos-schedule.js';
import { type FaultProxy, type FaultProxyOptions, startFaultProxy } from './fault-proxy.js';

/** Polls `condition` until it holds; fails after `timeoutMs` with `what`. */
async function until(condition: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** An echo server that also records every byte it received. */
async function echoServer(): Promise<{ server: Server; port: number; received: () => string }> {
  let received = '';
  const server = createServer((socket) => {
    socket.on('error', () => {});
    socket.on('data', (chunk) => {
      received += chunk.toString();
      socket.write(chunk);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  return {
    server,
    port: typeof address === 'object' && address !== null ? address.port : 0,
    received: () => received,
  };
}

/** A client socket through the proxy, collecting what comes back and how it ended. */
async function client(proxy: FaultProxy) {
  const socket: Socket = connect({ port: proxy.port, host: '127.0.0.1' });
  const state = { data: '', error: undefined as string | undefined, closed: false };
  socket.on('data', (chunk) => {
    state.data += chunk.toString();
  });
  socket.on('error', (err: NodeJS.ErrnoException) => {
    state.error = err.code;
  });
  socket.on('close', () => {
    state.closed = true;
  });
  await once(socket, 'connect');
  return { socket, state };
}

const cleanups: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

async function setup(options: Partial<FaultProxyOptions> = {}) {
  const echo = await echoServer();
  const proxy = await startFaultProxy({ upstream: { port: echo.port }, random: seededRandom(1), ...options });
  cleanups.push(
    () => proxy.close(),
    () => new Promise<void>((resolve) => echo.server.close(() => resolve())),
  );
  return { echo, proxy };
}

describe('startFaultProxy', () => {
  it('forwards bytes both ways unchanged without faults', async () => {
    const { proxy } = await setup();
    const { socket, state } = await client(proxy);
    socket.write('hello, ');
    socket.write('upstream');
    await until(() => state.data === 'hello, upstream', 'the echo');
    socket.end();
    await until(() => state.closed, 'the close');
  });

  it('holds chunks for the latency and delivers them in order despite jitter', async () => {
    const clock = manualClock();
    const { proxy, echo } = await setup({ clock });
    proxy.set({ latencyMs: 100, jitterMs: 100 });
    const { socket, state } = await client(proxy);
    const sent = Array.from({ length: 20 }, (_, i) => `<${i}>`);
    for (const part of sent) {
      socket.write(part);
      await until(() => clock.pendingTimers > 0, 'the proxy to queue a chunk');
    }
    assert.equal(echo.received(), '', 'nothing reaches the upstream before the clock moves');
    const deadline = Date.now() + 5_000;
    while (state.data !== sent.join('') && Date.now() < deadline) {
      await clock.advance(50);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    assert.equal(echo.received(), sent.join(''));
    assert.equal(state.data, sent.join(''));
    socket.destroy();
  });

  it('limits the bandwidth, holding back what exceeds it', async () => {
    const clock = manualClock();
    const { proxy, echo } = await setup({ clock });
    proxy.set({ bandwidthBytesPerSecond: 100 });
    const { socket, state } = await client(proxy);
    // 100 B/s leaves in 5-byte slices every 50 ms: after 60 ms two slices have gone.
    socket.write('0123456789abcdefghij');
    await until(() => clock.pendingTimers > 0, 'the proxy to queue the data');
    await clock.advance(60);
    await until(() => echo.received() === '0123456789', 'the first two slices');
    assert.ok(clock.pendingTimers > 0, 'the rest is still held');
    assert.ok(!state.data.includes('j'), 'the last slice has not gone');
    const deadline = Date.now() + 5_000;
    while (state.data !== '0123456789abcdefghij' && Date.now() < deadline) {
      await clock.advance(100);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    assert.equal(state.data, '0123456789abcdefghij');
    socket.destroy();
  });

  it('resets new connections at the given probability', async () => {
    const { proxy, echo } = await setup();
    proxy.set({ resetProbability: 1 });
    // The reset can come before or after the client sees its connection established.
    const socket = connect({ port: proxy.port, host: '127.0.0.1' });
    let error: string | undefined;
    let data = '';
    socket.on('error', (err: NodeJS.ErrnoException) => {
      error = err.code;
    });
    socket.on('data', (chunk) => {
      data += chunk.toString();
    });
    socket.write('lost');
    await until(() => socket.destroyed, 'the reset');
    assert.equal(error, 'ECONNRESET');
    assert.equal(data, '');
    assert.equal(echo.received(), '');
  });

  it('resets every current connection on demand', async () => {
    const { proxy } = await setup();
    const a = await client(proxy);
    const b = await client(proxy);
    a.socket.write('a');
    b.socket.write('b');
    await until(() => a.state.data === 'a' && b.state.data === 'b', 'both echoes');
    assert.equal(proxy.resetConnections(), 2);
    await until(() => a.state.closed && b.state.closed, 'both resets');
    assert.deepEqual([a.state.error, b.state.error], ['ECONNRESET', 'ECONNRESET']);
    assert.equal(proxy.connections, 0);
  });

  it('blackholes: accepts, never forwards or answers, and closes those connections when it ends', async () => {
    const { proxy, echo } = await setup();
    const before = await client(proxy);
    before.socket.write('x');
    await until(() => before.state.data === 'x', 'the first echo');
    proxy.set({ blackhole: true });
    const during = await client(proxy);
    during.socket.write('into the void');
    before.socket.write('also dropped');
    await until(() => proxy.connections === 2, 'both connections open');
    // The test's own deadline: within it, not one byte may come back or reach the upstream.
    const deadline = Date.now() + 300;
    while (Date.now() < deadline) {
      assert.equal(during.state.data, '');
      assert.equal(before.state.data, 'x');
      assert.equal(echo.received(), 'x');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.equal(during.state.closed, false);
    proxy.clear();
    await until(() => during.state.closed && before.state.closed, 'the blackholed connections to close');
    const fresh = await client(proxy);
    fresh.socket.write('back');
    await until(() => fresh.state.data === 'back', 'an echo after the blackhole');
    fresh.socket.destroy();
  });

  it('answers a share of new connections 503 with the JSON error body instead of forwarding', async () => {
    let hits = 0;
    const http = createHttpServer((_req, res) => {
      hits++;
      res.end('ok');
    });
    http.listen(0, '127.0.0.1');
    await once(http, 'listening');
    const address = http.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    const proxy = await startFaultProxy({ upstream: { port }, random: seededRandom(3) });
    cleanups.push(
      () => proxy.close(),
      () => new Promise<void>((resolve) => http.close(() => resolve())),
    );
    proxy.set({ errorRate: 1 });
    const failed = await fetch(`${proxy.url}/anything`);
    assert.equal(failed.status, 503);
    assert.equal(failed.headers.get('connection'), 'close');
    const body = (await failed.json()) as { error: { code: string; retryable: boolean; message: string } };
    assert.equal(body.error.code, 'UPSTREAM_UNAVAILABLE');
    assert.equal(body.error.retryable, true);
    assert.equal(hits, 0);

    proxy.set({ errorRate: 0.5 });
    const statuses: number[] = [];
    for (let i = 0; i < 20; i++) {
      // A new connection each time: the rate applies per connection.
      const res = await fetch(`${proxy.url}/n${i}`, { headers: { connection: 'close' } });
      statuses.push(res.status);
      await res.arrayBuffer();
    }
    assert.ok(statuses.includes(503) && statuses.includes(200), statuses.join(','));
    assert.equal(hits, statuses.filter((s) => s === 200).length);
  });

  it('resets the client when the upstream refuses the connection', async () => {
    const { echo } = await setup();
    await new Promise<void>((resolve) => echo.server.close(() => resolve()));
    const proxy = await startFaultProxy({ upstream: { port: echo.port }, random: seededRandom(1) });
    cleanups.push(() => proxy.close());
    const { socket, state } = await client(proxy);
    socket.write('anyone?');
    await until(() => state.closed, 'the reset');
    assert.equal(state.error, 'ECONNRESET');
    assert.equal(state.data, '');
  });

  it('refuses faults out of range, naming the field', () => {
    return setup().then(({ proxy }) => {
      assert.throws(() => proxy.set({ errorRate: 2 }), /faults\.errorRate must be in \[0, 1\], got 2/);
      assert.equal(proxy.faults.errorRate, 0);
    });
  });
});
