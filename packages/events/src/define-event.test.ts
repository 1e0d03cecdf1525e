import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { z } from 'zod';
import { defineEvent, readEventData, validateForPublish } from './define-event.js';
import { isEventValidationError, isUnsupportedSchemaVersionError } from './errors.js';

const schema = z.object({
  orderId: z.string(),
  totalCents: z.number().int(),
  currency: z.string().default('EUR'),
});

const OrderConfirmed = defineEvent('OrderConfirmed', {
  version: 3,
  schema,
  upcast: {
    1: (v1) => ({ ...(v1 as object), total: (v1 as { amount: number }).amount }),
    2: (v2) => {
      const { total, amount: _amount, ...rest } = v2 as { total: number; amount?: number };
      return { ...rest, totalCents: Math.round(total * 100) };
    },
  },
});

describe('defineEvent', () => {
  it('returns a frozen contract with the type, version, schema and upcasters', () => {
    assert.equal(OrderConfirmed.type, 'OrderConfirmed');
    assert.equal(OrderConfirmed.version, 3);
    assert.equal(OrderConfirmed.schema, schema);
    assert.ok(Object.isFrozen(OrderConfirmed));
  });

  it('rejects a type that is not a valid topic, naming it', () => {
    assert.throws(
      () => defineEvent('order confirmed', { version: 1, schema }),
      /defineEvent\(type\) must be letters/,
    );
    assert.throws(() => defineEvent('orders..Confirmed', { version: 1, schema }), RangeError);
  });

  it('rejects a version that is not an integer >= 1', () => {
    assert.throws(
      () => defineEvent('A', { version: 0, schema }),
      /defineEvent\("A"\)\.version must be an integer >= 1, got 0/,
    );
  });

  it('rejects an upcaster key outside 1..version-1', () => {
    assert.throws(
      () => defineEvent('A', { version: 2, schema, upcast: { 2: (d) => d } }),
      /upcast has key 2; keys are versions from 1 to 1/,
    );
  });

  it('rejects a schema that is not a zod schema', () => {
    assert.throws(() => defineEvent('A', { version: 1, schema: {} as never }), /schema must be a zod schema/);
  });
});

describe('validateForPublish', () => {
  it('returns the parsed data with defaults applied', () => {
    assert.deepEqual(validateForPublish(OrderConfirmed, { orderId: 'o-1', totalCents: 250 }), {
      orderId: 'o-1',
      totalCents: 250,
      currency: 'EUR',
    });
  });

  it('throws EventValidationError naming the field', () => {
    assert.throws(
      () => validateForPublish(OrderConfirmed, { orderId: 'o-1', totalCents: 2.5 }),
      (err: unknown) =>
        isEventValidationError(err) &&
        err.phase === 'publish' &&
        err.issues[0]?.path === 'data.totalCents' &&
        /OrderConfirmed cannot be published: data\.totalCents/.test(err.message),
    );
  });
});

describe('readEventData', () => {
  it('lifts version-1 data through every upcaster to the current version', () => {
    assert.deepEqual(readEventData(OrderConfirmed, 1, { orderId: 'o-1', amount: 12.5 }), {
      orderId: 'o-1',
      totalCents: 1250,
      currency: 'EUR',
    });
  });

  it('validates current-version data without upcasting', () => {
    assert.deepEqual(readEventData(OrderConfirmed, 3, { orderId: 'o-1', totalCents: 1, currency: 'USD' }), {
      orderId: 'o-1',
      totalCents: 1,
      currency: 'USD',
    });
  });

  it('refuses data that does not match the schema as a receive-side validation error', () => {
    assert.throws(
      () => readEventData(OrderConfirmed, 3, { orderId: 1 }),
      (err: unknown) => isEventValidationError(err) && err.phase === 'receive' && err.issues.length === 2,
    );
  });

  it('refuses a version without an upcaster', () => {
    const NoUpcast = defineEvent('NoUpcast', { version: 2, schema });
    assert.throws(() => readEventData(NoUpcast, 1, {}), /no upcaster from version 1 to 2/);
  });

  it('reports an upcaster that throws as a validation error', () => {
    const Broken = defineEvent('Broken', {
      version: 2,
      schema,
      upcast: {
        1: () => {
          throw new Error('cannot convert');
        },
      },
    });
    assert.throws(() => readEventData(Broken, 1, {}), /upcaster from version 1 failed: cannot convert/);
  });

  it('refuses a newer version with a retryable error', () => {
    assert.throws(
      () => readEventData(OrderConfirmed, 4, {}),
      (err: unknown) =>
        isUnsupportedSchemaVersionError(err) &&
        err.retryable &&
        err.receivedVersion === 4 &&
        err.knownVersion === 3,
    );
  });
});
