export {
  type EventBusHarness,
  type KitDb,
  kitMigrations,
  losingFirstAcks,
  MemoryLogger,
  OrderPlaced,
  OrderPlacedV2,
  SpanRecorder,
} from './conformance-kit.js';
export { type EventBusConformanceOptions, eventBusConformance } from './event-conformance.js';
export { type PrivateStream, privateStream, requireNats, testNatsUrl } from './nats-helpers.js';
export { pgStoreSet, type StoreSet, sqliteStoreSet } from './store-sets.js';
export {
  type TransportConformanceOptions,
  type TransportHarness,
  transportConformance,
} from './transport-conformance.js';
