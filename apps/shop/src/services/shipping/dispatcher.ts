// The dispatch job: the simulated carriers pick shipments up SHIPPING_DISPATCH_DELAY_MS after they
// were created. Each due shipment turns DISPATCHED and ShipmentDispatched is published in the same
// transaction; the update is conditional on CREATED, so instances running the job side by side
// never dispatch a shipment twice.
import type { EventBus } from '@flotilla/events';
import type { Clock, TimerHandle } from '@flotilla/resilience';
import type { Store } from '@flotilla/store';
import { ShipmentDispatched } from '../../contracts/shipping-events.js';
import type { ShippingDb } from './db.js';

/** Options of {@link createDispatcher}. */
export interface DispatcherOptions {
  readonly store: Store<ShippingDb>;
  readonly bus: EventBus<ShippingDb>;
  /** How long after its creation a shipment is dispatched, in ms. */
  readonly delayMs: number;
  /** Time between two passes of the job, in ms. */
  readonly intervalMs: number;
  /** Most shipments dispatched in one transaction. */
  readonly batchSize: number;
  /** Timers of the job. */
  readonly clock: Clock;
  /** Wall clock, epoch ms (creation and dispatch times). */
  readonly now: () => number;
  /** Where passes that dispatched something, and failed passes, are reported (the service's logger). */
  readonly log: {
    info(obj: Record<string, unknown>, msg: string): void;
    error(obj: Record<string, unknown>, msg: string): void;
  };
}

/** The running dispatch job. */
export interface Dispatcher {
  /** Schedules the passes (every `intervalMs`). */
  start(): void;
  /** Runs a pass now, after any pass in progress; resolves with the number of shipments dispatched. */
  runOnce(): Promise<number>;
  /** Resolves once no pass is in progress (and a scheduled one has scheduled the next). */
  idle(): Promise<void>;
  /** Stops scheduling and waits for the pass in progress. */
  close(): Promise<void>;
}

/**
 * Creates the dispatch job of the shipping service.
 *
 * @example
 * const dispatcher = createDispatcher({ store, bus, delayMs: 2000, intervalMs: 500, batchSize: 100, clock, now, log });
 * dispatcher.start();
 */
export function createDispatcher(options: DispatcherOptions): Dispatcher {
  const { store, bus, clock, now, log } = options;
  let timer: TimerHandle | undefined;
  let closed = false;
  let chain: Promise<unknown> = Promise.resolve();
  /** The scheduled pass in progress, up to and including the scheduling of the next one. */
  let ticking: Promise<void> = Promise.resolve();

  const dispatchDue = async (): Promise<number> => {
    let total = 0;
    for (;;) {
      const at = now();
      const due = await store.db
        .selectFrom('shipments')
        .select(['id', 'order_id', 'customer_id', 'carrier', 'tracking_number'])
        .where('status', '=', 'CREATED')
        .where('created_at', '<=', at - options.delayMs)
        .orderBy('created_at')
        .limit(options.batchSize)
        .execute();
      if (due.length === 0) return total;
      total += await store.transaction(async (tx) => {
        let dispatched = 0;
        for (const s of due) {
          const updated = await tx
            .updateTable('shipments')
            .set({ status: 'DISPATCHED', dispatched_at: at })
            .where('id', '=', s.id)
            .where('status', '=', 'CREATED')
            .executeTakeFirst();
          if (Number(updated.numUpdatedRows) !== 1) continue;
          await bus.publish(tx, ShipmentDispatched, {
            subject: s.order_id,
            id: `shipment:${s.id}:dispatched`,
            data: {
              shipmentId: s.id,
              orderId: s.order_id,
              customerId: s.customer_id,
              carrier: s.carrier,
              trackingNumber: s.tracking_number,
              dispatchedAt: new Date(at).toISOString(),
            },
          });
          dispatched++;
        }
        return dispatched;
      });
      if (due.length < options.batchSize || closed) return total;
    }
  };

  const runOnce = (): Promise<number> => {
    const pass = chain.then(dispatchDue);
    chain = pass.catch(() => undefined);
    return pass;
  };

  const schedule = (): void => {
    if (closed) return;
    timer = clock.setTimeout(() => {
      timer = undefined;
      ticking = runOnce()
        .then((n) => {
          if (n > 0) log.info({ dispatched: n }, 'shipments dispatched');
        })
        .catch((err: unknown) => {
          if (!closed) log.error({ err }, 'dispatching shipments failed; will try again');
        })
        .finally(schedule);
    }, options.intervalMs);
  };

  return {
    start: () => {
      if (timer === undefined && !closed) schedule();
    },
    runOnce,
    idle: async () => {
      await chain;
      await ticking;
    },
    close: async () => {
      closed = true;
      if (timer !== undefined) clock.clearTimeout(timer);
      timer = undefined;
      await chain;
      await ticking;
    },
  };
}
