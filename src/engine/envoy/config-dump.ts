/**
 * Loads Envoy's `/config_dump` (v2alpha and v3 admin types), `istioctl proxy-config … -o json`
 * output (camelCase protojson, full or bare arrays), `/clusters` and `/stats` into one EnvoyModel.
 */
import type { SourceRef } from '../trace/trace.js'
import { canonicalIp } from './address.js'
import { clusterStatusesFromJson, parseAdminClusters } from './endpoints.js'
import { parseStats } from './stats.js'
import type {
  Bootstrap,
  CidrRange,
  Cluster,
  ClusterDiscoveryType,
  ClusterLoadAssignment,
  ClusterSpecifier,
  ClusterStatus,
  ClusterWeight,
  EnvoyModel,
  FilterChain,
  FilterChainMatch,
  HealthStatus,
  HttpConnectionManager,
  HttpFilter,
  Json,
  JsonObject,
  LbEndpoint,
  Listener,
  ListenerFilter,
  ListenerFilterRole,
  ListenerState,
  LocalityLbEndpoints,
  NetworkFilter,
  NetworkFilterRole,
  Route,
  RouteAction,
  RouteConfiguration,
  SocketAddress,
  TcpProxy,
  UpstreamTransport,
  VirtualHost,
} from './model.js'

/** A config dump (or /clusters, /stats) that cannot be read; names the file and the JSON pointer. */
export class EnvoyConfigError extends Error {
  /** Logical file: `config_dump`, `clusters`, `stats`. */
  readonly file: string
  /** RFC 6901 pointer to the offending value ('' = the document). */
  readonly pointer: string
  /** Stable error code, e.g. `not-a-config-dump`. */
  readonly code: string

  constructor(file: string, pointer: string, code: string, detail: string) {
    super(`${file} at ${pointer === '' ? '/' : pointer}: ${detail}.`)
    this.name = 'EnvoyConfigError'
    this.file = file
    this.pointer = pointer
    this.code = code
  }
}

/** The normalised model (re-exported for callers that load and trace). */
export type { EnvoyModel } from './model.js'

// ---------------------------------------------------------------------------------------------
// JSON helpers

/** Whether a JSON value is an object (not an array). */
export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** The object at `key`, or an empty object. */
export function objAt(o: JsonObject | null | undefined, key: string): JsonObject {
  const v = o?.[key]
  return isObject(v) ? v : {}
}

/** The array at `key`, or an empty array. */
export function arrAt(o: JsonObject | null | undefined, key: string): Json[] {
  const v = o?.[key]
  return Array.isArray(v) ? v : []
}

/** The string at `key` (numbers are stringified), or null. */
export function strAt(o: JsonObject | null | undefined, key: string): string | null {
  const v = o?.[key]
  if (typeof v === 'string') return v
  if (typeof v === 'number') return String(v)
  return null
}

/** The number at `key` (uint64 strings are parsed; wrapper `{value}` unwrapped), or null. */
export function numAt(o: JsonObject | null | undefined, key: string): number | null {
  let v = o?.[key]
  if (isObject(v) && 'value' in v) v = v.value
  if (typeof v === 'number') return v
  if (typeof v === 'string' && v.trim() !== '' && !Number.isNaN(Number(v))) return Number(v)
  return null
}

/** The boolean at `key` (wrapper `{value}` unwrapped), or null. */
export function boolAt(o: JsonObject | null | undefined, key: string): boolean | null {
  let v = o?.[key]
  if (isObject(v) && 'value' in v) v = v.value
  return typeof v === 'boolean' ? v : null
}

/** A type URL without `type.googleapis.com/`. */
export function shortTypeUrl(url: string | null): string | null {
  if (url === null) return null
  const slash = url.lastIndexOf('/')
  return slash >= 0 ? url.slice(slash + 1) : url
}

// ---------------------------------------------------------------------------------------------
// Normalisation: camelCase → snake_case once, remembering each object's original pointer.

/** Map fields whose keys are data (filter names, metadata keys): keys and values kept verbatim. */
const VERBATIM_SUBTREES = new Set(['filter_metadata', 'typed_filter_metadata'])
/** Map fields whose keys are data, but whose values are messages to normalise. */
const VERBATIM_KEYS = new Set(['typed_per_filter_config', 'per_filter_config', 'typed_extension_protocol_options'])

function escapePointer(token: string): string {
  if (!token.includes('~') && !token.includes('/')) return token
  return token.replace(/~/g, '~0').replace(/\//g, '~1')
}

function snakeCase(key: string): string {
  if (!/[A-Z]/.test(key) || !/^[a-z][A-Za-z0-9]*$/.test(key)) return key
  return key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)
}

// A Map, not a WeakMap: it lives only while a document is loaded, and a WeakMap with many entries costs the
// garbage collector far more (ephemeron processing) on large dumps.
/** Normalised objects → their pointer into the original document. */
type PointerMap = Map<object, string>

function isContainer(value: unknown): value is object {
  return typeof value === 'object' && value !== null
}

function normalizeLeaf(value: unknown): Json {
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' || value === null) return value
  return null
}

/**
 * The keys whose object values model objects point back to (evidence); with array elements and the root, these are
 * the only objects whose pointers are recorded: a pointer for every JSON object would cost more than the parse.
 */
const POINTED_KEYS = new Set(['listener', 'cluster', 'route_config', 'endpoint_config', 'load_assignment', 'bootstrap', 'default_filter_chain'])

/**
 * A subtree whose keys are already snake_case and whose values are plain JSON is returned as it is (it is never
 * changed afterwards), so a v3 dump costs a walk, not a copy; only subtrees with camelCase keys are rebuilt.
 * `pointed`: whether this object's pointer is recorded (see POINTED_KEYS).
 */
function normalize(value: unknown, pointer: string, ptrs: PointerMap, mode: 'convert' | 'verbatim' | 'keys', pointed = true): Json {
  if (Array.isArray(value)) {
    const childMode = mode === 'keys' ? 'convert' : mode
    let out: Json[] | null = null
    for (let i = 0; i < value.length; i++) {
      const v: unknown = value[i]
      const n = isContainer(v) ? normalize(v, `${pointer}/${i}`, ptrs, childMode, true) : normalizeLeaf(v)
      if (out === null && n !== v) out = value.slice(0, i) as Json[]
      if (out !== null) out.push(n)
    }
    const result = out ?? (value as Json[])
    if (pointed && !ptrs.has(result)) ptrs.set(result, pointer)
    return result
  }
  if (isContainer(value)) {
    const input = value as Record<string, unknown>
    const keys = Object.keys(input)
    let out: JsonObject | null = null
    for (let k = 0; k < keys.length; k++) {
      const key = keys[k]
      const v = input[key]
      let name = key
      let childMode: 'convert' | 'verbatim' | 'keys' = 'convert'
      if (mode === 'verbatim') childMode = 'verbatim'
      else if (mode === 'convert') {
        name = snakeCase(key)
        childMode = VERBATIM_SUBTREES.has(name) ? 'verbatim' : VERBATIM_KEYS.has(name) ? 'keys' : 'convert'
      }
      const n = isContainer(v) ? normalize(v, `${pointer}/${escapePointer(key)}`, ptrs, childMode, POINTED_KEYS.has(name)) : normalizeLeaf(v)
      if (out === null && (n !== v || name !== key)) {
        out = {}
        for (let j = 0; j < k; j++) out[keys[j]] = input[keys[j]] as Json
      }
      if (out !== null) out[name] = n
    }
    const result = out ?? (input as JsonObject)
    if (pointed && !ptrs.has(result)) ptrs.set(result, pointer)
    return result
  }
  return normalizeLeaf(value)
}

// ---------------------------------------------------------------------------------------------
// Parsing context

interface Ctx {
  file: string
  ptrs: PointerMap
}

function src(ctx: Ctx, o: object | null | undefined, fallback = ''): SourceRef {
  const pointer = (o && ctx.ptrs.get(o)) ?? fallback
  return { file: ctx.file, pointer }
}

function ptr(ctx: Ctx, o: object | null | undefined): string {
  return (o && ctx.ptrs.get(o)) ?? ''
}

/** `{typeUrl, config}` of a filter: typed_config (TypedStruct unwrapped) or the v2 `config` Struct. */
function filterConfig(f: JsonObject): { typeUrl: string | null; config: JsonObject } {
  const tc = f.typed_config
  if (isObject(tc)) {
    const url = shortTypeUrl(strAt(tc, '@type'))
    if (url !== null && /(^|\.)TypedStruct$/.test(url)) {
      return { typeUrl: shortTypeUrl(strAt(tc, 'type_url')), config: objAt(tc, 'value') }
    }
    const config: JsonObject = {}
    for (const [k, v] of Object.entries(tc)) if (k !== '@type') config[k] = v
    return { typeUrl: url, config }
  }
  if (isObject(f.config)) return { typeUrl: null, config: f.config }
  return { typeUrl: null, config: {} }
}

function roleBy<R extends string>(
  typeUrl: string | null,
  name: string,
  table: Array<{ role: R; suffixes: string[]; names: string[] }>,
  fallback: R,
): R {
  // The type URL decides when there is one; the name only for v2 `config` Structs.
  if (typeUrl !== null && typeUrl !== '') return table.find((row) => row.suffixes.some((s) => typeUrl.endsWith(s)))?.role ?? fallback
  return table.find((row) => row.names.includes(name))?.role ?? fallback
}

const LISTENER_FILTER_ROLES: Array<{ role: ListenerFilterRole; suffixes: string[]; names: string[] }> = [
  { role: 'original_dst', suffixes: ['.OriginalDst'], names: ['envoy.listener.original_dst', 'envoy.filters.listener.original_dst'] },
  { role: 'tls_inspector', suffixes: ['.TlsInspector'], names: ['envoy.listener.tls_inspector', 'envoy.filters.listener.tls_inspector'] },
  { role: 'http_inspector', suffixes: ['.HttpInspector'], names: ['envoy.listener.http_inspector', 'envoy.filters.listener.http_inspector'] },
  { role: 'proxy_protocol', suffixes: ['.ProxyProtocol'], names: ['envoy.listener.proxy_protocol', 'envoy.filters.listener.proxy_protocol'] },
  { role: 'original_src', suffixes: ['.OriginalSrc'], names: ['envoy.listener.original_src', 'envoy.filters.listener.original_src'] },
]

const NETWORK_FILTER_ROLES: Array<{ role: NetworkFilterRole; suffixes: string[]; names: string[] }> = [
  {
    role: 'http_connection_manager',
    suffixes: ['.HttpConnectionManager'],
    names: ['envoy.http_connection_manager', 'envoy.filters.network.http_connection_manager'],
  },
  { role: 'tcp_proxy', suffixes: ['.TcpProxy'], names: ['envoy.tcp_proxy', 'envoy.filters.network.tcp_proxy'] },
  { role: 'rbac', suffixes: ['network.rbac.v3.RBAC', 'network.rbac.v2.RBAC', 'network.rbac.v4alpha.RBAC'], names: ['envoy.filters.network.rbac'] },
]

function socketAddress(address: JsonObject): SocketAddress | null {
  const sa = objAt(address, 'socket_address')
  const ip = strAt(sa, 'address')
  if (ip === null) return null
  return { ip: canonicalIp(ip), port: numAt(sa, 'port_value') ?? 0, ...(boolAt(sa, 'ipv4_compat') === true ? { ipv4Compat: true } : {}) }
}

function cidrs(list: Json[]): CidrRange[] {
  return list.filter(isObject).map((c) => ({ addressPrefix: canonicalIp(strAt(c, 'address_prefix') ?? ''), prefixLen: numAt(c, 'prefix_len') ?? 0 }))
}

function parseFilterChainMatch(m: JsonObject): FilterChainMatch {
  const st = strAt(m, 'source_type')
  return {
    destinationPort: numAt(m, 'destination_port'),
    prefixRanges: cidrs(arrAt(m, 'prefix_ranges')),
    serverNames: arrAt(m, 'server_names').filter((s): s is string => typeof s === 'string').map((s) => s.toLowerCase()),
    transportProtocol: strAt(m, 'transport_protocol') ?? '',
    applicationProtocols: arrAt(m, 'application_protocols').filter((s): s is string => typeof s === 'string'),
    directSourcePrefixRanges: cidrs(arrAt(m, 'direct_source_prefix_ranges')),
    sourceType: st === 'SAME_IP_OR_LOOPBACK' || st === 'EXTERNAL' ? st : 'ANY',
    sourcePrefixRanges: cidrs(arrAt(m, 'source_prefix_ranges')),
    sourcePorts: arrAt(m, 'source_ports').map((p) => Number(p)).filter((p) => Number.isFinite(p)),
  }
}

function parseHttpFilter(ctx: Ctx, f: JsonObject): HttpFilter {
  const { typeUrl, config } = filterConfig(f)
  return { kind: 'http-filter', name: strAt(f, 'name') ?? '', typeUrl, config, disabled: boolAt(f, 'disabled') ?? false, source: src(ctx, f) }
}

function parseHcm(ctx: Ctx, config: JsonObject): HttpConnectionManager {
  let routeSource: HttpConnectionManager['routeSource'] = { kind: 'none' }
  if (isObject(config.rds)) routeSource = { kind: 'rds', routeConfigName: strAt(config.rds, 'route_config_name') ?? '' }
  else if (isObject(config.route_config)) routeSource = { kind: 'route_config', routeConfig: parseRouteConfiguration(ctx, config.route_config, true) }
  else if (isObject(config.scoped_routes)) routeSource = { kind: 'scoped_routes' }
  return {
    kind: 'http_connection_manager',
    statPrefix: strAt(config, 'stat_prefix') ?? '',
    routeSource,
    httpFilters: arrAt(config, 'http_filters').filter(isObject).map((f) => parseHttpFilter(ctx, f)),
    stripMatchingHostPort: boolAt(config, 'strip_matching_host_port') ?? false,
    stripAnyHostPort: boolAt(config, 'strip_any_host_port') ?? false,
  }
}

function parseTcpProxy(config: JsonObject): TcpProxy {
  const weighted = arrAt(objAt(config, 'weighted_clusters'), 'clusters')
    .filter(isObject)
    .map((c) => ({ name: strAt(c, 'name') ?? '', weight: numAt(c, 'weight') ?? 0 }))
  return {
    kind: 'tcp_proxy',
    statPrefix: strAt(config, 'stat_prefix') ?? '',
    cluster: strAt(config, 'cluster'),
    weightedClusters: weighted,
    deprecatedRoutes: arrAt(objAt(config, 'deprecated_v1'), 'routes').filter(isObject),
  }
}

function parseNetworkFilter(ctx: Ctx, f: JsonObject): NetworkFilter {
  const name = strAt(f, 'name') ?? ''
  const { typeUrl, config } = filterConfig(f)
  const role = roleBy(typeUrl, name, NETWORK_FILTER_ROLES, 'other')
  return {
    kind: 'network-filter',
    name,
    typeUrl,
    role,
    config,
    hcm: role === 'http_connection_manager' ? parseHcm(ctx, config) : null,
    tcpProxy: role === 'tcp_proxy' ? parseTcpProxy(config) : null,
    source: src(ctx, f),
  }
}

function parseFilterChain(ctx: Ctx, fc: JsonObject, index: number): FilterChain {
  const ts = objAt(fc, 'transport_socket')
  const transportSocket = strAt(ts, 'name') ?? (isObject(fc.tls_context) ? 'tls' : null)
  return {
    kind: 'filter-chain',
    name: strAt(fc, 'name'),
    index,
    match: parseFilterChainMatch(objAt(fc, 'filter_chain_match')),
    filters: arrAt(fc, 'filters').filter(isObject).map((f) => parseNetworkFilter(ctx, f)),
    transportSocket,
    source: src(ctx, fc),
  }
}

function parseListener(ctx: Ctx, l: JsonObject, state: ListenerState): Listener {
  const address = objAt(l, 'address')
  const sock = socketAddress(address)
  const addressKind = sock ? 'socket' : isObject(address.pipe) ? 'pipe' : isObject(address.envoy_internal_address) ? 'internal' : 'none'
  const deprecatedBind = boolAt(objAt(l, 'deprecated_v1'), 'bind_to_port')
  const bind = boolAt(l, 'bind_to_port') ?? deprecatedBind ?? true
  return {
    kind: 'listener',
    name: strAt(l, 'name') ?? '',
    address: sock,
    additionalAddresses: arrAt(l, 'additional_addresses')
      .filter(isObject)
      .map((a) => socketAddress(objAt(a, 'address')))
      .filter((a): a is SocketAddress => a !== null),
    addressKind,
    state,
    useOriginalDst: boolAt(l, 'use_original_dst') ?? boolAt(l, 'hidden_envoy_deprecated_use_original_dst') ?? false,
    bindToPort: bind,
    transparent: boolAt(l, 'transparent') ?? false,
    trafficDirection: strAt(l, 'traffic_direction'),
    listenerFilters: arrAt(l, 'listener_filters')
      .filter(isObject)
      .map((f): ListenerFilter => {
        const name = strAt(f, 'name') ?? ''
        const { typeUrl } = filterConfig(f)
        return {
          kind: 'listener-filter',
          name,
          typeUrl,
          role: roleBy(typeUrl, name, LISTENER_FILTER_ROLES, 'other'),
          filterDisabled: isObject(f.filter_disabled) ? f.filter_disabled : null,
          source: src(ctx, f),
        }
      }),
    filterChains: arrAt(l, 'filter_chains').filter(isObject).map((fc, i) => parseFilterChain(ctx, fc, i)),
    defaultFilterChain: isObject(l.default_filter_chain) ? parseFilterChain(ctx, l.default_filter_chain, -1) : null,
    filterChainMatcher: isObject(l.filter_chain_matcher) ? l.filter_chain_matcher : null,
    source: src(ctx, l),
  }
}

function parseClusterSpecifier(route: JsonObject): ClusterSpecifier {
  const cluster = strAt(route, 'cluster')
  if (cluster !== null) return { kind: 'cluster', name: cluster }
  const header = strAt(route, 'cluster_header')
  if (header !== null) return { kind: 'cluster_header', header: header.toLowerCase() }
  if (isObject(route.weighted_clusters)) {
    const wc = route.weighted_clusters
    const clusters: ClusterWeight[] = arrAt(wc, 'clusters')
      .filter(isObject)
      .map((c) => ({ name: strAt(c, 'name') ?? '', weight: numAt(c, 'weight') ?? 0, clusterHeader: strAt(c, 'cluster_header'), raw: c }))
    return { kind: 'weighted_clusters', clusters, totalWeight: numAt(wc, 'total_weight'), runtimeKeyPrefix: strAt(wc, 'runtime_key_prefix') }
  }
  if (isObject(route.cluster_specifier_plugin) || typeof route.cluster_specifier_plugin === 'string' || isObject(route.inline_cluster_specifier_plugin)) {
    return { kind: 'cluster_specifier_plugin', raw: route }
  }
  return { kind: 'none' }
}

function parseRouteAction(r: JsonObject): RouteAction {
  if (isObject(r.route)) return { kind: 'route', cluster: parseClusterSpecifier(r.route), config: r.route }
  if (isObject(r.redirect)) return { kind: 'redirect', config: r.redirect }
  if (isObject(r.direct_response)) {
    const dr = r.direct_response
    const body = objAt(dr, 'body')
    return { kind: 'direct_response', status: numAt(dr, 'status') ?? 200, body: strAt(body, 'inline_string') ?? strAt(body, 'inline_bytes'), config: dr }
  }
  if (isObject(r.non_forwarding_action)) return { kind: 'non_forwarding', config: r.non_forwarding_action }
  if (isObject(r.filter_action)) return { kind: 'filter_action', config: r.filter_action }
  return { kind: 'none', config: {} }
}

function parseRoute(ctx: Ctx, r: JsonObject, index: number): Route {
  const istio = objAt(objAt(objAt(r, 'metadata'), 'filter_metadata'), 'istio')
  return {
    kind: 'route',
    name: strAt(r, 'name'),
    index,
    match: objAt(r, 'match'),
    action: parseRouteAction(r),
    istioConfig: strAt(istio, 'config'),
    raw: r,
    source: src(ctx, r),
  }
}

function parseVirtualHost(ctx: Ctx, v: JsonObject): VirtualHost {
  return {
    kind: 'virtual-host',
    name: strAt(v, 'name') ?? '',
    domains: arrAt(v, 'domains').filter((d): d is string => typeof d === 'string').map((d) => d.toLowerCase()),
    routes: arrAt(v, 'routes').filter(isObject).map((r, i) => parseRoute(ctx, r, i)),
    raw: v,
    source: src(ctx, v),
  }
}

/** Parses one RouteConfiguration (already normalised JSON). */
function parseRouteConfiguration(ctx: Ctx, rc: JsonObject, inline: boolean): RouteConfiguration {
  const vh = strAt(rc, 'vhost_header')
  return {
    kind: 'route-config',
    name: strAt(rc, 'name') ?? '',
    virtualHosts: arrAt(rc, 'virtual_hosts').filter(isObject).map((v) => parseVirtualHost(ctx, v)),
    ignorePortInHostMatching: boolAt(rc, 'ignore_port_in_host_matching') ?? false,
    vhostHeader: vh === null || vh === '' ? null : vh.toLowerCase(),
    inline,
    raw: rc,
    source: src(ctx, rc),
  }
}

/** Parses a bare RouteConfiguration value (e.g. a router check tool config) into the model type. */
export function loadRouteConfiguration(value: unknown, file = 'route_config'): RouteConfiguration {
  if (!isObject(value as Json)) throw new EnvoyConfigError(file, '', 'not-a-route-configuration', 'expected a RouteConfiguration object')
  const ctx: Ctx = { file, ptrs: new Map() }
  const norm = normalize(value, '', ctx.ptrs, 'convert') as JsonObject
  return parseRouteConfiguration(ctx, norm, false)
}

const HEALTH: HealthStatus[] = ['UNKNOWN', 'HEALTHY', 'UNHEALTHY', 'DRAINING', 'TIMEOUT', 'DEGRADED']

function healthStatus(v: Json | undefined): HealthStatus {
  if (typeof v === 'number') return HEALTH[v] ?? 'UNKNOWN'
  if (typeof v === 'string' && (HEALTH as string[]).includes(v)) return v as HealthStatus
  return 'UNKNOWN'
}

function parseLbEndpoint(ctx: Ctx, e: JsonObject): LbEndpoint {
  const ep = objAt(e, 'endpoint')
  const address = objAt(ep, 'address')
  const sock = socketAddress(address)
  const pipe = strAt(objAt(address, 'pipe'), 'path')
  const internal = objAt(address, 'envoy_internal_address')
  // Pipes print as unix://<path>, as in /clusters.
  const ip = sock?.ip ?? (pipe !== null ? `unix://${pipe}` : null) ?? (strAt(internal, 'server_listener_name') !== null ? `envoy://${strAt(internal, 'server_listener_name')}/${strAt(internal, 'endpoint_id') ?? ''}` : '')
  return {
    kind: 'lb-endpoint',
    ip,
    port: sock?.port ?? 0,
    healthStatus: healthStatus(e.health_status),
    weight: numAt(e, 'load_balancing_weight') ?? 1,
    hostname: strAt(ep, 'hostname'),
    transportSocketMatch: stringMap(objAt(objAt(objAt(e, 'metadata'), 'filter_metadata'), 'envoy.transport_socket_match')),
    source: src(ctx, e),
  }
}

function stringMap(o: JsonObject): Record<string, string> | null {
  const entries = Object.entries(o).filter((kv): kv is [string, string] => typeof kv[1] === 'string')
  return entries.length === 0 ? null : Object.fromEntries(entries)
}

const UPSTREAM_TLS_TYPES = ['envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext', 'envoy.api.v2.auth.UpstreamTlsContext']
const PLAINTEXT_SOCKETS = ['envoy.transport_sockets.raw_buffer', 'raw_buffer', 'envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer']

/** A `transport_socket` (or v2 `tls_context`) → TLS facts; null for plaintext. */
function parseUpstreamTransport(socket: JsonObject, v2TlsContext: JsonObject | null): UpstreamTransport | null {
  const tlsFacts = (t: JsonObject, name: string): UpstreamTransport => ({
    kind: 'tls',
    sni: strAt(t, 'sni'),
    alpn: arrAt(objAt(t, 'common_tls_context'), 'alpn_protocols').filter((a): a is string => typeof a === 'string'),
    name,
  })
  if (v2TlsContext !== null) return tlsFacts(v2TlsContext, 'tls_context')
  if (Object.keys(socket).length === 0) return null
  const name = strAt(socket, 'name') ?? ''
  const typed = objAt(socket, 'typed_config')
  const type = shortTypeUrl(strAt(typed, '@type'))
  if (type !== null && UPSTREAM_TLS_TYPES.includes(type)) return tlsFacts(typed, name || type)
  if (type === null && (name === 'envoy.transport_sockets.tls' || name === 'tls')) return tlsFacts(objAt(socket, 'config'), name)
  if (PLAINTEXT_SOCKETS.includes(type ?? name)) return null
  return { kind: 'unknown', sni: null, alpn: [], name: type ?? name }
}

function parseLoadAssignment(ctx: Ctx, cla: JsonObject, fallbackName = ''): ClusterLoadAssignment {
  const endpoints: LocalityLbEndpoints[] = arrAt(cla, 'endpoints')
    .filter(isObject)
    .map((le) => {
      const loc = objAt(le, 'locality')
      return {
        locality: { region: strAt(loc, 'region') ?? '', zone: strAt(loc, 'zone') ?? '', subZone: strAt(loc, 'sub_zone') ?? '' },
        priority: numAt(le, 'priority') ?? 0,
        weight: numAt(le, 'load_balancing_weight'),
        lbEndpoints: arrAt(le, 'lb_endpoints').filter(isObject).map((e) => parseLbEndpoint(ctx, e)),
      }
    })
  return {
    kind: 'cluster-load-assignment',
    clusterName: strAt(cla, 'cluster_name') ?? fallbackName,
    endpoints,
    overprovisioningFactor: numAt(objAt(cla, 'policy'), 'overprovisioning_factor') ?? 140,
    source: src(ctx, cla),
  }
}

const CLUSTER_TYPES: ClusterDiscoveryType[] = ['STATIC', 'STRICT_DNS', 'LOGICAL_DNS', 'EDS', 'ORIGINAL_DST']

function parseCluster(ctx: Ctx, c: JsonObject, state: Cluster['state']): Cluster {
  const name = strAt(c, 'name') ?? ''
  let type: ClusterDiscoveryType = 'STATIC'
  let extensionType: string | null = null
  const t = c.type
  if (isObject(c.cluster_type)) {
    type = 'extension'
    extensionType = shortTypeUrl(strAt(objAt(c.cluster_type, 'typed_config'), '@type')) ?? strAt(c.cluster_type, 'name')
  } else if (typeof t === 'string' && (CLUSTER_TYPES as string[]).includes(t)) type = t as ClusterDiscoveryType
  else if (typeof t === 'number') type = CLUSTER_TYPES[t] ?? 'STATIC'
  let loadAssignment: ClusterLoadAssignment | null = null
  if (isObject(c.load_assignment)) loadAssignment = parseLoadAssignment(ctx, c.load_assignment, name)
  else if (Array.isArray(c.hosts)) {
    // v2 `hosts` (deprecated): plain addresses, no health status.
    const lbEndpoints = c.hosts.filter(isObject).map((h) => parseLbEndpoint(ctx, { endpoint: { address: h } }))
    lbEndpoints.forEach((e, i) => (e.source = { file: ctx.file, pointer: `${ptr(ctx, c)}/hosts/${i}` }))
    loadAssignment = {
      kind: 'cluster-load-assignment',
      clusterName: name,
      endpoints: [{ locality: { region: '', zone: '', subZone: '' }, priority: 0, weight: null, lbEndpoints }],
      overprovisioningFactor: 140,
      source: { file: ctx.file, pointer: `${ptr(ctx, c)}/hosts` },
    }
  }
  const istio = objAt(objAt(objAt(c, 'metadata'), 'filter_metadata'), 'istio')
  // BindConfig.source_address is a SocketAddress itself (envoy address.proto), not an Address.
  const bindSource = objAt(objAt(c, 'upstream_bind_config'), 'source_address')
  const bind = socketAddress(isObject(bindSource.socket_address) ? bindSource : { socket_address: bindSource })
  // A Percent message written as {} means 0% (panic mode disabled), as Istio sets with outlier detection.
  const hpt = objAt(c, 'common_lb_config').healthy_panic_threshold
  const panic = isObject(hpt) ? (numAt(hpt, 'value') ?? 0) : typeof hpt === 'number' ? hpt : null
  return {
    kind: 'cluster',
    name,
    type,
    extensionType,
    lbPolicy: strAt(c, 'lb_policy') ?? 'ROUND_ROBIN',
    edsServiceName: strAt(objAt(c, 'eds_cluster_config'), 'service_name'),
    loadAssignment,
    state,
    istioConfig: strAt(istio, 'config'),
    upstreamBindAddress: bind?.ip ?? null,
    healthyPanicThreshold: panic ?? 50,
    transportSocket: parseUpstreamTransport(objAt(c, 'transport_socket'), isObject(c.tls_context) ? c.tls_context : null),
    transportSocketMatches: arrAt(c, 'transport_socket_matches').filter(isObject).map((m) => ({
      name: strAt(m, 'name') ?? '',
      match: stringMap(objAt(m, 'match')) ?? {},
      transport: parseUpstreamTransport(objAt(m, 'transport_socket'), null),
    })),
    source: src(ctx, c),
  }
}

function parseBootstrap(ctx: Ctx, b: JsonObject): Bootstrap {
  const node = objAt(b, 'node')
  const ua = objAt(objAt(node, 'user_agent_build_version'), 'version')
  const envoyVersion =
    numAt(ua, 'major_number') !== null
      ? `${numAt(ua, 'major_number')}.${numAt(ua, 'minor_number') ?? 0}.${numAt(ua, 'patch') ?? 0}`
      : // build_version reads `<sha>/1.11.0-dev/Clean/RELEASE/BoringSSL`.
        (/\/(\d+\.\d+\.\d+)/.exec(strAt(node, 'build_version') ?? '')?.[1] ?? null)
  const meta = objAt(node, 'metadata')
  const matcher = objAt(objAt(b, 'stats_config'), 'stats_matcher')
  let statsInclusion: Bootstrap['statsInclusion'] = null
  if (isObject(matcher.inclusion_list)) {
    statsInclusion = { prefixes: [], suffixes: [], regexes: [] }
    for (const p of arrAt(matcher.inclusion_list, 'patterns').filter(isObject)) {
      const prefix = strAt(p, 'prefix')
      const suffix = strAt(p, 'suffix')
      const re = strAt(objAt(p, 'safe_regex'), 'regex') ?? strAt(p, 'regex')
      if (prefix !== null) statsInclusion.prefixes.push(prefix)
      if (suffix !== null) statsInclusion.suffixes.push(suffix)
      if (re !== null) statsInclusion.regexes.push(re)
    }
  }
  return {
    nodeId: strAt(node, 'id'),
    istioVersion: strAt(meta, 'ISTIO_VERSION') ?? strAt(meta, 'istio_version'),
    envoyVersion,
    statsInclusion,
    source: src(ctx, b),
  }
}

// ---------------------------------------------------------------------------------------------
// Dump dispatch

interface Collector {
  listeners: Listener[]
  routeConfigs: RouteConfiguration[]
  clusters: Cluster[]
  loadAssignments: ClusterLoadAssignment[]
  bootstrap: Bootstrap | null
  bootstrapStatic: { listeners: Listener[]; clusters: Cluster[] }
  clusterStatuses: ClusterStatus[]
  present: EnvoyModel['present']
}

function listenerOf(entry: Json | undefined): JsonObject | null {
  return isObject(entry) && isObject(entry.listener) ? entry.listener : null
}

function collectListenersDump(ctx: Ctx, d: JsonObject, out: Collector): void {
  out.present.listeners = true
  for (const e of arrAt(d, 'static_listeners').filter(isObject)) {
    const l = listenerOf(e)
    if (l) out.listeners.push(parseListener(ctx, l, 'static'))
  }
  for (const e of arrAt(d, 'dynamic_listeners').filter(isObject)) {
    for (const [key, state] of [
      ['active_state', 'active'],
      ['warming_state', 'warming'],
      ['draining_state', 'draining'],
    ] as const) {
      const l = listenerOf(e[key])
      if (l) out.listeners.push(parseListener(ctx, l, state))
    }
  }
  for (const [key, state] of [
    ['dynamic_active_listeners', 'active'],
    ['dynamic_warming_listeners', 'warming'],
    ['dynamic_draining_listeners', 'draining'],
  ] as const) {
    for (const e of arrAt(d, key).filter(isObject)) {
      const l = listenerOf(e)
      if (l) out.listeners.push(parseListener(ctx, l, state))
    }
  }
}

function collectClustersDump(ctx: Ctx, d: JsonObject, out: Collector): void {
  out.present.clusters = true
  for (const [key, state] of [
    ['static_clusters', 'static'],
    ['dynamic_active_clusters', 'active'],
    ['dynamic_warming_clusters', 'warming'],
  ] as const) {
    for (const e of arrAt(d, key).filter(isObject)) if (isObject(e.cluster)) out.clusters.push(parseCluster(ctx, e.cluster, state))
  }
}

function collectRoutesDump(ctx: Ctx, d: JsonObject, out: Collector): void {
  out.present.routes = true
  for (const key of ['static_route_configs', 'dynamic_route_configs']) {
    for (const e of arrAt(d, key).filter(isObject)) if (isObject(e.route_config)) out.routeConfigs.push(parseRouteConfiguration(ctx, e.route_config, false))
  }
}

function collectEndpointsDump(ctx: Ctx, d: JsonObject, out: Collector): void {
  out.present.endpoints = true
  for (const key of ['static_endpoint_configs', 'dynamic_endpoint_configs']) {
    for (const e of arrAt(d, key).filter(isObject)) if (isObject(e.endpoint_config)) out.loadAssignments.push(parseLoadAssignment(ctx, e.endpoint_config))
  }
}

function collectBootstrap(ctx: Ctx, b: JsonObject, out: Collector): void {
  out.bootstrap = parseBootstrap(ctx, b)
  const sr = objAt(b, 'static_resources')
  out.bootstrapStatic.listeners.push(...arrAt(sr, 'listeners').filter(isObject).map((l) => parseListener(ctx, l, 'static')))
  out.bootstrapStatic.clusters.push(...arrAt(sr, 'clusters').filter(isObject).map((c) => parseCluster(ctx, c, 'static')))
}

/** Classifies one bare resource by its shape (istioctl `pc listener|route|cluster|endpoint -o json`). */
function collectResource(ctx: Ctx, r: JsonObject, out: Collector): void {
  const type = shortTypeUrl(strAt(r, '@type')) ?? ''
  if (type.endsWith('Listener') || 'filter_chains' in r || 'listener_filters' in r || ('address' in r && 'name' in r && !('type' in r) && !('connect_timeout' in r))) {
    out.present.listeners = true
    out.listeners.push(parseListener(ctx, r, 'active'))
  } else if (type.endsWith('RouteConfiguration') || 'virtual_hosts' in r) {
    out.present.routes = true
    out.routeConfigs.push(parseRouteConfiguration(ctx, r, false))
  } else if (type.endsWith('ClusterLoadAssignment') || 'cluster_name' in r) {
    out.present.endpoints = true
    out.loadAssignments.push(parseLoadAssignment(ctx, r))
  } else if (type.endsWith('Cluster') || 'connect_timeout' in r || 'lb_policy' in r || 'eds_cluster_config' in r || 'type' in r || 'load_assignment' in r) {
    out.present.clusters = true
    out.clusters.push(parseCluster(ctx, r, 'active'))
  }
}

function collectDocument(ctx: Ctx, doc: Json, out: Collector, pointer: string): void {
  if (Array.isArray(doc)) {
    // Old `istioctl pc endpoint -o json` printed /clusters ClusterStatus entries.
    if (doc.length > 0 && doc.every((el) => isObject(el) && 'host_statuses' in el)) {
      out.clusterStatuses.push(...clusterStatusesFromJson(doc, (o) => ctx.ptrs.get(o), ctx.file))
      out.present.clusterStatuses = true
      return
    }
    doc.forEach((el, i) => {
      if (Array.isArray(el) || (isObject(el) && (Array.isArray(el.configs) || isObject(el.bootstrap)))) collectDocument(ctx, el, out, `${pointer}/${i}`)
      else if (isObject(el)) collectResource(ctx, el, out)
      else throw new EnvoyConfigError(ctx.file, `${pointer}/${i}`, 'not-a-resource', 'expected an Envoy resource object')
    })
    return
  }
  if (!isObject(doc)) throw new EnvoyConfigError(ctx.file, pointer, 'not-a-config-dump', 'expected a config dump object or an array of resources')
  if ('configs' in doc) {
    if (!Array.isArray(doc.configs)) throw new EnvoyConfigError(ctx.file, `${pointer}/configs`, 'configs-not-array', '`configs` must be an array')
    doc.configs.forEach((c, i) => {
      if (!isObject(c)) throw new EnvoyConfigError(ctx.file, `${pointer}/configs/${i}`, 'config-not-object', 'each entry of `configs` must be an object')
      collectDumpSection(ctx, c, out)
    })
    return
  }
  if (Array.isArray(doc.cluster_statuses)) {
    out.clusterStatuses.push(...clusterStatusesFromJson(doc.cluster_statuses, (o) => ctx.ptrs.get(o), ctx.file))
    out.present.clusterStatuses = true
    return
  }
  if (isObject(doc.bootstrap)) return collectBootstrap(ctx, doc.bootstrap, out)
  if (isObject(doc.static_resources) || isObject(doc.node)) return collectBootstrap(ctx, doc, out)
  if (['static_listeners', 'dynamic_listeners', 'dynamic_active_listeners', 'static_clusters', 'dynamic_active_clusters', 'dynamic_route_configs', 'static_route_configs', 'dynamic_endpoint_configs'].some((k) => k in doc)) {
    return collectDumpSection(ctx, doc, out)
  }
  collectResource(ctx, doc, out)
}

function collectDumpSection(ctx: Ctx, c: JsonObject, out: Collector): void {
  const type = shortTypeUrl(strAt(c, '@type')) ?? ''
  const is = (suffix: string): boolean => type.endsWith(suffix)
  if (is('BootstrapConfigDump') || (type === '' && isObject(c.bootstrap))) collectBootstrap(ctx, objAt(c, 'bootstrap'), out)
  else if (is('ListenersConfigDump') || (type === '' && ('dynamic_listeners' in c || 'static_listeners' in c || 'dynamic_active_listeners' in c))) collectListenersDump(ctx, c, out)
  else if (is('ClustersConfigDump') || (type === '' && ('dynamic_active_clusters' in c || 'static_clusters' in c))) collectClustersDump(ctx, c, out)
  else if (is('ScopedRoutesConfigDump')) {
    if (arrAt(c, 'dynamic_scoped_route_configs').length > 0 || arrAt(c, 'inline_scoped_route_configs').length > 0) out.present.scopedRoutes = true
  } else if (is('RoutesConfigDump') || (type === '' && ('dynamic_route_configs' in c || 'static_route_configs' in c))) collectRoutesDump(ctx, c, out)
  else if (is('EndpointsConfigDump') || (type === '' && ('dynamic_endpoint_configs' in c || 'static_endpoint_configs' in c))) collectEndpointsDump(ctx, c, out)
  // SecretsConfigDump, EcdsConfigDump and unknown dump types carry nothing routing needs.
}

/**
 * Loads a config dump and optional `/clusters` and `/stats` into one model.
 * Accepts v2alpha/v3 `/config_dump`, istioctl `pc all -o json`, bare `pc listener|route|cluster|endpoint`
 * arrays, a bare bootstrap, or an array of any of those. Keys are normalised to snake_case once.
 */
export function loadEnvoyConfig(input: { configDump?: unknown; clusters?: unknown; stats?: unknown }): EnvoyModel {
  const out: Collector = {
    listeners: [],
    routeConfigs: [],
    clusters: [],
    loadAssignments: [],
    bootstrap: null,
    bootstrapStatic: { listeners: [], clusters: [] },
    clusterStatuses: [],
    present: { listeners: false, routes: false, clusters: false, endpoints: false, clusterStatuses: false, stats: false, scopedRoutes: false },
  }
  if (input.configDump !== undefined && input.configDump !== null) {
    const ctx: Ctx = { file: 'config_dump', ptrs: new Map() }
    const doc = normalize(input.configDump, '', ctx.ptrs, 'convert')
    collectDocument(ctx, doc, out, '')
  }
  // A bare bootstrap's static resources stand in for missing listener / cluster dumps.
  if (!out.present.listeners && out.bootstrapStatic.listeners.length > 0) {
    out.listeners.push(...out.bootstrapStatic.listeners)
    out.present.listeners = true
  }
  if (!out.present.clusters && out.bootstrapStatic.clusters.length > 0) {
    out.clusters.push(...out.bootstrapStatic.clusters)
    out.present.clusters = true
  }
  const clusterStatuses: ClusterStatus[] = [...out.clusterStatuses]
  if (input.clusters !== undefined && input.clusters !== null) {
    clusterStatuses.push(...parseAdminClusters(input.clusters))
    out.present.clusterStatuses = true
  }
  const stats = input.stats !== undefined && input.stats !== null ? parseStats(input.stats) : null
  out.present.stats = stats !== null
  return {
    kind: 'envoy-model',
    listeners: out.listeners,
    routeConfigs: out.routeConfigs,
    clusters: out.clusters,
    loadAssignments: out.loadAssignments,
    clusterStatuses,
    stats,
    bootstrap: out.bootstrap,
    present: out.present,
  }
}

/** Normalises any JSON value (camelCase → snake_case) and returns it with its pointer map. */
export function normalizeJson(value: unknown): { json: Json; pointerOf: (o: object) => string | undefined } {
  const ptrs: PointerMap = new Map()
  const json = normalize(value, '', ptrs, 'convert')
  return { json, pointerOf: (o) => ptrs.get(o) }
}

// ---------------------------------------------------------------------------------------------
// Indexes: built lazily on first use, once per model.

/** Lookup tables over a model. */
export interface EnvoyIndex {
  /** Serving (static/active) listeners by canonical `ip:port`. */
  listenersByAddress: Map<string, Listener[]>
  /** Listeners by name (all states). */
  listenersByName: Map<string, Listener[]>
  /** Listeners by port of any of their addresses (all states), in config order. */
  listenersByPort: Map<number, Listener[]>
  /** RDS route configurations by name. */
  routeConfigsByName: Map<string, RouteConfiguration>
  /** Clusters by name (active/static preferred over warming). */
  clustersByName: Map<string, Cluster>
  /** EDS assignments by cluster (service) name. */
  loadAssignmentsByCluster: Map<string, ClusterLoadAssignment>
  /** `/clusters` entries by cluster name. */
  clusterStatusesByName: Map<string, ClusterStatus>
}

const INDEXES = new WeakMap<EnvoyModel, EnvoyIndex>()

/** The key `ip:port` used by `listenersByAddress`. */
export function addressKey(ip: string, port: number): string {
  return `${canonicalIp(ip)}|${port}`
}

/** The model's indexes, built on first use and reused for every later trace. */
export function envoyIndex(model: EnvoyModel): EnvoyIndex {
  const cached = INDEXES.get(model)
  if (cached) return cached
  const listenersByAddress = new Map<string, Listener[]>()
  const listenersByName = new Map<string, Listener[]>()
  const listenersByPort = new Map<number, Listener[]>()
  for (const l of model.listeners) {
    const byName = listenersByName.get(l.name) ?? []
    byName.push(l)
    listenersByName.set(l.name, byName)
    for (const port of new Set([l.address?.port, ...l.additionalAddresses.map((a) => a.port)])) {
      if (port === undefined) continue
      const byPort = listenersByPort.get(port) ?? []
      byPort.push(l)
      listenersByPort.set(port, byPort)
    }
    if (l.state !== 'static' && l.state !== 'active') continue
    for (const a of [l.address, ...l.additionalAddresses]) {
      if (!a) continue
      const key = addressKey(a.ip, a.port)
      const list = listenersByAddress.get(key) ?? []
      list.push(l)
      listenersByAddress.set(key, list)
    }
  }
  const routeConfigsByName = new Map<string, RouteConfiguration>()
  for (const rc of model.routeConfigs) if (!routeConfigsByName.has(rc.name)) routeConfigsByName.set(rc.name, rc)
  const clustersByName = new Map<string, Cluster>()
  for (const c of model.clusters) {
    const prev = clustersByName.get(c.name)
    if (!prev || (prev.state === 'warming' && c.state !== 'warming')) clustersByName.set(c.name, c)
  }
  const loadAssignmentsByCluster = new Map<string, ClusterLoadAssignment>()
  for (const la of model.loadAssignments) loadAssignmentsByCluster.set(la.clusterName, la)
  const clusterStatusesByName = new Map<string, ClusterStatus>()
  for (const cs of model.clusterStatuses) clusterStatusesByName.set(cs.name, cs)
  const index: EnvoyIndex = { listenersByAddress, listenersByName, listenersByPort, routeConfigsByName, clustersByName, loadAssignmentsByCluster, clusterStatusesByName }
  INDEXES.set(model, index)
  return index
}
