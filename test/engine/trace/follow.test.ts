import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { readOfflineBundle } from '../../../src/collect/bundle/read-bundle.js'
import { followTrace, nextHopTarget } from '../../../src/engine/trace/follow.js'
import { parseRequest } from '../../../src/engine/trace/request.js'
import { prepareSnapshot, traceRequest, type TraceContext } from '../../../src/engine/trace/trace-request.js'
import { upstreamTransport } from '../../../src/engine/trace/upstream-transport.js'
import type { Trace } from '../../../src/engine/trace/trace.js'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..')

async function modern() {
  const { main, others } = await readOfflineBundle({ bundle: path.join(root, 'examples/bookinfo-modern') })
  const all = [main, ...others]
  const byName = (name: string) => prepareSnapshot(all.find((s) => s.pod?.name.startsWith(name))!)
  const podByIp = async (ip: string): Promise<TraceContext | string> => {
    const s = all.find((x) => x.pod?.ips?.includes(ip))
    return s === undefined ? `no sub-bundle for ${ip}` : prepareSnapshot(s)
  }
  return { byName, podByIp }
}

function hopSteps(trace: Trace) {
  return trace.steps.filter((s) => s.stage === 'hop')
}

describe('followTrace', () => {
  it('follows reviews → ratings over auto-mTLS into the inbound TLS chain, and stops at the app', async () => {
    const { byName, podByIp } = await modern()
    const ctx = byName('reviews-v1')
    const request = parseRequest('http://ratings:9080/ratings/0')

    const trace = await followTrace(traceRequest(ctx, request), ctx, request, { maxHops: 3, podByIp, transport: upstreamTransport })

    const hops = hopSteps(trace)
    expect(hops).toHaveLength(1)
    expect(hops[0].decision).toMatchObject({ hop: 1, pod: 'default/ratings-v1-7dc98c7588-x5v8q', endpoint: '10.244.1.7:9080', result: { outcome: 'forwarded', redirectPort: 15006, listener: 'virtualInbound', cluster: 'inbound|9080||', endpoints: ['10.244.1.7:9080'] } })
    expect(hops[0].summary).toContain('TLS with SNI outbound_.9080_._.ratings.default.svc.cluster.local')
    expect(hops[0].summary).toContain('ALPN istio-http/1.1,istio,http/1.1')
    const after = trace.steps.slice(trace.steps.indexOf(hops[0]) + 1)
    expect(after.find((s) => s.stage === 'filter_chain')?.decision).toMatchObject({})
    expect(after.find((s) => s.stage === 'filter_chain')?.summary).toMatch(/\(tls, /)
    expect(trace.result.cluster).toBe('outbound|9080||ratings.default.svc.cluster.local')
  })

  it('says which endpoint it follows when the load balancer has several', async () => {
    const { byName, podByIp } = await modern()
    const ctx = byName('productpage-v1')
    const request = parseRequest('http://reviews:9080/reviews/0')

    const trace = await followTrace(traceRequest(ctx, request), ctx, request, { maxHops: 3, podByIp, transport: upstreamTransport })

    const [hop] = hopSteps(trace)
    expect(hop.summary).toContain('(1 of 3 eligible endpoints')
    expect(hop.decision.candidates).toEqual(['10.244.2.5:9080', '10.244.1.9:9080', '10.244.3.6:9080'])
  })

  it('names the missing pod instead of guessing when the next pod is not in the snapshot', async () => {
    const { byName } = await modern()
    const ctx = byName('reviews-v1')
    const request = parseRequest('http://details:9080/details/0')

    const trace = await followTrace(traceRequest(ctx, request), ctx, request, { maxHops: 3, podByIp: async () => 'no sub-bundle', transport: upstreamTransport })

    const [hop] = hopSteps(trace)
    expect(hop.outcome).toBe('unresolved')
    expect(hop.findings.map((f) => f.code)).toEqual(['hop-not-followed'])
  })

  it.each([
    ['a passthrough to an outside address has no pod to follow', 'tcp://203.0.113.9:8443', 'unresolved'],
    ['a request that is not forwarded has no next hop', 'http://ratings:9080/ratings/0', 'none'],
  ])('%s', async (_n, url, expected) => {
    const { byName, podByIp } = await modern()
    const ctx = byName('reviews-v1')
    const request = parseRequest(url, expected === 'none' ? { uid: 1337 } : {})
    const first = traceRequest(ctx, request)

    const trace = await followTrace(first, ctx, request, { maxHops: 3, podByIp, transport: upstreamTransport })

    if (expected === 'none') {
      expect(nextHopTarget(first)).toBeUndefined()
      expect(hopSteps(trace)).toHaveLength(0)
    } else {
      expect(hopSteps(trace)[0].outcome).toBe(expected)
    }
  })

  it('stops at a loop instead of going round', async () => {
    const { byName } = await modern()
    const ctx = byName('reviews-v1')
    const request = parseRequest('http://ratings:9080/ratings/0')
    // The next hop (10.244.1.7) answered by a pod whose Envoy forwards to 10.244.1.7 again: the path comes back.
    const loopy = async (): Promise<TraceContext> => byName('reviews-v1')

    const trace = await followTrace(traceRequest(ctx, request), ctx, request, { maxHops: 5, podByIp: loopy, transport: upstreamTransport })

    const hops = hopSteps(trace)
    expect(hops.map((h) => h.outcome)).toEqual(['matched', 'no_match'])
    expect(hops[1].findings.map((f) => f.code)).toEqual(['hop-loop'])
  })
})
