// What the order service's setup builds and its routes use.
import type { EventBus } from '@flotilla/events';
import type { SagaRunner } from '@flotilla/saga';
import type { Store } from '@flotilla/store';
import type { OrderDb } from './db.js';
import type { fulfillmentSaga } from './fulfillment-saga.js';

/** The order service's dependencies. */
export interface OrderDeps {
  readonly store: Store<OrderDb>;
  readonly bus: EventBus<OrderDb>;
  /** Runs the fulfillment sagas of this instance. */
  readonly runner: SagaRunner<OrderDb>;
  /** The fulfillment saga definition the runner executes. */
  readonly saga: ReturnType<typeof fulfillmentSaga>;
  /** Wall clock, epoch ms. */
  readonly now: () => number;
}
