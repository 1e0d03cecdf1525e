// Evaluates Kubernetes NetworkPolicies of one namespace the way the API defines them: a pod
// selected by no policy of a direction is open in it; a selected pod admits a connection when any
// rule of a policy selecting it matches the peer and the port. A connection needs both the
// sender's egress and the receiver's ingress. Peers outside the namespace (namespaceSelector,
// ipBlock) count as "outside"; that is all the shop's policies use.
import { type K8sObject, type Labels, type PolicyPeer, type PolicyRule, selects } from './manifests.js';

/** A pod as the evaluator sees it: its labels and its named container ports. */
export interface Pod {
  readonly labels: Labels;
  readonly namedPorts: Readonly<Record<string, number>>;
}

type Direction = 'Ingress' | 'Egress';

function policiesFor(policies: readonly K8sObject[], pod: Pod, direction: Direction): K8sObject[] {
  return policies.filter((p) => {
    const types = p.spec?.policyTypes ?? (p.spec?.egress !== undefined ? ['Ingress', 'Egress'] : ['Ingress']);
    return types.includes(direction) && selects(p.spec?.podSelector ?? {}, pod.labels);
  });
}

function portMatches(rule: PolicyRule, port: number, owner: Pod): boolean {
  if (rule.ports === undefined || rule.ports.length === 0) return true;
  return rule.ports.some((p) => {
    if ((p.protocol ?? 'TCP') !== 'TCP') return false;
    if (p.port === undefined) return true;
    return typeof p.port === 'number' ? p.port === port : owner.namedPorts[p.port] === port;
  });
}

/** A peer that only names pods of this namespace: a podSelector without namespaceSelector or ipBlock. */
function peerMatchesPod(peer: PolicyPeer, pod: Pod): boolean {
  return (
    peer.namespaceSelector === undefined &&
    peer.ipBlock === undefined &&
    selects(peer.podSelector, pod.labels)
  );
}

function allows(
  policies: readonly K8sObject[],
  pod: Pod,
  direction: Direction,
  peer: Pod | 'outside',
  port: number,
  portOwner: Pod,
): boolean {
  const selecting = policiesFor(policies, pod, direction);
  if (selecting.length === 0) return true;
  return selecting.some((p) =>
    (direction === 'Ingress' ? (p.spec?.ingress ?? []) : (p.spec?.egress ?? [])).some((rule) => {
      if (!portMatches(rule, port, portOwner)) return false;
      const peers = direction === 'Ingress' ? rule.from : rule.to;
      if (peers === undefined || peers.length === 0) return true;
      if (peer === 'outside')
        return peers.some((x) => x.ipBlock !== undefined || x.namespaceSelector !== undefined);
      return peers.some((x) => peerMatchesPod(x, peer));
    }),
  );
}

/** True when pod `from` may open a TCP connection to `port` of pod `to`. */
export function canConnect(policies: readonly K8sObject[], from: Pod, to: Pod, port: number): boolean {
  return allows(policies, from, 'Egress', to, port, to) && allows(policies, to, 'Ingress', from, port, to);
}

/**
 * True when the ingress policies of `to` admit pod `from` on `port`, whatever `from`'s own egress
 * allows: whom a pod lets in, including pods that no manifest here runs.
 */
export function admits(policies: readonly K8sObject[], to: Pod, from: Pod, port: number): boolean {
  return allows(policies, to, 'Ingress', from, port, to);
}

/** True when something outside the namespace (a client on the internet) may reach `port` of `to`. */
export function reachableFromOutside(policies: readonly K8sObject[], to: Pod, port: number): boolean {
  return allows(policies, to, 'Ingress', 'outside', port, to);
}

/** The pods of a workload (Deployment or StatefulSet) as the evaluator sees them. */
export function podOf(workload: K8sObject): Pod {
  const template = workload.spec?.template;
  if (template === undefined)
    throw new Error(`${workload.kind} ${workload.metadata.name} has no pod template`);
  const namedPorts: Record<string, number> = {};
  for (const c of template.spec.containers)
    for (const p of c.ports ?? []) if (p.name !== undefined) namedPorts[p.name] = p.containerPort;
  return { labels: template.metadata.labels, namedPorts };
}
