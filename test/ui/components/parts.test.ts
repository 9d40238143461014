import { createElement } from 'react'
import { render } from 'ink-testing-library'
import { describe, expect, it } from 'vitest'
import { CollectingSpinner } from '../../../src/ui/components/CollectingSpinner.js'
import { Header } from '../../../src/ui/components/Header.js'
import { RequestEditor } from '../../../src/ui/components/RequestEditor.js'
import { StepDetail } from '../../../src/ui/components/StepDetail.js'
import { StepList } from '../../../src/ui/components/StepList.js'
import { buildDetailLines, wrapDetailLines } from '../../../src/ui/detail-lines.js'
import { formFromRequest } from '../../../src/ui/request-form.js'
import { colorWanted, toneStyle } from '../../../src/ui/theme.js'
import { parseRequest } from '../../../src/engine/trace/request.js'
import { loadTrace } from '../../fixtures/traces/load-traces.js'
import { jasonTrace, plain, settle } from '../explorer-fixtures.js'

function frameOf(element: React.ReactElement): string {
  const app = render(element)
  const frame = plain(app.lastFrame())
  app.unmount()
  return frame
}

describe('StepList', () => {
  it('marks outcomes and the selection, and scrolls to keep the selection in view', () => {
    const steps = loadTrace('bookinfo-no-route').steps

    const frame = frameOf(createElement(StepList, { steps, selected: 6, focused: true, width: 30, height: 4, color: false }))

    expect(frame).toMatchInlineSnapshot(`
      "  4 ✓ filter_chain #0
        5 ✓ net_filter   envoy.http…
        6 ✓ route_config 9080
      › 7 ✗ virtual_host"
    `)
  })
})

describe('StepDetail', () => {
  it('shows the window of lines from the scroll position', () => {
    const step = loadTrace('bookinfo-outbound').steps[7]
    const lines = wrapDetailLines(buildDetailLines(step, 7, 10, new Set([0])), 44)

    const frame = frameOf(createElement(StepDetail, { lines, scroll: 12, cursor: 13, query: 'jason', width: 44, height: 6, color: false }))

    expect(frame).toMatchInlineSnapshot(`
      "
      rejected (1)  ⏎ expands
        ▾ ✗ route #0 — header does not match
            header end-user: expected exact jason,
              got (absent)
            source  config_dump /configs/3/dynamic"
    `)
  })
})

describe('Header', () => {
  it('shows the request, the outcome, who sends where, and the path taken', () => {
    const frame = frameOf(createElement(Header, { trace: jasonTrace(), edited: true, width: 72, color: false }))

    expect(frame).toMatchInlineSnapshot(`
      "GET http://ratings:9080/ratings/0                     (edited) forwarded
      outbound from default/reviews-v1-cb8655c75-b97zc 172.33.3.3 uid 1000 → …
      → route #0 → outbound|9080|v2|ratings.default.svc.cluster.local → 172.3…"
    `)
  })

  it('says when the request was not intercepted', () => {
    const frame = frameOf(createElement(Header, { trace: loadTrace('bookinfo-not-intercepted'), edited: false, width: 72, color: false }))

    expect(frame.split('\n')[2]).toBe('→ not intercepted: straight to the destination')
  })
})

describe('RequestEditor', () => {
  it('lists the fields with the focused one marked, and previews the result', () => {
    const form = formFromRequest(parseRequest('http://ratings:9080/ratings/0', { headers: ['end-user: jason'] }))

    const frame = frameOf(createElement(RequestEditor, { form, row: 2, caret: 3, preview: { trace: jasonTrace() }, error: null, width: 72, height: 14, color: false }))

    expect(frame).toMatchInlineSnapshot(`
      "Edit the request  ⏎ re-trace · esc cancel · ↑↓ field · space toggles di…

        URL       http://ratings:9080/ratings/0
        method    GET
      › header    end-user: jason
        header    name: value
        uid       the app container's
        direction outbound  (space toggles)
        SNI       none (https: the host)

      preview  forwarded · ratings.default.svc.cluster.local:9080 · route #0 …


      "
    `)
  })
})

describe('CollectingSpinner', () => {
  it('lists what is being fetched, done and failed', () => {
    const items = [
      { label: 'pod default/reviews-v1', state: 'done' as const },
      { label: 'iptables rules (istio-init log)', state: 'pending' as const },
      { label: 'Envoy /stats', state: 'failed' as const, detail: '403: cannot create pods/exec' },
      'services',
    ]

    const frame = frameOf(createElement(CollectingSpinner, { title: 'default/reviews-v1', items, color: false, intervalMs: 0 }))

    expect(frame).toMatchInlineSnapshot(`
      "⠋ Collecting live facts from default/reviews-v1
        ✓ pod default/reviews-v1
        ⠋ iptables rules (istio-init log)
        ✗ Envoy /stats — 403: cannot create pods/exec
        ⠋ services"
    `)
  })

  it('animates while something is pending, and stops when all is done', async () => {
    const app = render(createElement(CollectingSpinner, { items: ['config_dump'], color: false, intervalMs: 5 }))
    await settle(40)

    expect(new Set(app.frames.map((f) => plain(f).slice(0, 1))).size).toBeGreaterThan(1)
    app.rerender(createElement(CollectingSpinner, { items: [{ label: 'config_dump', state: 'done' }], color: false, intervalMs: 5 }))
    await settle()
    expect(plain(app.lastFrame())).toBe('✓ Collected live facts\n  ✓ config_dump')
    app.unmount()
  })

  it('strips control characters from what it is told', () => {
    const frame = frameOf(createElement(CollectingSpinner, { title: '\u001b[2Jpod', items: ['a\u001b]0;x\u0007b\r'], color: false, intervalMs: 0 }))

    expect(frame).toBe('⠋ Collecting live facts from pod\n  ⠋ ab␍')
  })
})

describe('theme', () => {
  it.each([
    [{ NO_COLOR: '1' }, false],
    [{ NO_COLOR: '' }, true],
    [{ TERM: 'dumb' }, false],
    [{ TERM: 'xterm-256color' }, true],
  ])('colorWanted(%o) is %s', (env, expected) => {
    expect(colorWanted(env)).toBe(expected)
  })

  it('drops colours but keeps bold and dim when colour is off', () => {
    expect(toneStyle('section', false)).toEqual({ bold: true })
    expect(toneStyle('dim', false)).toEqual({ dimColor: true })
    expect(toneStyle('bad', true)).toEqual({ color: 'red' })
  })
})
