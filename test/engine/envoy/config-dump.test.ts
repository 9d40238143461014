import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { EnvoyConfigError, envoyIndex, findListener, loadEnvoyConfig, loadRouteConfiguration } from '../../../src/engine/envoy/config-dump.js'

const V3 = 'type.googleapis.com/envoy.admin.v3.'
const V2 = 'type.googleapis.com/envoy.admin.v2alpha.'
const listener = (name: string, port: number, extra: Record<string, unknown> = {}) => ({ name, address: { socket_address: { address: '0.0.0.0', port_value: port } }, filter_chains: [], ...extra })

describe('loadEnvoyConfig: dump shapes', () => {
  it.each([
    ['v3 static and dynamic listeners with their states', { configs: [{ '@type': `${V3}ListenersConfigDump`, static_listeners: [{ listener: listener('s', 15090) }], dynamic_listeners: [{ name: 'a', active_state: { listener: listener('a', 1) } }, { name: 'w', warming_state: { listener: listener('w', 2) } }, { name: 'd', draining_state: { listener: listener('d', 3) } }, { name: 'e', error_state: { details: 'x' } }] }] }, [['s', 'static'], ['a', 'active'], ['w', 'warming'], ['d', 'draining']]],
    ['old v2alpha dynamic_active/warming/draining_listeners', { configs: [{ '@type': `${V2}ListenersConfigDump`, dynamic_active_listeners: [{ listener: listener('a', 1) }], dynamic_warming_listeners: [{ listener: listener('w', 2) }], dynamic_draining_listeners: [{ listener: listener('d', 3) }] }] }, [['a', 'active'], ['w', 'warming'], ['d', 'draining']]],
    ['istioctl camelCase (dynamicListeners/activeState)', { configs: [{ '@type': `${V3}ListenersConfigDump`, dynamicListeners: [{ name: 'a', activeState: { listener: { name: 'a', address: { socketAddress: { address: '0.0.0.0', portValue: 1 } } } } }] }] }, [['a', 'active']]],
    ['a bare array of listeners (istioctl pc listener -o json)', [listener('a', 1), { name: 'b', address: { socketAddress: { address: '10.0.0.1', portValue: 80 } }, filterChains: [] }], [['a', 'active'], ['b', 'active']]],
  ])('%s', (_name, doc, expected) => {
    const model = loadEnvoyConfig({ configDump: doc })

    expect(model.listeners.map((l) => [l.name, l.state])).toEqual(expected)
  })

  it.each([
    ['use_original_dst true', { use_original_dst: true }, { useOriginalDst: true, bindToPort: true }],
    ['early v3 hidden_envoy_deprecated_use_original_dst', { hidden_envoy_deprecated_use_original_dst: true }, { useOriginalDst: true }],
    ['absent use_original_dst means false', {}, { useOriginalDst: false }],
    ['v3 bind_to_port false', { bind_to_port: false }, { bindToPort: false }],
    ['v2 deprecated_v1.bind_to_port false', { deprecated_v1: { bind_to_port: false } }, { bindToPort: false }],
    ['camelCase deprecatedV1.bindToPort false', { deprecatedV1: { bindToPort: false } }, { bindToPort: false }],
  ])('listener flag: %s', (_name, extra, expected) => {
    const model = loadEnvoyConfig({ configDump: [listener('l', 1, extra)] })

    expect(model.listeners[0]).toMatchObject(expected)
  })

  it('bare arrays are told apart by shape: listeners, route configs, clusters, load assignments', () => {
    const model = loadEnvoyConfig({
      configDump: [
        [listener('l', 1)],
        [{ name: '9080', virtualHosts: [] }],
        [{ name: 'c', type: 'EDS', edsClusterConfig: { serviceName: 'c' } }, { name: 'BlackHoleCluster', connectTimeout: '1s' }],
        [{ clusterName: 'c', endpoints: [{ lbEndpoints: [{ endpoint: { address: { socketAddress: { address: '10.0.0.1', portValue: 80 } } }, healthStatus: 'HEALTHY' }] }] }],
      ],
    })

    expect([model.listeners.length, model.routeConfigs.length, model.clusters.length, model.loadAssignments.length]).toEqual([1, 1, 2, 1])
    expect(model.clusters.map((c) => c.type)).toEqual(['EDS', 'STATIC'])
    expect(model.loadAssignments[0].endpoints[0].lbEndpoints[0]).toMatchObject({ ip: '10.0.0.1', port: 80, healthStatus: 'HEALTHY' })
  })

  it('old istioctl pc endpoint -o json (ClusterStatus entries) becomes /clusters host status', () => {
    const model = loadEnvoyConfig({ configDump: [{ name: 'c', hostStatuses: [{ address: { socketAddress: { address: '10.0.0.1', portValue: 80 } }, healthStatus: { edsHealthStatus: 'HEALTHY' } }] }] })

    expect(model.present.clusterStatuses).toBe(true)
    expect(model.clusterStatuses[0].hosts[0]).toMatchObject({ ip: '10.0.0.1', healthFlags: ['healthy'], source: { file: 'config_dump', pointer: '/0/hostStatuses/0' } })
  })

  it('camelCase keys are normalised once, but filter_metadata keys (data) are kept verbatim', () => {
    const model = loadEnvoyConfig({
      configDump: [{ clusterName: 'c', endpoints: [{ lbEndpoints: [{ endpoint: { address: { socketAddress: { address: '10.0.0.1', portValue: 80 } } }, metadata: { filterMetadata: { 'envoy.transport_socket_match': { tlsMode: 'istio' } } } }] }] }],
    })

    const la = model.loadAssignments[0]
    expect(la.source).toEqual({ file: 'config_dump', pointer: '/0' })
    expect(la.endpoints[0].lbEndpoints[0].source.pointer).toBe('/0/endpoints/0/lbEndpoints/0')
  })

  it('pointers point into the original document, with its original (camelCase) keys', () => {
    const model = loadEnvoyConfig({ configDump: { configs: [{ '@type': `${V2}ListenersConfigDump`, dynamicActiveListeners: [{ listener: { name: 'a', filterChains: [{ filters: [{ name: 'envoy.tcp_proxy', config: { stat_prefix: 'x', cluster: 'c' } }] }] } }] }] } })

    expect(model.listeners[0].filterChains[0].filters[0]).toMatchObject({ role: 'tcp_proxy', tcpProxy: { cluster: 'c' }, source: { pointer: '/configs/0/dynamicActiveListeners/0/listener/filterChains/0/filters/0' } })
  })

  it.each([
    ['v3 typed_config', { name: 'x', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy', stat_prefix: 's', cluster: 'c' } }, 'tcp_proxy'],
    ['v2 config Struct, identified by name', { name: 'envoy.tcp_proxy', config: { stat_prefix: 's', cluster: 'c' } }, 'tcp_proxy'],
    ['TypedStruct-wrapped (udpa)', { name: 'x', typed_config: { '@type': 'type.googleapis.com/udpa.type.v1.TypedStruct', type_url: 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy', value: { stat_prefix: 's', cluster: 'c' } } }, 'tcp_proxy'],
    ['TypedStruct-wrapped (xds)', { name: 'x', typed_config: { '@type': 'type.googleapis.com/xds.type.v3.TypedStruct', type_url: 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy', value: { stat_prefix: 's', cluster: 'c' } } }, 'tcp_proxy'],
    ['type URL wins over a misleading name', { name: 'envoy.tcp_proxy', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.network.redis_proxy.v3.RedisProxy' } }, 'other'],
  ])('network filter config: %s', (_name, filter, role) => {
    const model = loadEnvoyConfig({ configDump: [listener('l', 1, { filter_chains: [{ filters: [filter] }] })] })

    const f = model.listeners[0].filterChains[0].filters[0]
    expect(f.role).toBe(role)
    if (role === 'tcp_proxy') expect(f.tcpProxy?.cluster).toBe('c')
  })

  it.each([
    ['no type field is STATIC (proto3 default)', {}, { type: 'STATIC', lbPolicy: 'ROUND_ROBIN', healthyPanicThreshold: 50 }],
    ['healthy_panic_threshold {} is 0% (panic disabled)', { common_lb_config: { healthy_panic_threshold: {} } }, { healthyPanicThreshold: 0 }],
    ['healthy_panic_threshold {value: 20}', { common_lb_config: { healthy_panic_threshold: { value: 20 } } }, { healthyPanicThreshold: 20 }],
    ['cluster_type is an extension', { cluster_type: { name: 'envoy.clusters.aggregate', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.clusters.aggregate.v3.ClusterConfig' } } }, { type: 'extension', extensionType: 'envoy.extensions.clusters.aggregate.v3.ClusterConfig' }],
    ['v2 hosts become a load assignment', { hosts: [{ socket_address: { address: '127.0.0.1', port_value: 9080 } }] }, { loadAssignment: { endpoints: [{ lbEndpoints: [{ ip: '127.0.0.1', port: 9080 }] }] } }],
    ['DestinationRule provenance from istio metadata', { metadata: { filter_metadata: { istio: { config: '/apis/networking.istio.io/v1alpha3/namespaces/default/destination-rule/ratings' } } } }, { istioConfig: '/apis/networking.istio.io/v1alpha3/namespaces/default/destination-rule/ratings' }],
  ])('cluster: %s', (_name, extra, expected) => {
    const model = loadEnvoyConfig({ configDump: { configs: [{ '@type': `${V3}ClustersConfigDump`, static_clusters: [{ cluster: { name: 'c', connect_timeout: '1s', ...extra } }] }] } })

    expect(model.clusters[0]).toMatchObject(expected)
  })

  it('EndpointsConfigDump (?include_eds) fills load assignments', () => {
    const model = loadEnvoyConfig({ configDump: { configs: [{ '@type': `${V3}EndpointsConfigDump`, dynamic_endpoint_configs: [{ endpoint_config: { cluster_name: 'c', endpoints: [{ priority: 1, lb_endpoints: [{ endpoint: { address: { socket_address: { address: 'fd00::7', port_value: 9080 } } }, health_status: 'DRAINING' }] }] } }] }] } })

    expect(model.present.endpoints).toBe(true)
    expect(model.loadAssignments[0].endpoints[0]).toMatchObject({ priority: 1, lbEndpoints: [{ ip: 'fd00::7', healthStatus: 'DRAINING' }] })
  })

  it.each([
    ['v3 user_agent_build_version', { node: { user_agent_build_version: { version: { major_number: 1, minor_number: 30, patch: 2 } } } }, '1.30.2'],
    ['old build_version string', { node: { build_version: 'cd3fd800/1.12.0-dev/Clean/RELEASE/BoringSSL' } }, '1.12.0'],
    ['no version', { node: {} }, null],
  ])('bootstrap Envoy version: %s', (_name, bootstrap, version) => {
    const model = loadEnvoyConfig({ configDump: { configs: [{ '@type': `${V3}BootstrapConfigDump`, bootstrap }] } })

    expect(model.bootstrap?.envoyVersion).toBe(version)
  })

  it('a bare bootstrap (camelCase, not wrapped in configs) contributes its static resources', () => {
    const model = loadEnvoyConfig({ configDump: { bootstrap: { node: { id: 'n' }, staticResources: { listeners: [listener('0.0.0.0_15090', 15090)], clusters: [{ name: 'prometheus_stats' }] } } } })

    expect(model.listeners.map((l) => l.name)).toEqual(['0.0.0.0_15090'])
    expect(model.clusters.map((c) => c.name)).toEqual(['prometheus_stats'])
  })
})

describe('loadEnvoyConfig: errors name the file and the JSON pointer', () => {
  it.each([
    ['a string is not a config dump', 'hello', ''],
    ['configs must be an array', { configs: {} }, '/configs'],
    ['each configs entry must be an object', { configs: [1] }, '/configs/0'],
    ['an array element must be a resource', [[1]], '/0/0'],
  ])('%s', (_name, doc, pointer) => {
    let error: unknown
    try {
      loadEnvoyConfig({ configDump: doc })
    } catch (e) {
      error = e
    }

    expect(error).toBeInstanceOf(EnvoyConfigError)
    expect((error as EnvoyConfigError).file).toBe('config_dump')
    expect((error as EnvoyConfigError).pointer).toBe(pointer)
    expect((error as EnvoyConfigError).message).toMatch(/^config_dump at \//)
  })
})

describe('envoyIndex', () => {
  it('is built once per model and reused', () => {
    const model = loadEnvoyConfig({ configDump: [listener('a', 1)] })

    expect(envoyIndex(model)).toBe(envoyIndex(model))
  })

  it('indexes only serving listeners by address; IPv4-mapped IPv6 shares the IPv4 key', () => {
    const model = loadEnvoyConfig({ configDump: { configs: [{ '@type': `${V3}ListenersConfigDump`, dynamic_listeners: [{ active_state: { listener: { name: 'v4', address: { socket_address: { address: '::ffff:10.0.0.1', port_value: 80 } } } } }, { warming_state: { listener: listener('w', 80) } }] }] } })

    const index = envoyIndex(model)
    expect([...index.listenersByAddress.keys()]).toEqual(['10.0.0.1|80'])
    expect(index.listenersByName.get('w')?.[0].state).toBe('warming')
  })
})

describe('listeners and route configurations parsed on first use', () => {
  /** A raw resource whose `key` throws when read: reading it means the resource was parsed. */
  const unreadable = <T extends object>(raw: T, key: string): T => Object.defineProperty(raw, key, { enumerable: true, get: () => { throw new Error(`${key} read`) } })
  type Dump = { configs: [{ '@type': string; dynamicListeners: Array<{ name: string; warmingState?: { listener: object }; activeState?: { listener: object } }> }, { '@type': string; dynamicRouteConfigs: Array<{ routeConfig: object }> }] }
  const camelDump = (): Dump => ({
    configs: [
      {
        '@type': `${V3}ListenersConfigDump`,
        dynamicListeners: [
          { name: 'w', warmingState: { listener: { name: 'w', address: { socketAddress: { address: '10.0.0.2', portValue: 80 } } } } },
          { name: 'a', activeState: { listener: { name: 'a', address: { socketAddress: { address: '::ffff:10.0.0.1', portValue: 80 } }, additionalAddresses: [{ address: { socketAddress: { address: '10.0.0.1', portValue: 81 } } }], deprecatedV1: { bindToPort: false }, useOriginalDst: true } } },
        ],
      },
      { '@type': `${V3}RoutesConfigDump`, dynamicRouteConfigs: [{ routeConfig: { name: '80', virtualHosts: [{ name: 'v', domains: ['*'] }] } }] },
    ],
  })

  it('indexes listeners and route configurations by the fields read beforehand, and lists the same objects', () => {
    const model = loadEnvoyConfig({ configDump: camelDump() })
    const index = envoyIndex(model)

    const a = index.listenersByAddress.get('10.0.0.1|81')?.[0]
    expect(a).toMatchObject({ name: 'a', bindToPort: false, useOriginalDst: true, source: { pointer: '/configs/0/dynamicListeners/1/activeState/listener' } })
    expect([...index.listenersByAddress.keys()]).toEqual(['10.0.0.1|80', '10.0.0.1|81'])
    expect(index.listenersByPort.get(80)?.map((l) => l.name)).toEqual(['w', 'a'])
    expect(index.routeConfigsByName.get('80')?.source.pointer).toBe('/configs/1/dynamicRouteConfigs/0/routeConfig')
    expect(model.listeners[1]).toBe(a)
    expect(model.routeConfigs[0]).toBe(index.routeConfigsByName.get('80'))
    expect(model.listeners).toEqual(loadEnvoyConfig({ configDump: camelDump() }).listeners)
  })

  it('parses only the listener and route configuration looked up', () => {
    const dump = camelDump()
    // A snake_case listener: its head is read without copying (reading) its other fields.
    dump.configs[0].dynamicListeners[0].warmingState!.listener = unreadable(listener('w', 80), 'filter_chains')
    dump.configs[1].dynamicRouteConfigs.push({ routeConfig: unreadable({ name: 'other', virtualHosts: [] }, 'validateClusters') })
    const model = loadEnvoyConfig({ configDump: dump })

    expect(findListener(model, (l) => l.useOriginalDst)?.name).toBe('a')
    expect(envoyIndex(model).routeConfigsByName.get('80')?.name).toBe('80')
    expect(envoyIndex(model).routeConfigsByName.has('other')).toBe(true)
    expect(() => model.listeners).toThrow('filter_chains read')
  })

  it('finds the first listener in config order, also once the listeners were listed', () => {
    const model = loadEnvoyConfig({ configDump: [listener('x', 1), listener('y', 1)] })

    expect(findListener(model, (l) => l.address?.port === 1)?.name).toBe('x')
    expect(model.listeners).toHaveLength(2)
    expect(findListener(model, (l) => l.name === 'y')).toBe(model.listeners[1])
    expect(findListener(model, (l) => l.name === 'z')).toBeNull()
  })
})

describe('loadRouteConfiguration', () => {
  it('parses a bare RouteConfiguration with lower-cased domains and pointers', () => {
    const rc = loadRouteConfiguration({ name: 'r', virtual_hosts: [{ name: 'v', domains: ['Foo.COM'], routes: [{ match: { prefix: '/' }, route: { cluster: 'c' } }] }] })

    expect(rc.virtualHosts[0].domains).toEqual(['foo.com'])
    expect(rc.virtualHosts[0].routes[0].source.pointer).toBe('/virtual_hosts/0/routes/0')
  })
})

describe('clusters and load assignments looked up in place', () => {
  // Entries as dumps hold them: snake_case and camelCase wrappers and fields, both spellings in either order,
  // duplicates across static/active/warming lists, numeric names, holes that are not resources.
  const name = fc.constantFrom('a', 'b', 'outbound|80||c', '7', '')
  const clusterEntry = fc.oneof(
    name.map((n) => ({ cluster: { name: n, type: 'EDS' } })),
    fc.constant({ cluster: { name: 7, type: 'STATIC' } }),
    fc.constant({ cluster: { type: 'STATIC' } }),
    fc.constant({ version_info: 'no cluster' }),
    fc.constant('not an entry'),
  )
  const laEntry = fc.oneof(
    name.map((n) => ({ endpoint_config: { cluster_name: n } })),
    name.map((n) => ({ endpointConfig: { clusterName: n, endpoints: [] } })),
    fc.tuple(name, name).map(([x, y]) => ({ endpointConfig: { clusterName: x, cluster_name: y } })),
    fc.tuple(name, name).map(([x, y]) => ({ endpoint_config: { cluster_name: x }, endpointConfig: { clusterName: y } })),
    fc.tuple(name, name).map(([x, y]) => ({ endpointConfig: { clusterName: x }, endpoint_config: { cluster_name: y } })),
    fc.constant(null),
  )
  const dump = fc.record({
    static_clusters: fc.array(clusterEntry, { maxLength: 4 }),
    dynamic_active_clusters: fc.array(clusterEntry, { maxLength: 4 }),
    dynamic_warming_clusters: fc.array(clusterEntry, { maxLength: 4 }),
    dynamic_endpoint_configs: fc.array(laEntry, { maxLength: 5 }),
    bare: fc.array(fc.oneof(name.map((n) => ({ name: n, connect_timeout: '1s' })), name.map((n) => ({ clusterName: n, endpoints: [] }))), { maxLength: 3 }),
  })
  const build = (d: { static_clusters: unknown[]; dynamic_active_clusters: unknown[]; dynamic_warming_clusters: unknown[]; dynamic_endpoint_configs: unknown[]; bare: unknown[] }) =>
    loadEnvoyConfig({
      configDump: [
        {
          configs: [
            { '@type': `${V3}ClustersConfigDump`, static_clusters: d.static_clusters, dynamic_active_clusters: d.dynamic_active_clusters, dynamic_warming_clusters: d.dynamic_warming_clusters },
            { '@type': `${V3}EndpointsConfigDump`, dynamic_endpoint_configs: d.dynamic_endpoint_configs },
          ],
        },
        ...d.bare,
      ],
    })
  const names = ['a', 'b', 'outbound|80||c', '7', '', 'missing']

  it('finds what the name tables find (active/static over warming, the last load assignment), as the same objects', () => {
    fc.assert(
      fc.property(dump, (d) => {
        const tables = envoyIndex(build(d))
        void tables.clustersByName.keys()
        void tables.loadAssignmentsByCluster.keys()
        for (const n of names) {
          // A fresh model per name: its first lookups read the dump in place.
          const model = build(d)
          const scanned = envoyIndex(model)
          const c = scanned.clustersByName.get(n)
          const la = scanned.loadAssignmentsByCluster.get(n)
          expect([c?.source.pointer, c?.state, la?.source.pointer]).toEqual([tables.clustersByName.get(n)?.source.pointer, tables.clustersByName.get(n)?.state, tables.loadAssignmentsByCluster.get(n)?.source.pointer])
          expect(c === undefined || model.clusters.includes(c)).toBe(true)
          expect(la === undefined || model.loadAssignments.includes(la)).toBe(true)
        }
      }),
    )
  })

  it('parses only the cluster looked up, and builds the table from the third lookup on', () => {
    const reads: string[] = []
    const watched = (n: string) => Object.defineProperty({ name: n }, 'type', { enumerable: true, get: () => (reads.push(n), 'STATIC') })
    const model = loadEnvoyConfig({ configDump: { configs: [{ '@type': `${V3}ClustersConfigDump`, dynamic_active_clusters: ['x', 'y', 'z'].map((n) => ({ cluster: watched(n) })) }] } })
    const index = envoyIndex(model)

    expect(index.clustersByName.get('y')?.source.pointer).toBe('/configs/0/dynamic_active_clusters/1/cluster')
    expect(index.clustersByName.has('nope')).toBe(false)
    expect(reads).toEqual(['y'])
    expect(index.clustersByName.get('z')?.name).toBe('z')
    expect([...index.clustersByName.keys()]).toEqual(['x', 'y', 'z'])
    expect(reads).toEqual(['y', 'z'])
    expect(model.clusters.map((c) => c.name)).toEqual(['x', 'y', 'z'])
    expect(reads).toEqual(['y', 'z', 'x'])
  })
})
