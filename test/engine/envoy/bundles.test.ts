import { existsSync, readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { loadEnvoyConfig } from '../../../src/engine/envoy/config-dump.js'
import { resolveHostFromEnvoy, traceEnvoy, type EnvoyConnection, type HttpFacts } from '../../../src/engine/envoy/trace-envoy.js'

const EXAMPLES = new URL('../../../examples/', import.meta.url)

function loadBundle(name: string) {
  const dir = new URL(`${name}/`, EXAMPLES)
  const read = (f: string) => (existsSync(new URL(f, dir)) ? readFileSync(new URL(f, dir), 'utf8') : undefined)
  const clusters = read('clusters.json') ?? read('clusters.txt')
  return loadEnvoyConfig({
    configDump: JSON.parse(read('config_dump.json') as string),
    clusters: clusters?.trimStart().startsWith('{') ? JSON.parse(clusters) : clusters,
    stats: read('stats.txt'),
  })
}

function conn(over: Partial<EnvoyConnection> & Pick<EnvoyConnection, 'originalDst'>): EnvoyConnection {
  return { direction: 'outbound', delivered: { ip: '127.0.0.1', port: 15001 }, source: { ip: '172.33.3.3', port: 40000 }, transportProtocol: 'raw_buffer', applicationProtocols: ['http/1.1'], podIps: ['172.33.3.3'], ...over }
}

function get(path: string, host: string, headers: Record<string, string> = {}): HttpFacts {
  return { method: 'GET', path, headers: { host, ...headers }, scheme: 'http' }
}

describe.runIf(existsSync(new URL('bookinfo/config_dump.json', EXAMPLES)))('examples/bookinfo (Istio 1.1, camelCase istioctl, v2alpha)', () => {
  it('outbound GET http://ratings:9080/ratings/0 hands off from virtual to 0.0.0.0_9080 and reaches ratings', () => {
    const model = loadBundle('bookinfo')

    const t = traceEnvoy(model, conn({ originalDst: { ip: '10.254.234.130', port: 9080 } }), get('/ratings/0', 'ratings:9080'))

    expect(t.result).toMatchObject({
      outcome: 'forwarded',
      listener: '0.0.0.0_9080',
      routeConfig: '9080',
      virtualHost: 'ratings.default.svc.cluster.local:9080',
      cluster: 'outbound|9080||ratings.default.svc.cluster.local',
      endpoints: ['172.33.100.2:9080'],
    })
    const listeners = t.steps.filter((s) => s.stage === 'listener')
    expect(listeners.map((s) => s.chosen?.name)).toEqual(['virtual', '0.0.0.0_9080'])
    expect(listeners[1].summary).toBe('virtual (0.0.0.0:15001, use_original_dst) hands off to 0.0.0.0_9080 (wildcard 0.0.0.0:9080; no exact 10.254.234.130:9080 listener).')
    expect(t.steps.some((s) => s.outcome === 'unresolved')).toBe(false)
  })

  it('inbound GET /reviews/0 delivered to 15001 is handed off to 172.33.3.3_9080 and sent to 127.0.0.1:9080', () => {
    const model = loadBundle('bookinfo')

    const t = traceEnvoy(model, conn({ direction: 'inbound', delivered: { ip: '172.33.3.3', port: 15001 }, originalDst: { ip: '172.33.3.3', port: 9080 }, source: { ip: '172.33.100.9', port: 40000 } }), get('/reviews/0', '172.33.3.3:9080'))

    expect(t.result).toMatchObject({ outcome: 'forwarded', listener: '172.33.3.3_9080', cluster: 'inbound|9080||reviews.default.svc.cluster.local', endpoints: ['127.0.0.1:9080'] })
    expect(t.steps[1].decision).toMatchObject({ handOff: true, lookup: 'exact' })
  })

  it('an unknown Host on port 9080 gets 404 NR with the closest domains (no * vhost in this REGISTRY_ONLY-like config)', () => {
    const model = loadBundle('bookinfo')

    const t = traceEnvoy(model, conn({ originalDst: { ip: '10.254.234.130', port: 9080 } }), get('/', 'ratingz:9080'))

    expect(t.result.outcome).toBe('no_route')
    const vh = t.steps.find((s) => s.stage === 'virtual_host')
    expect(vh?.findings.map((f) => f.code)).toContain('host-header-no-domain')
    expect(vh?.findings[0].message).toContain('ratings:9080')
  })

  it('TCP to an unknown address stays on virtual and goes to BlackHoleCluster', () => {
    const model = loadBundle('bookinfo')

    const t = traceEnvoy(model, conn({ originalDst: { ip: '1.2.3.4', port: 8443 }, applicationProtocols: [] }), undefined)

    expect(t.result).toMatchObject({ outcome: 'blackhole', listener: 'virtual', cluster: 'BlackHoleCluster' })
  })

  it('resolves ratings to its ClusterIP from the vhost domains', () => {
    const model = loadBundle('bookinfo')

    expect(resolveHostFromEnvoy(model, 'ratings', 9080)).toMatchObject({ ip: '10.254.234.130', fqdn: 'ratings.default.svc.cluster.local' })
  })

  it('cluster counters from /stats are attached as evidence', () => {
    const model = loadBundle('bookinfo')

    const t = traceEnvoy(model, conn({ originalDst: { ip: '10.254.234.130', port: 9080 } }), get('/ratings/0', 'ratings:9080'))

    const stats = t.steps.find((s) => s.stage === 'stats')
    expect(stats?.evidence.some((e) => e.field.startsWith('stat cluster.outbound|9080||ratings'))).toBe(true)
  })
})

describe.runIf(existsSync(new URL('bookinfo-modern/config_dump.json', EXAMPLES)))('examples/bookinfo-modern (Istio 1.22, v3 /config_dump?include_eds)', () => {
  const pod = '10.244.2.5'
  const modern = (over: Partial<EnvoyConnection> & Pick<EnvoyConnection, 'originalDst'>) => conn({ source: { ip: pod, port: 40000 }, podIps: [pod], ...over })

  it('outbound to ratings goes through virtualOutbound → 0.0.0.0_9080 → ratings', () => {
    const model = loadBundle('bookinfo-modern')

    const t = traceEnvoy(model, modern({ originalDst: { ip: '10.96.12.34', port: 9080 } }), get('/ratings/0', 'ratings:9080'))

    expect(t.result).toMatchObject({ outcome: 'forwarded', listener: '0.0.0.0_9080', routeConfig: '9080', cluster: 'outbound|9080||ratings.default.svc.cluster.local' })
    expect(t.steps.some((s) => s.outcome === 'unresolved')).toBe(false)
  })

  it('end-user: jason matches the VirtualService header route to subset v2, whose only host is outlier-ejected: 503 UH', () => {
    const model = loadBundle('bookinfo-modern')

    const t = traceEnvoy(model, modern({ originalDst: { ip: '10.96.12.34', port: 9080 } }), get('/ratings/0', 'ratings:9080', { 'end-user': 'jason' }))

    expect(t.result).toMatchObject({ outcome: 'no_healthy_upstream', cluster: 'outbound|9080|v2|ratings.default.svc.cluster.local' })
    const route = t.steps.find((s) => s.stage === 'route')
    expect(route?.decision.virtualService).toBe('ratings')
  })

  it('Istio’s standard metrics confirm the UH outcome when the cluster stats are hidden by the inclusion list', () => {
    const model = loadBundle('bookinfo-modern')

    const t = traceEnvoy(model, modern({ originalDst: { ip: '10.96.12.34', port: 9080 } }), get('/ratings/0', 'ratings:9080', { 'end-user': 'jason' }))

    const stats = t.steps.find((s) => s.stage === 'stats')
    expect(stats?.evidence).toContainEqual({ field: 'istio_requests_total{reporter=source, destination_service=ratings.default.svc.cluster.local, destination_version=unknown, response_code=503, response_flags=UH}', expected: 'response_flags UH for this path', actual: '4' })
    expect(stats?.findings.map((f) => f.code)).not.toContain('stat-contradicts-trace')
    expect(stats?.findings.map((f) => f.code)).toContain('stat-hidden-by-inclusion')
  })

  it('without the header the jason route is rejected on the header, with evidence', () => {
    const model = loadBundle('bookinfo-modern')

    const t = traceEnvoy(model, modern({ originalDst: { ip: '10.96.12.34', port: 9080 } }), get('/ratings/0', 'ratings:9080'))

    const route = t.steps.find((s) => s.stage === 'route')
    expect(route?.rejected[0]).toMatchObject({ reason: 'header-mismatch', evidence: [{ field: 'header end-user', expected: 'exact "jason"', actual: '(absent)' }] })
  })

  it('inbound via virtualInbound 15006 picks the port 9080 chain and forwards to the original destination', () => {
    const model = loadBundle('bookinfo-modern')

    const t = traceEnvoy(model, modern({ direction: 'inbound', delivered: { ip: pod, port: 15006 }, originalDst: { ip: pod, port: 9080 }, source: { ip: '10.244.1.7', port: 40000 } }), get('/reviews/0', `${pod}:9080`))

    expect(t.result).toMatchObject({ outcome: 'forwarded', listener: 'virtualInbound', cluster: 'inbound|9080||', endpoints: [`${pod}:9080`] })
  })

  it('without iptables the inbound capture listener is assumed and said so', () => {
    const model = loadBundle('bookinfo-modern')

    const t = traceEnvoy(model, modern({ direction: 'inbound', delivered: null, originalDst: { ip: pod, port: 9080 }, source: { ip: '10.244.1.7', port: 40000 } }), get('/reviews/0', `${pod}:9080`))

    expect(t.result.listener).toBe('virtualInbound')
    expect(t.steps[0].findings.map((f) => f.code)).toContain('assumed-capture-listener')
  })
})
