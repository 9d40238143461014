import type { Alternative, ConfigRef, Evidence, Finding, MismatchCode, Trace, TraceStep } from '../engine/trace/trace.js'
import { stripControl } from './sanitize.js'

/** Options for the text renderer. */
export interface TextOptions {
  color: boolean
  /** Rejected candidates shown per step before "… N more" (all with `Infinity`). */
  maxRejected?: number
}

/** Words for each mismatch code; renderers own the sentences, the engine only codes. */
export const MISMATCH_WORDS: Record<MismatchCode, string> = {
  'protocol-mismatch': 'protocol differs',
  'source-mismatch': 'source address differs',
  'destination-mismatch': 'destination address differs',
  'in-interface-mismatch': 'incoming interface differs',
  'out-interface-mismatch': 'outgoing interface differs',
  'sport-mismatch': 'source port differs',
  'dport-mismatch': 'destination port differs',
  'owner-mismatch': 'socket owner differs',
  'mark-mismatch': 'packet mark differs',
  'connmark-mismatch': 'connection mark differs',
  'ctstate-mismatch': 'conntrack state differs',
  'addrtype-mismatch': 'address type differs',
  'socket-mismatch': 'no matching socket',
  'not-reached': 'never evaluated',
  'tcp-flags-mismatch': 'TCP flags differ',
  'chain-returned': 'matched, but the chain it jumped to returned without deciding',
  'non-terminating': 'matched; its target does not decide (evaluation goes on)',
  'address-mismatch': 'address differs',
  'not-bound': 'not bound to a port',
  'not-active': 'not active',
  'destination-port-mismatch': 'destination port differs',
  'destination-ip-mismatch': 'destination IP outside its prefix ranges',
  'less-specific': 'a more specific candidate won',
  'server-name-mismatch': 'server name (SNI) differs',
  'transport-protocol-mismatch': 'transport protocol differs',
  'application-protocol-mismatch': 'application protocol (ALPN) differs',
  'direct-source-ip-mismatch': 'direct source IP differs',
  'source-type-mismatch': 'source type differs',
  'source-ip-mismatch': 'source IP differs',
  'source-port-mismatch': 'source port differs',
  'domain-mismatch': 'no domain matches the Host',
  'lower-precedence': 'a higher-precedence domain matched',
  'path-mismatch': 'path does not match',
  'header-mismatch': 'header does not match',
  'query-parameter-mismatch': 'query parameter does not match',
  'method-mismatch': 'method differs',
  'grpc-mismatch': 'not a gRPC request',
  'tls-context-mismatch': 'TLS context differs',
  'runtime-fraction': 'runtime fraction',
  shadowed: 'an earlier candidate already won',
  unhealthy: 'unhealthy',
  degraded: 'degraded',
  excluded: 'excluded from load balancing',
  other: 'did not match',
}

interface Palette {
  green(s: string): string
  red(s: string): string
  yellow(s: string): string
  cyan(s: string): string
  dim(s: string): string
  bold(s: string): string
}

function palette(color: boolean): Palette {
  const wrap = (open: number, close: number) => (s: string) => (color ? `\u001b[${open}m${s}\u001b[${close}m` : s)
  return { green: wrap(32, 39), red: wrap(31, 39), yellow: wrap(33, 39), cyan: wrap(36, 39), dim: wrap(2, 22), bold: wrap(1, 22) }
}

const OUTCOME_MARK: Record<TraceStep['outcome'], string> = {
  matched: '✓',
  passed: '→',
  dropped: '✗',
  no_match: '✗',
  unresolved: '?',
}

/**
 * Renders a trace as indented text, one block per step.
 *
 *   3. listener      matched   0.0.0.0_9080 accepts the hand-off from virtual (wildcard 0.0.0.0:9080)
 *        chosen  listener 0.0.0.0_9080  config_dump /configs/4/dynamicActiveListeners/2/listener
 *        ✗ listener 10.254.234.130_9080 — address differs: expected 10.254.234.130:9080, got …
 */
export function renderTraceText(trace: Trace, options: TextOptions): string {
  const c = palette(options.color)
  const max = options.maxRejected ?? 12
  const s = stripControl
  const lines: string[] = []
  const r = trace.request
  const what = r.protocol === 'tcp' ? `tcp://${hostPort(r.destination.host ?? r.destination.ip ?? '', r.destination.port)}` : `${r.method ?? 'GET'} ${r.protocol}://${hostPort(r.destination.host ?? '', r.destination.port)}${r.path ?? '/'}`
  const from = r.direction === 'outbound'
    ? `outbound from ${r.source.pod ?? 'the pod'}${r.source.ip ? ` (${r.source.ip}${r.source.uid !== null ? `, uid ${r.source.uid}` : ''})` : ''}`
    : `inbound to the pod from ${r.source.ip ?? 'a peer'}`
  lines.push(`${c.bold(s(what))}  ${c.dim(s(from))}`)
  const dest = [r.destination.host, r.destination.fqdn !== r.destination.host ? r.destination.fqdn : null, r.destination.ip !== null ? hostPort(r.destination.ip, r.destination.port) : '(address unknown)']
    .filter((x): x is string => x !== null && x !== undefined && x !== '')
  lines.push(c.dim(`destination ${s(dest.join(' → '))}`))
  const extraHeaders = Object.entries(r.headers).filter(([k]) => k !== 'host')
  if (extraHeaders.length > 0) lines.push(c.dim(`headers ${s(extraHeaders.map(([k, v]) => `${k}: ${v}`).join('; '))}`))
  lines.push('')

  trace.steps.forEach((step, i) => {
    const mark = OUTCOME_MARK[step.outcome]
    const colored = step.outcome === 'matched' ? c.green(mark) : step.outcome === 'passed' ? c.cyan(mark) : step.outcome === 'unresolved' ? c.yellow(mark) : c.red(mark)
    lines.push(`${String(i + 1).padStart(2)}. ${c.bold(step.stage.padEnd(14))} ${colored} ${s(step.summary)}`)
    if (step.chosen !== undefined) {
      lines.push(`      ${c.dim('chosen')}  ${refLine(step.chosen, s)}`)
      if (step.chosen.excerpt !== undefined && step.chosen.excerpt !== '') lines.push(`              ${c.cyan(s(step.chosen.excerpt))}`)
    }
    for (const e of step.evidence) lines.push(`      ${c.green('✓')} ${evidenceLine(e, s)}`)
    const shown = step.rejected.slice(0, max)
    for (const alt of shown) lines.push(`      ${c.red('✗')} ${c.dim(altLine(alt, s))}`)
    if (step.rejected.length > shown.length) {
      lines.push(`      ${c.dim(`… ${step.rejected.length - shown.length} more rejected (-o json lists all)`)}`)
    }
    for (const f of step.findings) lines.push(`      ${findingLine(f, c, s)}`)
  })
  if (trace.steps.length > 0) lines.push('')
  lines.push(resultLine(trace, c, s))
  return lines.join('\n')
}

function hostPort(host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`
}

function refLine(ref: ConfigRef, s: (x: string) => string): string {
  const src = ref.source.line !== undefined ? `${ref.source.file}:${ref.source.line}` : ref.source.pointer !== undefined ? `${ref.source.file} ${ref.source.pointer}` : ref.source.file
  return `${ref.kind} ${s(ref.name)}  (${s(src)})`
}

function evidenceLine(e: Evidence, s: (x: string) => string): string {
  return `${s(e.field)}: expected ${s(e.expected)}, got ${s(e.actual)}`
}

function altLine(alt: Alternative, s: (x: string) => string): string {
  const where = alt.candidate.source.line !== undefined ? ` (line ${alt.candidate.source.line})` : ''
  const words = MISMATCH_WORDS[alt.reason] ?? alt.reason
  const ev = alt.evidence.length > 0 ? `: ${alt.evidence.map((e) => evidenceLine(e, s)).join('; ')}` : ''
  return `${alt.candidate.kind} ${s(alt.candidate.name)}${where} — ${words}${ev}`
}

function findingLine(f: Finding, c: Palette, s: (x: string) => string): string {
  const tag = f.level === 'error' ? c.red('error') : f.level === 'warning' ? c.yellow('warning') : c.cyan('note')
  return `${tag} [${s(f.code)}] ${s(f.message)}`
}

function resultLine(trace: Trace, c: Palette, s: (x: string) => string): string {
  const res = trace.result
  const parts: string[] = []
  if (res.intercepted === false) parts.push('not intercepted')
  else if (res.intercepted === true) parts.push(`intercepted → :${res.redirectPort ?? '?'}`)
  if (res.listener !== null) parts.push(`listener ${res.listener}`)
  if (res.filterChain !== null) parts.push(`chain ${res.filterChain}`)
  if (res.routeConfig !== null) parts.push(`route config ${res.routeConfig}`)
  if (res.virtualHost !== null) parts.push(`vhost ${res.virtualHost}`)
  if (res.route !== null) parts.push(`route ${res.route}`)
  if (res.cluster !== null) parts.push(`cluster ${res.cluster}`)
  if (res.endpoints !== null) parts.push(res.endpoints.length > 0 ? res.endpoints.join(', ') : '(no endpoints)')
  const good = res.outcome === 'forwarded' || res.outcome === 'passthrough'
  const outcome = good ? c.green(res.outcome) : res.outcome === 'unknown' ? c.yellow(res.outcome) : c.red(res.outcome)
  return `${c.bold('result')} ${outcome}: ${s(parts.join(' → '))}`
}
