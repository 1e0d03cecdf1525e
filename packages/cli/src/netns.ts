// Linux network namespaces through iproute2's `ip` program: which exist, their addresses, the
// sockets listening in them, and cutting one off the network and reconnecting it.
import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

const RUN_TIMEOUT_MS = 10_000;

/**
 * The absolute path of the `ip` program (iproute2): searched on `PATH`, then in the sbin
 * directories a non-login shell may leave off it. `undefined` when there is none.
 */
export function findIp(path: string | undefined = process.env.PATH): string | undefined {
  const dirs = [...(path ?? '').split(delimiter), '/usr/sbin', '/sbin', '/usr/bin', '/bin'];
  for (const dir of dirs) {
    if (dir === '') continue;
    const candidate = join(dir, 'ip');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not here.
    }
  }
  return undefined;
}

/** Runs `ip` with `args`; resolves its standard output, rejects with its standard error. */
export function runIp(ip: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(ip, args, { timeout: RUN_TIMEOUT_MS, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err === null) resolve(stdout);
      else
        reject(
          new Error(`ip ${args.join(' ')} failed: ${stderr.trim() || err.message}`, {
            cause: err,
          }),
        );
    });
  });
}

/** The names `ip netns list` shows. */
export async function listNamespaces(ip: string): Promise<string[]> {
  const out = await runIp(ip, ['netns', 'list']);
  return out
    .split('\n')
    .map((line) => line.trim().split(/\s+/)[0] ?? '')
    .filter((name) => name !== '');
}

/** The IPv4 addresses of the interfaces of network namespace `netns`. */
export async function namespaceAddresses(ip: string, netns: string): Promise<string[]> {
  const out = await runIp(ip, ['-n', netns, '-4', '-o', 'addr', 'show']);
  return [...out.matchAll(/\binet (\d+\.\d+\.\d+\.\d+)\//g)].map((m) => m[1] as string);
}

/** A socket listening for TCP connections: its local address (`0.0.0.0` and `::` for any) and port. */
export interface ListeningSocket {
  readonly address: string;
  readonly port: number;
}

/**
 * The TCP sockets listening in network namespace `netns`, read from its `/proc/net/tcp` and
 * `/proc/net/tcp6` (through `ip netns exec`, which needs root).
 */
export async function listeningSockets(ip: string, netns: string): Promise<ListeningSocket[]> {
  const read = (file: string): Promise<string> =>
    // A kernel without IPv6 has no tcp6: that is no listener rather than a failure.
    runIp(ip, ['netns', 'exec', netns, 'cat', file]).catch((err: unknown) =>
      file.endsWith('6') ? '' : Promise.reject(err),
    );
  const [v4, v6] = await Promise.all([read('/proc/net/tcp'), read('/proc/net/tcp6')]);
  return parseProcNetTcp(`${v4}\n${v6}`);
}

/** The listening sockets of `/proc/net/tcp` or `/proc/net/tcp6` text (state `0A`). */
export function parseProcNetTcp(text: string): ListeningSocket[] {
  const out: ListeningSocket[] = [];
  for (const line of text.split('\n')) {
    const fields = line.trim().split(/\s+/);
    const local = fields[1];
    if (fields[3] !== '0A' || local === undefined || !local.includes(':')) continue;
    const [hex = '', portHex = ''] = local.split(':');
    const port = Number.parseInt(portHex, 16);
    if (hex.length === 8) out.push({ address: hexToIpv4(hex), port });
    else if (hex.length === 32) {
      if (/^0+$/.test(hex)) out.push({ address: '::', port });
      // An IPv4-mapped address (::ffff:a.b.c.d): four little-endian words, the last the IPv4 one.
      else if (hex.startsWith('0000000000000000FFFF0000'))
        out.push({ address: hexToIpv4(hex.slice(24)), port });
      else out.push({ address: hex, port });
    }
  }
  return out;
}

/** `0100007F` (little-endian, as /proc shows it) → `127.0.0.1`. */
function hexToIpv4(hex: string): string {
  const bytes = [0, 2, 4, 6].map((i) => Number.parseInt(hex.slice(i, i + 2), 16));
  return bytes.reverse().join('.');
}

/** What a cut of a namespace changed, so that {@link reconnectNamespace} can undo it. */
export interface NamespaceCut {
  readonly netns: string;
  /** The interfaces it took down (every one that was up, but `lo`). */
  readonly interfaces: readonly string[];
  /** The IPv4 routes of the main table before the cut, as `ip route show` prints them. */
  readonly routes: readonly string[];
}

/**
 * Cuts network namespace `netns` off: takes every interface in it that is up (but `lo`) down, as
 * a pulled cable would. Its processes keep running and keep reaching each other over `lo`;
 * connections to and from other hosts stall, and new ones time out. Rejects when nothing was up.
 */
export async function cutNamespace(ip: string, netns: string): Promise<NamespaceCut> {
  const links = await runIp(ip, ['-n', netns, '-o', 'link', 'show']);
  const interfaces: string[] = [];
  for (const line of links.split('\n')) {
    const match = /^\d+:\s+([^:@\s]+)(?:@[^:]*)?:\s+<([^>]*)>/.exec(line);
    if (match === null) continue;
    const [, name = '', flags = ''] = match;
    if (name !== 'lo' && flags.split(',').includes('UP')) interfaces.push(name);
  }
  if (interfaces.length === 0)
    throw new Error(`network namespace "${netns}" has no interface up besides lo: nothing to cut`);
  const routes = (await runIp(ip, ['-n', netns, '-4', 'route', 'show']))
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
  const down: string[] = [];
  try {
    for (const name of interfaces) {
      await runIp(ip, ['-n', netns, 'link', 'set', 'dev', name, 'down']);
      down.push(name);
    }
  } catch (err) {
    // Half a cut is no fault anyone asked for: undo it.
    await reconnectNamespace(ip, { netns, interfaces: down, routes }).catch(() => {});
    throw err;
  }
  return { netns, interfaces, routes };
}

/** Route flags `ip route show` prints that `ip route replace` does not take. */
const ROUTE_FLAGS = new Set([
  'linkdown',
  'dead',
  'offload',
  'trap',
  'rt_offload',
  'rt_trap',
  'rt_offload_failed',
]);

/**
 * Undoes a {@link cutNamespace}: brings its interfaces up again and puts back the routes the
 * kernel dropped with them (a default route, say; the routes of the interfaces' own networks come
 * back by themselves).
 */
export async function reconnectNamespace(ip: string, cut: NamespaceCut): Promise<void> {
  for (const name of cut.interfaces) await runIp(ip, ['-n', cut.netns, 'link', 'set', 'dev', name, 'up']);
  const failures: string[] = [];
  for (const route of cut.routes) {
    const tokens = route.split(/\s+/).filter((t) => !ROUTE_FLAGS.has(t));
    try {
      await runIp(ip, ['-n', cut.netns, '-4', 'route', 'replace', ...tokens]);
    } catch (err) {
      failures.push(err instanceof Error ? err.message : String(err));
    }
  }
  if (failures.length > 0)
    throw new Error(`reconnected ${cut.netns}, but not every route came back: ${failures.join('; ')}`);
}

/** The cuts of a chaos run, which it undoes at the end whatever happened. */
export interface NamespacePartitions {
  /** The namespaces the system's instances run in: those a `partition` fault may cut. */
  readonly namespaces: readonly string[];
  /** True while `netns` is cut off. */
  isCut(netns: string): boolean;
  /** Cuts `netns` off; resolves with what it did, for the report (`flt1h2n down`). */
  cut(netns: string): Promise<string>;
  /** Reconnects `netns`; resolves with what it did, for the report. */
  reconnect(netns: string): Promise<string>;
  /** Reconnects every namespace still cut off. */
  reconnectAll(): Promise<void>;
}

/** Cuts and reconnections of `namespaces` through the `ip` program at `ip`. */
export function namespacePartitions(ip: string, namespaces: readonly string[]): NamespacePartitions {
  const cuts = new Map<string, NamespaceCut>();
  const reconnect = async (netns: string): Promise<string> => {
    const cut = cuts.get(netns);
    if (cut === undefined) return `${netns} is not cut off`;
    cuts.delete(netns);
    await reconnectNamespace(ip, cut);
    return `${cut.interfaces.join(', ')} up`;
  };
  return {
    namespaces,
    isCut: (netns) => cuts.has(netns),
    async cut(netns) {
      if (!namespaces.includes(netns))
        throw new Error(
          `no instance runs in network namespace "${netns}" (namespaces: ${namespaces.join(', ')})`,
        );
      if (cuts.has(netns)) throw new Error(`${netns} is already cut off`);
      const cut = await cutNamespace(ip, netns);
      cuts.set(netns, cut);
      return `${cut.interfaces.join(', ')} down`;
    },
    reconnect,
    async reconnectAll() {
      const errors: unknown[] = [];
      for (const netns of [...cuts.keys()]) await reconnect(netns).catch((err: unknown) => errors.push(err));
      if (errors.length > 0) throw new AggregateError(errors, 'reconnecting the cut namespaces failed');
    },
  };
}

/** Options of {@link createNamespaceHosts}. */
export interface NamespaceHostsOptions {
  /** How many hosts (network namespaces), 1 to 50. */
  readonly count: number;
  /**
   * The prefix of every name created: namespaces `<prefix>h1`…, their links `<prefix>h1r` (the
   * bridge's end) and `<prefix>h1n`, the bridge `<prefix>br`. At most 10 characters, so the link
   * names fit the kernel's 15.
   * @default `flt<pid>`
   */
  readonly prefix?: string;
  /**
   * The first three octets of the /24 network to use (`10.231.7`).
   * @default a random 10.231.x that no address or route of this namespace uses
   */
  readonly network?: string;
  /** The `ip` program. @default found on PATH or in the sbin directories */
  readonly ip?: string;
}

/** One host of {@link createNamespaceHosts}. */
export interface NamespaceHost {
  /** Its network namespace: a system file's `netns`. */
  readonly netns: string;
  /** Its address (`<network>.11`, `.12`, …): a system file's `host`. */
  readonly address: string;
  /** The bridge's end of its link, in the supervisor's namespace. */
  readonly link: string;
}

/** Hosts on one machine: network namespaces on a bridge; see {@link createNamespaceHosts}. */
export interface NamespaceHosts {
  /** The bridge the hosts' links are attached to. */
  readonly bridge: string;
  /** The /24 network, as `10.231.7.0/24`. */
  readonly network: string;
  /** The bridge's address (`<network>.1`): the supervisor's namespace on the hosts' network. */
  readonly gateway: string;
  readonly hosts: readonly NamespaceHost[];
  /** Removes every link, namespace and the bridge it created; safe to call twice. */
  remove(): Promise<void>;
}

/**
 * Why network namespaces cannot be created here (not Linux, not root, no `ip` program, or
 * `ip netns` failing), or `undefined` when they can.
 */
export async function namespaceSupport(ip: string | undefined = findIp()): Promise<string | undefined> {
  if (process.platform !== 'linux') return `network namespaces need Linux; this is ${process.platform}`;
  if (process.geteuid?.() !== 0)
    return `creating network namespaces needs root; this is uid ${process.geteuid?.()}`;
  if (ip === undefined) return 'the ip program (iproute2) is not installed';
  try {
    await listNamespaces(ip);
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

/**
 * Creates several hosts on this machine (root, Linux): `count` network namespaces, each with
 * a veth link to a bridge in this namespace, on a private /24 — the bridge `.1`, the hosts `.11`,
 * `.12`, … — so that a system's instances can be placed on them (`host`, `netns`) and reach each
 * other, and the supervisor reaches them all. Undo it with `remove()`; what was created is
 * removed as well when creating fails halfway.
 *
 * @example
 * const lab = await createNamespaceHosts({ count: 2 });
 * // services: [{ name: 'a', entry: 'a.ts', port: 7101, netns: lab.hosts[0].netns, host: lab.hosts[0].address }, …]
 * await lab.remove();
 */
export async function createNamespaceHosts(options: NamespaceHostsOptions): Promise<NamespaceHosts> {
  const ip = options.ip ?? findIp();
  if (ip === undefined) throw new Error('the ip program (iproute2) is not installed');
  const prefix = options.prefix ?? `flt${process.pid}`;
  if (!/^[a-z][a-z0-9]{0,9}$/.test(prefix))
    throw new Error(
      `prefix must be 1 to 10 lowercase letters and digits, starting with a letter, got "${prefix}"`,
    );
  if (!Number.isInteger(options.count) || options.count < 1 || options.count > 50)
    throw new Error(`count must be an integer from 1 to 50, got ${options.count}`);
  const network = options.network ?? (await unusedNetwork(ip));
  const bridge = `${prefix}br`;
  const hosts: NamespaceHost[] = Array.from({ length: options.count }, (_, k) => ({
    netns: `${prefix}h${k + 1}`,
    address: `${network}.${11 + k}`,
    link: `${prefix}h${k + 1}r`,
  }));
  const undo: (() => Promise<unknown>)[] = [];
  let removed: Promise<void> | undefined;
  const remove = (): Promise<void> => {
    removed ??= (async () => {
      const errors: unknown[] = [];
      for (const step of undo.splice(0).reverse()) await step().catch((err: unknown) => errors.push(err));
      if (errors.length > 0) throw new AggregateError(errors, `removing the hosts ${prefix}h* failed`);
    })();
    return removed;
  };
  try {
    await runIp(ip, ['link', 'add', bridge, 'type', 'bridge']);
    undo.push(() => runIp(ip, ['link', 'del', bridge]));
    await runIp(ip, ['addr', 'add', `${network}.1/24`, 'dev', bridge]);
    await runIp(ip, ['link', 'set', bridge, 'up']);
    for (const [k, host] of hosts.entries()) {
      const inside = `${prefix}h${k + 1}n`;
      await runIp(ip, ['netns', 'add', host.netns]);
      undo.push(() => runIp(ip, ['netns', 'del', host.netns]));
      await runIp(ip, ['link', 'add', host.link, 'type', 'veth', 'peer', 'name', inside]);
      // Deleting one end deletes both, at once (a namespace's links go only when nothing uses it).
      undo.push(() => runIp(ip, ['link', 'del', host.link]).catch(() => undefined));
      await runIp(ip, ['link', 'set', inside, 'netns', host.netns]);
      await runIp(ip, ['link', 'set', host.link, 'master', bridge]);
      await runIp(ip, ['link', 'set', host.link, 'up']);
      await runIp(ip, ['-n', host.netns, 'addr', 'add', `${host.address}/24`, 'dev', inside]);
      await runIp(ip, ['-n', host.netns, 'link', 'set', inside, 'up']);
      await runIp(ip, ['-n', host.netns, 'link', 'set', 'lo', 'up']);
    }
  } catch (err) {
    await remove().catch(() => {});
    throw err;
  }
  return { bridge, network: `${network}.0/24`, gateway: `${network}.1`, hosts, remove };
}

/** A random 10.231.x (x in 0–255) that no address or route of this namespace is in. */
async function unusedNetwork(ip: string): Promise<string> {
  const used = `${await runIp(ip, ['-4', '-o', 'addr', 'show'])}\n${await runIp(ip, ['-4', 'route', 'show', 'table', 'all'])}`;
  for (let attempt = 0; attempt < 32; attempt++) {
    const network = `10.231.${Math.floor(Math.random() * 256)}`;
    if (!used.includes(`${network}.`)) return network;
  }
  throw new Error('no free 10.231.x.0/24 network found');
}
