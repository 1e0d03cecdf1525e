// Reservations: taking stock for an order all or nothing, and moving it on from there. Every
// stock change is a conditional update (`available >= quantity`, or a status guard on the
// reservation), so stock never goes negative and no unit is moved twice, however many requests
// and consumers run at once. Stock rows are always touched in SKU order (no deadlocks).
import { randomUUID } from 'node:crypto';
import { ServiceError } from '@flotilla/service';
import type { Tx } from '@flotilla/store';
import type { Kysely } from 'kysely';
import type { Reservation, ReserveRequest } from '../../contracts/inventory-api.js';
import type { Outcome } from '../../platform/idempotent-request.js';
import type { InventoryDb, ReservationsTable } from './db.js';

/** A line of a reservation. */
export interface Line {
  readonly sku: string;
  readonly quantity: number;
}

/** A reservation's status (see the inventory API contract). */
export type Status = Reservation['status'];

/** Adds up repeated SKUs and sorts the lines by SKU (the order stock rows are locked in). */
export function mergeLines(lines: readonly Line[]): Line[] {
  const bySku = new Map<string, number>();
  for (const l of lines) bySku.set(l.sku, (bySku.get(l.sku) ?? 0) + l.quantity);
  return [...bySku.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([sku, quantity]) => ({ sku, quantity }));
}

/** A reservation row as the API shows it. */
export function reservationView(row: ReservationsTable): Reservation {
  return {
    reservationId: row.id,
    orderId: row.order_id,
    status: row.status as Status,
    items: JSON.parse(row.items) as Line[],
    expiresAt: new Date(row.expires_at).toISOString(),
    createdAt: new Date(row.created_at).toISOString(),
    updatedAt: new Date(row.updated_at).toISOString(),
  };
}

/** Moves `quantity` of each line from available to reserved, only where enough is available. */
async function takeStock(tx: Tx<InventoryDb>, lines: readonly Line[], at: number): Promise<Line[]> {
  const short: Line[] = [];
  const taken: Line[] = [];
  for (const line of lines) {
    const result = await tx
      .updateTable('stock')
      .set((eb) => ({
        available: eb('available', '-', line.quantity),
        reserved: eb('reserved', '+', line.quantity),
        updated_at: at,
      }))
      .where('sku', '=', line.sku)
      .where('available', '>=', line.quantity)
      .executeTakeFirst();
    if (result.numUpdatedRows === 0n) short.push(line);
    else taken.push(line);
  }
  // All or nothing: give back what this request took before finding a line short (the rows
  // are still locked by this transaction, so nobody saw the units leave).
  if (short.length > 0) await moveStock(tx, taken, 'reserved', 'available', at);
  return short;
}

type Bucket = 'available' | 'reserved' | 'committed';

/** Moves each line's quantity from one bucket to another (the caller guards that it is there). */
async function moveStock(tx: Tx<InventoryDb>, lines: readonly Line[], from: Bucket, to: Bucket, at: number) {
  for (const line of lines) {
    await tx
      .updateTable('stock')
      .set((eb) => ({
        [from]: eb(from, '-', line.quantity),
        [to]: eb(to, '+', line.quantity),
        updated_at: at,
      }))
      .where('sku', '=', line.sku)
      .execute();
  }
}

/**
 * Reserves every line for the order, or none: 201 with a PENDING reservation expiring after
 * `ttlMs`; 409 `OUT_OF_STOCK` naming every short SKU; 422 `UNKNOWN_SKU`; 409
 * `RESERVATION_EXISTS` when the order already has a reservation.
 */
export async function reserve(
  tx: Tx<InventoryDb>,
  request: ReserveRequest,
  options: { readonly now: number; readonly ttlMs: number },
): Promise<Outcome<Reservation>> {
  const existing = await tx
    .selectFrom('reservations')
    .select(['id', 'status'])
    .where('order_id', '=', request.orderId)
    .executeTakeFirst();
  if (existing !== undefined)
    return {
      ok: false,
      status: 409,
      code: 'RESERVATION_EXISTS',
      message: `order ${request.orderId} already has reservation ${existing.id}`,
      details: { reservationId: existing.id, status: existing.status },
    };
  const lines = mergeLines(request.items);
  const short = await takeStock(tx, lines, options.now);
  if (short.length > 0) {
    const rows = await tx
      .selectFrom('stock')
      .select(['sku', 'available'])
      .where(
        'sku',
        'in',
        short.map((l) => l.sku),
      )
      .execute();
    const available = new Map(rows.map((r) => [r.sku, r.available]));
    const unknown = short.filter((l) => !available.has(l.sku)).map((l) => l.sku);
    if (unknown.length > 0)
      return {
        ok: false,
        status: 422,
        code: 'UNKNOWN_SKU',
        message: `no stock is kept for ${unknown.join(', ')}`,
        details: { skus: unknown },
      };
    return {
      ok: false,
      status: 409,
      code: 'OUT_OF_STOCK',
      message: `not enough stock of ${short.map((l) => l.sku).join(', ')}`,
      details: {
        shortages: short.map((l) => ({
          sku: l.sku,
          requested: l.quantity,
          available: available.get(l.sku) ?? 0,
        })),
      },
    };
  }
  const row: ReservationsTable = {
    id: randomUUID(),
    order_id: request.orderId,
    customer_id: request.customerId ?? null,
    items: JSON.stringify(lines),
    status: 'PENDING',
    expires_at: options.now + options.ttlMs,
    created_at: options.now,
    updated_at: options.now,
  };
  await tx.insertInto('reservations').values(row).execute();
  return { ok: true, body: reservationView(row) };
}

/** A transition of a reservation and the stock move that goes with it. */
interface Transition {
  readonly from: readonly Status[];
  readonly to: Status;
  readonly move: readonly [Bucket, Bucket];
}

const RELEASE: Transition = {
  from: ['PENDING', 'CONFIRMED'],
  to: 'RELEASED',
  move: ['reserved', 'available'],
};
const COMMIT: Transition = {
  from: ['PENDING', 'CONFIRMED'],
  to: 'COMMITTED',
  move: ['reserved', 'committed'],
};
const EXPIRE: Transition = { from: ['PENDING'], to: 'EXPIRED', move: ['reserved', 'available'] };

/** Which reservation: by id (HTTP) or by order (events). */
type Target = { readonly id: string } | { readonly orderId: string };

/**
 * Applies a transition if the reservation is in one of its `from` states (a guarded update, so
 * of two concurrent attempts exactly one moves the stock), and for expiries only once due.
 * Resolves with the row after it, and whether this call moved it.
 */
async function apply(
  tx: Tx<InventoryDb>,
  target: Target,
  t: Transition,
  at: number,
  dueBy?: number,
): Promise<{ row: ReservationsTable | undefined; moved: boolean }> {
  const updated = await tx
    .updateTable('reservations')
    .set({ status: t.to, updated_at: at })
    .$if('id' in target, (q) => q.where('id', '=', (target as { id: string }).id))
    .$if('orderId' in target, (q) => q.where('order_id', '=', (target as { orderId: string }).orderId))
    .where('status', 'in', [...t.from])
    .$if(dueBy !== undefined, (q) => q.where('expires_at', '<=', dueBy as number))
    .returningAll()
    .executeTakeFirst();
  if (updated !== undefined) {
    await moveStock(tx, JSON.parse(updated.items) as Line[], t.move[0], t.move[1], at);
    return { row: updated, moved: true };
  }
  const row = await tx
    .selectFrom('reservations')
    .selectAll()
    .$if('id' in target, (q) => q.where('id', '=', (target as { id: string }).id))
    .$if('orderId' in target, (q) => q.where('order_id', '=', (target as { orderId: string }).orderId))
    .executeTakeFirst();
  return { row, moved: false };
}

const notFound = (id: string): ServiceError =>
  new ServiceError(404, 'RESERVATION_NOT_FOUND', `no reservation ${id}`, { details: { reservationId: id } });

/**
 * Gives the stock back (PENDING or CONFIRMED → RELEASED). Idempotent: RELEASED and EXPIRED
 * answer as they are (the stock is already back). 409 `RESERVATION_COMMITTED` once the stock
 * left; 404 `RESERVATION_NOT_FOUND`.
 */
export async function release(tx: Tx<InventoryDb>, id: string, at: number): Promise<Outcome<Reservation>> {
  const { row } = await apply(tx, { id }, RELEASE, at);
  if (row === undefined) throw notFound(id);
  if (row.status === 'COMMITTED')
    throw new ServiceError(
      409,
      'RESERVATION_COMMITTED',
      `reservation ${id} is committed: its stock has left`,
      {
        details: { reservationId: id, status: row.status },
      },
    );
  return { ok: true, body: reservationView(row) };
}

/**
 * The stock leaves the warehouse (PENDING or CONFIRMED → COMMITTED). Idempotent for COMMITTED;
 * 409 `RESERVATION_NOT_HELD` after a release or an expiry; 404 `RESERVATION_NOT_FOUND`.
 */
export async function commit(tx: Tx<InventoryDb>, id: string, at: number): Promise<Outcome<Reservation>> {
  const { row } = await apply(tx, { id }, COMMIT, at);
  if (row === undefined) throw notFound(id);
  if (row.status === 'RELEASED' || row.status === 'EXPIRED')
    throw new ServiceError(
      409,
      'RESERVATION_NOT_HELD',
      `reservation ${id} is ${row.status}: nothing to commit`,
      {
        details: { reservationId: id, status: row.status },
      },
    );
  return { ok: true, body: reservationView(row) };
}

/** What an order event did to its reservation (for logs and tests). */
export type EventEffect = 'applied' | 'already' | 'no-reservation' | 'not-held' | 'retaken' | 'lost';

/**
 * OrderConfirmed: the reservation no longer expires (PENDING → CONFIRMED). If it expired while
 * the order was paid for, the stock is taken again when there is enough (`retaken`); if there
 * is not, the order is oversold (`lost`) and the caller logs it.
 */
export async function confirmForOrder(
  tx: Tx<InventoryDb>,
  orderId: string,
  at: number,
): Promise<EventEffect> {
  const updated = await tx
    .updateTable('reservations')
    .set({ status: 'CONFIRMED', updated_at: at })
    .where('order_id', '=', orderId)
    .where('status', '=', 'PENDING')
    .returning('id')
    .executeTakeFirst();
  if (updated !== undefined) return 'applied';
  const row = await tx
    .selectFrom('reservations')
    .selectAll()
    .where('order_id', '=', orderId)
    .executeTakeFirst();
  if (row === undefined) return 'no-reservation';
  if (row.status !== 'EXPIRED') return 'already';
  const short = await takeStock(tx, JSON.parse(row.items) as Line[], at);
  if (short.length > 0) return 'lost';
  await tx
    .updateTable('reservations')
    .set({ status: 'CONFIRMED', updated_at: at })
    .where('id', '=', row.id)
    .where('status', '=', 'EXPIRED')
    .execute();
  return 'retaken';
}

/** ShipmentCreated: the order's stock leaves (→ COMMITTED) if it is still held. */
export async function commitForOrder(tx: Tx<InventoryDb>, orderId: string, at: number): Promise<EventEffect> {
  const { row, moved } = await apply(tx, { orderId }, COMMIT, at);
  if (row === undefined) return 'no-reservation';
  if (moved) return 'applied';
  return row.status === 'COMMITTED' ? 'already' : 'not-held';
}

/** OrderCancelled: the order's stock goes back if it is still held (→ RELEASED). */
export async function releaseForOrder(
  tx: Tx<InventoryDb>,
  orderId: string,
  at: number,
): Promise<EventEffect> {
  const { row, moved } = await apply(tx, { orderId }, RELEASE, at);
  if (row === undefined) return 'no-reservation';
  if (moved) return 'applied';
  return row.status === 'COMMITTED' ? 'not-held' : 'already';
}

/** Expires one PENDING reservation past its `expires_at`; resolves with whether it did. */
export async function expireOne(tx: Tx<InventoryDb>, id: string, at: number): Promise<boolean> {
  const { moved } = await apply(tx, { id }, EXPIRE, at, at);
  return moved;
}

/** One reservation; 404 `RESERVATION_NOT_FOUND` (also when it belongs to another customer). */
export async function getReservation(
  db: Kysely<InventoryDb>,
  id: string,
  customerId: string | undefined,
): Promise<Reservation> {
  const row = await db.selectFrom('reservations').selectAll().where('id', '=', id).executeTakeFirst();
  if (row === undefined || !visibleTo(row, customerId)) throw notFound(id);
  return reservationView(row);
}

/** The order's reservation, if any (hidden from other customers). */
export async function reservationsOfOrder(
  db: Kysely<InventoryDb>,
  orderId: string,
  customerId: string | undefined,
): Promise<Reservation[]> {
  const rows = await db.selectFrom('reservations').selectAll().where('order_id', '=', orderId).execute();
  return rows.filter((r) => visibleTo(r, customerId)).map(reservationView);
}

/** A call on behalf of a customer sees only reservations made for them (or for nobody in particular). */
function visibleTo(row: ReservationsTable, customerId: string | undefined): boolean {
  return customerId === undefined || row.customer_id === null || row.customer_id === customerId;
}
