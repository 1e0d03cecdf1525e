// A runnable tour of @flotilla/gateway: two tiny upstreams (a legacy monolith and the new catalog
// service), the gateway in front of them with the configuration in gateway.config.json, and a few
// requests through it. Run it from the repository root:
//   node --conditions=source --import tsx packages/gateway/examples/quickstart.ts
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { startGateway } from '@flotilla/gateway';
import { discovery } from '@flotilla/service';
import { SignJWT } from 'jose';
import { pino } from 'pino';

const JWT_SECRET = 'quickstart-secret-of-at-least-32-bytes!';

/** Starts a JSON server on a free port; `routes` maps a path prefix to a body. */
async function upstream(
  routes: Record<string, (path: string) => unknown>,
): Promise<{ url: string; close(): void }> {
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0] as string;
    const prefix = Object.keys(routes).find((p) => path.startsWith(p));
    const body = JSON.stringify(
      prefix === undefined
        ? { error: { code: 'NOT_FOUND', message: path, retryable: false } }
        : routes[prefix]?.(path),
    );
    res.writeHead(prefix === undefined ? 404 : 200, { 'content-type': 'application/json' });
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => server.close() };
}

const id = (path: string) => path.split('/').at(-1);
const monolith = await upstream({
  '/legacy/search': () => ({ results: ['canvas tote', 'linen apron'] }),
  '/legacy/products/': (p) => ({ id: id(p), name: 'Canvas tote', price: 1299, generatedAt: Date.now() }),
  '/legacy/reviews/': () => [{ stars: 5, text: 'Sturdy.' }],
});
const catalog = await upstream({
  '/products/': (p) => ({ id: id(p), name: 'Canvas tote', price: 1299, generatedAt: 'now' }),
});

const gateway = await startGateway({
  config: fileURLToPath(new URL('./gateway.config.json', import.meta.url)),
  discovery: discovery({
    topology: { services: { monolith: { urls: [monolith.url] }, catalog: { urls: [catalog.url] } } },
    env: {},
  }),
  env: { SHOP_JWT_SECRET: JWT_SECRET },
  serviceKey: 'quickstart-service-key-of-32-bytes-or-more',
  adminToken: 'quickstart-admin-token',
  logger: pino({ level: 'warn' }),
  port: 0,
});

const token = await new SignJWT({ scope: 'shop' })
  .setProtectedHeader({ alg: 'HS256' })
  .setSubject('ada')
  .setExpirationTime('10m')
  .sign(new TextEncoder().encode(JWT_SECRET));
const get = async (path: string, headers: Record<string, string> = {}) => {
  const res = await fetch(`${gateway.url}${path}`, { headers });
  return { status: res.status, body: await res.json() };
};

const show = (label: string, value: unknown) => console.log(label.padEnd(14), JSON.stringify(value));
show('search', await get('/api/search?q=tote'));
show('product', await get('/api/products/42', { cookie: 'sid=visitor-1' }));
show('page, no JWT', (await get('/api/products/42/page')).status);
show('page', await get('/api/products/42/page', { authorization: `Bearer ${token}` }));
// The shadow copy goes to the candidate after the answer: wait for its comparison to be counted.
type Migration = { routeId: string; weight: number; shadow: { compared: number; mismatches: number } };
let migration: Migration | undefined;
for (let i = 0; i < 100 && (migration?.shadow.compared ?? 0) === 0; i++) {
  const res = await get('/__admin/migrations', { authorization: 'Bearer quickstart-admin-token' });
  migration = (res.body as Migration[])[0];
}
show('migration', { route: migration?.routeId, weight: migration?.weight, ...migration?.shadow });

await gateway.close();
monolith.close();
catalog.close();
