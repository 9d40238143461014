import { describe, expect, it } from 'vitest'
import { buildDetailLines, cleanText, findMatches, rejectedMatching, wrapDetailLines } from '../../src/ui/detail-lines.js'
import { loadTrace } from '../fixtures/traces/load-traces.js'
import { HOSTILE_NAMES, hostileTrace } from '../fixtures/traces/hostile.js'

const texts = (lines: Array<{ text: string; indent: number }>): string[] => lines.map((l) => `${' '.repeat(l.indent)}${l.text}`)

describe('buildDetailLines', () => {
  it('lists summary, chosen and source, evidence, rejected heads, decision and the pretty-printed excerpt', () => {
    const step = loadTrace('bookinfo-outbound').steps[7]

    const lines = buildDetailLines(step, 7, 10, new Set())

    expect(texts(lines)).toMatchInlineSnapshot(`
      [
        "8/10  route · matched ✓",
        "route #1 (prefix /) sends to outbound|9080||ratings.default.svc.cluster.local",
        "",
        "chosen  route #1",
        "source  config_dump /configs/3/dynamicRouteConfigs/0/routeConfig/virtualHosts/2/routes/1",
        "",
        "evidence",
        "  ✓ :path: expected prefix /, got /ratings/0",
        "",
        "rejected (1)  ⏎ expands",
        "  ▸ ✗ route #0 — header does not match",
        "",
        "decision",
        "  action: route",
        "  cluster: outbound|9080||ratings.default.svc.cluster.local",
        "",
        "excerpt",
        "  {",
        "    "match": {",
        "      "prefix": "/"",
        "    },",
        "    "route": {",
        "      "cluster": "outbound|9080||ratings.default.svc.cluster.local",",
        "      "timeout": "0.000s"",
        "    }",
        "  }",
      ]
    `)
    expect(lines.find((l) => l.text.includes('route #0'))?.toggle).toBe(0)
  })

  it('shows the evidence, source and excerpt when expanded', () => {
    const step = loadTrace('bookinfo-outbound').steps[7]

    const lines = buildDetailLines(step, 7, 10, new Set([0]))

    const at = lines.findIndex((l) => l.toggle === 0)
    expect(texts(lines.slice(at, at + 5))).toEqual([
      '  ▾ ✗ route #0 — header does not match',
      '      header end-user: expected exact jason, got (absent)',
      '      source  config_dump /configs/3/dynamicRouteConfigs/0/routeConfig/virtualHosts/2/routes/0',
      '      {',
      '        "match": {',
    ])
  })

  it('lists findings with their level and code', () => {
    const step = loadTrace('bookinfo-no-route').steps[6]

    const lines = buildDetailLines(step, 6, 7, new Set())

    expect(texts(lines)).toContain('  error [host-header-no-domain] Envoy picks the virtual host by the Host header (ratings.example.com), not by the dialled address; no domain matches, so Envoy answers 404 with flag NR. Send Host: ratings:9080, or add the name to the VirtualService hosts.')
  })

  it.each(HOSTILE_NAMES)('draws a hostile name (%s) as inert text', (_what, name) => {
    const step = hostileTrace(name).steps[7]

    const lines = buildDetailLines(step, 7, 10, new Set([0]))

    for (const line of lines) {
      expect(line.text).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/)
      expect(line.text.length).toBeLessThan(6500)
    }
  })
})

describe('wrapDetailLines', () => {
  it('breaks at a space near the end (else hard), indents continuations, and keeps the toggle on the first piece', () => {
    const lines = [{ key: 'rejected:0', text: '▸ ✗ virtual-host productpage.default.svc.cluster.local:9080 — no domain matches the Host', tone: 'bad' as const, indent: 2, toggle: 0 }]

    const wrapped = wrapDetailLines(lines, 40)

    expect(wrapped.map((l) => [l.key, l.indent, l.text, l.toggle])).toEqual([
      ['rejected:0', 2, '▸ ✗ virtual-host productpage.default.s', 0],
      ['rejected:0#1', 4, 'vc.cluster.local:9080 — no domain', undefined],
      ['rejected:0#2', 4, 'matches the Host', undefined],
    ])
  })

  it('hard-wraps a 10 KB name into pieces that fit', () => {
    const lines = [{ key: 'x', text: 'n'.repeat(10_240), tone: 'text' as const, indent: 0 }]

    const wrapped = wrapDetailLines(lines, 50)

    expect(wrapped.every((l) => l.indent + Array.from(l.text).length <= 50)).toBe(true)
    expect(wrapped.map((l) => l.text).join('')).toBe('n'.repeat(10_240))
  })
})

describe('search helpers', () => {
  it('finds lines case-insensitively', () => {
    const lines = buildDetailLines(loadTrace('bookinfo-outbound').steps[7], 7, 10, new Set())

    const hits = findMatches(lines, 'CLUSTER')

    expect(hits.map((i) => lines[i].key)).toEqual(['summary', 'decision:1', 'excerpt:5'])
  })

  it('names the rejected candidates whose hidden lines match', () => {
    const step = loadTrace('bookinfo-outbound').steps[7]

    expect(rejectedMatching(step, 'jason')).toEqual([0])
    expect(rejectedMatching(step, 'nothing-like-this')).toEqual([])
  })
})

describe('cleanText', () => {
  it.each([
    ['removes colour escapes', '\u001b[31mred\u001b[0m', 'red'],
    ['shows CR and LF as symbols', 'a\rb\nc', 'a␍b␤c'],
    ['turns tabs into spaces', 'a\tb', 'a b'],
    ['drops bidi overrides', 'a\u202eb\u2066c', 'abc'],
  ])('%s', (_what, input, expected) => {
    expect(cleanText(input)).toBe(expected)
  })
})
