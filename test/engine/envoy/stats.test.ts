import { describe, expect, it } from 'vitest'
import { EnvoyConfigError } from '../../../src/engine/envoy/config-dump.js'
import { isHiddenByInclusion, parseIstioMetric, parseStats, readStats, statAddress } from '../../../src/engine/envoy/stats.js'

const ISTIO_INCLUSION = { prefixes: ['reporter=', 'cluster_manager', 'listener_manager', 'server', 'cluster.xds-grpc', 'wasm', 'component', 'istio'], suffixes: ['rbac.allowed', 'rbac.denied', 'shadow_allowed', 'shadow_denied', 'downstream_cx_active'], regexes: ['vhost\\..*\\.route\\..*'] }
const boot = { nodeId: null, istioVersion: null, envoyVersion: null, statsInclusion: ISTIO_INCLUSION, source: { file: 'config_dump' } }

describe('parseStats', () => {
  it('text: name: value per line; histograms are skipped; names may contain ": "-free tags', () => {
    const s = parseStats(['cluster.a.upstream_rq_total: 5', 'cluster.a.upstream_rq_time: P0(nan,1) P25(nan,2)', 'http.x.rq_time: No recorded values', 'reporter=.=source;.;istio_requests_total: 12', ''].join('\n'))

    expect([...s.values.entries()].map(([k, v]) => [k, v.value, v.source.line])).toEqual([
      ['cluster.a.upstream_rq_total', 5, 1],
      ['reporter=.=source;.;istio_requests_total', 12, 4],
    ])
  })

  it('json: {stats:[{name,value}]}', () => {
    const s = parseStats({ stats: [{ name: 'a', value: 3 }, { histograms: {} }] })

    expect(s.values.get('a')).toEqual({ value: 3, source: { file: 'stats', pointer: '/stats/0' } })
  })

  it('a json object of another shape is an error naming the file', () => {
    expect(() => parseStats({ other: 1 })).toThrow(EnvoyConfigError)
  })
})

describe('Istio stats inclusion list', () => {
  it.each([
    ['cluster.outbound|… is hidden on a stock sidecar', 'cluster.outbound|9080||ratings.default.svc.cluster.local.upstream_rq_total', true],
    ['http.*.no_route is hidden', 'http.outbound_0.0.0.0_9080.no_route', true],
    ['listener.*.downstream_cx_active survives by suffix', 'listener.0.0.0.0_15001.downstream_cx_active', false],
    ['listener.*.downstream_cx_total does not', 'listener.0.0.0.0_15001.downstream_cx_total', true],
    ['vhost route stats survive by regex', 'vhost.a.route.b.upstream_rq_total', false],
    ['cluster.xds-grpc survives by prefix', 'cluster.xds-grpc.upstream_cx_total', false],
  ])('%s', (_name, stat, hidden) => {
    expect(isHiddenByInclusion(boot, stat)).toBe(hidden)
  })

  it('readStats says why a stat is absent', () => {
    const r = readStats(parseStats('server.live: 1\n'), boot, ['server.live', 'cluster.x.upstream_rq_total'])

    expect(r.map((x) => [x.value, x.hiddenByInclusion])).toEqual([[1, false], [null, true]])
  })

  it('statAddress turns : into _', () => {
    expect(statAddress('::', 15001)).toBe('___15001')
  })
})

describe('parseIstioMetric', () => {
  it.each([
    ['a tagged standard metric', 'reporter=.=source;.;destination_service=.=ratings.default.svc.cluster.local;.;response_flags=.=UH;.;response_code=.=503;.;istio_requests_total', { metric: 'istio_requests_total', tags: { reporter: 'source', destination_service: 'ratings.default.svc.cluster.local', response_flags: 'UH', response_code: '503' } }],
    ['an empty tag value', 'reporter=.=source;.;grpc_response_status=.=;.;istio_requests_total', { metric: 'istio_requests_total', tags: { reporter: 'source', grpc_response_status: '' } }],
    ['near miss: an Envoy stat is not one', 'cluster.a.upstream_rq_total', null],
  ])('%s', (_name, name, expected) => {
    expect(parseIstioMetric(name)).toEqual(expected)
  })
})
