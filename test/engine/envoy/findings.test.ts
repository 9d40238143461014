import { describe, expect, it } from 'vitest'
import { loadEnvoyConfig } from '../../../src/engine/envoy/config-dump.js'
import { ENVOY_FINDINGS, envoyFinding, type EnvoyFindingCode } from '../../../src/engine/envoy/findings.js'
import { traceEnvoy, type EnvoyTrace } from '../../../src/engine/envoy/trace-envoy.js'
import { get, inbound, outbound, POD, sidecarModel } from './fixtures.js'

const codes = (t: EnvoyTrace) => t.steps.flatMap((s) => s.findings.map((f) => f.code))
const panicModel = () =>
  loadEnvoyConfig({
    configDump: [
      { name: 'l', address: { socketAddress: { address: '0.0.0.0', portValue: 80 } }, filterChains: [{ filters: [{ name: 'envoy.tcp_proxy', config: { stat_prefix: 'c', cluster: 'c' } }] }] },
      { name: 'c', type: 'EDS' },
      { clusterName: 'c', endpoints: [{ lbEndpoints: [{ endpoint: { address: { socketAddress: { address: '10.0.0.1', portValue: 80 } } }, healthStatus: 'UNHEALTHY' }] }] },
    ],
  })

/** A scenario that raises each catalog entry (style.md: every finding has a fixture that triggers it). */
const TRIGGERS: Record<EnvoyFindingCode, () => EnvoyTrace> = {
  'all-endpoints-unhealthy-panic': () => traceEnvoy(panicModel(), outbound('10.0.0.1', 80, { delivered: { ip: '10.0.0.1', port: 80 } }), undefined),
  'assumed-capture-listener': () => traceEnvoy(sidecarModel(), outbound('10.96.12.34', 9080, { delivered: null }), get('ratings')),
  'blackhole-registry-only': () => traceEnvoy(sidecarModel(), outbound('10.1.1.1', 15001, { applicationProtocols: [] }), undefined),
  'cluster-not-found': () => traceEnvoy(sidecarModel(), outbound('10.96.201.56', 9080), get('reviews', '/', { 'x-canary': '1' })),
  'config-missing-from-snapshot': () => traceEnvoy(loadEnvoyConfig({ configDump: [{ name: 'l', address: { socketAddress: { address: '0.0.0.0', portValue: 80 } }, filterChains: [{ filters: [{ name: 'envoy.tcp_proxy', config: { stat_prefix: 'c', cluster: 'c' } }] }] }] }), outbound('10.0.0.1', 80, { delivered: { ip: '10.0.0.1', port: 80 } }), undefined),
  'direct-response': () => traceEnvoy(sidecarModel(), outbound('10.96.88.21', 9080), get('details', '/healthz')),
  'hcm-for-tcp-request': () => traceEnvoy(sidecarModel(), outbound('10.96.12.34', 9080), undefined),
  'host-header-no-domain': () => traceEnvoy(loadEnvoyConfig({ configDump: [{ name: 'l', address: { socketAddress: { address: '0.0.0.0', portValue: 80 } }, filterChains: [{ filters: [{ name: 'envoy.http_connection_manager', config: { stat_prefix: 'p', route_config: { name: 'r', virtual_hosts: [{ name: 'a', domains: ['a'], routes: [] }, { name: 'b', domains: ['b'], routes: [] }] } } }] }] }] }), outbound('10.0.0.1', 80, { delivered: { ip: '10.0.0.1', port: 80 } }), get('c')),
  'http-filter-may-end-request': () => traceEnvoy(sidecarModel(), inbound(9080, { transportProtocol: 'tls', applicationProtocols: ['istio-http/1.1'] }), get(`${POD}:9080`)),
  'listener-filter-disabled': () => traceEnvoy(loadEnvoyConfig({ configDump: [{ name: 'l', address: { socketAddress: { address: '0.0.0.0', portValue: 80 } }, listenerFilters: [{ name: 'envoy.filters.listener.http_inspector', filterDisabled: { destinationPortRange: { start: 80, end: 81 } } }], filterChains: [] }] }), outbound('10.0.0.1', 80, { delivered: { ip: '10.0.0.1', port: 80 } }), undefined),
  'no-endpoints-in-snapshot': () => traceEnvoy(loadEnvoyConfig({ configDump: [{ name: 'l', address: { socketAddress: { address: '0.0.0.0', portValue: 80 } }, filterChains: [{ filters: [{ name: 'envoy.tcp_proxy', config: { stat_prefix: 'c', cluster: 'c' } }] }] }, { name: 'c', type: 'EDS' }] }), outbound('10.0.0.1', 80, { delivered: { ip: '10.0.0.1', port: 80 } }), undefined),
  'no-filter-chain-match': () => traceEnvoy(sidecarModel(), inbound(8000, { applicationProtocols: [] }), undefined),
  'no-healthy-upstream': () => traceEnvoy(sidecarModel(), outbound('10.96.12.34', 9080), get('ratings', '/', { 'end-user': 'jason' })),
  'no-route-match': () => traceEnvoy(loadEnvoyConfig({ configDump: [{ name: 'l', address: { socketAddress: { address: '0.0.0.0', portValue: 80 } }, filterChains: [{ filters: [{ name: 'envoy.http_connection_manager', config: { stat_prefix: 'p', route_config: { name: 'r', virtual_hosts: [{ name: 'a', domains: ['*'], routes: [{ match: { path: '/x' }, route: { cluster: 'c' } }] }] } } }] }] }] }), outbound('10.0.0.1', 80, { delivered: { ip: '10.0.0.1', port: 80 } }), get('a', '/y')),
  'passthrough-allow-any': () => traceEnvoy(sidecarModel(), outbound('1.2.3.4', 443, { applicationProtocols: [] }), undefined),
  // A listener whose only chain for the port requires TLS, reached by plaintext (story 13, STRICT mTLS).
  'plaintext-to-tls-only-port': () => traceEnvoy(loadEnvoyConfig({ configDump: [{ name: 'l', address: { socketAddress: { address: '0.0.0.0', portValue: 80 } }, filterChains: [{ name: 'mtls', filterChainMatch: { destinationPort: 80, transportProtocol: 'tls' }, filters: [{ name: 'envoy.tcp_proxy', config: { stat_prefix: 'c', cluster: 'c' } }] }] }] }), outbound('10.0.0.1', 80, { delivered: { ip: '10.0.0.1', port: 80 }, applicationProtocols: [] }), undefined),
  'runtime-fraction-assumed': () => traceEnvoy(sidecarModel(), outbound('10.96.88.21', 9080), get('details', '/x')),
  'stat-contradicts-trace': () => traceEnvoy(sidecarModel({ stats: 'http.outbound_0.0.0.0_9080.no_route: 5\n' }), outbound('10.96.12.34', 9080), get('ratings')),
  'stat-hidden-by-inclusion': () => traceEnvoy(sidecarModel({ stats: 'server.live: 1\n' }), outbound('10.96.12.34', 9080), get('ratings')),
  'transport-protocol-assumed': () => traceEnvoy(sidecarModel(), outbound('1.2.3.4', 443, { transportProtocol: 'tls', serverName: 'a.com', applicationProtocols: ['h2'] }), undefined),
  'unknown-extension': () => traceEnvoy(sidecarModel(), outbound('10.96.0.10', 9153, { applicationProtocols: [] }), undefined),
  'warming-listener': () => traceEnvoy(sidecarModel(), outbound('10.96.5.5', 7070, { applicationProtocols: [] }), undefined),
  'weighted-cluster-pick': () => traceEnvoy(sidecarModel(), outbound('10.96.201.56', 9080), get('reviews')),
}

describe('ENVOY_FINDINGS', () => {
  it('is ordered by code', () => {
    const codes = Object.keys(ENVOY_FINDINGS)

    expect(codes).toEqual([...codes].sort())
  })

  it.each(Object.keys(ENVOY_FINDINGS))('%s has a level and a sentence', (code) => {
    const spec = ENVOY_FINDINGS[code as keyof typeof ENVOY_FINDINGS]

    expect(['info', 'warning', 'error']).toContain(spec.level)
    expect(spec.template).toMatch(/[.)]$/)
  })

  it.each(Object.keys(TRIGGERS) as EnvoyFindingCode[])('%s is raised by its scenario', (code) => {
    expect(codes(TRIGGERS[code]())).toContain(code)
  })

  it('every catalog entry has a triggering scenario', () => {
    expect(Object.keys(TRIGGERS).sort()).toEqual(Object.keys(ENVOY_FINDINGS).sort())
  })

  it('fills placeholders', () => {
    expect(envoyFinding('cluster-not-found', { cluster: 'c', flag: 'NC' }).message).toContain('cluster c, which is not in the config dump: Envoy answers 503 with flag NC')
  })
})
