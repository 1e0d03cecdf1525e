import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeEnvelope, type EventEnvelope, encodeEnvelope, payloadText } from './envelope.js';
import { isEventValidationError } from './errors.js';

const envelope: EventEnvelope = {
  specversion: '1.0',
  id: '3f1c0b5e-1111-4c4c-9c9c-000000000001',
  type: 'OrderConfirmed',
  source: 'orders',
  subject: 'order-1',
  time: '2025-03-01T10:00:00.000Z',
  datacontenttype: 'application/json',
  schemaversion: 2,
  traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
  data: { orderId: 'order-1' },
};

describe('event envelope', () => {
  it('serialises as a CloudEvents structured JSON envelope and reads back the same', () => {
    const text = encodeEnvelope(envelope);
    assert.deepEqual(Object.keys(JSON.parse(text)), [
      'specversion',
      'id',
      'type',
      'source',
      'subject',
      'time',
      'datacontenttype',
      'schemaversion',
      'traceparent',
      'data',
    ]);
    assert.deepEqual(decodeEnvelope(text, 'OrderConfirmed'), envelope);
  });

  it('accepts an envelope without traceparent or datacontenttype and ignores extension attributes', () => {
    const { traceparent: _t, datacontenttype: _d, ...rest } = envelope;
    const decoded = decodeEnvelope(JSON.stringify({ ...rest, partitionkey: 'x' }), 'OrderConfirmed');
    assert.equal(decoded.traceparent, undefined);
    assert.equal(decoded.datacontenttype, 'application/json');
    assert.equal('partitionkey' in decoded, false);
  });

  it('refuses a payload that is not JSON', () => {
    assert.throws(
      () => decodeEnvelope('{', 'OrderConfirmed'),
      /OrderConfirmed was received malformed: payload is not JSON/,
    );
  });

  it('refuses a payload that is not UTF-8', () => {
    assert.equal(payloadText(new Uint8Array([0xff, 0xfe])), undefined);
    assert.throws(() => decodeEnvelope(undefined, 'T'), /payload is not UTF-8 text/);
  });

  it('names every missing or wrong attribute', () => {
    assert.throws(
      () =>
        decodeEnvelope(
          JSON.stringify({ ...envelope, specversion: '0.3', schemaversion: 'one', subject: undefined }),
          'OrderConfirmed',
        ),
      (err: unknown) =>
        isEventValidationError(err) &&
        ['specversion', 'subject', 'schemaversion'].every((p) => err.issues.some((i) => i.path === p)),
    );
  });

  it('refuses an envelope whose type is not the topic it came on', () => {
    assert.throws(
      () => decodeEnvelope(encodeEnvelope(envelope), 'OrderCancelled'),
      /type: is "OrderConfirmed" but the message came on topic OrderCancelled/,
    );
  });
});
