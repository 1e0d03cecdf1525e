import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type GatewayConfig, loadGatewayConfig, validateGatewayConfig } from '@flotilla/gateway';
import type { System } from '../validate-system.js';
import { callGraph } from './call-graph.js';
import { checkCoupling } from './check-coupling.js';
import { checkCycles } from './check-cycles.js';
import { checkDatabases } from './check-database.js';
import { checkRawHttp } from './check-raw-http.js';
import { checkRetries } from './check-retries.js';
import { checkSagas, readSagaSteps } from './check-sagas.js';
import { checkTraces } from './check-traces.js';
import { type DoctorContext, doctorContext } from './doctor-context.js';
import { type Finding, SEVERITIES, type Severity } from './finding.js';
import { fetchLiveSpans, liveBaseUrl, liveToken } from './live-spans.js';
import { loadTypeScript, type TypeScriptModule } from './saga-steps.js';
import { readServiceSources, sourceEntry } from './service-sources.js';
import type { TraceSpan } from './trace-file.js';

/** Options of {@link runDoctor}. */
export interface DoctorOptions {
  /** Recorded spans to check (see docs/doctor.md for the format). @default none */
  readonly traces?: { readonly file: string; readonly spans: readonly TraceSpan[] };
  /**
   * A running system whose spans to check instead: its control API's base URL (as `flotilla up`
   * prints it), or the URL with the admin token (default `FLOTILLA_ADMIN_TOKEN`, else the
   * system's `secrets.json`) and the earliest span start to read (epoch ms). Not with `traces`.
   * @default none
   */
  readonly live?: string | { readonly url: string; readonly token?: string; readonly sinceMs?: number };
  /** Calls from one service to another within one request above which it is chatty. @default 5 */
  readonly chatty?: number;
  /** Attempts multiplied along one path above which retry amplification is a warning. @default 10 */
  readonly retryThreshold?: number;
  /**
   * The TypeScript compiler for the saga check; `null` skips it (as when typescript is not
   * installed). @default the installed `typescript`, loaded on first use
   */
  readonly typescript?: TypeScriptModule | null;
}

/** What `flotilla doctor` found in a system. */
export interface DoctorReport {
  readonly system: string;
  /** The system file, when the system came from one. */
  readonly file: string | undefined;
  /** Findings, errors first. */
  readonly findings: readonly Finding[];
  /** How many findings of each severity. */
  readonly counts: Readonly<Record<Severity, number>>;
}

/**
 * Reads a system — its file, its services' source, its gateway configuration, optionally
 * recorded traces or the spans a running instance of it holds (`live`) — and reports the signs of a distributed monolith: shared databases, calls
 * without resilience, sagas that cannot undo, cycles, retry amplification, long synchronous chains
 * and chatty calls, readiness fan-in and shared domain modules. Nothing is started.
 *
 * @example
 * const report = await runDoctor(await loadSystem('apps/shop/flotilla.system.ts'));
 * const errors = report.findings.filter((f) => f.severity === 'error');
 */
export async function runDoctor(system: System, options: DoctorOptions = {}): Promise<DoctorReport> {
  const chatty = options.chatty ?? 5;
  const retryThreshold = options.retryThreshold ?? 10;
  if (!Number.isInteger(chatty) || chatty < 1)
    throw new RangeError(`chatty must be an integer >= 1, got ${chatty}`);
  if (!(retryThreshold >= 1)) throw new RangeError(`retryThreshold must be >= 1, got ${retryThreshold}`);
  if (options.traces !== undefined && options.live !== undefined)
    throw new TypeError('give recorded traces or a live system, not both');
  const traces = options.live === undefined ? options.traces : await liveTraces(system, options.live);
  const services = system.definition.services.map((s) => ({
    name: s.name,
    entry: system.plan().services.find((p) => p.name === s.name)?.entry ?? join(system.baseDir, s.entry),
  }));
  const sources = readServiceSources(services, system.baseDir);
  const findings: Finding[] = [];
  const gateway = await readGateway(system, findings);
  const ctx: DoctorContext = doctorContext(system, sources, gateway);
  const ts = options.typescript === null ? undefined : (options.typescript ?? (await loadTypeScript()));
  const steps = readSagaSteps(ctx, ts);
  const sagaCalls = new Set(
    [...steps].flatMap(([service, list]) => list.flatMap((s) => s.calls.map((c) => `${service}>${c}`))),
  );
  const graph = callGraph(ctx, sagaCalls);
  findings.push(
    ...checkDatabases(ctx),
    ...checkRawHttp(ctx),
    ...checkSagas(ctx, steps, ts),
    ...checkCycles(ctx, graph),
    ...checkRetries(ctx, graph, steps, retryThreshold),
    ...(traces === undefined ? [] : checkTraces(traces.spans, { chatty, file: traces.file })),
    ...checkCoupling(ctx),
  );
  const ordered = SEVERITIES.flatMap((sev) => findings.filter((f) => f.severity === sev));
  const counts = { error: 0, warn: 0, info: 0 };
  for (const f of ordered) counts[f.severity]++;
  return { system: system.name, file: system.file, findings: ordered, counts };
}

/** The spans a running system holds, named after its URL in evidence. */
async function liveTraces(
  system: System,
  live: NonNullable<DoctorOptions['live']>,
): Promise<{ readonly file: string; readonly spans: readonly TraceSpan[] }> {
  const { url, token, sinceMs } = typeof live === 'string' ? { url: live } : live;
  const base = liveBaseUrl(url);
  const key = liveToken(system, base, token, process.env);
  const spans = await fetchLiveSpans(base, { token: key, ...(sinceMs === undefined ? {} : { sinceMs }) });
  return { file: base, spans };
}

/** The gateway's configuration: `config.{ts,mts,js,mjs,json}` beside the gateway service's entry. */
async function readGateway(system: System, findings: Finding[]): Promise<DoctorContext['gateway']> {
  const name = system.gateway;
  const service = system.plan().services.find((s) => s.name === name);
  if (name === undefined || service === undefined) return undefined;
  const dirs = [...new Set([dirname(service.entry), dirname(sourceEntry(service.entry))])];
  const file = dirs
    .flatMap((dir) =>
      ['config.js', 'config.mjs', 'config.json', 'config.ts', 'config.mts'].map((f) => join(dir, f)),
    )
    .find((f) => existsSync(f));
  if (file === undefined) return undefined;
  // Secrets (`env:NAME`) are not needed to read routes and policies: any value will do.
  const env = new Proxy({} as Record<string, string | undefined>, {
    get: (_target, key) => (typeof key === 'string' ? (process.env[key] ?? 'x'.repeat(64)) : undefined),
  });
  let config: GatewayConfig;
  try {
    config = await loadGatewayConfig(file, { env });
  } catch (err) {
    try {
      // Without a TypeScript loader in the process, a .ts configuration is imported through tsx.
      if (!/\.m?ts$/.test(file)) throw err;
      const api = (await import('tsx/esm/api')) as {
        tsImport: (specifier: string, parentURL: string) => Promise<{ default?: unknown }>;
      };
      const mod = await api.tsImport(pathToFileURL(file).href, import.meta.url);
      const input = (mod.default as { default?: unknown } | undefined)?.default ?? mod.default;
      config = validateGatewayConfig(input, { source: file, env });
    } catch {
      findings.push({
        id: 'gateway-config-unreadable',
        severity: 'info',
        services: [name],
        message: `the gateway configuration could not be loaded, so gateway routes and retries were not checked`,
        evidence: [{ file, service: name, detail: (err as Error).message.split('\n')[0] ?? '' }],
        fix: 'Fix the configuration (the gateway itself will refuse it too), or build the app so config.js exists.',
      });
      return undefined;
    }
  }
  return { file, config };
}
