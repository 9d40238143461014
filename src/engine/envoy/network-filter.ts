/**
 * Network filters of the chosen chain: the terminal filter (HTTP connection manager or TCP proxy),
 * the filters ahead of it that can end a connection, and HTTP filters ahead of the router that can end a request.
 */
import type { Finding } from '../trace/trace.js'
import { arrAt, isObject, objAt, strAt } from './config-dump.js'
import { envoyFinding } from './findings.js'
import type { FilterChain, HttpFilter, JsonObject, NetworkFilter, Route } from './model.js'

/** The terminal filter of a chain and what precedes it. */
export interface NetworkFilterAnalysis {
  /** The HCM or tcp_proxy that ends the chain, or null (unknown terminal filter). */
  terminal: NetworkFilter | null
  /** Filters before the terminal one. */
  preceding: NetworkFilter[]
  /** The last filter's name/type when it is not modelled. */
  unknownTerminal: string | null
  /** Findings for filters that can end the connection (network RBAC). */
  findings: Finding[]
}

function hasRules(config: JsonObject): boolean {
  return isObject(config.rules) || isObject(config.matcher)
}

/** Finds the terminal network filter of a chain. */
export function analyzeNetworkFilters(fc: FilterChain): NetworkFilterAnalysis {
  const idx = fc.filters.findIndex((f) => f.role === 'http_connection_manager' || f.role === 'tcp_proxy')
  const findings: Finding[] = []
  const preceding = idx >= 0 ? fc.filters.slice(0, idx) : fc.filters.slice(0, -1)
  for (const f of preceding) {
    if (f.role === 'rbac' && hasRules(f.config)) {
      findings.push(envoyFinding('http-filter-may-end-request', { filter: f.name, effect: 'connection closed by RBAC (rbac.denied)', needs: "the peer's identity and the RBAC policies" }))
    }
  }
  if (idx < 0) {
    const last = fc.filters[fc.filters.length - 1]
    return { terminal: null, preceding, unknownTerminal: last ? (last.typeUrl ?? last.name) : '(no filters)', findings }
  }
  return { terminal: fc.filters[idx], preceding, unknownTerminal: null, findings }
}

const HARMLESS_HTTP_FILTERS = [
  'envoy.router',
  'envoy.filters.http.router',
  'envoy.cors',
  'envoy.filters.http.cors',
  'envoy.filters.http.grpc_stats',
  'istio.metadata_exchange',
  'istio.stats',
  'istio.alpn',
  'envoy.filters.http.grpc_web',
  'envoy.grpc_web',
  'envoy.filters.http.compressor',
  'envoy.gzip',
  'envoy.filters.http.gzip',
  'envoy.filters.http.connect_authority',
  'istio.peer_metadata',
  'envoy.filters.http.peer_metadata',
  'envoy.filters.http.header_to_metadata',
  'envoy.filters.http.upstream_codec',
]

/** What a filter that can end a request needs, keyed by a name fragment. */
const ENDING_FILTERS: Array<{ match: RegExp; effect: string; needs: string; when?: (f: HttpFilter, route: Route | null) => boolean }> = [
  { match: /rbac/, effect: '403 RBAC: access denied', needs: "the caller's identity and the RBAC policies", when: (f) => hasRules(f.config) },
  { match: /ext_authz/, effect: '403 from the external authorizer (UAEX)', needs: "the external authorization server's answer" },
  { match: /jwt_authn/, effect: '401 Jwt verification fails', needs: 'a valid JWT in the request', when: (f) => isObject(f.config.providers) && Object.keys(f.config.providers).length > 0 },
  {
    match: /fault/,
    effect: 'an injected abort (FI) or delay (DI)',
    needs: 'the fault percentage draw',
    when: (f, route) => isObject(f.config.abort) || isObject(f.config.delay) || (route !== null && isObject(objAt(route.raw, 'typed_per_filter_config')[f.name])),
  },
  { match: /local_ratelimit/, effect: '429 local rate limit (RL)', needs: 'the token bucket state', when: (f) => isObject(f.config.token_bucket) },
  { match: /ratelimit/, effect: '429 rate limited (RL)', needs: "the rate limit service's answer" },
  {
    match: /istio_authn|istio\.authn/,
    effect: '401 authentication failure',
    needs: 'the peer certificate or JWT the policy requires',
    when: (f) => arrAt(objAt(f.config, 'policy'), 'origins').length > 0 || arrAt(objAt(f.config, 'policy'), 'peers').some((p) => isObject(p) && isObject(p.mtls) && strAt(p.mtls, 'mode') !== 'PERMISSIVE'),
  },
  { match: /mixer/, effect: 'a Mixer policy denial', needs: "Mixer's policy check", when: (f) => !(isObject(f.config.transport) && f.config.transport.disable_check_calls === true) && isObject(f.config.transport) },
  { match: /lua|wasm/, effect: 'whatever the script or module does', needs: 'the script or module (not simulated)', when: (f) => !HARMLESS_HTTP_FILTERS.includes(f.name) },
]

/** Findings for HTTP filters ahead of the router that can end the request before routing. */
export function httpFilterFindings(filters: HttpFilter[], route: Route | null): Finding[] {
  const out: Finding[] = []
  for (const f of filters) {
    // The router ends the chain: filters after it never see the request.
    if (f.name === 'envoy.router' || f.name === 'envoy.filters.http.router' || (f.typeUrl ?? '').endsWith('.Router')) break
    if (HARMLESS_HTTP_FILTERS.includes(f.name)) continue
    const key = `${f.name} ${f.typeUrl ?? ''}`
    const rule = ENDING_FILTERS.find((r) => r.match.test(key))
    if (!rule) continue
    if (f.disabled && !(route && isObject(objAt(route.raw, 'typed_per_filter_config')[f.name]))) continue
    if (rule.when && !rule.when(f, route)) continue
    out.push(envoyFinding('http-filter-may-end-request', { filter: f.name, effect: rule.effect, needs: rule.needs }))
  }
  return out
}
