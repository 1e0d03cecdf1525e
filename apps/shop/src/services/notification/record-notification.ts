// Recording an email in the mail sink: at most one per (order, kind).
import { randomUUID } from 'node:crypto';
import type { Tx } from '@flotilla/store';
import type { ComposedMessage } from './compose-message.js';
import type { NotificationDb } from './db.js';

/**
 * Records `message` for `orderId` inside the consumer's transaction. The inbox ignores a
 * redelivered event; the unique (order, kind) also makes another event of the same kind for the
 * same order a no-op. Resolves with whether a notification was written.
 */
export async function recordNotification(
  tx: Tx<NotificationDb>,
  input: { orderId: string; customerId: string; eventId: string; message: ComposedMessage; now: number },
): Promise<boolean> {
  const inserted = await tx
    .insertInto('notifications')
    .values({
      id: randomUUID(),
      order_id: input.orderId,
      customer_id: input.customerId,
      kind: input.message.kind,
      channel: 'email',
      subject: input.message.subject,
      body: input.message.body,
      event_id: input.eventId,
      created_at: input.now,
    })
    .onConflict((oc) => oc.columns(['order_id', 'kind']).doNothing())
    .returning('id')
    .executeTakeFirst();
  return inserted !== undefined;
}
