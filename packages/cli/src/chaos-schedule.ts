import { FlotillaError, hasFlotillaCode } from '@flotilla/resilience';
import type { ProxyFaults } from './fault-proxy.js';
import { NETNS_NAME } from './system-schema.js';

/**
 * The process faults the nemesis injects, through the supervisor:
 * - `kill`: SIGKILL; the supervisor restarts the process with its backoff (`restart.initialDelayMs`, doubling).
 * - `freeze`: SIGSTOP for `for`, then SIGCONT.
 * - `stop`: a graceful stop (SIGTERM) for `for`, then a start.
 */
export type ProcessFaultKind = 'kill' | 'freeze' | 'stop';

/** Every {@link ProcessFaultKind}. */
export const PROCESS_FAULT_KINDS: readonly ProcessFaultKind[] = ['kill', 'freeze', 'stop'];

/**
 * The network faults, applied by a fault-injecting TCP proxy `flotilla chaos` puts in front of
 * every instance (see `fault-proxy.ts`), so they act on calls between services:
 * - `latency`: every chunk, each direction, delayed by `<latency>±<jitter>`.
 * - `bandwidth`: each connection carries at most `<rate>` per direction.
 * - `reset`: new connections reset at probability `p`, or every current connection at once.
 * - `blackhole`: connections accepted, never forwarded nor answered.
 * - `errors`: a share of new connections answered 503 instead of forwarded.
 */
export type NetworkFaultKind = 'latency' | 'bandwidth' | 'reset' | 'blackhole' | 'errors';

/** Every {@link NetworkFaultKind}. */
export const NETWORK_FAULT_KINDS: readonly NetworkFaultKind[] = [
  'latency',
  'bandwidth',
  'reset',
  'blackhole',
  'errors',
];

/**
 * The infrastructure faults, acting on what the services depend on rather than on the services:
 * - `nats-restart`: stops the NATS server the run started itself (`--nats-server`) for `for`, then
 *   starts it again on the same port and JetStream store.
 * - `pg-kill`: terminates every connection to a service's PostgreSQL database(s)
 *   (`pg_terminate_backend`), as a failover or an administrator would.
 * - `partition`: cuts a network namespace the system's instances run in (a host) off the network
 *   for `for` — its interfaces down, as a pulled cable — then reconnects it.
 */
export type InfraFaultKind = 'nats-restart' | 'pg-kill' | 'partition';

/** Every {@link InfraFaultKind}. */
export const INFRA_FAULT_KINDS: readonly InfraFaultKind[] = ['nats-restart', 'pg-kill', 'partition'];

/** What a process or network fault acts on: a random service, a named one, or one instance of it. */
export type ServiceFaultTarget =
  | { readonly kind: 'random' }
  | { readonly kind: 'service'; readonly service: string; readonly instance?: number };

/** What a fault acts on: a {@link ServiceFaultTarget}, or (`partition`) a network namespace. */
export type FaultTarget = ServiceFaultTarget | { readonly kind: 'netns'; readonly netns: string };

/** One process fault of a schedule, e.g. `freeze:inventory@every=15s,for=3s`. */
export interface ProcessFaultSpec {
  /** The text it was parsed from, for messages and the report. */
  readonly text: string;
  readonly kind: ProcessFaultKind;
  readonly target: ServiceFaultTarget;
  /** Mean time between two injections, in milliseconds. */
  readonly everyMs: number;
  /**
   * Each interval is `everyMs` ± up to `jitterMs`, drawn from the seeded random numbers.
   * @default everyMs / 2
   */
  readonly jitterMs: number;
  /** How long a `freeze` or `stop` lasts, in milliseconds (0 for `kill`). */
  readonly forMs: number;
}

/** One network fault of a schedule, e.g. `latency:payment=200ms±100ms@every=10s,for=5s`. */
export interface NetworkFaultSpec {
  /** The text it was parsed from, for messages and the report. */
  readonly text: string;
  readonly kind: NetworkFaultKind;
  readonly target: ServiceFaultTarget;
  /** Mean time between two injections, in milliseconds; 0 when the fault holds for the whole run. */
  readonly everyMs: number;
  /** Each interval is `everyMs` ± up to `jitterMs`. @default everyMs / 2 */
  readonly jitterMs: number;
  /** How long each injection lasts, in milliseconds; 0 for the whole run, or for a `reset` of the current connections. */
  readonly forMs: number;
  /** What the target's proxies apply while the fault holds (empty for a `reset` of the current connections). */
  readonly proxy: Partial<ProxyFaults>;
}

/** One infrastructure fault of a schedule, e.g. `nats-restart@every=20s,for=3s` or `pg-kill:order@every=10s`. */
export interface InfraFaultSpec {
  /** The text it was parsed from, for messages and the report. */
  readonly text: string;
  readonly kind: InfraFaultKind;
  /**
   * `pg-kill`: the service whose database it acts on (`random`: one of the services that have a
   * PostgreSQL database). `partition`: the network namespace it cuts off (`{ kind: 'netns' }`, or
   * `random`: one of those the instances run in). `nats-restart` has no target: it acts on the
   * run's NATS server, and this is `{ kind: 'random' }`.
   */
  readonly target: FaultTarget;
  /** Mean time between two injections, in milliseconds. */
  readonly everyMs: number;
  /** Each interval is `everyMs` ± up to `jitterMs`. @default everyMs / 2 */
  readonly jitterMs: number;
  /**
   * `nats-restart`: how long the server stays down, in milliseconds (0: started again at once);
   * `partition`: how long the namespace stays cut off. 0 for `pg-kill`.
   */
  readonly forMs: number;
}

/** One fault of a schedule. */
export type FaultSpec = ProcessFaultSpec | NetworkFaultSpec | InfraFaultSpec;

/** True when `fault` is a network fault (acts through the proxies rather than the supervisor). */
export function isNetworkFault(fault: FaultSpec): fault is NetworkFaultSpec {
  return (NETWORK_FAULT_KINDS as readonly string[]).includes(fault.kind);
}

/** True when `fault` is an infrastructure fault (acts on NATS or PostgreSQL rather than on a service). */
export function isInfraFault(fault: FaultSpec): fault is InfraFaultSpec {
  return (INFRA_FAULT_KINDS as readonly string[]).includes(fault.kind);
}

/** Raised for a fault schedule that cannot be parsed; the message names the fault and the problem. */
export class ChaosScheduleError extends FlotillaError {
  override readonly name = 'ChaosScheduleError';
  readonly retryable = false;

  constructor(
    message: string,
    /** The fault's text the problem is in, when it is about one fault. */
    readonly fault: string | undefined,
  ) {
    super('CHAOS_SCHEDULE_INVALID', message);
  }
}

/** True when `err` is a {@link ChaosScheduleError} (from any copy of this package). */
export function isChaosScheduleError(err: unknown): err is ChaosScheduleError {
  return hasFlotillaCode(err, 'CHAOS_SCHEDULE_INVALID');
}

/**
 * Parses a duration: `250ms`, `5s`, `1.5s`, `2m`. Returns milliseconds, or `undefined` when the
 * text is not a duration.
 */
export function parseDuration(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(text.trim());
  if (match === null) return undefined;
  const value = Number(match[1]);
  const unit = match[2] === 'ms' ? 1 : match[2] === 's' ? 1000 : 60_000;
  return Math.round(value * unit);
}

const PARAMS: Readonly<Record<ProcessFaultKind, readonly string[]>> = {
  kill: ['every', 'jitter'],
  freeze: ['every', 'jitter', 'for'],
  stop: ['every', 'jitter', 'for'],
};

/**
 * Parses a fault schedule: comma-separated faults `kind:target@param=value,param=value`, where a
 * `name=value` item after a fault continues its parameters. Targets are `random`, a service
 * name, or `service[N]` for one instance. Parameters: `every` (required), `jitter` (default
 * half of `every`), `for` (required by `freeze` and `stop`).
 *
 * Network faults take a value after the target (`latency:payment=200ms±100ms`,
 * `bandwidth:order=10kb`, `errors:inventory=0.2`; none for `reset` and `blackhole`). Without
 * `every` they hold for the whole run; with `every` each injection lasts `for`. `reset` takes
 * `p=<probability>` (new connections), or `every` alone to reset the current connections.
 *
 * Infrastructure faults: `nats-restart@every=<d>[,for=<d>]` takes no target (it restarts the
 * run's own NATS server, down for `for`, default 0); `pg-kill:<target>@every=<d>` terminates the
 * connections to the target service's PostgreSQL database (`random` or a service, no instance);
 * `partition:<netns>@every=<d>,for=<d>` cuts a network namespace (`random`: one the instances run
 * in) off the network for `for`.
 *
 * `services`, when given, are the system's service names: unknown targets are reported.
 *
 * @example
 * parseFaultSchedule('kill:random@every=5s,freeze:inventory@every=15s,for=3s');
 * // [{ kind: 'kill', target: { kind: 'random' }, everyMs: 5000, jitterMs: 2500, forMs: 0, … },
 * //  { kind: 'freeze', target: { kind: 'service', service: 'inventory' }, everyMs: 15000, forMs: 3000, … }]
 */
export function parseFaultSchedule(schedule: string, services?: readonly string[]): FaultSpec[] {
  const items = schedule
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (items.length === 0)
    throw new ChaosScheduleError('the fault schedule is empty; e.g. kill:random@every=5s', undefined);
  // Group items: one that is not a bare `name=value` starts a fault; the others continue it.
  const groups: string[][] = [];
  for (const item of items) {
    const continues = /^[a-z]+=/.test(item) && !item.includes(':');
    if (continues) {
      const last = groups[groups.length - 1];
      if (last === undefined)
        throw new ChaosScheduleError(
          `"${item}" is a parameter without a fault before it; write kind:target@${item}`,
          item,
        );
      last.push(item);
    } else groups.push([item]);
  }
  return groups.map((group) => parseFault(group, services));
}

function parseFault(group: readonly string[], services: readonly string[] | undefined): FaultSpec {
  const text = group.join(',');
  const fail = (message: string): never => {
    throw new ChaosScheduleError(`fault "${text}": ${message}`, text);
  };
  const [head = '', ...more] = group;
  const at = head.indexOf('@');
  const spec = at < 0 ? head : head.slice(0, at);
  const params = at < 0 ? more : [head.slice(at + 1), ...more];
  const colon = spec.indexOf(':');
  if (colon < 0 && spec === 'nats-restart')
    return parseInfraFault(text, 'nats-restart', undefined, params, services, fail);
  if (colon < 0 && spec === 'pg-kill')
    fail('needs a target: pg-kill:random@every=10s, or pg-kill:<service>@every=10s');
  if (colon < 0 && spec === 'partition')
    fail('needs a target: partition:<netns>@every=20s,for=3s, or partition:random@every=20s,for=3s');
  if (colon < 0) fail('expected kind:target, e.g. kill:random@every=5s (or nats-restart@every=20s)');
  const kindText = spec.slice(0, colon);
  const targetText = spec.slice(colon + 1);
  if ((NETWORK_FAULT_KINDS as readonly string[]).includes(kindText))
    return parseNetworkFault(text, kindText as NetworkFaultKind, targetText, params, services, fail);
  if ((INFRA_FAULT_KINDS as readonly string[]).includes(kindText))
    return parseInfraFault(text, kindText as InfraFaultKind, targetText, params, services, fail);
  if (!(PROCESS_FAULT_KINDS as readonly string[]).includes(kindText))
    fail(
      `unknown fault "${kindText}" (faults: ${[...PROCESS_FAULT_KINDS, ...NETWORK_FAULT_KINDS, ...INFRA_FAULT_KINDS].join(', ')})`,
    );
  const kind = kindText as ProcessFaultKind;
  const target = parseTarget(targetText, services, fail);

  const values = new Map<string, number>();
  for (const param of params) {
    const eq = param.indexOf('=');
    if (eq < 0) fail(`parameter "${param}" must be name=value`);
    const name = param.slice(0, eq);
    const value = param.slice(eq + 1);
    if (!PARAMS[kind].includes(name))
      fail(`unknown parameter "${name}" for ${kind} (parameters: ${PARAMS[kind].join(', ')})`);
    if (values.has(name)) fail(`parameter "${name}" is given twice`);
    const ms = parseDuration(value);
    if (ms === undefined) fail(`${name} must be a duration like 500ms, 5s or 1m, got "${value}"`);
    values.set(name, ms as number);
  }
  const everyMs = values.get('every');
  if (everyMs === undefined) return fail(`needs every=<duration>, e.g. ${kind}:${targetText}@every=5s`);
  if (everyMs < 100) fail(`every must be at least 100ms, got ${everyMs}ms`);
  const jitterMs = values.get('jitter') ?? Math.floor(everyMs / 2);
  if (jitterMs >= everyMs) fail(`jitter must be less than every (${everyMs}ms), got ${jitterMs}ms`);
  const forMs = values.get('for') ?? 0;
  if (kind !== 'kill' && !values.has('for'))
    fail(
      `needs for=<duration>: how long the ${kind === 'freeze' ? 'process stays frozen' : 'service stays stopped'}`,
    );
  if (kind !== 'kill' && forMs < 1) fail('for must be longer than 0ms');
  return { text, kind, target, everyMs, jitterMs, forMs };
}

function parseInfraFault(
  text: string,
  kind: InfraFaultKind,
  targetText: string | undefined,
  params: readonly string[],
  services: readonly string[] | undefined,
  fail: (message: string) => never,
): InfraFaultSpec {
  let target: FaultTarget = { kind: 'random' };
  if (kind === 'nats-restart') {
    if (targetText !== undefined)
      fail(
        `nats-restart takes no target: it restarts the run's own NATS server, e.g. nats-restart@every=20s,for=3s`,
      );
  } else if (kind === 'partition') {
    // A namespace, not a service: the run checks it against the namespaces of the system's instances.
    if (targetText !== 'random' && !NETNS_NAME.test(targetText ?? ''))
      fail(`target must be random or a network namespace name, got "${targetText ?? ''}"`);
    if (targetText !== 'random') target = { kind: 'netns', netns: targetText as string };
  } else {
    target = parseTarget(targetText ?? '', services, fail);
    if (target.kind === 'service' && target.instance !== undefined)
      fail(
        `pg-kill acts on a service's database, which its instances share: write pg-kill:${target.service}, not [${target.instance}]`,
      );
  }
  const allowed = kind === 'pg-kill' ? ['every', 'jitter'] : ['every', 'jitter', 'for'];
  const values = new Map<string, number>();
  for (const param of params) {
    const eq = param.indexOf('=');
    if (eq < 0) fail(`parameter "${param}" must be name=value`);
    const name = param.slice(0, eq);
    const value = param.slice(eq + 1);
    if (!allowed.includes(name))
      fail(`unknown parameter "${name}" for ${kind} (parameters: ${allowed.join(', ')})`);
    if (values.has(name)) fail(`parameter "${name}" is given twice`);
    const ms = parseDuration(value);
    if (ms === undefined) fail(`${name} must be a duration like 500ms, 5s or 1m, got "${value}"`);
    values.set(name, ms as number);
  }
  const example =
    kind === 'nats-restart'
      ? 'nats-restart@every=20s'
      : kind === 'partition'
        ? `partition:${targetText}@every=20s,for=3s`
        : `pg-kill:${targetText}@every=10s`;
  const everyMs = values.get('every');
  if (everyMs === undefined) return fail(`needs every=<duration>, e.g. ${example}`);
  if (everyMs < 100) fail(`every must be at least 100ms, got ${everyMs}ms`);
  const jitterMs = values.get('jitter') ?? Math.floor(everyMs / 2);
  if (jitterMs >= everyMs) fail(`jitter must be less than every (${everyMs}ms), got ${jitterMs}ms`);
  if (kind === 'partition' && !((values.get('for') ?? 0) >= 1))
    fail(`needs for=<duration>: how long the namespace stays cut off, e.g. ${example}`);
  return { text, kind, target, everyMs, jitterMs, forMs: values.get('for') ?? 0 };
}

/** What each network fault's `=value` means, for messages; `undefined` when it takes none. */
const NETWORK_VALUES: Readonly<Record<NetworkFaultKind, string | undefined>> = {
  latency: '<latency>[±<jitter>], e.g. 200ms±100ms',
  bandwidth: '<bytes per second> in b, kb or mb, e.g. 10kb',
  reset: undefined,
  blackhole: undefined,
  errors: '<share of new connections> in (0, 1], e.g. 0.2',
};

function parseNetworkFault(
  text: string,
  kind: NetworkFaultKind,
  targetAndValue: string,
  params: readonly string[],
  services: readonly string[] | undefined,
  fail: (message: string) => never,
): NetworkFaultSpec {
  const eqAt = targetAndValue.indexOf('=');
  const targetText = eqAt < 0 ? targetAndValue : targetAndValue.slice(0, eqAt);
  const valueText = eqAt < 0 ? undefined : targetAndValue.slice(eqAt + 1);
  const target = parseTarget(targetText, services, fail);
  const expected = NETWORK_VALUES[kind];
  if (expected === undefined && valueText !== undefined) fail(`${kind} takes no value, got "=${valueText}"`);
  if (expected !== undefined && valueText === undefined)
    fail(`needs a value: ${kind}:${targetText}=${expected}`);

  const values = new Map<string, number>();
  const allowed = kind === 'reset' ? ['every', 'jitter', 'for', 'p'] : ['every', 'jitter', 'for'];
  for (const param of params) {
    const eq = param.indexOf('=');
    if (eq < 0) fail(`parameter "${param}" must be name=value`);
    const name = param.slice(0, eq);
    const value = param.slice(eq + 1);
    if (!allowed.includes(name))
      fail(`unknown parameter "${name}" for ${kind} (parameters: ${allowed.join(', ')})`);
    if (values.has(name)) fail(`parameter "${name}" is given twice`);
    const parsed = name === 'p' ? parseShare(value) : parseDuration(value);
    if (parsed === undefined)
      fail(
        name === 'p'
          ? `p must be a probability in (0, 1], got "${value}"`
          : `${name} must be a duration like 500ms, 5s or 1m, got "${value}"`,
      );
    values.set(name, parsed as number);
  }

  let proxy: Partial<ProxyFaults> = {};
  switch (kind) {
    case 'latency': {
      const match = /^([^±+]+)(?:(?:±|\+-)(.+))?$/.exec(valueText as string);
      const latencyMs = match === null ? undefined : parseDuration(match[1] as string);
      const jitterMs = match?.[2] === undefined ? 0 : parseDuration(match[2]);
      if (latencyMs === undefined || jitterMs === undefined)
        fail(`latency must be ${expected as string}, got "${valueText}"`);
      proxy = { latencyMs: latencyMs as number, jitterMs: jitterMs as number };
      break;
    }
    case 'bandwidth': {
      const match = /^(\d+(?:\.\d+)?)(b|kb|mb)$/.exec(valueText as string);
      const rate =
        match === null ? 0 : Number(match[1]) * (match[2] === 'b' ? 1 : match[2] === 'kb' ? 1000 : 1e6);
      if (rate < 1) fail(`bandwidth must be ${expected as string} (at least 1b), got "${valueText}"`);
      proxy = { bandwidthBytesPerSecond: Math.round(rate) };
      break;
    }
    case 'errors': {
      const rate = parseShare(valueText as string);
      if (rate === undefined) fail(`errors must be ${expected as string}, got "${valueText}"`);
      proxy = { errorRate: rate as number };
      break;
    }
    case 'blackhole':
      proxy = { blackhole: true };
      break;
    case 'reset':
      break;
    default:
      kind satisfies never;
  }

  const everyMs = values.get('every');
  if (everyMs === undefined) {
    // Without `every` the fault holds from the start of the run to its end.
    for (const name of ['jitter', 'for'])
      if (values.has(name))
        fail(`${name} needs every=<duration>; without every the fault holds for the whole run`);
    if (kind === 'reset') {
      const p = values.get('p');
      if (p === undefined)
        fail(
          'needs p=<probability> (new connections reset for the whole run) or every=<duration> (current connections reset)',
        );
      proxy = { resetProbability: p as number };
    }
    return { text, kind, target, everyMs: 0, jitterMs: 0, forMs: 0, proxy };
  }
  if (everyMs < 100) fail(`every must be at least 100ms, got ${everyMs}ms`);
  const jitterMs = values.get('jitter') ?? Math.floor(everyMs / 2);
  if (jitterMs >= everyMs) fail(`jitter must be less than every (${everyMs}ms), got ${jitterMs}ms`);
  const forMs = values.get('for');
  if (kind === 'reset' && forMs === undefined) {
    if (values.has('p')) fail('p with every needs for=<duration>: how long new connections are reset');
    return { text, kind, target, everyMs, jitterMs, forMs: 0, proxy: {} };
  }
  if (forMs === undefined || forMs < 1)
    return fail(`needs for=<duration> with every: how long each ${kind} lasts`);
  if (kind === 'reset') proxy = { resetProbability: values.get('p') ?? 1 };
  return { text, kind, target, everyMs, jitterMs, forMs, proxy };
}

/** A probability or share in (0, 1], or `undefined`. */
function parseShare(text: string): number | undefined {
  if (!/^(?:0|1)?(?:\.\d+)?$/.test(text) || text === '' || text === '.') return undefined;
  const value = Number(text);
  return value > 0 && value <= 1 ? value : undefined;
}

function parseTarget(
  text: string,
  services: readonly string[] | undefined,
  fail: (message: string) => never,
): ServiceFaultTarget {
  if (text === 'random') return { kind: 'random' };
  const match = /^([a-z][a-z0-9-]*)(?:\[(\d+)\])?$/.exec(text);
  if (match === null) return fail(`target must be random, a service name or service[N], got "${text}"`);
  const service = match[1] as string;
  if (services !== undefined && !services.includes(service))
    fail(`unknown service "${service}" (services: ${services.join(', ')}, or random)`);
  return match[2] === undefined
    ? { kind: 'service', service }
    : { kind: 'service', service, instance: Number(match[2]) };
}

/** A target as the report shows it: `random`, `payment`, `order[1]`, a namespace's name. */
export function formatTarget(target: FaultTarget): string {
  if (target.kind === 'random') return 'random';
  if (target.kind === 'netns') return target.netns;
  return target.instance === undefined ? target.service : `${target.service}[${target.instance}]`;
}

/** A small seeded generator of uniform numbers in [0, 1) (mulberry32): the same seed, the same run. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
