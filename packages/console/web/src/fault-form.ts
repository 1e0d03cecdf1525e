// The network-fault form of the chaos page: what the fields hold and the request they make.
import type { ConsoleFault, ConsoleFaultRequest } from '../../src/contract.js';

/** The fault form's fields, as typed (percentages for the probabilities). */
export interface FaultDraft {
  latencyMs: string;
  jitterMs: string;
  errorPercent: string;
  resetPercent: string;
  bandwidth: string;
  blackhole: boolean;
}

/** Fraction ↔ percentage without binary noise (0.333 ↔ 33.3, not 33.300000000000004). */
const percentOf = (fraction: number): number => Number((fraction * 100).toPrecision(12));
const fractionOf = (percent: number): number => Number((percent / 100).toPrecision(12));

/** The form's fields for a service's current faults (all zero without any). */
export function draftOf(f: ConsoleFault | undefined): FaultDraft {
  return {
    latencyMs: String(f?.latencyMs ?? 0),
    jitterMs: String(f?.jitterMs ?? 0),
    errorPercent: String(percentOf(f?.errorRate ?? 0)),
    resetPercent: String(percentOf(f?.resetProbability ?? 0)),
    bandwidth: String(f?.bandwidthBytesPerSecond ?? 0),
    blackhole: f?.blackhole ?? false,
  };
}

/** Limits the console API accepts. */
const MAX_DELAY_MS = 60_000;
const MAX_BANDWIDTH = 1e10;

/**
 * The request the form makes for `service` (every field set, probabilities as fractions), or a
 * sentence naming the first field that is out of range.
 */
export function faultRequest(service: string, d: FaultDraft): ConsoleFaultRequest | string {
  const num = (text: string, name: string, max: number, whole: boolean): number | string => {
    const v = Number(text);
    if (text.trim() === '' || !Number.isFinite(v) || v < 0 || v > max || (whole && !Number.isInteger(v)))
      return `${name} must be a ${whole ? 'whole ' : ''}number from 0 to ${max.toLocaleString('en-US')}`;
    return v;
  };
  const latencyMs = num(d.latencyMs, 'latency', MAX_DELAY_MS, true);
  const jitterMs = num(d.jitterMs, 'jitter', MAX_DELAY_MS, true);
  const error = num(d.errorPercent, 'error responses', 100, false);
  const reset = num(d.resetPercent, 'connection resets', 100, false);
  const bandwidth = num(d.bandwidth, 'bandwidth', MAX_BANDWIDTH, true);
  for (const v of [latencyMs, jitterMs, error, reset, bandwidth]) if (typeof v === 'string') return v;
  return {
    service,
    latencyMs: latencyMs as number,
    jitterMs: jitterMs as number,
    errorRate: fractionOf(error as number),
    resetProbability: fractionOf(reset as number),
    bandwidthBytesPerSecond: bandwidth as number,
    blackhole: d.blackhole,
  };
}
