import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { parse as parseYaml } from 'yaml'
import { readOfflineSnapshot } from '../../src/collect/bundle/read-bundle.js'
import { prepareSnapshot, traceRequest } from '../../src/engine/trace/trace-request.js'
import { parseRequest, type RequestOptions } from '../../src/engine/trace/request.js'
import type { Stage, StepOutcome, Trace, TraceResult } from '../../src/engine/trace/trace.js'
import { renderTraceJson } from '../../src/render/json.js'
import { renderTraceText } from '../../src/render/text.js'

/**
 * Scenarios where the engine's answer disagrees with the semantics (user-stories.md, envoy-semantics.md,
 * iptables-semantics.md). The expectation stays as the semantics say; the row is skipped until the engine is fixed.
 */
const KNOWN_ENGINE_GAPS: Record<string, string> = {
}

const SCENARIOS_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'scenarios')

/** scenario.yaml: the request, and what the semantics say must happen to it. */
interface Scenario {
  description: string
  /** `expectVs` stands for --expect-vs. */
  request: RequestOptions & { url: string; headers?: Record<string, string>; expectVs?: string }
  expect: Partial<TraceResult>
  expectSteps?: Array<{ stage: Stage; outcome: StepOutcome }>
  expectFindings?: string[]
  expectRejected?: Array<{ stage: Stage; candidate: string; reason: string }>
}

function loadScenario(name: string): Scenario {
  return parseYaml(readFileSync(path.join(SCENARIOS_DIR, name, 'scenario.yaml'), 'utf8')) as Scenario
}

async function traceScenario(name: string, scenario: Scenario): Promise<Trace> {
  const snapshot = await readOfflineSnapshot({ bundle: path.join(SCENARIOS_DIR, name) })
  const { url, ...options } = scenario.request
  return traceRequest(prepareSnapshot(snapshot), parseRequest(url, options))
}

const names = readdirSync(SCENARIOS_DIR, { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => d.name)
  .sort()

describe('scenarios (test/fixtures/scenarios/<name>)', () => {
  it('has one directory per scenario, each with a scenario.yaml', () => {
    expect(names.length).toBeGreaterThanOrEqual(20)

    const missing = names.filter((n) => readdirSync(path.join(SCENARIOS_DIR, n)).indexOf('scenario.yaml') < 0)

    expect(missing).toEqual([])
  })

  for (const name of names.filter((n) => n in KNOWN_ENGINE_GAPS)) {
    it.skip(`${name} — known engine gap: ${KNOWN_ENGINE_GAPS[name]}`, () => {})
  }

  it.each(names.filter((n) => !(n in KNOWN_ENGINE_GAPS)))('%s', async (name) => {
    const scenario = loadScenario(name)

    const trace = await traceScenario(name, scenario)

    for (const [field, want] of Object.entries(scenario.expect)) {
      const got = trace.result[field as keyof TraceResult]
      if (field === 'endpoints' && Array.isArray(want) && Array.isArray(got)) {
        expect(new Set(got), `result.endpoints`).toEqual(new Set(want))
      } else {
        expect(got, `result.${field}`).toEqual(want)
      }
    }
    for (const want of scenario.expectSteps ?? []) {
      const outcomes = trace.steps.filter((s) => s.stage === want.stage).map((s) => s.outcome)
      expect(outcomes, `outcomes of the ${want.stage} steps`).toContain(want.outcome)
    }
    const codes = trace.steps.flatMap((s) => s.findings.map((f) => f.code))
    for (const code of scenario.expectFindings ?? []) {
      expect(codes, `finding ${code}`).toContain(code)
    }
    for (const want of scenario.expectRejected ?? []) {
      const reasons = trace.steps
        .filter((s) => s.stage === want.stage)
        .flatMap((s) => s.rejected)
        .filter((r) => r.candidate.name === want.candidate)
        .map((r) => r.reason)
      expect(reasons, `why ${want.stage} candidate ${want.candidate} lost`).toContain(want.reason)
    }
    await expect(`${renderTraceJson(trace)}\n`).toMatchFileSnapshot(path.join(SCENARIOS_DIR, name, 'expected', 'trace.json'))
    await expect(renderTraceText(trace, { color: false })).toMatchFileSnapshot(path.join(SCENARIOS_DIR, name, 'expected', 'text.txt'))
  })
})
