/** A node of the dependency graph: a service and the services it needs. */
export interface DependencyNode {
  readonly name: string;
  readonly dependsOn: readonly string[];
}

/** The outcome of {@link startOrder}: an order, or the first cycle found. */
export type StartOrderResult =
  | { readonly kind: 'ordered'; readonly order: readonly string[] }
  | { readonly kind: 'cycle'; readonly cycle: readonly string[] };

/**
 * Orders services so that each comes after everything it depends on, otherwise following the
 * definition order (so the table `up` prints reads like the system file). A cycle is
 * returned as the path that closes it: `['a', 'b', 'a']`. Dependencies on unknown names are
 * ignored here; validation reports them.
 */
export function startOrder(nodes: readonly DependencyNode[]): StartOrderResult {
  const byName = new Map(nodes.map((n) => [n.name, n]));
  const order: string[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const path: string[] = [];

  const visit = (name: string): readonly string[] | undefined => {
    const seen = state.get(name);
    if (seen === 'done') return undefined;
    if (seen === 'visiting') return [...path.slice(path.indexOf(name)), name];
    const node = byName.get(name);
    if (node === undefined) return undefined;
    state.set(name, 'visiting');
    path.push(name);
    for (const dep of node.dependsOn) {
      const cycle = visit(dep);
      if (cycle !== undefined) return cycle;
    }
    path.pop();
    state.set(name, 'done');
    order.push(name);
    return undefined;
  };

  for (const node of nodes) {
    const cycle = visit(node.name);
    if (cycle !== undefined) return { kind: 'cycle', cycle };
  }
  return { kind: 'ordered', order };
}
