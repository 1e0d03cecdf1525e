import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { defineSaga, hashSteps } from './define-saga.js';
import { isSagaDefinitionError } from './errors.js';

const noop = async () => {};

describe('defineSaga', () => {
  it('refuses a compensatable step without a compensation when it is defined', () => {
    assert.throws(
      () => defineSaga('s', { version: 1 }).step('reserve', { action: noop }),
      (err: unknown) =>
        isSagaDefinitionError(err) &&
        /reserve.*compensatable but has no compensate/.test((err as Error).message),
    );
  });

  it('refuses a compensation on a pivot or a retriable step', () => {
    assert.throws(
      () => defineSaga('s', { version: 1 }).step('pay', { kind: 'pivot', action: noop, compensate: noop }),
      /pivot: it is never compensated/,
    );
    assert.throws(
      () =>
        defineSaga('s', { version: 1 }).step('mail', { kind: 'retriable', action: noop, compensate: noop }),
      /retriable: it is never compensated/,
    );
  });

  it('refuses a retriable step before the pivot', () => {
    assert.throws(
      () =>
        defineSaga('s', { version: 1 })
          .step('reserve', { action: noop, compensate: noop })
          .step('mail', { kind: 'retriable', action: noop }),
      /retriable but comes before the pivot/,
    );
  });

  it('refuses a compensatable step after the pivot, and a second pivot', () => {
    const paid = defineSaga('s', { version: 1 }).step('pay', { kind: 'pivot', action: noop });
    assert.throws(
      () => paid.step('reserve', { action: noop, compensate: noop }),
      /compensatable but comes after the pivot step pay/,
    );
    assert.throws(() => paid.step('again', { kind: 'pivot', action: noop }), /second pivot/);
    const mailed = defineSaga('s', { version: 1 }).step('mail', { kind: 'retriable', action: noop });
    assert.throws(
      () => mailed.step('late', { kind: 'pivot', action: noop }),
      /pivot after the retriable step mail/,
    );
  });

  it('accepts compensatable steps, one pivot, then retriable steps', () => {
    const saga = defineSaga<{ orderId: string }>('order', { version: 2 })
      .step('reserve', { action: async () => ({ reservationId: 'r' }), compensate: noop })
      .step('pay', { kind: 'pivot', action: noop })
      .step('confirm', { kind: 'retriable', local: noop });
    assert.deepEqual(
      saga.steps.map((s) => [s.name, s.kind, s.type]),
      [
        ['reserve', 'compensatable', 'call'],
        ['pay', 'pivot', 'call'],
        ['confirm', 'retriable', 'local'],
      ],
    );
    assert.equal(saga.steps[2]?.maxAttempts, Number.POSITIVE_INFINITY);
    assert.equal(saga.stepsHash, hashSteps(['reserve', 'pay', 'confirm']));
  });

  it('accepts a saga of retriable steps only (nothing to compensate)', () => {
    const saga = defineSaga('notify', { version: 1 }).step('mail', { kind: 'retriable', action: noop });
    assert.equal(saga.steps.length, 1);
  });

  it('refuses duplicate step names, no body or two bodies, and bad settings', () => {
    const one = defineSaga('s', { version: 1 }).step('a', { kind: 'pivot', action: noop });
    assert.throws(() => one.step('a', { kind: 'retriable', action: noop }), /defined twice/);
    assert.throws(
      () => one.step('b', { kind: 'retriable' } as never),
      /exactly one of action, local or command, got none/,
    );
    assert.throws(
      () => one.step('b', { kind: 'retriable', action: noop, local: noop } as never),
      /exactly one of action, local or command, got action, local/,
    );
    assert.throws(
      () => one.step('b', { kind: 'retriable', action: noop, timeoutMs: 0 }),
      /timeoutMs must be a finite number > 0, got 0/,
    );
    assert.throws(
      () =>
        defineSaga('s', { version: 1 }).step('b', {
          action: noop,
          compensate: noop,
          retry: { maxAttempts: 0 },
        }),
      /retry.maxAttempts must be an integer >= 1 or Infinity, got 0/,
    );
    assert.throws(() => defineSaga('s', { version: 0 }), /version must be an integer >= 1, got 0/);
    assert.throws(() => defineSaga('bad name', { version: 1 }), /defineSaga\(name\)/);
  });

  it('gives a different hash when the steps change, the same for the same names', () => {
    const a = defineSaga('s', { version: 1 }).step('x', { kind: 'pivot', action: noop });
    const b = defineSaga('s', { version: 1 }).step('x', { kind: 'pivot', local: noop });
    const c = defineSaga('s', { version: 1 }).step('y', { kind: 'pivot', action: noop });
    assert.equal(a.stepsHash, b.stepsHash);
    assert.notEqual(a.stepsHash, c.stepsHash);
  });
});
