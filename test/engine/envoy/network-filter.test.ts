import { describe, expect, it } from 'vitest'
import { loadEnvoyConfig, loadRouteConfiguration } from '../../../src/engine/envoy/config-dump.js'
import { analyzeNetworkFilters, httpFilterFindings } from '../../../src/engine/envoy/network-filter.js'

const chain = (filters: unknown[]) => loadEnvoyConfig({ configDump: [{ name: 'l', filter_chains: [{ filters }] }] }).listeners[0].filterChains[0]
const hcm = (httpFilters: unknown[]) => ({ name: 'envoy.filters.network.http_connection_manager', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager', stat_prefix: 'p', rds: { route_config_name: 'r' }, http_filters: httpFilters } })
const router = { name: 'envoy.filters.http.router' }
const route = (extra: Record<string, unknown> = {}) => loadRouteConfiguration({ virtual_hosts: [{ name: 'v', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'c' }, ...extra }] }] }).virtualHosts[0].routes[0]

describe('analyzeNetworkFilters', () => {
  it.each([
    ['tcp_proxy after metadata exchange and stats', [{ name: 'istio.metadata_exchange' }, { name: 'istio.stats' }, { name: 'envoy.tcp_proxy', config: { stat_prefix: 's', cluster: 'c' } }], 'tcp_proxy', []],
    ['network RBAC with rules ahead of tcp_proxy can close the connection', [{ name: 'envoy.filters.network.rbac', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.network.rbac.v3.RBAC', rules: { policies: {} } } }, { name: 'envoy.tcp_proxy', config: { cluster: 'c' } }], 'tcp_proxy', ['http-filter-may-end-request']],
    ['near miss: shadow-only RBAC cannot', [{ name: 'envoy.filters.network.rbac', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.network.rbac.v3.RBAC', shadow_rules: { policies: {} } } }, { name: 'envoy.tcp_proxy', config: { cluster: 'c' } }], 'tcp_proxy', []],
    ['the HTTP connection manager', [hcm([router])], 'http_connection_manager', []],
  ])('%s', (_name, filters, role, findings) => {
    const a = analyzeNetworkFilters(chain(filters))

    expect(a.terminal?.role).toBe(role)
    expect(a.findings.map((f) => f.code)).toEqual(findings)
  })

  it('an unknown terminal filter is named', () => {
    expect(analyzeNetworkFilters(chain([{ name: 'envoy.filters.network.mongo_proxy', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.network.mongo_proxy.v3.MongoProxy' } }])).unknownTerminal).toBe('envoy.extensions.filters.network.mongo_proxy.v3.MongoProxy')
  })
})

describe('httpFilterFindings: filters ahead of the router that can end a request', () => {
  const filters = (list: unknown[]) => chain([hcm(list)]).filters[0].hcm!.httpFilters

  it.each([
    ['RBAC with rules', [{ name: 'envoy.filters.http.rbac', typed_config: { rules: { action: 'ALLOW', policies: {} } } }, router], route(), ['envoy.filters.http.rbac']],
    ['near miss: RBAC with only shadow rules', [{ name: 'envoy.filters.http.rbac', typed_config: { shadow_rules: {} } }, router], route(), []],
    ['ext_authz always', [{ name: 'envoy.filters.http.ext_authz', typed_config: {} }, router], route(), ['envoy.filters.http.ext_authz']],
    ['jwt_authn with providers', [{ name: 'envoy.filters.http.jwt_authn', typed_config: { providers: { p: {} } } }, router], route(), ['envoy.filters.http.jwt_authn']],
    ['fault only when configured for this route', [{ name: 'envoy.filters.http.fault', typed_config: {} }, router], route({ typed_per_filter_config: { 'envoy.filters.http.fault': { abort: { http_status: 503 } } } }), ['envoy.filters.http.fault']],
    ['near miss: an empty fault filter and no per-route config', [{ name: 'envoy.filters.http.fault', typed_config: {} }, router], route(), []],
    ['filters after the router never run', [router, { name: 'envoy.filters.http.ext_authz', typed_config: {} }], route(), []],
    ['harmless Istio filters are not findings', [{ name: 'istio.metadata_exchange' }, { name: 'istio.stats' }, { name: 'envoy.filters.http.cors' }, router], route(), []],
  ])('%s', (_name, list, r, expected) => {
    const found = httpFilterFindings(filters(list), r)

    expect(found.map((f) => /HTTP filter (\S+) runs/.exec(f.message)?.[1])).toEqual(expected)
  })
})
