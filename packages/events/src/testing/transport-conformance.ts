import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import type { ManualClock } from '@flotilla/resilience';
import type {
  Delivery,
  DeliveryHandler,
  Settlement,
  SubscribeOptions,
  Transport,
  TransportMessage,
} from '../transport.js';
import { isTransportClosedError } from '../transports/errors.js';

/** The storage of one conformance test and the transports opened on it. */
export interface TransportHarness {
  /**
   * Opens a transport over this test's storage (a log file, a stream). Calling it again may
   * return another instance over the same storage, as another process would open it, or the
   * same instance for in-process transports.
   */
  open(): Promise<Transport>;
  /** The clock the transports run on when it is manual: the suite then advances it instead of waiting. */
  readonly clock?: ManualClock;
  /** Closes every transport `open` returned and removes the storage, even after a failure. */
  dispose(): Promise<void>;
}

/** Options of {@link transportConformance}. */
export interface TransportConformanceOptions {
  /** Skip every test with this reason (e.g. the broker is not reachable), so the skip is loud. */
  readonly skip?: string | undefined;
  /**
   * The `ackWaitMs` of subscriptions that wait for a redelivery of a hung handler.
   * @default 500
   */
  readonly shortAckWaitMs?: number;
  /**
   * Longest wait for an expected outcome before a test fails, in milliseconds (of the manual
   * clock when there is one).
   * @default 20000
   */
  readonly waitTimeoutMs?: number;
}

/**
 * Registers the node:test suite every transport must pass: per-key order under concurrency,
 * retries that block their key, ackWait redelivery, drop, competing subscribers, groups,
 * `startAt`, id deduplication, graceful `close()`, `lag` and topic filtering.
 *
 * @example
 * transportConformance('memory', async () => {
 *   const clock = manualClock();
 *   const transport = memoryTransport({ clock });
 *   return { clock, open: async () => transport, dispose: () => transport.close() };
 * });
 */
export function transportConformance(
  name: string,
  makeHarness: () => Promise<TransportHarness>,
  options: TransportConformanceOptions = {},
): void {
  const { skip, shortAckWaitMs = 500, waitTimeoutMs = 20_000 } = options;
  const test = (title: string, body: (h: Harness) => Promise<void>): void => {
    it(title, skip === undefined ? {} : { skip }, async (t: TestContext) => {
      const harness = await makeHarness();
      t.after(() => harness.dispose());
      await body(new Harness(harness, waitTimeoutMs));
    });
  };

  describe(`transport conformance: ${name}`, () => {
    test('delivers id, topic, key, payload and headers unchanged', async (h) => {
      const transport = await h.open();
      const got = h.recorder();
      await transport.subscribe(h.options('carrier', { topics: ['orders.OrderCreated'] }), got.handler());
      const payload = new Uint8Array([0, 1, 2, 250, 255]);
      await transport.publish([
        {
          id: 'm-1',
          topic: 'orders.OrderCreated',
          key: 'order-1',
          payload,
          headers: { traceparent: '00-abc-01' },
        },
      ]);
      await h.until(() => got.deliveries.length === 1, 'the delivery');
      const d = got.deliveries[0]!;
      assert.equal(d.id, 'm-1');
      assert.equal(d.topic, 'orders.OrderCreated');
      assert.equal(d.key, 'order-1');
      assert.deepEqual([...d.payload], [...payload]);
      assert.deepEqual({ ...d.headers }, { traceparent: '00-abc-01' });
      assert.equal(d.deliveryCount, 1);
    });

    test('delivers messages of one key in publish order while different keys run concurrently', async (h) => {
      const transport = await h.open();
      const keys = 12;
      const perKey = 20;
      const random = seededRandom(7);
      const seen = new Map<string, number[]>();
      const busyKeys = new Set<string>();
      let active = 0;
      let maxActive = 0;
      let overlaps = 0;
      await transport.subscribe(h.options('ordered', { concurrency: 8 }), async (d) => {
        if (busyKeys.has(d.key)) overlaps++;
        busyKeys.add(d.key);
        maxActive = Math.max(maxActive, ++active);
        await ticks(Math.floor(random() * 6));
        const list = seen.get(d.key) ?? [];
        list.push(Number(new TextDecoder().decode(d.payload)));
        seen.set(d.key, list);
        active--;
        busyKeys.delete(d.key);
        return { kind: 'ack' };
      });
      const all: TransportMessage[] = [];
      for (let n = 0; n < perKey; n++)
        for (let k = 0; k < keys; k++) all.push(message(`o-${k}-${n}`, `key-${k}`, String(n)));
      for (let i = 0; i < all.length; i += 40) await transport.publish(all.slice(i, i + 40));
      await h.until(
        () => [...seen.values()].reduce((s, l) => s + l.length, 0) === keys * perKey,
        'every message',
      );
      const expected = Array.from({ length: perKey }, (_, n) => n);
      for (let k = 0; k < keys; k++) assert.deepEqual(seen.get(`key-${k}`), expected, `order of key-${k}`);
      assert.equal(overlaps, 0, 'two messages of one key were handled at once');
      assert.ok(maxActive > 1, `different keys never ran concurrently (max ${maxActive})`);
      assert.ok(maxActive <= 8, `more than concurrency handlers ran at once (${maxActive})`);
    });

    test('redelivers a retried message after its delay and holds later messages of its key', async (h) => {
      const transport = await h.open();
      const log: string[] = [];
      await transport.subscribe(h.options('retrying'), async (d) => {
        log.push(`${d.id}#${d.deliveryCount}`);
        return d.id === 'r-1' && d.deliveryCount === 1 ? { kind: 'retry', delayMs: 200 } : { kind: 'ack' };
      });
      await transport.publish([message('r-1', 'k'), message('r-2', 'k')]);
      await h.until(() => log.includes('r-2#1'), 'the second message');
      assert.deepEqual(log, ['r-1#1', 'r-1#2', 'r-2#1']);
    });

    test('treats a throwing handler as a retry after 1000 ms', async (h) => {
      const transport = await h.open();
      const log: string[] = [];
      await transport.subscribe(h.options('throwing'), async (d) => {
        log.push(`${d.id}#${d.deliveryCount}`);
        if (d.deliveryCount === 1 && d.id === 't-1') throw new Error('database unavailable');
        return { kind: 'ack' };
      });
      await transport.publish([message('t-1', 'k'), message('t-2', 'k')]);
      await h.until(() => log.length >= 1, 'the first delivery');
      if (h.clock !== undefined) {
        await h.clock.advance(990);
        assert.deepEqual(log, ['t-1#1'], 'redelivered before 1000 ms');
      }
      await h.until(() => log.includes('t-2#1'), 'the second message');
      assert.deepEqual(log, ['t-1#1', 't-1#2', 't-2#1']);
    });

    test('redelivers a delivery whose handler hangs past ackWaitMs and ignores its late settlement', async (h) => {
      const transport = await h.open();
      const log: string[] = [];
      let release: (s: Settlement) => void = () => {};
      await transport.subscribe(h.options('hanging', { ackWaitMs: shortAckWaitMs }), (d) => {
        log.push(`${d.id}#${d.deliveryCount}`);
        if (d.id === 'h-1' && d.deliveryCount === 1)
          return new Promise<Settlement>((resolve) => (release = resolve));
        // The redelivery asks for one more, so a late ack of the first delivery would show.
        return Promise.resolve(
          d.id === 'h-1' && d.deliveryCount === 2 ? { kind: 'retry', delayMs: 100 } : { kind: 'ack' },
        );
      });
      await transport.publish([message('h-1', 'k'), message('h-2', 'k')]);
      await h.until(() => log.includes('h-1#2'), 'the redelivery of the hung message');
      release({ kind: 'ack' }); // too late: must not settle the redelivered message
      await h.until(() => log.includes('h-2#1'), 'the next message');
      assert.deepEqual(log, ['h-1#1', 'h-1#2', 'h-1#3', 'h-2#1']);
    });

    test('never delivers a dropped message to its group again', async (h) => {
      const transport = await h.open();
      const log: string[] = [];
      const handler: DeliveryHandler = async (d) => {
        log.push(`${d.id}#${d.deliveryCount}`);
        return d.id === 'd-1' ? { kind: 'drop' } : { kind: 'ack' };
      };
      const first = await transport.subscribe(h.options('dropping'), handler);
      await transport.publish([message('d-1', 'k'), message('d-2', 'k')]);
      await h.until(() => log.includes('d-2#1'), 'the message after the dropped one');
      await first.close();
      await transport.subscribe(h.options('dropping', { startAt: 'beginning' }), handler);
      await transport.publish([message('d-3', 'k')]);
      await h.until(() => log.includes('d-3#1'), 'a message after resubscribing');
      assert.deepEqual(log, ['d-1#1', 'd-2#1', 'd-3#1']);
    });

    test('shares a group between competing subscribers without duplicates', async (h) => {
      const one = await h.open();
      const two = await h.open();
      const byOne: string[] = [];
      const byTwo: string[] = [];
      const record =
        (into: string[]): DeliveryHandler =>
        async (d) => {
          into.push(d.id);
          await ticks(2);
          return { kind: 'ack' };
        };
      await one.subscribe(h.options('competing', { concurrency: 4 }), record(byOne));
      await two.subscribe(h.options('competing', { concurrency: 4 }), record(byTwo));
      const published: string[] = [];
      for (let round = 0; round < 500 && (byOne.length === 0 || byTwo.length === 0); round++) {
        const batch = Array.from({ length: 20 }, (_, i) => message(`c-${round}-${i}`, `key-${i}`));
        await (round % 2 === 0 ? one : two).publish(batch);
        published.push(...batch.map((m) => m.id));
        await h.until(() => byOne.length + byTwo.length === published.length, 'the round to be consumed');
      }
      assert.ok(byOne.length > 0 && byTwo.length > 0, 'one subscriber got every message');
      const all = [...byOne, ...byTwo];
      assert.equal(new Set(all).size, all.length, 'a message was delivered twice');
      assert.deepEqual([...all].sort(), [...published].sort());
    });

    test('delivers every message to each of two groups', async (h) => {
      const transport = await h.open();
      const a = h.recorder();
      const b = h.recorder();
      await transport.subscribe(h.options('group-a'), a.handler());
      await transport.subscribe(h.options('group-b'), b.handler());
      const batch = Array.from({ length: 30 }, (_, i) => message(`g-${i}`, `key-${i % 7}`));
      await transport.publish(batch);
      await h.until(() => a.ids().length === 30 && b.ids().length === 30, 'both groups');
      assert.deepEqual(a.ids().sort(), b.ids().sort());
    });

    test("starts a new group at the retained history with 'beginning' and at new messages with 'new'", async (h) => {
      const transport = await h.open();
      await transport.publish([message('s-1', 'k')]);
      const fromNew = h.recorder();
      const fromStart = h.recorder();
      await transport.subscribe(h.options('from-new', { startAt: 'new' }), fromNew.handler());
      await transport.subscribe(h.options('from-start', { startAt: 'beginning' }), fromStart.handler());
      await transport.publish([message('s-2', 'k')]);
      await h.until(
        () => fromNew.ids().includes('s-2') && fromStart.ids().includes('s-2'),
        's-2 in both groups',
      );
      assert.deepEqual(fromNew.ids(), ['s-2']);
      assert.deepEqual(fromStart.ids(), ['s-1', 's-2']);
    });

    test('resumes a known group where it stopped, whatever startAt says', async (h) => {
      const transport = await h.open();
      const got = h.recorder();
      const first = await transport.subscribe(h.options('resuming'), got.handler());
      await transport.publish([message('u-1', 'k')]);
      await h.until(() => got.ids().length === 1, 'u-1');
      await first.close();
      await transport.publish([message('u-2', 'k')]);
      await transport.subscribe(h.options('resuming', { startAt: 'beginning' }), got.handler());
      await h.until(() => got.ids().includes('u-2'), 'u-2');
      assert.deepEqual(got.ids(), ['u-1', 'u-2']);
    });

    test('delivers a message id published twice only once', async (h) => {
      const transport = await h.open();
      const got = h.recorder();
      await transport.subscribe(h.options('dedup'), got.handler());
      await transport.publish([message('x-1', 'k'), message('x-1', 'k')]);
      await transport.publish([message('x-1', 'k'), message('x-2', 'k')]);
      await h.until(() => got.ids().includes('x-2'), 'x-2');
      assert.deepEqual(got.ids(), ['x-1', 'x-2']);
    });

    test('delivers only the topics a group subscribed to', async (h) => {
      const transport = await h.open();
      const got = h.recorder();
      await transport.subscribe(h.options('filtered', { topics: ['Wanted'] }), got.handler());
      await transport.publish([
        message('f-1', 'k', '', 'Unwanted'),
        message('f-2', 'k', '', 'Wanted'),
        message('f-3', 'k', '', 'Unwanted'),
        message('f-4', 'k', '', 'Wanted'),
      ]);
      await h.until(() => got.ids().includes('f-4'), 'f-4');
      assert.deepEqual(got.ids(), ['f-2', 'f-4']);
    });

    test('close() waits for in-flight handlers and keeps their settlements', async (h) => {
      const transport = await h.open();
      const log: string[] = [];
      let release: () => void = () => {};
      const subscription = await transport.subscribe(h.options('closing'), (d) => {
        log.push(`${d.id}#${d.deliveryCount}`);
        if (d.id !== 'w-1') return Promise.resolve({ kind: 'ack' });
        return new Promise<Settlement>((resolve) => {
          release = () => {
            log.push('handler finished');
            resolve({ kind: 'ack' });
          };
        });
      });
      await transport.publish([message('w-1', 'k')]);
      await h.until(() => log.includes('w-1#1'), 'the first delivery');
      let closed = false;
      const closing = subscription.close().then(() => {
        closed = true;
        log.push('closed');
      });
      await ticks(20);
      assert.equal(closed, false, 'close() resolved while a handler was running');
      release();
      await closing;
      assert.deepEqual(log, ['w-1#1', 'handler finished', 'closed']);
      const again = h.recorder();
      await transport.subscribe(h.options('closing'), again.handler());
      await transport.publish([message('w-2', 'k')]);
      await h.until(() => again.ids().includes('w-2'), 'w-2');
      assert.deepEqual(again.ids(), ['w-2']);
    });

    test('reports how many messages a group has not settled', async (h) => {
      const transport = await h.open();
      assert.ok(transport.lag !== undefined, 'lag is not implemented');
      assert.equal(await transport.lag('never-seen'), 0);
      const first = await transport.subscribe(h.options('lagging'), async () => ({ kind: 'ack' }));
      await first.close();
      await transport.publish(Array.from({ length: 5 }, (_, i) => message(`l-${i}`, `key-${i}`)));
      assert.equal(await transport.lag(h.group('lagging')), 5);
      const got = h.recorder();
      await transport.subscribe(h.options('lagging'), got.handler());
      await h.until(() => got.ids().length === 5, 'every message');
      await h.untilAsync(async () => (await transport.lag!(h.group('lagging'))) === 0, 'lag 0');
    });

    test('check() resolves while open and rejects after close()', async (h) => {
      const transport = await h.open();
      await transport.check(AbortSignal.timeout(5000));
      await transport.close();
      await assert.rejects(transport.check(AbortSignal.timeout(5000)), isTransportClosedError);
    });

    test("publish rejects with the signal's reason when the signal is already aborted", async (h) => {
      const transport = await h.open();
      const reason = new Error('caller gave up');
      await assert.rejects(
        transport.publish([message('a-1', 'k')], AbortSignal.abort(reason)),
        (e) => e === reason,
      );
    });

    test('rejects publish and subscribe after close()', async (h) => {
      const transport = await h.open();
      await transport.close();
      await assert.rejects(transport.publish([message('z-1', 'k')]), isTransportClosedError);
      await assert.rejects(
        transport.subscribe(h.options('late'), async () => ({ kind: 'ack' })),
        isTransportClosedError,
      );
    });
  });
}

const TOPIC = 'Tested';

function message(id: string, key: string, body = '', topic = TOPIC): TransportMessage {
  return { id, key, topic, payload: new TextEncoder().encode(body) };
}

/** Lets `n` turns of the event loop pass (no time passes on any clock). */
async function ticks(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/** A small deterministic PRNG (mulberry32), so a failing order test fails the same way again. */
function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class Recorder {
  readonly deliveries: Delivery[] = [];

  handler(): DeliveryHandler {
    return async (d) => {
      this.deliveries.push(d);
      return { kind: 'ack' };
    };
  }

  ids(): string[] {
    return this.deliveries.map((d) => d.id);
  }
}

class Harness {
  readonly clock: ManualClock | undefined;
  private readonly groupSuffix = Math.random().toString(36).slice(2, 8);

  constructor(
    private readonly inner: TransportHarness,
    private readonly waitTimeoutMs: number,
  ) {
    this.clock = inner.clock;
  }

  open(): Promise<Transport> {
    return this.inner.open();
  }

  recorder(): Recorder {
    return new Recorder();
  }

  /** The group name `name` made unique to this test. */
  group(name: string): string {
    return `${name}-${this.groupSuffix}`;
  }

  /** Subscribe options for `group` (made unique per test) with the suite's topic. */
  options(group: string, extra: Partial<SubscribeOptions> = {}): SubscribeOptions {
    return { group: this.group(group), topics: [TOPIC], startAt: 'beginning', ...extra };
  }

  /** Waits for `condition`, advancing the manual clock or polling in real time, and fails after the timeout. */
  async until(condition: () => boolean, what: string): Promise<void> {
    await this.untilAsync(async () => condition(), what);
  }

  async untilAsync(condition: () => Promise<boolean>, what: string): Promise<void> {
    const clock = this.clock;
    if (clock !== undefined) {
      for (let waited = 0; waited <= this.waitTimeoutMs; waited += 10) {
        if (await condition()) return;
        await clock.advance(10);
      }
    } else {
      const deadline = Date.now() + this.waitTimeoutMs;
      while (Date.now() <= deadline) {
        if (await condition()) return;
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    }
    assert.fail(`timed out after ${this.waitTimeoutMs} ms waiting for ${what}`);
  }
}
