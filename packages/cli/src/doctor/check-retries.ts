import { type Edge, upstreamSettings } from './call-graph.js';
import type { DoctorContext } from './doctor-context.js';
import type { Evidence, Finding } from './finding.js';
import type { SagaStep } from './saga-steps.js';

/** ServiceClient's attempts per call when `upstreams` does not say (DEFAULT_UPSTREAM_POLICIES in @flotilla/service). */
export const CLIENT_DEFAULT_ATTEMPTS = 3;
/** A saga step's attempts when its `retry` does not say (@flotilla/saga's default). */
export const SAGA_DEFAULT_ATTEMPTS = 3;
/** The gateway's attempts per upstream when its configuration does not say. */
export const GATEWAY_DEFAULT_ATTEMPTS = 2;

interface Hop {
  readonly edge: Edge;
  readonly factor: number;
  readonly why: string;
}

/**
 * Attempts multiplied along call paths: the gateway's attempts for the first service × each
 * ServiceClient's attempts × the attempts of the saga step a call is made in. Reports the worst
 * path; a warning when its factor is above `threshold`.
 */
export function checkRetries(
  ctx: DoctorContext,
  graph: readonly Edge[],
  steps: ReadonlyMap<string, readonly SagaStep[]>,
  threshold: number,
): Finding[] {
  const hops = new Map<string, Hop[]>();
  for (const edge of graph) {
    const hop = hopOf(ctx, edge, steps);
    if (hop !== undefined) hops.set(edge.from, [...(hops.get(edge.from) ?? []), hop]);
  }
  const roots =
    ctx.system.gateway !== undefined && hops.has(ctx.system.gateway)
      ? [ctx.system.gateway]
      : [...hops.keys()];
  let worst: { path: Hop[]; factor: number } = { path: [], factor: 1 };
  let above = 0;
  const walk = (node: string, path: Hop[], factor: number, visited: Set<string>) => {
    if (path.length > 0 && factor > threshold) above++;
    if (factor > worst.factor || (factor === worst.factor && path.length > worst.path.length))
      worst = { path, factor };
    for (const hop of hops.get(node) ?? [])
      if (!visited.has(hop.edge.to))
        walk(hop.edge.to, [...path, hop], factor * hop.factor, new Set([...visited, hop.edge.to]));
  };
  for (const root of roots) walk(root, [], 1, new Set([root]));
  if (worst.path.length === 0 || worst.factor <= 1) return [];
  const route = [worst.path[0]!.edge.from, ...worst.path.map((h) => h.edge.to)].join(' → ');
  const warn = worst.factor > threshold;
  return [
    {
      id: 'retry-amplification',
      severity: warn ? 'warn' : 'info',
      services: [...new Set([worst.path[0]!.edge.from, ...worst.path.map((h) => h.edge.to)])],
      message: `${warn ? '' : 'worst retry path: '}${route} can make ${worst.factor} attempts on its last service for one request (${worst.path.map((h) => h.factor).join(' × ')})${warn ? `, above ${threshold}${above > 1 ? `; ${above} paths are above it` : ''}` : ''}`,
      evidence: worst.path.map(
        (h): Evidence => ({
          ...h.edge.evidence,
          detail: `${h.edge.from} → ${h.edge.to}: ×${h.factor} (${h.why})`,
        }),
      ),
      fix: 'Retry in one layer only: keep retries where the operation is idempotent and closest to the caller (or in the durable saga step), and turn them off below it (upstreams: { x: { retry: false } }, gateway maxAttempts: 1 for that upstream).',
    },
  ];
}

function hopOf(
  ctx: DoctorContext,
  edge: Edge,
  steps: ReadonlyMap<string, readonly SagaStep[]>,
): Hop | undefined {
  if (edge.kind === 'gateway') {
    const config = ctx.gateway?.config;
    const own = config?.upstreams[edge.to]?.maxAttempts;
    const defaults = config?.upstreamDefaults?.maxAttempts;
    const factor = own ?? defaults ?? GATEWAY_DEFAULT_ATTEMPTS;
    return {
      edge,
      factor,
      why: `gateway maxAttempts ${factor} (${own !== undefined ? `upstreams.${edge.to}` : defaults !== undefined ? 'upstreamDefaults' : 'default'})`,
    };
  }
  if (edge.kind !== 'call' && edge.kind !== 'saga-call') return undefined;
  const setting = upstreamSettings(ctx, edge.from).get(edge.to);
  const attempts = /\bretry\s*:\s*false\b/.test(setting?.text ?? '')
    ? 1
    : Number(/\bmaxAttempts\s*:\s*(\d+)/.exec(setting?.text ?? '')?.[1] ?? CLIENT_DEFAULT_ATTEMPTS);
  const clientWhy = `client ${attempts} attempt${attempts === 1 ? '' : 's'}${setting === undefined ? ' (default)' : ''}`;
  if (edge.kind === 'call') return { edge, factor: attempts, why: clientWhy };
  const inSteps = (steps.get(edge.from) ?? []).filter((s) => s.calls.includes(edge.to));
  let stepAttempts = 1;
  let stepWhy = 'saga step';
  for (const s of inSteps) {
    const n =
      s.kind === 'retriable'
        ? Number.POSITIVE_INFINITY
        : s.maxAttempts === undefined
          ? SAGA_DEFAULT_ATTEMPTS
          : s.maxAttempts;
    if (n === 'dynamic') {
      if (stepAttempts === 1) stepWhy = `saga step ${s.name}: retry set at run time, counted as 1`;
      continue;
    }
    if (n > stepAttempts) {
      stepAttempts = n;
      stepWhy = `saga step ${s.name} ${Number.isFinite(n) ? `${n} attempts` : 'retries until it succeeds (retriable)'}`;
    }
  }
  return { edge, factor: stepAttempts * attempts, why: `${stepWhy} × ${clientWhy}` };
}
