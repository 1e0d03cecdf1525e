import { createHash, timingSafeEqual } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Console } from '@flotilla/console';
import { isControlCommandError, SystemStartError } from './errors.js';
import { SERVICE_ACTIONS, type ServiceAction, type SystemControl } from './system-control.js';

/** What the control API serves (internal). */
export interface ControlApiOptions extends Pick<SystemControl, 'status' | 'act' | 'onEvent'> {
  /** Port on 127.0.0.1; 0 picks a free one. */
  readonly port: number;
  /** The bearer token every request must carry. */
  readonly token: string;
  /** The system's name and profile, reported by `GET /services`. */
  readonly system: { readonly name: string; readonly profile: string | null };
  /**
   * Interval of SSE keep-alive comments, in milliseconds.
   * @default 15000
   */
  readonly heartbeatMs?: number;
  /** The web console, served under `/console` (with its own authentication). */
  readonly console?: Console;
}

/** A listening control API (internal). */
export interface ControlApiServer {
  readonly url: string;
  readonly port: number;
  /** Ends event streams and closes the server. */
  close(): Promise<void>;
}

const ACTION_PATH = /^\/services\/([^/]+)\/([a-z]+)$/;

/**
 * The supervisor's HTTP control API on 127.0.0.1 (internal; documented in docs/supervisor.md):
 * `GET /services`, `POST /services/:name/:action[?instance=N]`, `GET /events` (Server-Sent
 * Events). Every request needs `Authorization: Bearer <FLOTILLA_ADMIN_TOKEN>`, compared in
 * constant time.
 */
export async function startControlApi(options: ControlApiOptions): Promise<ControlApiServer> {
  const expected = digest(options.token);
  const streams = new Set<ServerResponse>();
  const heartbeatMs = options.heartbeatMs ?? 15_000;

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) send(res, 500, errorBody('INTERNAL', messageOf(err)));
      else res.destroy();
    });
  });

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (options.console !== undefined && (await options.console.handle(req, res))) return;
    if (!authorized(req.headers.authorization, expected)) {
      res.setHeader('www-authenticate', 'Bearer realm="flotilla"');
      return send(
        res,
        401,
        errorBody(
          'UNAUTHORIZED',
          'send Authorization: Bearer <FLOTILLA_ADMIN_TOKEN> (in the data directory secrets.json)',
        ),
      );
    }
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const method = req.method ?? 'GET';
    if (url.pathname === '/services') {
      if (method !== 'GET') return methodNotAllowed(res, 'GET');
      return send(res, 200, {
        system: options.system.name,
        profile: options.system.profile,
        services: options.status(),
      });
    }
    if (url.pathname === '/events') {
      if (method !== 'GET') return methodNotAllowed(res, 'GET');
      return openStream(res);
    }
    const match = ACTION_PATH.exec(url.pathname);
    if (match === null)
      return send(res, 404, errorBody('NOT_FOUND', `no route for ${method} ${url.pathname}`));
    const [, name, action] = match;
    if (!(SERVICE_ACTIONS as readonly string[]).includes(action!))
      return send(
        res,
        404,
        errorBody('UNKNOWN_ACTION', `unknown action "${action}" (actions: ${SERVICE_ACTIONS.join(', ')})`),
      );
    if (method !== 'POST') return methodNotAllowed(res, 'POST');
    const instanceText = url.searchParams.get('instance');
    let instance: number | undefined;
    if (instanceText !== null) {
      instance = Number(instanceText);
      if (!/^\d+$/.test(instanceText) || !Number.isSafeInteger(instance))
        return send(
          res,
          400,
          errorBody(
            'VALIDATION_FAILED',
            `instance must be an integer >= 0, got ${JSON.stringify(instanceText)}`,
          ),
        );
    }
    try {
      const services = await options.act(
        action as ServiceAction,
        decodeURIComponent(name!),
        instance === undefined ? {} : { instance },
      );
      return send(res, 200, { services });
    } catch (err) {
      if (!isControlCommandError(err)) throw err;
      const status = err.reason === 'unknown-service' || err.reason === 'unknown-instance' ? 404 : 409;
      return send(res, status, errorBody(err.reason.toUpperCase().replaceAll('-', '_'), err.message));
    }
  };

  const openStream = (res: ServerResponse): void => {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
    });
    streams.add(res);
    res.write(`event: snapshot\ndata: ${JSON.stringify({ services: options.status() })}\n\n`);
    const registration = options.onEvent((event) => {
      res.write(`event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`);
    });
    const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), heartbeatMs);
    heartbeat.unref();
    res.on('close', () => {
      clearInterval(heartbeat);
      registration.dispose();
      streams.delete(res);
    });
  };

  server.listen({ port: options.port, host: '127.0.0.1' });
  try {
    await Promise.race([
      once(server, 'listening'),
      once(server, 'error').then(([err]) => {
        throw err;
      }),
    ]);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new SystemStartError(
      code === 'EADDRINUSE'
        ? `the control API port ${options.port} on 127.0.0.1 is in use; set controlPort in the system file to a free port (or 0)`
        : `the control API cannot listen on 127.0.0.1:${options.port}: ${messageOf(err)}`,
      '(control API)',
      0,
      'port-in-use',
      [],
      { cause: err },
    );
  }
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : options.port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    async close() {
      for (const res of streams) res.end();
      const closed = once(server, 'close');
      server.close();
      server.closeAllConnections();
      await closed;
    },
  };
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/** Compares the bearer token in constant time (over digests, so lengths do not leak either). */
function authorized(header: string | undefined, expected: Buffer): boolean {
  if (header === undefined) return false;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (match === null) return false;
  return timingSafeEqual(digest(match[1]!), expected);
}

function errorBody(code: string, message: string) {
  return { error: { code, message, details: null, retryable: false } };
}

function methodNotAllowed(res: ServerResponse, allow: string): void {
  res.setHeader('allow', allow);
  send(res, 405, errorBody('METHOD_NOT_ALLOWED', `use ${allow}`));
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
