import { fnv1a32 } from '../partitioning.js';

/** The subject of a message: partition first, so one consumer filter covers every topic of a partition. */
export function subjectOf(prefix: string, partition: number, topic: string): string {
  return `${prefix}.${partition}.${topic}`;
}

/** The filter of the durable consumer of one partition. */
export function partitionFilter(prefix: string, partition: number): string {
  return `${prefix}.${partition}.>`;
}

/**
 * The durable consumer name of a (group, partition). Durable names cannot contain `.`, so a
 * group with dots gets them replaced and a hash of the original appended to stay unique.
 */
export function durableName(group: string, partition: number): string {
  const safe = group.replace(/\./g, '_');
  const base = safe === group ? group : `${safe}-${fnv1a32(group).toString(36)}`;
  return `${base}_p${partition}`;
}
