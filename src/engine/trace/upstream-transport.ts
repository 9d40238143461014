import { envoyIndex } from '../envoy/config-dump.js'
import type { LbEndpoint } from '../envoy/model.js'
import type { HopTarget, HopTransport } from './follow.js'
import type { TraceContext } from './trace-request.js'
import type { Trace } from './trace.js'

const snake = (k: string): string => k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)

/**
 * How the previous pod's Envoy connects to the endpoint it chose, read from the chosen cluster:
 * the first `transport_socket_matches` entry whose `match` is a subset of the endpoint's
 * `envoy.transport_socket_match` metadata (Istio's auto-mTLS: `tlsMode: istio` on sidecar pods), else the
 * cluster's `transport_socket` (or v2 `tls_context`), else plaintext.
 */
export function upstreamTransport(previous: TraceContext, trace: Trace, endpoint: HopTarget): HopTransport {
  const clusterName = trace.result.cluster
  const model = previous.envoy
  if (model === undefined || clusterName === null) return { tls: false, note: 'plaintext (the previous pod has no cluster config to say otherwise)' }
  const index = envoyIndex(model)
  const cluster = index.clustersByName.get(clusterName)
  if (cluster === undefined) return { tls: false, note: `plaintext (cluster ${clusterName} is not in the previous pod's config)` }
  const lbEndpoints: LbEndpoint[] = []
  const cla = index.loadAssignmentsByCluster.get(cluster.edsServiceName ?? cluster.name) ?? cluster.loadAssignment
  for (const locality of cla?.endpoints ?? []) lbEndpoints.push(...locality.lbEndpoints)
  const host = lbEndpoints.find((e) => e.ip === endpoint.ip && e.port === endpoint.port)
  const metadata = Object.fromEntries(Object.entries(host?.transportSocketMatch ?? {}).map(([k, v]) => [snake(k), v]))
  for (const m of cluster.transportSocketMatches) {
    const matches = Object.entries(m.match).every(([k, v]) => metadata[snake(k)] === v)
    if (!matches) continue
    const why = `transport_socket_matches "${m.name}" of ${cluster.name}${Object.keys(m.match).length > 0 ? ` (endpoint metadata ${JSON.stringify(host?.transportSocketMatch ?? {})})` : ''}`
    return describe(m.transport, why, istioAlpnOverride(previous, trace))
  }
  return describe(cluster.transportSocket, cluster.transportSocket === null ? `${cluster.name} has no transport_socket` : `transport_socket of ${cluster.name}`, istioAlpnOverride(previous, trace))
}

function describe(
  t: { kind: 'tls' | 'unknown'; sni: string | null; alpn: string[]; name: string } | null,
  why: string,
  override?: { alpn: string[]; why: string },
): HopTransport {
  if (t === null) return { tls: false, note: `plaintext: ${why}` }
  if (t.kind === 'unknown') return { tls: false, note: `transport socket ${t.name} is not modelled; plaintext assumed (${why})` }
  const alpn = override?.alpn ?? t.alpn
  const alpnWhy = override !== undefined ? ` (${override.why})` : ''
  const out: HopTransport = { tls: true, note: `TLS${t.sni !== null ? ` with SNI ${t.sni}` : ''}${alpn.length > 0 ? `, ALPN ${alpn.join(',')}${alpnWhy}` : ''}: ${why}` }
  if (t.sni !== null) out.sni = t.sni
  if (alpn.length > 0) out.alpn = alpn
  return out
}

/**
 * Istio's `istio.alpn` HTTP filter replaces the upstream TLS ALPN per upstream protocol
 * (istio/proxy source/extensions/filters/http/alpn): read its `alpn_override` from the HCM the request went through.
 */
function istioAlpnOverride(previous: TraceContext, trace: Trace): { alpn: string[]; why: string } | undefined {
  if (trace.request.protocol === 'tcp') return undefined
  const hcm = [...trace.steps].reverse().find((s) => s.stage === 'network_filter' && s.chosen?.source.pointer !== undefined)
  const filters = hcm?.decision.httpFilters
  if (!Array.isArray(filters) || !filters.includes('istio.alpn')) return undefined
  const raw = resolvePointer(previous.snapshot.envoy?.configDump, hcm?.chosen?.source.pointer ?? '')
  const config = field(raw, 'typed_config', 'typedConfig') ?? field(raw, 'config')
  const list = field(config, 'http_filters', 'httpFilters')
  const alpnFilter = Array.isArray(list) ? list.find((f) => field(f, 'name') === 'istio.alpn') : undefined
  const typed = field(alpnFilter, 'typed_config', 'typedConfig')
  const overrides = field(typed, 'alpn_override', 'alpnOverride') ?? field(field(typed, 'value'), 'alpn_override', 'alpnOverride')
  if (!Array.isArray(overrides)) return undefined
  // The simulated request is HTTP/1.1, and Istio's clusters use the downstream protocol upstream.
  const wanted = 'HTTP11'
  const entry = overrides.find((o) => (field(o, 'upstream_protocol', 'upstreamProtocol') ?? 'HTTP10') === wanted)
  const alpn = field(entry, 'alpn_override', 'alpnOverride')
  if (!Array.isArray(alpn)) return undefined
  return { alpn: alpn.map(String), why: `istio.alpn overrides it for an ${wanted} upstream` }
}

function field(o: unknown, ...names: string[]): unknown {
  if (o === null || typeof o !== 'object' || Array.isArray(o)) return undefined
  for (const n of names) if (n in o) return (o as Record<string, unknown>)[n]
  return undefined
}

/** RFC 6901 pointer into a raw JSON document. */
function resolvePointer(doc: unknown, pointer: string): unknown {
  if (pointer === '') return doc
  let cur = doc
  for (const token of pointer.split('/').slice(1).map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'))) {
    if (cur === null || typeof cur !== 'object') return undefined
    cur = (cur as Record<string, unknown>)[token]
  }
  return cur
}
