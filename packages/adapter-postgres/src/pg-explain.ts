import type { QueryPlan } from '@berth/core';

/** One node of `EXPLAIN (FORMAT JSON)`. */
interface PlanNode {
  readonly 'Node Type'?: string;
  readonly 'Index Name'?: string;
  readonly 'Relation Name'?: string;
  readonly Plans?: readonly PlanNode[];
}

function walk(node: PlanNode, visit: (node: PlanNode) => void): void {
  visit(node);
  for (const child of node.Plans ?? []) walk(child, visit);
}

/** One line per node, indented by depth: `Limit > Index Scan using "users.email"`. */
function describe(node: PlanNode, depth = 0): string[] {
  const type = node['Node Type'] ?? '?';
  const on = node['Index Name'] === undefined ? '' : ` using ${node['Index Name']}`;
  return [`${'  '.repeat(depth)}${type}${on}`, ...(node.Plans ?? []).flatMap((child) => describe(child, depth + 1))];
}

/**
 * Reads PostgreSQL's own plan (EXPLAIN (FORMAT JSON) of the query as it
 * runs): an index scan (plain, index-only or bitmap) names the index Berth
 * created (`users.email`, or `primary key` for the id); anything else is a scan.
 */
export function explainPlan(raw: unknown, collection: string): QueryPlan {
  const parsed = (typeof raw === 'string' ? JSON.parse(raw) : raw) as readonly { Plan: PlanNode }[];
  const root = parsed[0]?.Plan ?? {};
  const indexes: string[] = [];
  walk(root, (node) => {
    if (node['Index Name'] !== undefined) indexes.push(node['Index Name']);
  });
  const detail = describe(root).join('\n');
  const [index] = indexes;
  if (index === undefined) return { strategy: 'scan', detail };
  const primaryKey =
    index.endsWith('_pkey') && !index.startsWith(`${collection}.`) && !index.startsWith(`${collection}(`);
  return { strategy: 'index', index: primaryKey ? 'primary key' : index, detail };
}
