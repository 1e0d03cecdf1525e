/**
 * Deadline propagation. A request may carry `x-request-deadline`: the absolute time, in epoch
 * milliseconds, after which its caller no longer wants the answer. The service bounds its
 * handler by it and every outgoing call carries the remaining budget on, so a chain never works
 * on a request its caller already gave up. (Absolute times assume hosts with synchronised
 * clocks, as NTP provides; a service clamps a deadline further away than `maxDeadlineMs`.)
 */
export const DEADLINE_HEADER = 'x-request-deadline';

/** Parses a deadline header; `undefined` when absent or malformed (the request then has no deadline). */
export function parseDeadline(value: string | string[] | undefined): number | undefined {
  if (typeof value !== 'string' || value.length === 0 || value.length > 16) return undefined;
  const n = Number(value);
  return Number.isSafeInteger(n) && n > 0 ? n : undefined;
}
