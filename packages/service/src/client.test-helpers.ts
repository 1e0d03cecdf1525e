/**
 * Real HTTP servers on 127.0.0.1 for the client's tests (no HTTP mocks), and small waiting
 * helpers. Not part of the package: `*.test.*` files are left out of its published files.
 */
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { PolicySnapshot } from '@flotilla/resilience';
import type { Clients } from './client-types.js';

/** A request as the test server received it. */
export interface Received {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  /** True once the client closed the connection before an answer. */
  readonly aborted: () => boolean;
}

/** What a test server answers with. */
export type Handler = (request: Received, response: ServerResponse) => void | Promise<void>;

/** A running test server. */
export interface TestServer {
  readonly url: string;
  readonly port: number;
  /** Every request received, in order of arrival. */
  readonly requests: Received[];
  /** Stops listening and drops every connection. */
  close(): Promise<void>;
}

/** Starts a server on 127.0.0.1 (`port` 0 picks a free one). */
export async function startServer(handler: Handler, port = 0): Promise<TestServer> {
  const requests: Received[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let aborted = false;
      res.on('close', () => {
        if (!res.writableFinished) aborted = true;
      });
      const received: Received = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        aborted: () => aborted,
      };
      requests.push(received);
      Promise.resolve(handler(received, res)).catch((err: unknown) => {
        res.statusCode = 500;
        res.end(String(err));
      });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const actual = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${actual}`,
    port: actual,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Answers with a JSON body. */
export function json(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, { ...(text === '' ? {} : { 'content-type': 'application/json' }), ...headers });
  res.end(text);
}

/** Answers with the standard error body. */
export function fail(
  res: ServerResponse,
  status: number,
  code: string,
  headers: Record<string, string> = {},
): void {
  json(
    res,
    status,
    { error: { code, message: `${code.toLowerCase()} here`, retryable: status >= 500 } },
    headers,
  );
}

/** A port nothing listens on (it was free a moment ago). */
export { freePort } from './testing.js';

/**
 * Waits until `condition` holds, checking after each turn of the event loop (I/O the test
 * cannot await directly: a request reaching a server). Fails after 10 s with `what`.
 */
export async function until(condition: () => boolean, what: string): Promise<void> {
  const giveUpAt = Date.now() + 10_000;
  while (!condition()) {
    if (Date.now() > giveUpAt) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

/** The snapshot of one policy (`retry`, `circuit-breaker`, `timeout`, `bulkhead`) of an upstream. */
export function policyOf(clients: Clients, service: string, kind: string): PolicySnapshot {
  const upstream = clients.snapshots().find((s) => s.service === service);
  const policy = upstream?.policy.policies?.find((p) => p.kind === kind);
  if (policy === undefined) throw new Error(`no ${kind} policy for ${service}`);
  return policy;
}

/** Settles `promise` into `{ ok, value }` or `{ ok: false, error }` so a test can hold it pending. */
export function settle<T>(
  promise: Promise<T>,
): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
  return promise.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );
}
