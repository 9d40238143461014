import { describe, expect, it } from 'vitest'
import { generateIstioDump, generatedPod, generatedServices } from '../../bench/lib/generate-istio-dump.mjs'
import { envoyIndex, loadEnvoyConfig } from '../../src/engine/envoy/config-dump.js'
import { parseRequest } from '../../src/engine/trace/request.js'
import { prepareSnapshot, traceRequest } from '../../src/engine/trace/trace-request.js'

const OPTIONS = { services: 60, seed: 7 }

function context() {
  const pod = generatedPod(OPTIONS)
  return prepareSnapshot({ envoy: { configDump: generateIstioDump(OPTIONS), origin: 'file' }, notes: [], pod: { name: pod.name, namespace: pod.namespace, ip: pod.ip } })
}

describe('generateIstioDump', () => {
  it('is deterministic for a seed and differs across seeds', () => {
    const a = JSON.stringify(generateIstioDump(OPTIONS))

    const b = JSON.stringify(generateIstioDump(OPTIONS))
    const c = JSON.stringify(generateIstioDump({ ...OPTIONS, seed: 8 }))

    expect(b).toBe(a)
    expect(c).not.toBe(a)
  })

  it('loads as an Istio 1.22 sidecar dump: one vhost per service plus allow_any, EDS for every cluster', () => {
    const services = generatedServices(OPTIONS)

    const model = loadEnvoyConfig({ configDump: generateIstioDump(OPTIONS) })
    const index = envoyIndex(model)

    const rc = index.routeConfigsByName.get('8080')
    expect(rc?.virtualHosts).toHaveLength(services.length + 1)
    expect(rc?.virtualHosts.at(-1)?.name).toBe('allow_any')
    expect(index.listenersByName.has('virtualOutbound')).toBe(true)
    expect(index.listenersByName.has('virtualInbound')).toBe(true)
    expect(index.listenersByName.has('0.0.0.0_8080')).toBe(true)
    const tcp = services.filter((s) => s.tcpPort !== null)
    expect(tcp.length).toBeGreaterThan(0)
    for (const s of tcp) expect(index.listenersByName.has(`${s.clusterIP}_${s.tcpPort}`)).toBe(true)
    for (const c of model.clusters.filter((c) => c.name.startsWith('outbound|'))) {
      const eps = index.loadAssignmentsByCluster.get(c.name)?.endpoints.flatMap((l) => l.lbEndpoints) ?? []
      expect(eps.length, c.name).toBeGreaterThanOrEqual(1)
      expect(eps.length, c.name).toBeLessThanOrEqual(5)
    }
    expect(new Set(services.map((s) => s.vs))).toEqual(new Set([null, 'header', 'prefix-weighted', 'regex']))
  })

  it.each(generatedServices(OPTIONS).slice(0, 12).map((s) => [s.fqdn, s] as const))('GET http://%s:8080/ is forwarded to its default cluster', (_, svc) => {
    const ctx = context()
    const request = parseRequest(`http://${svc.name}.${svc.namespace}:8080/`, { ip: svc.clusterIP })

    const trace = traceRequest(ctx, request)

    expect(trace.result.outcome).toBe('forwarded')
    // The weighted VirtualService splits `/` between subsets v1 and v2 (random value 0 picks v1).
    const subset = svc.vs === 'prefix-weighted' ? 'v1' : ''
    expect(trace.result.cluster).toBe(`outbound|8080|${subset}|${svc.fqdn}`)
  })

  it('a VirtualService header match routes end-user jason to subset v2, and a regex route to v1', () => {
    const ctx = context()
    const services = generatedServices(OPTIONS)
    const header = services.find((s) => s.vs === 'header')!
    const regex = services.find((s) => s.vs === 'regex')!

    const jason = traceRequest(ctx, parseRequest(`http://${header.fqdn}:8080/`, { ip: header.clusterIP, headers: ['end-user: jason'] }))
    const items = traceRequest(ctx, parseRequest(`http://${regex.clusterIP}:8080/items/42`))
    const itemsNearMiss = traceRequest(ctx, parseRequest(`http://${regex.clusterIP}:8080/items/x42`))

    expect(jason.result.cluster).toBe(`outbound|8080|v2|${header.fqdn}`)
    expect(items.result.cluster).toBe(`outbound|8080|v1|${regex.fqdn}`)
    expect(itemsNearMiss.result.cluster).toBe(`outbound|8080||${regex.fqdn}`)
  })

  it('a TCP port goes through its <VIP>_<port> listener, and an unknown host to PassthroughCluster', () => {
    const ctx = context()
    const svc = generatedServices(OPTIONS).find((s) => s.tcpPort !== null)!

    const tcp = traceRequest(ctx, parseRequest(`tcp://${svc.clusterIP}:${svc.tcpPort}`))
    const external = traceRequest(ctx, parseRequest('http://example.com:8080/', { ip: '93.184.216.34' }))

    expect(tcp.result.outcome).toBe('forwarded')
    expect(tcp.result.cluster).toBe(`outbound|${svc.tcpPort}||${svc.fqdn}`)
    expect(external.result.outcome).toBe('passthrough')
  })
})
