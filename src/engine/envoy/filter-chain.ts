/**
 * Filter-chain selection: the connection attributes the listener filters detect, then Envoy's
 * most-specific-first pruning over `filter_chain_match` (no backtracking), or a `filter_chain_matcher` tree.
 */
import { newStep, type Alternative, type Evidence, type Finding, type MismatchCode, type TraceStep } from '../trace/trace.js'
import { canonicalIp, cidrContains, formatAddress, formatCidr, isLoopback } from './address.js'
import { arrAt, isObject, numAt, objAt, shortTypeUrl, strAt } from './config-dump.js'
import { envoyFinding } from './findings.js'
import type { CidrRange, FilterChain, JsonObject, Listener } from './model.js'
import { filterChainName, filterChainRef } from './refs.js'

/** What Envoy knows about a connection when it matches filter chains. */
export interface ConnectionAttributes {
  /** Local (restored) destination. */
  destinationIp: string
  destinationPort: number
  /** SNI ('' when none). */
  serverName: string
  /** `raw_buffer` unless tls_inspector detected TLS. */
  transportProtocol: string
  /** ALPN (TLS) or http_inspector result (plaintext). */
  applicationProtocols: string[]
  /** The physical peer. */
  directSourceIp: string
  /** The source (after PROXY protocol, if any). */
  sourceIp: string
  sourcePort: number
}

/** What the client would present; the listener filters decide what Envoy sees of it. */
export interface ClientHello {
  transportProtocol: 'raw_buffer' | 'tls'
  serverName?: string
  applicationProtocols: string[]
}

/** Evaluates a `ListenerFilterChainMatchPredicate` on the destination port; null when not modelled. */
export function predicateMatches(p: JsonObject, port: number): boolean | null {
  if (p.any_match === true) return true
  if (isObject(p.destination_port_range)) {
    const start = numAt(p.destination_port_range, 'start') ?? 0
    const end = numAt(p.destination_port_range, 'end') ?? 0
    return port >= start && port < end
  }
  if (isObject(p.not_match)) {
    const inner = predicateMatches(p.not_match, port)
    return inner === null ? null : !inner
  }
  for (const [key, all] of [
    ['or_match', false],
    ['and_match', true],
  ] as const) {
    if (isObject(p[key])) {
      const results = arrAt(p[key], 'rules').filter(isObject).map((r) => predicateMatches(r, port))
      if (results.some((r) => r === null)) return null
      return all ? results.every(Boolean) : results.some(Boolean)
    }
  }
  return null
}

/** Whether any chain needs TLS facts (old Envoy auto-injected tls_inspector for these). */
function chainsNeedTlsInspector(l: Listener): boolean {
  return l.filterChains.some((fc) => fc.match.serverNames.length > 0 || fc.match.transportProtocol === 'tls' || fc.match.applicationProtocols.length > 0)
}

/**
 * The attributes Envoy matches on, given which inspectors ran on the listeners that handled the socket.
 * Without a tls_inspector Envoy never sees TLS, SNI or ALPN; without an http_inspector it sees no ALPN on plaintext.
 */
export function detectAttributes(
  ran: Listener[],
  hello: ClientHello,
  local: { ip: string; port: number },
  source: { ip: string; port: number },
  legacyTlsInspectorInjection = true,
): { attributes: ConnectionAttributes; findings: Finding[]; notes: string[] } {
  const findings: Finding[] = []
  const notes: string[] = []
  const active = (role: 'tls_inspector' | 'http_inspector'): boolean => {
    for (const l of ran) {
      for (const f of l.listenerFilters) {
        if (f.role !== role) continue
        const disabled = f.filterDisabled ? predicateMatches(f.filterDisabled, local.port) : false
        if (disabled === true) {
          findings.push(envoyFinding('listener-filter-disabled', { filter: f.name, port: local.port }))
          continue
        }
        return true
      }
    }
    return false
  }
  let tls = active('tls_inspector')
  const final = ran[ran.length - 1]
  if (!tls && legacyTlsInspectorInjection && final && final.listenerFilters.length === 0 && chainsNeedTlsInspector(final)) {
    // Envoy before 1.17 injected a tls_inspector when chains match on TLS facts and none was configured
    // (1.17 release notes: "injection of the TLS inspector has been disabled by default").
    tls = true
    notes.push(`tls_inspector implicitly injected: ${final.name} matches on TLS facts and configures no listener filters (Envoy < 1.17)`)
  }
  const http = active('http_inspector')
  let transportProtocol = 'raw_buffer'
  let serverName = ''
  let alpn: string[] = []
  if (tls) {
    transportProtocol = hello.transportProtocol
    if (hello.transportProtocol === 'tls') {
      serverName = (hello.serverName ?? '').toLowerCase()
      alpn = hello.applicationProtocols
    }
  } else if (hello.transportProtocol === 'tls' && final) {
    findings.push(envoyFinding('transport-protocol-assumed', { listener: final.name, inspector: 'tls_inspector', what: 'TLS, SNI or ALPN', value: 'raw_buffer' }))
  }
  if (transportProtocol === 'raw_buffer') {
    if (http) alpn = hello.applicationProtocols
    else if (hello.applicationProtocols.length > 0 && final && final.filterChains.some((fc) => fc.match.applicationProtocols.length > 0)) {
      findings.push(envoyFinding('transport-protocol-assumed', { listener: final.name, inspector: 'http_inspector', what: 'the HTTP version', value: 'no application protocol' }))
    }
  }
  return {
    attributes: {
      destinationIp: canonicalIp(local.ip),
      destinationPort: local.port,
      serverName,
      transportProtocol,
      applicationProtocols: alpn,
      directSourceIp: canonicalIp(source.ip),
      sourceIp: canonicalIp(source.ip),
      sourcePort: source.port,
    },
    findings,
    notes,
  }
}

/**
 * One filter_chain_match criterion. A chain's score is its specificity (higher wins) or null when it does not match;
 * evidence rows are built only for the chains that need one (losers and the winner), from `expected` (the chain's
 * side, worked out once per chain) and `actual` (the connection's side).
 */
interface Criterion {
  name: string
  reason: MismatchCode
  /** The evidence field. */
  field: string
  score: (fc: FilterChain, a: ConnectionAttributes, survivors: FilterChain[]) => number | null
  expected: (fc: FilterChain) => string
  actual: (a: ConnectionAttributes) => string
}

function rangeScore(ranges: CidrRange[], ip: string): number | null {
  if (ranges.length === 0) return 0
  let best: number | null = null
  for (const r of ranges) if (cidrContains(r, ip) && (best === null || r.prefixLen > best)) best = r.prefixLen
  // Envoy indexes an empty list as 0.0.0.0/0 and ::/0, so an explicit /0 ties with it.
  return best
}

function rangesText(ranges: CidrRange[]): string {
  return ranges.length === 0 ? '(any)' : ranges.map(formatCidr).join(', ')
}

/** Whether `sni` matches server name `name` exactly (1000) or by `*.suffix` (suffix length), else null. */
function serverNameSpecificity(name: string, sni: string): number | null {
  if (name === sni) return 1000
  if (name.startsWith('*.') && sni.endsWith(name.slice(1)) && sni.length > name.length - 1) return name.length - 1
  return null
}

/** The connection's first application protocol that some survivor lists (Envoy tries them in order). */
function firstListedProtocol(a: ConnectionAttributes, survivors: FilterChain[]): string | null {
  for (const p of a.applicationProtocols) if (survivors.some((fc) => fc.match.applicationProtocols.includes(p))) return p
  return null
}

function isLocalConnection(a: ConnectionAttributes): boolean {
  return isLoopback(a.sourceIp) || a.sourceIp === a.destinationIp
}

/** Envoy's filter-chain criteria, in match order (listener_components.proto). */
export const FILTER_CHAIN_CRITERIA: Criterion[] = [
  {
    name: 'destination_port',
    reason: 'destination-port-mismatch',
    field: 'destination_port',
    score: (fc, a) => (fc.match.destinationPort === null ? 0 : fc.match.destinationPort === a.destinationPort ? 1 : null),
    expected: (fc) => (fc.match.destinationPort === null ? '(any)' : String(fc.match.destinationPort)),
    actual: (a) => String(a.destinationPort),
  },
  {
    name: 'prefix_ranges',
    reason: 'destination-ip-mismatch',
    field: 'destination IP (prefix_ranges)',
    score: (fc, a) => rangeScore(fc.match.prefixRanges, a.destinationIp),
    expected: (fc) => rangesText(fc.match.prefixRanges),
    actual: (a) => a.destinationIp,
  },
  {
    name: 'server_names',
    reason: 'server-name-mismatch',
    field: 'server_names (SNI)',
    score: (fc, a) => {
      const names = fc.match.serverNames
      if (names.length === 0) return 0
      if (a.serverName === '') return null
      let best: number | null = null
      for (const n of names) {
        const s = serverNameSpecificity(n, a.serverName)
        if (s !== null && (best === null || s > best)) best = s
      }
      return best
    },
    expected: (fc) => (fc.match.serverNames.length ? fc.match.serverNames.join(', ') : '(any)'),
    actual: (a) => a.serverName || '(no SNI)',
  },
  {
    name: 'transport_protocol',
    reason: 'transport-protocol-mismatch',
    field: 'transport_protocol',
    score: (fc, a) => (fc.match.transportProtocol === '' ? 0 : fc.match.transportProtocol === a.transportProtocol ? 1 : null),
    expected: (fc) => fc.match.transportProtocol || '(any)',
    actual: (a) => a.transportProtocol,
  },
  {
    name: 'application_protocols',
    reason: 'application-protocol-mismatch',
    field: 'application_protocols',
    score: (fc, a, survivors) => {
      const list = fc.match.applicationProtocols
      if (list.length === 0) return 0
      const first = firstListedProtocol(a, survivors)
      return first !== null && list.includes(first) ? 1 : null
    },
    expected: (fc) => (fc.match.applicationProtocols.length ? fc.match.applicationProtocols.join(', ') : '(any)'),
    actual: (a) => (a.applicationProtocols.length ? a.applicationProtocols.join(', ') : '(none detected)'),
  },
  {
    name: 'direct_source_prefix_ranges',
    reason: 'direct-source-ip-mismatch',
    field: 'direct source IP',
    score: (fc, a) => rangeScore(fc.match.directSourcePrefixRanges, a.directSourceIp),
    expected: (fc) => rangesText(fc.match.directSourcePrefixRanges),
    actual: (a) => a.directSourceIp,
  },
  {
    name: 'source_type',
    reason: 'source-type-mismatch',
    field: 'source_type',
    score: (fc, a) => (fc.match.sourceType === 'ANY' ? 0 : (fc.match.sourceType === 'SAME_IP_OR_LOOPBACK') === isLocalConnection(a) ? 1 : null),
    expected: (fc) => fc.match.sourceType,
    actual: (a) => (isLocalConnection(a) ? 'SAME_IP_OR_LOOPBACK' : 'EXTERNAL'),
  },
  {
    name: 'source_prefix_ranges',
    reason: 'source-ip-mismatch',
    field: 'source IP',
    score: (fc, a) => rangeScore(fc.match.sourcePrefixRanges, a.sourceIp),
    expected: (fc) => rangesText(fc.match.sourcePrefixRanges),
    actual: (a) => a.sourceIp,
  },
  {
    name: 'source_ports',
    reason: 'source-port-mismatch',
    field: 'source_ports',
    score: (fc, a) => (fc.match.sourcePorts.length === 0 ? 0 : fc.match.sourcePorts.includes(a.sourcePort) ? 1 : null),
    expected: (fc) => (fc.match.sourcePorts.length ? fc.match.sourcePorts.join(', ') : '(any)'),
    actual: (a) => String(a.sourcePort),
  },
]

/** A chain's `expected` text for every criterion, in criteria order, worked out once per chain. */
const EXPECTED = new WeakMap<FilterChain, string[]>()

function expectedOf(fc: FilterChain): string[] {
  let texts = EXPECTED.get(fc)
  if (texts === undefined) {
    texts = FILTER_CHAIN_CRITERIA.map((c) => c.expected(fc))
    EXPECTED.set(fc, texts)
  }
  return texts
}

/** The result of filter-chain selection. */
export interface FilterChainSelection {
  /** The chosen chain (possibly the default filter chain), or null. */
  chosen: FilterChain | null
  /** How it was chosen. */
  how: 'filter_chain_match' | 'default_filter_chain' | 'filter_chain_matcher' | 'none' | 'unresolved'
  /** Losers in evaluation order, each with the criterion it lost on. */
  rejected: Alternative[]
  /** Evidence for the winner, one row per criterion. */
  evidence: Evidence[]
  /** When unresolved: the type URL or construct not modelled. */
  unresolved: string | null
}

/** Envoy's filter-chain match: prune by each criterion in order, keep the most specific, never backtrack. */
export function matchFilterChains(chains: FilterChain[], a: ConnectionAttributes): Omit<FilterChainSelection, 'how' | 'unresolved'> & { matched: boolean } {
  let survivors = chains
  const rejected: Alternative[] = []
  const evidence: Evidence[] = []
  // Plain loops and one scores array: this runs for every trace, and closures per criterion showed up as garbage.
  const scores: Array<number | null> = new Array<number | null>(chains.length)
  for (let ci = 0; ci < FILTER_CHAIN_CRITERIA.length && survivors.length > 0; ci++) {
    const c = FILTER_CHAIN_CRITERIA[ci]
    let best = -Infinity
    let kept = 0
    for (let i = 0; i < survivors.length; i++) {
      const score = c.score(survivors[i], a, survivors)
      scores[i] = score
      if (score !== null && score > best) best = score
    }
    for (let i = 0; i < survivors.length; i++) if (scores[i] === best) kept++
    let actual: string | undefined
    if (kept < survivors.length) {
      actual = c.actual(a)
      const next: FilterChain[] = []
      for (let i = 0; i < survivors.length; i++) {
        const fc = survivors[i]
        const score = scores[i]
        if (score === best) next.push(fc)
        else if (score === null) rejected.push({ candidate: filterChainRef(fc), reason: c.reason, evidence: [{ field: c.field, expected: expectedOf(fc)[ci], actual }] })
        else rejected.push({ candidate: filterChainRef(fc), reason: 'less-specific', evidence: [{ field: c.name, expected: expectedOf(fc)[ci], actual: `${actual} (a chain matching it more specifically wins)` }] })
      }
      survivors = next
      if (survivors.length === 0) break
    }
    const expected = expectedOf(survivors[0])[ci]
    // Criteria the winner does not constrain are not evidence; an explicit /0 range is.
    if (best > 0 || (expected !== '(any)' && expected !== 'ANY')) evidence.push({ field: c.field, expected, actual: actual ?? c.actual(a) })
  }
  if (survivors.length === 0) return { chosen: null, rejected, evidence, matched: false }
  // Envoy rejects listeners whose chains tie; the first is reported if a dump still has such a tie.
  for (const fc of survivors.slice(1)) rejected.push({ candidate: filterChainRef(fc), reason: 'other', evidence: [{ field: 'filter_chain_match', expected: 'unique', actual: `duplicate of ${filterChainName(survivors[0])}` }] })
  return { chosen: survivors[0] ?? null, rejected, evidence, matched: true }
}

// --- filter_chain_matcher (xds.type.matcher.v3.Matcher) ---------------------------------------

function matcherInput(input: JsonObject, a: ConnectionAttributes): string | null | undefined {
  const url = shortTypeUrl(strAt(objAt(input, 'typed_config'), '@type')) ?? ''
  const kind = url.split('.').pop() ?? ''
  switch (kind) {
    case 'DestinationIPInput':
      return a.destinationIp
    case 'DestinationPortInput':
      return String(a.destinationPort)
    case 'ServerNameInput':
      return a.serverName === '' ? null : a.serverName
    case 'TransportProtocolInput':
      return a.transportProtocol
    case 'ApplicationProtocolInput':
      // Envoy joins the list as 'p1','p2' (each quoted) for exact maps.
      return a.applicationProtocols.length ? a.applicationProtocols.map((p) => `'${p}'`).join(',') : null
    case 'DirectSourceIPInput':
      return a.directSourceIp
    case 'SourceIPInput':
      return a.sourceIp
    case 'SourcePortInput':
      return String(a.sourcePort)
    case 'SourceTypeInput':
      return isLocalConnection(a) ? 'local' : null
    default:
      return undefined
  }
}

type MatcherResult = { kind: 'action'; name: string; path: string[] } | { kind: 'no_match'; path: string[] } | { kind: 'unknown'; what: string; path: string[] }

function onMatch(om: Json | undefined, a: ConnectionAttributes, path: string[]): MatcherResult {
  if (!isObject(om)) return { kind: 'no_match', path }
  if (isObject(om.action)) {
    const tc = objAt(om.action, 'typed_config')
    const name = strAt(tc, 'value') ?? strAt(om.action, 'name') ?? ''
    return { kind: 'action', name, path }
  }
  if (isObject(om.matcher)) return evalMatcher(om.matcher, a, path)
  return { kind: 'no_match', path }
}

type Json = import('./model.js').Json

function evalMatcher(m: JsonObject, a: ConnectionAttributes, path: string[]): MatcherResult {
  const tree = objAt(m, 'matcher_tree')
  const fallback = (p: string[]): MatcherResult => (isObject(m.on_no_match) ? onMatch(m.on_no_match, a, [...p, 'on_no_match']) : { kind: 'no_match', path: p })
  if (isObject(m.matcher_tree)) {
    const input = matcherInput(objAt(tree, 'input'), a)
    const inputName = shortTypeUrl(strAt(objAt(objAt(tree, 'input'), 'typed_config'), '@type')) ?? 'input'
    if (input === undefined) return { kind: 'unknown', what: inputName, path }
    if (isObject(tree.exact_match_map)) {
      const map = objAt(tree.exact_match_map, 'map')
      if (input !== null && input in map) {
        const r = onMatch(map[input], a, [...path, `${inputName.split('.').pop()} = ${input}`])
        if (r.kind !== 'no_match') return r
      }
      return fallback([...path, `${inputName.split('.').pop()} = ${input ?? '(none)'}: no exact entry`])
    }
    if (isObject(tree.prefix_match_map)) {
      const map = objAt(tree.prefix_match_map, 'map')
      const keys = Object.keys(map).filter((k) => input !== null && input.startsWith(k)).sort((x, y) => y.length - x.length)
      for (const k of keys) {
        const r = onMatch(map[k], a, [...path, `${inputName.split('.').pop()} has prefix ${k}`])
        if (r.kind !== 'no_match') return r
      }
      return fallback([...path, `${inputName.split('.').pop()} = ${input ?? '(none)'}: no prefix entry`])
    }
    if (isObject(tree.custom_match)) {
      const tc = objAt(tree.custom_match, 'typed_config')
      const url = shortTypeUrl(strAt(tc, '@type')) ?? ''
      if (!url.endsWith('IPMatcher')) return { kind: 'unknown', what: url || 'custom_match', path }
      // IP trie: the longest containing range wins; a non-exclusive entry that yields nothing falls back to shorter ones.
      const entries = arrAt(tc, 'range_matchers')
        .filter(isObject)
        .flatMap((rm) =>
          arrAt(rm, 'ranges')
            .filter(isObject)
            .map((r) => ({ range: { addressPrefix: canonicalIp(strAt(r, 'address_prefix') ?? ''), prefixLen: numAt(r, 'prefix_len') ?? 0 }, rm })),
        )
        .filter((e) => input !== null && cidrContains(e.range, input))
        .sort((x, y) => y.range.prefixLen - x.range.prefixLen)
      for (const e of entries) {
        const r = onMatch(e.rm.on_match, a, [...path, `${inputName.split('.').pop()} ${input} in ${formatCidr(e.range)}`])
        if (r.kind !== 'no_match' || e.rm.exclusive === true) return r
      }
      return fallback([...path, `${inputName.split('.').pop()} ${input ?? '(none)'}: in no range`])
    }
    return { kind: 'unknown', what: 'matcher_tree without exact/prefix/custom match', path }
  }
  if (isObject(m.matcher_list)) return { kind: 'unknown', what: 'matcher_list', path }
  return fallback(path)
}

/** Selects the filter chain of a listener (filter_chain_matcher first, else filter_chain_match pruning). */
export function selectFilterChain(l: Listener, a: ConnectionAttributes): FilterChainSelection {
  if (l.filterChainMatcher) {
    const r = evalMatcher(l.filterChainMatcher, a, [])
    if (r.kind === 'unknown') return { chosen: null, how: 'unresolved', rejected: [], evidence: [], unresolved: r.what }
    const evidence = r.path.map((p) => ({ field: 'filter_chain_matcher', expected: p, actual: 'matched' }))
    if (r.kind === 'action') {
      const chosen = l.filterChains.find((fc) => fc.name === r.name) ?? null
      if (!chosen) return { chosen: null, how: 'unresolved', rejected: [], evidence, unresolved: `filter_chain_matcher action ${r.name} names no chain` }
      const rejected = l.filterChains.filter((fc) => fc !== chosen).map((fc) => ({ candidate: filterChainRef(fc), reason: 'other' as const, evidence: [{ field: 'filter_chain_matcher', expected: `action ${filterChainName(fc)}`, actual: `action ${r.name}` }] }))
      return { chosen, how: 'filter_chain_matcher', rejected, evidence, unresolved: null }
    }
    if (l.defaultFilterChain) return { chosen: l.defaultFilterChain, how: 'default_filter_chain', rejected: [], evidence, unresolved: null }
    return { chosen: null, how: 'none', rejected: [], evidence, unresolved: null }
  }
  const m = matchFilterChains(l.filterChains, a)
  if (m.chosen) return { chosen: m.chosen, how: 'filter_chain_match', rejected: m.rejected, evidence: m.evidence, unresolved: null }
  if (l.defaultFilterChain) return { chosen: l.defaultFilterChain, how: 'default_filter_chain', rejected: m.rejected, evidence: m.evidence, unresolved: null }
  return { chosen: null, how: 'none', rejected: m.rejected, evidence: m.evidence, unresolved: null }
}

/** Builds the `filter_chain` step for a selection. */
export function filterChainStep(l: Listener, a: ConnectionAttributes, sel: FilterChainSelection, extraFindings: Finding[], notes: string[]): TraceStep {
  const destination = formatAddress(a.destinationIp, a.destinationPort)
  const decision: Record<string, unknown> = {
    listener: l.name,
    how: sel.how,
    attributes: {
      destination,
      transportProtocol: a.transportProtocol,
      serverName: a.serverName || null,
      applicationProtocols: a.applicationProtocols,
      source: formatAddress(a.sourceIp, a.sourcePort),
    },
  }
  if (notes.length) decision.notes = notes
  if (sel.how === 'unresolved') {
    return newStep('filter_chain', 'unresolved', `Listener ${l.name} selects chains with ${sel.unresolved}, which mesh-trace does not model.`, {
      decision,
      evidence: sel.evidence,
      findings: [...extraFindings, envoyFinding('unknown-extension', { where: `filter_chain_matcher of listener ${l.name}`, typeUrl: sel.unresolved ?? '' })],
    })
  }
  if (!sel.chosen) {
    const findings = [...extraFindings, envoyFinding('no-filter-chain-match', { listener: l.name })]
    // User story 13: the port's own chains survived every earlier criterion and fell only on transport_protocol tls.
    const tlsOnly = sel.rejected.filter((r) => r.reason === 'transport-protocol-mismatch' && r.evidence.some((e) => e.expected === 'tls'))
    if (a.transportProtocol === 'raw_buffer' && tlsOnly.length > 0) {
      findings.push(envoyFinding('plaintext-to-tls-only-port', { port: a.destinationPort, chains: tlsOnly.map((r) => r.candidate.name).join(', ') }))
    }
    return newStep('filter_chain', 'no_match', `No filter chain of ${l.name} matches ${destination} (${a.transportProtocol}); Envoy closes the connection.`, {
      decision,
      evidence: sel.evidence,
      rejected: sel.rejected,
      findings,
    })
  }
  const chosen = filterChainRef(sel.chosen)
  const summary =
    sel.how === 'default_filter_chain'
      ? `No filter chain of ${l.name} matches; its default_filter_chain handles the connection.`
      : `Filter chain ${chosen.name} of ${l.name} matches ${destination} (${a.transportProtocol}${a.applicationProtocols.length ? `, ${a.applicationProtocols.join('/')}` : ''}).`
  return newStep('filter_chain', 'matched', summary, { chosen, decision, evidence: sel.evidence, rejected: sel.rejected, findings: extraFindings })
}
