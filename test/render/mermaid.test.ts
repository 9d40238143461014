import { describe, expect, it } from 'vitest'
import { escapeMermaid, renderTraceMermaid } from '../../src/render/mermaid.js'
import { allTraceFixtures, loadTrace, smallTrace, variant } from '../fixtures/traces/load-traces.js'
import { HOSTILE_NAMES, hostileTrace } from '../fixtures/traces/hostile.js'
import { checkMermaidFlowchart } from './mermaid-syntax.js'

describe('renderTraceMermaid', () => {
  it('draws a small trace: app container, the iptables step with its near miss, the result', () => {
    const trace = smallTrace()

    const out = renderTraceMermaid(trace)

    expect(out).toMatchInlineSnapshot(`
      "flowchart TB
        subgraph pod0["pod default/app-1"]
          direction TB
          src["app container<br/>tcp://198.51.100.7:5432<br/>uid 1337"]
          subgraph pod0_net["iptables (netfilter)"]
            direction TB
            s1["1. iptables (passed)<br/>nat: OUTPUT → ISTIO_OUTPUT<br/>RETURN<br/>⚠ not-intercepted"]
            s1_r0["✗ rule ISTIO_OUTPUT #35;1<br/>outgoing interface differs"]
          end
        end
        result(["result: not intercepted<br/>straight to 198.51.100.7:5432"])
        src --> s1
        s1 -.-> s1_r0
        s1 --> result
        classDef source fill:#f3e5f5,stroke:#6a1b9a,color:#4a148c
        class src source
        classDef passed fill:#e3f2fd,stroke:#1565c0,color:#0d47a1
        class s1 passed
        classDef rejected fill:#fafafa,stroke:#bdbdbd,color:#9e9e9e,stroke-dasharray:4 4
        class s1_r0 rejected
        classDef unknown fill:#f9a825,stroke:#f57f17,color:#000000
        class result unknown"
    `)
    expect(checkMermaidFlowchart(out)).toEqual([])
  })

  it.each(allTraceFixtures())('%s gives a valid flowchart', (_name, trace) => {
    const out = renderTraceMermaid(trace)

    expect(checkMermaidFlowchart(out)).toEqual([])
  })

  it('follows the bookinfo outbound path in order, from the app container to the result', () => {
    const trace = loadTrace('bookinfo-outbound')

    const out = renderTraceMermaid(trace)

    const path = out.split('\n').map((l) => l.trim()).filter((l) => / --> /.test(l))
    expect(path).toEqual(['src --> s1', 's1 --> s2', 's2 --> s3', 's3 --> s4', 's4 --> s5', 's5 --> s6', 's6 --> s7', 's7 --> s8', 's8 --> s9', 's9 --> s10', 's10 --> result'])
    expect(out).toContain('s3["3. listener<br/>0.0.0.0_9080<br/>hand-off from virtual"]')
    expect(out).toContain('s9["9. cluster<br/>outbound#124;9080#124;#124;ratings.default.svc.cluster.local"]')
    expect(out).toContain('result(["result: forwarded<br/>172.33.100.2:9080"])')
  })

  it('draws at most three near misses per step, then a "+N more" node, all dimmed', () => {
    const trace = loadTrace('bookinfo-outbound')

    const out = renderTraceMermaid(trace)

    expect(out).toContain('s1_r2["✗ rule ISTIO_OUTPUT #35;3<br/>socket owner differs"]')
    expect(out).not.toContain('s1_r3')
    expect(out).toContain('s1_more["+1 more rejected"]')
    expect(out).toContain('class s1_r0,s1_r1,s1_r2,s1_more,s3_r0,s7_r0,s7_r1,s7_r2,s7_more,s8_r0 rejected')
  })

  it('puts the next pod in its own box after a hop (--follow)', () => {
    const trace = loadTrace('bookinfo-follow')

    const out = renderTraceMermaid(trace)

    expect(out).toContain('subgraph pod1["pod default/ratings-v1-8558d4458d-ns6lk"]')
    expect(out).toContain('s11["11. next hop (passed)<br/>default/ratings-v1-8558d4458d-ns6lk"]')
    expect(out).toContain('s20 --> result')
  })

  it('colours a failed step and the result, and names the finding', () => {
    const trace = loadTrace('bookinfo-no-route')

    const out = renderTraceMermaid(trace)

    expect(out).toContain('s7["7. virtual host (no match)<br/>no virtual host of route config 9080 has a doma…<br/>⚠ host-header-no-domain"]')
    expect(out).toContain('class s7 failed')
    expect(out).toContain('class result bad')
  })

  it('draws a stats step as a note beside the path, not on it', () => {
    const trace = variant(loadTrace('bookinfo-outbound'), (t) => {
      t.steps.push({ stage: 'stats', outcome: 'matched', summary: '3 of 3 counters present', decision: {}, evidence: [], rejected: [], findings: [] })
    })

    const out = renderTraceMermaid(trace)

    expect(out).toContain('s10 -.-> s11')
    expect(out).toContain('s10 --> result')
    expect(checkMermaidFlowchart(out)).toEqual([])
  })

  describe('hostile names render harmlessly', () => {
    it.each(HOSTILE_NAMES)('%s', (_what, name) => {
      const benign = renderTraceMermaid(hostileTrace('benign'))

      const out = renderTraceMermaid(hostileTrace(name))

      expect(checkMermaidFlowchart(out)).toEqual([])
      expect(out.split('\n')).toHaveLength(benign.split('\n').length)
      expect(out).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/)
      expect(out).not.toMatch(/<(?!br\/>)/)
      expect(Math.max(...out.split('\n').map((l) => l.length))).toBeLessThan(700)
    })
  })

  it.each([
    ['a quote', 'say "hi"', 'say #34;hi#34;'],
    ['a hash', 'route #0', 'route #35;0'],
    ['angle brackets and ampersand', '<b>&', '#60;b#62;#38;'],
    ['an arrow', 'a-->b', 'a#45;-#62;b'],
    ['a pipe and brackets', 'a|b[c]', 'a#124;b#91;c#93;'],
    ['an emoji and arrows', 'ok ✓ → 🚀', 'ok ✓ → 🚀'],
  ])('escapeMermaid: %s', (_what, input, expected) => {
    expect(escapeMermaid(input)).toBe(expected)
  })
})

describe('checkMermaidFlowchart (the syntax check itself)', () => {
  const good = renderTraceMermaid(smallTrace())

  it.each([
    ['an unescaped quote in a label', good.replace('uid 1337', 'uid "1337'), /not a known statement/],
    ['an edge to an undeclared node', `${good}\n  s1 --> nowhere`, /undeclared node nowhere/],
    ['a subgraph left open', good.replace(/\n {4}end\n/, '\n'), /not closed/],
    ['a raw HTML tag', good.replace('uid 1337', '<img src=x>'), /not a known statement/],
    ['a keyword as an id', `${good}\n  end["x"]`, /end without subgraph|keyword/],
    ['a class without classDef', `${good}\n  class s1 nope`, /no classDef/],
    ['a duplicate id', `${good}\n  s1["again"]`, /declared twice/],
  ])('rejects %s', (_what, text, problem) => {
    expect(checkMermaidFlowchart(text).join('\n')).toMatch(problem)
  })
})
