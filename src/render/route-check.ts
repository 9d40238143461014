import type { RouteCheckReport } from '../engine/envoy/route-check.js'
import { stripControl } from './sanitize.js'

/** Options for the route-check report. */
export interface RouteCheckTextOptions {
  details: boolean
  onlyFailures: boolean
  listUncovered: boolean
  failUnder?: number
  color: boolean
}

/**
 * Renders a route-check report the way router_check_tool reads: failing tests (every test with --details),
 * each mismatch as expected/actual, the coverage, then the summary line.
 *
 *   FAIL  Test_3: cluster_name expected [instant-server], actual [www2]
 *   Current route coverage: 85.71% (6 of 7 routes)
 *   12 passed, 1 failed
 */
export function renderRouteCheckText(report: RouteCheckReport, options: RouteCheckTextOptions): string {
  const paint = (code: number, s: string) => (options.color ? `\u001b[${code}m${s}\u001b[39m` : s)
  const s = stripControl
  const lines: string[] = []
  for (const r of report.results) {
    if (r.pass && (!options.details || options.onlyFailures)) continue
    const head = `${r.pass ? paint(32, 'PASS') : paint(31, 'FAIL')}  ${s(r.name)}`
    if (r.pass) {
      lines.push(head)
      continue
    }
    const why = r.mismatches.map((m) => `${s(m.field)} expected [${s(m.expected)}], actual [${s(m.actual)}]`)
    if (r.unsupported.length > 0) why.push(`not simulated: ${r.unsupported.map(s).join(', ')}`)
    if (options.details) {
      lines.push(head)
      for (const w of why) lines.push(`      ${w}`)
    } else {
      lines.push(`${head}: ${why.join('; ')}`)
    }
  }
  const c = report.coverage
  lines.push(`Current route coverage: ${c.percent.toFixed(2)}% (${c.covered} of ${c.routes} routes)`)
  if (options.failUnder !== undefined && c.percent < options.failUnder) {
    lines.push(paint(31, `Coverage ${c.percent.toFixed(2)}% is below --fail-under ${options.failUnder}%.`))
  }
  if (options.listUncovered) for (const u of c.uncovered) lines.push(`  not covered: ${s(u.virtualHost)} ${s(u.route)}`)
  lines.push(`${report.passed} passed, ${report.failed} failed`)
  return lines.join('\n')
}
