export type {
  ConsoleEdge,
  ConsoleResilienceTile,
  ConsoleService,
  ConsoleSnapshot,
  ConsoleTrace,
  ConsoleTraceList,
} from '@flotilla/console';
export type {
  ChaosCheckContext,
  ChaosChecker,
  ChaosDefinition,
  ChaosViolation,
  ChaosWorkload,
  ChaosWorkloadContext,
  InvariantResult,
} from './chaos-definition.js';
export {
  ChaosScheduleError,
  type FaultSpec,
  type FaultTarget,
  formatTarget,
  INFRA_FAULT_KINDS,
  type InfraFaultKind,
  type InfraFaultSpec,
  isChaosScheduleError,
  isInfraFault,
  isNetworkFault,
  type NetworkFaultKind,
  type NetworkFaultSpec,
  type ProcessFaultKind,
  type ProcessFaultSpec,
  parseDuration,
  parseFaultSchedule,
  type ServiceFaultTarget,
  seededRandom,
} from './chaos-schedule.js';
export { formatChaosSummary } from './chaos-summary.js';
export { type ControlClient, connectControl, type ServicesResponse } from './control-client.js';
export type { Evidence, Finding, Severity } from './doctor/finding.js';
export { formatDoctorReport } from './doctor/format-report.js';
export { type DoctorOptions, type DoctorReport, runDoctor } from './doctor/run-doctor.js';
export { parseTraces, type TraceSpan, type TraceSpanKind } from './doctor/trace-file.js';
export {
  ControlApiError,
  ControlCommandError,
  type ControlCommandRejection,
  DataDirError,
  isControlApiError,
  isControlCommandError,
  isDataDirError,
  isSystemDefinitionError,
  isSystemNotRunningError,
  isSystemRunningError,
  isSystemStartError,
  type StartFailureReason,
  SystemDefinitionError,
  SystemNotRunningError,
  type SystemProblem,
  SystemRunningError,
  SystemStartError,
} from './errors.js';
export {
  type FaultProxy,
  type FaultProxyOptions,
  type ProxyFaults,
  startFaultProxy,
} from './fault-proxy.js';
export { freePortCopy } from './free-port-copy.js';
export { freePorts } from './free-ports.js';
export { ChaosInfraError, isChaosInfraError } from './infra-errors.js';
export { type NatsServerOptions, type OwnedNatsServer, startNatsServer } from './infra-nats-server.js';
export { loadChaos } from './load-chaos.js';
export type { LoadContext, LoadScenario } from './load-scenario.js';
export { DEFAULT_SYSTEM_FILES, findSystemFile, loadSystem } from './load-system.js';
export {
  type FaultRecord,
  healSystem,
  type NemesisOptions,
  type NetworkFaultControl,
  pickTarget,
  runNemesis,
} from './nemesis.js';
export {
  createNamespaceHosts,
  type NamespaceHost,
  type NamespaceHosts,
  type NamespaceHostsOptions,
  namespaceSupport,
} from './netns.js';
export { renderPinoLine } from './pino-line.js';
export { resetData } from './reset-data.js';
export {
  type ProcessExit,
  type RestartDecision,
  type RestartPolicy,
  restartPolicy,
} from './restart-policy.js';
export { type ChaosPhase, type ChaosReport, type RunChaosOptions, runChaos } from './run-chaos.js';
export { type LoadProgress, type LoadSummary, type RunLoadOptions, runLoad } from './run-load.js';
export { type RunningSystem, type StartSystemOptions, startSystem } from './start-system.js';
export type { InstanceState, InstanceStatus, SupervisorEvent } from './supervisor-events.js';
export {
  SERVICE_ACTIONS,
  type ServiceAction,
  type SystemControl,
  type TargetOptions,
} from './system-control.js';
export type {
  BannerFunction,
  BannerInfo,
  EnvTemplate,
  InstanceDefinition,
  Placement,
  ProfileDefinition,
  RestartSettings,
  ServiceDefinition,
  ServiceOverride,
  SystemDefinition,
} from './system-definition.js';
export {
  type InstanceHealth,
  type SystemStatus,
  type SystemStatusOptions,
  systemStatus,
} from './system-status.js';
export { topologyOf } from './topology-file.js';
export {
  isSystem,
  type PlannedInstance,
  type PlannedService,
  type System,
  type SystemPlan,
  type ValidateSystemOptions,
  validateSystem,
} from './validate-system.js';
