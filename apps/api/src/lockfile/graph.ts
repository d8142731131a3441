/**
 * The dependency graph of a lockfile that records its roots (Yarn Berry's workspaces, pnpm's
 * importers) but not, or not entirely, the dev/optional flags npm writes on every entry. A package is
 * dev-only when no root reaches it without a dev edge, optional-only when no root reaches it through
 * required edges only, the way npm computes its own flags.
 */

export interface GraphEdge {
  to: string;
  optional: boolean;
  /** Only on edges from a root: a devDependency of that workspace. */
  dev?: boolean;
}

export interface DependencyGraph {
  /** Node ids of the workspaces / importers. */
  roots: string[];
  /** Node id → the registry package it installs (name@version; null for workspaces, links, folders) and its edges. */
  nodes: Map<string, { packageKey: string | null; edges: GraphEdge[] }>;
  /** False when some dependency could not be matched to a node: then no flags are derived at all. */
  complete: boolean;
}

function reach(graph: DependencyGraph, follow: (e: GraphEdge) => boolean): Set<string> {
  const seen = new Set<string>();
  const packages = new Set<string>();
  const stack = [...graph.roots];
  for (const r of graph.roots) seen.add(r);
  while (stack.length > 0) {
    const id = stack.pop()!;
    const node = graph.nodes.get(id);
    if (!node) continue;
    if (node.packageKey !== null) packages.add(node.packageKey);
    for (const e of node.edges) {
      if (!seen.has(e.to) && follow(e)) {
        seen.add(e.to);
        stack.push(e.to);
      }
    }
  }
  return packages;
}

function minus(a: Set<string>, b: Set<string>): Set<string> {
  const out = new Set<string>();
  for (const x of a) if (!b.has(x)) out.add(x);
  return out;
}

/** name@version of the packages every root reaches only through an optional edge somewhere. Empty when incomplete. */
export function optionalOnly(graph: DependencyGraph): Set<string> {
  if (!graph.complete) return new Set();
  return minus(
    reach(graph, () => true),
    reach(graph, (e) => !e.optional),
  );
}

/** name@version of the packages reached only through a root's devDependencies. Empty when incomplete. */
export function devOnly(graph: DependencyGraph): Set<string> {
  if (!graph.complete) return new Set();
  return minus(
    reach(graph, () => true),
    reach(graph, (e) => e.dev !== true),
  );
}
