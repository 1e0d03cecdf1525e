import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { childArgs } from '../lib/child.js';
import { fmtInt, fmtRatio, median } from '../lib/stats.js';
import { publish } from '../lib/table.js';
import { wrk } from '../lib/wrk.js';

const run = promisify(execFile);

/** Options of the service benchmark. */
export interface ServiceBenchOptions {
  /** Interleaved rounds; medians are reported. */
  rounds: number;
  /** Seconds of load per measurement. */
  seconds: number;
}

interface Started {
  readonly proc: ChildProcess;
  readonly info: { url: string; authorization?: string };
}

async function startServer(kind: string): Promise<Started> {
  const proc = spawn(process.execPath, [...childArgs(import.meta.url, 'server'), kind], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, NODE_ENV: 'production' },
  });
  const lines = createInterface({ input: proc.stdout! });
  const [line] = (await once(lines, 'line')) as [string];
  return { proc, info: JSON.parse(line) as Started['info'] };
}

async function stop(s: Started): Promise<void> {
  s.proc.kill('SIGTERM');
  await once(s.proc, 'exit');
}

/**
 * In one run: req/s and p99 of a Fastify hello world against the same route through
 * `defineService` with every feature on (loaded by wrk); and req/s and p99 of bare undici
 * `Pool.request` against `ServiceClient` with all its policies (each client driving the same
 * node:http upstream from its own process).
 */
export async function benchService({ rounds, seconds }: ServiceBenchOptions): Promise<void> {
  const empty = () => ({ rps: [] as number[], p99: [] as number[] });
  const serverKinds = ['fastify', 'flotilla', 'flotilla-validated'] as const;
  const clientKinds = ['undici', 'flotilla', 'flotilla-full'] as const;
  const server = Object.fromEntries(serverKinds.map((k) => [k, empty()])) as Record<
    (typeof serverKinds)[number],
    ReturnType<typeof empty>
  >;
  const client = Object.fromEntries(clientKinds.map((k) => [k, empty()])) as Record<
    (typeof clientKinds)[number],
    ReturnType<typeof empty>
  >;
  for (let round = 1; round <= rounds; round++) {
    for (const kind of serverKinds) {
      const s = await startServer(kind);
      try {
        await wrk({ url: `${s.info.url}/hello/ada`, durationS: 2, connections: 50, headers: auth(s) }); // warm-up
        const r = await wrk({
          url: `${s.info.url}/hello/ada`,
          durationS: seconds,
          connections: 50,
          headers: auth(s),
        });
        if (r.errors > 0) throw new Error(`${kind}: ${r.errors} errors under load`);
        server[kind].rps.push(r.rps);
        server[kind].p99.push(r.p99Ms);
      } finally {
        await stop(s);
      }
    }
    const upstream = await startServer('upstream');
    try {
      for (const kind of clientKinds) {
        const { stdout } = await run(process.execPath, [
          ...childArgs(import.meta.url, 'client-driver'),
          kind,
          upstream.info.url,
          '32',
          String(seconds),
        ]);
        const r = JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as { rps: number; p99Ms: number };
        client[kind].rps.push(r.rps);
        client[kind].p99.push(r.p99Ms);
      }
    } finally {
      await stop(upstream);
    }
    process.stderr.write(`service: round ${round}/${rounds} done\n`);
  }
  const row = (label: string, m: { rps: number[]; p99: number[] }, base: { rps: number[] }) => [
    label,
    fmtInt(median(m.rps)),
    `${median(m.p99).toFixed(2)} ms`,
    fmtRatio(median(m.rps) / median(base.rps)),
  ];
  publish({
    name: 'service',
    title: 'Service runtime: defineService vs Fastify, ServiceClient vs undici',
    command: `npm run bench -- service --rounds ${rounds} --seconds ${seconds}`,
    header: ['variant', 'req/s', 'p99', 'ratio to bare'],
    rows: [
      row('Fastify 5 hello world (bare)', server.fastify, server.fastify),
      row('same route through `defineService`, production defaults', server.flotilla, server.fastify),
      row(
        '… and response validation on (the default outside production)',
        server['flotilla-validated'],
        server.fastify,
      ),
      row('undici `Pool.request` + JSON parse (bare)', client.undici, client.undici),
      row(
        '`ServiceClient.get`: retry + budget, breaker, timeout, bulkhead, balancing',
        client.flotilla,
        client.undici,
      ),
      row('… and a service token + a recorded client span per call', client['flotilla-full'], client.undici),
    ],
    notes: [
      `Medians of ${rounds} interleaved rounds of ${seconds} s after a warm-up; each server and each client in its own process.`,
      'Servers loaded by wrk -t2 -c50 on the same 2 cores: the load generator competes with the server for CPU.',
      '`defineService` rows have every request feature on: zod validation of params and query, service-token verification (HS256, cached per token), request id, W3C trace span, Prometheus histogram; the second adds response schema validation.',
      'The last client row sends a ~200-byte JWT and a traceparent with every request: most of its extra cost is writing and validating those headers.',
      'Clients: 32 concurrent loops against one node:http upstream that answers a 40-byte JSON body.',
    ],
  });
}

function auth(s: Started): Record<string, string> {
  return s.info.authorization === undefined ? {} : { authorization: s.info.authorization };
}
