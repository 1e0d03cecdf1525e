import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { SpanRecord } from './contract.js';
import { Traffic } from './traffic.js';

let n = 0;
const span = (over: Partial<SpanRecord> & Pick<SpanRecord, 'service' | 'kind' | 'name'>): SpanRecord => ({
  traceId: `t${n}`,
  spanId: String(++n).padStart(16, '0'),
  startTimeMs: 10_000,
  durationMs: 10,
  status: 'ok',
  attributes: {},
  ...over,
});

test('event edges go from each publisher of a type to each consumer, with rates over the window', () => {
  const traffic = new Traffic('gateway', () => 0.5);
  const spans: SpanRecord[] = [
    span({
      service: 'order',
      kind: 'producer',
      name: 'publish OrderConfirmed',
      attributes: { 'messaging.destination.name': 'OrderConfirmed' },
    }),
    ...[1, 2, 3, 4].map((i) =>
      span({
        service: 'shipping',
        kind: 'consumer',
        name: 'consume OrderConfirmed',
        startTimeMs: 10_000 + i * 100,
        durationMs: i,
        status: i === 4 ? 'error' : 'ok',
        attributes: { 'messaging.destination.name': 'OrderConfirmed' },
      }),
    ),
  ];
  traffic.ingest(spans, 12_000);
  const edges = traffic.edges(12_000, 2000);
  assert.deepEqual(edges, [
    {
      from: 'order',
      to: 'shipping',
      kind: 'event',
      label: 'OrderConfirmed',
      count: 4,
      ratePerSec: 2,
      errorRate: 0.25,
      p99Ms: 4,
    },
  ]);
  assert.deepEqual(traffic.eventTypes(12_000, 2000), [
    { type: 'OrderConfirmed', publishedPerSec: 0.5, consumedPerSec: 2 },
  ]);
  // The second being filled is not reported yet; once over, it leaves the window.
  assert.deepEqual(traffic.edges(10_500, 2000), []);
  assert.deepEqual(traffic.edges(30_000, 2000), []);
});

test('the gateway series has a point per second with requests, errors and percentiles', () => {
  const traffic = new Traffic('gateway', () => 0.5);
  const requests = [5, 7, 9, 400].map((d, i) =>
    span({
      service: 'gateway',
      kind: 'server',
      name: 'POST /api/v2/orders',
      traceId: `r${i}`,
      startTimeMs: 20_000 + i,
      durationMs: d,
      attributes: { 'http.status_code': i === 3 ? 503 : 202, 'gateway.upstream': 'order' },
    }),
  );
  traffic.ingest(requests, 21_500);
  const series = traffic.series(21_500);
  assert.equal(series.length, 120);
  const last = series.at(-1)!;
  assert.deepEqual(last, { t: 20_000, requests: 4, errors: 1, p50Ms: 7, p99Ms: 400 });
  assert.equal(series.at(-2)!.requests, 0);
  // Without client spans of its own, the gateway's server spans make its call edges.
  const edge = traffic.edges(21_500, 1000).find((e) => e.from === 'gateway');
  assert.equal(edge?.to, 'order');
  assert.equal(edge?.count, 4);
  // Gateway requests are the traces, newest first.
  assert.deepEqual(
    traffic.recentTraces(2).map((t) => t.traceId),
    ['r3', 'r2'],
  );
  assert.equal(traffic.recentTraces(10).length, 4);
});
