// Topology: the services as nodes coloured by health, calls (solid) and events (dashed) as edges
// labelled with their traffic; a node's instances on click; the supervisor's recent events.
import { useState } from 'preact/hooks';
import type { ConsoleEdge, ConsoleService, ConsoleSnapshot } from '../../../src/contract.js';
import type { ReceivedEvent } from '../app.js';
import { Badge, Panel, Waiting } from '../components.js';
import { clock, ms, rate } from '../format.js';
import { type EdgeCurve, edgeCurve, laneCurve, layoutNodes, type NodePosition } from '../layout.js';

const W = 1180;
const H = 540;
const NODE_W = 116;
const NODE_H = 48;

/** One drawn edge: a call edge, or every event type between one producer and consumer merged. */
interface DrawnEdge {
  readonly key: string;
  readonly from: string;
  readonly to: string;
  readonly kind: 'call' | 'event';
  /** Label lines. */
  readonly lines: readonly string[];
  /** Tooltip: every event type of a merged edge. */
  readonly detail: string;
  readonly ratePerSec: number;
  readonly errorRate: number;
}

/** `rate/s · error % · p99` in few characters, for edge labels. */
const traffic = (ratePerSec: number, errorRate: number, p99Ms: number | null): string =>
  `${rate(ratePerSec)}/s · ${errorRate === 0 ? '0' : (errorRate * 100).toFixed(errorRate < 0.1 ? 1 : 0)}% · p99 ${ms(p99Ms).replace(' ', '')}`;

/** Merges event edges per (producer, consumer) so several event types draw as one labelled curve. */
function drawnEdges(edges: readonly ConsoleEdge[]): DrawnEdge[] {
  const out: DrawnEdge[] = [];
  const events = new Map<string, ConsoleEdge[]>();
  for (const e of edges) {
    if (e.kind === 'call') {
      const text = traffic(e.ratePerSec, e.errorRate, e.p99Ms);
      out.push({
        key: `call:${e.from}:${e.to}`,
        from: e.from,
        to: e.to,
        kind: 'call',
        lines: [text],
        detail: `${e.from} → ${e.to}: ${text}`,
        ratePerSec: e.ratePerSec,
        errorRate: e.errorRate,
      });
    } else {
      const k = `${e.from}\u0000${e.to}`;
      events.set(k, [...(events.get(k) ?? []), e]);
    }
  }
  for (const list of events.values()) {
    const first = list[0]!;
    const sorted = [...list].sort((a, b) => b.ratePerSec - a.ratePerSec);
    const ratePerSec = list.reduce((s, e) => s + e.ratePerSec, 0);
    const count = list.reduce((s, e) => s + e.count, 0);
    const errorRate = count > 0 ? list.reduce((s, e) => s + e.errorRate * e.count, 0) / count : 0;
    const p99s = list.map((e) => e.p99Ms).filter((v): v is number => v !== null);
    const name = sorted.length === 1 ? (first.label ?? 'events') : `${sorted.length} event types`;
    out.push({
      key: `event:${first.from}:${first.to}`,
      from: first.from,
      to: first.to,
      kind: 'event',
      lines: [name, traffic(ratePerSec, errorRate, p99s.length === 0 ? null : Math.max(...p99s))],
      detail: sorted
        .map((e) => `${e.from} → ${e.to} ${e.label ?? ''}: ${traffic(e.ratePerSec, e.errorRate, e.p99Ms)}`)
        .join('\n'),
      ratePerSec,
      errorRate,
    });
  }
  return out;
}

/**
 * Where each edge runs: between neighbouring columns a curve, bent apart from the other edges of
 * its pair; across columns a lane above (or below) every node, one lane per edge, shorter ones
 * nearer the nodes.
 */
function edgeCurves(
  edges: readonly DrawnEdge[],
  positions: ReadonlyMap<string, NodePosition>,
): Map<string, EdgeCurve> {
  const out = new Map<string, EdgeCurve>();
  const pairKey = (e: DrawnEdge): string => [e.from, e.to].sort().join('\u0000');
  const pairCount = new Map<string, number>();
  const near: DrawnEdge[] = [];
  const far: DrawnEdge[] = [];
  for (const e of edges) {
    const a = positions.get(e.from);
    const b = positions.get(e.to);
    if (a === undefined || b === undefined || e.from === e.to) continue;
    if (Math.abs(a.layer - b.layer) > 1) far.push(e);
    else {
      near.push(e);
      pairCount.set(pairKey(e), (pairCount.get(pairKey(e)) ?? 0) + 1);
    }
  }
  const pairIndex = new Map<string, number>();
  for (const e of near) {
    const a = positions.get(e.from)!;
    const b = positions.get(e.to)!;
    const k = pairKey(e);
    const n = pairCount.get(k) ?? 1;
    const i = pairIndex.get(k) ?? 0;
    pairIndex.set(k, i + 1);
    // Offsets are taken in the pair's sorted direction: a reversed chord flips the side a
    // positive bend goes to.
    const flip = e.from > e.to ? -1 : 1;
    const bend = (n === 1 ? (e.kind === 'event' ? 12 : 0) : (i - (n - 1) / 2) * 30) * flip;
    out.set(e.key, edgeCurve(a, b, bend, NODE_W, NODE_H));
  }
  const ys = [...positions.values()].map((p) => p.y);
  const top = Math.min(...ys) - NODE_H / 2;
  const bottom = Math.max(...ys) + NODE_H / 2;
  const span = (e: DrawnEdge): number => Math.abs(positions.get(e.from)!.x - positions.get(e.to)!.x);
  const lanes = { up: 0, down: 0 };
  for (const e of [...far].sort((x, y) => span(x) - span(y))) {
    const a = positions.get(e.from)!;
    const b = positions.get(e.to)!;
    const down = (a.y + b.y) / 2 > H / 2;
    const k = down ? lanes.down++ : lanes.up++;
    const laneY = down ? Math.min(H - 8, bottom + 24 + 22 * k) : Math.max(8, top - 24 - 22 * k);
    out.set(e.key, laneCurve(a, b, laneY, NODE_W, NODE_H));
  }
  return out;
}

const HEALTH_TONE: Record<string, string> = { ready: 'ok', degraded: 'warn', down: 'bad', unknown: 'none' };

const stateTone = (state: string): string =>
  state === 'ready'
    ? 'ok'
    : state === 'starting' || state === 'unready' || state === 'frozen'
      ? 'warn'
      : 'bad';

/** The topology page. */
export function TopologyPage(props: { snapshot: ConsoleSnapshot | null; events: readonly ReceivedEvent[] }) {
  const [selected, setSelected] = useState<string | null>(null);
  const { snapshot } = props;
  if (snapshot === null) return <Waiting />;
  const known = new Map(snapshot.services.map((s) => [s.service, s]));
  const names = [...known.keys()];
  for (const e of snapshot.edges) for (const n of [e.from, e.to]) if (!names.includes(n)) names.push(n);
  const positions = layoutNodes(names, snapshot.edges, W, H, { x: NODE_W / 2 + 16, y: 70 });
  const edges = drawnEdges(snapshot.edges);
  const curves = edgeCurves(edges, positions);
  const service = selected === null ? undefined : known.get(selected);

  return (
    <div class="topology">
      <Panel title="Services and traffic" testId="topology">
        <svg class="topology-svg" viewBox={`0 0 ${W} ${H}`} role="img" aria-label="Service topology">
          <title>Service topology</title>
          <defs>
            <marker
              id="arrow"
              viewBox="0 0 10 10"
              refX="9"
              refY="5"
              markerWidth="7"
              markerHeight="7"
              orient="auto-start-reverse"
            >
              <path d="M 0 0 L 10 5 L 0 10 z" fill="#6b7280" />
            </marker>
          </defs>
          {edges.map((e) => {
            const curve = curves.get(e.key);
            if (curve === undefined) return null;
            const tone = e.errorRate >= 0.05 ? 'bad' : e.errorRate > 0 ? 'warn' : 'ok';
            return (
              <g
                key={e.key}
                class={`edge edge-${e.kind} edge-${tone}`}
                data-testid={`edge-${e.kind}-${e.from}-${e.to}`}
                data-rate={e.ratePerSec}
                data-error-rate={e.errorRate}
              >
                <title>{e.detail}</title>
                <path
                  d={curve.path}
                  fill="none"
                  marker-end="url(#arrow)"
                  stroke-width={Math.min(5, 1.2 + Math.log10(1 + e.ratePerSec))}
                />
              </g>
            );
          })}
          {edges.map((e) => {
            const curve = curves.get(e.key);
            if (curve === undefined) return null;
            const tone = e.errorRate >= 0.05 ? 'bad' : e.errorRate > 0 ? 'warn' : 'ok';
            const { x, y } = curve.label;
            const width = Math.max(...e.lines.map((l) => l.length)) * 5.6 + 8;
            const height = e.lines.length * 12 + 3;
            return (
              <g
                key={e.key}
                class={`edge-label edge-${tone}`}
                data-testid={`edge-label-${e.kind}-${e.from}-${e.to}`}
              >
                <title>{e.detail}</title>
                <rect x={x - width / 2} y={y - height / 2} width={width} height={height} rx="3" />
                <text x={x} y={y - height / 2 + 11} text-anchor="middle">
                  {e.lines.map((line, j) => (
                    <tspan key={line} x={x} dy={j === 0 ? 0 : 12}>
                      {line}
                    </tspan>
                  ))}
                </text>
              </g>
            );
          })}
          {names.map((name) => {
            const p = positions.get(name)!;
            const s = known.get(name);
            const health = s?.health ?? 'unknown';
            const ready = s?.instances.filter((i) => i.state === 'ready').length ?? 0;
            return (
              // biome-ignore lint/a11y/useSemanticElements: an SVG group cannot be a <button>
              <g
                key={name}
                class={`node health-${health} ${selected === name ? 'selected' : ''}`}
                data-testid={`node-${name}`}
                data-health={health}
                role="button"
                tabIndex={0}
                onClick={() => setSelected(selected === name ? null : name)}
                onKeyDown={(e) => {
                  if (e.key === 'Enter' || e.key === ' ') setSelected(selected === name ? null : name);
                }}
              >
                <title>
                  {s === undefined ? name : `${name}: ${s.health}${s.critical ? ', critical' : ''}`}
                </title>
                <rect x={p.x - NODE_W / 2} y={p.y - NODE_H / 2} width={NODE_W} height={NODE_H} rx="8" />
                <text x={p.x} y={p.y - 4} text-anchor="middle" class="node-name">
                  {name}
                </text>
                <text x={p.x} y={p.y + 14} text-anchor="middle" class="node-sub">
                  {s === undefined ? 'not supervised' : `${ready}/${s.instances.length} ready`}
                </text>
              </g>
            );
          })}
        </svg>
        <p class="legend-line muted">
          Solid: synchronous calls · dashed: events · labels: rate, error share and p99 over the last{' '}
          {ms(snapshot.windowMs)}. Click a service for its instances.
        </p>
      </Panel>
      {service !== undefined && <Instances service={service} />}
      <SupervisorLog events={props.events} />
    </div>
  );
}

/** A service's instances. */
function Instances(props: { service: ConsoleService }) {
  const { service } = props;
  return (
    <Panel
      title={
        <>
          {service.service} <Badge tone={HEALTH_TONE[service.health] ?? 'none'}>{service.health}</Badge>
        </>
      }
      testId={`instances-${service.service}`}
    >
      <table>
        <thead>
          <tr>
            <th>instance</th>
            <th>state</th>
            <th>pid</th>
            <th>restarts</th>
            <th>uptime</th>
            <th>url</th>
          </tr>
        </thead>
        <tbody>
          {service.instances.map((i) => (
            <tr
              key={i.instance}
              data-testid={`instance-${service.service}-${i.instance}`}
              data-state={i.state}
            >
              <td>
                {service.service}[{i.instance}]
              </td>
              <td>
                <Badge tone={stateTone(i.state)}>{i.state}</Badge>
              </td>
              <td>{i.pid ?? '–'}</td>
              <td>{i.restarts}</td>
              <td>{ms(i.uptimeMs)}</td>
              <td>
                <code>{i.url}</code>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </Panel>
  );
}

/** The supervisor's recent events, newest first. */
function SupervisorLog(props: { events: readonly ReceivedEvent[] }) {
  return (
    <Panel title="Supervisor events" testId="supervisor-events">
      {props.events.length === 0 ? (
        <p class="muted">No events since the console opened.</p>
      ) : (
        <ul class="event-log">
          {props.events.slice(0, 30).map(({ seq, at, event }) => {
            const { type, service, instance, ...rest } = event;
            const details = Object.entries(rest)
              .filter(([k, v]) => k !== 'time' && v !== null && v !== undefined)
              .map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`)
              .join(' ');
            return (
              <li key={seq}>
                <span class="muted">{clock(at)}</span> <strong>{type}</strong>{' '}
                {service !== undefined && (
                  <span>
                    {service}
                    {instance !== undefined ? `[${instance}]` : ''}
                  </span>
                )}{' '}
                <span class="muted">{details}</span>
              </li>
            );
          })}
        </ul>
      )}
    </Panel>
  );
}
