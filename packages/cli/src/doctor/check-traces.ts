import type { Finding } from './finding.js';
import type { TraceSpan } from './trace-file.js';

/** Options of {@link checkTraces}. */
export interface TraceCheckOptions {
  /** Calls from one service to another within one incoming request above which it is chatty. */
  readonly chatty: number;
  /** The traces file (or the running system's URL), named in evidence. */
  readonly file: string;
}

/**
 * What recorded traces show: synchronous chains of more than two hops (A → B → C → D), and
 * services that call another one more than `chatty` times while serving one request. No spans at
 * all is an `info` finding, so an empty source is not mistaken for a clean one.
 */
export function checkTraces(spans: readonly TraceSpan[], options: TraceCheckOptions): Finding[] {
  const children = new Map<string, TraceSpan[]>();
  const byId = new Map<string, TraceSpan>();
  for (const s of spans) {
    byId.set(`${s.traceId}/${s.spanId}`, s);
    if (s.parentSpanId !== undefined) {
      const key = `${s.traceId}/${s.parentSpanId}`;
      children.set(key, [...(children.get(key) ?? []), s]);
    }
  }
  const kids = (s: TraceSpan) => children.get(`${s.traceId}/${s.spanId}`) ?? [];
  /** Client spans a server span makes in its own service (through internal spans). */
  const outgoing = (server: TraceSpan): TraceSpan[] => {
    const out: TraceSpan[] = [];
    const stack = [...kids(server)];
    while (stack.length > 0) {
      const s = stack.pop()!;
      if (s.service !== server.service) continue;
      if (s.kind === 'client') out.push(s);
      else if (s.kind === 'internal') stack.push(...kids(s));
    }
    return out;
  };
  // Who called each server span. Usually its parent, a client span. A caller that passes its own
  // server span's id upstream (the gateway) makes the callee's server span a sibling of its client
  // span instead: that span is matched to the caller's client span for that service which started
  // last before it (a retry is another client span, and another server span).
  const callerOf = new Map<string, TraceSpan>();
  const calleesOf = new Map<string, TraceSpan[]>();
  const idOf = (s: TraceSpan) => `${s.traceId}/${s.spanId}`;
  for (const server of spans) {
    if (server.kind !== 'server' || server.parentSpanId === undefined) continue;
    const parent = byId.get(`${server.traceId}/${server.parentSpanId}`);
    if (parent === undefined || parent.service === server.service) continue;
    let caller: TraceSpan | undefined;
    if (parent.kind === 'client') caller = parent;
    else if (parent.kind === 'server' || parent.kind === 'internal') {
      const candidates = kids(parent)
        .filter(
          (k) => k.kind === 'client' && k.service === parent.service && k.peerService === server.service,
        )
        .sort((a, b) => a.startMs - b.startMs);
      caller = candidates.filter((c) => c.startMs <= server.startMs).at(-1) ?? candidates[0];
    }
    if (caller === undefined) continue;
    callerOf.set(idOf(server), caller);
    calleesOf.set(idOf(caller), [...(calleesOf.get(idOf(caller)) ?? []), server]);
  }
  const callee = (client: TraceSpan) => calleesOf.get(idOf(client))?.[0];
  const peerOf = (client: TraceSpan) => callee(client)?.service ?? client.peerService ?? '?';
  /** The longest chain of services from a server span, following calls only (events are asynchronous). */
  const longest = (server: TraceSpan, seen: Set<string>): string[] => {
    let best: string[] = [];
    for (const c of outgoing(server)) {
      const next = callee(c);
      const chain =
        next !== undefined && !seen.has(next.spanId)
          ? longest(next, new Set([...seen, next.spanId]))
          : c.peerService !== undefined
            ? [c.peerService]
            : [];
      if (chain.length > best.length) best = chain;
    }
    return [server.service, ...best];
  };

  const chains = new Map<string, { traceId: string; count: number; hops: number }>();
  const chatty = new Map<string, { traceId: string; calls: number; route: string; names: Set<string> }[]>();
  for (const server of spans) {
    if (server.kind !== 'server') continue;
    // Chains are measured from where a request enters: a server span no synchronous call leads to.
    if (!callerOf.has(idOf(server))) {
      const chain = longest(server, new Set([server.spanId]));
      if (chain.length > 3) {
        const key = chain.join(' → ');
        const known = chains.get(key);
        chains.set(key, {
          traceId: known?.traceId ?? server.traceId,
          count: (known?.count ?? 0) + 1,
          hops: chain.length - 1,
        });
      }
    }
    const perPeer = new Map<string, TraceSpan[]>();
    for (const c of outgoing(server)) perPeer.set(peerOf(c), [...(perPeer.get(peerOf(c)) ?? []), c]);
    for (const [peer, calls] of perPeer)
      if (calls.length > options.chatty) {
        const key = `${server.service} → ${peer}`;
        chatty.set(key, [
          ...(chatty.get(key) ?? []),
          {
            traceId: server.traceId,
            calls: calls.length,
            route: server.name,
            names: new Set(calls.map((c) => c.name)),
          },
        ]);
      }
  }
  const findings: Finding[] = [];
  if (spans.length === 0)
    findings.push({
      id: 'traces-empty',
      severity: 'info',
      services: [],
      message: `${options.file} holds no spans, so synchronous chains and chatty calls were not checked`,
      evidence: [{ file: options.file, detail: '0 spans' }],
      fix: 'Send requests through the system first (flotilla load), or record spans where it serves traffic.',
    });
  for (const [key, { traceId, count, hops }] of chains)
    findings.push({
      id: 'long-sync-chain',
      severity: 'warn',
      services: key.split(' → '),
      message: `a request waits on a synchronous chain of ${hops} hops: ${key} (${count} request${count === 1 ? '' : 's'})`,
      evidence: [{ file: options.file, traceId, detail: `example trace ${traceId}: ${key}` }],
      fix: 'Shorten the chain: answer from data the first service keeps (fed by events), call the last service directly from the first, or make the tail asynchronous.',
    });
  for (const [key, list] of chatty) {
    list.sort((a, b) => b.calls - a.calls);
    const worst = list[0]!;
    const [from, to] = key.split(' → ') as [string, string];
    findings.push({
      id: 'chatty-calls',
      severity: 'warn',
      services: [from, to],
      message: `${key}: up to ${worst.calls} calls within one request (more than ${options.chatty}) in ${list.length} request${list.length === 1 ? '' : 's'}`,
      evidence: list.slice(0, 3).map((w) => ({
        file: options.file,
        traceId: w.traceId,
        service: from,
        detail: `${w.route}: ${w.calls} calls (${[...w.names].slice(0, 3).join(', ')})`,
      })),
      fix: `Batch the calls (one request for many ids), or keep the data ${from} needs from ${to} locally, fed by ${to}'s events.`,
    });
  }
  return findings;
}
