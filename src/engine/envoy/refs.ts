/**
 * ConfigRefs for model objects, so every step points back into the original document.
 * Each ref is built once per model object and shared (frozen) by every trace that names it.
 */
import type { ConfigRef } from '../trace/trace.js'
import { formatAddress } from './address.js'
import type { Cluster, FilterChain, FilterChainMatch, Listener, NetworkFilter, Route, RouteConfiguration, VirtualHost } from './model.js'
import { formatCidr } from './address.js'
import { virtualHostCount } from './virtual-hosts.js'

/** The display name of a filter chain: its `name`, else `#<index>` (`default` for default_filter_chain). */
export function filterChainName(fc: FilterChain): string {
  if (fc.name !== null && fc.name !== '') return fc.name
  return fc.index < 0 ? 'default_filter_chain' : `#${fc.index}`
}

/** The display name of a route: its `name`, else `#<index>`. */
export function routeName(r: Route): string {
  return r.name !== null && r.name !== '' ? r.name : `#${r.index}`
}

/** `0.0.0.0:15001`, or the address kind for pipe/internal listeners. */
export function listenerAddressText(l: Listener): string {
  let text = ADDRESS_TEXTS.get(l)
  if (text === undefined) {
    text = l.address ? formatAddress(l.address.ip, l.address.port) : `(${l.addressKind} address)`
    ADDRESS_TEXTS.set(l, text)
  }
  return text
}

const ADDRESS_TEXTS = new WeakMap<Listener, string>()

/** The ref of `key` from `cache`, built and frozen on first use. */
function shared<K extends object>(cache: WeakMap<K, ConfigRef>, key: K, build: (key: K) => ConfigRef): ConfigRef {
  let ref = cache.get(key)
  if (ref === undefined) {
    ref = Object.freeze(build(key))
    cache.set(key, ref)
  }
  return ref
}

const LISTENER_REFS = new WeakMap<Listener, ConfigRef>()
const FILTER_CHAIN_REFS = new WeakMap<FilterChain, ConfigRef>()
const ROUTE_CONFIG_REFS = new WeakMap<RouteConfiguration, ConfigRef>()
const VIRTUAL_HOST_REFS = new WeakMap<VirtualHost, ConfigRef>()
const ROUTE_REFS = new WeakMap<Route, ConfigRef>()
const CLUSTER_REFS = new WeakMap<Cluster, ConfigRef>()
const NETWORK_FILTER_REFS = new WeakMap<NetworkFilter, Map<string | undefined, ConfigRef>>()

/** A reference to a listener. */
export function listenerRef(l: Listener): ConfigRef {
  return shared(LISTENER_REFS, l, buildListenerRef)
}

function buildListenerRef(l: Listener): ConfigRef {
  const flags = [l.useOriginalDst ? 'use_original_dst' : '', l.bindToPort ? '' : 'bind_to_port:false', l.state === 'active' || l.state === 'static' ? '' : l.state]
    .filter((f) => f !== '')
    .join(', ')
  return { kind: 'listener', name: l.name, source: l.source, excerpt: `${listenerAddressText(l)}${flags ? ` (${flags})` : ''}` }
}

/** A compact rendering of a filter_chain_match. */
export function matchExcerpt(m: FilterChainMatch): string {
  const parts: string[] = []
  if (m.destinationPort !== null) parts.push(`destination_port: ${m.destinationPort}`)
  if (m.prefixRanges.length) parts.push(`prefix_ranges: [${m.prefixRanges.map(formatCidr).join(', ')}]`)
  if (m.serverNames.length) parts.push(`server_names: [${m.serverNames.join(', ')}]`)
  if (m.transportProtocol) parts.push(`transport_protocol: ${m.transportProtocol}`)
  if (m.applicationProtocols.length) parts.push(`application_protocols: [${m.applicationProtocols.join(', ')}]`)
  if (m.directSourcePrefixRanges.length) parts.push(`direct_source_prefix_ranges: [${m.directSourcePrefixRanges.map(formatCidr).join(', ')}]`)
  if (m.sourceType !== 'ANY') parts.push(`source_type: ${m.sourceType}`)
  if (m.sourcePrefixRanges.length) parts.push(`source_prefix_ranges: [${m.sourcePrefixRanges.map(formatCidr).join(', ')}]`)
  if (m.sourcePorts.length) parts.push(`source_ports: [${m.sourcePorts.join(', ')}]`)
  return parts.length ? `{${parts.join(', ')}}` : '{} (matches anything)'
}

/** A reference to a filter chain. */
export function filterChainRef(fc: FilterChain): ConfigRef {
  return shared(FILTER_CHAIN_REFS, fc, (x) => ({ kind: 'filter-chain', name: filterChainName(x), source: x.source, excerpt: matchExcerpt(x.match) }))
}

/** A reference to a network filter, with an excerpt that says what it did. */
export function networkFilterRef(f: NetworkFilter, excerpt?: string): ConfigRef {
  let byExcerpt = NETWORK_FILTER_REFS.get(f)
  if (byExcerpt === undefined) {
    byExcerpt = new Map()
    NETWORK_FILTER_REFS.set(f, byExcerpt)
  }
  let ref = byExcerpt.get(excerpt)
  if (ref === undefined) {
    ref = Object.freeze({ kind: 'network-filter', name: f.name, source: f.source, ...(excerpt !== undefined ? { excerpt } : {}) })
    byExcerpt.set(excerpt, ref)
  }
  return ref
}

/** A reference to a route configuration. */
export function routeConfigRef(rc: RouteConfiguration): ConfigRef {
  return shared(ROUTE_CONFIG_REFS, rc, (x) => ({ kind: 'route-config', name: x.name, source: x.source, excerpt: `${virtualHostCount(x)} virtual hosts${x.inline ? ', inline' : ''}` }))
}

/** A reference to a virtual host. */
export function virtualHostRef(vh: VirtualHost): ConfigRef {
  return shared(VIRTUAL_HOST_REFS, vh, (x) => ({ kind: 'virtual-host', name: x.name, source: x.source, excerpt: `domains: [${x.domains.slice(0, 6).join(', ')}${x.domains.length > 6 ? ', …' : ''}]` }))
}

/** A reference to a route. */
export function routeRef(r: Route): ConfigRef {
  return shared(ROUTE_REFS, r, (x) => ({ kind: 'route', name: routeName(x), source: x.source, excerpt: JSON.stringify(x.match) }))
}

/** A reference to a cluster. */
export function clusterRef(c: Cluster): ConfigRef {
  return shared(CLUSTER_REFS, c, (x) => ({ kind: 'cluster', name: x.name, source: x.source, excerpt: `type ${x.type === 'extension' ? (x.extensionType ?? 'extension') : x.type}, lb_policy ${x.lbPolicy}` }))
}
