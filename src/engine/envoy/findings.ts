import { makeFinding, type FindingSpec } from '../trace/findings.js'
import type { Finding } from '../trace/trace.js'

/** Findings raised by the Envoy stages, ordered by code. */
export const ENVOY_FINDINGS = {
  'all-endpoints-unhealthy-panic': {
    level: 'warning',
    template: 'Only {healthy} of {total} hosts of {cluster} are healthy, below the panic threshold {threshold}%: Envoy balances over all hosts, unhealthy ones included.',
  },
  'assumed-capture-listener': {
    level: 'info',
    template: 'No iptables in the snapshot: the connection is assumed to be captured by listener {listener} ({address}), as the sidecar would be.',
  },
  'blackhole-registry-only': {
    level: 'warning',
    template: 'The destination is unknown to the mesh and outboundTrafficPolicy is REGISTRY_ONLY, so {what} ends in {cluster}: the connection is dropped.',
  },
  'cluster-not-found': {
    level: 'error',
    template: 'Route points at cluster {cluster}, which is not in the config dump: Envoy answers 503 with flag {flag} (a DestinationRule subset or the service may be missing).',
  },
  'config-missing-from-snapshot': {
    level: 'warning',
    template: 'The snapshot has no {what}, so the trace cannot go past this step (capture the full config_dump to see it).',
  },
  'direct-response': {
    level: 'info',
    template: 'The route answers {status} itself (direct_response); nothing is sent upstream.',
  },
  'hcm-for-tcp-request': {
    level: 'warning',
    template: 'The request is TCP but filter chain {chain} runs the HTTP connection manager: the bytes must be HTTP, otherwise Envoy closes the connection (protocol error).',
  },
  'host-header-no-domain': {
    level: 'error',
    template: 'No virtual host of route config {routeConfig} has domain {host}: Envoy answers 404 (NR). Closest domains: {closest}.',
  },
  'http-filter-may-end-request': {
    level: 'warning',
    template: 'HTTP filter {filter} runs before the router and can end the request ({effect}); the simulation cannot evaluate it without {needs}.',
  },
  'listener-filter-disabled': {
    level: 'info',
    template: 'Listener filter {filter} is disabled for destination port {port} (filter_disabled), so it detects nothing.',
  },
  'no-endpoints-in-snapshot': {
    level: 'warning',
    template: 'Cluster {cluster} is {type} but the snapshot has no endpoints for it (capture config_dump?include_eds or /clusters to see them).',
  },
  'no-filter-chain-match': {
    level: 'error',
    template: 'No filter chain of listener {listener} matches and it has no default_filter_chain: Envoy closes the connection (no_filter_chain_match).',
  },
  'no-healthy-upstream': {
    level: 'error',
    template: 'Cluster {cluster} has no healthy endpoint: Envoy answers 503 with flag UH (upstream_cx_none_healthy).',
  },
  'no-route-match': {
    level: 'error',
    template: 'No route of virtual host {virtualHost} matches {path}: Envoy answers 404 (NR).',
  },
  'passthrough-allow-any': {
    level: 'warning',
    template: 'Envoy forwards this through {cluster} to the original destination {destination}, without mesh routing or policy (outboundTrafficPolicy ALLOW_ANY): {why}.',
  },
  'plaintext-to-tls-only-port': {
    level: 'error',
    template: 'The filter chains for port {port} ({chains}) accept only TLS — Istio\'s mTLS in STRICT mode — and this connection is plaintext, so none matches and Envoy resets it. Call from a pod with a sidecar (which sends mTLS), or set the workload\'s PeerAuthentication to PERMISSIVE.',
  },
  'runtime-fraction-assumed': {
    level: 'warning',
    template: 'Route {route} matches only a fraction of requests ({fraction}); this trace assumes random value {random} and therefore {outcome}.',
  },
  'stat-contradicts-trace': {
    level: 'warning',
    template: 'Stat {stat} = {value} does not fit the simulated outcome ({why}).',
  },
  'stat-hidden-by-inclusion': {
    level: 'info',
    template: 'Stat {stat} is absent because Istio keeps only an inclusion list of stats; enable it with proxyStatsMatcher to get this evidence.',
  },
  'transport-protocol-assumed': {
    level: 'info',
    template: 'No {inspector} runs for this connection on listener {listener}, so Envoy does not detect {what}; matching uses {value}.',
  },
  'unknown-extension': {
    level: 'warning',
    template: 'The {where} uses {typeUrl}, which mesh-trace does not model: the outcome from here on cannot be simulated.',
  },
  'warming-listener': {
    level: 'warning',
    template: 'Listener {listener} is {state}; only active listeners receive connections, so it was skipped.',
  },
  'weighted-cluster-pick': {
    level: 'info',
    template: 'Weighted clusters {weights}: Envoy picks per request; with random value {random} it picks {cluster}.',
  },
} satisfies Record<string, FindingSpec>

/** A code of the Envoy findings catalog. */
export type EnvoyFindingCode = keyof typeof ENVOY_FINDINGS

/** Builds an Envoy finding from the catalog. */
export function envoyFinding(code: EnvoyFindingCode, params: Record<string, string | number> = {}): Finding {
  return makeFinding(ENVOY_FINDINGS, code, params)
}
