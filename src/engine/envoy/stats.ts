/**
 * `/stats` (text or `?format=json`) parsing and the evidence it gives for a trace.
 */
import { RE2JS } from 're2js'
import { newStep, type Evidence, type Finding, type TraceStep } from '../trace/trace.js'
import { EnvoyConfigError, arrAt, envoyIndex, isObject, normalizeJson, numAt, strAt } from './config-dump.js'
import { envoyFinding } from './findings.js'
import type { Bootstrap, EnvoyModel, Listener, StatsSnapshot, StatValue } from './model.js'

/** Parses `/stats` text (`name: value` per line) or `?format=json` (`{stats:[{name,value}]}`). */
export function parseStats(input: unknown): StatsSnapshot {
  const values = new Map<string, StatValue>()
  if (typeof input === 'string') {
    input.split(/\r?\n/).forEach((line, i) => {
      const sep = line.lastIndexOf(': ')
      if (sep <= 0) return
      const raw = line.slice(sep + 2).trim()
      // Histograms print quantiles or "No recorded values": not counters.
      if (!/^-?\d+(\.\d+)?$/.test(raw)) return
      values.set(line.slice(0, sep).trim(), { value: Number(raw), source: { file: 'stats', line: i + 1 } })
    })
    return { kind: 'stats', values }
  }
  const { json, pointerOf } = normalizeJson(input)
  if (!isObject(json) || !Array.isArray(json.stats)) {
    throw new EnvoyConfigError('stats', '', 'not-stats', 'expected /stats text or {"stats": [...]} from /stats?format=json')
  }
  for (const s of arrAt(json, 'stats')) {
    if (!isObject(s)) continue
    const name = strAt(s, 'name')
    const value = numAt(s, 'value')
    if (name === null || value === null) continue
    values.set(name, { value, source: { file: 'stats', pointer: pointerOf(s) ?? '' } })
  }
  return { kind: 'stats', values }
}

/** Envoy's stat-name form of an address: `0.0.0.0_15001` (`:` → `_`). */
export function statAddress(ip: string, port: number): string {
  return `${ip}_${port}`.replace(/:/g, '_')
}

/** Whether Istio's stats inclusion list (bootstrap `stats_matcher`) would hide `name`. */
export function isHiddenByInclusion(bootstrap: Bootstrap | null, name: string): boolean {
  const inc = bootstrap?.statsInclusion
  if (!inc) return false
  if (inc.prefixes.some((p) => name.startsWith(p))) return false
  if (inc.suffixes.some((s) => name.endsWith(s))) return false
  for (const re of inc.regexes) {
    try {
      if (RE2JS.compile(re).matcher(name).matches()) return false
    } catch {
      // An invalid pattern hides nothing we can tell about.
    }
  }
  return true
}

/** One stat looked up for evidence. */
export interface StatReading {
  /** Full stat name. */
  name: string
  /** The value, or null when the stat is absent. */
  value: number | null
  /** Whether the bootstrap's inclusion list explains the absence. */
  hiddenByInclusion: boolean
  /** Where the value came from, when present. */
  source: StatValue['source'] | null
}

/** Reads stats by name from a snapshot, noting names that Istio's inclusion list hides. */
export function readStats(stats: StatsSnapshot, bootstrap: Bootstrap | null, names: string[]): StatReading[] {
  return names.map((name) => {
    const v = stats.values.get(name)
    return { name, value: v ? v.value : null, hiddenByInclusion: !v && isHiddenByInclusion(bootstrap, name), source: v ? v.source : null }
  })
}

/** Evidence rows for stat readings: `expected` says what the trace predicts. */
export function statEvidence(readings: StatReading[], expected: string): Evidence[] {
  return readings.map((r) => ({
    field: `stat ${r.name}`,
    expected,
    actual: r.value !== null ? String(r.value) : r.hiddenByInclusion ? '(absent: not in the stats inclusion list)' : '(absent)',
  }))
}

/** What the trace concluded, for checking against counters. */
export interface StatsContext {
  outcome: string
  listener: Listener | null
  localAddress: { ip: string; port: number }
  httpStatPrefix: string | null
  tcpStatPrefix: string | null
  cluster: string | null
  endpoints: string[] | null
}

/** Builds the `stats` step: counters that confirm or contradict the simulated path. */
export function statsStep(model: EnvoyModel, ctx: StatsContext): TraceStep {
  const stats = model.stats as StatsSnapshot
  const confirm: string[] = []
  const contra: Array<{ name: string; why: string }> = []
  if (ctx.listener?.address) {
    const addr = statAddress(ctx.listener.address.ip, ctx.listener.address.port)
    confirm.push(`listener.${addr}.downstream_cx_total`)
    if (ctx.outcome === 'no_filter_chain') confirm.push(`listener.${addr}.no_filter_chain_match`)
  }
  if (ctx.httpStatPrefix !== null) {
    const p = `http.${ctx.httpStatPrefix}`
    confirm.push(`${p}.downstream_rq_total`)
    if (ctx.outcome === 'no_route') confirm.push(`${p}.no_route`)
    if (ctx.outcome === 'redirect') confirm.push(`${p}.rq_redirect`)
    if (ctx.outcome === 'direct_response') confirm.push(`${p}.rq_direct_response`)
    if (ctx.outcome === 'forwarded' || ctx.outcome === 'passthrough') contra.push({ name: `${p}.no_route`, why: 'the trace found a route' })
  }
  if (ctx.tcpStatPrefix !== null) confirm.push(`tcp.${ctx.tcpStatPrefix}.downstream_cx_total`)
  if (ctx.cluster !== null) {
    const c = `cluster.${ctx.cluster}`
    if (ctx.outcome === 'blackhole' || ctx.outcome === 'no_healthy_upstream') confirm.push(`${c}.upstream_cx_none_healthy`)
    else if (ctx.outcome === 'forwarded' || ctx.outcome === 'passthrough') confirm.push(ctx.httpStatPrefix !== null ? `${c}.upstream_rq_total` : `${c}.upstream_cx_total`)
  }
  const readings = readStats(stats, model.bootstrap, confirm)
  const evidence: Evidence[] = statEvidence(readings, '> 0 if this path was taken since the counters were reset')
  const findings: Finding[] = []
  for (const r of readings) {
    if (r.value === null && r.hiddenByInclusion) findings.push(envoyFinding('stat-hidden-by-inclusion', { stat: r.name }))
    else if (r.value === 0) findings.push(envoyFinding('stat-contradicts-trace', { stat: r.name, value: 0, why: 'no connection or request has taken this path yet' }))
  }
  for (const r of readStats(stats, model.bootstrap, contra.map((c) => c.name))) {
    const why = contra.find((c) => c.name === r.name)?.why ?? ''
    if (r.value !== null && r.value > 0) {
      evidence.push({ field: `stat ${r.name}`, expected: '0 for this path', actual: String(r.value) })
      findings.push(envoyFinding('stat-contradicts-trace', { stat: r.name, value: r.value, why }))
    }
  }
  // Per-host counters from /clusters are not filtered by the inclusion list.
  if (ctx.cluster !== null && ctx.endpoints) {
    const status = envoyIndex(model).clusterStatusesByName.get(ctx.cluster)
    for (const h of status?.hosts ?? []) {
      const rq = h.stats.rq_total ?? h.stats.cx_total
      if (rq !== undefined) evidence.push({ field: `host ${ctx.cluster}::${h.ip}:${h.port} ${h.stats.rq_total !== undefined ? 'rq_total' : 'cx_total'}`, expected: '> 0 if requests reached it', actual: String(rq) })
    }
  }
  const present = readings.filter((r) => r.value !== null).length
  return newStep('stats', present > 0 ? 'matched' : 'passed', `${present} of ${readings.length} relevant counters are present in /stats${findings.some((f) => f.code === 'stat-contradicts-trace') ? '; some do not fit the simulated path' : ''}.`, {
    decision: { counters: Object.fromEntries(readings.map((r) => [r.name, r.value])) },
    evidence,
    findings,
  })
}
