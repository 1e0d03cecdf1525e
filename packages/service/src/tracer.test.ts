import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createTracer } from './tracer.js';

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
