/**
 * The normalised Envoy configuration model: types only.
 * Names follow Envoy's own protos (Listener, FilterChainMatch, VirtualHost, LbEndpoint…).
 * Every object keeps `source`, a JSON pointer into the ORIGINAL document it came from.
 */
import type { SourceRef } from '../trace/trace.js'

/** A JSON value after camelCase → snake_case normalisation. */
export type Json = null | boolean | number | string | Json[] | JsonObject

/** A JSON object after normalisation. */
export interface JsonObject {
  [key: string]: Json
}

/** An IP and port, as in `socket_address`. */
export interface SocketAddress {
  /** The IP literal (v4 or v6, without brackets) or a hostname for DNS clusters. */
  ip: string
  /** The port (`port_value`). */
  port: number
  /** `ipv4_compat`: a `::` socket that also accepts IPv4. */
  ipv4Compat?: boolean
}

/** A `CidrRange`: `address_prefix` and `prefix_len`. */
export interface CidrRange {
  /** The address prefix as written. */
  addressPrefix: string
  /** The prefix length (0 when unset, as in Envoy). */
  prefixLen: number
}

/** Where a listener stands in the listener manager (only `static` and `active` serve traffic). */
export type ListenerState = 'static' | 'active' | 'warming' | 'draining' | 'error'

/** What a listener filter does, identified by type URL first and name second. */
export type ListenerFilterRole = 'original_dst' | 'tls_inspector' | 'http_inspector' | 'proxy_protocol' | 'original_src' | 'other'

/** One entry of `Listener.listener_filters`. */
export interface ListenerFilter {
  kind: 'listener-filter'
  /** The filter's `name`. */
  name: string
  /** The config type URL without `type.googleapis.com/`, if any. */
  typeUrl: string | null
  /** The role this engine recognises. */
  role: ListenerFilterRole
  /** `filter_disabled` (ListenerFilterChainMatchPredicate), normalised, if any. */
  filterDisabled: JsonObject | null
  /** Where it is in the original document. */
  source: SourceRef
}

/** `FilterChainMatch`, with proto defaults filled in. */
export interface FilterChainMatch {
  /** `destination_port`, null when unset. */
  destinationPort: number | null
  /** `prefix_ranges` (destination IP). */
  prefixRanges: CidrRange[]
  /** `server_names` (SNI), lower-cased. */
  serverNames: string[]
  /** `transport_protocol`, '' when unset. */
  transportProtocol: string
  /** `application_protocols`. */
  applicationProtocols: string[]
  /** `direct_source_prefix_ranges`. */
  directSourcePrefixRanges: CidrRange[]
  /** `source_type`. */
  sourceType: 'ANY' | 'SAME_IP_OR_LOOPBACK' | 'EXTERNAL'
  /** `source_prefix_ranges`. */
  sourcePrefixRanges: CidrRange[]
  /** `source_ports`. */
  sourcePorts: number[]
}

/** The role of a network filter in a chain. */
export type NetworkFilterRole = 'http_connection_manager' | 'tcp_proxy' | 'rbac' | 'other'

/** One entry of `FilterChain.filters`. */
export interface NetworkFilter {
  kind: 'network-filter'
  /** The filter's `name`. */
  name: string
  /** The config type URL (TypedStruct unwrapped) without `type.googleapis.com/`, if any. */
  typeUrl: string | null
  /** The role this engine recognises. */
  role: NetworkFilterRole
  /** The filter config (typed_config without `@type`, or the v2 `config` Struct), normalised. */
  config: JsonObject
  /** Parsed HTTP connection manager, when role is `http_connection_manager`. */
  hcm: HttpConnectionManager | null
  /** Parsed TCP proxy, when role is `tcp_proxy`. */
  tcpProxy: TcpProxy | null
  /** Where it is in the original document. */
  source: SourceRef
}

/** One entry of `HttpConnectionManager.http_filters`. */
export interface HttpFilter {
  kind: 'http-filter'
  /** The filter's `name`. */
  name: string
  /** The config type URL (TypedStruct unwrapped), if any. */
  typeUrl: string | null
  /** Filter config, normalised. */
  config: JsonObject
  /** Whether the filter is `disabled` by default (enabled per route). */
  disabled: boolean
  /** Where it is. */
  source: SourceRef
}

/** The HTTP connection manager's routing-relevant fields. */
export interface HttpConnectionManager {
  kind: 'http_connection_manager'
  /** `stat_prefix`. */
  statPrefix: string
  /** Where the routes come from. */
  routeSource:
    | { kind: 'rds'; routeConfigName: string }
    | { kind: 'route_config'; routeConfig: RouteConfiguration }
    | { kind: 'scoped_routes' }
    | { kind: 'none' }
  /** `http_filters` in order (router last). */
  httpFilters: HttpFilter[]
  /** `strip_matching_host_port`. */
  stripMatchingHostPort: boolean
  /** `strip_any_host_port`. */
  stripAnyHostPort: boolean
}

/** The TCP proxy's routing-relevant fields. */
export interface TcpProxy {
  kind: 'tcp_proxy'
  /** `stat_prefix`. */
  statPrefix: string
  /** `cluster`, or null with weighted clusters / v2 routes. */
  cluster: string | null
  /** `weighted_clusters.clusters`. */
  weightedClusters: Array<{ name: string; weight: number }>
  /** v2 `deprecated_v1.routes`, first match wins. */
  deprecatedRoutes: JsonObject[]
}

/** A `FilterChain`. */
export interface FilterChain {
  kind: 'filter-chain'
  /** `name`, null when unset. */
  name: string | null
  /** Index in `filter_chains` (-1 for the default filter chain). */
  index: number
  /** `filter_chain_match` with defaults. */
  match: FilterChainMatch
  /** `filters`. */
  filters: NetworkFilter[]
  /** Transport socket name or type (e.g. `tls`), null for plaintext. */
  transportSocket: string | null
  /** Where it is. */
  source: SourceRef
}

/** An Envoy `Listener`. */
export interface Listener {
  kind: 'listener'
  /** `name`. */
  name: string
  /** `address.socket_address`, null for pipe / internal listeners. */
  address: SocketAddress | null
  /** `additional_addresses` socket addresses. */
  additionalAddresses: SocketAddress[]
  /** Which kind of address it binds. */
  addressKind: 'socket' | 'pipe' | 'internal' | 'none'
  /** Listener-manager state; only static/active serve. */
  state: ListenerState
  /** `use_original_dst` (or `hidden_envoy_deprecated_use_original_dst`). */
  useOriginalDst: boolean
  /** `bind_to_port` (v3) or `deprecated_v1.bind_to_port` (v2); default true. */
  bindToPort: boolean
  /** `transparent`. */
  transparent: boolean
  /** `traffic_direction` if set. */
  trafficDirection: string | null
  /** `listener_filters`. */
  listenerFilters: ListenerFilter[]
  /** `filter_chains`. */
  filterChains: FilterChain[]
  /** `default_filter_chain`. */
  defaultFilterChain: FilterChain | null
  /** `filter_chain_matcher` (xds matcher tree), normalised, if set. */
  filterChainMatcher: JsonObject | null
  /** Where it is. */
  source: SourceRef
}

/** A `HeaderMatcher` / route match etc. are kept as normalised JSON and read by the matchers. */
export type RouteMatch = JsonObject

/** A `WeightedCluster.ClusterWeight`. */
export interface ClusterWeight {
  /** `name` (or `cluster_header` when the weight names a header). */
  name: string
  /** `weight`. */
  weight: number
  /** `cluster_header` of the weight, if any. */
  clusterHeader: string | null
  /** Normalised entry. */
  raw: JsonObject
}

/** How a route picks its cluster. */
export type ClusterSpecifier =
  | { kind: 'cluster'; name: string }
  | { kind: 'cluster_header'; header: string }
  | { kind: 'weighted_clusters'; clusters: ClusterWeight[]; totalWeight: number | null; runtimeKeyPrefix: string | null }
  | { kind: 'cluster_specifier_plugin'; raw: JsonObject }
  | { kind: 'none' }

/** A route's action. */
export type RouteAction =
  | { kind: 'route'; cluster: ClusterSpecifier; config: JsonObject }
  | { kind: 'redirect'; config: JsonObject }
  | { kind: 'direct_response'; status: number; body: string | null; config: JsonObject }
  | { kind: 'non_forwarding' | 'filter_action' | 'none'; config: JsonObject }

/** A `Route`. */
export interface Route {
  kind: 'route'
  /** `name`, null when unset. */
  name: string | null
  /** Index within its virtual host. */
  index: number
  /** `match`, normalised. */
  match: RouteMatch
  /** The action. */
  action: RouteAction
  /** `metadata.filter_metadata.istio.config` (the VirtualService path), if any. */
  istioConfig: string | null
  /** The whole normalised route (for headers to add, decorators…). */
  raw: JsonObject
  /** Where it is. */
  source: SourceRef
}

/** A `VirtualHost`. */
export interface VirtualHost {
  kind: 'virtual-host'
  /** `name`. */
  name: string
  /** `domains`, lower-cased. */
  domains: string[]
  /** `routes`. */
  routes: Route[]
  /** The whole normalised vhost (virtual_clusters, require_tls, headers to add…). */
  raw: JsonObject
  /** Where it is. */
  source: SourceRef
}

/** A `RouteConfiguration` (from RDS or inline in an HCM). */
export interface RouteConfiguration {
  kind: 'route-config'
  /** `name` ('' when unset on an inline config). */
  name: string
  /** `virtual_hosts`. */
  virtualHosts: VirtualHost[]
  /** `ignore_port_in_host_matching`. */
  ignorePortInHostMatching: boolean
  /** `vhost_header`, lower-cased, null when unset. */
  vhostHeader: string | null
  /** `ignore_path_parameters_in_path_matching`. */
  ignorePathParameters: boolean
  /** Whether it was inline in an HCM. */
  inline: boolean
  /** The whole normalised route configuration. */
  raw: JsonObject
  /** Where it is. */
  source: SourceRef
}

/** The cluster discovery types (`cluster_type` extensions are `extension`). */
export type ClusterDiscoveryType = 'STATIC' | 'STRICT_DNS' | 'LOGICAL_DNS' | 'EDS' | 'ORIGINAL_DST' | 'extension'

/** An Envoy `Cluster`. */
export interface Cluster {
  kind: 'cluster'
  /** `name`. */
  name: string
  /** `type` (absent = STATIC), or `extension` for `cluster_type`. */
  type: ClusterDiscoveryType
  /** `cluster_type.typed_config` type URL / name for extensions. */
  extensionType: string | null
  /** `lb_policy` (default ROUND_ROBIN). */
  lbPolicy: string
  /** `eds_cluster_config.service_name`, if any. */
  edsServiceName: string | null
  /** Inline `load_assignment` or v2 `hosts`. */
  loadAssignment: ClusterLoadAssignment | null
  /** Dump state. */
  state: 'static' | 'active' | 'warming'
  /** `metadata.filter_metadata.istio.config` (DestinationRule path), if any. */
  istioConfig: string | null
  /** `upstream_bind_config.source_address`, if any. */
  upstreamBindAddress: string | null
  /** `common_lb_config.healthy_panic_threshold` percent (default 50). */
  healthyPanicThreshold: number
  /** `transport_socket` (v2 `tls_context`): how Envoy connects to this cluster's hosts; null = plaintext. */
  transportSocket: UpstreamTransport | null
  /** `transport_socket_matches`, in order: the first whose `match` is a subset of an endpoint's `envoy.transport_socket_match` metadata wins. */
  transportSocketMatches: Array<{ name: string; match: Record<string, string>; transport: UpstreamTransport | null }>
  /** Where it is. */
  source: SourceRef
}

/** An upstream transport socket: TLS (with the SNI and ALPN Envoy offers), or one the engine does not model. */
export interface UpstreamTransport {
  kind: 'tls' | 'unknown'
  /** `UpstreamTlsContext.sni`. */
  sni: string | null
  /** `common_tls_context.alpn_protocols`. */
  alpn: string[]
  /** The socket's name or type URL, for unknown ones. */
  name: string
}

/** EDS health status of an endpoint. */
export type HealthStatus = 'UNKNOWN' | 'HEALTHY' | 'UNHEALTHY' | 'DRAINING' | 'TIMEOUT' | 'DEGRADED'

/** An `LbEndpoint`. */
export interface LbEndpoint {
  kind: 'lb-endpoint'
  /** IP (or hostname for DNS clusters, or pipe/internal address). */
  ip: string
  /** Port (0 for pipes). */
  port: number
  /** `health_status` (default UNKNOWN). */
  healthStatus: HealthStatus
  /** `load_balancing_weight` (default 1). */
  weight: number
  /** `endpoint.hostname`. */
  hostname: string | null
  /** `metadata.filter_metadata["envoy.transport_socket_match"]` (Istio: `{tlsMode: istio}` on sidecar pods). */
  transportSocketMatch: Record<string, string> | null
  /** Where it is. */
  source: SourceRef
}

/** A `LocalityLbEndpoints`. */
export interface LocalityLbEndpoints {
  /** `locality` as region/zone/sub_zone. */
  locality: { region: string; zone: string; subZone: string }
  /** `priority` (default 0). */
  priority: number
  /** `load_balancing_weight`, null when unset. */
  weight: number | null
  /** `lb_endpoints`. */
  lbEndpoints: LbEndpoint[]
}

/** A `ClusterLoadAssignment`. */
export interface ClusterLoadAssignment {
  kind: 'cluster-load-assignment'
  /** `cluster_name`. */
  clusterName: string
  /** `endpoints`. */
  endpoints: LocalityLbEndpoints[]
  /** `policy.overprovisioning_factor` (default 140). */
  overprovisioningFactor: number
  /** Where it is. */
  source: SourceRef
}

/** One host of a cluster in `/clusters`. */
export interface HostStatus {
  /** IP (or pipe path). */
  ip: string
  /** Port. */
  port: number
  /** `health_flags` split: `['healthy']` or e.g. `['failed_outlier_check']`. */
  healthFlags: string[]
  /** EDS health status (json form), if shown. */
  edsHealthStatus: string | null
  /** Per-host counters (cx_total, rq_total…). */
  stats: Record<string, number>
  /** `weight`, `priority`, locality, hostname when shown. */
  weight: number | null
  priority: number | null
  hostname: string | null
  /** Where it is: a line of the text or a pointer into the JSON. */
  source: SourceRef
}

/** One cluster in `/clusters`. */
export interface ClusterStatus {
  /** Cluster name. */
  name: string
  /** `added_via_api`. */
  addedViaApi: boolean | null
  /** Hosts. */
  hosts: HostStatus[]
  /** Where it is. */
  source: SourceRef
}

/** One stat value from `/stats`. */
export interface StatValue {
  /** The value (counters and gauges). */
  value: number
  /** Where it is. */
  source: SourceRef
}

/** A `/stats` snapshot. */
export interface StatsSnapshot {
  kind: 'stats'
  /** Counters and gauges by full name. */
  values: Map<string, StatValue>
}

/** Bootstrap facts the trace needs. */
export interface Bootstrap {
  /** `node.id`. */
  nodeId: string | null
  /** Istio version from node metadata, if any. */
  istioVersion: string | null
  /** Envoy version from `node.user_agent_build_version` or `build_version`. */
  envoyVersion: string | null
  /** Whether `stats_config.stats_matcher` has an inclusion list. */
  statsInclusion: { prefixes: string[]; suffixes: string[]; regexes: string[] } | null
  /** Where it is. */
  source: SourceRef
}

/** The whole normalised snapshot of one Envoy. */
export interface EnvoyModel {
  kind: 'envoy-model'
  /** All listeners of every state (static, active, warming, draining). */
  listeners: Listener[]
  /** All route configurations from RDS dumps (inline ones hang off their HCM). */
  routeConfigs: RouteConfiguration[]
  /** All clusters (static, active, warming). */
  clusters: Cluster[]
  /** EDS ClusterLoadAssignments (from `?include_eds` or `istioctl pc endpoint`). */
  loadAssignments: ClusterLoadAssignment[]
  /** `/clusters` host statuses. */
  clusterStatuses: ClusterStatus[]
  /** `/stats`. */
  stats: StatsSnapshot | null
  /** Bootstrap facts. */
  bootstrap: Bootstrap | null
  /** Which inputs (and dump sections) were present. */
  present: {
    listeners: boolean
    routes: boolean
    clusters: boolean
    endpoints: boolean
    clusterStatuses: boolean
    stats: boolean
    scopedRoutes: boolean
  }
}
