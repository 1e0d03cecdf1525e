import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { eventStream, Listeners } from './event-stream.js';

describe('eventStream', () => {
  it('yields queued events in order and ends after the last one', async () => {
    const listeners = new Listeners<number>();
    const stream = eventStream<number>((l) => listeners.on(l), { isLast: (n) => n === 3 });
    const seen: number[] = [];
    const reading = (async () => {
      for await (const n of stream) seen.push(n);
    })();
    listeners.emit(1);
    listeners.emit(2);
    listeners.emit(3);
    listeners.emit(4);
    await reading;
    assert.deepEqual(seen, [1, 2, 3]);
  });

  it('ends when the signal aborts, and removes its listener when the consumer breaks', async () => {
    const listeners = new Listeners<number>();
    let registered = 0;
    const subscribe = (l: (n: number) => void) => {
      registered++;
      const d = listeners.on(l);
      return {
        dispose: () => {
          registered--;
          d.dispose();
        },
      };
    };
    const controller = new AbortController();
    const pending = (async () => {
      const seen: number[] = [];
      for await (const n of eventStream(subscribe, { signal: controller.signal })) seen.push(n);
      return seen;
    })();
    await new Promise((resolve) => setImmediate(resolve));
    listeners.emit(7);
    controller.abort();
    assert.deepEqual(await pending, [7]);
    assert.equal(registered, 0);

    const iterator = eventStream(subscribe)[Symbol.asyncIterator]();
    const next = iterator.next();
    listeners.emit(8);
    assert.deepEqual(await next, { done: false, value: 8 });
    assert.equal(registered, 1);
    await iterator.return?.();
    assert.equal(registered, 0);
  });
});
