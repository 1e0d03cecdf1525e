// One benchmark server per process: `server.ts <kind>`; prints `{"url": …}` when listening.
//   fastify   — a bare Fastify hello world
//   flotilla  — the same route through defineService: contract validation, service-token auth,
//               request id, trace span, metrics (response validation as in production: off)
//   flotilla-validated — the same with response validation on (the default outside production)
//   upstream  — a node:http JSON upstream for the client benchmark
import { createServer } from 'node:http';
import { defineService, serviceTokens } from '@flotilla/service';
import Fastify from 'fastify';
import { z } from 'zod';

const kind = process.argv[2];
const key = process.env.BENCH_SERVICE_KEY ?? 'x'.repeat(64);
const body = { hello: 'world', n: 42 };

if (kind === 'fastify') {
  const app = Fastify({ logger: false });
  app.get('/hello/:name', async (request) => ({ ...body, name: (request.params as { name: string }).name }));
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  console.log(
    JSON.stringify({ url: `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}` }),
  );
} else if (kind === 'flotilla' || kind === 'flotilla-validated') {
  const svc = defineService({ name: 'hello', version: '1.0.0' }).route({
    method: 'GET',
    path: '/hello/:name',
    params: z.object({ name: z.string().min(1).max(64) }),
    query: z.object({ verbose: z.stringbool().optional() }),
    response: z.object({ hello: z.string(), n: z.number(), name: z.string() }),
    handler: ({ params }) => ({ ...body, name: params.name }),
  });
  const running = await svc.start({
    port: 0,
    serviceKey: key,
    validateResponses: kind === 'flotilla-validated',
    env: { FLOTILLA_LOG_LEVEL: 'warn' },
  });
  const token = await serviceTokens({ service: 'bench', key, ttlSeconds: 3600 }).mint('hello');
  console.log(JSON.stringify({ url: running.url, authorization: `Bearer ${token}` }));
} else if (kind === 'upstream') {
  const payload = JSON.stringify(body);
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) });
    res.end(payload);
  });
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1', () => {
    const address = server.address();
    console.log(
      JSON.stringify({
        url: `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`,
      }),
    );
  });
} else {
  throw new Error(`unknown server kind ${kind}`);
}

// Exit on a signal through process.exit so `--cpu-prof` can write its profile.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => process.exit(0));
