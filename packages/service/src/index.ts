export {
  type AggregateOptions,
  type AggregateResult,
  aggregate,
  type Part,
  type PartFailure,
  type PartFailureStatus,
  type PartOptions,
  type PartResult,
  type PartSuccess,
  type PartWork,
} from './aggregate.js';
export {
  type BreakerSettings,
  type BulkheadSettings,
  type ClientLogger,
  type ClientsOptions,
  createClients,
  type RetrySettings,
  type UpstreamPolicies,
  type UpstreamPolicyOverrides,
} from './client.js';
export type {
  CallContext,
  CallOptions,
  ClientResponse,
  Clients,
  ServiceClient,
  UpstreamSnapshot,
} from './client-types.js';
export { ConfigError, type EnvSchema, loadConfig } from './config.js';
export { DEADLINE_HEADER, parseDeadline } from './deadline.js';
export {
  defineService,
  type RunningService,
  type Service,
  type ServiceOptions,
  type SetupContext,
  type StartOptions,
} from './define-service.js';
export {
  type Discovery,
  DiscoveryConfigError,
  type DiscoveryOptions,
  discovery,
  isDiscoveryConfigError,
  isUnknownServiceError,
  serviceUrlVariable,
  type TopologyFile,
  UnknownServiceError,
} from './discovery.js';
export { isTransientDatabaseError, type MappedError, mapError } from './error-mapping.js';
export {
  type ErrorBody,
  errorBody,
  errors,
  isServiceError,
  ServiceError,
  type ServiceErrorOptions,
} from './errors.js';
export type { CheckReport, ReadinessReport, ServicePhase } from './health.js';
export type { HealthCheck, HealthCheckResult } from './health-check.js';
export { createServiceMetrics, type ServiceMetrics } from './http-metrics.js';
export {
  type CallOutcome,
  type Endpoint,
  type InstanceSnapshot,
  type LoadBalancer,
  type LoadBalancerOptions,
  type LoadBalancing,
  loadBalancer,
  type OutlierDetectionOptions,
  type OutlierEvent,
} from './load-balancer.js';
export { createLogger, dropLogOutput, type LoggerSettings } from './logger.js';
export {
  type AnyRoute,
  defineRoute,
  type HttpMethod,
  type Reply,
  type RequestContext,
  type RequestInput,
  type RouteDefinition,
  reply,
} from './route.js';
export { LIFELINE_ENV, onLifelineCut, runService } from './run-service.js';
export { ServiceStartError } from './server.js';
export {
  type CallerIdentity,
  type EndUser,
  InvalidTokenError,
  isInvalidTokenError,
  type ServiceTokens,
  type ServiceTokensOptions,
  serviceTokens,
} from './tokens.js';
export {
  childContext,
  formatTraceparent,
  newSpanId,
  newTraceId,
  parseTraceparent,
  type TraceContext,
} from './trace-context.js';
export {
  type ActiveSpan,
  createTracer,
  type SpanKind,
  type SpanQuery,
  type SpanRecord,
  type Tracer,
  type TracerOptions,
  tracesPerSecondFromEnv,
} from './tracer.js';
export {
  isUpstreamError,
  isUpstreamUnavailableError,
  parseRetryAfter,
  UpstreamError,
  type UpstreamErrorOptions,
  UpstreamUnavailableError,
} from './upstream-error.js';
