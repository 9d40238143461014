import type { CheckReport } from '../engine/trace/check.js'
import { stripControl } from './sanitize.js'

/**
 * Renders a check report: one line per test, then "N passed, N failed".
 *
 *   PASS  reviews calls ratings through the sidecar
 *   FAIL  jason goes to v2 — cluster: expected outbound|9080|v2|…, got outbound|9080||…
 *   1 passed, 1 failed
 */
export function renderCheckText(report: CheckReport, options: { color: boolean }): string {
  const paint = (code: number, s: string) => (options.color ? `\u001b[${code}m${s}\u001b[39m` : s)
  const lines = report.results.map((r) => {
    if (r.pass) return `${paint(32, 'PASS')}  ${stripControl(r.name)}`
    const why = r.error ?? r.mismatches.map((m) => `${m.field}: expected ${show(m.expected)}, got ${show(m.actual)}`).join('; ')
    return `${paint(31, 'FAIL')}  ${stripControl(r.name)} — ${stripControl(why)}`
  })
  lines.push(`${report.passed} passed, ${report.failed} failed`)
  return lines.join('\n')
}

function show(v: unknown): string {
  if (Array.isArray(v)) return `[${v.join(', ')}]`
  return v === null || v === undefined ? 'null' : String(v)
}
