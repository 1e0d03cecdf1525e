import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { manualClock } from '@flotilla/resilience';
import { transportConformance } from '../testing/transport-conformance.js';
import { memoryTransport } from './memory.js';

transportConformance('memory', async () => {
  const clock = manualClock();
  const transport = memoryTransport({ clock });
  return { clock, open: async () => transport, dispose: () => transport.close() };
});

describe('memoryTransport', () => {
  it('rejects a partition count that is not an integer in [1, 4096]', () => {
    assert.throws(
      () => memoryTransport({ partitions: 0 }),
      /memoryTransport.partitions must be an integer in \[1, 4096\], got 0/,
    );
  });

  it('rejects a message without a key, naming the field', async () => {
    const transport = memoryTransport();
    await assert.rejects(
      transport.publish([{ id: 'a', topic: 'T', key: '', payload: new Uint8Array() }]),
      /messages\[0\]\.key must be 1 to 1024 characters/,
    );
  });

  it('discards settled messages past retainMessages but never those a group has not settled', async () => {
    const clock = manualClock();
    const transport = memoryTransport({ clock, retainMessages: 2, partitions: 1 });
    const payload = new Uint8Array();
    const ids = (list: { id: string }[]) => list.map((d) => d.id);
    const stuck = await transport.subscribe(
      { group: 'slow', topics: ['T'], startAt: 'beginning' },
      async () => ({
        kind: 'retry',
        delayMs: 60_000,
      }),
    );
    await transport.publish(['a', 'b', 'c', 'd'].map((id) => ({ id, topic: 'T', key: 'k', payload })));
    await clock.flush();
    await stuck.close();
    assert.equal(await transport.lag!('slow'), 4);

    const slow: { id: string }[] = [];
    await transport.subscribe({ group: 'slow', topics: ['T'] }, async (d) => {
      slow.push(d);
      return { kind: 'ack' };
    });
    await clock.advance(60_000);
    assert.deepEqual(ids(slow), ['a', 'b', 'c', 'd']);

    const late: { id: string }[] = [];
    await transport.subscribe({ group: 'late', topics: ['T'], startAt: 'beginning' }, async (d) => {
      late.push(d);
      return { kind: 'ack' };
    });
    await clock.flush();
    assert.deepEqual(ids(late), ['c', 'd']);
    await transport.close();
  });
});
