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
