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

/** Evidence rows for the stat readings that exist (an absent stat is no evidence either way): `expected` says what the trace predicts. */
export function statEvidence(readings: StatReading[], expected: string): Evidence[] {
  return readings.filter((r) => r.value !== null).map((r) => ({ field: `stat ${r.name}`, expected, actual: String(r.value) }))
}

/** An Istio standard metric read from its tagged text form (`reporter=.=source;.;…;.;istio_requests_total`). */
export interface IstioMetric {
  metric: string
  tags: Record<string, string>
}

/** Splits an Istio standard metric name into its tags and metric (null for other stats). */
export function parseIstioMetric(name: string): IstioMetric | null {
  if (!name.startsWith('reporter=.=')) return null
  const parts = name.split(';.;')
  const metric = parts.pop() ?? ''
  const tags: Record<string, string> = {}
  for (const p of parts) {
    const sep = p.indexOf('=.=')
    if (sep > 0) tags[p.slice(0, sep)] = p.slice(sep + 3)
  }
  return { metric, tags }
}

/** The response flag Istio's metrics would carry for a trace outcome ('-' = none), or null when not HTTP-visible. */
function expectedFlag(outcome: string): string | null {
  if (outcome === 'forwarded' || outcome === 'passthrough' || outcome === 'redirect' || outcome === 'direct_response') return '-'
  if (outcome === 'no_healthy_upstream' || outcome === 'blackhole') return 'UH'
  if (outcome === 'no_route') return 'NR'
  if (outcome === 'no_cluster') return 'NC'
  return null
}

/** What the trace concluded, for checking against counters. */
export interface StatsContext {
  direction: 'outbound' | 'inbound'
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
    if (ctx.outcome === 'no_cluster') confirm.push(`${p}.no_cluster`)
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
  // Cluster membership gauges: how many hosts Envoy counts healthy right now (story 4: "no healthy upstream").
  if (ctx.cluster !== null) {
    const [healthy, total] = readStats(stats, model.bootstrap, [`cluster.${ctx.cluster}.membership_healthy`, `cluster.${ctx.cluster}.membership_total`])
    if (healthy.value !== null) {
      const none = ctx.outcome === 'no_healthy_upstream'
      evidence.push({ field: `stat ${healthy.name}`, expected: none ? '0 (no healthy host)' : '> 0', actual: `${healthy.value}${total.value !== null ? ` of ${total.value}` : ''}` })
      if (none !== (healthy.value === 0) && (none || ctx.outcome === 'forwarded')) {
        findings.push(envoyFinding('stat-contradicts-trace', { stat: healthy.name, value: healthy.value, why: none ? 'the trace found no healthy host' : 'the trace found healthy hosts' }))
      }
    }
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
  // Istio's standard metrics survive the inclusion list: requests (HTTP) or connections (TCP) by destination and flags.
  const istio = istioMetricEvidence(stats, ctx)
  evidence.push(...istio.evidence)
  findings.push(...istio.findings)
  const present = readings.filter((r) => r.value !== null).length + istio.evidence.length
  return newStep('stats', present > 0 ? 'matched' : 'passed', `${present} of ${readings.length + istio.evidence.length} relevant counters are present in /stats${findings.some((f) => f.code === 'stat-contradicts-trace') ? '; some do not fit the simulated path' : ''}.`, {
    decision: { counters: Object.fromEntries(readings.map((r) => [r.name, r.value])) },
    evidence,
    findings,
  })
}

function istioMetricEvidence(stats: StatsSnapshot, ctx: StatsContext): { evidence: Evidence[]; findings: Finding[] } {
  if (ctx.cluster === null) return { evidence: [], findings: [] }
  const parts = ctx.cluster.split('|')
  const service = parts.length === 4 ? parts[3] : null
  const reporter = ctx.direction === 'outbound' ? 'source' : 'destination'
  const metric = ctx.httpStatPrefix !== null ? 'istio_requests_total' : 'istio_tcp_connections_opened_total'
  const rows: Array<{ tags: Record<string, string>; value: number }> = []
  for (const [name, v] of stats.values) {
    const m = parseIstioMetric(name)
    if (!m || m.metric !== metric || m.tags.reporter !== reporter) continue
    // Inbound clusters of Istio ≥1.8 (`inbound|9080||`) name no service: every destination-reported row is this pod's.
    const matches =
      service !== null && service !== '' ? m.tags.destination_service === service : service === '' && reporter === 'destination' ? true : m.tags.destination_service_name === ctx.cluster
    if (matches) rows.push({ tags: m.tags, value: v.value })
  }
  const flag = expectedFlag(ctx.outcome)
  const evidence = rows.map((r) => ({
    field: `${metric}{reporter=${reporter}, destination_service=${r.tags.destination_service ?? '?'}${r.tags.destination_version ? `, destination_version=${r.tags.destination_version}` : ''}${r.tags.response_code !== undefined ? `, response_code=${r.tags.response_code}` : ''}, response_flags=${r.tags.response_flags ?? '?'}}`,
    expected: flag === null ? 'counts requests on this path' : `response_flags ${flag} for this path`,
    actual: String(r.value),
  }))
  const findings: Finding[] = []
  if (flag !== null && rows.length > 0 && !rows.some((r) => r.tags.response_flags === flag && r.value > 0)) {
    findings.push(envoyFinding('stat-contradicts-trace', { stat: metric, value: rows.reduce((a, r) => a + r.value, 0), why: `no request to ${service ?? ctx.cluster} was recorded with response_flags ${flag}` }))
  }
  return { evidence, findings }
}
