import type { Trace } from '../engine/trace/trace.js'
import { buildPathGraph, clipLine, type PathGraph, type PathGraphOptions, type PathNode, type PathTone } from './path-graph.js'

interface DotStyle {
  fill: string
  stroke: string
  font: string
  style: string
}

const DOT_STYLES: Record<PathTone, DotStyle> = {
  source: { fill: '#f3e5f5', stroke: '#6a1b9a', font: '#4a148c', style: 'rounded,filled' },
  matched: { fill: '#e8f5e9', stroke: '#2e7d32', font: '#1b5e20', style: 'rounded,filled' },
  passed: { fill: '#e3f2fd', stroke: '#1565c0', font: '#0d47a1', style: 'rounded,filled' },
  failed: { fill: '#ffebee', stroke: '#c62828', font: '#b71c1c', style: 'rounded,filled,bold' },
  unresolved: { fill: '#fff8e1', stroke: '#f9a825', font: '#795548', style: 'rounded,filled' },
  rejected: { fill: '#fafafa', stroke: '#bdbdbd', font: '#9e9e9e', style: 'rounded,filled,dashed' },
  note: { fill: '#ffffff', stroke: '#9e9e9e', font: '#616161', style: 'rounded,filled,dotted' },
  ok: { fill: '#2e7d32', stroke: '#1b5e20', font: '#ffffff', style: 'rounded,filled' },
  bad: { fill: '#c62828', stroke: '#b71c1c', font: '#ffffff', style: 'rounded,filled' },
  unknown: { fill: '#f9a825', stroke: '#f57f17', font: '#000000', style: 'rounded,filled' },
}

/**
 * Renders a trace as a Graphviz DOT digraph (`… -o dot | dot -Tsvg > trace.svg`): the path through the
 * pod top to bottom in nested clusters (pod → iptables │ Envoy sidecar), each near miss dimmed and
 * dashed on the same rank as the step that rejected it (at most three, then "+N more"), steps and the
 * result coloured by outcome. Labels are quoted with `\"`, `\\` and `&amp;` escaped, so a hostile name stays text.
 *
 *   digraph mesh_trace {
 *     graph [rankdir=TB, fontname="Helvetica", fontsize=10, label="GET ratings:9080/ratings/0 → forwarded", labelloc=t];
 *     subgraph cluster_pod0 {
 *       label="pod default/reviews-v1-cb8655c75-b97zc";
 *       src [label="app container\nGET ratings:9080/ratings/0\nuid 1000", fillcolor="#f3e5f5", …];
 *       subgraph cluster_pod0_net {
 *         label="iptables (netfilter)";
 *         s1 [label="1. iptables\nnat: OUTPUT → ISTIO_OUTPUT → ISTIO_REDIRECT\nREDIRECT :15001", fillcolor="#e8f5e9", …];
 *   …
 *     src -> s1;
 *     s1 -> s1_r0 [style=dashed, color="#bdbdbd", arrowhead=none];
 */
export function renderTraceDot(trace: Trace, options: PathGraphOptions = {}): string {
  const r = trace.request
  const what = r.protocol === 'tcp'
    ? `tcp://${r.destination.host ?? r.destination.ip ?? '?'}:${r.destination.port}`
    : `${r.method ?? 'GET'} ${r.destination.host ?? r.destination.ip ?? ''}:${r.destination.port}${r.path ?? '/'}`
  const title = clipLine(`${what} → ${trace.result.outcome.replace(/_/g, ' ')}`, 96)
  return renderGraphDot(buildPathGraph(trace, options), title)
}

function renderGraphDot(graph: PathGraph, title: string): string {
  const out: string[] = [
    'digraph mesh_trace {',
    `  graph [rankdir=TB, fontname="Helvetica", fontsize=10, label=${quoteDot(title)}, labelloc=t, nodesep=0.25, ranksep=0.3];`,
    '  node [shape=box, fontname="Helvetica", fontsize=10, margin="0.12,0.05"];',
    '  edge [color="#424242", arrowsize=0.7];',
  ]
  const emitGroup = (parent: string | undefined, depth: number): void => {
    const pad = '  '.repeat(depth)
    const here = graph.nodes.filter((n) => n.group === parent)
    const own = here.map((node) => `${pad}${nodeLine(node)}`)
    // Near misses (and notes) sit on the same rank as their step, beside the path.
    const anchors = [...new Set(here.filter((n) => n.beside !== undefined).map((n) => n.beside as string))]
    for (const anchor of anchors) {
      const row = [anchor, ...here.filter((n) => n.beside === anchor).map((n) => n.id)]
      own.push(`${pad}{ rank=same; ${row.join('; ')}; }`)
    }
    // Inside a pod the app container comes first; at the top level the pods come before the hops and the result.
    if (parent !== undefined) out.push(...own)
    for (const g of graph.groups.filter((x) => x.parent === parent)) {
      out.push(`${pad}subgraph cluster_${g.id} {`)
      out.push(`${pad}  label=${quoteDot(g.label)}; style="rounded"; color="#9e9e9e"; fontcolor="#424242";`)
      emitGroup(g.id, depth + 1)
      out.push(`${pad}}`)
    }
    if (parent === undefined) out.push(...own)
  }
  emitGroup(undefined, 1)
  // A step's near misses are drawn as one dashed row beside it (step - r0 - r1 - …), which keeps them
  // in order and avoids arcs over each other.
  const lastInRow = new Map<string, string>()
  for (const e of graph.edges) {
    if (e.kind === 'path') out.push(`  ${e.from} -> ${e.to};`)
    else if (e.kind === 'rejected') {
      const from = lastInRow.get(e.from) ?? e.from
      lastInRow.set(e.from, e.to)
      out.push(`  ${from} -> ${e.to} [style=dashed, color="#bdbdbd", arrowhead=none];`)
    } else out.push(`  ${e.from} -> ${e.to} [style=dotted, color="#9e9e9e", arrowhead=none];`)
  }
  out.push('}')
  return out.join('\n')
}

function nodeLine(node: PathNode): string {
  const s = DOT_STYLES[node.tone]
  const label = node.lines.map(escapeDot).join('\\n')
  return `${node.id} [label="${label}", style="${s.style}", fillcolor="${s.fill}", color="${s.stroke}", fontcolor="${s.font}"];`
}

function quoteDot(s: string): string {
  return `"${escapeDot(s)}"`
}

/**
 * Escapes one label line for a double-quoted DOT string: `\` → `\\` (so `\n`, `\N`, `\l` in a name
 * stay text), `"` → `\"`, and `&` → `&amp;` (Graphviz would otherwise read `&lt;` as an entity).
 */
export function escapeDot(s: string): string {
  return s.replace(/[\\"&]/g, (c) => (c === '\\' ? '\\\\' : c === '"' ? '\\"' : '&amp;'))
}
