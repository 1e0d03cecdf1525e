import { createHash, timingSafeEqual } from 'node:crypto';
import { existsSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseTraceparent, type SpanRecord } from '@flotilla/service';
import { z } from 'zod';
import { Collector } from './collector.js';
import type {
  ConsoleDeadLetter,
  ConsoleDeadLetterList,
  ConsoleSagaDetails,
  ConsoleSagaList,
  ConsoleTrace,
  SagaDetails,
  SagaSummary,
} from './contract.js';
import type { ConsoleHost, HostAction } from './host.js';
import { serveStatic } from './static-files.js';
import { UpstreamReadError, Upstreams } from './upstream.js';

/** Options of {@link createConsole}. */
export interface ConsoleOptions {
  /** The running system. */
  readonly host: ConsoleHost;
  /**
   * Folder of the built web app (`vite build` output).
   * @default the package's `dist/web`
   */
  readonly webRoot?: string;
  /** Time between two polls of the system while a stream is open, in milliseconds. @default 1000 */
  readonly intervalMs?: number;
  /** Interval of SSE keep-alive comments, in milliseconds. @default 15000 */
  readonly heartbeatMs?: number;
}

/** The console of a running system, mounted on an HTTP server under `/console`. */
export interface Console {
  /**
   * Handles a request whose path starts with `/console`; resolves false for other paths (the
   * caller answers them). `/console/api/*` needs the admin bearer token; the web app's files do not.
   */
  handle(req: IncomingMessage, res: ServerResponse): Promise<boolean>;
  /** Whether the web app is built (else `/console/` explains how to build it). */
  readonly webBuilt: boolean;
  /** Ends the streams and stops polling. */
  close(): Promise<void>;
}

const ACTIONS: readonly HostAction[] = ['stop', 'start', 'restart', 'kill', 'freeze', 'thaw'];
const NAME = /^[a-z][a-z0-9-]{0,62}$/;
const ID = /^[A-Za-z0-9._:-]{1,200}$/;
const TRACE_ID = /^[0-9a-f]{32}$/;
const MAX_BODY = 64 * 1024;

const FaultRequest = z
  .object({
    service: z.string().regex(NAME),
    latencyMs: z.number().int().min(0).max(60_000).optional(),
    jitterMs: z.number().int().min(0).max(60_000).optional(),
    bandwidthBytesPerSecond: z.number().int().min(0).max(1e10).optional(),
    resetProbability: z.number().min(0).max(1).optional(),
    blackhole: z.boolean().optional(),
    errorRate: z.number().min(0).max(1).optional(),
  })
  .strict();
const LoadRequest = z.object({ concurrency: z.number().int().min(1).max(64) }).strict();
const WeightRequest = z.object({ weight: z.number().min(0).max(100) }).strict();
const SagaQuery = z.object({
  state: z
    .enum(['running', 'waiting', 'compensating', 'completed', 'compensated', 'stuck', 'resolved'])
    .optional(),
  service: z.string().regex(NAME).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});

/** An error the console answers with: status, machine-readable code, message. */
class ConsoleError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const digest = (value: string): Buffer => createHash('sha256').update(value).digest();

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  res.end(text);
}

const fail = (res: ServerResponse, status: number, code: string, message: string): void =>
  send(res, status, { error: { code, message } });

async function readJson(req: IncomingMessage): Promise<unknown> {
  const type = req.headers['content-type'] ?? '';
  if (!/^application\/json\b/i.test(type))
    throw new ConsoleError(415, 'UNSUPPORTED_MEDIA_TYPE', 'send the body as application/json');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new ConsoleError(413, 'BODY_TOO_LARGE', `the body exceeds ${MAX_BODY} bytes`);
    chunks.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new ConsoleError(400, 'MALFORMED_JSON', 'the body is not valid JSON');
  }
}

function parse<T>(schema: z.ZodType<T>, value: unknown): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const path = issue.path.map(String).join('.');
  throw new ConsoleError(400, 'VALIDATION_FAILED', `${path === '' ? 'body' : path}: ${issue.message}`);
}

/** A failed call to a service, as the console's own error. */
function upstreamError(service: string, err: unknown): ConsoleError {
  if (err instanceof UpstreamReadError) {
    if (err.status === 404) return new ConsoleError(404, err.code ?? 'NOT_FOUND', err.message);
    if (err.status >= 400 && err.status < 500)
      return new ConsoleError(err.status, err.code ?? 'REJECTED', err.message);
    return new ConsoleError(502, 'UPSTREAM_UNAVAILABLE', `${service}: ${err.message}`);
  }
  return new ConsoleError(502, 'UPSTREAM_UNAVAILABLE', `${service}: ${(err as Error).message}`);
}

const defaultWebRoot = (): string => resolve(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'web');

/**
 * The web console of a running system: `/console/` serves the web app, `/console/api/stream`
 * streams a {@link ConsoleSnapshot} about once a second over Server-Sent Events, and the other
 * `/console/api` routes read sagas, traces and dead letters from the services and act on the
 * system (service actions, migration weights, network faults, load). Every `/console/api`
 * request needs `Authorization: Bearer <admin token>`.
 *
 * @example
 * const console = createConsole({ host });
 * http.createServer(async (req, res) => { if (!(await console.handle(req, res))) res.end(); });
 */
export function createConsole(options: ConsoleOptions): Console {
  const { host } = options;
  const webRoot = options.webRoot ?? defaultWebRoot();
  const upstreams = new Upstreams();
  const collector = new Collector({
    host,
    upstreams,
    ...(options.intervalMs === undefined ? {} : { intervalMs: options.intervalMs }),
  });
  const expected = digest(host.adminToken);
  const heartbeatMs = options.heartbeatMs ?? 15_000;
  const streams = new Set<ServerResponse>();
  // A state change goes out at once, not at the next tick: a crash shows while it lasts.
  const stateChanges = host.onEvent((event) => {
    if (event.type === 'state') collector.nudge();
  });
  const webBuilt = existsSync(join(webRoot, 'index.html'));

  const authorized = (header: string | undefined): boolean => {
    const m = /^Bearer (.+)$/.exec(header ?? '');
    return m !== null && timingSafeEqual(digest(m[1]!), expected);
  };

  /** The first running instance of a service. */
  const instanceOf = (service: string): { url: string } => {
    const all = host.status().filter((s) => s.service === service);
    if (all.length === 0) throw new ConsoleError(404, 'UNKNOWN_SERVICE', `no service named ${service}`);
    const inst = all.find((s) => s.state === 'ready') ?? all.find((s) => s.state === 'unready');
    if (inst === undefined) throw new ConsoleError(503, 'SERVICE_DOWN', `${service} has no running instance`);
    return inst;
  };

  const callService = async <T>(
    service: string,
    path: string,
    init: { method?: 'GET' | 'POST' | 'PUT'; body?: unknown } = {},
  ): Promise<T> => {
    const inst = instanceOf(service);
    try {
      return await upstreams.json<T>(`${inst.url}${path}`, {
        ...init,
        headers: await collector.authorization(service),
      });
    } catch (err) {
      throw upstreamError(service, err);
    }
  };

  const services = (): string[] => [...new Set(host.status().map((s) => s.service))];

  const openStream = (res: ServerResponse): void => {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    res.write('retry: 2000\n\n');
    streams.add(res);
    const write = (event: string, data: unknown): void => {
      res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    };
    if (collector.snapshot !== undefined) write('snapshot', collector.snapshot);
    const subscription = collector.subscribe((snapshot) => write('snapshot', snapshot));
    const events = host.onEvent((event) => write('supervisor', event));
    const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), heartbeatMs);
    heartbeat.unref();
    res.on('close', () => {
      clearInterval(heartbeat);
      subscription.dispose();
      events.dispose();
      streams.delete(res);
    });
  };

  const listSagas = async (query: URLSearchParams): Promise<ConsoleSagaList> => {
    const q = parse(SagaQuery, Object.fromEntries(query));
    const targets = services().filter(
      (s) => (q.service === undefined || s === q.service) && collector.features(s)?.sagas,
    );
    const search = new URLSearchParams({
      limit: String(q.limit),
      ...(q.state === undefined ? {} : { state: q.state }),
    });
    const pages = await Promise.all(
      targets.map(async (service) => {
        const base = collector.features(service)!.sagas!;
        const page = await callService<{ items: SagaSummary[] }>(service, `${base}?${search}`);
        return page.items.map((s) => ({ ...s, service }));
      }),
    );
    return {
      items: pages
        .flat()
        .sort((a, b) => b.createdAt - a.createdAt)
        .slice(0, q.limit),
    };
  };

  const sagaBase = (service: string): string => {
    const base = collector.features(service)?.sagas;
    if (base === undefined)
      throw new ConsoleError(404, 'NO_SAGAS', `${service} runs no sagas (or was not read yet)`);
    return base;
  };

  /** The spans every running instance still holds that match `query` (a `/internal/spans` query string). */
  const collectSpans = async (query: string): Promise<(SpanRecord & { instance: number })[]> => {
    const adminHeaders = { authorization: `Bearer ${host.adminToken}` };
    const running = host.status().filter((s) => s.state === 'ready' || s.state === 'unready');
    const found = await Promise.all(
      running.map(async (inst) => {
        const path = inst.service === host.gateway ? `/__admin/spans?${query}` : `/internal/spans?${query}`;
        try {
          const page = await upstreams.json<{ spans: SpanRecord[] }>(`${inst.url}${path}`, {
            ...(inst.service === host.gateway ? { headers: adminHeaders } : {}),
            timeoutMs: 5000,
          });
          return page.spans.map((s) => ({ ...s, instance: inst.instance }));
        } catch {
          return [];
        }
      }),
    );
    return found.flat().sort((a, b) => a.startTimeMs - b.startTimeMs);
  };

  const trace = async (traceId: string): Promise<ConsoleTrace> => {
    const spans = await collectSpans(`traceId=${traceId}`);
    if (spans.length === 0)
      throw new ConsoleError(
        404,
        'TRACE_NOT_FOUND',
        `no running instance still holds spans of trace ${traceId}`,
      );
    return { traceId, spans };
  };

  const deadLetters = async (): Promise<ConsoleDeadLetterList> => {
    const targets = services().filter((s) => collector.features(s)?.deadLetters);
    const lists = await Promise.all(
      targets.map(async (service) => {
        const page = await callService<{ items: Omit<ConsoleDeadLetter, 'service'>[] }>(
          service,
          '/dead-letters?limit=1000',
        );
        return page.items.map((d) => ({ ...d, service }));
      }),
    );
    return { items: lists.flat().sort((a, b) => Number(a.deadLetteredAt) - Number(b.deadLetteredAt)) };
  };

  const api = async (req: IncomingMessage, res: ServerResponse, path: string, url: URL): Promise<void> => {
    const method = req.method ?? 'GET';
    const route = `${method} ${path}`;
    let m: RegExpExecArray | null;

    if (route === 'GET /stream') return openStream(res);
    if (route === 'GET /snapshot') return send(res, 200, await collector.refresh());
    // Which services run sagas or keep dead letters is learned by polling: poll once if never done.
    if (collector.snapshot === undefined && /^(GET|POST) \/(sagas|dead-letters)/.test(route))
      await collector.refresh();
    if (route === 'GET /sagas') return send(res, 200, await listSagas(url.searchParams));
    m = /^(GET|POST) \/sagas\/([^/]+)\/([^/]+)(\/retry)?$/.exec(route);
    if (m !== null) {
      const [, verb, service, id, retry] = m as unknown as [
        string,
        string,
        string,
        string,
        string | undefined,
      ];
      if (!NAME.test(service) || !ID.test(id))
        throw new ConsoleError(400, 'VALIDATION_FAILED', 'malformed service or saga id');
      if ((verb === 'POST') !== (retry !== undefined))
        throw new ConsoleError(405, 'METHOD_NOT_ALLOWED', `${method} is not allowed here`);
      const base = sagaBase(service);
      const saga = await callService<SagaDetails>(
        service,
        `${base}/${encodeURIComponent(id)}${retry ?? ''}`,
        verb === 'POST' ? { method: 'POST' } : {},
      );
      const details: ConsoleSagaDetails = {
        ...saga,
        service,
        traceId: saga.traceparent === null ? null : (parseTraceparent(saga.traceparent)?.traceId ?? null),
      };
      return send(res, 200, details);
    }
    if (route === 'GET /traces') {
      const limit = Number(url.searchParams.get('limit') ?? 50);
      if (!Number.isInteger(limit) || limit < 1 || limit > 200)
        throw new ConsoleError(400, 'VALIDATION_FAILED', 'limit must be an integer from 1 to 200');
      await collector.refresh();
      return send(res, 200, { items: collector.recent.recentTraces(limit) });
    }
    m = /^GET \/traces\/([^/]+)$/.exec(route);
    if (m !== null) {
      const traceId = m[1]!;
      if (!TRACE_ID.test(traceId))
        throw new ConsoleError(400, 'VALIDATION_FAILED', 'a trace id is 32 lowercase hex digits');
      return send(res, 200, await trace(traceId));
    }
    if (route === 'GET /spans') {
      const sinceMs = url.searchParams.get('sinceMs');
      if (sinceMs !== null && !/^\d{1,16}$/.test(sinceMs))
        throw new ConsoleError(400, 'VALIDATION_FAILED', 'sinceMs must be epoch milliseconds');
      return send(res, 200, {
        spans: await collectSpans(`limit=5000${sinceMs === null ? '' : `&sinceMs=${sinceMs}`}`),
      });
    }
    if (route === 'GET /dead-letters') return send(res, 200, await deadLetters());
    m = /^(GET|POST) \/dead-letters\/([^/]+)\/([^/]+?)(\/replay|\/discard)?$/.exec(route);
    if (m !== null) {
      const [, verb, service, id, action] = m as unknown as [
        string,
        string,
        string,
        string,
        string | undefined,
      ];
      if (!NAME.test(service) || !ID.test(id))
        throw new ConsoleError(400, 'VALIDATION_FAILED', 'malformed service or id');
      if ((verb === 'POST') !== (action !== undefined))
        throw new ConsoleError(405, 'METHOD_NOT_ALLOWED', `${method} is not allowed here`);
      const answer = await callService<Omit<ConsoleDeadLetter, 'service'> | undefined>(
        service,
        `/dead-letters/${encodeURIComponent(id)}${action ?? ''}`,
        verb === 'POST' ? { method: 'POST' } : {},
      );
      return send(res, 200, { ...(answer ?? { id }), service });
    }
    m = /^PUT \/migrations\/([^/]+)\/weight$/.exec(route);
    if (m !== null) {
      const { weight } = parse(WeightRequest, await readJson(req));
      if (host.gateway === undefined)
        throw new ConsoleError(404, 'NO_GATEWAY', 'the system names no gateway');
      const inst = instanceOf(host.gateway);
      const instances = host.status().filter((s) => s.service === host.gateway && s.state === 'ready');
      try {
        // Every gateway instance holds its own split: set the weight on each.
        let answer: unknown;
        for (const g of instances.length > 0 ? instances : [inst])
          answer = await upstreams.json(`${g.url}/__admin/migrations/${m[1]!}/weight`, {
            method: 'PUT',
            body: { weight },
            headers: { authorization: `Bearer ${host.adminToken}` },
          });
        return send(res, 200, answer);
      } catch (err) {
        throw upstreamError(host.gateway, err);
      }
    }
    m = /^POST \/services\/([^/]+)\/([a-z]+)$/.exec(route);
    if (m !== null) {
      const [, service, action] = m as unknown as [string, string, string];
      if (!(ACTIONS as readonly string[]).includes(action))
        throw new ConsoleError(
          404,
          'UNKNOWN_ACTION',
          `unknown action "${action}" (actions: ${ACTIONS.join(', ')})`,
        );
      const text = url.searchParams.get('instance');
      if (text !== null && !/^\d{1,4}$/.test(text))
        throw new ConsoleError(
          400,
          'VALIDATION_FAILED',
          `instance must be an integer >= 0, got ${JSON.stringify(text)}`,
        );
      try {
        const result = await host.act(
          action as HostAction,
          decodeURIComponent(service),
          text === null ? undefined : Number(text),
        );
        return send(res, 200, { services: result });
      } catch (err) {
        const e = err as { status?: unknown; code?: unknown; message?: unknown };
        if (typeof e.status === 'number' && typeof e.code === 'string')
          throw new ConsoleError(e.status, e.code, String(e.message));
        throw err;
      }
    }
    if (path === '/faults') {
      const faults = host.faults;
      if (faults === undefined)
        throw new ConsoleError(
          409,
          'NO_FAULT_PROXIES',
          'the system runs without fault proxies; start it with `flotilla up --fault-proxies`',
        );
      if (method === 'DELETE') {
        faults.clearAll();
        return send(res, 200, { cleared: true });
      }
      if (method !== 'POST')
        throw new ConsoleError(405, 'METHOD_NOT_ALLOWED', `${method} is not allowed on /faults`);
      const { service, ...change } = parse(FaultRequest, await readJson(req));
      if (!faults.services.includes(service))
        throw new ConsoleError(404, 'UNKNOWN_SERVICE', `no fault proxy in front of ${service}`);
      faults.set(service, change);
      return send(res, 200, { service, ...faults.current(service) });
    }
    if (path === '/load') {
      const load = host.load;
      if (load === undefined)
        throw new ConsoleError(409, 'NO_LOAD_SCENARIO', 'the system has no load scenario or no gateway');
      if (method === 'DELETE') {
        await load.stop();
        return send(res, 200, load.status());
      }
      if (method !== 'POST')
        throw new ConsoleError(405, 'METHOD_NOT_ALLOWED', `${method} is not allowed on /load`);
      const { concurrency } = parse(LoadRequest, await readJson(req));
      load.start(concurrency);
      return send(res, 200, load.status());
    }
    throw new ConsoleError(404, 'NOT_FOUND', `no console route ${method} ${path}`);
  };

  return {
    webBuilt,
    async handle(req, res) {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const path = url.pathname;
      if (path !== '/console' && !path.startsWith('/console/')) return false;
      try {
        if (path.startsWith('/console/api/') || path === '/console/api') {
          if (!authorized(req.headers.authorization)) {
            res.setHeader('www-authenticate', 'Bearer realm="flotilla-console"');
            fail(
              res,
              401,
              'UNAUTHORIZED',
              'the console API needs Authorization: Bearer <FLOTILLA_ADMIN_TOKEN>',
            );
            return true;
          }
          await api(req, res, path.slice('/console/api'.length), url);
          return true;
        }
        if (path === '/console') {
          res.writeHead(308, { location: `/console/${url.search}` });
          res.end();
          return true;
        }
        const method = req.method ?? 'GET';
        if (method !== 'GET' && method !== 'HEAD') {
          fail(res, 405, 'METHOD_NOT_ALLOWED', `${method} is not allowed on the console's files`);
          return true;
        }
        if (!(await serveStatic(webRoot, path.slice('/console/'.length), res, method === 'HEAD'))) {
          if (!webBuilt)
            fail(
              res,
              503,
              'CONSOLE_NOT_BUILT',
              'the console web app is not built: run `npm run build:web -w @flotilla/console`',
            );
          else fail(res, 404, 'NOT_FOUND', `no file ${path}`);
        }
        return true;
      } catch (err) {
        if (res.headersSent) {
          res.destroy();
          return true;
        }
        if (err instanceof ConsoleError) fail(res, err.status, err.code, err.message);
        else fail(res, 500, 'INTERNAL', 'the console failed to answer; see the supervisor output');
        if (!(err instanceof ConsoleError))
          process.emitWarning(`console: ${(err as Error).stack ?? String(err)}`);
        return true;
      }
    },
    async close() {
      stateChanges.dispose();
      for (const res of streams) res.end();
      streams.clear();
      await collector.close();
      await upstreams.close();
    },
  };
}
