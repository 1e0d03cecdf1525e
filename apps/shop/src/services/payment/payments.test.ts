import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { RunningService } from '@flotilla/service';
import { startForTest, testToken } from '@flotilla/service/testing';
import { createPaymentService, type PaymentDeps } from './service.js';

interface Answer {
  status: number;
  headers: Headers;
  // biome-ignore lint/suspicious/noExplicitAny: tests read whatever the route answered
  body: any;
}

describe('payment service', () => {
  const dir = mkdtempSync(join(tmpdir(), 'flotilla-payment-'));
  // The provider's random draws: queued ones first, then `draw` (set by each test). The failure
  // rate is 0.5 and the decline rate 0.2, so 0.9 always captures and 0.1 always fails.
  let draw = 0.9;
  const queued: number[] = [];
  let svc: RunningService<PaymentDeps>;

  before(async () => {
    svc = await startForTest(createPaymentService({ random: () => queued.shift() ?? draw }), {
      env: {
        FLOTILLA_LOG_LEVEL: 'silent',
        FLOTILLA_DATA_DIR: dir,
        FLOTILLA_TRANSPORT: `embedded:${join(dir, 'bus.db')}`,
        PAYMENT_LATENCY_MS: '1',
        PAYMENT_FAILURE_RATE: '0.5',
        PAYMENT_DECLINE_RATE: '0.2',
      },
    });
  });
  after(async () => {
    await svc?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const call = async (
    method: string,
    path: string,
    o: { body?: unknown; raw?: string; key?: string; user?: string } = {},
  ): Promise<Answer> => {
    const headers: Record<string, string> = {
      authorization: await testToken(
        'payment',
        'order',
        o.user === undefined ? undefined : { id: o.user, scopes: [] },
      ),
    };
    if (o.key !== undefined) headers['idempotency-key'] = o.key;
    if (o.body !== undefined || o.raw !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`${svc.url}${path}`, {
      method,
      headers,
      ...(o.raw !== undefined
        ? { body: o.raw }
        : o.body === undefined
          ? {}
          : { body: JSON.stringify(o.body) }),
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: text === '' ? undefined : JSON.parse(text) };
  };
  const chargeBody = (amountMinor: number, customerId = 'cus-0001') => ({
    orderId: randomUUID(),
    customerId,
    amountMinor,
    currency: 'EUR',
  });
  const ofOrder = async (orderId: string, user?: string) =>
    (await call('GET', `/payments?orderId=${orderId}`, user === undefined ? {} : { user })).body;

  it('captures a charge: 201 CAPTURED, listed with the charged amount', async () => {
    draw = 0.9;
    const body = chargeBody(4990);
    const res = await call('POST', '/payments', { body, key: randomUUID() });
    assert.equal(res.status, 201);
    assert.deepEqual(res.body, {
      paymentId: res.body.paymentId,
      orderId: body.orderId,
      status: 'CAPTURED',
      amountMinor: 4990,
      currency: 'EUR',
    });
    const listed = await ofOrder(body.orderId);
    assert.equal(listed.chargedMinor, 4990);
    assert.equal(listed.refundedMinor, 0);
    assert.equal(listed.items[0].status, 'CAPTURED');
  });

  it('charges once per key: the same key twice answers the same and records one payment', async () => {
    draw = 0.9;
    const body = chargeBody(1200);
    const key = randomUUID();
    const first = await call('POST', '/payments', { body, key });
    // The provider would fail now: a repeat must not ask it again.
    draw = 0.1;
    const second = await call('POST', '/payments', { body, key });
    assert.equal(first.status, 201);
    assert.equal(second.status, 201);
    assert.deepEqual(second.body, first.body);
    assert.equal((await ofOrder(body.orderId)).items.length, 1);
  });

  it('records one payment when the same key races itself', async () => {
    draw = 0.9;
    const body = chargeBody(800);
    const key = randomUUID();
    const answers = await Promise.all(
      Array.from({ length: 8 }, () => call('POST', '/payments', { body, key })),
    );
    for (const a of answers) assert.deepEqual(a.body, answers[0]?.body);
    assert.equal((await ofOrder(body.orderId)).items.length, 1);
  });

  it('refuses the same key for a different charge (422 IDEMPOTENCY_KEY_REUSED)', async () => {
    draw = 0.9;
    const key = randomUUID();
    const body = chargeBody(500);
    assert.equal((await call('POST', '/payments', { body, key })).status, 201);
    const other = await call('POST', '/payments', { body: { ...body, amountMinor: 501 }, key });
    assert.equal(other.status, 422);
    assert.equal(other.body.error.code, 'IDEMPOTENCY_KEY_REUSED');
  });

  it('declines an amount ending in 13 with 402 PAYMENT_DECLINED, records it, and declines the key again', async () => {
    draw = 0.9;
    const body = chargeBody(2513);
    const key = randomUUID();
    const res = await call('POST', '/payments', { body, key });
    assert.equal(res.status, 402);
    assert.equal(res.body.error.code, 'PAYMENT_DECLINED');
    assert.equal(res.body.error.retryable, false);
    assert.equal(res.body.error.details.reason, 'AMOUNT_RULE');
    assert.deepEqual(await call('POST', '/payments', { body, key }).then((a) => [a.status, a.body]), [
      402,
      res.body,
    ]);
    const listed = await ofOrder(body.orderId);
    assert.equal(listed.items.length, 1);
    assert.equal(listed.items[0].status, 'DECLINED');
    assert.equal(listed.items[0].paymentId, res.body.error.details.paymentId);
    assert.equal(listed.chargedMinor, 0);
  });

  it('declines at the configured rate with PROVIDER_DECLINED, recorded like any decline', async () => {
    // First draw: the failure check (0.9 >= 0.5, no failure); second: the decline check (0.1 < 0.2).
    queued.push(0.9, 0.1);
    const body = chargeBody(700);
    const res = await call('POST', '/payments', { body, key: randomUUID() });
    assert.equal(res.status, 402);
    assert.equal(res.body.error.details.reason, 'PROVIDER_DECLINED');
    assert.equal((await ofOrder(body.orderId)).items[0].declineReason, 'PROVIDER_DECLINED');
  });

  it('answers 503 PROVIDER_UNAVAILABLE (retryable) when the provider fails, records nothing, and the same key succeeds later', async () => {
    draw = 0.1;
    const body = chargeBody(3300);
    const key = randomUUID();
    const failed = await call('POST', '/payments', { body, key });
    assert.equal(failed.status, 503);
    assert.equal(failed.body.error.code, 'PROVIDER_UNAVAILABLE');
    assert.equal(failed.body.error.retryable, true);
    assert.equal(failed.headers.get('retry-after'), '1');
    assert.deepEqual(await ofOrder(body.orderId), { items: [], chargedMinor: 0, refundedMinor: 0 });
    draw = 0.9;
    const retried = await call('POST', '/payments', { body, key });
    assert.equal(retried.status, 201);
    assert.equal((await ofOrder(body.orderId)).items.length, 1);
  });

  it('refunds once: repeats (same key, other key, no key) answer the same and never refund twice', async () => {
    draw = 0.9;
    const body = chargeBody(6000);
    const paid = await call('POST', '/payments', { body, key: randomUUID() });
    const id = paid.body.paymentId;
    const key = randomUUID();
    const first = await call('POST', `/payments/${id}/refund`, { key });
    assert.equal(first.status, 200);
    assert.deepEqual(first.body, { paymentId: id, status: 'REFUNDED', refundedMinor: 6000 });
    assert.deepEqual((await call('POST', `/payments/${id}/refund`, { key })).body, first.body);
    assert.deepEqual((await call('POST', `/payments/${id}/refund`, { key: randomUUID() })).body, first.body);
    assert.deepEqual((await call('POST', `/payments/${id}/refund`)).body, first.body);
    const listed = await ofOrder(body.orderId);
    assert.equal(listed.chargedMinor, 6000);
    assert.equal(listed.refundedMinor, 6000);
    assert.equal(listed.items[0].status, 'REFUNDED');
  });

  it('refunds once when refunds race', async () => {
    draw = 0.9;
    const paid = await call('POST', '/payments', { body: chargeBody(900), key: randomUUID() });
    const id = paid.body.paymentId;
    const answers = await Promise.all(
      Array.from({ length: 6 }, () => call('POST', `/payments/${id}/refund`, { key: randomUUID() })),
    );
    for (const a of answers)
      assert.deepEqual([a.status, a.body], [200, { paymentId: id, status: 'REFUNDED', refundedMinor: 900 }]);
  });

  it('answers a refund the provider failed with 503, and refunds on the retry', async () => {
    draw = 0.9;
    const paid = await call('POST', '/payments', { body: chargeBody(1500), key: randomUUID() });
    const key = randomUUID();
    draw = 0.1;
    const failed = await call('POST', `/payments/${paid.body.paymentId}/refund`, { key });
    assert.equal(failed.status, 503);
    assert.equal((await ofOrder(paid.body.orderId)).refundedMinor, 0);
    draw = 0.9;
    const retried = await call('POST', `/payments/${paid.body.paymentId}/refund`, { key });
    assert.equal(retried.status, 200);
    assert.equal((await ofOrder(paid.body.orderId)).refundedMinor, 1500);
  });

  it('refuses to refund a declined payment (409) or an unknown one (404)', async () => {
    draw = 0.9;
    const declined = await call('POST', '/payments', { body: chargeBody(113), key: randomUUID() });
    const res = await call('POST', `/payments/${declined.body.error.details.paymentId}/refund`);
    assert.equal(res.status, 409);
    assert.equal(res.body.error.code, 'PAYMENT_NOT_REFUNDABLE');
    const unknown = await call('POST', '/payments/nope/refund');
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.error.code, 'PAYMENT_NOT_FOUND');
  });

  it('shows a customer only their own payments', async () => {
    draw = 0.9;
    const body = chargeBody(2000, 'cus-0001');
    await call('POST', '/payments', { body, key: randomUUID() });
    assert.equal((await ofOrder(body.orderId, 'cus-0001')).items.length, 1);
    assert.deepEqual(await ofOrder(body.orderId, 'cus-0002'), {
      items: [],
      chargedMinor: 0,
      refundedMinor: 0,
    });
  });

  it('answers every bad input with a 4xx in the standard error shape', async () => {
    const good = chargeBody(100);
    const cases: {
      body?: unknown;
      raw?: string;
      key?: string;
      path?: string;
      method?: string;
      status: number;
      code: string;
    }[] = [
      { body: good, status: 400, code: 'IDEMPOTENCY_KEY_REQUIRED' },
      { body: { ...good, amountMinor: 0 }, key: 'k1', status: 400, code: 'VALIDATION_FAILED' },
      { body: { ...good, amountMinor: 10.5 }, key: 'k2', status: 400, code: 'VALIDATION_FAILED' },
      { body: { ...good, currency: 'euro' }, key: 'k3', status: 400, code: 'VALIDATION_FAILED' },
      { body: { ...good, customerId: undefined }, key: 'k4', status: 400, code: 'VALIDATION_FAILED' },
      { raw: '[1,', key: 'k5', status: 400, code: 'MALFORMED_JSON' },
      { method: 'GET', path: '/payments', status: 400, code: 'VALIDATION_FAILED' },
      {
        method: 'POST',
        path: '/payments/x/refund',
        key: 'has spaces in it',
        status: 400,
        code: 'IDEMPOTENCY_KEY_REQUIRED',
      },
    ];
    for (const c of cases) {
      const res = await call(c.method ?? 'POST', c.path ?? '/payments', {
        ...(c.body === undefined ? {} : { body: c.body }),
        ...(c.raw === undefined ? {} : { raw: c.raw }),
        ...(c.key === undefined ? {} : { key: c.key }),
      });
      assert.equal(res.status, c.status, JSON.stringify(c));
      assert.equal(res.body.error.code, c.code, JSON.stringify(c));
      assert.equal(typeof res.body.error.message, 'string');
      assert.equal(res.body.error.retryable, false);
    }
  });
});
