import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '@flotilla/service/testing';
import { SignJWT } from 'jose';
import { fmtInt, fmtRatio, median } from '../lib/stats.js';
import { publish } from '../lib/table.js';
import { ensureTool } from '../lib/tools.js';
import { type WrkResult, wrk } from '../lib/wrk.js';
import { cpuTimes } from '../shop/process-cpu.js';
import { topSelfTime } from './profile.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..', '..');
/** The plain-JavaScript server scripts stay in src/ (tsc does not copy .mjs files into dist/). */
const scripts = join(root, 'bench', 'src', 'gateway');
/** Secrets of the benchmark's JWTs and service tokens (benchmark only). */
const BENCH_JWT_SECRET = 'bench-jwt-secret-of-at-least-32-bytes!!';
const BENCH_SERVICE_KEY = 'bench-service-key-of-at-least-32-bytes!!';
/**
 * Seconds of load before a server is measured. The Node proxies (ours and Fastify's alike) keep
 * getting faster for 15–20 s of load while V8 optimises their hot paths; after 3 s they were
 * still up to a third slower than warm.
 */
const WARM_UP_S = 10;

/** Options of {@link benchGateway}. */
export interface GatewayBenchOptions {
  /**
   * Rounds; each starts the Node proxies afresh and measures every server once, in turn; the
   * median is reported. @default 3
   */
  rounds?: number;
  /** Seconds of load per measurement. @default 10 */
  durationS?: number;
  /** wrk connections. @default 50 */
  connections?: number;
  /** wrk threads. @default 2 */
  threads?: number;
  /** Profile Flotilla's gateway under load afterwards and name where its time goes. @default true */
  profile?: boolean;
}

interface Server {
  readonly name: string;
  readonly label: string;
  readonly url: string;
  readonly headers?: Record<string, string>;
  /** The proxy's process, whose CPU per request is reported (Node servers only). */
  readonly pid?: number;
}

/** A Node proxy of the benchmark: started afresh in every round. */
interface NodeProxy {
  readonly name: string;
  readonly label: string;
  readonly script: string;
  readonly args: (upstreamUrl: string) => string[];
  readonly headers?: Record<string, string>;
}

/**
 * Starts a server script (plain JavaScript: no loader in the measured process) in its own
 * process; resolves with its port.
 */
async function startNode(
  script: string,
  args: readonly string[],
  nodeFlags: readonly string[] = [],
): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, [...nodeFlags, join(scripts, script), ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, BENCH_JWT_SECRET, BENCH_SERVICE_KEY },
  });
  let text = '';
  for await (const chunk of child.stdout as AsyncIterable<Buffer>) {
    text += chunk.toString('utf8');
    const line = text.split('\n').find((l) => l.startsWith('{"port"'));
    if (line !== undefined) return { child, port: (JSON.parse(line) as { port: number }).port };
  }
  throw new Error(`${script} exited before listening`);
}

async function stopChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill(signal);
  await exited;
}

/** nginx in the foreground, one worker, `proxy_pass` to a keep-alive upstream, access log off. */
async function startNginx(upstreamPort: number): Promise<{ url: string; stop: () => Promise<void> }> {
  const bin = ensureTool('nginx');
  const dir = mkdtempSync(join(tmpdir(), 'flotilla-bench-nginx-'));
  mkdirSync(join(dir, 'logs'));
  const port = await freePort();
  const conf = join(dir, 'nginx.conf');
  writeFileSync(
    conf,
    `worker_processes 1;
${process.getuid?.() === 0 ? 'user root;' : ''}
error_log ${dir}/logs/error.log warn;
pid ${dir}/nginx.pid;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  upstream catalog { server 127.0.0.1:${upstreamPort}; keepalive 64; }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://catalog;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
`,
  );
  const child = spawn(bin, ['-c', conf, '-p', dir, '-g', 'daemon off;'], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  // nginx says nothing when it is up: wait until the port answers.
  for (let i = 0; i < 100; i++) {
    const ok = await fetch(`http://127.0.0.1:${port}/api/items/1`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url: `http://127.0.0.1:${port}`,
    stop: async () => {
      await stopChild(child, 'SIGQUIT');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Requests per second and latency of Flotilla's gateway against its peers, in one run on this
 * machine: the upstream alone, nginx, Fastify with @fastify/http-proxy, a bare node:http + undici
 * forwarder (the floor of a Node proxy), and the gateway with auth and rate limits off, then on. Each server runs in its own process; wrk shares the cores
 * with them. Rounds are interleaved so drift affects every server alike; medians are reported.
 */
export async function benchGateway(options: GatewayBenchOptions = {}): Promise<void> {
  const { rounds = 3, durationS = 10, connections = 50, threads = 2, profile = true } = options;
  ensureTool('wrk');
  // The gateway runs from its compiled dist/, as in production: build it first.
  execFileSync(join(root, 'node_modules', '.bin', 'tsc'), ['-b', 'packages/gateway'], {
    cwd: root,
    stdio: 'inherit',
  });
  const stops: (() => Promise<void>)[] = [];
  try {
    const upstream = await startNode('upstream-server.mjs', []);
    stops.push(() => stopChild(upstream.child));
    const upstreamUrl = `http://127.0.0.1:${upstream.port}`;
    const nginx = await startNginx(upstream.port);
    stops.push(nginx.stop);
    const token = await new SignJWT({ scope: 'catalog:read' })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('bench-user')
      .setIssuedAt()
      .setExpirationTime('2h')
      .sign(new TextEncoder().encode(BENCH_JWT_SECRET));

    const fixed: Server[] = [
      { name: 'direct', label: 'upstream alone (node:http, no proxy)', url: upstreamUrl },
      { name: 'nginx', label: 'nginx proxy_pass, keepalive upstream, 1 worker', url: nginx.url },
    ];
    const proxies: NodeProxy[] = [
      {
        name: 'fastify',
        label: 'Fastify 5 + @fastify/http-proxy',
        script: 'fastify-proxy-server.mjs',
        args: (url) => [url],
      },
      {
        name: 'bare',
        label: 'bare forwarder: node:http + undici Pool, no features (reference)',
        script: 'bare-forwarder-server.mjs',
        args: (url) => [url],
      },
      {
        name: 'flotilla',
        label: 'Flotilla gateway, auth and rate limit off',
        script: 'flotilla-server.mjs',
        args: (url) => [url, 'plain'],
      },
      {
        name: 'flotilla-secured',
        label: 'Flotilla gateway, HS256 JWT + 2 rate limits + service token',
        script: 'flotilla-server.mjs',
        args: (url) => [url, 'secured'],
        headers: { authorization: `Bearer ${token}` },
      },
    ];
    const servers: readonly { name: string; label: string }[] = [...fixed, ...proxies];
    const load = (server: Server, seconds: number): Promise<WrkResult> =>
      wrk({
        url: `${server.url}/api/items/1042`,
        connections,
        threads,
        durationS: seconds,
        ...(server.headers === undefined ? {} : { headers: server.headers }),
      });

    const samples = new Map<string, WrkResult[]>(servers.map((s) => [s.name, []]));
    // CPU of each Node proxy over its measured loads, and the requests it served meanwhile.
    const cpu = new Map<string, { user: number; kernel: number; requests: number; seconds: number }>();
    for (let round = 1; round <= rounds; round++) {
      // Fresh processes each round: what V8 decides while optimising a process stays with it for
      // its life, and one process's luck would otherwise decide every round of its row.
      const children: ChildProcess[] = [];
      try {
        const started: Server[] = [];
        for (const proxy of proxies) {
          const { child, port } = await startNode(proxy.script, proxy.args(upstreamUrl));
          children.push(child);
          started.push({
            name: proxy.name,
            label: proxy.label,
            url: `http://127.0.0.1:${port}`,
            ...(proxy.headers === undefined ? {} : { headers: proxy.headers }),
            ...(child.pid === undefined ? {} : { pid: child.pid }),
          });
        }
        const measured = [...fixed, ...started];
        for (const server of measured) {
          const warm = await load(server, WARM_UP_S);
          if (warm.requests === 0 || warm.errors > 0)
            throw new Error(
              `${server.name} failed its warm-up: ${warm.requests} requests, ${warm.errors} errors`,
            );
        }
        for (const server of measured) {
          const before = server.pid === undefined ? undefined : cpuTimes(server.pid);
          const result = await load(server, durationS);
          samples.get(server.name)?.push(result);
          const after = server.pid === undefined ? undefined : cpuTimes(server.pid);
          if (before !== undefined && after !== undefined) {
            const sum = cpu.get(server.name) ?? { user: 0, kernel: 0, requests: 0, seconds: 0 };
            cpu.set(server.name, {
              user: sum.user + after.user - before.user,
              kernel: sum.kernel + after.kernel - before.kernel,
              requests: sum.requests + result.requests,
              seconds: sum.seconds + durationS,
            });
          }
        }
      } finally {
        for (const child of children.reverse()) await stopChild(child);
      }
      process.stderr.write(`gateway: round ${round}/${rounds} done\n`);
    }

    let hotspots: string[] = [];
    if (profile) hotspots = await profileGateway(upstreamUrl, connections, threads, durationS);

    const med = (name: string, pick: (r: WrkResult) => number): number =>
      median((samples.get(name) ?? []).map(pick));
    const direct = med('direct', (r) => r.rps);
    const peer = med('fastify', (r) => r.rps);
    const rows = servers.map((s) => {
      const rps = med(s.name, (r) => r.rps);
      const errors = (samples.get(s.name) ?? []).reduce((a, r) => a + r.errors, 0);
      return [
        s.label,
        fmtInt(rps),
        med(s.name, (r) => r.p50Ms).toFixed(2),
        med(s.name, (r) => r.p99Ms).toFixed(2),
        fmtRatio(rps / direct),
        s.name === 'direct' ? '—' : fmtRatio(rps / peer),
        String(errors),
      ];
    });
    publish({
      name: 'gateway',
      title: 'API gateway: requests per second proxying a small JSON response',
      command: `npm run bench -- gateway --rounds ${rounds} --seconds ${durationS} (wrk -t${threads} -c${connections})`,
      header: [
        'server',
        'req/s',
        'p50 ms',
        'p99 ms',
        'ratio to upstream alone',
        'ratio to @fastify/http-proxy',
        'errors',
      ],
      rows,
      notes: [
        `wrk -t${threads} -c${connections} -d${durationS}s against GET /api/items/1042; medians of ${rounds} rounds. Each round starts every Node proxy as a fresh process (V8's optimisation decisions stay with a process for its life: with one process per row for the whole run, one process's luck decided every round), warms every server up for ${WARM_UP_S} s, then measures them in turn.`,
        'The load generator (wrk), the upstream and the proxy share the same 2 cores: the numbers compare the servers with each other on this machine, not with their ceilings.',
        'The upstream is one node:http process answering a 103-byte JSON document; every proxy runs in its own process (nginx with 1 worker; the Node servers without any loader, the gateway from its compiled dist/), all with access logs off.',
        'The bare forwarder is the floor of a Node proxy, not a product: a node:http server handing each request to one undici Pool through `dispatch` (the API the gateway uses), dropping hop-by-hop headers and adding x-forwarded-for, with no routing, timeout, breaker, tracing, metrics or header policy. Its ratio to @fastify/http-proxy is about the most a proxy built on node:http and undici reaches here; the gain of a full gateway over @fastify/http-proxy can only come out of the difference between the two.',
        'The secured row verifies an HS256 JWT (cached per token until it expires), takes a token from a per-consumer and a per-route bucket, sends RateLimit-* headers and signs the user into a service token for the upstream (cached per service and user).',
        `CPU of each Node proxy's process per request over its measured loads (Linux /proc, all threads): ${servers
          .filter((s) => cpu.has(s.name))
          .map((s) => {
            const c = cpu.get(s.name)!;
            const per = (seconds: number) => ((seconds * 1e6) / Math.max(1, c.requests)).toFixed(1);
            return `${s.label}: ${per(c.user + c.kernel)} µs (user ${per(c.user)}, kernel ${per(c.kernel)}), ${((c.user + c.kernel) / c.seconds).toFixed(2)} cores`;
          })
          .join(
            '; ',
          )}. A proxy whose process uses about one core is limited by its one JavaScript thread; its throughput is then about 1 / its CPU per request.`,
        `Ratio to @fastify/http-proxy in each round, plain / secured: ${(samples.get('fastify') ?? [])
          .map((f, i) => {
            const ratio = (name: string) => fmtRatio((samples.get(name)?.[i]?.rps ?? 0) / f.rps);
            return `${ratio('flotilla')} / ${ratio('flotilla-secured')}`;
          })
          .join(
            '; ',
          )}. The spread between rounds shows how much of a difference between two runs can be this host's noise.`,
        ...hotspots,
      ],
    });
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => {});
  }
}

/** Runs the plain gateway under `--cpu-prof` for one load period and describes its top self-time functions. */
async function profileGateway(
  upstreamUrl: string,
  connections: number,
  threads: number,
  durationS: number,
): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), 'flotilla-bench-prof-'));
  try {
    const gateway = await startNode(
      'flotilla-server.mjs',
      [upstreamUrl, 'plain'],
      ['--cpu-prof', `--cpu-prof-dir=${dir}`],
    );
    const url = `http://127.0.0.1:${gateway.port}/api/items/1042`;
    await wrk({ url, connections, threads, durationS: WARM_UP_S });
    await wrk({ url, connections, threads, durationS });
    await stopChild(gateway.child, 'SIGINT');
    const top = topSelfTime(dir, 12);
    return [
      `Where the gateway's time goes (CPU profile of the plain gateway under the same load, share of non-idle samples by self time): ${top
        .map((t) => `${t.name} ${(t.share * 100).toFixed(1)}% (${t.where})`)
        .join('; ')}.`,
    ];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
