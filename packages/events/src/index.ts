export type {
  EventBusOptions,
  EventSubscribeOptions,
  EventTracer,
  InboxOptions,
  RelayOptions,
} from './bus-options.js';
export type {
  DeadLetter,
  DeadLetterError,
  DeadLetterQuery,
  DeadLetterReason,
  DeadLetters,
  ReplayResult,
} from './dead-letters.js';
export {
  type AnyEventContract,
  type DefineEventOptions,
  defineEvent,
  type EventContract,
  type EventData,
  type EventInput,
  type Upcaster,
} from './define-event.js';
export type { EventEnvelope, EventOf } from './envelope.js';
export {
  DeadLetterNotFoundError,
  DeadLetterReplayError,
  EventBusClosedError,
  EventValidationError,
  isDeadLetterNotFoundError,
  isDeadLetterReplayError,
  isEventBusClosedError,
  isEventValidationError,
  isUnknownEventError,
  isUnsupportedSchemaVersionError,
  UnknownEventError,
  UnsupportedSchemaVersionError,
  type ValidationIssue,
} from './errors.js';
export {
  createEventBus,
  type EventBus,
  type EventBusHealthCheckOptions,
  type EventBusStats,
  type OutboxStats,
  type PublishInput,
} from './event-bus.js';
export {
  DeadLetterDetails,
  DeadLetterSummary,
  DeadLetterSummaryList,
  DiscardResultView,
  type EventBusRoutesOptions,
  type EventBusRoutesTarget,
  type EventBusStatsView,
  eventBusRoutes,
  ReplayResultView,
} from './event-bus-routes.js';
export type { EventHandler, HandlerContext } from './handler-invocation.js';
export type { EventsLogger } from './logger.js';
export {
  type DeadLetterTable,
  type EventsTables,
  eventsMigrations,
  type InboxTable,
  type OutboxTable,
} from './migrations.js';
export type { RelayStatus } from './relay.js';
export type { GroupStats, LatencySummary } from './stats.js';
export type {
  Delivery,
  DeliveryHandler,
  Settlement,
  SubscribeOptions,
  Subscription,
  Transport,
  TransportMessage,
} from './transport.js';
export {
  DEFAULT_EMBEDDED_PATH,
  type TransportFromUrlOptions,
  transportFromUrl,
} from './transport-from-url.js';
export {
  type EmbeddedTransportOptions,
  embeddedTransport,
} from './transports/embedded/embedded-transport.js';
export {
  IncompatibleTransportError,
  isIncompatibleTransportError,
  isTransportClosedError,
  isTransportUnavailableError,
  TransportClosedError,
  TransportUnavailableError,
} from './transports/errors.js';
export { type MemoryTransportOptions, memoryTransport } from './transports/memory.js';
export { type NatsTransportOptions, natsTransport } from './transports/nats.js';
export { fnv1a32, partitionOf } from './transports/partitioning.js';
