// Pure geometry of the pictures: the topology's node positions and edge curves, a trace's
// waterfall rows and a saga's timeline bars. Kept apart from the components so it can be tested.
import type { ConsoleEdge, SagaAttempt, SpanRecord } from '../../src/contract.js';

/** Columns of the reference shop's services, left to right; other services are placed by their calls. */
export const KNOWN_LAYERS: Readonly<Record<string, number>> = {
  gateway: 0,
  legacy: 1,
  catalog: 1,
  order: 2,
  inventory: 3,
  payment: 3,
  shipping: 4,
  notification: 4,
};

/** Order within a column for the shop's services; others follow alphabetically. */
const KNOWN_ORDER = [
  'gateway',
  'legacy',
  'catalog',
  'order',
  'inventory',
  'payment',
  'shipping',
  'notification',
];

/** A node's centre and column. */
export interface NodePosition {
  readonly service: string;
  readonly layer: number;
  readonly x: number;
  readonly y: number;
}

/**
 * Places `services` in columns: the shop's known ones where {@link KNOWN_LAYERS} says, any other
 * one column right of the furthest service calling it (so a generic system reads left to right
 * from its entry points). Returns centres inside a `width` × `height` box with `margin` around.
 */
export function layoutNodes(
  services: readonly string[],
  edges: readonly Pick<ConsoleEdge, 'from' | 'to' | 'kind'>[],
  width: number,
  height: number,
  margin = { x: 80, y: 50 },
): Map<string, NodePosition> {
  const layer = new Map<string, number>();
  const calls = edges.filter((e) => e.kind === 'call' && e.from !== e.to);
  for (const s of services) {
    const known = KNOWN_LAYERS[s];
    layer.set(s, known ?? (calls.some((e) => e.to === s) ? 1 : 0));
  }
  // Longest path from the entry points, bounded so a cycle cannot loop forever.
  const cap = services.length;
  for (let round = 0; round < cap; round++) {
    let changed = false;
    for (const e of calls) {
      if (KNOWN_LAYERS[e.to] !== undefined) continue;
      const from = layer.get(e.from);
      const to = layer.get(e.to);
      if (from === undefined || to === undefined) continue;
      const next = Math.min(cap, from + 1);
      if (next > to) {
        layer.set(e.to, next);
        changed = true;
      }
    }
    if (!changed) break;
  }
  // Close gaps so the columns use the whole width.
  const used = [...new Set(layer.values())].sort((a, b) => a - b);
  const column = new Map(used.map((l, i) => [l, i]));
  const columns = Math.max(1, used.length);
  const byColumn: string[][] = Array.from({ length: columns }, () => []);
  for (const s of services) byColumn[column.get(layer.get(s)!)!]!.push(s);
  const rank = (s: string): number => {
    const i = KNOWN_ORDER.indexOf(s);
    return i < 0 ? KNOWN_ORDER.length : i;
  };
  const out = new Map<string, NodePosition>();
  byColumn.forEach((names, c) => {
    names.sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
    const x = columns === 1 ? width / 2 : margin.x + (c * (width - 2 * margin.x)) / (columns - 1);
    names.forEach((service, i) => {
      const y = margin.y + ((i + 0.5) * (height - 2 * margin.y)) / names.length;
      out.set(service, { service, layer: c, x, y });
    });
  });
  return out;
}

/** An edge's curve: a quadratic Bézier from `start` through control `control` to `end`, and its label point. */
export interface EdgeCurve {
  readonly path: string;
  readonly label: { readonly x: number; readonly y: number };
}

/**
 * The curve of an edge between two node centres, leaving and entering the nodes' sides (boxes of
 * `nodeW` × `nodeH`), bent by `bend` px sideways so parallel edges of one pair stay apart.
 */
export function edgeCurve(
  from: NodePosition,
  to: NodePosition,
  bend: number,
  nodeW: number,
  nodeH: number,
): EdgeCurve {
  let x1: number;
  let y1: number;
  let x2: number;
  let y2: number;
  if (from.layer === to.layer) {
    const down = to.y > from.y;
    x1 = from.x;
    x2 = to.x;
    y1 = from.y + ((down ? 1 : -1) * nodeH) / 2;
    y2 = to.y - ((down ? 1 : -1) * nodeH) / 2;
  } else {
    const right = to.x > from.x;
    x1 = from.x + ((right ? 1 : -1) * nodeW) / 2;
    x2 = to.x - ((right ? 1 : -1) * nodeW) / 2;
    y1 = from.y;
    y2 = to.y;
  }
  const mx = (x1 + x2) / 2;
  const my = (y1 + y2) / 2;
  const dx = x2 - x1;
  const dy = y2 - y1;
  const length = Math.hypot(dx, dy) || 1;
  // Perpendicular to the chord; twice the bend at the control point puts the curve's middle at `bend`.
  const cx = mx + (-dy / length) * bend * 2;
  const cy = my + (dx / length) * bend * 2;
  const round = (n: number): number => Math.round(n * 10) / 10;
  return {
    path: `M ${round(x1)} ${round(y1)} Q ${round(cx)} ${round(cy)} ${round(x2)} ${round(y2)}`,
    label: { x: round(0.25 * x1 + 0.5 * cx + 0.25 * x2), y: round(0.25 * y1 + 0.5 * cy + 0.25 * y2) },
  };
}

/**
 * The curve of an edge that skips columns: it leaves the top (or bottom) of `from`, runs along a
 * lane whose middle is at `laneY`, above (or below) the nodes in between, and enters the top (or
 * bottom) of `to`.
 */
export function laneCurve(
  from: NodePosition,
  to: NodePosition,
  laneY: number,
  nodeW: number,
  nodeH: number,
): EdgeCurve {
  const up = laneY < Math.min(from.y, to.y);
  const side = up ? -1 : 1;
  const dir = Math.sign(to.x - from.x) || 1;
  const x1 = from.x + (dir * nodeW) / 4;
  const y1 = from.y + (side * nodeH) / 2;
  const x2 = to.x - (dir * nodeW) / 4;
  const y2 = to.y + (side * nodeH) / 2;
  // A cubic whose two control points share a y reaches (y1 + y2) / 8 + 3/4 of it at t = 1/2.
  const controlY = (laneY - (y1 + y2) / 8) / 0.75;
  const reach = Math.min(160, Math.abs(x2 - x1) / 4);
  const c1x = x1 + dir * reach;
  const c2x = x2 - dir * reach;
  const round = (n: number): number => Math.round(n * 10) / 10;
  return {
    path: `M ${round(x1)} ${round(y1)} C ${round(c1x)} ${round(controlY)} ${round(c2x)} ${round(controlY)} ${round(x2)} ${round(y2)}`,
    label: { x: round((x1 + 3 * c1x + 3 * c2x + x2) / 8), y: round(laneY) },
  };
}

/** One row of a trace waterfall. */
export interface WaterfallRow<S extends SpanRecord = SpanRecord> {
  readonly span: S;
  /** Nesting depth: 0 for a root (or a span whose parent is not in the trace). */
  readonly depth: number;
  /** Bar start as a fraction of the trace's length, 0..1. */
  readonly offset: number;
  /** Bar length as a fraction of the trace's length, 0..1. */
  readonly width: number;
}

/**
 * Orders a trace's spans as a waterfall: each span under its parent (children by start time),
 * with its bar's offset and width as fractions of the whole trace.
 */
export function layoutWaterfall<S extends SpanRecord>(
  spans: readonly S[],
): { rows: WaterfallRow<S>[]; startMs: number; durationMs: number } {
  if (spans.length === 0) return { rows: [], startMs: 0, durationMs: 0 };
  const startMs = Math.min(...spans.map((s) => s.startTimeMs));
  const endMs = Math.max(...spans.map((s) => s.startTimeMs + Math.max(0, s.durationMs)));
  const durationMs = endMs - startMs;
  const total = durationMs > 0 ? durationMs : 1;
  const ids = new Set(spans.map((s) => s.spanId));
  const children = new Map<string, S[]>();
  const roots: S[] = [];
  for (const s of spans) {
    if (s.parentSpanId !== undefined && s.parentSpanId !== s.spanId && ids.has(s.parentSpanId)) {
      const list = children.get(s.parentSpanId) ?? [];
      list.push(s);
      children.set(s.parentSpanId, list);
    } else {
      roots.push(s);
    }
  }
  const byStart = (a: S, b: S): number => a.startTimeMs - b.startTimeMs || a.name.localeCompare(b.name);
  const rows: WaterfallRow<S>[] = [];
  const seen = new Set<S>();
  const visit = (span: S, depth: number): void => {
    if (seen.has(span)) return;
    seen.add(span);
    rows.push({
      span,
      depth,
      offset: (span.startTimeMs - startMs) / total,
      width: Math.max(0, span.durationMs) / total,
    });
    for (const child of (children.get(span.spanId) ?? []).sort(byStart)) visit(child, depth + 1);
  };
  for (const root of roots.sort(byStart)) visit(root, 0);
  // Spans caught in a parent cycle have no root: show them at the top level rather than lose them.
  for (const span of [...spans].sort(byStart)) visit(span, 0);
  return { rows, startMs, durationMs };
}

/** One bar of a saga's timeline. */
export interface TimelineBar {
  readonly attempt: SagaAttempt;
  /** Start as a fraction of the timeline, 0..1. */
  readonly offset: number;
  /** Length as a fraction of the timeline, 0..1 (an attempt in flight runs to `now`). */
  readonly width: number;
}

/** Places a saga's attempts on one time axis from the first start to the last end (or `now` while one runs). */
export function layoutTimeline(
  attempts: readonly SagaAttempt[],
  now: number,
): { bars: TimelineBar[]; startMs: number; durationMs: number } {
  if (attempts.length === 0) return { bars: [], startMs: 0, durationMs: 0 };
  const endOf = (a: SagaAttempt): number => a.finishedAt ?? Math.max(now, a.startedAt);
  const startMs = Math.min(...attempts.map((a) => a.startedAt));
  const endMs = Math.max(...attempts.map(endOf));
  const durationMs = endMs - startMs;
  const total = durationMs > 0 ? durationMs : 1;
  const bars = attempts.map((attempt) => ({
    attempt,
    offset: (attempt.startedAt - startMs) / total,
    width: Math.max(0, endOf(attempt) - attempt.startedAt) / total,
  }));
  return { bars, startMs, durationMs };
}

/** Round axis ticks for `0..max`: about `count` steps of 1, 2 or 5 × 10^n. */
export function niceTicks(max: number, count = 4): number[] {
  if (!(max > 0)) return [0, 1];
  const raw = max / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw) ?? 10 * power;
  const ticks: number[] = [];
  for (let v = 0; v < max + step * 0.999; v += step) ticks.push(Number(v.toPrecision(12)));
  return ticks;
}
