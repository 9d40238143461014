import { createElement } from 'react'
import { render } from 'ink-testing-library'
import { describe, expect, it } from 'vitest'
import { TraceView } from '../../../src/ui/components/TraceView.js'
import type { Trace } from '../../../src/engine/trace/trace.js'
import { loadTrace } from '../../fixtures/traces/load-traces.js'
import { HOSTILE_NAMES, hostileTrace } from '../../fixtures/traces/hostile.js'
import { ARROW_DOWN, ARROW_UP, BACKSPACE, CTRL_U, ENTER, ESCAPE, bookinfoRequest, fakeRetrace, plain, settle } from '../explorer-fixtures.js'

function open(trace: Trace = loadTrace('bookinfo-outbound'), size: { columns: number; rows: number } | null = { columns: 80, rows: 24 }) {
  return render(createElement(TraceView, { initial: trace, request: bookinfoRequest(), retrace: fakeRetrace, color: false, ...(size !== null ? { size } : {}) }))
}

/** Waits (up to 2 s) for a frame that passes `test`: React applies a resize on its own schedule. */
async function frameWhen(app: ReturnType<typeof open>, test: (frame: string) => boolean): Promise<string> {
  for (let i = 0; i < 100 && !test(plain(app.lastFrame())); i++) await settle(20)
  return plain(app.lastFrame())
}

async function press(app: ReturnType<typeof open>, ...keys: string[]): Promise<string> {
  for (const k of keys) {
    app.stdin.write(k)
    await settle()
  }
  return plain(app.lastFrame())
}

describe('TraceView', () => {
  it('opens on the first step: header with the request and outcome, the steps, the detail, the keys (80×24)', async () => {
    const app = open()

    const frame = await press(app)

    expect(frame).toMatchInlineSnapshot(`
      "GET http://ratings:9080/ratings/0                                      forwarded
      outbound from default/reviews-v1-cb8655c75-b97zc 172.33.3.3 uid 1000 → ratings.…
      → route #1 → outbound|9080||ratings.default.svc.cluster.local → 172.33.100.2:90…
      ────────────────────────────────────────────────────────────────────────────────
      › 1 ✓ iptables     ISTIO_R…│ 1/10  iptables · matched ✓
        2 ✓ listener     virtual │ nat OUTPUT → ISTIO_OUTPUT → ISTIO_REDIRECT:
        3 ✓ listener     0.0.0.0…│   REDIRECT to :15001 (uid 1000 is not the proxy's
        4 ✓ filter_chain #0      │   1337)
        5 ✓ net_filter   envoy.h…│
        6 ✓ route_config 9080    │ chosen  rule ISTIO_REDIRECT #1
        7 ✓ virtual_host ratings…│ source  iptables-save:26
        8 ✓ route        #1      │
        9 ✓ cluster      outboun…│ evidence
       10 ✓ endpoint     172.33.…│   ✓ uid: expected not 1337, got 1000
                                 │   ✓ destination: expected not 127.0.0.1/32, got
                                 │     10.254.234.130
                                 │
                                 │ rejected (4)  ⏎ expands
                                 │   ▸ ✗ rule ISTIO_OUTPUT #1 (line 20) — outgoing
                                 │     interface differs
                                 │   ▸ ✗ rule ISTIO_OUTPUT #2 (line 21) — socket owner
      ────────────────────────────────────────────────────────────────────────────────
      ↑↓ step · ⏎ detail · e edit · / search · ? help · q quit          1/10 · 1-17/32"
    `)
    expect(frame.split('\n')).toHaveLength(23)
    app.unmount()
  })

  it('moves the selection with ↓ and ↑', async () => {
    const app = open()

    const frame = await press(app, ARROW_DOWN, ARROW_DOWN, ARROW_DOWN, ARROW_UP)

    expect(frame).toContain('› 3 ✓ listener     0.0.0.0…│')
    expect(frame).toContain('│ 3/10  listener · matched ✓')
    app.unmount()
  })

  it('expands a rejected route in the detail', async () => {
    const app = open()
    await press(app, ...Array<string>(7).fill(ARROW_DOWN))

    const frame = await press(app, ENTER, ENTER, ENTER)

    expect(frame).toContain('▾ ✗ route #0 — header does not match')
    expect(frame).toContain('header end-user: expected exact jason,')
    app.unmount()
  })

  it('edits the request (a header) and shows the new path at once', async () => {
    const app = open()
    await press(app, ...Array<string>(7).fill(ARROW_DOWN), 'e', ARROW_DOWN, ARROW_DOWN)

    const frame = await press(app, ...'end-user: jason', ENTER)

    expect(frame).toMatch(/^GET http:\/\/ratings:9080\/ratings\/0 +\(edited\) forwarded$/m)
    expect(frame).toContain('headers end-user: jason  → route #0 → outbound|9080|v2|ratings')
    expect(frame).toContain('8/10  route · matched ✓')
    expect(frame).toContain('Re-traced: route #0, cluster outbound|9080|v2|ratings')
    app.unmount()
  })

  it('shows a bad URL inline in the editor, not as a crash', async () => {
    const app = open(undefined, { columns: 60, rows: 16 })
    await press(app, 'e', CTRL_U, ...'htp://ratings/x')

    const frame = await press(app, ENTER)

    expect(frame).toMatchInlineSnapshot(`
      "GET http://ratings:9080/ratings/0                  forwarded
      outbound from default/reviews-v1-cb8655c75-b97zc 172.33.3.3…
      → route #1 → outbound|9080||ratings.default.svc.cluster.loc…
      ────────────────────────────────────────────────────────────
      Edit the request  ⏎ re-trace · esc cancel · ↑↓ field · spac…

      › URL       htp://ratings/x
        method    GET


      error    TARGET "htp://ratings/x" uses the scheme htp;
      mesh-trace understands http, https and tcp.

      ────────────────────────────────────────────────────────────
      ⏎ re-trace · esc cancel · ↑↓ tab field · ←→ caret"
    `)
    app.unmount()
  })

  it('edits the URL path with the caret keys and re-traces', async () => {
    const app = open()
    await press(app, 'e', ...Array<string>('ratings/0'.length).fill(BACKSPACE))

    const frame = await press(app, ...'health', ENTER)

    expect(frame).toMatch(/^GET http:\/\/ratings:9080\/health/m)
    app.unmount()
  })

  it('cancels an edit with esc', async () => {
    const app = open()

    const frame = await press(app, 'e', CTRL_U, ...'http://x:1/', ESCAPE)

    expect(frame).toMatch(/^GET http:\/\/ratings:9080\/ratings\/0 +forwarded$/m)
    expect(frame).toContain('Edit cancelled; the trace is unchanged.')
    app.unmount()
  })

  it('searches the step with / and highlights the match', async () => {
    const app = open()
    await press(app, ...Array<string>(7).fill(ARROW_DOWN), '/', ...'jason')

    const typing = await press(app)
    expect(typing.split('\n').at(-1)).toMatch(/^\/jason/)

    const frame = await press(app, ENTER)
    expect(frame).toContain('▾ ✗ route #0 — header does not match')
    expect(frame).toContain('2 lines match "jason" (n / N: next / previous)')
    app.unmount()
  })

  it('lists the keys on ?', async () => {
    const app = open(undefined, { columns: 70, rows: 20 })

    const frame = await press(app, '?')

    expect(frame).toMatchInlineSnapshot(`
      "GET http://ratings:9080/ratings/0                            forwarded
      outbound from default/reviews-v1-cb8655c75-b97zc 172.33.3.3 uid 1000 …
      → route #1 → outbound|9080||ratings.default.svc.cluster.local → 172.3…
      ──────────────────────────────────────────────────────────────────────
      Keys  (any key closes this)

        q  ctrl-c    quit
        ?            this help
        ↑ ↓  j k     move between steps, or lines of the detail
        ⏎  →  tab    go into the detail of the step
        ⏎  space     expand / collapse a rejected candidate
        x            expand / collapse every rejected candidate
        ←  esc       back to the step list
        PgUp PgDn    scroll the detail
        e            edit the request (URL, method, headers, uid, direction…
        r            back to the original request
        /  n  N      search this step; next, previous match
      ──────────────────────────────────────────────────────────────────────
      any key closes the help"
    `)
    app.unmount()
  })

  it('follows the terminal when it is resized', async () => {
    const app = open(undefined, null)
    const stdout = app.stdout as unknown as { columns: number; rows: number; emit(e: string): void }
    Object.defineProperty(stdout, 'columns', { value: 60, configurable: true })
    Object.defineProperty(stdout, 'rows', { value: 12, configurable: true })
    await settle()

    stdout.emit('resize')
    const frame = await frameWhen(app, (f) => f.split('\n').length === 11)

    const lines = frame.split('\n')
    expect(lines).toHaveLength(11)
    expect(Math.max(...lines.map((l) => [...l].length))).toBeLessThanOrEqual(60)
    app.unmount()
  })

  it('draws a no-route trace with its failed step and finding', async () => {
    const app = open(loadTrace('bookinfo-no-route'))

    const frame = await press(app, ...Array<string>(6).fill(ARROW_DOWN))

    expect(frame).toMatch(/no_route$/m)
    expect(frame).toContain('› 7 ✗ virtual_host')
    expect(frame).toContain('error [host-header-no-domain]')
    app.unmount()
  })

  it('copes with a trace without steps (the destination could not be resolved)', async () => {
    const trace = loadTrace('bookinfo-not-intercepted')
    trace.steps = []
    trace.result.outcome = 'unknown'
    const app = open(trace, { columns: 60, rows: 10 })

    const frame = await press(app, ARROW_DOWN, ENTER, 'x', '/', ...'a', ENTER)

    expect(frame).toMatchInlineSnapshot(`
      "GET http://ratings:9080/ratings/0                    unknown
      outbound from default/reviews-v1-cb8655c75-b97zc 172.33.3.3…
      → not intercepted: straight to the destination
      ────────────────────────────────────────────────────────────
      (no steps)          │
                          │
                          │
                          │
      ────────────────────────────────────────────────────────────
      No match for "a" in this step.                   0/0 · 0-0/0"
    `)
    app.unmount()
  })

  describe('hostile names render harmlessly', () => {
    it.each(HOSTILE_NAMES)('%s', async (_what, name) => {
      const app = open(hostileTrace(name))

      const raw = app.lastFrame() ?? ''
      const frame = await press(app, ENTER, 'x', ARROW_DOWN, ARROW_DOWN)

      // Only ink's own styling escapes may appear, nothing from the trace.
      expect(plain(raw)).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/)
      expect(frame).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/)
      const lines = frame.split('\n')
      expect(lines).toHaveLength(23)
      expect(Math.max(...lines.map((l) => [...l].length))).toBeLessThanOrEqual(80)
      app.unmount()
    })
  })
})
