import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { SagaAttempt, SpanRecord } from '../../src/contract.js';
import { edgeCurve, laneCurve, layoutNodes, layoutTimeline, layoutWaterfall, niceTicks } from './layout.js';

const span = (
  spanId: string,
  parentSpanId: string | undefined,
  start: number,
  duration: number,
): SpanRecord => ({
  traceId: 't',
  spanId,
  ...(parentSpanId === undefined ? {} : { parentSpanId }),
  name: spanId,
  kind: 'server',
  service: 's',
  startTimeMs: start,
  durationMs: duration,
  status: 'ok',
  attributes: {},
});

describe('layoutNodes', () => {
  it("places the shop's services in their columns, left to right", () => {
    const services = [
      'notification',
      'order',
      'gateway',
      'inventory',
      'legacy',
      'payment',
      'shipping',
      'catalog',
    ];
    const pos = layoutNodes(services, [], 1000, 500);
    const x = (s: string): number => pos.get(s)!.x;
    assert.ok(x('gateway') < x('legacy'));
    assert.equal(x('legacy'), x('catalog'));
    assert.ok(x('catalog') < x('order'));
    assert.ok(x('order') < x('inventory'));
    assert.equal(x('inventory'), x('payment'));
    assert.ok(x('payment') < x('shipping'));
    assert.equal(x('shipping'), x('notification'));
    assert.ok(pos.get('legacy')!.y < pos.get('catalog')!.y);
  });

  it('places unknown services one column right of their furthest caller, even with a cycle', () => {
    const edges = [
      { from: 'edge', to: 'api', kind: 'call' as const },
      { from: 'api', to: 'db-svc', kind: 'call' as const },
      { from: 'db-svc', to: 'api', kind: 'call' as const },
      { from: 'api', to: 'audit', kind: 'event' as const },
    ];
    const pos = layoutNodes(['edge', 'api', 'db-svc', 'audit'], edges, 1000, 500);
    assert.equal(pos.size, 4);
    assert.equal(pos.get('edge')!.layer, 0);
    assert.ok(pos.get('api')!.layer >= 1);
    assert.ok([...pos.values()].every((p) => p.x >= 0 && p.x <= 1000 && p.y >= 0 && p.y <= 500));
  });
});

describe('edgeCurve', () => {
  it('leaves the right side of the caller and enters the left side of the callee', () => {
    const a = { service: 'a', layer: 0, x: 100, y: 100 };
    const b = { service: 'b', layer: 1, x: 300, y: 100 };
    const straight = edgeCurve(a, b, 0, 40, 20);
    assert.equal(straight.path, 'M 120 100 Q 200 100 280 100');
    assert.deepEqual(straight.label, { x: 200, y: 100 });
    const bent = edgeCurve(a, b, 10, 40, 20);
    assert.equal(bent.label.y, 110);
  });
});

describe('layoutWaterfall', () => {
  it('nests children under parents by start time and scales bars to the trace', () => {
    const spans = [
      span('c2', 'root', 150, 50),
      span('root', undefined, 100, 200),
      span('c1', 'root', 110, 20),
      span('g', 'c1', 115, 10),
    ];
    const { rows, startMs, durationMs } = layoutWaterfall(spans);
    assert.equal(startMs, 100);
    assert.equal(durationMs, 200);
    assert.deepEqual(
      rows.map((r) => [r.span.spanId, r.depth, r.offset, r.width]),
      [
        ['root', 0, 0, 1],
        ['c1', 1, 0.05, 0.1],
        ['g', 2, 0.075, 0.05],
        ['c2', 1, 0.25, 0.25],
      ],
    );
  });

  it('shows orphans at the top level and loses no span caught in a cycle', () => {
    const spans = [span('a', 'b', 0, 10), span('b', 'a', 1, 5), span('orphan', 'gone', 2, 1)];
    const { rows } = layoutWaterfall(spans);
    assert.deepEqual(rows.map((r) => r.span.spanId).sort(), ['a', 'b', 'orphan']);
    assert.equal(rows.find((r) => r.span.spanId === 'orphan')!.depth, 0);
  });
});

describe('layoutTimeline', () => {
  it('runs an attempt in flight to now', () => {
    const attempt = (startedAt: number, finishedAt: number | null): SagaAttempt => ({
      step: 's',
      phase: 'action',
      attempt: 1,
      outcome: finishedAt === null ? 'started' : 'ok',
      error: null,
      startedAt,
      finishedAt,
      durationMs: finishedAt === null ? null : finishedAt - startedAt,
      epoch: 1,
    });
    const { bars, startMs, durationMs } = layoutTimeline([attempt(1000, 1100), attempt(1100, null)], 1400);
    assert.equal(startMs, 1000);
    assert.equal(durationMs, 400);
    assert.deepEqual(
      bars.map((b) => [b.offset, b.width]),
      [
        [0, 0.25],
        [0.25, 0.75],
      ],
    );
  });
});

describe('niceTicks', () => {
  it('steps by 1, 2 or 5 times a power of ten up to at least the maximum', () => {
    assert.deepEqual(niceTicks(9), [0, 5, 10]);
    assert.deepEqual(niceTicks(0.7), [0, 0.2, 0.4, 0.6, 0.8]);
    assert.deepEqual(niceTicks(0), [0, 1]);
  });
});

describe('laneCurve', () => {
  it('runs above the nodes between, with its middle on the lane', () => {
    const a = { service: 'a', layer: 0, x: 100, y: 200 };
    const b = { service: 'b', layer: 3, x: 700, y: 150 };
    const curve = laneCurve(a, b, 80, 40, 20);
    assert.deepEqual(curve.label, { x: 400, y: 80 });
    assert.match(curve.path, /^M 110 190 C /);
    assert.match(curve.path, / 690 140$/);
  });
});
