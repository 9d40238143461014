import type { Ruleset } from './model.js'

/** The service meshes whose capture rules mesh-trace recognises. */
export type Mesh = 'istio' | 'kuma' | 'consul' | 'osm' | 'linkerd' | 'unknown'

/** Recognises the mesh that wrote a ruleset from its chain names (iptables-semantics.md §7). */
export function detectMesh(rules: Ruleset | undefined): Mesh {
  if (!rules) return 'unknown'
  const names = [...rules.tables.values()].flatMap((t) => [...t.chains.keys()])
  if (names.some((n) => n.startsWith('KUMA_'))) return 'kuma'
  if (names.some((n) => n.startsWith('CONSUL_'))) return 'consul'
  if (names.some((n) => n.startsWith('PROXY_INIT_'))) return 'linkerd'
  if (names.some((n) => n.startsWith('ISTIO_'))) return 'istio'
  if (names.some((n) => /^PROXY_(INBOUND|IN_REDIRECT|OUTPUT|REDIRECT)$/.test(n))) return 'osm'
  return 'unknown'
}

/** The uid each mesh runs its proxy as by default. */
export const DEFAULT_PROXY_UID: Record<Mesh, number | null> = {
  istio: 1337,
  kuma: 5678,
  consul: 5995,
  osm: 1500,
  linkerd: 2102,
  unknown: null,
}

const PORTS: Record<Mesh, Record<number, string>> = {
  istio: {
    15000: 'Envoy admin (localhost only)',
    15001: 'Envoy outbound capture (virtualOutbound)',
    15006: 'Envoy inbound capture (virtualInbound)',
    15008: 'HBONE mTLS tunnel (inbound)',
    15020: "pilot-agent's merged metrics and status port",
    15021: "the sidecar's health check port",
    15053: "pilot-agent's DNS proxy",
    15090: "Envoy's Prometheus stats port",
  },
  kuma: {
    15001: 'Envoy outbound capture (outbound:passthrough)',
    15006: 'Envoy inbound capture (inbound:passthrough)',
    15053: "kuma-dp's DNS proxy",
  },
  consul: {
    15001: 'Envoy outbound capture (consul-dataplane outbound listener)',
    20000: "the sidecar's public (inbound) listener",
  },
  osm: {
    15001: 'Envoy outbound capture',
    15003: 'Envoy inbound capture',
    15010: "Envoy's Prometheus stats port",
  },
  linkerd: {
    4140: 'linkerd-proxy outbound capture',
    4143: 'linkerd-proxy inbound capture',
    4190: 'linkerd-proxy tap port',
    4191: 'linkerd-proxy admin port',
  },
  unknown: {},
}

/** What a redirect port means for the mesh: `Envoy outbound capture (virtualOutbound)` for Istio 15001. */
export function portMeaning(mesh: Mesh, port: number, direction: 'outbound' | 'inbound'): string {
  if (mesh === 'istio' && port === 15001 && direction === 'inbound') {
    return "Envoy's 'virtual' listener on 15001 (Istio ≤1.2 captured inbound traffic here too)"
  }
  if (mesh === 'osm' && port >= 15901 && port <= 15903) return 'OSM health probe port'
  return PORTS[mesh][port] ?? PORTS.istio[port] ?? `port ${port} (not a port this mesh is known to use)`
}
