export type {
  AggregatePartStatus,
  AggregateResponse,
  Aggregator,
  AggregatorOptions,
  PartCall,
} from './aggregate.js';
export { createAggregator, PARTIAL_HEADER } from './aggregate.js';
export type {
  AggregateConfig,
  GatewayConfig,
  GatewayConfigInput,
  RouteConfig,
  SplitConfig,
  TargetConfig,
} from './config.js';
export { type ConfigIssue, GatewayConfigError, isGatewayConfigError } from './config-error.js';
export {
  type LoadOptions,
  loadGatewayConfig,
  type ValidateOptions,
  validateGatewayConfig,
} from './config-loader.js';
export {
  createGateway,
  type Gateway,
  type GatewayOptions,
  type ListenOptions,
  type ReloadEvent,
  startGateway,
} from './gateway.js';
export type { BreakerState, GuardName, GuardStatus } from './guards.js';
export type { CapturedResponse, ComparisonResult, Difference, ResponseSnapshot } from './json-compare.js';
export { compareResponses } from './json-compare.js';
export type { MismatchSample, ShadowRequest, ShadowStatus } from './shadow.js';
export type {
  MigrationStatus,
  RollbackEvent,
  RollbackRecord,
  SplitController,
  SplitControllerOptions,
  SplitDecision,
  SplitOutcome,
} from './split.js';
export { createSplitController } from './split.js';
export type { UpstreamReport, UpstreamSettings } from './upstream-pool.js';
