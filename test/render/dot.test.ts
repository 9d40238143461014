import { spawnSync } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { escapeDot, renderTraceDot } from '../../src/render/dot.js'
import { allTraceFixtures, loadTrace, smallTrace } from '../fixtures/traces/load-traces.js'
import { HOSTILE_NAMES, hostileTrace } from '../fixtures/traces/hostile.js'

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
/** Where the rendered SVG lands (gitignored; CI can keep it as an artifact). */
const SVG_DIR = join(repo, '.ci-out', 'diagrams')

const hasDot = spawnSync('dot', ['-V'], { encoding: 'utf8' }).status === 0
if (!hasDot && process.env.CI === undefined) {
  console.warn('\n!!! SKIPPING Graphviz checks: `dot` is not installed (apt-get install graphviz). In CI this fails. !!!\n')
}

/** Runs Graphviz on DOT text; returns the SVG, failing on any error or warning. */
function dotToSvg(dot: string): string {
  const run = spawnSync('dot', ['-Tsvg'], { input: dot, encoding: 'utf8', timeout: 20_000 })
  if (run.status !== 0 || run.stderr.trim() !== '') {
    throw new Error(`dot -Tsvg failed (exit ${run.status}):\n${run.stderr}\n--- input ---\n${dot}`)
  }
  return run.stdout
}

describe('renderTraceDot', () => {
  it('draws a small trace: nested clusters, the near miss beside its step, colours per outcome', () => {
    const trace = smallTrace()

    const out = renderTraceDot(trace)

    expect(out).toMatchInlineSnapshot(`
      "digraph mesh_trace {
        graph [rankdir=TB, fontname="Helvetica", fontsize=10, label="tcp://198.51.100.7:5432 → not intercepted", labelloc=t, nodesep=0.25, ranksep=0.3];
        node [shape=box, fontname="Helvetica", fontsize=10, margin="0.12,0.05"];
        edge [color="#424242", arrowsize=0.7];
        subgraph cluster_pod0 {
          label="pod default/app-1"; style="rounded"; color="#9e9e9e"; fontcolor="#424242";
          src [label="app container\\ntcp://198.51.100.7:5432\\nuid 1337", style="rounded,filled", fillcolor="#f3e5f5", color="#6a1b9a", fontcolor="#4a148c"];
          subgraph cluster_pod0_net {
            label="iptables (netfilter)"; style="rounded"; color="#9e9e9e"; fontcolor="#424242";
            s1 [label="1. iptables (passed)\\nnat: OUTPUT → ISTIO_OUTPUT\\nRETURN\\n⚠ not-intercepted", style="rounded,filled", fillcolor="#e3f2fd", color="#1565c0", fontcolor="#0d47a1"];
            s1_r0 [label="✗ rule ISTIO_OUTPUT #1\\noutgoing interface differs", style="rounded,filled,dashed", fillcolor="#fafafa", color="#bdbdbd", fontcolor="#9e9e9e"];
            { rank=same; s1; s1_r0; }
          }
        }
        result [label="result: not intercepted\\nstraight to 198.51.100.7:5432", style="rounded,filled", fillcolor="#f9a825", color="#f57f17", fontcolor="#000000"];
        src -> s1;
        s1 -> s1_r0 [style=dashed, color="#bdbdbd", arrowhead=none];
        s1 -> result;
      }"
    `)
  })

  it('draws the near misses of a step as one dashed row, at most three and "+N more"', () => {
    const trace = loadTrace('bookinfo-outbound')

    const out = renderTraceDot(trace)

    expect(out).toContain('{ rank=same; s1; s1_r0; s1_r1; s1_r2; s1_more; }')
    expect(out).toContain('s1_r2 -> s1_more [style=dashed, color="#bdbdbd", arrowhead=none];')
    expect(out).toContain('s1_more [label="+1 more rejected", style="rounded,filled,dashed"')
    expect(out).toContain('label="GET ratings:9080/ratings/0 → forwarded"')
  })

  it.each([
    ['a quote', 'say "hi"', 'say \\"hi\\"'],
    ['a backslash escape', 'a\\nb\\l', 'a\\\\nb\\\\l'],
    ['an entity', '&lt;b&gt;', '&amp;lt;b&amp;gt;'],
    ['arrows and braces', 'a -> b { }', 'a -> b { }'],
  ])('escapeDot: %s', (_what, input, expected) => {
    expect(escapeDot(input)).toBe(expected)
  })

  describe.skipIf(!hasDot && process.env.CI === undefined)('through Graphviz dot -Tsvg', () => {
    it('graphviz dot is installed', () => {
      expect(hasDot, 'Graphviz `dot` is missing: apt-get install graphviz (.ci/run installs it)').toBe(true)
    })

    it.each(allTraceFixtures())('%s renders to SVG without errors or warnings', (_name, trace) => {
      const svg = dotToSvg(renderTraceDot(trace))

      expect(svg).toMatch(/^<\?xml[\s\S]*<svg[\s\S]*<\/svg>\s*$/)
    })

    it('renders the bookinfo outbound trace to an SVG file', () => {
      const trace = loadTrace('bookinfo-outbound')
      const file = join(SVG_DIR, 'bookinfo-outbound.svg')
      mkdirSync(SVG_DIR, { recursive: true })

      writeFileSync(file, dotToSvg(renderTraceDot(trace)))

      const svg = readFileSync(file, 'utf8')
      expect(svg).toContain('<title>mesh_trace</title>')
      expect(svg).toContain('>outbound|9080||ratings.default.svc.cluster.local</text>')
      expect(svg).toContain('>result: forwarded</text>')
      expect(svg).toContain('stroke-dasharray')
    })

    describe('hostile names render harmlessly', () => {
      it.each(HOSTILE_NAMES)('%s', (_what, name) => {
        const dot = renderTraceDot(hostileTrace(name))

        const svg = dotToSvg(dot)

        expect(dot + svg).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/)
        expect(svg).not.toMatch(/<script|<b>|<img/i)
        const nodes = svg.match(/<g id="node\d+" class="node">/g) ?? []
        expect(nodes.length).toBe(dotToSvg(renderTraceDot(hostileTrace('benign'))).match(/<g id="node\d+" class="node">/g)?.length)
      })

      it('shows quotes, backslashes and entities literally', () => {
        const dot = renderTraceDot(hostileTrace('a"b\\nc&lt;d'))

        const svg = dotToSvg(dot)

        expect(svg).toContain('a&quot;b\\nc&amp;lt;d')
      })
    })
  })
})
