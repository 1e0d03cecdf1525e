// The text of each email the shop sends, from the event that causes it (pure: no I/O).
import type { EventData } from '@flotilla/events';
import type { NotificationKind } from '../../contracts/notification-api.js';
import type { OrderCancelled, OrderConfirmed } from '../../contracts/order-events.js';
import type { ShipmentDispatched } from '../../contracts/shipping-events.js';

/** An email to record: its kind, subject and body. */
export interface ComposedMessage {
  readonly kind: NotificationKind;
  readonly subject: string;
  readonly body: string;
}

/** What each cancellation reason means to a customer. */
const REASONS: Readonly<Record<EventData<typeof OrderCancelled>['reason'], string>> = {
  OUT_OF_STOCK: 'Some of the items you ordered are out of stock.',
  PAYMENT_DECLINED: 'Your payment was declined by the card provider. Nothing was charged.',
  PAYMENT_UNAVAILABLE:
    'We could not reach the payment provider for a while. Any amount taken has been refunded.',
  INVENTORY_UNAVAILABLE: 'We could not check our stock for a while. Nothing was charged.',
  UNKNOWN_PRODUCT: 'An item of your order is no longer sold.',
  DEADLINE_EXCEEDED: 'We could not complete your order in time. Any amount taken has been refunded.',
  FAILED: 'Something went wrong on our side. Any amount taken has been refunded.',
};

/** A currency's formatter and its minor-unit exponent. */
interface MoneyFormat {
  readonly format: Intl.NumberFormat;
  readonly scale: number;
}

/** One formatter per currency: building an `Intl.NumberFormat` costs far more than using one. */
const moneyFormats = new Map<string, MoneyFormat>();

/** Formats integer minor units of `currency`, e.g. 1250 EUR → "€12.50". */
export function formatMoney(minor: number, currency: string): string {
  let money = moneyFormats.get(currency);
  if (money === undefined) {
    const format = new Intl.NumberFormat('en-IE', { style: 'currency', currency });
    money = { format, scale: 10 ** (format.resolvedOptions().maximumFractionDigits ?? 2) };
    // Bounded: codes are three letters (a malformed one throws above and is not kept).
    moneyFormats.set(currency, money);
  }
  return money.format.format(minor / money.scale);
}

/** The short form of an order id used in subjects (its first 8 characters). */
function shortId(orderId: string): string {
  return orderId.slice(0, 8);
}

/** The confirmation email of an order. */
export function orderConfirmedMessage(data: EventData<typeof OrderConfirmed>): ComposedMessage {
  const lines = data.items.map(
    (l) => `  ${l.quantity} × ${l.sku} at ${formatMoney(l.unitPriceMinor, data.currency)}`,
  );
  return {
    kind: 'ORDER_CONFIRMED',
    subject: `Your order ${shortId(data.orderId)} is confirmed`,
    body: [
      'Thank you for your order. Your payment was received and your items are set aside.',
      '',
      `Order ${data.orderId}`,
      ...lines,
      `Total: ${formatMoney(data.totalMinor, data.currency)}`,
      '',
      'We will write again when it ships.',
    ].join('\n'),
  };
}

/** The cancellation email of an order. */
export function orderCancelledMessage(data: EventData<typeof OrderCancelled>): ComposedMessage {
  return {
    kind: 'ORDER_CANCELLED',
    subject: `Your order ${shortId(data.orderId)} was cancelled`,
    body: [
      `We are sorry: we had to cancel your order ${data.orderId}.`,
      '',
      REASONS[data.reason],
      '',
      'You are welcome to order again at any time.',
    ].join('\n'),
  };
}

/** The "on its way" email of a shipment. */
export function shipmentDispatchedMessage(data: EventData<typeof ShipmentDispatched>): ComposedMessage {
  return {
    kind: 'SHIPMENT_DISPATCHED',
    subject: `Your order ${shortId(data.orderId)} is on its way`,
    body: [
      `Your order ${data.orderId} was handed to ${data.carrier} on ${data.dispatchedAt.slice(0, 10)}.`,
      '',
      `Tracking number: ${data.trackingNumber}`,
    ].join('\n'),
  };
}
