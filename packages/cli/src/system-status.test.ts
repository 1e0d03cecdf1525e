import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { breakersOf, queuesOf } from './system-status.js';
import { formatUptime, renderTable } from './table.js';

describe('breakersOf', () => {
  it('finds the circuit breaker inside each upstream pipeline of /internal/policies', () => {
    const policies = {
      upstreams: [
        {
          service: 'payment',
          policy: {
            kind: 'pipeline',
            policies: [{ kind: 'retry' }, { kind: 'circuit-breaker', state: 'open' }, { kind: 'timeout' }],
          },
        },
        { service: 'inventory', policy: { kind: 'circuit-breaker', state: 'closed' } },
        { service: 'legacy', policy: { kind: 'timeout' } },
      ],
    };
    assert.deepEqual(breakersOf(policies), { payment: 'open', inventory: 'closed' });
    assert.deepEqual(breakersOf(undefined), {});
    assert.deepEqual(breakersOf({ upstreams: 'x' }), {});
  });
});

describe('queuesOf', () => {
  it('reads queue depths from /internal/info when a service reports them', () => {
    assert.deepEqual(
      queuesOf({ name: 'order', queues: { outbox: 3, 'saga-steps': { depth: 7 }, bad: 'x' } }),
      {
        outbox: 3,
        'saga-steps': 7,
      },
    );
    assert.deepEqual(queuesOf({ name: 'order' }), {});
  });
});

describe('renderTable', () => {
  it('pads columns to the widest cell, ignoring colour codes', () => {
    assert.equal(
      renderTable(
        ['SERVICE', 'STATE'],
        [
          ['order', '\u001b[32mready\u001b[39m'],
          ['notification', 'crashed'],
        ],
      ),
      'SERVICE       STATE\norder         \u001b[32mready\u001b[39m\nnotification  crashed',
    );
  });

  it('formats uptimes briefly', () => {
    assert.deepEqual([null, 42_000, 185_000, 3_720_000].map(formatUptime), ['-', '42s', '3m05s', '1h02m']);
  });
});
