/**
 * Loads Envoy's `/config_dump` (v2alpha and v3 admin types), `istioctl proxy-config … -o json`
 * output (camelCase protojson, full or bare arrays), `/clusters` and `/stats` into one EnvoyModel.
 */
import type { SourceRef } from '../trace/trace.js'
import { asciiLowerCase, canonicalIp } from './address.js'
import { clusterStatusesFromJson, parseAdminClusters } from './endpoints.js'
import { parseStats } from './stats.js'
import { valueOnRead } from '../memo.js'
import { deferVirtualHosts } from './virtual-hosts.js'
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
// Normalisation: camelCase → snake_case, only where a camelCase key is present, and only for the parts the model
// reads. Resources the model keeps raw JSON of (listeners, route configurations) are normalised whole when they are
// parsed (on first use); clusters, endpoints, listener heads and the dump around them are read through one-level
// views. Pointers are carried down by the parsers.

/** Map fields whose keys are data (filter names, metadata keys): keys and values kept verbatim. */
const VERBATIM_SUBTREES = new Set(['filter_metadata', 'typed_filter_metadata'])
/** Map fields whose keys are data, but whose values are messages to normalise. */
const VERBATIM_KEYS = new Set(['typed_per_filter_config', 'per_filter_config', 'typed_extension_protocol_options'])

type Mode = 'convert' | 'verbatim' | 'keys'

function escapePointer(token: string): string {
  if (!token.includes('~') && !token.includes('/')) return token
  return token.replace(/~/g, '~0').replace(/\//g, '~1')
}

function hasUpperCase(key: string): boolean {
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i)
    if (c >= 65 && c <= 90) return true
  }
  return false
}

function snakeCase(key: string): string {
  // A character loop first: a regex test per key costs more than the rest of the walk on a snake_case dump.
  if (!hasUpperCase(key) || !/^[a-z][A-Za-z0-9]*$/.test(key)) return key
  return key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)
}

// A Map, not a WeakMap: it lives only while a document is loaded, and a WeakMap with many entries costs the
// garbage collector far more (ephemeron processing) on large dumps.
/** Normalised objects → their pointer into the original document. */
type PointerMap = Map<object, string>

/** Normalised objects whose keys were renamed → the original object (to find original keys for pointers). */
type RenameMap = Map<object, object>

function isContainer(value: unknown): value is object {
  return typeof value === 'object' && value !== null
}

function isJsonLeaf(value: unknown): boolean {
  return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' || value === null
}

function normalizeLeaf(value: unknown): Json {
  return isJsonLeaf(value) ? (value as Json) : null
}

function childModeOf(mode: Mode, name: string): Mode {
  if (mode === 'verbatim') return 'verbatim'
  if (mode === 'keys') return 'convert'
  return VERBATIM_SUBTREES.has(name) ? 'verbatim' : VERBATIM_KEYS.has(name) ? 'keys' : 'convert'
}

/**
 * The keys whose object values model objects point back to (evidence); with array elements and the root, these are
 * the only objects whose pointers `normalizeJson` records: a pointer for every JSON object would cost more than the parse.
 */
const POINTED_KEYS = new Set(['listener', 'cluster', 'route_config', 'endpoint_config', 'load_assignment', 'bootstrap', 'default_filter_chain'])

/**
 * A subtree whose keys are already snake_case and whose values are plain JSON is returned as it is (it is never
 * changed afterwards), so a v3 dump costs a walk, not a copy; only subtrees with camelCase keys are rebuilt.
 * `pointed`: whether this object's pointer is recorded (see POINTED_KEYS).
 */
function normalize(value: unknown, pointer: string, ptrs: PointerMap, mode: Mode, pointed = true): Json {
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
      const name = mode === 'convert' ? snakeCase(key) : key
      const n = isContainer(v) ? normalize(v, `${pointer}/${escapePointer(key)}`, ptrs, childModeOf(mode, name), POINTED_KEYS.has(name)) : normalizeLeaf(v)
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

/**
 * `normalize` without pointers: the same result, and each rebuilt object whose keys were renamed is remembered in
 * `renamed` (to its original) so that `keyOf` can still name the original keys.
 */
function normalizeDeep(value: unknown, mode: Mode, renamed: RenameMap): Json {
  if (Array.isArray(value)) {
    const childMode = mode === 'keys' ? 'convert' : mode
    let out: Json[] | null = null
    for (let i = 0; i < value.length; i++) {
      const v: unknown = value[i]
      const n = isContainer(v) ? normalizeDeep(v, childMode, renamed) : normalizeLeaf(v)
      if (out === null && n !== v) out = value.slice(0, i) as Json[]
      if (out !== null) out.push(n)
    }
    return out ?? (value as Json[])
  }
  if (isContainer(value)) {
    const input = value as Record<string, unknown>
    // for…in allocates nothing, unlike Object.keys: a snake_case subtree (the usual case) is only read.
    for (const key in input) {
      if (!Object.hasOwn(input, key)) continue
      const v = input[key]
      const name = mode === 'convert' ? snakeCase(key) : key
      const n = isContainer(v) ? normalizeDeep(v, childModeOf(mode, name), renamed) : normalizeLeaf(v)
      if (n !== v || name !== key) return rebuildObject(input, mode, renamed, key, n)
    }
    return input as JsonObject
  }
  return normalizeLeaf(value)
}

/**
 * `normalizeDeep` of an object that changes, first at `changedKey` (normalised to `changed`): a renamed, normalised
 * copy. The keys before `changedKey` are unchanged; `changed` is reused, as normalising it again would double the
 * work at every level of a camelCase document.
 */
function rebuildObject(input: Record<string, unknown>, mode: Mode, renamed: RenameMap, changedKey: string, changed: Json): JsonObject {
  const out: JsonObject = {}
  let isRenamed = false
  let before = true
  for (const key of Object.keys(input)) {
    const v = input[key]
    if (before && key !== changedKey) {
      out[key] = v as Json
      continue
    }
    const name = mode === 'convert' ? snakeCase(key) : key
    if (name !== key) isRenamed = true
    if (before) out[name] = changed
    else out[name] = isContainer(v) ? normalizeDeep(v, childModeOf(mode, name), renamed) : normalizeLeaf(v)
    before = false
  }
  if (isRenamed) renamed.set(out, input)
  return out
}

const EMPTY: JsonObject = Object.freeze({}) as JsonObject

/** The object at `key` as it is (no view), or a shared empty object: for reading only, never for the model to keep. */
function objIn(o: JsonObject, key: string): JsonObject {
  const v = o[key]
  return isObject(v) ? v : EMPTY
}

/**
 * One level of `normalize` in convert mode: the object with its keys in snake_case, its values as they are (read
 * them through `view` again). The object itself when no key is camelCase, as in any v3 `/config_dump`.
 * Reads of strings, numbers and booleans through `strAt`/`numAt`/`boolAt` give what they give on the normalised
 * object; objects kept by the model must come from `normalizeDeep` instead.
 */
function view(value: Json | undefined, renamed?: RenameMap): JsonObject {
  if (!isObject(value)) return EMPTY
  let camel = false
  for (const key in value) {
    if (hasUpperCase(key) && snakeCase(key) !== key) {
      camel = true
      break
    }
  }
  if (!camel) return value
  const out: JsonObject = {}
  for (const key of Object.keys(value)) out[snakeCase(key)] = value[key]
  renamed?.set(out, value)
  return out
}

/** `view` of the object at `key`. */
function viewAt(o: JsonObject, key: string, renamed?: RenameMap): JsonObject {
  return view(o[key], renamed)
}

/** The original key (escaped for a pointer) of field `key` of the normalised object `o`: a later duplicate wins. */
function keyOf(ctx: Ctx, o: JsonObject, key: string): string {
  const original = ctx.renamed.get(o)
  if (original === undefined) return key
  let found = key
  for (const k of Object.keys(original)) if (snakeCase(k) === key) found = k
  return escapePointer(found)
}

const CAMEL_CASE = new Map<string, string>()

/** The camelCase spelling that normalises to the snake_case `key` (`key` itself when there is none). */
function camelCaseOf(key: string): string {
  let camel = CAMEL_CASE.get(key)
  if (camel === undefined) {
    camel = key.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase())
    if (snakeCase(camel) !== key) camel = key
    CAMEL_CASE.set(key, camel)
  }
  return camel
}

/**
 * The key of raw JSON `o` (convert mode) that its normalised form has at `key`, or null: `key` or its camelCase
 * spelling, the later one when both are there (as in `normalize`). Reads one field without viewing the object.
 */
function sourceKey(o: JsonObject, key: string): string | null {
  const camel = camelCaseOf(key)
  const hasKey = Object.hasOwn(o, key)
  if (camel === key) return hasKey ? key : null
  const hasCamel = Object.hasOwn(o, camel)
  if (hasKey && hasCamel) {
    const keys = Object.keys(o)
    return keys.indexOf(key) > keys.indexOf(camel) ? key : camel
  }
  return hasKey ? key : hasCamel ? camel : null
}

/** The spelling (`key` or its camelCase) under which `e` holds an object at `key` (as `sourceKey` picks it), or null. */
function objectKeyOf(e: Json | undefined, key: string): string | null {
  if (!isObject(e)) return null
  const k = sourceKey(e, key)
  return k !== null && isObject(e[k]) ? k : null
}

/** Whether every element is an object (a hole is not: `every` would skip it). */
function allObjects(list: Json[]): boolean {
  for (let i = 0; i < list.length; i++) if (!isObject(list[i])) return false
  return true
}

/** `fn` over the object elements of array field `key` of `o` (whose pointer is `pointer`), with their pointers. */
function mapObjects<T>(ctx: Ctx, o: JsonObject, key: string, pointer: string, fn: (el: JsonObject, pointer: string, index: number) => T): T[] {
  const list = o[key]
  if (!Array.isArray(list) || list.length === 0) return []
  const base = `${pointer}/${keyOf(ctx, o, key)}`
  // Arrays of objects only (the usual case) are mapped at their exact length: growing by push reserves slack.
  if (allObjects(list)) return list.map((el, i) => fn(el as JsonObject, `${base}/${i}`, i))
  const out: T[] = []
  for (let i = 0; i < list.length; i++) {
    const el = list[i]
    if (isObject(el)) out.push(fn(el, `${base}/${i}`, out.length))
  }
  return out
}

// ---------------------------------------------------------------------------------------------
// Parsing context

interface Ctx {
  file: string
  renamed: RenameMap
}

function src(ctx: Ctx, pointer: string): SourceRef {
  return { file: ctx.file, pointer }
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
    for (const k in tc) if (k !== '@type' && Object.hasOwn(tc, k)) config[k] = tc[k]
    return { typeUrl: url, config }
  }
  if (isObject(f.config)) return { typeUrl: null, config: f.config }
  return { typeUrl: null, config: {} }
}

/** The object whose fields `filterConfig` returns, and its pointer (for an inline route_config). */
function filterConfigSite(ctx: Ctx, f: JsonObject, pointer: string): { holder: JsonObject; pointer: string } {
  const tc = f.typed_config
  if (isObject(tc)) {
    const at = `${pointer}/${keyOf(ctx, f, 'typed_config')}`
    const url = shortTypeUrl(strAt(tc, '@type'))
    if (url !== null && /(^|\.)TypedStruct$/.test(url)) return { holder: objIn(tc, 'value'), pointer: `${at}/${keyOf(ctx, tc, 'value')}` }
    return { holder: tc, pointer: at }
  }
  if (isObject(f.config)) return { holder: f.config, pointer: `${pointer}/${keyOf(ctx, f, 'config')}` }
  return { holder: {}, pointer: '' }
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
  const sa = viewAt(address, 'socket_address')
  const ip = strAt(sa, 'address')
  if (ip === null) return null
  const out: SocketAddress = { ip: canonicalIp(ip), port: numAt(sa, 'port_value') ?? 0 }
  if (boolAt(sa, 'ipv4_compat') === true) out.ipv4Compat = true
  return out
}

const NO_ITEMS: readonly Json[] = Object.freeze([])

/** The array at `key` as it is, or a shared empty one: for reading only, never for the model to keep. */
function arrIn(o: JsonObject, key: string): readonly Json[] {
  const v = o[key]
  return Array.isArray(v) ? v : NO_ITEMS
}

// The helpers below use index loops: for…of allocates an iterator result per element until the JIT optimises it,
// and a dump is loaded once.

/** The strings of a JSON array (lower-cased in ASCII, as Envoy does, if asked), in one new array. */
function stringsOf(list: readonly Json[], lower: boolean): string[] {
  let all = true
  for (let i = 0; i < list.length && all; i++) all = typeof list[i] === 'string'
  if (all) return lower ? list.map((v) => asciiLowerCase(v as string)) : (list.slice() as string[])
  const out: string[] = []
  for (let i = 0; i < list.length; i++) {
    const v = list[i]
    if (typeof v === 'string') out.push(lower ? asciiLowerCase(v) : v)
  }
  return out
}

function cidrs(list: readonly Json[]): CidrRange[] {
  const out: CidrRange[] = []
  for (let i = 0; i < list.length; i++) {
    const c = list[i]
    if (isObject(c)) out.push({ addressPrefix: canonicalIp(strAt(c, 'address_prefix') ?? ''), prefixLen: numAt(c, 'prefix_len') ?? 0 })
  }
  return out
}

function ports(list: readonly Json[]): number[] {
  const out: number[] = []
  for (let i = 0; i < list.length; i++) {
    const n = Number(list[i])
    if (Number.isFinite(n)) out.push(n)
  }
  return out
}

function parseFilterChainMatch(m: JsonObject): FilterChainMatch {
  const st = strAt(m, 'source_type')
  return {
    destinationPort: numAt(m, 'destination_port'),
    prefixRanges: cidrs(arrIn(m, 'prefix_ranges')),
    serverNames: stringsOf(arrIn(m, 'server_names'), true),
    transportProtocol: strAt(m, 'transport_protocol') ?? '',
    applicationProtocols: stringsOf(arrIn(m, 'application_protocols'), false),
    directSourcePrefixRanges: cidrs(arrIn(m, 'direct_source_prefix_ranges')),
    sourceType: st === 'SAME_IP_OR_LOOPBACK' || st === 'EXTERNAL' ? st : 'ANY',
    sourcePrefixRanges: cidrs(arrIn(m, 'source_prefix_ranges')),
    sourcePorts: ports(arrIn(m, 'source_ports')),
  }
}

function parseHttpFilter(ctx: Ctx, f: JsonObject, pointer: string): HttpFilter {
  const { typeUrl, config } = filterConfig(f)
  return { kind: 'http-filter', name: strAt(f, 'name') ?? '', typeUrl, config, disabled: boolAt(f, 'disabled') ?? false, source: src(ctx, pointer) }
}

/** `site`: where the config's fields sit in the document (see filterConfigSite). */
function parseHcm(ctx: Ctx, config: JsonObject, site: { holder: JsonObject; pointer: string }): HttpConnectionManager {
  let routeSource: HttpConnectionManager['routeSource'] = { kind: 'none' }
  if (isObject(config.rds)) routeSource = { kind: 'rds', routeConfigName: strAt(config.rds, 'route_config_name') ?? '' }
  else if (isObject(config.route_config)) {
    const pointer = `${site.pointer}/${keyOf(ctx, site.holder, 'route_config')}`
    routeSource = { kind: 'route_config', routeConfig: parseRouteConfiguration(ctx, config.route_config, pointer, true) }
  } else if (isObject(config.scoped_routes)) routeSource = { kind: 'scoped_routes' }
  return {
    kind: 'http_connection_manager',
    statPrefix: strAt(config, 'stat_prefix') ?? '',
    routeSource,
    // The same array as in site.holder (config may be a copy without '@type'), whose keys the pointers name.
    httpFilters: mapObjects(ctx, site.holder, 'http_filters', site.pointer, (f, p) => parseHttpFilter(ctx, f, p)),
    stripMatchingHostPort: boolAt(config, 'strip_matching_host_port') ?? false,
    stripAnyHostPort: boolAt(config, 'strip_any_host_port') ?? false,
  }
}

function parseTcpProxy(config: JsonObject): TcpProxy {
  const weighted = arrAt(objIn(config, 'weighted_clusters'), 'clusters')
    .filter(isObject)
    .map((c) => ({ name: strAt(c, 'name') ?? '', weight: numAt(c, 'weight') ?? 0 }))
  return {
    kind: 'tcp_proxy',
    statPrefix: strAt(config, 'stat_prefix') ?? '',
    cluster: strAt(config, 'cluster'),
    weightedClusters: weighted,
    deprecatedRoutes: arrAt(objIn(config, 'deprecated_v1'), 'routes').filter(isObject),
  }
}

function parseNetworkFilter(ctx: Ctx, f: JsonObject, pointer: string): NetworkFilter {
  const name = strAt(f, 'name') ?? ''
  const { typeUrl, config } = filterConfig(f)
  const role = roleBy(typeUrl, name, NETWORK_FILTER_ROLES, 'other')
  return {
    kind: 'network-filter',
    name,
    typeUrl,
    role,
    config,
    hcm: role === 'http_connection_manager' ? parseHcm(ctx, config, filterConfigSite(ctx, f, pointer)) : null,
    tcpProxy: role === 'tcp_proxy' ? parseTcpProxy(config) : null,
    source: src(ctx, pointer),
  }
}

function parseFilterChain(ctx: Ctx, fc: JsonObject, pointer: string, index: number): FilterChain {
  const ts = objIn(fc, 'transport_socket')
  const transportSocket = strAt(ts, 'name') ?? (isObject(fc.tls_context) ? 'tls' : null)
  return {
    kind: 'filter-chain',
    name: strAt(fc, 'name'),
    index,
    match: parseFilterChainMatch(objIn(fc, 'filter_chain_match')),
    filters: mapObjects(ctx, fc, 'filters', pointer, (f, p) => parseNetworkFilter(ctx, f, p)),
    transportSocket,
    source: src(ctx, pointer),
  }
}

/** Parses one Listener, normalised whole (`normalizeDeep`): its filter configs are kept as JSON. */
function parseListener(ctx: Ctx, l: JsonObject, pointer: string, state: ListenerState): Listener {
  const address = objIn(l, 'address')
  const sock = socketAddress(address)
  const addressKind = sock ? 'socket' : isObject(address.pipe) ? 'pipe' : isObject(address.envoy_internal_address) ? 'internal' : 'none'
  const deprecatedBind = boolAt(objIn(l, 'deprecated_v1'), 'bind_to_port')
  const bind = boolAt(l, 'bind_to_port') ?? deprecatedBind ?? true
  return {
    kind: 'listener',
    name: strAt(l, 'name') ?? '',
    address: sock,
    additionalAddresses: arrAt(l, 'additional_addresses')
      .filter(isObject)
      .map((a) => socketAddress(objIn(a, 'address')))
      .filter((a): a is SocketAddress => a !== null),
    addressKind,
    state,
    useOriginalDst: boolAt(l, 'use_original_dst') ?? boolAt(l, 'hidden_envoy_deprecated_use_original_dst') ?? false,
    bindToPort: bind,
    transparent: boolAt(l, 'transparent') ?? false,
    trafficDirection: strAt(l, 'traffic_direction'),
    listenerFilters: mapObjects(ctx, l, 'listener_filters', pointer, (f, p): ListenerFilter => {
      const name = strAt(f, 'name') ?? ''
      const { typeUrl } = filterConfig(f)
      return {
        kind: 'listener-filter',
        name,
        typeUrl,
        role: roleBy(typeUrl, name, LISTENER_FILTER_ROLES, 'other'),
        filterDisabled: isObject(f.filter_disabled) ? f.filter_disabled : null,
        source: src(ctx, p),
      }
    }),
    filterChains: mapObjects(ctx, l, 'filter_chains', pointer, (fc, p, i) => parseFilterChain(ctx, fc, p, i)),
    defaultFilterChain: isObject(l.default_filter_chain) ? parseFilterChain(ctx, l.default_filter_chain, `${pointer}/${keyOf(ctx, l, 'default_filter_chain')}`, -1) : null,
    filterChainMatcher: isObject(l.filter_chain_matcher) ? l.filter_chain_matcher : null,
    source: src(ctx, pointer),
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
    const body = objIn(dr, 'body')
    return { kind: 'direct_response', status: numAt(dr, 'status') ?? 200, body: strAt(body, 'inline_string') ?? strAt(body, 'inline_bytes'), config: dr }
  }
  if (isObject(r.non_forwarding_action)) return { kind: 'non_forwarding', config: r.non_forwarding_action }
  if (isObject(r.filter_action)) return { kind: 'filter_action', config: r.filter_action }
  return { kind: 'none', config: {} }
}

function parseRoute(ctx: Ctx, r: JsonObject, pointer: string, index: number): Route {
  const istio = objIn(objIn(objIn(r, 'metadata'), 'filter_metadata'), 'istio')
  return {
    kind: 'route',
    name: strAt(r, 'name'),
    index,
    match: objAt(r, 'match'),
    action: parseRouteAction(r),
    istioConfig: strAt(istio, 'config'),
    raw: r,
    source: src(ctx, pointer),
  }
}

function parseVirtualHost(ctx: Ctx, raw: JsonObject, pointer: string): VirtualHost {
  const v = normalizeDeep(raw, 'convert', ctx.renamed) as JsonObject
  return {
    kind: 'virtual-host',
    name: strAt(v, 'name') ?? '',
    domains: stringsOf(arrIn(v, 'domains'), true),
    routes: mapObjects(ctx, v, 'routes', pointer, (r, p, i) => parseRoute(ctx, r, p, i)),
    raw: v,
    source: src(ctx, pointer),
  }
}

/**
 * Parses one RouteConfiguration from its raw JSON (camelCase read as snake_case). Its virtual hosts are parsed one by
 * one when needed (`deferVirtualHosts`), and `raw` (the whole configuration, normalised) on first read.
 */
function parseRouteConfiguration(ctx: Ctx, raw: JsonObject, pointer: string, inline: boolean): RouteConfiguration {
  const rc = view(raw, ctx.renamed)
  const vh = strAt(rc, 'vhost_header')
  const out = {
    kind: 'route-config',
    name: strAt(rc, 'name') ?? '',
    virtualHosts: [],
    ignorePortInHostMatching: boolAt(rc, 'ignore_port_in_host_matching') ?? false,
    vhostHeader: vh === null || vh === '' ? null : vh.toLowerCase(),
    ignorePathParameters: boolAt(rc, 'ignore_path_parameters_in_path_matching') === true,
    inline,
  } as unknown as RouteConfiguration
  valueOnRead(out, 'raw', () => normalizeDeep(raw, 'convert', ctx.renamed) as JsonObject)
  out.source = src(ctx, pointer)
  // The object elements of virtual_hosts, and their indexes in the array when it holds anything else.
  const list = rc.virtual_hosts
  let hosts: JsonObject[] = []
  let at: number[] | null = null
  if (Array.isArray(list) && list.length > 0) {
    if (allObjects(list)) hosts = list as JsonObject[]
    else {
      at = []
      for (let i = 0; i < list.length; i++) {
        const el = list[i]
        if (isObject(el)) {
          hosts.push(el)
          at.push(i)
        }
      }
    }
  }
  const base = hosts.length > 0 ? `${pointer}/${keyOf(ctx, rc, 'virtual_hosts')}` : ''
  deferVirtualHosts(out, {
    hosts,
    parse: (i) => parseVirtualHost(ctx, hosts[i], `${base}/${at === null ? i : at[i]}`),
  })
  return out
}

/** Parses a bare RouteConfiguration value (e.g. a router check tool config) into the model type. */
export function loadRouteConfiguration(value: unknown, file = 'route_config'): RouteConfiguration {
  if (!isObject(value as Json)) throw new EnvoyConfigError(file, '', 'not-a-route-configuration', 'expected a RouteConfiguration object')
  return parseRouteConfiguration({ file, renamed: new Map() }, value as JsonObject, '', false)
}

const HEALTH: HealthStatus[] = ['UNKNOWN', 'HEALTHY', 'UNHEALTHY', 'DRAINING', 'TIMEOUT', 'DEGRADED']

function healthStatus(v: Json | undefined): HealthStatus {
  if (typeof v === 'number') return HEALTH[v] ?? 'UNKNOWN'
  if (typeof v === 'string' && (HEALTH as string[]).includes(v)) return v as HealthStatus
  return 'UNKNOWN'
}

/** Parses one LbEndpoint (raw JSON, read through views). */
function parseLbEndpoint(ctx: Ctx, raw: JsonObject, pointer: string): LbEndpoint {
  const e = view(raw)
  const ep = viewAt(e, 'endpoint')
  const address = viewAt(ep, 'address')
  const sock = socketAddress(address)
  const pipe = strAt(viewAt(address, 'pipe'), 'path')
  const internal = viewAt(address, 'envoy_internal_address')
  // Pipes print as unix://<path>, as in /clusters.
  const ip = sock?.ip ?? (pipe !== null ? `unix://${pipe}` : null) ?? (strAt(internal, 'server_listener_name') !== null ? `envoy://${strAt(internal, 'server_listener_name')}/${strAt(internal, 'endpoint_id') ?? ''}` : '')
  return {
    kind: 'lb-endpoint',
    ip,
    port: sock?.port ?? 0,
    healthStatus: healthStatus(e.health_status),
    weight: numAt(e, 'load_balancing_weight') ?? 1,
    hostname: strAt(ep, 'hostname'),
    transportSocketMatch: stringMap(objIn(objIn(viewAt(e, 'metadata'), 'filter_metadata'), 'envoy.transport_socket_match')),
    source: src(ctx, pointer),
  }
}

function stringMap(o: JsonObject): Record<string, string> | null {
  let out: Record<string, string> | null = null
  for (const key of Object.keys(o)) {
    const v = o[key]
    if (typeof v === 'string') (out ??= {})[key] = v
  }
  return out
}

const UPSTREAM_TLS_TYPES = ['envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext', 'envoy.api.v2.auth.UpstreamTlsContext']
const PLAINTEXT_SOCKETS = ['envoy.transport_sockets.raw_buffer', 'raw_buffer', 'envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer']

/** A `transport_socket` (or v2 `tls_context`) view → TLS facts; null for plaintext. */
function parseUpstreamTransport(socket: JsonObject, v2TlsContext: JsonObject | null): UpstreamTransport | null {
  const tlsFacts = (t: JsonObject, name: string): UpstreamTransport => ({
    kind: 'tls',
    sni: strAt(t, 'sni'),
    alpn: arrAt(viewAt(t, 'common_tls_context'), 'alpn_protocols').filter((a): a is string => typeof a === 'string'),
    name,
  })
  if (v2TlsContext !== null) return tlsFacts(v2TlsContext, 'tls_context')
  if (Object.keys(socket).length === 0) return null
  const name = strAt(socket, 'name') ?? ''
  const typed = viewAt(socket, 'typed_config')
  const type = shortTypeUrl(strAt(typed, '@type'))
  if (type !== null && UPSTREAM_TLS_TYPES.includes(type)) return tlsFacts(typed, name || type)
  if (type === null && (name === 'envoy.transport_sockets.tls' || name === 'tls')) return tlsFacts(viewAt(socket, 'config'), name)
  if (PLAINTEXT_SOCKETS.includes(type ?? name)) return null
  return { kind: 'unknown', sni: null, alpn: [], name: type ?? name }
}

/** Parses one ClusterLoadAssignment (raw JSON, read through views). */
function parseLoadAssignment(ctx: Ctx, raw: JsonObject, pointer: string, fallbackName = ''): ClusterLoadAssignment {
  const cla = view(raw, ctx.renamed)
  const endpoints = mapObjects(ctx, cla, 'endpoints', pointer, (rawLe, lePointer): LocalityLbEndpoints => {
    const le = view(rawLe, ctx.renamed)
    const loc = viewAt(le, 'locality')
    return {
      locality: { region: strAt(loc, 'region') ?? '', zone: strAt(loc, 'zone') ?? '', subZone: strAt(loc, 'sub_zone') ?? '' },
      priority: numAt(le, 'priority') ?? 0,
      weight: numAt(le, 'load_balancing_weight'),
      lbEndpoints: mapObjects(ctx, le, 'lb_endpoints', lePointer, (e, p) => parseLbEndpoint(ctx, e, p)),
    }
  })
  return {
    kind: 'cluster-load-assignment',
    clusterName: strAt(cla, 'cluster_name') ?? fallbackName,
    endpoints,
    overprovisioningFactor: numAt(viewAt(cla, 'policy'), 'overprovisioning_factor') ?? 140,
    source: src(ctx, pointer),
  }
}

const CLUSTER_TYPES: ClusterDiscoveryType[] = ['STATIC', 'STRICT_DNS', 'LOGICAL_DNS', 'EDS', 'ORIGINAL_DST']

/** Parses one Cluster (raw JSON, read through views: the model keeps none of its JSON). */
function parseCluster(ctx: Ctx, raw: JsonObject, pointer: string, state: Cluster['state']): Cluster {
  const c = view(raw, ctx.renamed)
  const name = strAt(c, 'name') ?? ''
  let type: ClusterDiscoveryType = 'STATIC'
  let extensionType: string | null = null
  const t = c.type
  if (isObject(c.cluster_type)) {
    const ct = view(c.cluster_type)
    type = 'extension'
    extensionType = shortTypeUrl(strAt(viewAt(ct, 'typed_config'), '@type')) ?? strAt(ct, 'name')
  } else if (typeof t === 'string' && (CLUSTER_TYPES as string[]).includes(t)) type = t as ClusterDiscoveryType
  else if (typeof t === 'number') type = CLUSTER_TYPES[t] ?? 'STATIC'
  let loadAssignment: ClusterLoadAssignment | null = null
  if (isObject(c.load_assignment)) loadAssignment = parseLoadAssignment(ctx, c.load_assignment, `${pointer}/${keyOf(ctx, c, 'load_assignment')}`, name)
  else if (Array.isArray(c.hosts)) {
    // v2 `hosts` (deprecated): plain addresses, no health status; pointers count the object hosts only.
    const lbEndpoints = c.hosts.filter(isObject).map((h, i) => parseLbEndpoint(ctx, { endpoint: { address: h } }, `${pointer}/hosts/${i}`))
    loadAssignment = {
      kind: 'cluster-load-assignment',
      clusterName: name,
      endpoints: [{ locality: { region: '', zone: '', subZone: '' }, priority: 0, weight: null, lbEndpoints }],
      overprovisioningFactor: 140,
      source: { file: ctx.file, pointer: `${pointer}/hosts` },
    }
  }
  const istio = objIn(objIn(viewAt(c, 'metadata'), 'filter_metadata'), 'istio')
  // BindConfig.source_address is a SocketAddress itself (envoy address.proto), not an Address.
  const bindSource = viewAt(viewAt(c, 'upstream_bind_config'), 'source_address')
  const bind = socketAddress(isObject(bindSource.socket_address) ? bindSource : { socket_address: bindSource })
  // A Percent message written as {} means 0% (panic mode disabled), as Istio sets with outlier detection.
  const hpt = viewAt(c, 'common_lb_config').healthy_panic_threshold
  const panic = isObject(hpt) ? (numAt(view(hpt), 'value') ?? 0) : typeof hpt === 'number' ? hpt : null
  return {
    kind: 'cluster',
    name,
    type,
    extensionType,
    lbPolicy: strAt(c, 'lb_policy') ?? 'ROUND_ROBIN',
    edsServiceName: strAt(viewAt(c, 'eds_cluster_config'), 'service_name'),
    loadAssignment,
    state,
    istioConfig: strAt(istio, 'config'),
    upstreamBindAddress: bind?.ip ?? null,
    healthyPanicThreshold: panic ?? 50,
    transportSocket: parseUpstreamTransport(viewAt(c, 'transport_socket'), isObject(c.tls_context) ? view(c.tls_context) : null),
    transportSocketMatches: arrAt(c, 'transport_socket_matches')
      .filter(isObject)
      .map((raw) => {
        const m = view(raw)
        return { name: strAt(m, 'name') ?? '', match: stringMap(viewAt(m, 'match')) ?? {}, transport: parseUpstreamTransport(viewAt(m, 'transport_socket'), null) }
      }),
    source: src(ctx, pointer),
  }
}

/** Parses the bootstrap (raw JSON, read through views). */
function parseBootstrap(ctx: Ctx, raw: JsonObject, pointer: string): Bootstrap {
  const b = view(raw)
  const node = viewAt(b, 'node')
  const ua = viewAt(viewAt(node, 'user_agent_build_version'), 'version')
  const envoyVersion =
    numAt(ua, 'major_number') !== null
      ? `${numAt(ua, 'major_number')}.${numAt(ua, 'minor_number') ?? 0}.${numAt(ua, 'patch') ?? 0}`
      : // build_version reads `<sha>/1.11.0-dev/Clean/RELEASE/BoringSSL`.
        (/\/(\d+\.\d+\.\d+)/.exec(strAt(node, 'build_version') ?? '')?.[1] ?? null)
  const meta = viewAt(node, 'metadata')
  const matcher = viewAt(viewAt(b, 'stats_config'), 'stats_matcher')
  let statsInclusion: Bootstrap['statsInclusion'] = null
  if (isObject(matcher.inclusion_list)) {
    statsInclusion = { prefixes: [], suffixes: [], regexes: [] }
    for (const p of arrAt(view(matcher.inclusion_list), 'patterns').filter(isObject).map((p) => view(p))) {
      const prefix = strAt(p, 'prefix')
      const suffix = strAt(p, 'suffix')
      const re = strAt(viewAt(p, 'safe_regex'), 'regex') ?? strAt(p, 'regex')
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
    source: src(ctx, pointer),
  }
}

// ---------------------------------------------------------------------------------------------
// Dump dispatch

/**
 * Where a resource parsed later is: `${base}/${index}/${key}` for an entry of a dump list (built only when it is
 * parsed: thousands of pointer strings would be made for the few a trace looks at), else `base` (index -1).
 */
interface DeferredAt {
  readonly base: string
  readonly index: number
  readonly key: string
}

function pointerAt(at: DeferredAt): string {
  return at.index < 0 ? at.base : `${at.base}/${at.index}/${at.key}`
}

/** A cluster found in the dump, parsed on first use: a trace needs a few of the thousands a dump may have. */
interface DeferredCluster extends DeferredAt {
  readonly name: string
  readonly state: Cluster['state']
  readonly raw: JsonObject
  value: Cluster | null
}

/** A load assignment found in the dump, parsed on first use. */
interface DeferredLoadAssignment extends DeferredAt {
  readonly clusterName: string
  readonly raw: JsonObject
  value: ClusterLoadAssignment | null
}

/** The listener fields the indexes and the capture-listener search read: a listener is parsed only when picked. */
export type ListenerHead = Pick<Listener, 'name' | 'state' | 'address' | 'additionalAddresses' | 'bindToPort' | 'useOriginalDst'>

/** A listener found in the dump, parsed on first use, with the fields the indexes need read from its raw JSON. */
interface DeferredListener extends DeferredAt, ListenerHead {
  readonly raw: JsonObject
  value: Listener | null
}

/** A route configuration found in the dump, parsed on first use: a trace needs one of them. */
interface DeferredRouteConfig extends DeferredAt {
  readonly name: string
  readonly raw: JsonObject
  value: RouteConfiguration | null
}

/** The socket address at field `key` of the view `o`, read as `parseListener` reads it from the normalised listener. */
function socketAddressAt(o: JsonObject, key: string): SocketAddress | null {
  return socketAddress(viewAt(o, key))
}

/** Reads the head of the raw listener `raw` (through views, as `parseListener` reads the normalised one). */
function deferListener(raw: JsonObject, state: ListenerState, base: string, index = -1, key = ''): DeferredListener {
  const l = view(raw)
  const additional = arrIn(l, 'additional_addresses')
  const additionalAddresses: SocketAddress[] = []
  for (let i = 0; i < additional.length; i++) {
    const a = additional[i]
    const sock = isObject(a) ? socketAddressAt(view(a), 'address') : null
    if (sock !== null) additionalAddresses.push(sock)
  }
  return {
    name: strAt(l, 'name') ?? '',
    state,
    address: socketAddressAt(l, 'address'),
    additionalAddresses,
    bindToPort: boolAt(l, 'bind_to_port') ?? boolAt(viewAt(l, 'deprecated_v1'), 'bind_to_port') ?? true,
    useOriginalDst: boolAt(l, 'use_original_dst') ?? boolAt(l, 'hidden_envoy_deprecated_use_original_dst') ?? false,
    raw,
    base,
    index,
    key,
    value: null,
  }
}

/** Defers a raw route configuration, read now only for its name. */
function deferRouteConfig(raw: JsonObject, base: string, index = -1, key = ''): DeferredRouteConfig {
  // `name` has no camelCase spelling: the raw field is the normalised one.
  return { name: strAt(raw, 'name') ?? '', raw, base, index, key, value: null }
}

function deferCluster(raw: JsonObject, state: Cluster['state'], base: string, index = -1, key = ''): DeferredCluster {
  // `name` has no camelCase spelling: the raw field is the normalised one.
  return { name: strAt(raw, 'name') ?? '', state, raw, base, index, key, value: null }
}

function deferLoadAssignment(raw: JsonObject, base: string, index = -1, key = ''): DeferredLoadAssignment {
  return { clusterName: fieldText(raw, 'cluster_name', camelCaseOf('cluster_name')), raw, base, index, key, value: null }
}

/** One dump list (`entries[i][key]` holds a resource), kept as it is until its entries are needed. */
interface RawRun<D> {
  readonly list: Json[]
  /** The resource's field in each entry (snake_case; its camelCase spelling is read too). */
  readonly key: string
  /** The list's pointer. */
  readonly base: string
  readonly state: Cluster['state']
  /** Deferred resources made so far, by entry index. */
  readonly made: Array<D | undefined>
}

/**
 * The deferred resources of one kind, in config order. A dump list is recorded as it stands when the dump is loaded;
 * a deferred resource is made for an entry only when it is looked up (`find` reads the raw entries in place) or when
 * all of them are needed (`all`, for listing and for the indexes), and then once: both return the same objects.
 * A dump of thousands of clusters and load assignments costs a trace the few it looks at.
 */
class Deferrals<D extends { readonly raw: JsonObject; readonly state?: Cluster['state'] }> {
  private readonly runs: Array<D | RawRun<D>> = []
  private listed: D[] | null = null

  constructor(private readonly make: (raw: JsonObject, run: RawRun<D>, index: number, key: string) => D) {}

  /** Appends one deferred resource. */
  push(d: D): void {
    this.runs.push(d)
    this.listed = null
  }

  /** Appends the entries of dump list `list` (at pointer `base`) holding an object at `key`. */
  pushList(list: Json[], key: string, base: string, state: Cluster['state']): void {
    this.runs.push({ list, key, base, state, made: [] })
    this.listed = null
  }

  /** Every deferred resource, in config order. */
  all(): D[] {
    if (this.listed !== null) return this.listed
    const out: D[] = []
    for (const run of this.runs) {
      if (!isRawRun(run)) {
        out.push(run)
        continue
      }
      for (let i = 0; i < run.list.length; i++) {
        const d = this.at(run, i)
        if (d !== undefined) out.push(d)
      }
    }
    this.listed = out
    return out
  }

  /**
   * The first deferred resource (the last with `fromEnd`) whose string field `field` (as `strAt` reads it, '' when
   * unset) is `name`, skipping warming ones when `serving`. Reads the raw entries in place, without a call per entry:
   * a lookup in a dump of thousands of resources costs what a table lookup saves building.
   */
  find(field: string, name: string, serving: boolean, fromEnd: boolean): D | undefined {
    const runs = this.runs
    const fieldCamel = camelCaseOf(field)
    const step = fromEnd ? -1 : 1
    for (let r = fromEnd ? runs.length - 1 : 0; r >= 0 && r < runs.length; r += step) {
      const run = runs[r]
      if (!isRawRun(run)) {
        if ((!serving || run.state !== 'warming') && fieldText(run.raw, field, fieldCamel) === name) return run
        continue
      }
      if (serving && run.state === 'warming') continue
      const list = run.list
      const key = run.key
      const keyCamel = camelCaseOf(key)
      for (let i = fromEnd ? list.length - 1 : 0; i >= 0 && i < list.length; i += step) {
        const e = list[i]
        if (typeof e !== 'object' || e === null || Array.isArray(e)) continue
        let v = e[key]
        if (keyCamel !== key && e[keyCamel] !== undefined) v = v === undefined ? e[keyCamel] : e[sourceKey(e, key) ?? key]
        if (typeof v !== 'object' || v === null || Array.isArray(v)) continue
        let n = v[field]
        if (fieldCamel !== field && v[fieldCamel] !== undefined) n = n === undefined ? v[fieldCamel] : v[sourceKey(v, field) ?? field]
        if (typeof n === 'string' ? n === name : typeof n === 'number' ? String(n) === name : name === '') return this.at(run, i)
      }
    }
    return undefined
  }

  /** The deferred resource of entry `i` of `run` (made on first use), or undefined when it holds none. */
  private at(run: RawRun<D>, i: number): D | undefined {
    let d = run.made[i]
    if (d === undefined) {
      const e = run.list[i] as JsonObject
      const k = objectKeyOf(e, run.key)
      if (k === null) return undefined
      d = this.make(e[k] as JsonObject, run, i, escapePointer(k))
      run.made[i] = d
    }
    return d
  }
}

function isRawRun<D>(run: D | RawRun<D>): run is RawRun<D> {
  return Array.isArray((run as RawRun<D>).list) && (run as RawRun<D>).made !== undefined
}

/** Field `key` (or its camelCase spelling `camel`) of `o` as `strAt` reads it, '' when unset. */
function fieldText(o: JsonObject, key: string, camel: string): string {
  const k = camel === key ? key : sourceKey(o, key)
  return k === null ? '' : (strAt(o, k) ?? '')
}

function deferredClusters(): Deferrals<DeferredCluster> {
  return new Deferrals((raw, run, i, k) => deferCluster(raw, run.state, run.base, i, k))
}

function deferredLoadAssignments(): Deferrals<DeferredLoadAssignment> {
  return new Deferrals((raw, run, i, k) => deferLoadAssignment(raw, run.base, i, k))
}

/** The list field `listKey` of view `d` (at `pointer`) as a run of `into`, when it is a non-empty array. */
function pushDumpList<D extends DeferredCluster | DeferredLoadAssignment>(ctx: Ctx, into: Deferrals<D>, d: JsonObject, listKey: string, pointer: string, key: string, state: Cluster['state']): void {
  const list = d[listKey]
  if (Array.isArray(list) && list.length > 0) into.pushList(list, key, `${pointer}/${keyOf(ctx, d, listKey)}`, state)
}

/** `fn(value, base, index, key)` for each entry of list field `listKey` of view `d` holding an object at `key`. */
function eachDeferred(ctx: Ctx, d: JsonObject, listKey: string, pointer: string, key: string, fn: (value: JsonObject, base: string, index: number, key: string) => void): void {
  const list = d[listKey]
  if (!Array.isArray(list)) return
  let base: string | null = null
  for (let i = 0; i < list.length; i++) {
    const e = list[i] as JsonObject
    const k = objectKeyOf(e, key)
    if (k === null) continue
    base ??= `${pointer}/${keyOf(ctx, d, listKey)}`
    fn(e[k] as JsonObject, base, i, escapePointer(k))
  }
}

interface Collector {
  listeners: DeferredListener[]
  routeConfigs: DeferredRouteConfig[]
  clusters: Deferrals<DeferredCluster>
  loadAssignments: Deferrals<DeferredLoadAssignment>
  bootstrap: Bootstrap | null
  bootstrapStatic: { listeners: DeferredListener[]; clusters: DeferredCluster[] }
  clusterStatuses: ClusterStatus[]
  present: EnvoyModel['present']
}

/** Defers the Listener at `entry[stateKey].listener` (`entry.listener` if `stateKey` is null), entry `index` of list `base`. */
function collectListener(entry: JsonObject, base: string, index: number, stateKey: string | null, state: ListenerState, into: DeferredListener[]): void {
  let holder = entry
  let prefix = ''
  if (stateKey !== null) {
    const k = objectKeyOf(entry, stateKey)
    if (k === null) return
    holder = entry[k] as JsonObject
    prefix = `${escapePointer(k)}/`
  }
  const k = objectKeyOf(holder, 'listener')
  if (k !== null) into.push(deferListener(holder[k] as JsonObject, state, base, index, `${prefix}${escapePointer(k)}`))
}

/**
 * Defers the listeners of a listeners dump. Plain loops, no callbacks: a callback that closes over `out` and gets
 * hot is queued for optimisation, and V8 keeps a queued function (with the whole dump its context reaches) alive
 * until the job is installed, past the load and past explicit collections.
 */
function collectListenersDump(ctx: Ctx, d: JsonObject, pointer: string, out: Collector): void {
  out.present.listeners = true
  for (let l = 0; l < LISTENER_LISTS.length; l++) {
    const [key, state] = LISTENER_LISTS[l]
    const list = d[key]
    if (!Array.isArray(list)) continue
    let base: string | null = null
    for (let i = 0; i < list.length; i++) {
      const e = list[i]
      if (!isObject(e)) continue
      base ??= `${pointer}/${keyOf(ctx, d, key)}`
      if (state !== null) collectListener(e, base, i, null, state, out.listeners)
      else for (let s = 0; s < LISTENER_STATES.length; s++) collectListener(e, base, i, LISTENER_STATES[s][0], LISTENER_STATES[s][1], out.listeners)
    }
  }
}

const LISTENER_STATES = [
  ['active_state', 'active'],
  ['warming_state', 'warming'],
  ['draining_state', 'draining'],
] as const

/** The listener lists of a listeners dump, in order, with their state; null: v3 entries, each with its own state. */
const LISTENER_LISTS = [
  ['static_listeners', 'static'],
  ['dynamic_listeners', null],
  ['dynamic_active_listeners', 'active'],
  ['dynamic_warming_listeners', 'warming'],
  ['dynamic_draining_listeners', 'draining'],
] as const

function collectClustersDump(ctx: Ctx, d: JsonObject, pointer: string, out: Collector): void {
  out.present.clusters = true
  for (const [key, state] of [
    ['static_clusters', 'static'],
    ['dynamic_active_clusters', 'active'],
    ['dynamic_warming_clusters', 'warming'],
  ] as const) {
    pushDumpList(ctx, out.clusters, d, key, pointer, 'cluster', state)
  }
}

function collectRoutesDump(ctx: Ctx, d: JsonObject, pointer: string, out: Collector): void {
  out.present.routes = true
  for (const key of ['static_route_configs', 'dynamic_route_configs']) {
    eachDeferred(ctx, d, key, pointer, 'route_config', (rc, base, i, k) => out.routeConfigs.push(deferRouteConfig(rc, base, i, k)))
  }
}

function collectEndpointsDump(ctx: Ctx, d: JsonObject, pointer: string, out: Collector): void {
  out.present.endpoints = true
  for (const key of ['static_endpoint_configs', 'dynamic_endpoint_configs']) {
    pushDumpList(ctx, out.loadAssignments, d, key, pointer, 'endpoint_config', 'active')
  }
}

function collectBootstrap(ctx: Ctx, raw: JsonObject, pointer: string, out: Collector): void {
  out.bootstrap = parseBootstrap(ctx, raw, pointer)
  const b = view(raw, ctx.renamed)
  const sr = viewAt(b, 'static_resources', ctx.renamed)
  const srPointer = `${pointer}/${keyOf(ctx, b, 'static_resources')}`
  out.bootstrapStatic.listeners.push(...mapObjects(ctx, sr, 'listeners', srPointer, (l, p) => deferListener(l, 'static', p)))
  out.bootstrapStatic.clusters.push(...mapObjects(ctx, sr, 'clusters', srPointer, (c, p) => deferCluster(c, 'static', p)))
}

/** Classifies one bare resource by its shape (istioctl `pc listener|route|cluster|endpoint -o json`). */
function collectResource(ctx: Ctx, raw: JsonObject, pointer: string, out: Collector): void {
  const r = view(raw)
  const type = shortTypeUrl(strAt(r, '@type')) ?? ''
  if (type.endsWith('Listener') || 'filter_chains' in r || 'listener_filters' in r || ('address' in r && 'name' in r && !('type' in r) && !('connect_timeout' in r))) {
    out.present.listeners = true
    out.listeners.push(deferListener(raw, 'active', pointer))
  } else if (type.endsWith('RouteConfiguration') || 'virtual_hosts' in r) {
    out.present.routes = true
    out.routeConfigs.push(deferRouteConfig(raw, pointer))
  } else if (type.endsWith('ClusterLoadAssignment') || 'cluster_name' in r) {
    out.present.endpoints = true
    out.loadAssignments.push(deferLoadAssignment(raw, pointer))
  } else if (type.endsWith('Cluster') || 'connect_timeout' in r || 'lb_policy' in r || 'eds_cluster_config' in r || 'type' in r || 'load_assignment' in r) {
    out.present.clusters = true
    out.clusters.push(deferCluster(raw, 'active', pointer))
  }
}

/** ClusterStatus entries of an array (`value`, at `pointer`): normalised whole, as `/clusters` output is. */
function collectClusterStatuses(ctx: Ctx, value: Json[], pointer: string, out: Collector): void {
  const ptrs: PointerMap = new Map()
  const list = normalize(value, pointer, ptrs, 'convert') as Json[]
  out.clusterStatuses.push(...clusterStatusesFromJson(list, (o) => ptrs.get(o), ctx.file))
  out.present.clusterStatuses = true
}

function collectDocument(ctx: Ctx, raw: Json, out: Collector, pointer: string): void {
  if (Array.isArray(raw)) {
    // Old `istioctl pc endpoint -o json` printed /clusters ClusterStatus entries.
    if (raw.length > 0 && raw.every((el) => isObject(el) && 'host_statuses' in view(el))) return collectClusterStatuses(ctx, raw, pointer, out)
    raw.forEach((el, i) => {
      const v = view(el)
      if (Array.isArray(el) || (isObject(el) && (Array.isArray(v.configs) || isObject(v.bootstrap)))) collectDocument(ctx, el, out, `${pointer}/${i}`)
      else if (isObject(el)) collectResource(ctx, el, `${pointer}/${i}`, out)
      else throw new EnvoyConfigError(ctx.file, `${pointer}/${i}`, 'not-a-resource', 'expected an Envoy resource object')
    })
    return
  }
  if (!isObject(raw)) throw new EnvoyConfigError(ctx.file, pointer, 'not-a-config-dump', 'expected a config dump object or an array of resources')
  const doc = view(raw, ctx.renamed)
  if ('configs' in doc) {
    if (!Array.isArray(doc.configs)) throw new EnvoyConfigError(ctx.file, `${pointer}/configs`, 'configs-not-array', '`configs` must be an array')
    const configsPointer = `${pointer}/${keyOf(ctx, doc, 'configs')}`
    doc.configs.forEach((c, i) => {
      if (!isObject(c)) throw new EnvoyConfigError(ctx.file, `${pointer}/configs/${i}`, 'config-not-object', 'each entry of `configs` must be an object')
      collectDumpSection(ctx, c, `${configsPointer}/${i}`, out)
    })
    return
  }
  if (Array.isArray(doc.cluster_statuses)) return collectClusterStatuses(ctx, doc.cluster_statuses, `${pointer}/${keyOf(ctx, doc, 'cluster_statuses')}`, out)
  if (isObject(doc.bootstrap)) return collectBootstrap(ctx, doc.bootstrap, `${pointer}/${keyOf(ctx, doc, 'bootstrap')}`, out)
  if (isObject(doc.static_resources) || isObject(doc.node)) return collectBootstrap(ctx, raw, pointer, out)
  if (['static_listeners', 'dynamic_listeners', 'dynamic_active_listeners', 'static_clusters', 'dynamic_active_clusters', 'dynamic_route_configs', 'static_route_configs', 'dynamic_endpoint_configs'].some((k) => k in doc)) {
    return collectDumpSection(ctx, raw, pointer, out)
  }
  collectResource(ctx, raw, pointer, out)
}

function collectDumpSection(ctx: Ctx, raw: JsonObject, pointer: string, out: Collector): void {
  const c = view(raw, ctx.renamed)
  const type = shortTypeUrl(strAt(c, '@type')) ?? ''
  const is = (suffix: string): boolean => type.endsWith(suffix)
  if (is('BootstrapConfigDump') || (type === '' && isObject(c.bootstrap))) {
    // A section without a bootstrap object reads as an empty one, pointing nowhere.
    if (isObject(c.bootstrap)) collectBootstrap(ctx, c.bootstrap, `${pointer}/${keyOf(ctx, c, 'bootstrap')}`, out)
    else collectBootstrap(ctx, {}, '', out)
  } else if (is('ListenersConfigDump') || (type === '' && ('dynamic_listeners' in c || 'static_listeners' in c || 'dynamic_active_listeners' in c))) collectListenersDump(ctx, c, pointer, out)
  else if (is('ClustersConfigDump') || (type === '' && ('dynamic_active_clusters' in c || 'static_clusters' in c))) collectClustersDump(ctx, c, pointer, out)
  else if (is('ScopedRoutesConfigDump')) {
    if (arrAt(c, 'dynamic_scoped_route_configs').length > 0 || arrAt(c, 'inline_scoped_route_configs').length > 0) out.present.scopedRoutes = true
  } else if (is('RoutesConfigDump') || (type === '' && ('dynamic_route_configs' in c || 'static_route_configs' in c))) collectRoutesDump(ctx, c, pointer, out)
  else if (is('EndpointsConfigDump') || (type === '' && ('dynamic_endpoint_configs' in c || 'static_endpoint_configs' in c))) collectEndpointsDump(ctx, c, pointer, out)
  // SecretsConfigDump, EcdsConfigDump and unknown dump types carry nothing routing needs.
}

/**
 * Loads a config dump and optional `/clusters` and `/stats` into one model.
 * Accepts v2alpha/v3 `/config_dump`, istioctl `pc all -o json`, bare `pc listener|route|cluster|endpoint`
 * arrays, a bare bootstrap, or an array of any of those. camelCase keys are read as snake_case.
 */
export function loadEnvoyConfig(input: { configDump?: unknown; clusters?: unknown; stats?: unknown }): EnvoyModel {
  const out: Collector = {
    listeners: [],
    routeConfigs: [],
    clusters: deferredClusters(),
    loadAssignments: deferredLoadAssignments(),
    bootstrap: null,
    bootstrapStatic: { listeners: [], clusters: [] },
    clusterStatuses: [],
    present: { listeners: false, routes: false, clusters: false, endpoints: false, clusterStatuses: false, stats: false, scopedRoutes: false },
  }
  if (input.configDump !== undefined && input.configDump !== null) {
    const ctx: Ctx = { file: 'config_dump', renamed: new Map() }
    collectDocument(ctx, input.configDump as Json, out, '')
  }
  // A bare bootstrap's static resources stand in for missing listener / cluster dumps.
  if (!out.present.listeners && out.bootstrapStatic.listeners.length > 0) {
    out.listeners.push(...out.bootstrapStatic.listeners)
    out.present.listeners = true
  }
  if (!out.present.clusters && out.bootstrapStatic.clusters.length > 0) {
    for (const c of out.bootstrapStatic.clusters) out.clusters.push(c)
    out.present.clusters = true
  }
  const clusterStatuses: ClusterStatus[] = [...out.clusterStatuses]
  if (input.clusters !== undefined && input.clusters !== null) {
    clusterStatuses.push(...parseAdminClusters(input.clusters))
    out.present.clusterStatuses = true
  }
  const stats = input.stats !== undefined && input.stats !== null ? parseStats(input.stats) : null
  out.present.stats = stats !== null
  const model: EnvoyModel = {
    kind: 'envoy-model',
    listeners: [],
    routeConfigs: [],
    clusters: [],
    loadAssignments: [],
    clusterStatuses,
    stats,
    bootstrap: out.bootstrap,
    present: out.present,
  }
  const parts: DeferredParts = {
    file: 'config_dump',
    listeners: out.listeners,
    routeConfigs: out.routeConfigs,
    clusters: out.clusters,
    loadAssignments: out.loadAssignments,
    listenersListed: false,
    routeConfigsListed: false,
    clustersListed: false,
    loadAssignmentsListed: false,
  }
  DEFERRED.set(model, parts)
  // The model's lists are built on first read: a trace that never lists them parses only the resources it uses.
  valueOnRead(model, 'listeners', () => parts.listeners.map((d) => listenerOf(parts, d)), () => (parts.listenersListed = true))
  valueOnRead(model, 'routeConfigs', () => parts.routeConfigs.map((d) => routeConfigOf(parts, d)), () => (parts.routeConfigsListed = true))
  valueOnRead(model, 'clusters', () => parts.clusters.all().map((d) => clusterOf(parts, d)), () => (parts.clustersListed = true))
  valueOnRead(model, 'loadAssignments', () => parts.loadAssignments.all().map((d) => loadAssignmentOf(parts, d)), () => (parts.loadAssignmentsListed = true))
  return model
}

/** A model's resources not parsed yet, and whether its lists were read (or replaced). */
interface DeferredParts {
  file: string
  listeners: DeferredListener[]
  routeConfigs: DeferredRouteConfig[]
  clusters: Deferrals<DeferredCluster>
  loadAssignments: Deferrals<DeferredLoadAssignment>
  listenersListed: boolean
  routeConfigsListed: boolean
  clustersListed: boolean
  loadAssignmentsListed: boolean
}

const DEFERRED = new WeakMap<EnvoyModel, DeferredParts>()

/** The parsed listener of `d`, parsed (normalised whole: the model keeps filter configs as JSON) on first use. */
function listenerOf(parts: DeferredParts, d: DeferredListener): Listener {
  if (d.value === null) {
    const ctx: Ctx = { file: parts.file, renamed: new Map() }
    d.value = parseListener(ctx, normalizeDeep(d.raw, 'convert', ctx.renamed) as JsonObject, pointerAt(d), d.state)
  }
  return d.value
}

/** The parsed route configuration of `d`, parsed on first use. */
function routeConfigOf(parts: DeferredParts, d: DeferredRouteConfig): RouteConfiguration {
  if (d.value === null) {
    const ctx: Ctx = { file: parts.file, renamed: new Map() }
    d.value = parseRouteConfiguration(ctx, d.raw, pointerAt(d), false)
  }
  return d.value
}

function clusterOf(parts: DeferredParts, d: DeferredCluster): Cluster {
  // A fresh rename table per resource: keyOf needs only the views made while parsing it.
  d.value ??= parseCluster({ file: parts.file, renamed: new Map() }, d.raw, pointerAt(d), d.state)
  return d.value
}

function loadAssignmentOf(parts: DeferredParts, d: DeferredLoadAssignment): ClusterLoadAssignment {
  d.value ??= parseLoadAssignment({ file: parts.file, renamed: new Map() }, d.raw, pointerAt(d))
  return d.value
}

/** Normalises any JSON value (camelCase → snake_case) and returns it with its pointer map. */
export function normalizeJson(value: unknown): { json: Json; pointerOf: (o: object) => string | undefined } {
  const ptrs: PointerMap = new Map()
  const json = normalize(value, '', ptrs, 'convert')
  return { json, pointerOf: (o) => ptrs.get(o) }
}

// ---------------------------------------------------------------------------------------------
// Indexes: built lazily on first use, once per model.

/** A lookup by key: a Map, or a table whose values are parsed on first lookup. */
export interface Lookup<K, T> {
  get(key: K): T | undefined
  has(key: K): boolean
  keys(): IterableIterator<K>
}

/** A lookup by name. */
export type ByName<T> = Lookup<string, T>

/** Lookup tables over a model. */
export interface EnvoyIndex {
  /** Serving (static/active) listeners by canonical `ip:port`. */
  listenersByAddress: Lookup<string, Listener[]>
  /** Listeners by name (all states). */
  listenersByName: Lookup<string, Listener[]>
  /** Listeners by port of any of their addresses (all states), in config order. */
  listenersByPort: Lookup<number, Listener[]>
  /** RDS route configurations by name. */
  routeConfigsByName: ByName<RouteConfiguration>
  /** Clusters by name (active/static preferred over warming). */
  clustersByName: ByName<Cluster>
  /** EDS assignments by cluster (service) name. */
  loadAssignmentsByCluster: ByName<ClusterLoadAssignment>
  /** `/clusters` entries by cluster name. */
  clusterStatusesByName: Map<string, ClusterStatus>
}

const INDEXES = new WeakMap<EnvoyModel, EnvoyIndex>()

/** Clusters (parsed or not) by name, active/static preferred over warming. */
function clustersByNameOf<C extends { name: string; state: Cluster['state'] }>(clusters: C[]): Map<string, C> {
  const byName = new Map<string, C>()
  for (let i = 0; i < clusters.length; i++) {
    const c = clusters[i]
    const prev = byName.get(c.name)
    if (!prev || (prev.state === 'warming' && c.state !== 'warming')) byName.set(c.name, c)
  }
  return byName
}

/** Load assignments (parsed or not) by cluster name, the last one winning. */
function loadAssignmentsByClusterOf<L extends { clusterName: string }>(list: L[]): Map<string, L> {
  const byCluster = new Map<string, L>()
  for (let i = 0; i < list.length; i++) byCluster.set(list[i].clusterName, list[i])
  return byCluster
}

/** Route configurations (parsed or not) by name, the first one winning. */
function routeConfigsByNameOf<R extends { name: string }>(list: R[]): Map<string, R> {
  const byName = new Map<string, R>()
  for (let i = 0; i < list.length; i++) if (!byName.has(list[i].name)) byName.set(list[i].name, list[i])
  return byName
}

/** Appends `value` to the list at `key`. */
function addTo<K, T>(table: Map<K, T[]>, key: K, value: T): void {
  const list = table.get(key)
  if (list === undefined) table.set(key, [value])
  else list.push(value)
}

/** Listeners (parsed or not) by address, name and port, as `EnvoyIndex` describes them. */
function listenerTablesOf<L extends ListenerHead>(listeners: L[]): { byAddress: Map<string, L[]>; byName: Map<string, L[]>; byPort: Map<number, L[]> } {
  const byAddress = new Map<string, L[]>()
  const byName = new Map<string, L[]>()
  const byPort = new Map<number, L[]>()
  for (let i = 0; i < listeners.length; i++) {
    const l = listeners[i]
    addTo(byName, l.name, l)
    // Most listeners have one address: no set and no spread array for them.
    const ports = l.additionalAddresses.length === 0 ? [l.address?.port] : [...new Set([l.address?.port, ...l.additionalAddresses.map((a) => a.port)])]
    for (let j = 0; j < ports.length; j++) {
      const port = ports[j]
      if (port !== undefined) addTo(byPort, port, l)
    }
    if (l.state !== 'static' && l.state !== 'active') continue
    const addresses = l.additionalAddresses.length === 0 ? [l.address] : [l.address, ...l.additionalAddresses]
    for (let j = 0; j < addresses.length; j++) {
      const a = addresses[j]
      if (a) addTo(byAddress, addressKey(a.ip, a.port), l)
    }
  }
  return { byAddress, byName, byPort }
}

/**
 * A lookup by name over deferred resources: the first two lookups scan them in place (`find`, the same answer as the
 * table), later ones build the table (`build`). A one-off trace looks up one or two names; building a table of
 * every name costs more than those scans. `parse` turns the deferred resource found into the model object.
 */
function scannedByName<D, T>(find: (name: string) => D | undefined, build: () => Map<string, D>, parse: (d: D) => T): ByName<T> {
  let table: Map<string, D> | null = null
  let scans = 0
  const lookup = (name: string): D | undefined => {
    if (table === null && scans < 2) {
      scans++
      return find(name)
    }
    table ??= build()
    return table.get(name)
  }
  return {
    get: (name) => {
      const d = lookup(name)
      return d === undefined ? undefined : parse(d)
    },
    has: (name) => lookup(name) !== undefined,
    keys: () => (table ??= build()).keys(),
  }
}

/** A lookup that parses a deferred resource when it is first looked up (the resource caches its parse). */
function deferredByName<D, T>(table: Map<string, D>, parse: (d: D) => T): ByName<T> {
  return {
    get: (name) => {
      const d = table.get(name)
      return d === undefined ? undefined : parse(d)
    },
    has: (name) => table.has(name),
    keys: () => table.keys(),
  }
}

/** A lookup whose lists of deferred listeners are parsed on first lookup, then kept (one array per key, as a Map gives). */
function deferredLists<K>(parts: DeferredParts, table: Map<K, DeferredListener[]>): Lookup<K, Listener[]> {
  const parsed = new Map<K, Listener[]>()
  return {
    get: (key) => {
      let list = parsed.get(key)
      if (list === undefined) {
        const deferred = table.get(key)
        if (deferred === undefined) return undefined
        list = deferred.map((d) => listenerOf(parts, d))
        parsed.set(key, list)
      }
      return list
    },
    has: (key) => table.has(key),
    keys: () => table.keys(),
  }
}

/**
 * The first listener, in config order, whose head passes `test` (as `model.listeners.find(test)`), or null.
 * Only that listener is parsed when the model's listeners were not listed yet.
 */
export function findListener(model: EnvoyModel, test: (l: ListenerHead) => boolean): Listener | null {
  const parts = DEFERRED.get(model)
  if (parts === undefined || parts.listenersListed) return model.listeners.find(test) ?? null
  for (let i = 0; i < parts.listeners.length; i++) if (test(parts.listeners[i])) return listenerOf(parts, parts.listeners[i])
  return null
}

/** The key `ip:port` used by `listenersByAddress`. */
export function addressKey(ip: string, port: number): string {
  return `${canonicalIp(ip)}|${port}`
}

/** The model's indexes, built on first use and reused for every later trace. */
export function envoyIndex(model: EnvoyModel): EnvoyIndex {
  const cached = INDEXES.get(model)
  if (cached) return cached
  const parts = DEFERRED.get(model)
  let listenersByAddress: Lookup<string, Listener[]>
  let listenersByName: Lookup<string, Listener[]>
  let listenersByPort: Lookup<number, Listener[]>
  if (parts && !parts.listenersListed) {
    const tables = listenerTablesOf(parts.listeners)
    listenersByAddress = deferredLists(parts, tables.byAddress)
    listenersByName = deferredLists(parts, tables.byName)
    listenersByPort = deferredLists(parts, tables.byPort)
  } else {
    const tables = listenerTablesOf(model.listeners)
    listenersByAddress = tables.byAddress
    listenersByName = tables.byName
    listenersByPort = tables.byPort
  }
  const routeConfigsByName =
    parts && !parts.routeConfigsListed ? deferredByName(routeConfigsByNameOf(parts.routeConfigs), (d) => routeConfigOf(parts, d)) : routeConfigsByNameOf(model.routeConfigs)
  const clustersByName =
    parts && !parts.clustersListed
      ? scannedByName(
          // Active/static preferred over warming, as clustersByNameOf.
          (name) => parts.clusters.find('name', name, true, false) ?? parts.clusters.find('name', name, false, false),
          () => clustersByNameOf(parts.clusters.all()),
          (d) => clusterOf(parts, d),
        )
      : clustersByNameOf(model.clusters)
  const loadAssignmentsByCluster =
    parts && !parts.loadAssignmentsListed
      ? scannedByName(
          // The last one wins, as loadAssignmentsByClusterOf.
          (name) => parts.loadAssignments.find('cluster_name', name, false, true),
          () => loadAssignmentsByClusterOf(parts.loadAssignments.all()),
          (d) => loadAssignmentOf(parts, d),
        )
      : loadAssignmentsByClusterOf(model.loadAssignments)
  const clusterStatusesByName = new Map<string, ClusterStatus>()
  for (const cs of model.clusterStatuses) clusterStatusesByName.set(cs.name, cs)
  const index: EnvoyIndex = { listenersByAddress, listenersByName, listenersByPort, routeConfigsByName, clustersByName, loadAssignmentsByCluster, clusterStatusesByName }
  INDEXES.set(model, index)
  return index
}
