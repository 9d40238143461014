import { describe, expect, it } from 'vitest'
import { loadEnvoyConfig } from '../../../src/engine/envoy/config-dump.js'
import { resolveHostFromEnvoy, traceEnvoy } from '../../../src/engine/envoy/trace-envoy.js'
import { fixtureText, get, inbound, outbound, POD, sidecarModel } from './fixtures.js'

describe('traceEnvoy on the hand-written v3 sidecar', () => {
  it.each([
    ['HTTP to a service VIP is handed off to 0.0.0.0_9080 and routed by Host', outbound('10.96.12.34', 9080), get('ratings:9080', '/ratings/0'),
      { outcome: 'forwarded', listener: '0.0.0.0_9080', filterChain: '#0', routeConfig: '9080', virtualHost: 'ratings.default.svc.cluster.local:9080', route: 'ratings-default', cluster: 'outbound|9080||ratings.default.svc.cluster.local', endpoints: ['10.244.1.7:9080'] }],
    // Envoy surprise: the vhost comes from Host, never from the dialled IP (RouteMatcher::findVirtualHost reads only headers).
    ['Host beats destination IP: reviews VIP with Host ratings goes to ratings', outbound('10.96.201.56', 9080), get('ratings', '/'),
      { virtualHost: 'ratings.default.svc.cluster.local:9080', cluster: 'outbound|9080||ratings.default.svc.cluster.local' }],
    ['a header route to an all-ejected subset with panic disabled ends 503 UH', outbound('10.96.12.34', 9080), get('ratings:9080', '/', { 'end-user': 'jason' }),
      { outcome: 'no_healthy_upstream', route: 'ratings-jason', cluster: 'outbound|9080|v2|ratings.default.svc.cluster.local', endpoints: [] }],
    ['a route to a subset cluster missing from the dump is NC', outbound('10.96.201.56', 9080), get('reviews', '/', { 'x-canary': '1' }),
      { outcome: 'no_cluster', route: 'reviews-v3', cluster: 'outbound|9080|v3|reviews.default.svc.cluster.local' }],
    ['weighted clusters pick the first bucket for random value 0', outbound('10.96.201.56', 9080), get('reviews'),
      { outcome: 'forwarded', cluster: 'outbound|9080|v1|reviews.default.svc.cluster.local' }],
    ['an unknown Host on a known port falls to allow_any → PassthroughCluster', outbound('10.96.201.56', 9080), get('example.com'),
      { outcome: 'passthrough', virtualHost: 'allow_any', cluster: 'PassthroughCluster', endpoints: ['10.96.201.56:9080'] }],
    ['a redirect route answers 302 with a Location', outbound('10.96.88.21', 9080), get('details', '/old?x=1'), { outcome: 'redirect', route: 'moved', cluster: undefined }],
    ['a direct_response route answers itself', outbound('10.96.88.21', 9080), get('details', '/healthz'), { outcome: 'direct_response', route: 'health' }],
    ['a safe_regex route matches the whole path, query excluded', outbound('10.96.88.21', 9080), get('details', '/api/v1/x?y=2'), { route: 'api', cluster: 'outbound|9080||details.default.svc.cluster.local' }],
    ['a safe_regex near miss (v1a is not [0-9]+) falls to the runtime-fraction route', outbound('10.96.88.21', 9080), get('details', '/api/v1a/x'), { route: 'canary' }],
    ['TCP to a TCP service listener is handed off exactly to <VIP>_<port>', outbound('10.96.0.10', 53, { applicationProtocols: [] }), undefined,
      { outcome: 'forwarded', listener: '10.96.0.10_53', cluster: 'outbound|53||kube-dns.kube-system.svc.cluster.local', endpoints: ['10.244.0.2:53', '[fd00::2]:53'] }],
    ['TCP to an unknown address stays on virtualOutbound and passes through', outbound('1.2.3.4', 8443, { applicationProtocols: [] }), undefined,
      { outcome: 'passthrough', listener: 'virtualOutbound', filterChain: 'virtualOutbound-catchall-tcp', cluster: 'PassthroughCluster', endpoints: ['1.2.3.4:8443'] }],
    ['a connection to 15001 itself hits the loop guard chain → BlackHoleCluster', outbound('10.1.1.1', 15001, { applicationProtocols: [] }), undefined,
      { outcome: 'blackhole', listener: 'virtualOutbound', filterChain: 'virtualOutbound-blackhole', cluster: 'BlackHoleCluster' }],
    ['inbound plaintext HTTP picks the port chain and forwards to the original destination', inbound(9080), get(`${POD}:9080`, '/reviews/0'),
      { outcome: 'forwarded', listener: 'virtualInbound', filterChain: '0.0.0.0_9080', cluster: 'inbound|9080||', endpoints: [`${POD}:9080`] }],
    ['inbound to an undeclared port uses the HTTP passthrough chain', inbound(8000), get(`${POD}:8000`),
      { outcome: 'passthrough', filterChain: 'virtualInbound-catchall-http', cluster: 'InboundPassthroughClusterIpv4' }],
    // Envoy surprise: no backtracking. raw_buffer prunes the transport-less TCP chain, then ALPN fails the HTTP chain
    // (filter_chain_manager_impl.cc findFilterChainForTransportProtocol → ApplicationProtocols); Istio avoids it by
    // giving its TCP catch-all transport_protocol raw_buffer too.
    ['no backtracking: raw TCP to an undeclared port loses the TCP catch-all on transport, then fails ALPN', inbound(8000, { applicationProtocols: [] }), undefined,
      { outcome: 'no_filter_chain', listener: 'virtualInbound' }],
    ['a cluster_type extension is unresolved, never guessed', outbound('10.96.0.10', 9153, { applicationProtocols: [] }), undefined, { outcome: 'unknown', cluster: 'outbound|9153||kube-dns.kube-system.svc.cluster.local' }],
    ['no listener for a delivered address is no_listener', outbound('10.96.0.10', 53, { delivered: { ip: '127.0.0.1', port: 15999 } }), undefined, { outcome: 'no_listener' }],
  ])('%s', (_name, conn, http, expected) => {
    const model = sidecarModel()

    const t = traceEnvoy(model, conn, http)

    expect(t.result).toMatchObject(Object.fromEntries(Object.entries(expected).filter(([, v]) => v !== undefined)))
    if ('cluster' in expected && expected.cluster === undefined) expect(t.result.cluster).toBeUndefined()
  })

  it('REGISTRY_ONLY: an unknown Host on a known port hits block_all, a 502 direct_response with no upstream', () => {
    const dump = JSON.parse(fixtureText('sidecar-v3.json').replace('"name": "allow_any"', '"name": "block_all"'))
    const routes = dump.configs.find((c: { '@type': string }) => c['@type'].endsWith('RoutesConfigDump'))
    const vhosts = routes.dynamic_route_configs[0].route_config.virtual_hosts
    vhosts[vhosts.length - 1].routes = [{ name: 'block_all', match: { prefix: '/' }, direct_response: { status: 502 } }]

    const t = traceEnvoy(loadEnvoyConfig({ configDump: dump }), outbound('10.96.201.56', 9080), get('example.com'))

    expect(t.result).toMatchObject({ outcome: 'direct_response', virtualHost: 'block_all' })
    const route = t.steps.find((s) => s.stage === 'route')
    expect(route?.decision.responseCode).toBe(502)
    expect(route?.findings.map((f) => f.code)).toEqual(['blackhole-registry-only'])
  })

  it('the hand-off is its own listener step, naming the rejected listeners on the port', () => {
    const t = traceEnvoy(sidecarModel(), outbound('10.96.0.10', 9153, { applicationProtocols: [] }), undefined)

    const [receiving, handOff] = t.steps
    expect(receiving).toMatchObject({ stage: 'listener', chosen: { name: 'virtualOutbound' }, decision: { originalDstRestored: true } })
    expect(handOff).toMatchObject({ stage: 'listener', chosen: { name: '10.96.0.10_9153' }, decision: { handOff: true, lookup: 'exact' } })
  })

  it('a TCP request into an HCM chain says HTTP is expected but shows the route config', () => {
    const t = traceEnvoy(sidecarModel(), outbound('10.96.12.34', 9080, { applicationProtocols: ['http/1.1'] }), undefined)

    expect(t.result).toMatchObject({ outcome: 'unknown', routeConfig: '9080' })
    const nf = t.steps.find((s) => s.stage === 'network_filter')
    expect(nf?.findings.map((f) => f.code)).toContain('hcm-for-tcp-request')
    expect(t.steps.at(-1)?.stage).toBe('route_config')
  })

  it('rejected routes carry the first failing matcher with evidence', () => {
    const t = traceEnvoy(sidecarModel(), outbound('10.96.12.34', 9080), get('ratings'))

    const route = t.steps.find((s) => s.stage === 'route')
    expect(route?.rejected).toEqual([
      expect.objectContaining({ candidate: expect.objectContaining({ name: 'ratings-jason' }), reason: 'header-mismatch', evidence: [{ field: 'header end-user', expected: 'exact "jason"', actual: '(absent)' }] }),
    ])
    expect(route?.decision).toMatchObject({ virtualService: 'ratings', timeout: '0s', retries: { numRetries: 2 } })
  })

  it('--random-value 60 picks the second weighted cluster and the finding lists all weights', () => {
    const t = traceEnvoy(sidecarModel(), outbound('10.96.201.56', 9080), get('reviews'), { randomValue: 60 })

    expect(t.result.cluster).toBe('outbound|9080|v2|reviews.default.svc.cluster.local')
    const route = t.steps.find((s) => s.stage === 'route')
    expect(route?.findings.find((f) => f.code === 'weighted-cluster-pick')?.message).toContain('outbound|9080|v1|reviews.default.svc.cluster.local 50%')
  })

  it('a runtime fraction is reported as an assumption either way', () => {
    const on = traceEnvoy(sidecarModel(), outbound('10.96.88.21', 9080), get('details', '/x'), { randomValue: 5 })
    const off = traceEnvoy(sidecarModel(), outbound('10.96.88.21', 9080), get('details', '/x'), { randomValue: 50 })

    expect(on.result.route).toBe('canary')
    expect(off.result.route).toBe('default')
    for (const t of [on, off]) expect(t.steps.find((s) => s.stage === 'route')?.findings.map((f) => f.code)).toContain('runtime-fraction-assumed')
  })

  it('the redirect decision has the status and Location', () => {
    const t = traceEnvoy(sidecarModel(), outbound('10.96.88.21', 9080), get('details:9080', '/old?x=1'))

    expect(t.steps.find((s) => s.stage === 'route')?.decision).toMatchObject({ responseCode: 302, location: 'http://details:9080/new?x=1' })
  })

  // Envoy surprise: on a regex route the whole path is the "matched prefix" (RegexRouteEntryImpl::rewritePathHeader).
  it('prefix_rewrite on a regex route replaces the whole path and keeps the query', () => {
    const t = traceEnvoy(sidecarModel(), outbound('10.96.88.21', 9080), get('details', '/api/v1/x?y=2'))

    expect(t.steps.find((s) => s.stage === 'route')?.decision.pathRewrite).toBe('/?y=2')
  })

  it('inbound mTLS HTTP picks the TLS chain and flags the RBAC filter ahead of the router', () => {
    const t = traceEnvoy(sidecarModel(), inbound(9080, { transportProtocol: 'tls', serverName: 'outbound_.9080_._.reviews.default.svc.cluster.local', applicationProtocols: ['istio-http/1.1', 'istio'] }), get(`${POD}:9080`))

    expect(t.result.filterChain).toBe('0.0.0.0_9080')
    const fc = t.steps.find((s) => s.stage === 'filter_chain')
    expect(fc?.rejected.map((r) => [r.candidate.name, r.reason])).toEqual([
      ['virtualInbound-blackhole', 'destination-port-mismatch'],
      ['virtualInbound-catchall-http', 'less-specific'],
      ['virtualInbound', 'less-specific'],
      ['0.0.0.0_9080', 'transport-protocol-mismatch'],
    ])
    const nf = t.steps.find((s) => s.stage === 'network_filter')
    expect(nf?.findings.map((f) => f.code)).toEqual(['http-filter-may-end-request'])
  })

  it('without iptables, outbound assumes virtualOutbound and says so', () => {
    const t = traceEnvoy(sidecarModel(), outbound('10.96.12.34', 9080, { delivered: null }), get('ratings'))

    expect(t.steps[0]).toMatchObject({ chosen: { name: 'virtualOutbound' }, decision: { capturePort: 15001, assumedCapture: true } })
    expect(t.steps[0].findings.map((f) => f.code)).toEqual(['assumed-capture-listener'])
    expect(t.result.cluster).toBe('outbound|9080||ratings.default.svc.cluster.local')
  })

  it('a warming listener is skipped with a finding (only active listeners serve)', () => {
    const t = traceEnvoy(sidecarModel(), outbound('10.96.5.5', 7070, { applicationProtocols: [] }), undefined)

    expect(t.result.listener).toBe('virtualOutbound')
    expect(t.steps[1].findings.map((f) => f.code)).toContain('warming-listener')
    expect(t.steps[1].rejected[0]).toMatchObject({ candidate: { name: '0.0.0.0_7070' }, reason: 'not-active' })
  })

  it('stats hidden by Istio’s inclusion list are noted, not treated as contradictions', () => {
    const model = sidecarModel({ stats: 'listener.0.0.0.0_15001.downstream_cx_active: 3\nserver.live: 1\n' })

    const t = traceEnvoy(model, outbound('10.96.12.34', 9080), get('ratings'))

    const stats = t.steps.at(-1)
    expect(stats?.stage).toBe('stats')
    expect(stats?.findings.every((f) => f.code === 'stat-hidden-by-inclusion')).toBe(true)
    expect(stats?.findings.some((f) => f.message.includes('cluster.outbound|9080||ratings.default.svc.cluster.local.upstream_rq_total'))).toBe(true)
  })

  it('a stat that contradicts the route is a finding', () => {
    const model = sidecarModel({ stats: 'http.outbound_0.0.0.0_9080.no_route: 5\n' })

    const t = traceEnvoy(model, outbound('10.96.12.34', 9080), get('ratings'))

    const stats = t.steps.at(-1)
    expect(stats?.evidence).toContainEqual({ field: 'stat http.outbound_0.0.0.0_9080.no_route', expected: '0 for this path', actual: '5' })
    expect(stats?.findings.map((f) => f.code)).toContain('stat-contradicts-trace')
  })

  it('a stats step is added even when the trace ends at the listener', () => {
    const model = loadEnvoyConfig({ configDump: { configs: [] }, stats: { stats: [{ name: 'x', value: 1 }] } })

    const t = traceEnvoy(model, outbound('10.96.12.34', 9080), get('ratings'))

    expect(t.result.outcome).toBe('no_listener')
    expect(t.steps.at(-1)?.stage).toBe('stats')
  })
})

describe('resolveHostFromEnvoy', () => {
  it.each([
    ['a short name in a vhost with the ClusterIP among its domains', 'ratings', 9080, { ip: '10.96.12.34', fqdn: 'ratings.default.svc.cluster.local' }],
    ['name.namespace works too', 'ratings.default', 9080, { ip: '10.96.12.34', fqdn: 'ratings.default.svc.cluster.local' }],
    ['a TCP service from its <VIP>_<port> listener and outbound|port||fqdn cluster', 'kube-dns', 53, { ip: '10.96.0.10', fqdn: 'kube-dns.kube-system.svc.cluster.local' }],
    ['near miss: the right name on another port resolves to nothing', 'ratings', 9090, undefined],
    ['near miss: a prefix of a name is not the name', 'rat', 9080, undefined],
  ])('%s', (_name, host, port, expected) => {
    const hit = resolveHostFromEnvoy(sidecarModel(), host, port)

    if (expected === undefined) expect(hit).toBeUndefined()
    else expect(hit).toMatchObject(expected)
  })

  it('a TCP service on a shared 0.0.0.0_<port> listener is found by its chain’s /32 prefix range', () => {
    const model = loadEnvoyConfig({
      configDump: [{ name: '0.0.0.0_27017', address: { socketAddress: { address: '0.0.0.0', portValue: 27017 } }, filterChains: [{ filterChainMatch: { prefixRanges: [{ addressPrefix: '10.96.7.7', prefixLen: 32 }] }, filters: [{ name: 'envoy.tcp_proxy', config: { stat_prefix: 'x', cluster: 'outbound|27017||mongo.db.svc.cluster.local' } }] }] }],
    })

    expect(resolveHostFromEnvoy(model, 'mongo.db', 27017)).toMatchObject({ ip: '10.96.7.7', fqdn: 'mongo.db.svc.cluster.local', source: { pointer: '/0/filterChains/0' } })
  })

  it('older Istio lists ip:port domains; the IP is taken from them', () => {
    const model = loadEnvoyConfig({
      configDump: [{ name: '9080', virtualHosts: [{ name: 'ratings.default.svc.cluster.local:9080', domains: ['ratings:9080', 'ratings.default.svc.cluster.local:9080', '10.254.234.130:9080'], routes: [] }] }],
    })

    expect(resolveHostFromEnvoy(model, 'ratings', 9080)).toMatchObject({ ip: '10.254.234.130', fqdn: 'ratings.default.svc.cluster.local', source: { file: 'config_dump', pointer: '/0/virtualHosts/0' } })
  })
})

describe('constructs mesh-trace does not model are unresolved, naming them', () => {
  const listener = (extra: Record<string, unknown>, filters: unknown[] = []) =>
    loadEnvoyConfig({ configDump: [{ name: 'l', address: { socket_address: { address: '0.0.0.0', port_value: 80 } }, filter_chains: [{ filters }], ...extra }, { name: 'c', type: 'STATIC', load_assignment: { cluster_name: 'c', endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '10.0.0.1', port_value: 80 } } } }] }] } }] })
  const conn = outbound('10.0.0.9', 80, { delivered: { ip: '10.0.0.9', port: 80 } })
  const hcm = (config: Record<string, unknown>) => ({ name: 'envoy.filters.network.http_connection_manager', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager', stat_prefix: 'p', ...config } })

  it.each([
    ['a listener filter it does not know', listener({ listener_filters: [{ name: 'x', typed_config: { '@type': 'type.googleapis.com/istio.set_internal_dst_address.v1.Config' } }] }), 'filter_chain', 'istio.set_internal_dst_address.v1.Config'],
    ['a terminal network filter it does not know', listener({}, [{ name: 'envoy.filters.network.redis_proxy', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.network.redis_proxy.v3.RedisProxy' } }]), 'network_filter', 'envoy.extensions.filters.network.redis_proxy.v3.RedisProxy'],
    ['scoped_routes', listener({}, [hcm({ scoped_routes: { name: 's' } })]), 'route_config', 'scoped_routes'],
    ['a filter_chain_matcher input it does not model', listener({ filter_chain_matcher: { matcher_tree: { input: { name: 'i', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.matching.common_inputs.network.v3.FilterStateInput' } }, exact_match_map: { map: {} } } } }), 'filter_chain', 'FilterStateInput'],
    ['a route match field it does not model', listener({}, [hcm({ route_config: { name: 'r', virtual_hosts: [{ name: 'v', domains: ['*'], routes: [{ match: { prefix: '/', cookies: [{ name: 'a' }] }, route: { cluster: 'c' } }] }] } })]), 'route', 'route match field cookies'],
    ['a cluster_specifier_plugin', listener({}, [hcm({ route_config: { name: 'r', virtual_hosts: [{ name: 'v', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster_specifier_plugin: 'p' } }] }] } })]), 'route', 'cluster_specifier_plugin'],
  ])('%s', (_name, model, stage, named) => {
    const t = traceEnvoy(model, conn, get('a'))

    const step = t.steps.find((s) => s.outcome === 'unresolved')
    expect(step?.stage).toBe(stage)
    expect(step?.findings.find((f) => f.code === 'unknown-extension')?.message).toContain(named)
    expect(t.result.outcome).toBe('unknown')
  })
})

describe('the HTTP connection manager rewrites Host before routing', () => {
  const model = (hcm: Record<string, unknown>) =>
    loadEnvoyConfig({
      configDump: [
        {
          name: 'l',
          address: { socket_address: { address: '0.0.0.0', port_value: 8080 } },
          filter_chains: [{ filters: [{ name: 'envoy.filters.network.http_connection_manager', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager', stat_prefix: 'p', route_config: { name: 'r', virtual_hosts: [{ name: 'exact', domains: ['a.com'], routes: [{ match: { prefix: '/' }, direct_response: { status: 200 } }] }] }, ...hcm } }] }],
        },
      ],
    })
  const conn = outbound('10.0.0.9', 8080, { delivered: { ip: '10.0.0.9', port: 8080 } })

  it.each([
    ['strip_matching_host_port drops the listener’s own port', { strip_matching_host_port: true }, 'a.com:8080', 'exact'],
    ['near miss: strip_matching_host_port keeps another port', { strip_matching_host_port: true }, 'a.com:9090', undefined],
    ['strip_any_host_port drops any port', { strip_any_host_port: true }, 'a.com:9090', 'exact'],
    ['without either the port is part of the Host', {}, 'a.com:8080', undefined],
  ])('%s', (_name, hcm, host, vhost) => {
    const t = traceEnvoy(model(hcm), conn, get(host))

    expect(t.result.virtualHost).toBe(vhost)
  })
})
