import type { Alternative, ConfigRef, Evidence, SourceRef, TraceStep } from '../engine/trace/trace.js'
import { MISMATCH_WORDS } from '../render/text.js'
import { stripControl } from '../render/sanitize.js'

/** How a line of the step detail is painted. */
export type LineTone = 'title' | 'text' | 'section' | 'dim' | 'ok' | 'bad' | 'warn' | 'info' | 'code'

/** One line of the step detail panel (logical, or after wrapping to the panel's width). */
export interface DetailLine {
  /** Stable identity (survives re-wrapping): search and the cursor use it. */
  key: string
  text: string
  tone: LineTone
  /** Leading spaces the panel adds before the text. */
  indent: number
  /** Set on the header line of a rejected candidate: its index, which Enter expands or collapses. */
  toggle?: number
}

/**
 * Text from a trace, safe to draw in the terminal: control characters and escape sequences removed
 * (`stripControl`), tabs turned into spaces (a tab would jump columns and break the layout), bidi
 * overrides dropped.
 */
export function cleanText(s: string, maxLength?: number): string {
  return stripControl(s, maxLength).replace(/\t/g, ' ').replace(/[\u202a-\u202e\u2066-\u2069]/g, '')
}

/** The marks the step list and the detail use for each outcome. */
export const OUTCOME_MARKS: Record<TraceStep['outcome'], string> = {
  matched: '✓',
  passed: '→',
  dropped: '✗',
  no_match: '✗',
  unresolved: '?',
}

/** The tone of an outcome mark. */
export function outcomeTone(outcome: TraceStep['outcome']): LineTone {
  return outcome === 'matched' ? 'ok' : outcome === 'passed' ? 'info' : outcome === 'unresolved' ? 'warn' : 'bad'
}

/**
 * The detail of one step as lines: title and summary, chosen object and its source, evidence,
 * rejected candidates (one head line each; evidence, source and excerpt when expanded), findings,
 * decision facts, and the chosen object's raw excerpt (JSON pretty-printed). Every string is cleaned.
 */
export function buildDetailLines(step: TraceStep, index: number, total: number, expanded: ReadonlySet<number>): DetailLine[] {
  const lines: DetailLine[] = []
  const add = (key: string, text: string, tone: LineTone, indent = 0, toggle?: number): void => {
    lines.push(toggle === undefined ? { key, text, tone, indent } : { key, text, tone, indent, toggle })
  }
  add('title', cleanText(`${index + 1}/${total}  ${step.stage} · ${step.outcome.replace('_', ' ')} ${OUTCOME_MARKS[step.outcome] ?? '?'}`), 'title')
  add('summary', cleanText(step.summary), 'text')

  if (step.chosen !== undefined) {
    add('gap:chosen', '', 'text')
    add('chosen', `chosen  ${cleanText(`${step.chosen.kind} ${step.chosen.name}`)}`, 'text')
    add('source', `source  ${sourceText(step.chosen.source)}`, 'dim')
  }
  if (step.evidence.length > 0) {
    add('gap:evidence', '', 'text')
    add('evidence', 'evidence', 'section')
    step.evidence.forEach((e, i) => add(`evidence:${i}`, `✓ ${evidenceText(e)}`, 'ok', 2))
  }
  if (step.rejected.length > 0) {
    add('gap:rejected', '', 'text')
    add('rejected', `rejected (${step.rejected.length})  ⏎ expands`, 'section')
    step.rejected.forEach((alt, i) => {
      const open = expanded.has(i)
      add(`rejected:${i}`, `${open ? '▾' : '▸'} ✗ ${alternativeHead(alt)}`, 'bad', 2, i)
      if (!open) return
      alt.evidence.forEach((e, k) => add(`rejected:${i}:evidence:${k}`, evidenceText(e), 'text', 6))
      if (alt.evidence.length === 0) add(`rejected:${i}:evidence`, cleanText(MISMATCH_WORDS[alt.reason] ?? alt.reason), 'text', 6)
      add(`rejected:${i}:source`, `source  ${sourceText(alt.candidate.source)}`, 'dim', 6)
      excerptLines(alt.candidate).forEach((l, k) => add(`rejected:${i}:excerpt:${k}`, l, 'code', 6))
    })
  }
  if (step.findings.length > 0) {
    add('gap:findings', '', 'text')
    add('findings', 'findings', 'section')
    step.findings.forEach((f, i) => {
      const tone: LineTone = f.level === 'error' ? 'bad' : f.level === 'warning' ? 'warn' : 'info'
      add(`finding:${i}`, `${f.level === 'info' ? 'note' : f.level} [${cleanText(f.code)}] ${cleanText(f.message)}`, tone, 2)
    })
  }
  const facts = decisionFacts(step.decision)
  if (facts.length > 0) {
    add('gap:decision', '', 'text')
    add('decision', 'decision', 'section')
    facts.forEach((f, i) => add(`decision:${i}`, f, 'text', 2))
  }
  if (step.chosen !== undefined) {
    const excerpt = excerptLines(step.chosen)
    if (excerpt.length > 0) {
      add('gap:excerpt', '', 'text')
      add('excerpt', 'excerpt', 'section')
      excerpt.forEach((l, i) => add(`excerpt:${i}`, l, 'code', 2))
    }
  }
  return lines
}

/** The rejected candidate's one-line head: kind, name, rule line, reason in words. */
export function alternativeHead(alt: Alternative): string {
  const where = alt.candidate.source.line !== undefined ? ` (line ${alt.candidate.source.line})` : ''
  return `${cleanText(`${alt.candidate.kind} ${alt.candidate.name}`)}${where} — ${MISMATCH_WORDS[alt.reason] ?? cleanText(alt.reason)}`
}

function evidenceText(e: Evidence): string {
  return `${cleanText(e.field)}: expected ${cleanText(e.expected)}, got ${cleanText(e.actual)}`
}

function sourceText(src: SourceRef): string {
  const where = src.line !== undefined ? `:${src.line}` : src.pointer !== undefined ? ` ${src.pointer}` : ''
  return cleanText(`${src.file}${where}`)
}

/** Decision facts as `key  value` lines: arrays joined with →, objects as compact JSON. */
function decisionFacts(decision: Record<string, unknown>): string[] {
  return Object.entries(decision).map(([k, v]) => {
    const value = Array.isArray(v) && v.every((x) => typeof x === 'string' || typeof x === 'number')
      ? v.join(' → ')
      : typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' || v === null
        ? String(v)
        : JSON.stringify(v)
    return cleanText(`${k}: ${value}`)
  })
}

/** A config object's excerpt as lines: JSON is pretty-printed, anything else (a rule line) kept as is. */
function excerptLines(ref: ConfigRef): string[] {
  const raw = ref.excerpt
  if (raw === undefined || raw.trim() === '') return []
  let text = raw
  const trimmed = raw.trim()
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
    try {
      text = JSON.stringify(JSON.parse(trimmed), null, 2)
    } catch {
      text = raw
    }
  }
  return text.split('\n').slice(0, 400).map((l) => cleanText(l))
}

/**
 * Wraps lines to a panel width: long lines break at a space when one is near the end, else hard;
 * continuation lines are indented two more. Keys get `#n` for the n-th piece.
 */
export function wrapDetailLines(lines: readonly DetailLine[], width: number): DetailLine[] {
  const out: DetailLine[] = []
  for (const line of lines) {
    const { toggle, ...rest } = line
    let chars = Array.from(line.text)
    let indent = line.indent
    let piece = 0
    do {
      const room = Math.max(8, width - indent)
      let cut = chars.length
      if (chars.length > room) {
        cut = room
        const space = chars.lastIndexOf(' ', room)
        if (space > room * 0.6) cut = space + 1
      }
      const text = chars.slice(0, cut).join('')
      const wrapped: DetailLine = { ...rest, key: piece === 0 ? line.key : `${line.key}#${piece}`, text: cut < chars.length ? text.trimEnd() : text, indent }
      // Only the first piece of a rejected head toggles; the cursor lands on it.
      if (piece === 0 && toggle !== undefined) wrapped.toggle = toggle
      out.push(wrapped)
      chars = chars.slice(cut)
      indent = line.indent + 2
      piece += 1
    } while (chars.length > 0)
  }
  return out
}

/** Indices of the lines whose text contains the query (case-insensitive). */
export function findMatches(lines: readonly DetailLine[], query: string): number[] {
  if (query === '') return []
  const q = query.toLowerCase()
  const hits: number[] = []
  lines.forEach((l, i) => {
    if (l.text.toLowerCase().includes(q)) hits.push(i)
  })
  return hits
}

/** Rejected candidates of a step whose expanded lines contain the query, so a search can open them. */
export function rejectedMatching(step: TraceStep, query: string): number[] {
  if (query === '') return []
  const all = new Set(step.rejected.map((_, i) => i))
  const q = query.toLowerCase()
  const hits = new Set<number>()
  for (const line of buildDetailLines(step, 0, 1, all)) {
    const m = /^rejected:(\d+):/.exec(line.key)
    if (m !== null && line.text.toLowerCase().includes(q)) hits.add(Number(m[1]))
  }
  return [...hits]
}
