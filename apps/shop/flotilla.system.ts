// The shop as a system for `flotilla up` (what `npm start` runs): every service its own process
// on a fixed port of 127.0.0.1, each with its own SQLite database in .flotilla/data and the
// embedded event log beside them. `--profile distributed` puts each service on its own
// PostgreSQL database and the events on NATS JetStream, with two instances of gateway, order,
// inventory and payment, and the gateways' rate limits in Redis.
//
// Services run from dist/ once the shop is built (`npm start` builds first); with
// FLOTILLA_SHOP_FROM_SOURCE=1, or before any build, they run from src/ through tsx.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { SystemDefinition } from 'flotilla';
import { demoCustomers } from './src/seed/customers.js';

export { shopChaos as chaos } from './src/chaos/shop-chaos.js';
export { load } from './src/load/scenario.js';

const built = existsSync(fileURLToPath(new URL('./dist/services/order/main.js', import.meta.url)));
const fromSource = process.env.FLOTILLA_SHOP_FROM_SOURCE === '1' || !built;
const entry = (path: string): string => (fromSource ? `src/${path}.ts` : `dist/${path}.js`);

/** PostgreSQL base URL of the distributed profile (one database per service is created on it). */
const pg = process.env.FLOTILLA_PG_URL ?? 'postgres://postgres@127.0.0.1:5432';
const nats = process.env.FLOTILLA_NATS_URL ?? 'nats://127.0.0.1:4222';
/** Redis that the distributed profile's gateways share their rate limits in. */
const redis = process.env.FLOTILLA_REDIS_URL ?? 'redis://127.0.0.1:6379';
const database = (service: string) => ({
  [`FLOTILLA_DATABASE_URL_${service.toUpperCase()}`]: `${pg}/flotilla_shop_${service}`,
});

const system: SystemDefinition = {
  name: 'shop',
  dataDir: '../../.flotilla/data',
  controlPort: 7100,
  gateway: 'gateway',
  secrets: ['FLOTILLA_JWT_SECRET'],
  readyTimeoutMs: 60_000,
  env: { FLOTILLA_LOG_LEVEL: 'info' },
  services: [
    { name: 'legacy', entry: entry('services/legacy/main'), port: 7101 },
    {
      name: 'catalog',
      entry: entry('services/catalog/main'),
      port: 7107,
      dependsOn: ['legacy'],
      critical: false,
    },
    { name: 'inventory', entry: entry('services/inventory/main'), port: 7103 },
    { name: 'payment', entry: entry('services/payment/main'), port: 7104 },
    {
      name: 'order',
      entry: entry('services/order/main'),
      port: 7102,
      dependsOn: ['legacy', 'inventory', 'payment'],
    },
    { name: 'shipping', entry: entry('services/shipping/main'), port: 7105, dependsOn: ['inventory'] },
    { name: 'notification', entry: entry('services/notification/main'), port: 7106, critical: false },
    {
      name: 'gateway',
      entry: entry('gateway/main'),
      port: 8080,
      dependsOn: ['legacy', 'order', 'inventory', 'payment', 'shipping'],
    },
  ],
  profiles: {
    distributed: {
      env: { FLOTILLA_TRANSPORT: nats },
      services: {
        legacy: { env: database('legacy') },
        catalog: { env: database('catalog') },
        inventory: { instances: [{ port: 7103 }, { port: 7113 }], env: database('inventory') },
        payment: { instances: [{ port: 7104 }, { port: 7114 }], env: database('payment') },
        order: { instances: [{ port: 7102 }, { port: 7112 }], env: database('order') },
        shipping: { env: database('shipping') },
        notification: { env: database('notification') },
        // A client (or a load balancer in front) may use either gateway: a consumer's rate
        // limit is one bucket in Redis, whichever instance the request reaches.
        gateway: {
          instances: [{ port: 8080 }, { port: 8090 }],
          env: { FLOTILLA_RATE_LIMIT_REDIS: redis, FLOTILLA_RATE_LIMIT_PREFIX: 'flotilla:shop:rl:' },
        },
      },
    },
  },
  banner: ({ urls, secrets, consoleUrl }) => {
    const gateway = urls.gateway?.[0] ?? 'http://127.0.0.1:8080';
    const others = (urls.gateway ?? []).slice(1);
    return [
      `shop:      ${gateway}  (try: curl ${gateway}/api/v2/products?limit=3)`,
      ...(others.length === 0 ? [] : [`           also ${others.join(', ')} (more gateway instances)`]),
      `log in:    curl -X POST ${gateway}/api/login -H 'content-type: application/json' -d '{"email":"ada@example.com","password":"analytical-engine"}'`,
      `customers: ${demoCustomers.map((c) => `${c.email} / ${c.password}`).join(', ')}`,
      `admin:     Bearer ${secrets.FLOTILLA_ADMIN_TOKEN}  (gateway /__admin, control API)`,
      ...(consoleUrl === undefined ? [] : [`console:   ${consoleUrl}  (open it in a browser)`]),
      'stop:      Ctrl-C (data stays in .flotilla/data; `npm run flotilla -- reset` wipes it)',
    ];
  },
};

export default system;
