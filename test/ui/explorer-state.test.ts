import type { Key } from 'ink'
import { describe, expect, it } from 'vitest'
import { createExplorerState, detailLinesOf, explorerKey, previewEdit, splitKeys, withLayout, type ExplorerState } from '../../src/ui/explorer-state.js'
import { loadTrace } from '../fixtures/traces/load-traces.js'
import { bookinfoRequest, fakeRetrace } from './explorer-fixtures.js'

type Press = string | [string, Partial<Key>]
const DOWN: Press = ['', { downArrow: true }]
const UP: Press = ['', { upArrow: true }]
const ENTER: Press = ['', { return: true }]
const ESC: Press = ['', { escape: true }]
const END: Press = ['', { end: true }]
const CTRL_U: Press = ['u', { ctrl: true }]

function start(trace = loadTrace('bookinfo-outbound'), followable = false): ExplorerState {
  return createExplorerState({ initial: trace, request: bookinfoRequest(), retrace: fakeRetrace, followable, layout: { detailWidth: 50, bodyHeight: 17 } })
}

function press(state: ExplorerState, ...keys: Press[]): ExplorerState {
  return keys.reduce((s, k) => (typeof k === 'string' ? [...k].reduce((t, c) => explorerKey(t, c, {}), s) : explorerKey(s, k[0], k[1])), state)
}

describe('browsing', () => {
  it('moves the selection with ↓ ↑ and stops at the ends', () => {
    const s = start()

    expect(press(s, DOWN, DOWN).selected).toBe(2)
    expect(press(s, UP).selected).toBe(0)
    expect(press(s, END, DOWN).selected).toBe(9)
  })

  it('goes into the detail with ⏎; ⏎ on a plain line moves to the first near miss, ⏎ again expands it', () => {
    const s = press(start(), 'jjjjjjj', ENTER)
    expect(s.focus).toBe('detail')

    const onMiss = press(s, ENTER)
    const lines = detailLinesOf(onMiss)
    expect(lines[onMiss.detailCursor].text).toBe('▸ ✗ route #0 — header does not match')

    const open = press(onMiss, ENTER)
    expect(open.expanded).toEqual({ 7: [0] })
    expect(detailLinesOf(open)[open.detailCursor + 1].text).toMatch(/^header end-user: expected exact jason/)
    expect(press(open, ENTER).expanded).toEqual({ 7: [] })
  })

  it('expands and collapses every near miss of the step with x', () => {
    const s = press(start(), 'x')

    expect(s.expanded).toEqual({ 0: [0, 1, 2, 3] })
    expect(press(s, 'x').expanded).toEqual({ 0: [] })
  })

  it('keeps the cursor line on screen while scrolling the detail', () => {
    const s = withLayout(start(), { detailWidth: 50, bodyHeight: 5 })

    const moved = press(s, ENTER, 'x', 'jjjjjjjjjjjj')

    expect(moved.detailCursor).toBe(12)
    expect(moved.detailScroll).toBe(8)
  })

  it('quits on q and opens the help on ?', () => {
    expect(press(start(), 'q').quit).toBe(true)
    expect(press(start(), '?').mode).toBe('help')
    expect(press(start(), '?', 'q').quit).toBe(false)
  })
})

describe('editing the request', () => {
  it('re-traces on ⏎ with the edited request and says what changed', () => {
    const s = press(start(), 'jjjjjjj', 'e', DOWN, DOWN, 'end-user: jason', ENTER)

    expect(s.mode).toBe('browse')
    expect(s.request.headers['end-user']).toBe('jason')
    expect(s.trace.result.cluster).toBe('outbound|9080|v2|ratings.default.svc.cluster.local')
    expect(s.selected).toBe(7)
    expect(s.message?.text).toBe('Re-traced: route #0, cluster outbound|9080|v2|ratings.default.svc.cluster.local.')
  })

  it('previews the result of the form as it is typed', () => {
    const s = press(start(), 'e', CTRL_U, 'http://ratings.example.com:9080/')

    expect(previewEdit(s).trace?.result.outcome).toBe('no_route')
  })

  it('keeps a bad URL in the editor with its error, and the trace unchanged', () => {
    const before = start()

    const s = press(before, 'e', CTRL_U, 'htp://ratings/', ENTER)

    expect(s.mode).toBe('edit')
    expect(s.editor?.error).toMatch(/uses the scheme htp/)
    expect(s.trace).toBe(before.trace)
    expect(previewEdit(s).error).toMatch(/scheme htp/)
  })

  it('toggles the direction with space and cancels with esc', () => {
    const s = press(start(), 'e', DOWN, DOWN, DOWN, DOWN, ' ')
    expect(s.editor?.form.inbound).toBe(true)

    const cancelled = press(s, ESC)
    expect(cancelled.mode).toBe('browse')
    expect(cancelled.request.direction).toBe('outbound')
  })

  it('goes back to the original request with r', () => {
    const s = press(start(), 'e', DOWN, DOWN, 'end-user: jason', ENTER, 'r')

    expect(s.trace.result.cluster).toBe('outbound|9080||ratings.default.svc.cluster.local')
    expect(s.message?.text).toBe('Back to the original request.')
  })
})

describe('search', () => {
  it('finds the query in the step, opening the near miss that holds it', () => {
    const s = press(start(), 'jjjjjjj', '/', 'jason', ENTER)

    const lines = detailLinesOf(s)
    expect(s.query).toBe('jason')
    expect(s.expanded).toEqual({ 7: [0] })
    expect(lines[s.detailCursor].text).toMatch(/^header end-user: expected exact jason/)
    expect(s.message?.text).toBe('2 lines match "jason" (n / N: next / previous)')
    expect(detailLinesOf(press(s, 'n'))[press(s, 'n').detailCursor].text).toContain('"exactMatch": "jason"')
  })

  it('says so when nothing matches', () => {
    const s = press(start(), '/', 'no-such-thing', ENTER)

    expect(s.message?.text).toBe('No match for "no-such-thing" in this step.')
  })
})

describe('following the next hop', () => {
  it('jumps to the hop step when the trace has one', () => {
    expect(press(start(loadTrace('bookinfo-follow'), true), 'f').selected).toBe(10)
  })

  it('explains when there is nothing to follow', () => {
    expect(press(start(), 'f').message?.text).toBe('No next hop to follow: trace with --follow from a snapshot that holds the next pod.')
  })
})

describe('splitKeys', () => {
  it('splits keys that arrived together into one key each', () => {
    expect(splitKeys('e\u0015ab\r\u007f', {})).toEqual([
      ['e', {}],
      ['u', { ctrl: true }],
      ['a', {}],
      ['b', {}],
      ['', { return: true }],
      ['', { backspace: true }],
    ])
  })

  it('leaves single keys and flagged keys alone', () => {
    expect(splitKeys('q', {})).toEqual([['q', {}]])
    expect(splitKeys('', { downArrow: true })).toEqual([['', { downArrow: true }]])
  })
})
