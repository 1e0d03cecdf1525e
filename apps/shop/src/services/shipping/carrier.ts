// The simulated carriers: which one ships an order, and the tracking number it gives.
import { createHash } from 'node:crypto';
import { Carrier } from '../../contracts/shipping-api.js';

const PREFIX: Readonly<Record<Carrier, string>> = { PostFlotilla: 'PF', ParcelHarbor: 'PH', SwiftKeel: 'SK' };

/**
 * The carrier and tracking number of an order's shipment: both derived from the order id, so a
 * re-created shipment (after a lost write) would get the same ones.
 *
 * @example
 * carrierFor('6f1c…'); // { carrier: 'ParcelHarbor', trackingNumber: 'PH407231958861' }
 */
export function carrierFor(orderId: string): { carrier: Carrier; trackingNumber: string } {
  const digest = createHash('sha256').update(orderId).digest();
  const carriers = Carrier.options;
  const carrier = carriers[digest.readUInt32BE(0) % carriers.length] as Carrier;
  // 12 decimal digits from the next 6 bytes of the digest.
  const digits = (digest.readUIntBE(4, 6) % 1_000_000_000_000).toString().padStart(12, '0');
  return { carrier, trackingNumber: `${PREFIX[carrier]}${digits}` };
}
