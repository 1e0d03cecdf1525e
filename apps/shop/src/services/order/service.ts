// The order service: owns orders and runs their fulfillment saga.
//
// Routes (every one needs a service token; the order routes act for the end user in it):
//   POST /orders          place an order (Idempotency-Key required) → 202 { orderId, status: PENDING };
//                         400 VALIDATION_FAILED / IDEMPOTENCY_KEY_REQUIRED / IDEMPOTENCY_KEY_INVALID,
//                         401 UNAUTHENTICATED, 409 IDEMPOTENCY_KEY_REUSED, 422 UNKNOWN_PRODUCT /
//                         MIXED_CURRENCIES, 502/503/504 when the catalogue cannot price it
//   GET  /orders/:id      the caller's order → 200; 404 ORDER_NOT_FOUND (also another customer's)
//   GET  /orders          the caller's orders, newest first (?status&limit&cursor) → 200
//   GET  /sagas, GET /sagas/:id, POST /sagas/:id/retry, POST /sagas/:id/resolve
//                         the saga operator API (@flotilla/saga's sagaRoutes)
//   GET  /audit/orders, GET /events/stats, GET /dead-letters[/:id], POST /dead-letters/:id/replay|discard
//                         operators and the chaos checker (platform/audit.ts; 403 for end users)
//
// Placing an order writes the order (PENDING), starts its fulfillment saga and publishes
// OrderCreated in one transaction; the saga (fulfillment-saga.ts) reserves stock, takes the
// payment and confirms the order — or compensates and cancels it with a reason. Failures are
// handled per the policy in step-failure.ts. The saga runner resumes unfinished sagas on start.
import { hostname } from 'node:os';
import { type Clock, exponentialBackoff, systemClock } from '@flotilla/resilience';
import { createSagaRunner, sagaMigrations } from '@flotilla/saga';
import { defineService, type Service } from '@flotilla/service';
import { z } from 'zod';
import { busAdminRoutes } from '../../platform/audit.js';
import { openPlatform } from '../../platform/runtime.js';
import { orderAuditRoutes } from './audit-routes.js';
import type { OrderDb } from './db.js';
import { fulfillmentSaga } from './fulfillment-saga.js';
import { orderMigrations } from './migrations.js';
import type { OrderDeps } from './order-deps.js';
import { orderRoutes } from './order-routes.js';
import { sagaAdminRoutes } from './saga-admin-routes.js';

const count = (fallback: number, max: number) => z.coerce.number().int().min(1).max(max).default(fallback);
const millis = (fallback: number) => z.coerce.number().int().min(0).max(86_400_000).default(fallback);

/** The order service's environment variables. */
export const OrderConfig = z.object({
  /** Attempts of the payment step before it compensates with PAYMENT_UNAVAILABLE. */
  ORDER_PAYMENT_RETRY_ATTEMPTS: count(5, 100),
  /** Attempts of the reservation step before it compensates with INVENTORY_UNAVAILABLE. */
  ORDER_INVENTORY_RETRY_ATTEMPTS: count(5, 100),
  /** First delay of the steps' exponential backoff (full jitter), ms. */
  ORDER_RETRY_INITIAL_DELAY_MS: millis(500),
  /** Longest delay of the steps' backoff, ms. */
  ORDER_RETRY_MAX_DELAY_MS: millis(5_000),
  /** Longest delay between attempts of a failing compensation, ms. */
  ORDER_COMPENSATION_MAX_DELAY_MS: millis(60_000),
  /** Time allowed per attempt of a call step, ms (each HTTP attempt is bounded by the client's 5 s). */
  ORDER_STEP_TIMEOUT_MS: count(15_000, 600_000),
  /** The saga runner's lease owner id; stable per instance. Default: `order.<host>:<port>` when a port is set. */
  ORDER_SAGA_INSTANCE_ID: z.string().min(1).max(200).optional(),
  /** How long a saga lease lasts, ms: a dead instance's sagas are taken over after it. */
  ORDER_SAGA_LEASE_MS: count(30_000, 3_600_000),
  /** How often the runner looks for due sagas, ms. */
  ORDER_SAGA_POLL_INTERVAL_MS: count(1_000, 60_000),
  /** Sagas executed at once by this instance. */
  ORDER_SAGA_CONCURRENCY: count(64, 10_000),
  /** Attempts of a compensation before its saga is marked stuck for an operator. */
  ORDER_SAGA_STUCK_AFTER_ATTEMPTS: count(10, 1_000),
});

/** Options of {@link createOrderService} (tests). */
export interface OrderServiceOptions {
  /**
   * Timers of the saga runner (retry wake-ups, polling, step timeouts).
   * @default systemClock
   */
  readonly clock?: Clock;
  /**
   * Wall clock in epoch ms: order timestamps, saga leases and due times.
   * @default Date.now
   */
  readonly now?: () => number;
}

/**
 * Defines the order service. Each call makes a new definition (start each one once).
 *
 * @example
 * const running = await startForTest(createOrderService(), { env });
 */
export function createOrderService(options: OrderServiceOptions = {}): Service<OrderDeps> {
  const clock = options.clock ?? systemClock;
  const now = options.now ?? Date.now;
  return defineService<OrderDeps, typeof OrderConfig>({
    name: 'order',
    version: '1.0.0',
    config: OrderConfig,
    // The saga step is the one retry loop for participants (durable, lease released while it
    // waits); a client retry inside each step attempt would multiply the attempts.
    upstreams: { inventory: { retry: false }, payment: { retry: false } },
    routes: [...orderRoutes, ...sagaAdminRoutes(), ...orderAuditRoutes, ...busAdminRoutes<OrderDeps>()],
    info: async ({ bus, runner }) => {
      const [stats, stuck] = await Promise.all([bus.stats(), runner.list({ state: 'stuck', limit: 1 })]);
      // Saga counts and latencies are in /metrics (flotilla_saga_*); here only what needs a hand.
      return { queues: { outbox: stats.outbox.backlog }, sagas: { anyStuck: stuck.items.length > 0 } };
    },
    setup: async (ctx) => {
      const { config } = ctx;
      const { store, bus } = await openPlatform<OrderDb>(ctx, orderMigrations, sagaMigrations);
      const backoff = exponentialBackoff({
        initialDelayMs: config.ORDER_RETRY_INITIAL_DELAY_MS,
        maxDelayMs: Math.max(config.ORDER_RETRY_INITIAL_DELAY_MS, config.ORDER_RETRY_MAX_DELAY_MS),
      });
      const saga = fulfillmentSaga({
        store,
        bus,
        clients: ctx.clients,
        log: ctx.log,
        now,
        inventoryRetry: { maxAttempts: config.ORDER_INVENTORY_RETRY_ATTEMPTS, backoff },
        paymentRetry: { maxAttempts: config.ORDER_PAYMENT_RETRY_ATTEMPTS, backoff },
        stepTimeoutMs: config.ORDER_STEP_TIMEOUT_MS,
      });
      const port = ctx.env.FLOTILLA_PORT ?? ctx.env.PORT;
      const instanceId =
        config.ORDER_SAGA_INSTANCE_ID ??
        // Two live processes cannot listen on one host and port, so this names one instance,
        // and a restarted one takes back its own leases at once.
        (port !== undefined && port !== '0'
          ? `order.${hostname().replace(/[^A-Za-z0-9_.:-]/g, '-')}:${port}`.slice(0, 200)
          : undefined);
      const runner = createSagaRunner<OrderDb>({
        store,
        sagas: [saga],
        ...(instanceId === undefined ? {} : { instanceId }),
        leaseMs: config.ORDER_SAGA_LEASE_MS,
        pollIntervalMs: config.ORDER_SAGA_POLL_INTERVAL_MS,
        concurrency: config.ORDER_SAGA_CONCURRENCY,
        stuckAfterAttempts: config.ORDER_SAGA_STUCK_AFTER_ATTEMPTS,
        compensationBackoff: exponentialBackoff({
          initialDelayMs: config.ORDER_RETRY_INITIAL_DELAY_MS,
          maxDelayMs: Math.max(config.ORDER_RETRY_INITIAL_DELAY_MS, config.ORDER_COMPENSATION_MAX_DELAY_MS),
        }),
        registry: ctx.metrics.registry,
        tracer: ctx.tracer,
        logger: ctx.log,
        clock,
        now,
      });
      // Registered after the platform: closes first, so running steps finish before the bus and store.
      ctx.onClose(() => runner.close());
      await bus.start();
      await runner.run();
      return { store, bus, runner, saga, now };
    },
  });
}

/** The order service as `main.ts` runs it. */
export const orderService: Service<OrderDeps> = createOrderService();
