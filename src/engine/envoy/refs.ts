/**
 * ConfigRefs for model objects, so every step points back into the original document.
 */
import type { ConfigRef } from '../trace/trace.js'
import { formatAddress } from './address.js'
import type { Cluster, FilterChain, FilterChainMatch, Listener, NetworkFilter, Route, RouteConfiguration, VirtualHost } from './model.js'
import { formatCidr } from './address.js'

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
  return l.address ? formatAddress(l.address.ip, l.address.port) : `(${l.addressKind} address)`
}

/** A reference to a listener. */
export function listenerRef(l: Listener): ConfigRef {
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
  return { kind: 'filter-chain', name: filterChainName(fc), source: fc.source, excerpt: matchExcerpt(fc.match) }
}

/** A reference to a network filter. */
export function networkFilterRef(f: NetworkFilter, excerpt?: string): ConfigRef {
  return { kind: 'network-filter', name: f.name, source: f.source, ...(excerpt !== undefined ? { excerpt } : {}) }
}

/** A reference to a route configuration. */
export function routeConfigRef(rc: RouteConfiguration): ConfigRef {
  return { kind: 'route-config', name: rc.name, source: rc.source, excerpt: `${rc.virtualHosts.length} virtual hosts${rc.inline ? ', inline' : ''}` }
}

/** A reference to a virtual host. */
export function virtualHostRef(vh: VirtualHost): ConfigRef {
  const shown = vh.domains.slice(0, 6).join(', ')
  return { kind: 'virtual-host', name: vh.name, source: vh.source, excerpt: `domains: [${shown}${vh.domains.length > 6 ? ', …' : ''}]` }
}

/** A reference to a route. */
export function routeRef(r: Route): ConfigRef {
  return { kind: 'route', name: routeName(r), source: r.source, excerpt: JSON.stringify(r.match) }
}

/** A reference to a cluster. */
export function clusterRef(c: Cluster): ConfigRef {
  return { kind: 'cluster', name: c.name, source: c.source, excerpt: `type ${c.type === 'extension' ? (c.extensionType ?? 'extension') : c.type}, lb_policy ${c.lbPolicy}` }
}
