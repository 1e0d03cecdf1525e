import { type Edge, findCycles } from './call-graph.js';
import { allFiles, type DoctorContext } from './doctor-context.js';
import type { Finding } from './finding.js';
import { findInCode } from './source-file.js';

const PUBLISH = /\.publish\(\s*[\w$.]+\s*,\s*([\w$.]+)\s*,/;
const SUBSCRIBE = /\.subscribe\(\s*\{/;
const EVENTS_LIST = /\bevents\s*:\s*\[([^\]]*)\]/;

const arrow = (cycle: readonly Edge[]) => [...cycle.map((e) => e.from), cycle[0]!.from].join(' → ');

/** Synchronous dependency cycles (calls, gateway routes, dependsOn) and event cycles. */
export function checkCycles(ctx: DoctorContext, graph: readonly Edge[]): Finding[] {
  const findings: Finding[] = [];
  for (const cycle of findCycles(graph))
    findings.push({
      id: 'call-cycle',
      severity: 'error',
      services: [...new Set(cycle.map((e) => e.from))],
      message: `services depend on each other in a cycle: ${arrow(cycle)}`,
      evidence: cycle.map((e) => ({
        ...e.evidence,
        detail: `${e.from} → ${e.to} (${e.kind}): ${e.evidence.detail}`,
      })),
      fix: "Break the cycle: let one side learn what it needs from the other's events (a local copy) instead of calling it, or move the shared capability into one service.",
    });
  for (const cycle of findCycles(eventEdges(ctx)))
    findings.push({
      id: 'event-cycle',
      severity: 'warn',
      services: [...new Set(cycle.map((e) => e.from))],
      message: `events go round in a cycle: ${arrow(cycle)}`,
      evidence: cycle.flatMap((e) => [e.evidence]),
      fix: 'Check that the loop ends (each event is handled once, no ping-pong); usually one service should own the whole process (an orchestrating saga) instead of services reacting to each other.',
    });
  return findings;
}

/** Event names a service's code publishes and subscribes to. */
export function eventUsage(
  ctx: DoctorContext,
): Map<string, { publishes: Map<string, Edge['evidence']>; consumes: Map<string, Edge['evidence']> }> {
  const out = new Map<
    string,
    { publishes: Map<string, Edge['evidence']>; consumes: Map<string, Edge['evidence']> }
  >();
  const last = (name: string) => name.split('.').pop()!;
  for (const s of ctx.sources) {
    const publishes = new Map<string, Edge['evidence']>();
    const consumes = new Map<string, Edge['evidence']>();
    for (const file of allFiles(s)) {
      for (const m of findInCode(file, PUBLISH))
        if (!publishes.has(last(m.match[1]!)))
          publishes.set(last(m.match[1]!), {
            file: ctx.rel(file.path),
            line: m.line,
            service: s.service,
            detail: `publishes ${last(m.match[1]!)}: ${m.snippet}`,
          });
      for (const m of findInCode(file, SUBSCRIBE)) {
        const list = EVENTS_LIST.exec(file.code.slice(m.match.index, m.match.index + 600));
        if (list === null) continue;
        for (const raw of list[1]!.split(',')) {
          const name = last(raw.trim());
          if (name !== '' && !consumes.has(name))
            consumes.set(name, {
              file: ctx.rel(file.path),
              line: m.line,
              service: s.service,
              detail: `subscribes to ${name}`,
            });
        }
      }
    }
    out.set(s.service, { publishes, consumes });
  }
  return out;
}

/** Publisher → consumer edges, one per event type. */
function eventEdges(ctx: DoctorContext): Edge[] {
  const usage = eventUsage(ctx);
  const edges: Edge[] = [];
  for (const [from, { publishes }] of usage)
    for (const [to, { consumes }] of usage) {
      if (from === to) continue;
      for (const [event, evidence] of publishes) {
        const consumed = consumes.get(event);
        if (consumed === undefined) continue;
        edges.push({
          from,
          to,
          kind: 'event',
          evidence: {
            ...evidence,
            detail: `${from} publishes ${event}, consumed by ${to} (${consumed.file}:${consumed.line})`,
          },
        });
        break;
      }
    }
  return edges;
}
