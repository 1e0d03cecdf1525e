import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fnv1a32, partitionOf } from './partitioning.js';

describe('partitionOf', () => {
  it('hashes with 32-bit FNV-1a, matching the reference values for ASCII', () => {
    assert.equal(fnv1a32(''), 0x811c9dc5);
    assert.equal(fnv1a32('a'), 0xe40c292c);
    assert.equal(fnv1a32('foobar'), 0xbf9cf968);
  });

  it('maps a key to the same partition in [0, partitions) every time', () => {
    for (const key of ['order-1', 'order-2', 'ünïcødé', 'x'.repeat(1000)]) {
      const p = partitionOf(key, 16);
      assert.ok(Number.isInteger(p) && p >= 0 && p < 16);
      assert.equal(partitionOf(key, 16), p);
    }
  });

  it('spreads many keys over every partition', () => {
    const counts = new Array<number>(16).fill(0);
    for (let i = 0; i < 16_000; i++) counts[partitionOf(`order-${i}`, 16)]!++;
    for (const n of counts) assert.ok(n > 700 && n < 1300, `uneven spread: ${counts.join(', ')}`);
  });
});
