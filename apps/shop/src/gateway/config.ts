// The shop's gateway configuration: the only public port. New capabilities are under /api/v2 and
// go to their services; the catalogue and the v1 order endpoints still go to the legacy monolith;
// `GET /api/v2/products/:sku` is mid-migration (weighted between legacy and catalog, shadowed).
import type { GatewayConfigInput } from '@flotilla/gateway';

/** Scope a customer token carries to place orders. */
const WRITE = { scopes: ['orders:write'] };
/** Scope a customer token carries to read its orders and notifications. */
const READ = { scopes: ['orders:read'] };

/**
 * Redis shared by every gateway instance for the rate limits (the distributed profile sets it);
 * without it each gateway counts in its own memory.
 */
const redis = process.env.FLOTILLA_RATE_LIMIT_REDIS;

/** The shop gateway's configuration (validated by @flotilla/gateway when loaded). */
const config: GatewayConfigInput = {
  auth: { jwt: { secret: 'env:FLOTILLA_JWT_SECRET', issuer: 'flotilla-shop' } },
  rateLimit: {
    store: redis === undefined || redis === '' ? 'memory' : { redis },
    perConsumer: { ratePerSecond: 2_000, burst: 4_000 },
  },
  upstreamDefaults: { timeoutMs: 5_000, maxAttempts: 2, breakerThreshold: 5, halfOpenAfterMs: 5_000 },
  routes: [
    {
      id: 'login',
      match: { method: 'POST', path: '/api/login' },
      auth: 'public',
      rateLimit: { perConsumer: { ratePerSecond: 20, burst: 40 } },
      upstream: { service: 'legacy', rewrite: '/login' },
    },
    // The catalogue list still lives in the monolith.
    {
      id: 'products',
      match: { method: 'GET', path: '/api/v2/products' },
      auth: 'public',
      upstream: { service: 'legacy', rewrite: '/products' },
    },
    // Mid-migration: half the visitors read products from the new catalog service, each one kept
    // on one side by a `visitor` cookie (the route is public: there is no user to stick by);
    // requests without it are drawn at random. Every request legacy serves is mirrored to catalog
    // and the answers compared.
    {
      id: 'product',
      match: { method: 'GET', path: '/api/v2/products/:sku' },
      auth: 'public',
      split: {
        legacy: { service: 'legacy', rewrite: '/products/:sku' },
        candidate: { service: 'catalog', rewrite: '/products/:sku' },
        weight: 50,
        sticky: { cookie: 'visitor' },
        shadow: { sampleRate: 1, ignore: ['$.updatedAt'] },
        guards: { breakerOpen: true, errorRate: { max: 0.05 }, mismatchRate: { max: 0.05 } },
      },
    },
    {
      id: 'orders-place',
      match: { method: 'POST', path: '/api/v2/orders' },
      auth: WRITE,
      upstream: { service: 'order', rewrite: '/orders' },
    },
    {
      id: 'orders-list',
      match: { method: 'GET', path: '/api/v2/orders' },
      auth: READ,
      upstream: { service: 'order', rewrite: '/orders' },
    },
    // One request, four services: the order first (it must exist and be the caller's), then the
    // others in parallel, each degrading to "unavailable" when its service does not answer.
    {
      id: 'order-view',
      match: { method: 'GET', path: '/api/v2/orders/:id' },
      auth: READ,
      aggregate: {
        parts: {
          order: { service: 'order', path: '/orders/:id', required: true },
          payment: {
            service: 'payment',
            path: '/payments?orderId={{order.id}}',
            fallback: 'unavailable',
            timeoutMs: 2_000,
          },
          reservation: {
            service: 'inventory',
            path: '/reservations?orderId={{order.id}}',
            fallback: 'unavailable',
            timeoutMs: 2_000,
          },
          shipment: {
            service: 'shipping',
            path: '/shipments?orderId={{order.id}}',
            fallback: 'unavailable',
            timeoutMs: 2_000,
          },
        },
      },
    },
    {
      id: 'inventory',
      match: { method: 'GET', path: '/api/v2/inventory/:sku' },
      auth: 'public',
      upstream: { service: 'inventory', rewrite: '/stock/:sku' },
    },
    {
      id: 'notifications',
      match: { method: 'GET', path: '/api/v2/notifications' },
      auth: READ,
      upstream: { service: 'notification', rewrite: '/notifications' },
    },
    {
      id: 'shipments',
      match: { method: 'GET', path: '/api/v2/shipments' },
      auth: READ,
      upstream: { service: 'shipping', rewrite: '/shipments' },
    },
    // The monolith's own order endpoints (one database transaction: stock, payment, order).
    {
      id: 'v1-orders-place',
      match: { method: 'POST', path: '/api/v1/orders' },
      auth: WRITE,
      upstream: { service: 'legacy', rewrite: '/v1/orders' },
    },
    {
      id: 'v1-order',
      match: { method: 'GET', path: '/api/v1/orders/:id' },
      auth: READ,
      upstream: { service: 'legacy', rewrite: '/v1/orders/:id' },
    },
    {
      id: 'v1-products',
      match: { method: 'GET', path: '/api/v1/products' },
      auth: 'public',
      upstream: { service: 'legacy', rewrite: '/products' },
    },
    {
      id: 'v1-product',
      match: { method: 'GET', path: '/api/v1/products/:sku' },
      auth: 'public',
      upstream: { service: 'legacy', rewrite: '/products/:sku' },
    },
    {
      id: 'admin-product',
      match: { method: 'PUT', path: '/api/v1/admin/products/:sku' },
      auth: { scopes: ['catalog:write'] },
      upstream: { service: 'legacy', rewrite: '/admin/products/:sku' },
    },
  ],
};

export default config;
