import { describe, expect, it } from 'vitest'
import { loadEnvoyConfig } from '../../../src/engine/envoy/config-dump.js'
import { detectAttributes, matchFilterChains, predicateMatches, selectFilterChain, type ConnectionAttributes } from '../../../src/engine/envoy/filter-chain.js'
import type { JsonObject, Listener } from '../../../src/engine/envoy/model.js'

function listener(chains: Array<{ name: string; match?: Record<string, unknown> }>, extra: Record<string, unknown> = {}): Listener {
  const m = loadEnvoyConfig({ configDump: [{ name: 'l', address: { socket_address: { address: '0.0.0.0', port_value: 15006 } }, filter_chains: chains.map((c) => ({ name: c.name, filter_chain_match: c.match ?? {}, filters: [] })), ...extra }] })
  return m.listeners[0]
}

const attrs = (over: Partial<ConnectionAttributes> = {}): ConnectionAttributes => ({
  destinationIp: '10.0.0.5',
  destinationPort: 9080,
  serverName: '',
  transportProtocol: 'raw_buffer',
  applicationProtocols: [],
  directSourceIp: '10.0.0.9',
  sourceIp: '10.0.0.9',
  sourcePort: 40000,
  ...over,
})

describe('filter_chain_match: one row per criterion, each with a near miss', () => {
  it.each([
    ['destination_port: the exact port beats a port-less chain', [{ name: 'any' }, { name: 'p9080', match: { destination_port: 9080 } }], attrs(), 'p9080', [['any', 'less-specific']]],
    ['destination_port: another port never matches', [{ name: 'p8080', match: { destination_port: 8080 } }, { name: 'any' }], attrs(), 'any', [['p8080', 'destination-port-mismatch']]],
    ['prefix_ranges: the longest containing CIDR wins', [{ name: 'wide', match: { prefix_ranges: [{ address_prefix: '10.0.0.0', prefix_len: 8 }] } }, { name: 'narrow', match: { prefix_ranges: [{ address_prefix: '10.0.0.5', prefix_len: 32 }] } }], attrs(), 'narrow', [['wide', 'less-specific']]],
    ['prefix_ranges: a range not containing the IP fails', [{ name: 'other', match: { prefix_ranges: [{ address_prefix: '10.0.0.6', prefix_len: 32 }] } }, { name: 'any' }], attrs(), 'any', [['other', 'destination-ip-mismatch']]],
    ['server_names: exact SNI beats a wildcard', [{ name: 'wild', match: { server_names: ['*.example.com'] } }, { name: 'exact', match: { server_names: ['api.example.com'] } }], attrs({ serverName: 'api.example.com', transportProtocol: 'tls' }), 'exact', [['wild', 'less-specific']]],
    ['server_names: the longest wildcard wins', [{ name: 'short', match: { server_names: ['*.com'] } }, { name: 'long', match: { server_names: ['*.example.com'] } }], attrs({ serverName: 'api.example.com' }), 'long', [['short', 'less-specific']]],
    ['server_names: a wildcard must match at least one label character', [{ name: 'wild', match: { server_names: ['*.example.com'] } }, { name: 'any' }], attrs({ serverName: 'example.com' }), 'any', [['wild', 'server-name-mismatch']]],
    ['server_names: without SNI only chains without server_names remain', [{ name: 'sni', match: { server_names: ['a.b'] } }, { name: 'any' }], attrs(), 'any', [['sni', 'server-name-mismatch']]],
    ['transport_protocol: equal beats empty', [{ name: 'any' }, { name: 'raw', match: { transport_protocol: 'raw_buffer' } }], attrs(), 'raw', [['any', 'less-specific']]],
    ['transport_protocol: tls chain fails plaintext', [{ name: 'tls', match: { transport_protocol: 'tls' } }, { name: 'any' }], attrs(), 'any', [['tls', 'transport-protocol-mismatch']]],
    ['application_protocols: a listed protocol beats an empty list', [{ name: 'any' }, { name: 'http', match: { application_protocols: ['http/1.1', 'h2c'] } }], attrs({ applicationProtocols: ['http/1.1'] }), 'http', [['any', 'less-specific']]],
    ['application_protocols: the connection order decides between chains', [{ name: 'istio', match: { application_protocols: ['istio'] } }, { name: 'http', match: { application_protocols: ['istio-http/1.1'] } }], attrs({ applicationProtocols: ['istio-http/1.1', 'istio'] }), 'http', [['istio', 'application-protocol-mismatch']]],
    ['direct_source_prefix_ranges: containing beats none', [{ name: 'any' }, { name: 'peer', match: { direct_source_prefix_ranges: [{ address_prefix: '10.0.0.0', prefix_len: 24 }] } }], attrs(), 'peer', [['any', 'less-specific']]],
    ['source_type: EXTERNAL fails a loopback peer', [{ name: 'ext', match: { source_type: 'EXTERNAL' } }, { name: 'any' }], attrs({ sourceIp: '127.0.0.1', directSourceIp: '127.0.0.1' }), 'any', [['ext', 'source-type-mismatch']]],
    ['source_type: SAME_IP_OR_LOOPBACK matches the pod talking to itself', [{ name: 'any' }, { name: 'local', match: { source_type: 'SAME_IP_OR_LOOPBACK' } }], attrs({ sourceIp: '10.0.0.5', directSourceIp: '10.0.0.5' }), 'local', [['any', 'less-specific']]],
    ['source_prefix_ranges: a non-containing range fails', [{ name: 'src', match: { source_prefix_ranges: [{ address_prefix: '192.168.0.0', prefix_len: 16 }] } }, { name: 'any' }], attrs(), 'any', [['src', 'source-ip-mismatch']]],
    ['source_ports: exact beats none', [{ name: 'any' }, { name: 'port', match: { source_ports: [40000] } }], attrs(), 'port', [['any', 'less-specific']]],
  ])('%s', (_name, chains, a, winner, rejected) => {
    const m = matchFilterChains(listener(chains).filterChains, a)

    expect(m.chosen?.name).toBe(winner)
    expect(m.rejected.map((r) => [r.candidate.name, r.reason])).toEqual(rejected)
  })

  // Envoy surprise: a chain that loses on specificity at one step is gone, even if the winner then fails (no backtracking).
  it('no backtracking: the port chain wins step 1, fails transport, and the port-less fallback is not reconsidered', () => {
    const l = listener([{ name: 'p9080-tls', match: { destination_port: 9080, transport_protocol: 'tls' } }, { name: 'catch-all' }])

    const sel = selectFilterChain(l, attrs())

    expect(sel.chosen).toBeNull()
    expect(sel.rejected.map((r) => [r.candidate.name, r.reason])).toEqual([['catch-all', 'less-specific'], ['p9080-tls', 'transport-protocol-mismatch']])
  })

  it('the default_filter_chain takes what no chain matches', () => {
    const l = listener([{ name: 'tls', match: { transport_protocol: 'tls' } }], { default_filter_chain: { name: 'fallback', filters: [] } })

    const sel = selectFilterChain(l, attrs())

    expect([sel.how, sel.chosen?.name]).toEqual(['default_filter_chain', 'fallback'])
  })

  // Envoy surprise: an empty prefix_ranges list is indexed as 0.0.0.0/0 and ::/0 (filter_chain_manager_impl.cc, EMPTY_STRING → CidrRange).
  it('an explicit 0.0.0.0/0 range ties with a chain that has no ranges (both are /0 in Envoy’s trie)', () => {
    const m = matchFilterChains(listener([{ name: 'zero', match: { prefix_ranges: [{ address_prefix: '0.0.0.0', prefix_len: 0 }], transport_protocol: 'raw_buffer' } }, { name: 'none' }]).filterChains, attrs())

    expect(m.chosen?.name).toBe('zero')
    expect(m.rejected.map((r) => [r.candidate.name, r.reason])).toEqual([['none', 'less-specific']])
  })
})

describe('filter_chain_matcher', () => {
  const action = (name: string) => ({ action: { name, typed_config: { '@type': 'type.googleapis.com/google.protobuf.StringValue', value: name } } })
  const input = (t: string) => ({ name: t, typed_config: { '@type': `type.googleapis.com/envoy.extensions.matching.common_inputs.network.v3.${t}` } })
  const chains = [{ name: 'http' }, { name: 'tcp' }, { name: 'vip' }]

  it.each([
    ['exact map on the destination port', { matcher_tree: { input: input('DestinationPortInput'), exact_match_map: { map: { '9080': action('http') } } }, on_no_match: action('tcp') }, attrs(), 'http'],
    ['exact map near miss falls to on_no_match', { matcher_tree: { input: input('DestinationPortInput'), exact_match_map: { map: { '9081': action('http') } } }, on_no_match: action('tcp') }, attrs(), 'tcp'],
    // Envoy surprise: ApplicationProtocolInput yields 'h2c','http/1.1' (quoted, comma-joined), as Istio's waypoint map keys show.
    ['application protocols are quoted and joined', { matcher_tree: { input: input('ApplicationProtocolInput'), exact_match_map: { map: { "'http/1.1'": action('http') } } }, on_no_match: action('tcp') }, attrs({ applicationProtocols: ['http/1.1'] }), 'http'],
    ['prefix map, longest prefix', { matcher_tree: { input: input('ServerNameInput'), prefix_match_map: { map: { api: action('tcp'), 'api.v': action('http') } } } }, attrs({ serverName: 'api.v1' }), 'http'],
    ['IP trie: the longest range wins', { matcher_tree: { input: input('DestinationIPInput'), custom_match: { name: 'ip', typed_config: { '@type': 'type.googleapis.com/xds.type.matcher.v3.IPMatcher', range_matchers: [{ ranges: [{ address_prefix: '10.0.0.0', prefix_len: 8 }], on_match: action('tcp') }, { ranges: [{ address_prefix: '10.0.0.5', prefix_len: 32 }], on_match: action('vip') }] } } } }, attrs(), 'vip'],
  ])('%s', (_name, matcher, a, expected) => {
    const sel = selectFilterChain(listener(chains, { filter_chain_matcher: matcher }), a)

    expect([sel.how, sel.chosen?.name]).toEqual(['filter_chain_matcher', expected])
  })

  it('an input it does not model is unresolved, naming it', () => {
    const sel = selectFilterChain(listener(chains, { filter_chain_matcher: { matcher_tree: { input: input('FilterStateInput'), exact_match_map: { map: {} } } } }), attrs())

    expect([sel.how, sel.unresolved]).toEqual(['unresolved', 'envoy.extensions.matching.common_inputs.network.v3.FilterStateInput'])
  })
})

describe('detectAttributes: what the listener filters let Envoy see', () => {
  const withFilters = (filters: Array<Record<string, unknown>>, chains: Array<{ name: string; match?: Record<string, unknown> }> = [{ name: 'a' }]) => listener(chains, { listener_filters: filters })
  const tlsHello = { transportProtocol: 'tls' as const, serverName: 'Api.Example.com', applicationProtocols: ['h2'] }
  const local = { ip: '10.0.0.5', port: 9080 }
  const src = { ip: '10.0.0.9', port: 1 }

  it.each([
    ['tls_inspector sees TLS, lower-cased SNI and ALPN', [{ name: 'envoy.filters.listener.tls_inspector' }], tlsHello, { transportProtocol: 'tls', serverName: 'api.example.com', applicationProtocols: ['h2'] }],
    ['without tls_inspector TLS looks like raw_buffer', [{ name: 'envoy.filters.listener.original_dst' }], tlsHello, { transportProtocol: 'raw_buffer', serverName: '', applicationProtocols: [] }],
    ['http_inspector sees http/1.1 on plaintext', [{ name: 'envoy.filters.listener.http_inspector' }], { transportProtocol: 'raw_buffer' as const, applicationProtocols: ['http/1.1'] }, { applicationProtocols: ['http/1.1'] }],
    ['without http_inspector plaintext has no application protocol', [{ name: 'envoy.filters.listener.tls_inspector' }], { transportProtocol: 'raw_buffer' as const, applicationProtocols: ['http/1.1'] }, { applicationProtocols: [] }],
    ['filter_disabled on the restored port switches http_inspector off', [{ name: 'envoy.filters.listener.http_inspector', filter_disabled: { destination_port_range: { start: 9080, end: 9081 } } }], { transportProtocol: 'raw_buffer' as const, applicationProtocols: ['http/1.1'] }, { applicationProtocols: [] }],
    ['filter_disabled near miss: the range is half-open', [{ name: 'envoy.filters.listener.http_inspector', filter_disabled: { destination_port_range: { start: 9079, end: 9080 } } }], { transportProtocol: 'raw_buffer' as const, applicationProtocols: ['http/1.1'] }, { applicationProtocols: ['http/1.1'] }],
  ])('%s', (_name, filters, hello, expected) => {
    const d = detectAttributes([withFilters(filters)], hello, local, src, false)

    expect(d.attributes).toMatchObject(expected)
  })

  // Envoy surprise: before 1.17 Envoy injected a tls_inspector when chains matched on TLS facts and none was configured.
  it('legacy injection: no listener filters and a chain on application_protocols → TLS is detected (Envoy < 1.17)', () => {
    const l = withFilters([], [{ name: 'mtls', match: { application_protocols: ['istio'] } }, { name: 'plain' }])

    const legacy = detectAttributes([l], { transportProtocol: 'tls', applicationProtocols: ['istio'] }, local, src, true)
    const modern = detectAttributes([l], { transportProtocol: 'tls', applicationProtocols: ['istio'] }, local, src, false)

    expect(legacy.attributes.transportProtocol).toBe('tls')
    expect(legacy.notes[0]).toContain('implicitly injected')
    expect(modern.attributes.transportProtocol).toBe('raw_buffer')
  })
})

describe('predicateMatches (ListenerFilterChainMatchPredicate)', () => {
  it.each([
    ['any_match', { any_match: true }, 80, true],
    ['or_match of port ranges', { or_match: { rules: [{ destination_port_range: { start: 80, end: 81 } }, { destination_port_range: { start: 15006, end: 15007 } }] } }, 15006, true],
    ['or_match near miss', { or_match: { rules: [{ destination_port_range: { start: 80, end: 81 } }] } }, 81, false],
    ['not_match', { not_match: { destination_port_range: { start: 80, end: 81 } } }, 80, false],
    ['and_match', { and_match: { rules: [{ any_match: true }, { destination_port_range: { start: 1, end: 100 } }] } }, 50, true],
    ['unknown predicate', { something: {} }, 80, null],
  ])('%s', (_name, p, port, expected) => {
    expect(predicateMatches(p as JsonObject, port)).toBe(expected)
  })
})
