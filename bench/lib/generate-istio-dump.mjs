// Generates a realistic Istio 1.22 sidecar `/config_dump?include_eds` (Envoy v3, snake_case) for N services.
// Deterministic for a given { services, seed }. Used by bench/envoy.bench.mjs and by tests.
//
// Shape (as istiod 1.22 pushes it to a sidecar with no Sidecar resource):
//   BootstrapConfigDump → ClustersConfigDump → EndpointsConfigDump → ListenersConfigDump → RoutesConfigDump → SecretsConfigDump
//   - every service has HTTP port 8080: one virtual host in the shared RDS route config "8080" (listener 0.0.0.0_8080),
//     domains fqdn, name.ns.svc, name.ns, ClusterIP (and the short name for services in the proxy's namespace);
//     about a third carry VirtualService routes (header, prefix, regex, weighted subsets); `allow_any` is last
//   - about a fifth also have a TCP port: listener <VIP>_<port> with tcp_proxy
//   - EDS clusters with transport_socket_matches, 2–5 endpoints each
//   - virtualOutbound (15001), virtualInbound (15006) for the pod's own port 8080

const VERSION = '2024-06-12T09:14:03Z/31'
const UPDATED = '2024-06-12T09:14:03.886Z'
const T = 'type.googleapis.com/'
const WORDS = [
  'orders', 'payments', 'catalog', 'cart', 'checkout', 'users', 'auth', 'search', 'reviews', 'ratings', 'details', 'inventory',
  'shipping', 'billing', 'notify', 'ledger', 'pricing', 'profile', 'session', 'media', 'reports', 'gateway', 'quotes', 'audit',
]
const NS_WORDS = ['shop', 'platform', 'data', 'identity', 'media', 'finance', 'ops', 'growth']
const TCP_PORTS = [5432, 6379, 9000, 27017, 3306]

/** Deterministic PRNG (mulberry32). */
function rng(seed) {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

function ipv4(n) {
  return `${(n >>> 24) & 255}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`
}

/** The services a dump of { services, seed } contains: name, namespace, fqdn, ClusterIP, TCP port, VirtualService kind. */
export function generatedServices({ services: n, seed = 1 }) {
  const rand = rng(seed)
  const nsCount = Math.max(1, Math.ceil(n / 40))
  const out = []
  for (let i = 0; i < n; i++) {
    const j = i % nsCount
    const namespace = `${NS_WORDS[j % NS_WORDS.length]}-${j}`
    const name = `${WORDS[i % WORDS.length]}-${i.toString(36)}`
    const r = rand()
    const vs = r < 0.1 ? 'header' : r < 0.2 ? 'prefix-weighted' : r < 0.3 ? 'regex' : null
    const tcpPort = rand() < 0.2 ? TCP_PORTS[i % TCP_PORTS.length] : null
    const endpoints = 2 + Math.floor(rand() * 4)
    out.push({
      name,
      namespace,
      fqdn: `${name}.${namespace}.svc.cluster.local`,
      // 10.96.0.0/12, spread so that neighbours do not share a /24.
      clusterIP: ipv4(((10 << 24) | (96 << 16)) + 300 + i * 37),
      tcpPort,
      vs,
      endpoints,
      endpointBase: ((10 << 24) | (244 << 16)) + 512 + i * 8,
    })
  }
  return out
}

const CIRCUIT_BREAKERS = () => ({ thresholds: [{ max_connections: 4294967295, max_pending_requests: 4294967295, max_requests: 4294967295, max_retries: 4294967295, track_remaining: true }] })
const MX_FILTER = () => ({ name: 'istio.metadata_exchange', typed_config: { '@type': `${T}envoy.tcp.metadataexchange.config.MetadataExchange`, protocol: 'istio-peer-exchange', enable_discovery: true } })
const STATS_FILTER = () => ({ name: 'istio.stats', typed_config: { '@type': `${T}stats.PluginConfig` } })
const ADS = () => ({ ads: {}, initial_fetch_timeout: '0s', resource_api_version: 'V3' })
const HTTP_OPTIONS = () => ({
  'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
    '@type': `${T}envoy.extensions.upstreams.http.v3.HttpProtocolOptions`,
    common_http_protocol_options: { idle_timeout: '3600s' },
    use_downstream_protocol_config: { http_protocol_options: {}, http2_protocol_options: {} },
  },
})
const SDS = (name) => ({
  name,
  sds_config: {
    api_config_source: { api_type: 'GRPC', grpc_services: [{ envoy_grpc: { cluster_name: 'sds-grpc' } }], set_node_on_first_message_only: true, transport_api_version: 'V3' },
    initial_fetch_timeout: '0s',
    resource_api_version: 'V3',
  },
})

function edsCluster(name, svc, port, sa) {
  return {
    version_info: VERSION,
    cluster: {
      '@type': `${T}envoy.config.cluster.v3.Cluster`,
      name,
      type: 'EDS',
      eds_cluster_config: { eds_config: ADS(), service_name: name },
      connect_timeout: '10s',
      lb_policy: 'LEAST_REQUEST',
      circuit_breakers: CIRCUIT_BREAKERS(),
      metadata: { filter_metadata: { istio: { services: [{ host: svc.fqdn, name: svc.name, namespace: svc.namespace }], default_original_port: port } } },
      filters: [MX_FILTER()],
      transport_socket_matches: [
        {
          name: 'tlsMode-istio',
          match: { tlsMode: 'istio' },
          transport_socket: {
            name: 'envoy.transport_sockets.tls',
            typed_config: {
              '@type': `${T}envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext`,
              common_tls_context: {
                tls_params: { tls_minimum_protocol_version: 'TLSv1_2', tls_maximum_protocol_version: 'TLSv1_3' },
                alpn_protocols: ['istio-peer-exchange', 'istio'],
                tls_certificate_sds_secret_configs: [SDS('default')],
                combined_validation_context: {
                  default_validation_context: { match_subject_alt_names: [{ exact: `spiffe://cluster.local/ns/${svc.namespace}/sa/${sa}` }] },
                  validation_context_sds_secret_config: SDS('ROOTCA'),
                },
              },
              sni: name.replace(/^outbound\|(\d+)\|([^|]*)\|/, 'outbound_.$1_.$2_.'),
            },
          },
        },
        { name: 'tlsMode-disabled', match: {}, transport_socket: { name: 'envoy.transport_sockets.raw_buffer', typed_config: { '@type': `${T}envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer` } } },
      ],
      ...(port === 8080 ? { typed_extension_protocol_options: HTTP_OPTIONS() } : {}),
    },
    last_updated: UPDATED,
  }
}

function loadAssignment(name, svc, port, from, count, version) {
  const lb = []
  for (let k = 0; k < count; k++) {
    lb.push({
      endpoint: { address: { socket_address: { address: ipv4(svc.endpointBase + from + k), port_value: port } }, health_check_config: {} },
      health_status: 'HEALTHY',
      metadata: {
        filter_metadata: {
          'envoy.transport_socket_match': { tlsMode: 'istio' },
          istio: { workload: `${svc.name}-${version};${svc.namespace};${svc.name};${version};Kubernetes` },
        },
      },
      load_balancing_weight: 1,
    })
  }
  return {
    version_info: VERSION,
    endpoint_config: {
      '@type': `${T}envoy.config.endpoint.v3.ClusterLoadAssignment`,
      cluster_name: name,
      endpoints: [{ locality: { region: 'us-east1', zone: `us-east1-${'bcd'[svc.endpointBase % 3]}` }, lb_endpoints: lb, load_balancing_weight: count }],
      policy: { overprovisioning_factor: 140 },
    },
    last_updated: UPDATED,
  }
}

const RETRY = () => ({
  retry_on: 'connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes',
  num_retries: 2,
  retry_host_predicate: [{ name: 'envoy.retry_host_predicates.previous_hosts', typed_config: { '@type': `${T}envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate` } }],
  host_selection_retry_max_attempts: '5',
  retriable_status_codes: [503],
})

function routeAction(cluster) {
  return { cluster, timeout: '0s', retry_policy: RETRY(), max_stream_duration: { max_stream_duration: '0s', grpc_timeout_header_max: '0s' } }
}

function vsRoute(svc, name, match, action) {
  return {
    match: { ...match, case_sensitive: true },
    route: action,
    metadata: { filter_metadata: { istio: { config: `/apis/networking.istio.io/v1alpha3/namespaces/${svc.namespace}/virtual-service/${svc.name}` } } },
    decorator: { operation: `${svc.fqdn}:8080/*` },
    name,
  }
}

function virtualHost(svc, proxyNamespace) {
  const c = (subset) => `outbound|8080|${subset}|${svc.fqdn}`
  const domains = [svc.fqdn]
  if (svc.namespace === proxyNamespace) domains.push(svc.name)
  domains.push(`${svc.name}.${svc.namespace}.svc`, `${svc.name}.${svc.namespace}`, svc.clusterIP)
  let routes
  if (svc.vs === 'header') {
    routes = [
      vsRoute(svc, `${svc.name}-canary-user`, { prefix: '/', headers: [{ name: 'end-user', string_match: { exact: 'jason' } }] }, routeAction(c('v2'))),
      vsRoute(svc, `${svc.name}-beta`, { prefix: '/', headers: [{ name: 'x-beta', present_match: true }, { name: ':method', string_match: { exact: 'POST' }, invert_match: true }] }, routeAction(c('v2'))),
      vsRoute(svc, `${svc.name}-default`, { prefix: '/' }, routeAction(c(''))),
    ]
  } else if (svc.vs === 'prefix-weighted') {
    const weighted = routeAction(undefined)
    delete weighted.cluster
    weighted.weighted_clusters = { clusters: [{ name: c('v1'), weight: 90 }, { name: c('v2'), weight: 10 }] }
    routes = [
      vsRoute(svc, `${svc.name}-api-v2`, { prefix: '/api/v2/' }, routeAction(c('v2'))),
      vsRoute(svc, `${svc.name}-health`, { path: '/healthz' }, routeAction(c('v1'))),
      vsRoute(svc, `${svc.name}-split`, { prefix: '/' }, weighted),
    ]
  } else if (svc.vs === 'regex') {
    routes = [
      vsRoute(svc, `${svc.name}-items`, { safe_regex: { regex: '/items/[0-9]+(/.*)?' } }, routeAction(c('v1'))),
      vsRoute(svc, `${svc.name}-legacy`, { prefix: '/legacy', query_parameters: [{ name: 'v', string_match: { exact: '1' } }] }, { ...routeAction(c('v1')), prefix_rewrite: '/' }),
      vsRoute(svc, `${svc.name}-default`, { prefix: '/' }, routeAction(c(''))),
    ]
  } else {
    routes = [{ match: { prefix: '/' }, route: routeAction(c('')), decorator: { operation: `${svc.fqdn}:8080/*` }, name: 'default' }]
  }
  return { name: `${svc.fqdn}:8080`, domains, routes, include_request_attempt_count: true }
}

const HTTP_FILTERS_OUTBOUND = () => [
  {
    name: 'istio.metadata_exchange',
    typed_config: {
      '@type': `${T}udpa.type.v1.TypedStruct`,
      type_url: `${T}io.istio.http.peer_metadata.Config`,
      value: { upstream_discovery: [{ istio_headers: {} }, { workload_discovery: {} }], upstream_propagation: [{ istio_headers: {} }] },
    },
  },
  { name: 'envoy.filters.http.grpc_stats', typed_config: { '@type': `${T}envoy.extensions.filters.http.grpc_stats.v3.FilterConfig`, emit_filter_state: true, stats_for_all_methods: false } },
  {
    name: 'istio.alpn',
    typed_config: {
      '@type': `${T}istio.envoy.config.filter.http.alpn.v2alpha1.FilterConfig`,
      alpn_override: [
        { alpn_override: ['istio-http/1.0', 'istio', 'http/1.0'] },
        { upstream_protocol: 'HTTP11', alpn_override: ['istio-http/1.1', 'istio', 'http/1.1'] },
        { upstream_protocol: 'HTTP2', alpn_override: ['istio-h2', 'istio', 'h2'] },
      ],
    },
  },
  { name: 'envoy.filters.http.fault', typed_config: { '@type': `${T}envoy.extensions.filters.http.fault.v3.HTTPFault` } },
  { name: 'envoy.filters.http.cors', typed_config: { '@type': `${T}envoy.extensions.filters.http.cors.v3.Cors` } },
  STATS_FILTER(),
  { name: 'envoy.filters.http.router', typed_config: { '@type': `${T}envoy.extensions.filters.http.router.v3.Router` } },
]

function hcm(statPrefix, routeSource, httpFilters) {
  return {
    name: 'envoy.filters.network.http_connection_manager',
    typed_config: {
      '@type': `${T}envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager`,
      stat_prefix: statPrefix,
      ...routeSource,
      http_filters: httpFilters,
      use_remote_address: false,
      upgrade_configs: [{ upgrade_type: 'websocket' }],
      stream_idle_timeout: '0s',
      normalize_path: true,
      request_id_extension: { typed_config: { '@type': `${T}envoy.extensions.request_id.uuid.v3.UuidRequestIdConfig`, use_request_id_for_trace_sampling: true } },
      path_with_escaped_slashes_action: 'KEEP_UNCHANGED',
    },
  }
}

function tcpProxy(cluster, statPrefix = cluster) {
  return { name: 'envoy.filters.network.tcp_proxy', typed_config: { '@type': `${T}envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy`, stat_prefix: statPrefix, cluster } }
}

function dynamicListener(listener) {
  return { name: listener.name, active_state: { version_info: VERSION, listener: { '@type': `${T}envoy.config.listener.v3.Listener`, ...listener }, last_updated: UPDATED } }
}

function sockAddr(address, port) {
  return { socket_address: { address, port_value: port } }
}

function outboundHttpListener() {
  return dynamicListener({
    name: '0.0.0.0_8080',
    address: sockAddr('0.0.0.0', 8080),
    filter_chains: [
      {
        filter_chain_match: { transport_protocol: 'raw_buffer', application_protocols: ['http/1.1', 'h2c'] },
        filters: [hcm('outbound_0.0.0.0_8080', { rds: { config_source: ADS(), route_config_name: '8080' } }, HTTP_FILTERS_OUTBOUND())],
      },
    ],
    default_filter_chain: { filter_chain_match: {}, filters: [STATS_FILTER(), tcpProxy('PassthroughCluster')], name: 'PassthroughFilterChain' },
    listener_filters: [
      { name: 'envoy.filters.listener.tls_inspector', typed_config: { '@type': `${T}envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector` } },
      { name: 'envoy.filters.listener.http_inspector', typed_config: { '@type': `${T}envoy.extensions.filters.listener.http_inspector.v3.HttpInspector` } },
    ],
    listener_filters_timeout: '0s',
    traffic_direction: 'OUTBOUND',
    continue_on_listener_filters_timeout: true,
    bind_to_port: false,
  })
}

function tcpListener(svc) {
  const cluster = `outbound|${svc.tcpPort}||${svc.fqdn}`
  return dynamicListener({
    name: `${svc.clusterIP}_${svc.tcpPort}`,
    address: sockAddr(svc.clusterIP, svc.tcpPort),
    filter_chains: [{ filters: [STATS_FILTER(), tcpProxy(cluster)] }],
    traffic_direction: 'OUTBOUND',
    bind_to_port: false,
  })
}

function virtualOutbound() {
  return dynamicListener({
    name: 'virtualOutbound',
    address: sockAddr('0.0.0.0', 15001),
    filter_chains: [
      { filter_chain_match: { destination_port: 15001 }, filters: [STATS_FILTER(), tcpProxy('BlackHoleCluster')], name: 'virtualOutbound-blackhole' },
      { filters: [STATS_FILTER(), tcpProxy('PassthroughCluster')], name: 'virtualOutbound-catchall-tcp' },
    ],
    use_original_dst: true,
    traffic_direction: 'OUTBOUND',
  })
}

function virtualInbound(self) {
  const inboundHcm = () =>
    hcm(
      'inbound_0.0.0.0_8080',
      {
        route_config: {
          name: 'inbound|8080||',
          virtual_hosts: [
            {
              name: 'inbound|http|8080',
              domains: ['*'],
              routes: [{ match: { prefix: '/' }, route: { cluster: 'inbound|8080||', timeout: '0s', max_stream_duration: { max_stream_duration: '0s', grpc_timeout_header_max: '0s' } }, decorator: { operation: `${self.fqdn}:8080/*` }, name: 'default' }],
            },
          ],
          validate_clusters: false,
        },
      },
      [
        { name: 'envoy.filters.http.fault', typed_config: { '@type': `${T}envoy.extensions.filters.http.fault.v3.HTTPFault` } },
        { name: 'envoy.filters.http.cors', typed_config: { '@type': `${T}envoy.extensions.filters.http.cors.v3.Cors` } },
        { name: 'istio.stats', typed_config: { '@type': `${T}stats.PluginConfig`, disable_host_header_fallback: true } },
        { name: 'envoy.filters.http.router', typed_config: { '@type': `${T}envoy.extensions.filters.http.router.v3.Router` } },
      ],
    )
  const downstreamTls = () => ({
    name: 'envoy.transport_sockets.tls',
    typed_config: {
      '@type': `${T}envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext`,
      common_tls_context: {
        tls_params: { tls_minimum_protocol_version: 'TLSv1_2', tls_maximum_protocol_version: 'TLSv1_3' },
        alpn_protocols: ['h2', 'http/1.1'],
        tls_certificate_sds_secret_configs: [SDS('default')],
        combined_validation_context: { default_validation_context: { match_subject_alt_names: [{ prefix: 'spiffe://cluster.local/' }] }, validation_context_sds_secret_config: SDS('ROOTCA') },
      },
      require_client_certificate: true,
    },
  })
  const authn = () => ({ name: 'istio_authn', typed_config: { '@type': `${T}udpa.type.v1.TypedStruct`, type_url: `${T}io.istio.network.authn.Config` } })
  const all = [{ address_prefix: '0.0.0.0', prefix_len: 0 }]
  return dynamicListener({
    name: 'virtualInbound',
    address: sockAddr('0.0.0.0', 15006),
    filter_chains: [
      { filter_chain_match: { destination_port: 15006 }, filters: [STATS_FILTER(), tcpProxy('BlackHoleCluster')], name: 'virtualInbound-blackhole' },
      { filter_chain_match: { prefix_ranges: all, transport_protocol: 'tls', application_protocols: ['istio-peer-exchange', 'istio'] }, filters: [authn(), MX_FILTER(), tcpProxy('InboundPassthroughClusterIpv4')], transport_socket: downstreamTls(), name: 'virtualInbound' },
      { filter_chain_match: { prefix_ranges: all, transport_protocol: 'raw_buffer' }, filters: [authn(), tcpProxy('InboundPassthroughClusterIpv4')], name: 'virtualInbound' },
      { filter_chain_match: { destination_port: 8080, transport_protocol: 'tls', application_protocols: ['istio', 'istio-peer-exchange', 'istio-http/1.0', 'istio-http/1.1', 'istio-h2'] }, filters: [authn(), inboundHcm()], transport_socket: downstreamTls(), name: '0.0.0.0_8080' },
      { filter_chain_match: { destination_port: 8080, transport_protocol: 'raw_buffer' }, filters: [authn(), inboundHcm()], name: '0.0.0.0_8080' },
    ],
    listener_filters: [
      { name: 'envoy.filters.listener.original_dst', typed_config: { '@type': `${T}envoy.extensions.filters.listener.original_dst.v3.OriginalDst` } },
      { name: 'envoy.filters.listener.tls_inspector', typed_config: { '@type': `${T}envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector` }, filter_disabled: { destination_port_range: { start: 15006, end: 15007 } } },
      {
        name: 'envoy.filters.listener.http_inspector',
        typed_config: { '@type': `${T}envoy.extensions.filters.listener.http_inspector.v3.HttpInspector` },
        filter_disabled: { or_match: { rules: [{ destination_port_range: { start: 8080, end: 8081 } }, { destination_port_range: { start: 15006, end: 15007 } }] } },
      },
    ],
    listener_filters_timeout: '0s',
    traffic_direction: 'INBOUND',
    continue_on_listener_filters_timeout: true,
  })
}

function staticCluster(name, type, extra = {}) {
  return { version_info: VERSION, cluster: { '@type': `${T}envoy.config.cluster.v3.Cluster`, name, type, connect_timeout: '10s', ...extra }, last_updated: UPDATED }
}

function bootstrap(pod) {
  const pipe = (path) => ({ pipe: { path } })
  return {
    '@type': `${T}envoy.admin.v3.BootstrapConfigDump`,
    bootstrap: {
      node: {
        id: `sidecar~${pod.ip}~${pod.name}.${pod.namespace}~${pod.namespace}.svc.cluster.local`,
        cluster: `${pod.app}.${pod.namespace}`,
        metadata: { ISTIO_VERSION: '1.22.1', NAMESPACE: pod.namespace, NAME: pod.name, CLUSTER_ID: 'Kubernetes', INTERCEPTION_MODE: 'REDIRECT', MESH_ID: 'cluster.local', INSTANCE_IPS: pod.ip, LABELS: { app: pod.app, version: 'v1' } },
        locality: { region: 'us-east1', zone: 'us-east1-b' },
        user_agent_name: 'envoy',
        user_agent_build_version: { version: { major_number: 1, minor_number: 30, patch: 2 }, metadata: { 'build.type': 'RELEASE', 'revision.sha': '0000000000000000000000000000000000000000', 'revision.status': 'Clean', 'ssl.version': 'BoringSSL' } },
      },
      static_resources: {
        listeners: [
          { address: sockAddr('0.0.0.0', 15090), filter_chains: [{ filters: [hcm('stats', { route_config: { virtual_hosts: [{ name: 'backend', domains: ['*'], routes: [{ match: { prefix: '/stats/prometheus' }, route: { cluster: 'prometheus_stats' } }] }] } }, [{ name: 'envoy.filters.http.router', typed_config: { '@type': `${T}envoy.extensions.filters.http.router.v3.Router` } }])] }] },
          { address: sockAddr('0.0.0.0', 15021), filter_chains: [{ filters: [hcm('agent', { route_config: { virtual_hosts: [{ name: 'backend', domains: ['*'], routes: [{ match: { prefix: '/healthz/ready' }, route: { cluster: 'agent' } }] }] } }, [{ name: 'envoy.filters.http.router', typed_config: { '@type': `${T}envoy.extensions.filters.http.router.v3.Router` } }])] }] },
        ],
        clusters: [
          { name: 'prometheus_stats', type: 'STATIC', connect_timeout: '0.250s', lb_policy: 'ROUND_ROBIN', load_assignment: { cluster_name: 'prometheus_stats', endpoints: [{ lb_endpoints: [{ endpoint: { address: sockAddr('127.0.0.1', 15000) } }] }] } },
          { name: 'agent', type: 'STATIC', connect_timeout: '0.250s', lb_policy: 'ROUND_ROBIN', load_assignment: { cluster_name: 'agent', endpoints: [{ lb_endpoints: [{ endpoint: { address: sockAddr('127.0.0.1', 15020) } }] }] } },
          { name: 'sds-grpc', type: 'STATIC', connect_timeout: '1s', lb_policy: 'ROUND_ROBIN', load_assignment: { cluster_name: 'sds-grpc', endpoints: [{ lb_endpoints: [{ endpoint: { address: pipe('./var/run/secrets/workload-spiffe-uds/socket') } }] }] } },
          { name: 'xds-grpc', type: 'STATIC', connect_timeout: '1s', lb_policy: 'ROUND_ROBIN', load_assignment: { cluster_name: 'xds-grpc', endpoints: [{ lb_endpoints: [{ endpoint: { address: pipe('./etc/istio/proxy/XDS') } }] }] } },
        ],
      },
      dynamic_resources: {
        lds_config: ADS(),
        cds_config: ADS(),
        ads_config: { api_type: 'DELTA_GRPC', grpc_services: [{ envoy_grpc: { cluster_name: 'xds-grpc' } }], set_node_on_first_message_only: true, transport_api_version: 'V3' },
      },
      admin: { address: sockAddr('127.0.0.1', 15000), profile_path: '/var/lib/istio/data/envoy.prof' },
      stats_config: { use_all_default_tags: false, stats_matcher: { inclusion_list: { patterns: [{ prefix: 'reporter=' }, { prefix: 'cluster.outbound' }, { prefix: 'listener' }, { prefix: 'http.' }] } } },
    },
    last_updated: UPDATED,
  }
}

/**
 * The sidecar pod whose dump this is: the first generated service's namespace, IP 10.244.0.10.
 * Its own service (the first one) is what virtualInbound serves on 8080.
 */
export function generatedPod({ services: n, seed = 1 }) {
  const self = generatedServices({ services: Math.min(n, 1), seed })[0]
  return { name: `${self.name}-v1-7d9f8c6b5-x2k4q`, namespace: self.namespace, ip: '10.244.0.10', app: self.name, fqdn: self.fqdn }
}

/** A realistic Istio 1.22 sidecar `/config_dump?include_eds` object for `services` services, deterministic for `seed`. */
export function generateIstioDump({ services: n, seed = 1 }) {
  const svcs = generatedServices({ services: n, seed })
  const pod = generatedPod({ services: n, seed })
  const clusters = []
  const assignments = []
  const tcpListeners = []
  const vhosts = []
  for (const svc of svcs) {
    const sa = `${svc.name}-sa`
    const main = `outbound|8080||${svc.fqdn}`
    clusters.push(edsCluster(main, svc, 8080, sa))
    assignments.push(loadAssignment(main, svc, 8080, 0, svc.endpoints, 'v1'))
    if (svc.vs !== null) {
      const half = Math.max(1, Math.floor(svc.endpoints / 2))
      for (const [subset, from, count] of [['v1', 0, half], ['v2', half, svc.endpoints - half]]) {
        const name = `outbound|8080|${subset}|${svc.fqdn}`
        clusters.push(edsCluster(name, svc, 8080, sa))
        assignments.push(loadAssignment(name, svc, 8080, from, Math.max(1, count), subset))
      }
    }
    if (svc.tcpPort !== null) {
      const name = `outbound|${svc.tcpPort}||${svc.fqdn}`
      clusters.push(edsCluster(name, svc, svc.tcpPort, sa))
      assignments.push(loadAssignment(name, svc, svc.tcpPort, 0, svc.endpoints, 'v1'))
      tcpListeners.push(tcpListener(svc))
    }
    vhosts.push(virtualHost(svc, pod.namespace))
  }
  vhosts.push({ name: 'allow_any', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'PassthroughCluster', timeout: '0s', max_grpc_timeout: '0s' }, name: 'allow_any' }], include_request_attempt_count: true })

  const originalDst = (name, extra = {}) =>
    staticCluster(name, 'ORIGINAL_DST', { lb_policy: 'CLUSTER_PROVIDED', circuit_breakers: CIRCUIT_BREAKERS(), ...extra, typed_extension_protocol_options: HTTP_OPTIONS() })
  clusters.push(
    originalDst('inbound|8080||', { cleanup_interval: '60s', upstream_bind_config: { source_address: sockAddr('127.0.0.6', 0).socket_address }, metadata: { filter_metadata: { istio: { services: [{ host: pod.fqdn, name: pod.app, namespace: pod.namespace }] } } } }),
    staticCluster('BlackHoleCluster', 'STATIC', { load_assignment: { cluster_name: 'BlackHoleCluster' } }),
    originalDst('InboundPassthroughClusterIpv4', { upstream_bind_config: { source_address: sockAddr('127.0.0.6', 0).socket_address }, filters: [MX_FILTER()] }),
    originalDst('PassthroughCluster', { filters: [MX_FILTER()] }),
  )

  const boot = bootstrap(pod)
  return {
    configs: [
      boot,
      {
        '@type': `${T}envoy.admin.v3.ClustersConfigDump`,
        version_info: VERSION,
        static_clusters: boot.bootstrap.static_resources.clusters.map((c) => ({ cluster: { '@type': `${T}envoy.config.cluster.v3.Cluster`, ...c }, last_updated: UPDATED })),
        dynamic_active_clusters: clusters,
      },
      { '@type': `${T}envoy.admin.v3.EndpointsConfigDump`, static_endpoint_configs: [], dynamic_endpoint_configs: assignments },
      {
        '@type': `${T}envoy.admin.v3.ListenersConfigDump`,
        version_info: VERSION,
        static_listeners: boot.bootstrap.static_resources.listeners.map((l) => ({ listener: { '@type': `${T}envoy.config.listener.v3.Listener`, ...l }, last_updated: UPDATED })),
        dynamic_listeners: [...tcpListeners, outboundHttpListener(), virtualOutbound(), virtualInbound(pod)],
      },
      {
        '@type': `${T}envoy.admin.v3.RoutesConfigDump`,
        static_route_configs: [],
        dynamic_route_configs: [
          {
            version_info: VERSION,
            route_config: { '@type': `${T}envoy.config.route.v3.RouteConfiguration`, name: '8080', virtual_hosts: vhosts, validate_clusters: false, max_direct_response_body_size_bytes: 1048576, ignore_port_in_host_matching: true },
            last_updated: UPDATED,
          },
        ],
      },
      { '@type': `${T}envoy.admin.v3.SecretsConfigDump`, dynamic_active_secrets: [] },
    ],
  }
}
