import type { Trace } from '../engine/trace/trace.js'
import { buildPathGraph, type PathGraph, type PathGraphOptions, type PathNode, type PathTone } from './path-graph.js'

/** Fill, stroke and text colour per tone; rejected near misses are dimmed and dashed. */
const MERMAID_CLASSES: Record<PathTone, string> = {
  source: 'fill:#f3e5f5,stroke:#6a1b9a,color:#4a148c',
  matched: 'fill:#e8f5e9,stroke:#2e7d32,color:#1b5e20',
  passed: 'fill:#e3f2fd,stroke:#1565c0,color:#0d47a1',
  failed: 'fill:#ffebee,stroke:#c62828,color:#b71c1c',
  unresolved: 'fill:#fff8e1,stroke:#f9a825,color:#795548',
  rejected: 'fill:#fafafa,stroke:#bdbdbd,color:#9e9e9e,stroke-dasharray:4 4',
  note: 'fill:#ffffff,stroke:#9e9e9e,color:#616161,stroke-dasharray:2 2',
  ok: 'fill:#2e7d32,stroke:#1b5e20,color:#ffffff',
  bad: 'fill:#c62828,stroke:#b71c1c,color:#ffffff',
  unknown: 'fill:#f9a825,stroke:#f57f17,color:#000000',
}

/**
 * Renders a trace as a Mermaid flowchart: the path through the pod (app container, iptables, the
 * Envoy sidecar) top to bottom, near misses dimmed beside the step that rejected them (at most three
 * per step, then "+N more"), steps and the result coloured by outcome. Labels are escaped with
 * Mermaid entity codes (`#34;`), so no name from a config can end a label or add syntax.
 *
 *   flowchart TB
 *     subgraph pod0["pod default/reviews-v1-cb8655c75-b97zc"]
 *       src["app container<br/>GET ratings:9080/ratings/0<br/>uid 1000"]
 *       subgraph pod0_net["iptables (netfilter)"]
 *         s1["1. iptables<br/>nat: OUTPUT → ISTIO_OUTPUT → ISTIO_REDIRECT<br/>REDIRECT :15001"]
 *         s1_r0["✗ rule ISTIO_OUTPUT #35;1<br/>outgoing interface differs"]
 *   …
 *     src --> s1
 *     s1 -.-> s1_r0
 */
export function renderTraceMermaid(trace: Trace, options: PathGraphOptions = {}): string {
  return renderGraphMermaid(buildPathGraph(trace, options))
}

function renderGraphMermaid(graph: PathGraph): string {
  const out: string[] = ['flowchart TB']
  const emitGroup = (parent: string | undefined, depth: number): void => {
    const pad = '  '.repeat(depth)
    const nodeLines = graph.nodes.filter((n) => n.group === parent).map((node) => `${pad}${nodeLine(node)}`)
    // Inside a pod the app container comes first; at the top level the pods come before the hops and the result.
    if (parent !== undefined) out.push(...nodeLines)
    for (const g of graph.groups.filter((x) => x.parent === parent)) {
      out.push(`${pad}subgraph ${g.id}["${escapeMermaid(g.label)}"]`)
      out.push(`${pad}  direction TB`)
      emitGroup(g.id, depth + 1)
      out.push(`${pad}end`)
    }
    if (parent === undefined) out.push(...nodeLines)
  }
  emitGroup(undefined, 1)
  for (const e of graph.edges) out.push(`  ${e.from} ${e.kind === 'path' ? '-->' : '-.->'} ${e.to}`)
  const used = new Set(graph.nodes.map((n) => n.tone))
  for (const [tone, style] of Object.entries(MERMAID_CLASSES)) {
    if (!used.has(tone as PathTone)) continue
    out.push(`  classDef ${tone} ${style}`)
    out.push(`  class ${graph.nodes.filter((n) => n.tone === tone).map((n) => n.id).join(',')} ${tone}`)
  }
  return out.join('\n')
}

function nodeLine(node: PathNode): string {
  const label = node.lines.map(escapeMermaid).join('<br/>')
  return node.id === 'result' ? `${node.id}(["${label}"])` : `${node.id}["${label}"]`
}

/**
 * Escapes one label line for a double-quoted Mermaid label: everything but letters, digits, space and
 * harmless punctuation becomes an entity code (`"` → `#34;`, `#` → `#35;`, `<` → `#60;`), so a label
 * can neither close its quotes nor open HTML; non-ASCII text (→, ✓, names) stays readable.
 */
export function escapeMermaid(s: string): string {
  return s.replace(/[^A-Za-z0-9 .,:/_()+*=@!?$%'~^\-\u{a0}-\u{10ffff}]/gu, (c) => `#${c.codePointAt(0)};`).replace(/-(?=-)/g, '#45;')
}
