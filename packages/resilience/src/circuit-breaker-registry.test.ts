import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CircuitBreakerPolicy } from './circuit-breaker.js';
import { circuitBreakerRegistry } from './circuit-breaker-registry.js';
import { consecutiveBreaker } from './consecutive-breaker.js';
import { manualClock } from './manual-clock.js';

function setup(maxSize?: number) {
  const clock = manualClock();
  const created: string[] = [];
  const registry = circuitBreakerRegistry({
    create: (key) => {
      created.push(key);
      return { breaker: consecutiveBreaker(1), halfOpenAfterMs: 1_000, clock };
    },
    ...(maxSize === undefined ? {} : { maxSize }),
  });
  return { clock, registry, created };
}

const open = (breaker: CircuitBreakerPolicy) =>
  breaker.execute(() => Promise.reject(new Error('down'))).catch(() => undefined);

describe('circuitBreakerRegistry', () => {
  it('creates one breaker per key on first use, and returns it afterwards', () => {
    const { registry, created } = setup();
    const a = registry.get('a');
    assert.equal(registry.get('a'), a);
    assert.notEqual(registry.get('b'), a);
    assert.deepEqual(created, ['a', 'b']);
    assert.equal(registry.size, 2);
  });

  it('keeps the circuits of different keys apart', async () => {
    const { registry } = setup();
    await open(registry.get('payments.internal'));
    assert.equal(registry.get('payments.internal').state, 'open');
    assert.equal(registry.get('inventory.internal').state, 'closed');
  });

  it('names each breaker after its key unless the options name it', () => {
    const { registry } = setup();
    assert.equal(registry.get('tenant-7').name, 'circuit-breaker:tenant-7');
    const named = circuitBreakerRegistry({ create: (key) => ({ name: `up:${key}` }) });
    assert.equal(named.get('x').name, 'up:x');
  });

  it('answers has, delete and keys without creating breakers', () => {
    const { registry, created } = setup();
    registry.get('a');
    registry.get('b');
    assert.equal(registry.has('a'), true);
    assert.equal(registry.has('zzz'), false);
    assert.equal(registry.delete('a'), true);
    assert.equal(registry.delete('a'), false);
    assert.deepEqual([...registry.keys()], ['b']);
    assert.deepEqual(created, ['a', 'b']);
  });

  it('evicts the least recently used breaker when full', () => {
    const { registry } = setup(2);
    registry.get('a');
    registry.get('b');
    registry.get('a'); // b is now the least recently used
    registry.get('c');
    assert.deepEqual([...registry.keys()], ['a', 'c']);
  });

  it('evicts a closed breaker before an open one, even a more recently used one', async () => {
    const { registry } = setup(3);
    await open(registry.get('a'));
    registry.get('b');
    await open(registry.get('c'));
    registry.get('d');
    assert.deepEqual([...registry.keys()], ['a', 'c', 'd']);
    assert.equal(registry.get('a').state, 'open');
  });

  it('evicts the least recently used breaker when every breaker is open', async () => {
    const { registry } = setup(2);
    await open(registry.get('a'));
    await open(registry.get('b'));
    registry.get('c');
    assert.deepEqual([...registry.keys()], ['b', 'c']);
  });

  it('snapshots every breaker by key', async () => {
    const { registry } = setup();
    await open(registry.get('a'));
    registry.get('b');
    const snap = registry.snapshot();
    assert.deepEqual(Object.keys(snap), ['a', 'b']);
    assert.equal(snap.a?.state, 'open');
    assert.equal(snap.b?.state, 'closed');
  });

  it('delivers the events of every breaker, present and future, tagged with the key', async () => {
    const { registry } = setup();
    registry.get('a');
    const seen: string[] = [];
    const sub = registry.onEvent(({ key, event }) => {
      if (event.type === 'break') seen.push(`${key}:${event.type}`);
    });
    await open(registry.get('a'));
    await open(registry.get('b'));
    sub.dispose();
    await open(registry.get('c'));
    registry.get('a').reset();
    await open(registry.get('a'));
    assert.deepEqual(seen, ['a:break', 'b:break']);
  });

  it('refuses a create function that shares one strategy between keys', () => {
    const shared = consecutiveBreaker(3);
    const registry = circuitBreakerRegistry({ create: () => ({ breaker: shared }) });
    registry.get('a');
    assert.throws(() => registry.get('b'), /already belongs to another circuit breaker/);
    assert.equal(registry.has('b'), false);
  });

  it('rejects invalid options with a message naming the field', () => {
    assert.throws(
      () => circuitBreakerRegistry({ create: () => ({}), maxSize: 0 }),
      /circuitBreakerRegistry.maxSize must be an integer >= 1, got 0/,
    );
    assert.throws(
      () => circuitBreakerRegistry({ create: 'x' as never }),
      /circuitBreakerRegistry.create must be a function, got "x"/,
    );
  });
});
