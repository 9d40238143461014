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
    return describe(m.transport, why)
  }
  return describe(cluster.transportSocket, cluster.transportSocket === null ? `${cluster.name} has no transport_socket` : `transport_socket of ${cluster.name}`)
}

function describe(t: { kind: 'tls' | 'unknown'; sni: string | null; alpn: string[]; name: string } | null, why: string): HopTransport {
  if (t === null) return { tls: false, note: `plaintext: ${why}` }
  if (t.kind === 'unknown') return { tls: false, note: `transport socket ${t.name} is not modelled; plaintext assumed (${why})` }
  const out: HopTransport = { tls: true, note: `TLS${t.sni !== null ? ` with SNI ${t.sni}` : ''}${t.alpn.length > 0 ? `, ALPN ${t.alpn.join(',')}` : ''}: ${why}` }
  if (t.sni !== null) out.sni = t.sni
  if (t.alpn.length > 0) out.alpn = t.alpn
  return out
}
