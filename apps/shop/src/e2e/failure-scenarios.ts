// The payment service down, end to end (not a test file itself; see embedded.e2e.test.ts): the
// order view degrades, the saga compensates, the order service's circuit to payment opens, and
// once payment is back new orders go through. The shop must run with FAILURE_ENV, which makes
// the saga give up on payment in a few hundred milliseconds instead of half a minute.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { demoLogin, metricValue, type OrderAggregate, type Shop, until } from './shop-harness.js';

/** Variables for the order service that keep these scenarios short. */
export const FAILURE_ENV: Readonly<Record<string, string>> = {
  // The circuit opens after 5 consecutive failures: the sixth attempt meets it open.
  ORDER_PAYMENT_RETRY_ATTEMPTS: '6',
  ORDER_RETRY_INITIAL_DELAY_MS: '20',
  ORDER_RETRY_MAX_DELAY_MS: '100',
  ORDER_SAGA_POLL_INTERVAL_MS: '200',
};

const EDSGER = demoLogin('edsger@example.com');
const SKU = 'TEA-002';
/** `flotilla_circuit_state` values. */
const CLOSED = 0;
const OPEN = 1;

/** Registers the scenarios, in a `describe` of their own, against the shop `shop()` returns. */
export function paymentOutageScenarios(shop: () => Shop): void {
  describe('with the payment service stopped', () => {
    let token: string;
    let stockBefore: number;
    let orderId: string;

    after(async () => {
      // Whatever failed above, the scenarios after these need payment running.
      let s: Shop;
      try {
        s = shop();
      } catch {
        return;
      }
      if (s.running.services.some((i) => i.service === 'payment' && i.state === 'stopped'))
        await s.startService('payment');
    });

    const breakerState = async (s: Shop): Promise<number | undefined> => {
      const res = await fetch(`${s.urlsOf('order')[0]}/metrics`);
      assert.equal(res.status, 200);
      return metricValue(await res.text(), 'flotilla_circuit_state', { upstream: 'payment' });
    };

    it('still answers the order view, with payment "unavailable"', async () => {
      const s = shop();
      token = await s.login(EDSGER.email, EDSGER.password);
      stockBefore = await s.available(SKU);
      await s.stopService('payment');
      assert.deepEqual(
        s.running.services.filter((i) => i.service === 'payment').map((i) => i.state),
        ['stopped'],
      );
      orderId = await s.placeOrder(token, [{ sku: SKU, quantity: 1 }]);
      const res = await s.request<OrderAggregate>('GET', `/api/v2/orders/${orderId}`, { token });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.body.order.id, orderId);
      assert.equal(res.body.payment, 'unavailable');
      assert.notEqual(res.body.parts.payment?.status, 'ok');
      assert.equal(res.body.parts.order?.status, 'ok');
      assert.equal(res.body.parts.reservation?.status, 'ok');
      assert.match(res.headers.get('x-flotilla-partial') ?? '', /payment/);
    });

    it('cancels the order with PAYMENT_UNAVAILABLE and releases its reservation', async () => {
      const s = shop();
      const view = await s.waitForOrder(token, orderId, (v) => v.order.status !== 'PENDING');
      assert.equal(view.order.status, 'CANCELLED');
      assert.equal(view.order.reason, 'PAYMENT_UNAVAILABLE');
      assert.notEqual(view.reservation, 'unavailable');
      assert.deepEqual(
        view.reservation !== 'unavailable' ? view.reservation.items.map((r) => r.status) : [],
        ['RELEASED'],
      );
      assert.equal(await s.available(SKU), stockBefore);
    });

    it("opens the order service's circuit to payment", async () => {
      const s = shop();
      // Open for 10 s after the fifth failure; the cancellation above came right after it.
      assert.equal(await breakerState(s), OPEN, s.output());
      const res = await fetch(`${s.urlsOf('order')[0]}/metrics`);
      const text = await res.text();
      const rejected = metricValue(text, 'flotilla_policy_executions_total', {
        upstream: 'payment',
        policy: 'circuit-breaker',
        outcome: 'rejection',
      });
      assert.ok(rejected !== undefined && rejected >= 1, `calls rejected by the open circuit: ${rejected}`);
    });

    it('confirms new orders once payment is started again', async () => {
      const s = shop();
      await s.startService('payment');
      // The circuit lets a probe through once its break is over; an order before that would be
      // refused by it (that is the circuit doing its job, not the payment service failing).
      await until(
        "the order service's circuit to payment to leave the open state",
        async () => ((await breakerState(s)) === OPEN ? undefined : true),
        { deadlineMs: 30_000, intervalMs: 200 },
      );
      const id = await s.placeOrder(token, [{ sku: SKU, quantity: 1 }]);
      const view = await s.waitForOrder(
        token,
        id,
        (v) => v.order.status !== 'PENDING' && v.payment !== 'unavailable',
      );
      assert.equal(view.order.status, 'CONFIRMED', JSON.stringify(view.order));
      assert.equal(view.payment !== 'unavailable' && view.payment.chargedMinor, view.order.totalMinor);
      assert.equal(await breakerState(s), CLOSED);
    });
  });
}
