import type { Key } from 'ink'
import type { Request } from '../engine/trace/request.js'
import type { Trace } from '../engine/trace/trace.js'
import { buildDetailLines, findMatches, rejectedMatching, wrapDetailLines, type DetailLine } from './detail-lines.js'
import { editLine } from './line-edit.js'
import { formFromRequest, formRows, requestFromForm, setFormRow, type RequestForm } from './request-form.js'

/** Re-traces a request on the same snapshot (the engine is pure, so this is instant). */
export type Retrace = (request: Request) => Trace

/** What the keys do right now. */
export type ExplorerMode = 'browse' | 'edit' | 'search' | 'help'

/** The request editor's state while `e` is open. */
export interface EditorState {
  form: RequestForm
  /** Index into formRows(form). */
  row: number
  caret: number
  /** The last apply's error, shown inline. */
  error: string | null
}

/** Sizes the state machine needs to scroll: the detail panel's width and the body's height. */
export interface ExplorerLayout {
  detailWidth: number
  bodyHeight: number
}

/** Everything the explorer shows, as plain data; keys turn one state into the next (`explorerKey`). */
export interface ExplorerState {
  initial: { trace: Trace; request: Request }
  trace: Trace
  request: Request
  retrace: Retrace
  followable: boolean
  selected: number
  focus: 'steps' | 'detail'
  mode: ExplorerMode
  /** Expanded rejected candidates, per step index. */
  expanded: Record<number, number[]>
  detailCursor: number
  detailScroll: number
  query: string
  searchDraft: { value: string; caret: number }
  editor: EditorState | null
  /** One line for the footer: what just happened, or an error. Cleared by the next key. */
  message: { text: string; tone: 'info' | 'error' } | null
  layout: ExplorerLayout
  quit: boolean
}

/** The explorer's first state. */
export function createExplorerState(options: { initial: Trace; request: Request; retrace: Retrace; followable?: boolean; layout: ExplorerLayout }): ExplorerState {
  return {
    initial: { trace: options.initial, request: options.request },
    trace: options.initial,
    request: options.request,
    retrace: options.retrace,
    followable: options.followable ?? false,
    selected: 0,
    focus: 'steps',
    mode: 'browse',
    expanded: {},
    detailCursor: 0,
    detailScroll: 0,
    query: '',
    searchDraft: { value: '', caret: 0 },
    editor: null,
    message: null,
    layout: options.layout,
    quit: false,
  }
}

/** The detail lines of the selected step, wrapped to the panel (what the panel draws). */
export function detailLinesOf(state: ExplorerState): DetailLine[] {
  const step = state.trace.steps[state.selected]
  if (step === undefined) return []
  return wrapDetailLines(buildDetailLines(step, state.selected, state.trace.steps.length, new Set(state.expanded[state.selected] ?? [])), state.layout.detailWidth)
}

/** Lines of the detail that match the search, as indices into detailLinesOf(state). */
export function matchesOf(state: ExplorerState, lines = detailLinesOf(state)): number[] {
  return findMatches(lines, state.query)
}

/** The state after a resize. */
export function withLayout(state: ExplorerState, layout: ExplorerLayout): ExplorerState {
  if (layout.detailWidth === state.layout.detailWidth && layout.bodyHeight === state.layout.bodyHeight) return state
  return settle({ ...state, layout })
}

/** The state after one key. Pure: the only call out is `retrace`, itself pure. */
export function explorerKey(state: ExplorerState, input: string, key: Partial<Key>): ExplorerState {
  const s: ExplorerState = state.message === null ? state : { ...state, message: null }
  switch (s.mode) {
    case 'help':
      return { ...s, mode: 'browse' }
    case 'search':
      return searchKey(s, input, key)
    case 'edit':
      return editKey(s, input, key)
    default:
      return browseKey(s, input, key)
  }
}

function browseKey(s: ExplorerState, input: string, key: Partial<Key>): ExplorerState {
  if (input === 'q' && key.ctrl !== true) return { ...s, quit: true }
  if (input === '?') return { ...s, mode: 'help' }
  if (input === 'e') return openEditor(s)
  if (input === '/') return { ...s, mode: 'search', searchDraft: { value: s.query, caret: Array.from(s.query).length } }
  if (input === 'n' || input === 'N') return nextMatch(s, input === 'n' ? 1 : -1)
  if (input === 'f') return follow(s)
  if (input === 'r') return resetRequest(s)
  if (input === 'x') return toggleAll(s)
  if (key.tab === true) return settle({ ...s, focus: s.focus === 'steps' ? 'detail' : 'steps' })
  if (key.escape === true) {
    if (s.query !== '') return settle({ ...s, query: '' })
    return { ...s, focus: 'steps' }
  }
  const page = Math.max(1, s.layout.bodyHeight - 1)
  if (key.pageDown === true || (input === ' ' && s.focus === 'steps')) return scrollDetail(s, page)
  if (key.pageUp === true) return scrollDetail(s, -page)
  if (s.focus === 'steps') {
    if (key.downArrow === true || input === 'j') return selectStep(s, s.selected + 1)
    if (key.upArrow === true || input === 'k') return selectStep(s, s.selected - 1)
    if (key.home === true || input === 'g') return selectStep(s, 0)
    if (key.end === true || input === 'G') return selectStep(s, s.trace.steps.length - 1)
    if (key.return === true || key.rightArrow === true || input === 'l') return settle({ ...s, focus: 'detail' })
    return s
  }
  const lines = detailLinesOf(s)
  if (key.downArrow === true || input === 'j') return settle({ ...s, detailCursor: s.detailCursor + 1 })
  if (key.upArrow === true || input === 'k') return settle({ ...s, detailCursor: s.detailCursor - 1 })
  if (key.home === true || input === 'g') return settle({ ...s, detailCursor: 0 })
  if (key.end === true || input === 'G') return settle({ ...s, detailCursor: lines.length - 1 })
  if (key.leftArrow === true || input === 'h') return { ...s, focus: 'steps' }
  if (key.return === true || input === ' ' || key.rightArrow === true) {
    const toggle = lines[s.detailCursor]?.toggle
    if (toggle !== undefined) return toggleRejected(s, toggle)
    // Not on a rejected candidate: go to the next one, so ⏎ ⏎ expands the first near miss.
    const next = lines.findIndex((l, i) => i > s.detailCursor && l.toggle !== undefined)
    return next < 0 ? s : settle({ ...s, detailCursor: next })
  }
  return s
}

function selectStep(s: ExplorerState, index: number): ExplorerState {
  const selected = clamp(index, 0, s.trace.steps.length - 1)
  if (selected === s.selected) return s
  return settle({ ...s, selected, detailCursor: 0, detailScroll: 0 })
}

function scrollDetail(s: ExplorerState, delta: number): ExplorerState {
  if (s.focus === 'detail') return settle({ ...s, detailCursor: s.detailCursor + delta })
  return settle({ ...s, detailScroll: s.detailScroll + delta })
}

function toggleRejected(s: ExplorerState, index: number): ExplorerState {
  const open = s.expanded[s.selected] ?? []
  const next = open.includes(index) ? open.filter((i) => i !== index) : [...open, index]
  return settle({ ...s, expanded: { ...s.expanded, [s.selected]: next } })
}

function toggleAll(s: ExplorerState): ExplorerState {
  const step = s.trace.steps[s.selected]
  if (step === undefined || step.rejected.length === 0) return s
  const open = s.expanded[s.selected] ?? []
  const next = open.length === step.rejected.length ? [] : step.rejected.map((_, i) => i)
  return settle({ ...s, expanded: { ...s.expanded, [s.selected]: next } })
}

function follow(s: ExplorerState): ExplorerState {
  const hops = s.trace.steps.map((st, i) => (st.stage === 'hop' ? i : -1)).filter((i) => i >= 0)
  if (hops.length === 0) {
    const text = s.followable
      ? 'This trace has no next hop: the request ends in this pod.'
      : 'No next hop to follow: trace with --follow from a snapshot that holds the next pod.'
    return { ...s, message: { text, tone: 'info' } }
  }
  const next = hops.find((i) => i > s.selected) ?? hops[0]
  return selectStep({ ...s, focus: 'steps' }, next)
}

function resetRequest(s: ExplorerState): ExplorerState {
  if (s.trace === s.initial.trace) return { ...s, message: { text: 'Already showing the original request.', tone: 'info' } }
  return settle({ ...s, trace: s.initial.trace, request: s.initial.request, selected: 0, expanded: {}, detailCursor: 0, detailScroll: 0, message: { text: 'Back to the original request.', tone: 'info' } })
}

function nextMatch(s: ExplorerState, direction: 1 | -1): ExplorerState {
  if (s.query === '') return { ...s, message: { text: 'No search yet: press / to search this step.', tone: 'info' } }
  const matches = matchesOf(s)
  if (matches.length === 0) return { ...s, message: { text: `No match for "${s.query}" in this step.`, tone: 'info' } }
  const from = s.focus === 'detail' ? s.detailCursor : -1
  const target = direction === 1
    ? matches.find((m) => m > from) ?? matches[0]
    : [...matches].reverse().find((m) => m < from) ?? matches[matches.length - 1]
  return settle({ ...s, focus: 'detail', detailCursor: target })
}

function searchKey(s: ExplorerState, input: string, key: Partial<Key>): ExplorerState {
  if (key.escape === true) return { ...s, mode: 'browse' }
  if (key.return === true) {
    const query = s.searchDraft.value.trim()
    if (query === '') return settle({ ...s, mode: 'browse', query: '' })
    const step = s.trace.steps[s.selected]
    // Open the rejected candidates whose hidden lines hold a match, so every match can be shown.
    const open = new Set([...(s.expanded[s.selected] ?? []), ...(step === undefined ? [] : rejectedMatching(step, query))])
    const searched: ExplorerState = { ...s, mode: 'browse', query, expanded: { ...s.expanded, [s.selected]: [...open] } }
    const matches = matchesOf(searched)
    if (matches.length === 0) return settle({ ...searched, message: { text: `No match for "${query}" in this step.`, tone: 'info' } })
    return settle({ ...searched, focus: 'detail', detailCursor: matches[0], message: { text: `${matches.length} line${matches.length === 1 ? '' : 's'} match "${query}" (n / N: next / previous)`, tone: 'info' } })
  }
  const next = editLine(s.searchDraft, input, key)
  return next === undefined ? s : { ...s, searchDraft: next }
}

function openEditor(s: ExplorerState): ExplorerState {
  const form = formFromRequest(s.request)
  return { ...s, mode: 'edit', editor: { form, row: 0, caret: Array.from(form.url).length, error: null } }
}

function editKey(s: ExplorerState, input: string, key: Partial<Key>): ExplorerState {
  const ed = s.editor
  if (ed === null) return { ...s, mode: 'browse' }
  const rows = formRows(ed.form)
  const row = rows[clamp(ed.row, 0, rows.length - 1)]
  const moveTo = (i: number): ExplorerState => {
    const r = clamp(i, 0, rows.length - 1)
    return { ...s, editor: { ...ed, row: r, caret: Array.from(rows[r].value).length } }
  }
  if (key.escape === true) return { ...s, mode: 'browse', editor: null, message: { text: 'Edit cancelled; the trace is unchanged.', tone: 'info' } }
  if (key.return === true) return applyEdit(s, ed)
  if (key.upArrow === true || (key.tab === true && key.shift === true)) return moveTo(ed.row - 1)
  if (key.downArrow === true || key.tab === true) return moveTo(ed.row + 1)
  if (row.id === 'inbound') {
    if (input === ' ' || key.leftArrow === true || key.rightArrow === true) return { ...s, editor: { ...ed, form: { ...ed.form, inbound: !ed.form.inbound }, error: null } }
    return s
  }
  const next = editLine({ value: row.value, caret: ed.caret }, input, key)
  if (next === undefined) return s
  return { ...s, editor: { ...ed, form: setFormRow(ed.form, row.id, next.value), caret: next.caret, error: null } }
}

/** Parses the form and re-traces; a bad field stays in the editor with its error. */
function applyEdit(s: ExplorerState, ed: EditorState): ExplorerState {
  let request: Request
  let trace: Trace
  try {
    request = requestFromForm(ed.form, s.request)
    trace = s.retrace(request)
  } catch (err) {
    return { ...s, editor: { ...ed, error: err instanceof Error ? err.message : String(err) } }
  }
  const before = s.trace.result
  const after = trace.result
  const changed = (['outcome', 'listener', 'virtualHost', 'route', 'cluster'] as const)
    .filter((k) => before[k] !== after[k])
    .map((k) => `${k} ${after[k] ?? '—'}`)
  const text = changed.length === 0 ? `Re-traced: same path (${after.outcome}).` : `Re-traced: ${changed.join(', ')}.`
  return settle({
    ...s,
    mode: 'browse',
    editor: null,
    request,
    trace,
    selected: clamp(s.selected, 0, trace.steps.length - 1),
    expanded: {},
    detailCursor: 0,
    detailScroll: 0,
    message: { text, tone: 'info' },
  })
}

/** A quick look at what the form would give, for the editor's live preview: the result, or the error. */
export function previewEdit(s: ExplorerState): { trace?: Trace; error?: string } {
  if (s.editor === null) return {}
  try {
    return { trace: s.retrace(requestFromForm(s.editor.form, s.request)) }
  } catch (err) {
    return { error: err instanceof Error ? err.message : String(err) }
  }
}

/** Clamps the cursor and scroll after any change, so the cursor line is always on screen. */
function settle(s: ExplorerState): ExplorerState {
  const lines = detailLinesOf(s)
  const height = Math.max(1, s.layout.bodyHeight)
  const maxScroll = Math.max(0, lines.length - height)
  const cursor = clamp(s.detailCursor, 0, Math.max(0, lines.length - 1))
  let scroll = clamp(s.detailScroll, 0, maxScroll)
  if (s.focus === 'detail') {
    if (cursor < scroll) scroll = cursor
    if (cursor >= scroll + height) scroll = cursor - height + 1
  }
  if (cursor === s.detailCursor && scroll === s.detailScroll) return s
  return { ...s, detailCursor: cursor, detailScroll: scroll }
}

function clamp(n: number, lo: number, hi: number): number {
  return Math.max(lo, Math.min(hi, n))
}

/**
 * ink hands a run of plain characters that arrived together (a paste, or keys sent faster than a
 * frame) over as one input, control characters included. This splits it back into one key each, so
 * `e`, Ctrl-U, text and ⏎ sent at once behave as if typed one by one.
 */
export function splitKeys(input: string, key: Partial<Key>): Array<[string, Partial<Key>]> {
  const flagged = Object.entries(key).some(([name, value]) => value === true && name !== 'shift')
  const chars = Array.from(input)
  if (chars.length <= 1 || flagged) return [[input, key]]
  return chars.map((c): [string, Partial<Key>] => {
    const code = c.codePointAt(0) ?? 0
    if (c === '\r' || c === '\n') return ['', { return: true }]
    if (c === '\t') return ['', { tab: true }]
    if (c === '\u007f' || c === '\b') return ['', { backspace: true }]
    if (code >= 1 && code <= 26) return [String.fromCharCode(code + 96), { ctrl: true }]
    if (code < 32) return ['', {}]
    return [c, /[A-Z]/.test(c) ? { shift: true } : {}]
  })
}
