import { once } from 'node:events';
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import { Writable } from 'node:stream';
import { discovery } from '@flotilla/service';
import { SignJWT } from 'jose';
import { pino } from 'pino';
import type { GatewayConfigInput } from './config.js';
import { createGateway, type Gateway, type GatewayOptions } from './gateway.js';

/** Helpers of the gateway's tests: real upstream servers on 127.0.0.1, gateways, raw requests. */

/** A request an upstream received. */
export interface SeenRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly rawHeaders: readonly string[];
  readonly body: string;
}

/** A real HTTP server standing in for an upstream service. */
export interface TestUpstream {
  readonly server: Server;
  readonly url: string;
  readonly requests: SeenRequest[];
  /** Connections accepted so far. */
  connections: number;
  close(): Promise<void>;
}

/** The default upstream: answers 200 with a JSON echo of what it received. */
export function echo(name: string) {
  return (req: IncomingMessage, res: ServerResponse, body: string): void => {
    const text = JSON.stringify({ service: name, method: req.method, url: req.url, body });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  };
}

/** Starts an upstream on a free port; `handler` gets the request with its whole body. */
export async function startUpstream(
  handler: (req: IncomingMessage, res: ServerResponse, body: string) => void = echo('upstream'),
): Promise<TestUpstream> {
  const requests: SeenRequest[] = [];
  const upstream = { requests, connections: 0 } as { requests: SeenRequest[]; connections: number };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      requests.push({
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        rawHeaders: req.rawHeaders,
        body,
      });
      handler(req, res, body);
    });
  });
  server.on('connection', () => upstream.connections++);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return Object.assign(upstream, {
    server,
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  });
}

/** A base URL where nothing listens (connections are refused). */
export async function deadUrl(): Promise<string> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

/** Log lines a test gateway wrote, parsed. */
export interface LogSink {
  readonly lines: Record<string, unknown>[];
}

/** Starts a gateway on a free port, with discovery from `services` (name → base URLs) and a captured log. */
export async function startTestGateway(
  config: GatewayConfigInput | string,
  services: Record<string, readonly string[]>,
  options: Partial<GatewayOptions> = {},
): Promise<{ gateway: Gateway; url: string; logs: LogSink; close: () => Promise<void> }> {
  const logs: LogSink = { lines: [] };
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n'))
        if (line !== '') logs.lines.push(JSON.parse(line));
      callback();
    },
  });
  const topology = {
    services: Object.fromEntries(Object.entries(services).map(([k, urls]) => [k, { urls: [...urls] }])),
  };
  const gateway = await createGateway({
    config,
    discovery: discovery({ topology, env: {} }),
    logger: pino({ level: 'debug' }, destination),
    env: {},
    ...options,
  });
  const url = await gateway.listen({ port: 0, host: '127.0.0.1' });
  return { gateway, url, logs, close: () => gateway.close() };
}

/**
 * Sends `text` as it is on a new connection and resolves with the first response: once its body
 * is complete (by `content-length` or the last chunk), or when the server closes.
 */
export function rawRequest(url: string, text: string | Buffer): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    const chunks: Buffer[] = [];
    const finish = (): void => {
      socket.destroy();
      resolve(Buffer.concat(chunks).toString('latin1'));
    };
    socket.on('data', (c: Buffer) => {
      chunks.push(c);
      const received = Buffer.concat(chunks).toString('latin1');
      const end = received.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = received.slice(0, end).toLowerCase();
      const length = /\r\ncontent-length: *(\d+)/.exec(head);
      if (length !== null && received.length - end - 4 >= Number(length[1])) finish();
      else if (/\r\ntransfer-encoding: *chunked/.test(head) && received.endsWith('0\r\n\r\n')) finish();
      else if (/^http\/1\.1 (1\d\d|204|304)/.test(head)) finish();
    });
    socket.on('end', finish);
    socket.on('error', (err) => (chunks.length > 0 ? finish() : reject(err)));
    socket.write(text);
  });
}

/** The status code of a raw HTTP response, or NaN. */
export function statusOf(response: string): number {
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(response);
  return m === null ? Number.NaN : Number(m[1]);
}

/** The parsed JSON body of a raw response (after the blank line). */
export function bodyOf(response: string): unknown {
  const at = response.indexOf('\r\n\r\n');
  return JSON.parse(response.slice(at + 4));
}

/** A HS256 JWT for tests. `expiresInSec` < 0 makes an expired token. */
export async function hsToken(
  secret: string,
  claims: { sub?: string; scope?: string; scp?: string[] } = { sub: 'user-1' },
  expiresInSec = 300,
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({
    ...(claims.scope === undefined ? {} : { scope: claims.scope }),
    ...(claims.scp === undefined ? {} : { scp: claims.scp }),
  })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(claims.sub ?? 'user-1')
    .setIssuedAt(now - 600)
    .setExpirationTime(now + expiresInSec)
    .sign(new TextEncoder().encode(secret));
}

/** A 32+ byte secret for HS256 tests. */
export const TEST_SECRET = 'test-secret-of-at-least-32-bytes-0123456789';
/** A 32+ byte service key. */
export const TEST_SERVICE_KEY = 'service-key-of-at-least-32-bytes-abcdefghij';
