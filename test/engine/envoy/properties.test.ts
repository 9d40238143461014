/** Properties of Envoy's selection rules that must hold for any input (fast-check). */
import fc from 'fast-check'
import { describe, it } from 'vitest'
import { loadEnvoyConfig, loadRouteConfiguration } from '../../../src/engine/envoy/config-dump.js'
import { matchFilterChains, type ConnectionAttributes } from '../../../src/engine/envoy/filter-chain.js'
import { pickWeightedCluster } from '../../../src/engine/envoy/route.js'
import { selectVirtualHost } from '../../../src/engine/envoy/virtual-host.js'

describe('properties', () => {
  it('a weighted pick lands in the bucket that contains random % total', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 1000 }), { minLength: 1, maxLength: 6 }), fc.nat(), (weights, random) => {
        const clusters = weights.map((w, i) => ({ name: `c${i}`, weight: w, clusterHeader: null, raw: {} }))
        const total = weights.reduce((a, b) => a + b, 0)
        const pick = pickWeightedCluster(clusters, null, random)
        if (total === 0) return pick.chosen === null
        const i = clusters.indexOf(pick.chosen as (typeof clusters)[number])
        const before = weights.slice(0, i).reduce((a, b) => a + b, 0)
        return i >= 0 && before <= random % total && random % total < before + weights[i]
      }),
    )
  })

  // Envoy indexes chains in maps, so the order of filter_chains never changes which chain wins.
  it('filter-chain selection does not depend on the order of the chains', () => {
    const match = fc.record(
      {
        destination_port: fc.constantFrom(80, 9080),
        prefix_ranges: fc.constantFrom([{ address_prefix: '10.0.0.0', prefix_len: 8 }], [{ address_prefix: '10.0.0.5', prefix_len: 32 }], [{ address_prefix: '0.0.0.0', prefix_len: 0 }]),
        transport_protocol: fc.constantFrom('tls', 'raw_buffer'),
        application_protocols: fc.constantFrom(['http/1.1'], ['istio', 'istio-http/1.1'], ['h2c']),
        source_type: fc.constantFrom('EXTERNAL', 'SAME_IP_OR_LOOPBACK'),
      },
      { requiredKeys: [] },
    )
    const attrs = fc.record({
      destinationPort: fc.constantFrom(80, 9080, 443),
      transportProtocol: fc.constantFrom('tls', 'raw_buffer'),
      applicationProtocols: fc.constantFrom([], ['http/1.1'], ['istio-http/1.1', 'istio'], ['h2c']),
    })
    fc.assert(
      fc.property(fc.uniqueArray(match, { minLength: 1, maxLength: 6, selector: (m) => JSON.stringify(m) }), attrs, fc.nat(), (matches, a, seed) => {
        const model = loadEnvoyConfig({ configDump: [{ name: 'l', filter_chains: matches.map((m, i) => ({ name: `fc${i}`, filter_chain_match: m, filters: [] })) }] })
        const chains = model.listeners[0].filterChains
        const rotated = [...chains.slice(seed % chains.length), ...chains.slice(0, seed % chains.length)].reverse()
        const conn: ConnectionAttributes = { destinationIp: '10.0.0.5', serverName: '', directSourceIp: '10.0.0.9', sourceIp: '10.0.0.9', sourcePort: 1, ...a, applicationProtocols: [...a.applicationProtocols] }
        const x = matchFilterChains(chains, conn)
        const y = matchFilterChains(rotated, conn)
        // Ties are config errors Envoy rejects; only unique winners must agree.
        const tie = (r: typeof x) => r.rejected.some((rej) => rej.reason === 'other')
        return tie(x) || tie(y) || x.chosen?.name === y.chosen?.name
      }),
    )
  })

  it('virtual-host selection does not depend on the order of the virtual hosts', () => {
    const domain = fc.constantFrom('a.example.com', '*.example.com', '*.com', 'a.*', 'a.example.*', 'b.example.com', '*')
    fc.assert(
      fc.property(fc.uniqueArray(domain, { minLength: 1, maxLength: 7 }), fc.constantFrom('a.example.com', 'x.example.com', 'a.example.org', 'b.example.com', 'z.net'), (domains, host) => {
        const vhosts = domains.map((d, i) => ({ name: `v${i}:${d}`, domains: [d], routes: [] }))
        const x = selectVirtualHost(loadRouteConfiguration({ virtual_hosts: vhosts }), { host })
        const y = selectVirtualHost(loadRouteConfiguration({ virtual_hosts: [...vhosts].reverse() }), { host })
        return x.chosen?.name === y.chosen?.name
      }),
    )
  })
})
