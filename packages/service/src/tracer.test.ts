import assert from 'node:assert/strict';
import { test } from 'node:test';
import { manualClock } from '@flotilla/resilience';
import { createTracer, tracesPerSecondFromEnv } from './tracer.js';

const record = (tracer: ReturnType<typeof createTracer>, name: string): void =>
  tracer.startSpan(name, { kind: 'internal' }).end();

test('spans after a recorded position are returned once, oldest first', () => {
  const tracer = createTracer({ service: 'svc', capacity: 4 });
  assert.equal(tracer.recorded(), 0);
  record(tracer, 'a');
  record(tracer, 'b');
  const seen = tracer.recorded();
  assert.equal(seen, 2);
  assert.deepEqual(
    tracer.spans({ after: 0 }).map((s) => s.name),
    ['a', 'b'],
  );
  record(tracer, 'c');
  assert.deepEqual(
    tracer.spans({ after: seen }).map((s) => s.name),
    ['c'],
  );
  assert.deepEqual(tracer.spans({ after: tracer.recorded() }), []);
});

test('a poller that fell behind the ring gets what the ring still holds', () => {
  const tracer = createTracer({ service: 'svc', capacity: 3 });
  for (const name of ['a', 'b', 'c', 'd', 'e']) record(tracer, name);
  assert.equal(tracer.recorded(), 5);
  assert.deepEqual(
    tracer.spans({ after: 1 }).map((s) => s.name),
    ['c', 'd', 'e'],
  );
  assert.deepEqual(
    tracer.spans({ after: 3 }).map((s) => s.name),
    ['d', 'e'],
  );
  assert.deepEqual(
    tracer.spans().map((s) => s.name),
    ['c', 'd', 'e'],
  );
});

test('samples at most maxTracesPerSecond new traces; the spans of a trace follow its root', async () => {
  const clock = manualClock();
  const tracer = createTracer({ service: 'svc', maxTracesPerSecond: 2, clock });
  const roots = Array.from({ length: 3 }, (_, i) => tracer.startSpan(`root ${i}`, { kind: 'server' }));
  assert.deepEqual(
    roots.map((r) => r.context.sampled),
    [true, true, false],
  );
  for (const root of roots) {
    const child = tracer.startSpan(`${root.context.spanId} child`, { kind: 'client', parent: root.context });
    // The ids go on either way: the trace is whole downstream, recorded or not.
    assert.equal(child.context.traceId, root.context.traceId);
    assert.equal(child.context.sampled, root.context.sampled);
    child.setAttribute('peer.service', 'b');
    child.end();
    root.end();
  }
  assert.equal(tracer.recorded(), 4);
  assert.deepEqual(new Set(tracer.spans().map((s) => s.traceId)).size, 2);
  assert.ok(!tracer.spans().some((s) => s.traceId === roots[2]?.context.traceId));
  // Half a second gives one trace back; the bucket never holds more than a second's worth.
  await clock.advance(500);
  assert.equal(tracer.startSpan('later', { kind: 'server' }).context.sampled, true);
  assert.equal(tracer.startSpan('later', { kind: 'server' }).context.sampled, false);
  await clock.advance(60_000);
  const burst = Array.from(
    { length: 3 },
    () => tracer.startSpan('burst', { kind: 'server' }).context.sampled,
  );
  assert.deepEqual(burst, [true, true, false]);
  // A remote parent's decision is followed, whatever the budget.
  const remote = { traceId: 'a'.repeat(32), spanId: 'b'.repeat(16), sampled: true };
  assert.equal(tracer.startSpan('from a client', { kind: 'server', parent: remote }).context.sampled, true);
  assert.equal(
    tracer.startSpan('unsampled upstream', { kind: 'server', parent: { ...remote, sampled: false } }).context
      .sampled,
    false,
  );
});

test('records every trace by default, and none with maxTracesPerSecond: 0', () => {
  const all = createTracer({ service: 'svc' });
  for (let i = 0; i < 1000; i++) record(all, `s${i}`);
  assert.equal(all.recorded(), 1000);
  const none = createTracer({ service: 'svc', maxTracesPerSecond: 0 });
  for (let i = 0; i < 10; i++) record(none, `s${i}`);
  assert.equal(none.recorded(), 0);
  assert.throws(() => createTracer({ service: 'svc', maxTracesPerSecond: -1 }), /maxTracesPerSecond/);
  assert.throws(() => createTracer({ service: 'svc', maxTracesPerSecond: Number.NaN }), /maxTracesPerSecond/);
});

test('reads FLOTILLA_TRACES_PER_SECOND: a number, "all", or the default when unset', () => {
  assert.equal(tracesPerSecondFromEnv(undefined), Number.POSITIVE_INFINITY);
  assert.equal(tracesPerSecondFromEnv(' '), Number.POSITIVE_INFINITY);
  assert.equal(tracesPerSecondFromEnv('ALL'), Number.POSITIVE_INFINITY);
  assert.equal(tracesPerSecondFromEnv('50'), 50);
  assert.equal(tracesPerSecondFromEnv('0.5'), 0.5);
  for (const bad of ['-1', 'many', 'Infinity'])
    assert.throws(
      () => tracesPerSecondFromEnv(bad),
      /FLOTILLA_TRACES_PER_SECOND must be a number >= 0 or "all"/,
    );
});

test('a span is read back exactly as it was recorded, whatever its ids, names and attributes', () => {
  const tracer = createTracer({ service: 'svc', capacity: 50 });
  const root = tracer.startSpan('GET /orders/:id', {
    kind: 'server',
    attributes: { 'http.method': 'GET', 'http.route': '/orders/:id' },
  });
  const child = tracer.startSpan('payment POST /payments', {
    kind: 'client',
    parent: root.context,
    attributes: { 'peer.service': 'payment', 'flotilla.attempt': 2, retried: true, cached: false },
  });
  child.setAttribute('http.target', '/payments/ord-7f3a9c21?currency=EUR');
  child.setAttribute('http.status_code', 503);
  child.end('error');
  root.setAttribute('http.status_code', 200);
  root.end();
  const [c, r] = tracer.spans();
  assert.deepEqual(c, {
    traceId: root.context.traceId,
    spanId: child.context.spanId,
    parentSpanId: root.context.spanId,
    name: 'payment POST /payments',
    kind: 'client',
    service: 'svc',
    startTimeMs: c?.startTimeMs,
    durationMs: c?.durationMs,
    status: 'error',
    attributes: {
      'peer.service': 'payment',
      'flotilla.attempt': 2,
      retried: true,
      cached: false,
      'http.target': '/payments/ord-7f3a9c21?currency=EUR',
      'http.status_code': 503,
    },
  });
  assert.equal(r?.parentSpanId, undefined);
  assert.equal('parentSpanId' in (r ?? {}), false);
  assert.equal(r?.status, 'ok');
  assert.deepEqual(r?.attributes, {
    'http.method': 'GET',
    'http.route': '/orders/:id',
    'http.status_code': 200,
  });
  assert.ok(Math.abs((r?.startTimeMs ?? 0) - Date.now()) < 60_000);

  // Ids a caller made by hand, and more attributes than the ring keeps inline.
  const upper = { traceId: 'ABCDEF'.padEnd(32, '0'), spanId: 'not-hex-at-all!!', sampled: true };
  const many: Record<string, number> = {};
  for (let i = 0; i < 12; i++) many[`k${i}`] = i;
  tracer.startSpan('odd', { kind: 'internal', parent: upper, attributes: many }).end();
  const odd = tracer.spans({ traceId: upper.traceId });
  assert.equal(odd.length, 1);
  assert.equal(odd[0]?.parentSpanId, upper.spanId);
  assert.deepEqual(Object.entries(odd[0]?.attributes ?? {}), Object.entries(many));
});

test('names and values past the interned ones are kept exactly, long, short or not Latin-1', () => {
  const tracer = createTracer({ service: 'svc', capacity: 10_000 });
  const names: string[] = [];
  for (let i = 0; i < 6000; i++) {
    // Distinct names exhaust the interned strings; some are long, some not Latin-1.
    const name =
      i % 7 === 0
        ? `GET /items/${i}/${'x'.repeat(300)}`
        : i % 5 === 0
          ? `GET /städte/€${i}`
          : `GET /items/${i}`;
    names.push(name);
    const span = tracer.startSpan(name, {
      kind: 'server',
      attributes: { 'order.id': `ord-${i}`, note: name },
    });
    span.end();
  }
  const spans = tracer.spans({ limit: 10_000 });
  assert.deepEqual(
    spans.map((s) => s.name),
    names,
  );
  assert.deepEqual(
    spans.map((s) => s.attributes),
    names.map((name, i) => ({ 'order.id': `ord-${i}`, note: name })),
  );
});

test('a slot reused by a plain span keeps nothing of the odd span it replaced', () => {
  const tracer = createTracer({ service: 'svc', capacity: 1 });
  const many: Record<string, string> = {};
  for (let i = 0; i < 10; i++) many[`k${i}`] = 'é€'.repeat(i);
  tracer.startSpan('€ odd', { kind: 'internal', attributes: many }).end();
  assert.deepEqual(tracer.spans()[0]?.attributes, many);
  tracer.startSpan('plain', { kind: 'producer', attributes: { a: 1 } }).end();
  const [plain] = tracer.spans();
  assert.equal(plain?.name, 'plain');
  assert.equal(plain?.kind, 'producer');
  assert.deepEqual(plain?.attributes, { a: 1 });
});
