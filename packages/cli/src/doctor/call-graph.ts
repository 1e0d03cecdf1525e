import type { GatewayConfig } from '@flotilla/gateway';
import { allFiles, type DoctorContext } from './doctor-context.js';
import type { Evidence } from './finding.js';
import { findInCode, lineOf } from './source-file.js';

/** How one service reaches another. */
export type EdgeKind = 'call' | 'saga-call' | 'gateway' | 'depends-on' | 'event';

/** An edge of the dependency graph, with where it was seen. */
export interface Edge {
  readonly from: string;
  readonly to: string;
  readonly kind: EdgeKind;
  readonly evidence: Evidence;
}

const CLIENT_CALL = /\b(?:clients\s*\.\s*get|\.client)\(\s*['"]([\w-]+)['"]/;
const UPSTREAMS = /\bupstreams\s*:\s*\{/;

/** The `upstreams: { x: {...} }` settings of a service's code, by upstream, with their text. */
export function upstreamSettings(
  ctx: DoctorContext,
  service: string,
): Map<string, { readonly text: string; readonly evidence: Evidence }> {
  const out = new Map<string, { text: string; evidence: Evidence }>();
  const sources = ctx.sources.find((s) => s.service === service);
  if (sources === undefined) return out;
  for (const file of sources.own)
    for (const m of findInCode(file, UPSTREAMS)) {
      const open = m.match.index + m.match[0].length - 1;
      const body = balanced(file.code, open);
      for (const entry of topLevelEntries(body)) {
        const line = lineOf(file.code, open + 1 + entry.offset);
        out.set(entry.key, {
          text: entry.value,
          evidence: {
            file: ctx.rel(file.path),
            line,
            service,
            detail: `upstreams.${entry.key}: ${entry.value.replace(/\s+/g, ' ')}`,
          },
        });
      }
    }
  return out;
}

/** The text inside the braces that open at `open`. */
function balanced(code: string, open: number): string {
  let depth = 0;
  for (let i = open; i < code.length; i++) {
    if (code[i] === '{') depth++;
    else if (code[i] === '}' && --depth === 0) return code.slice(open + 1, i);
  }
  return code.slice(open + 1);
}

/** `key: value` pairs at the top level of an object literal's text. */
function topLevelEntries(body: string): { key: string; value: string; offset: number }[] {
  const out: { key: string; value: string; offset: number }[] = [];
  let depth = 0;
  let start = 0;
  const push = (end: number) => {
    const part = body.slice(start, end);
    const m = /^\s*['"]?([\w-]+)['"]?\s*:\s*([\s\S]*?)\s*$/.exec(part);
    if (m !== null) out.push({ key: m[1]!, value: m[2]!, offset: start + part.indexOf(m[1]!) });
    start = end + 1;
  };
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (c === '{' || c === '[' || c === '(') depth++;
    else if (c === '}' || c === ']' || c === ')') depth--;
    else if (c === ',' && depth === 0) push(i);
  }
  push(body.length);
  return out;
}

/** The services a gateway route sends to (upstream, split, aggregate parts, mirrors). */
export function routeServices(route: unknown): string[] {
  const found = new Set<string>();
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (typeof v === 'object' && v !== null)
      for (const [k, x] of Object.entries(v)) {
        if (k === 'service' && typeof x === 'string') found.add(x);
        else walk(x);
      }
  };
  walk(route);
  return [...found];
}

/** The gateway's route edges, with the route ids per upstream service. */
export function gatewayEdges(ctx: DoctorContext, config: GatewayConfig, gateway: string): Edge[] {
  const routes = new Map<string, string[]>();
  for (const route of config.routes)
    for (const service of routeServices(route))
      routes.set(service, [...(routes.get(service) ?? []), route.id]);
  return [...routes].map(([to, ids]) => ({
    from: gateway,
    to,
    kind: 'gateway',
    evidence: { file: ctx.rel(ctx.gateway!.file), service: gateway, detail: `routes ${ids.join(', ')}` },
  }));
}

/**
 * The static call graph: `ctx.client('x')` / `clients.get('x')` calls and `upstreams: { x }` in
 * each service's code, the gateway's routes, and `dependsOn` from the system file. Saga steps'
 * calls are marked `saga-call` when `sagaCalls` names them.
 */
export function callGraph(ctx: DoctorContext, sagaCalls: ReadonlySet<string> = new Set()): Edge[] {
  const names = new Set(ctx.system.definition.services.map((s) => s.name));
  const edges: Edge[] = [];
  const seen = new Set<string>();
  const add = (edge: Edge) => {
    const key = `${edge.from}>${edge.to}>${edge.kind}`;
    if (edge.from === edge.to || !names.has(edge.to) || seen.has(key)) return;
    seen.add(key);
    edges.push(edge);
  };
  for (const s of ctx.sources) {
    for (const file of allFiles(s))
      for (const m of findInCode(file, CLIENT_CALL)) {
        const to = m.match[1]!;
        add({
          from: s.service,
          to,
          kind: sagaCalls.has(`${s.service}>${to}`) ? 'saga-call' : 'call',
          evidence: { file: ctx.rel(file.path), line: m.line, service: s.service, detail: m.snippet },
        });
      }
    for (const [to, { evidence }] of upstreamSettings(ctx, s.service))
      add({
        from: s.service,
        to,
        kind: sagaCalls.has(`${s.service}>${to}`) ? 'saga-call' : 'call',
        evidence,
      });
  }
  if (ctx.gateway !== undefined && ctx.system.gateway !== undefined)
    for (const e of gatewayEdges(ctx, ctx.gateway.config, ctx.system.gateway)) add(e);
  for (const s of ctx.system.plan().services)
    for (const to of s.dependsOn)
      add({
        from: s.name,
        to,
        kind: 'depends-on',
        evidence: {
          ...(ctx.system.file === undefined ? {} : { file: ctx.rel(ctx.system.file) }),
          service: s.name,
          detail: `dependsOn: ${to}`,
        },
      });
  return edges;
}

/** Cycles of a graph: one path per strongly connected component of two or more nodes. */
export function findCycles(edges: readonly Edge[]): Edge[][] {
  const out = new Map<string, Edge[]>();
  for (const e of edges) out.set(e.from, [...(out.get(e.from) ?? []), e]);
  const cycles: Edge[][] = [];
  const covered = new Set<string>();
  for (const start of [...out.keys()].sort()) {
    if (covered.has(start)) continue;
    // Shortest path from start back to itself (breadth first), so the reported cycle is the tightest.
    const prev = new Map<string, Edge>();
    const queue = [start];
    let closing: Edge | undefined;
    while (queue.length > 0 && closing === undefined) {
      const node = queue.shift()!;
      for (const e of out.get(node) ?? []) {
        if (e.to === start) {
          closing = e;
          break;
        }
        if (!prev.has(e.to)) {
          prev.set(e.to, e);
          queue.push(e.to);
        }
      }
    }
    if (closing === undefined) continue;
    const path: Edge[] = [closing];
    for (let at = closing.from; at !== start; ) {
      const e = prev.get(at)!;
      path.unshift(e);
      at = e.from;
    }
    const nodes = path.map((e) => e.from);
    if (nodes.every((n) => covered.has(n))) continue;
    for (const n of nodes) covered.add(n);
    cycles.push(path);
  }
  return cycles;
}
