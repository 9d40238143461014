import type { Trace, TraceStep } from '../engine/trace/trace.js'
import { stripControl } from './sanitize.js'
import { MISMATCH_WORDS } from './text.js'

/**
 * The picture of a trace that the diagram renderers (mermaid, dot) draw: the classic sidecar figure
 * (app container → iptables → Envoy listener → … → endpoint), as nodes, edges and nested groups.
 * Every label line is already stripped of control characters and shortened; the renderers only escape.
 */
export interface PathGraph {
  groups: PathGroup[]
  nodes: PathNode[]
  edges: PathEdge[]
}

/** A box around nodes: a pod, or the iptables / Envoy part of a pod. */
export interface PathGroup {
  id: string
  label: string
  /** The enclosing group, if nested. */
  parent?: string
}

/** How a node is painted. */
export type PathTone = 'source' | 'matched' | 'passed' | 'failed' | 'unresolved' | 'rejected' | 'note' | 'ok' | 'bad' | 'unknown'

/** One box of the diagram. */
export interface PathNode {
  id: string
  /** Label lines, plain text (the renderer escapes and joins them). */
  lines: string[]
  tone: PathTone
  /** The group the node sits in; none = top level. */
  group?: string
  /** The step node a rejected / note node hangs off (drawn beside it). */
  beside?: string
}

/** An arrow: `path` is the request's way, `rejected` a near miss, `note` an annotation. */
export interface PathEdge {
  from: string
  to: string
  kind: 'path' | 'rejected' | 'note'
}

/** Options for the diagram renderers. */
export interface PathGraphOptions {
  /** Rejected candidates drawn per step before a "+N more" node (default 3). */
  maxRejected?: number
  /** Longest label line, in characters (default 48). */
  maxLine?: number
}

const STAGE_WORDS: Record<TraceStep['stage'], string> = {
  iptables: 'iptables',
  listener: 'listener',
  filter_chain: 'filter chain',
  network_filter: 'network filter',
  route_config: 'route config',
  virtual_host: 'virtual host',
  route: 'route',
  cluster: 'cluster',
  endpoint: 'endpoint',
  stats: 'stats',
  hop: 'next hop',
}

const OUTCOME_WORDS: Record<TraceStep['outcome'], string> = {
  matched: 'matched',
  passed: 'passed',
  dropped: 'dropped',
  no_match: 'no match',
  unresolved: 'unresolved',
}

/** Builds the diagram model of a trace. Pure. */
export function buildPathGraph(trace: Trace, options: PathGraphOptions = {}): PathGraph {
  const maxRejected = options.maxRejected ?? 3
  const maxLine = options.maxLine ?? 48
  const clip = (s: string): string => clipLine(s, maxLine)
  const groups: PathGroup[] = []
  const nodes: PathNode[] = []
  const edges: PathEdge[] = []
  const r = trace.request

  let pod = 0
  const podGroup = (label: string): string => {
    const id = `pod${pod}`
    groups.push({ id, label: clip(label) })
    return id
  }
  let currentPod = r.direction === 'outbound' ? podGroup(`pod ${r.source.pod ?? '(source)'}`) : podGroup(`pod ${r.destination.ip ?? r.destination.host ?? '(this pod)'}`)
  const part = (kind: 'net' | 'envoy'): string => {
    const id = `${currentPod}_${kind}`
    if (!groups.some((g) => g.id === id)) groups.push({ id, label: kind === 'net' ? 'iptables (netfilter)' : 'sidecar (Envoy)', parent: currentPod })
    return id
  }

  const what = r.protocol === 'tcp'
    ? `tcp://${hostPort(r.destination.host ?? r.destination.ip ?? '?', r.destination.port)}`
    : `${r.method ?? 'GET'} ${hostPort(r.destination.host ?? r.destination.ip ?? '', r.destination.port)}${r.path ?? '/'}`
  const sourceLines = r.direction === 'outbound'
    ? ['app container', what, r.source.uid !== null ? `uid ${r.source.uid}` : (r.source.ip ?? '')]
    : [`peer ${r.source.ip ?? '(unknown)'}`, what, 'inbound']
  nodes.push({ id: 'src', lines: sourceLines.filter((l) => l !== '').map(clip), tone: 'source', ...(r.direction === 'outbound' ? { group: currentPod } : {}) })

  let previous = 'src'
  trace.steps.forEach((step, i) => {
    const id = `s${i + 1}`
    if (step.stage === 'stats') {
      nodes.push({ id, lines: [`${i + 1}. stats`, clip(step.summary)], tone: 'note', beside: previous, ...groupOf(nodes, previous) })
      edges.push({ from: previous, to: id, kind: 'note' })
      return
    }
    let group: string | undefined
    if (step.stage === 'hop') {
      group = undefined
    } else {
      group = part(step.stage === 'iptables' ? 'net' : 'envoy')
    }
    nodes.push({ id, lines: stepLines(step, i, clip), tone: stepTone(step), ...(group !== undefined ? { group } : {}) })
    edges.push({ from: previous, to: id, kind: 'path' })
    step.rejected.slice(0, maxRejected).forEach((alt, k) => {
      const rid = `${id}_r${k}`
      const words = MISMATCH_WORDS[alt.reason] ?? alt.reason
      nodes.push({ id: rid, lines: [clip(`✗ ${alt.candidate.kind} ${alt.candidate.name}`), clip(words)], tone: 'rejected', beside: id, ...(group !== undefined ? { group } : {}) })
      edges.push({ from: id, to: rid, kind: 'rejected' })
    })
    if (step.rejected.length > maxRejected) {
      const mid = `${id}_more`
      nodes.push({ id: mid, lines: [`+${step.rejected.length - maxRejected} more rejected`], tone: 'rejected', beside: id, ...(group !== undefined ? { group } : {}) })
      edges.push({ from: id, to: mid, kind: 'rejected' })
    }
    previous = id
    if (step.stage === 'hop') {
      pod += 1
      const next = typeof step.decision.pod === 'string' ? step.decision.pod : step.chosen?.name ?? `next pod ${pod}`
      currentPod = podGroup(`pod ${next}`)
    }
  })

  const res = trace.result
  const resultLines = [`result: ${res.outcome.replace(/_/g, ' ')}`]
  if (res.endpoints !== null && res.endpoints.length > 0) {
    const shown = res.endpoints.slice(0, maxRejected).join(', ')
    resultLines.push(clip(res.endpoints.length > maxRejected ? `${shown} +${res.endpoints.length - maxRejected} more` : shown))
  } else if (res.cluster !== null) {
    resultLines.push(clip(res.cluster))
  } else if (res.intercepted === false) {
    resultLines.push(clip(`straight to ${hostPort(r.destination.ip ?? r.destination.host ?? '?', r.destination.port)}`))
  }
  nodes.push({ id: 'result', lines: resultLines, tone: resultTone(res.outcome) })
  edges.push({ from: previous, to: 'result', kind: 'path' })

  return { groups: groups.filter((g) => nodes.some((n) => n.group === g.id || groups.some((c) => c.parent === g.id && nodes.some((m) => m.group === c.id)))), nodes, edges }
}

function groupOf(nodes: PathNode[], id: string): { group?: string } {
  const g = nodes.find((n) => n.id === id)?.group
  return g === undefined ? {} : { group: g }
}

function stepLines(step: TraceStep, i: number, clip: (s: string) => string): string[] {
  const lines = [`${i + 1}. ${STAGE_WORDS[step.stage]}${step.outcome === 'matched' ? '' : ` (${OUTCOME_WORDS[step.outcome]})`}`]
  const d = step.decision
  const chainPath = Array.isArray(d.chainPath) && d.chainPath.every((c) => typeof c === 'string') ? (d.chainPath as string[]) : undefined
  if (step.stage === 'iptables' && chainPath !== undefined) {
    lines.push(clip(`${typeof d.table === 'string' ? `${d.table}: ` : ''}${chainPath.join(' → ')}`))
    const target = typeof d.target === 'string' ? d.target : undefined
    const port = typeof d.toPort === 'number' || typeof d.toPort === 'string' ? d.toPort : undefined
    if (target !== undefined) lines.push(clip(`${target}${port !== undefined ? ` :${port}` : ''}`))
  } else if (step.chosen !== undefined) {
    lines.push(clip(step.chosen.name))
    const from = typeof d.handOffFrom === 'string' ? d.handOffFrom : d.handOff === true && typeof d.from === 'string' ? d.from : undefined
    if (from !== undefined) lines.push(clip(`hand-off from ${from}`))
  } else {
    lines.push(clip(step.summary))
  }
  const loud = step.findings.filter((f) => f.level !== 'info')
  if (loud.length > 0) lines.push(clip(`⚠ ${loud[0].code}${loud.length > 1 ? ` +${loud.length - 1}` : ''}`))
  return lines
}

function stepTone(step: TraceStep): PathTone {
  switch (step.outcome) {
    case 'matched':
      return 'matched'
    case 'passed':
      return 'passed'
    case 'unresolved':
      return 'unresolved'
    default:
      return 'failed'
  }
}

function resultTone(outcome: Trace['result']['outcome']): PathTone {
  if (outcome === 'forwarded' || outcome === 'passthrough' || outcome === 'direct_response' || outcome === 'redirect') return 'ok'
  if (outcome === 'unknown' || outcome === 'not_intercepted') return 'unknown'
  return 'bad'
}

function hostPort(host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`
}

/**
 * One label line: control characters removed, line and paragraph separators and bidi overrides dropped
 * (they would reorder or break the drawn text), then cut to `max` characters.
 */
export function clipLine(s: string, max: number): string {
  const clean = stripControl(s.slice(0, max * 8 + 64), max * 8)
    .replace(/[\u2028\u2029\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]/g, '')
    .replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '')
  const chars = Array.from(clean)
  return chars.length > max ? `${chars.slice(0, max - 1).join('')}…` : clean
}
