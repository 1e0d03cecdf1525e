/**
 * FNV-1a (32 bit) of a string's UTF-16 code units. Stable across processes, machines and
 * versions, which is what matters: every publisher must map a key to the same partition.
 */
export function fnv1a32(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/**
 * The partition of an ordering key: `fnv1a32(key) % partitions`. Messages of one key always land
 * in one partition, and a partition is handled by one consumer of a group at a time, in order.
 *
 * @example
 * partitionOf('order-42', 16); // the same number in every process
 */
export function partitionOf(key: string, partitions: number): number {
  return fnv1a32(key) % partitions;
}
