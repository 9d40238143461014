import { describe, expect, it } from 'vitest'
import { EnvoyConfigError, loadEnvoyConfig } from '../../../src/engine/envoy/config-dump.js'
import { healthFromEds, healthFromFlags, parseAdminClusters, priorityLoad, resolveEndpoints } from '../../../src/engine/envoy/endpoints.js'

const CLUSTERS_TEXT = [
  'outbound|9080||ratings.default.svc.cluster.local::observability_name::outbound|9080||ratings.default.svc.cluster.local',
  'outbound|9080||ratings.default.svc.cluster.local::default_priority::max_connections::4294967295',
  'outbound|9080||ratings.default.svc.cluster.local::added_via_api::true',
  'outbound|9080||ratings.default.svc.cluster.local::10.244.1.7:9080::cx_total::3',
  'outbound|9080||ratings.default.svc.cluster.local::10.244.1.7:9080::rq_total::42',
  'outbound|9080||ratings.default.svc.cluster.local::10.244.1.7:9080::health_flags::healthy',
  'outbound|9080||ratings.default.svc.cluster.local::[fd00::7]:9080::rq_total::5',
  'outbound|9080||ratings.default.svc.cluster.local::[fd00::7]:9080::health_flags::/failed_outlier_check/failed_active_hc',
  'outbound|9080||ratings.default.svc.cluster.local::[fd00::7]:9080::hostname::',
].join('\n')

describe('parseAdminClusters', () => {
  // Envoy surprise (admin.rst): IPv6 hosts print as [fd00::7]:9080, so `::` splitting must take key and value from the right.
  it('text: splits IPv6 hosts from the right and reads health flags and counters', () => {
    const [c] = parseAdminClusters(CLUSTERS_TEXT)

    expect(c.addedViaApi).toBe(true)
    expect(c.hosts.map((h) => [h.ip, h.port, h.healthFlags, h.stats.rq_total])).toEqual([
      ['10.244.1.7', 9080, ['healthy'], 42],
      ['fd00::7', 9080, ['failed_outlier_check', 'failed_active_hc'], 5],
    ])
    expect(c.hosts[1].source).toEqual({ file: 'clusters', line: 8 })
  })

  it('json: mixed camelCase/snake_case keys, uint64 strings, outlier flags', () => {
    const [c] = parseAdminClusters({ cluster_statuses: [{ name: 'c', addedViaApi: true, hostStatuses: [{ address: { socketAddress: { address: '10.0.0.1', portValue: 80 } }, stats: [{ name: 'rq_total', value: '7' }, { name: 'cx_active', type: 'GAUGE' }], healthStatus: { edsHealthStatus: 'HEALTHY', failedOutlierCheck: true } }] }] })

    expect(c.hosts[0]).toMatchObject({ ip: '10.0.0.1', port: 80, healthFlags: ['failed_outlier_check'], edsHealthStatus: 'HEALTHY', stats: { rq_total: 7, cx_active: 0 }, source: { file: 'clusters', pointer: '/cluster_statuses/0/hostStatuses/0' } })
  })

  it('json given as text is parsed as json', () => {
    expect(parseAdminClusters('{"cluster_statuses": []}')).toEqual([])
  })

  it('an object that is not /clusters is an error naming the file', () => {
    expect(() => parseAdminClusters({ nope: 1 })).toThrow(EnvoyConfigError)
  })
})

describe('health mapping', () => {
  it.each([
    [['healthy'], 'healthy'],
    [['failed_outlier_check'], 'unhealthy'],
    [['failed_eds_health'], 'unhealthy'],
    [['eds_status_draining'], 'unhealthy'],
    [['degraded_active_hc'], 'degraded'],
    [['pending_active_hc'], 'excluded'],
    [['pending_dynamic_removal'], 'healthy'],
  ])('flags %j are %s', (flags, expected) => {
    expect(healthFromFlags(flags)).toBe(expected)
  })

  it.each([
    ['UNKNOWN', 'healthy'],
    ['HEALTHY', 'healthy'],
    ['UNHEALTHY', 'unhealthy'],
    ['DRAINING', 'unhealthy'],
    ['TIMEOUT', 'unhealthy'],
    ['DEGRADED', 'degraded'],
  ] as const)('EDS %s is %s', (status, expected) => {
    expect(healthFromEds(status)).toBe(expected)
  })
})

describe('resolveEndpoints', () => {
  const eds = (eps: Array<[string, string]>, cluster: Record<string, unknown> = {}, clusters?: unknown) =>
    loadEnvoyConfig({
      configDump: { configs: [
        { '@type': 'type.googleapis.com/envoy.admin.v3.ClustersConfigDump', dynamic_active_clusters: [{ cluster: { name: 'c', type: 'EDS', eds_cluster_config: { service_name: 'c' }, ...cluster } }] },
        { '@type': 'type.googleapis.com/envoy.admin.v3.EndpointsConfigDump', dynamic_endpoint_configs: [{ endpoint_config: { cluster_name: 'c', endpoints: [{ lb_endpoints: eps.map(([ip, h]) => ({ endpoint: { address: { socket_address: { address: ip, port_value: 80 } } }, health_status: h })) }] } }] },
      ] },
      clusters,
    })
  const run = (m: ReturnType<typeof eds>) => resolveEndpoints(m, m.clusters[0], { ip: '10.96.0.1', port: 80 })

  it.each([
    ['healthy first, unhealthy not eligible', eds([['10.0.0.2', 'UNHEALTHY'], ['10.0.0.1', 'HEALTHY']]), 'forwarded', ['10.0.0.1:80']],
    ['degraded hosts come after healthy ones', eds([['10.0.0.2', 'DEGRADED'], ['10.0.0.1', 'HEALTHY']]), 'forwarded', ['10.0.0.1:80', '10.0.0.2:80']],
    ['an empty assignment is no healthy upstream', eds([]), 'no_healthy_upstream', []],
    // Envoy surprise: below healthy_panic_threshold (default 50%) Envoy balances over all hosts, unhealthy ones included
    // (load_balancer_impl.cc isHostSetInPanic); Istio writes `healthy_panic_threshold: {}` (= 0%) to turn that off.
    ['all unhealthy with the default 50% panic threshold: panic mode uses every host', eds([['10.0.0.1', 'UNHEALTHY']]), 'forwarded', ['10.0.0.1:80']],
    ['all unhealthy with panic disabled ({}): 503 UH', eds([['10.0.0.1', 'UNHEALTHY']], { common_lb_config: { healthy_panic_threshold: {} } }), 'no_healthy_upstream', []],
    ['/clusters health flags override EDS (outlier ejection)', eds([['10.0.0.1', 'HEALTHY']], { common_lb_config: { healthy_panic_threshold: {} } }, 'c::10.0.0.1:80::health_flags::/failed_outlier_check\n'), 'no_healthy_upstream', []],
  ])('%s', (_name, m, outcome, endpoints) => {
    const r = run(m)

    expect([r.outcome, r.endpoints]).toEqual([outcome, endpoints])
  })

  it('panic mode is a finding', () => {
    expect(run(eds([['10.0.0.1', 'UNHEALTHY']])).step.findings.map((f) => f.code)).toEqual(['all-endpoints-unhealthy-panic'])
  })

  it('UH lists the unhealthy hosts as rejected with their health', () => {
    const r = run(eds([['10.0.0.1', 'UNHEALTHY']], { common_lb_config: { healthy_panic_threshold: {} } }))

    expect(r.step.rejected[0]).toMatchObject({ candidate: { kind: 'endpoint', name: '10.0.0.1:80' }, reason: 'unhealthy', evidence: [{ field: 'health_status', actual: 'health_status UNHEALTHY' }] })
  })

  it.each([
    ['EDS without ?include_eds or /clusters: unresolved, with a finding', loadEnvoyConfig({ configDump: [{ name: 'c', type: 'EDS' }] }), 'unknown', 'no-endpoints-in-snapshot'],
    ['BlackHoleCluster: dropped', loadEnvoyConfig({ configDump: [{ name: 'BlackHoleCluster', connect_timeout: '1s' }] }), 'blackhole', 'blackhole-registry-only'],
  ])('%s', (_name, m, outcome, finding) => {
    const r = resolveEndpoints(m, m.clusters[0], { ip: '1.2.3.4', port: 80 })

    expect(r.outcome).toBe(outcome)
    expect(r.step.findings.map((f) => f.code)).toEqual([finding])
  })

  it.each([
    ['PassthroughCluster is passthrough to the original destination', 'PassthroughCluster', 'passthrough'],
    ['an ORIGINAL_DST cluster of a known service is forwarded', 'outbound|80||headless.default.svc.cluster.local', 'forwarded'],
  ])('%s', (_name, name, outcome) => {
    const m = loadEnvoyConfig({ configDump: [{ name, type: 'ORIGINAL_DST', lb_policy: 'CLUSTER_PROVIDED' }] })

    const r = resolveEndpoints(m, m.clusters[0], { ip: '10.1.2.3', port: 80 })

    expect([r.outcome, r.endpoints]).toEqual([outcome, ['10.1.2.3:80']])
  })

  it('STRICT_DNS: /clusters resolved addresses replace the configured hostnames', () => {
    const m = loadEnvoyConfig({ configDump: [{ name: 'dns', type: 'STRICT_DNS', load_assignment: { cluster_name: 'dns', endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 'example.com', port_value: 443 } } } }] }] } }], clusters: 'dns::93.184.216.34:443::health_flags::healthy\n' })

    expect(resolveEndpoints(m, m.clusters[0], { ip: '1.1.1.1', port: 443 }).endpoints).toEqual(['93.184.216.34:443'])
  })
})

describe('priority load (locality failover)', () => {
  it.each([
    ['all healthy in P0: P1 gets nothing', [{ priority: 0, healthy: 2, total: 2 }, { priority: 1, healthy: 2, total: 2 }], [[0, 100], [1, 0]]],
    ['half of P0 healthy × 1.4 = 70%: P1 takes the rest', [{ priority: 0, healthy: 1, total: 2 }, { priority: 1, healthy: 2, total: 2 }], [[0, 70], [1, 30]]],
    ['overprovisioning hides a small loss: 3 of 4 healthy is still 100%', [{ priority: 0, healthy: 3, total: 4 }, { priority: 1, healthy: 1, total: 1 }], [[0, 100], [1, 0]]],
    ['total health under 100 is scaled up', [{ priority: 0, healthy: 1, total: 4 }, { priority: 1, healthy: 0, total: 1 }], [[0, 100], [1, 0]]],
  ])('%s', (_name, levels, expected) => {
    expect([...priorityLoad(levels, 140)]).toEqual(expected)
  })

  it('healthy hosts of a priority without load are rejected as lower precedence', () => {
    const m = loadEnvoyConfig({
      configDump: [
        { name: 'c', type: 'EDS' },
        { clusterName: 'c', endpoints: [0, 1].map((p) => ({ priority: p, locality: { zone: `z${p}` }, lbEndpoints: [{ endpoint: { address: { socketAddress: { address: `10.0.0.${p + 1}`, portValue: 80 } } }, healthStatus: 'HEALTHY' }] })) },
      ],
    })

    const r = resolveEndpoints(m, m.clusters[0], { ip: '1.1.1.1', port: 80 })

    expect(r.endpoints).toEqual(['10.0.0.1:80'])
    expect(r.step.rejected).toEqual([expect.objectContaining({ reason: 'lower-precedence', evidence: [{ field: 'priority', expected: 'a priority that gets load', actual: 'priority 1 gets 0%' }] })])
    expect(r.step.decision.priorityLoad).toEqual({ 0: 100, 1: 0 })
  })
})
