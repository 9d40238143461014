/**
 * A trace does not depend on what was traced before on the same snapshot. The first lookups in a model read the
 * dump in place (virtual-host domains, cluster and load-assignment names) and later ones use tables; the parts of an
 * explanation that depend only on the model are built once and shared. Every trace here is compared, as JSON, with
 * the same request traced on a fresh snapshot.
 */
import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { parse as parseYaml } from 'yaml'
import { generateIstioDump, generatedPod, generatedServices } from '../../../bench/lib/generate-istio-dump.mjs'
import { readOfflineSnapshot } from '../../../src/collect/bundle/read-bundle.js'
import { parseRequest, type Request, type RequestOptions } from '../../../src/engine/trace/request.js'
import { prepareSnapshot, traceRequest, type TraceContext } from '../../../src/engine/trace/trace-request.js'
import { renderTraceJson } from '../../../src/render/json.js'

const SCENARIOS_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'fixtures', 'scenarios')

/** Each request traced on a fresh context, then all of them on one context in `order`, twice. */
function tracedAlike(fresh: () => TraceContext, requests: Request[], order: number[]): void {
  const alone = requests.map((r) => renderTraceJson(traceRequest(fresh(), r)))
  const shared = fresh()
  for (let round = 0; round < 2; round++) {
    for (const i of order) expect(renderTraceJson(traceRequest(shared, requests[i])), `request ${i}, round ${round}`).toBe(alone[i])
  }
}

describe('a trace does not depend on what was traced before', () => {
  const names = readdirSync(SCENARIOS_DIR, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name)

  it.each(names)('scenario %s: its request, a Host no domain lists, and a TCP connection, in either order', async (name) => {
    const scenario = parseYaml(readFileSync(path.join(SCENARIOS_DIR, name, 'scenario.yaml'), 'utf8')) as { request: RequestOptions & { url: string } }
    const snapshot = await readOfflineSnapshot({ bundle: path.join(SCENARIOS_DIR, name) })
    const { url, ...options } = scenario.request
    const first = parseRequest(url, options)
    const requests = [first]
    // An HTTP request whose Host no virtual host lists (the near-miss path builds the domain index).
    if (first.protocol !== 'tcp') requests.push(parseRequest(url, { ...options, headers: { ...first.headers, host: 'unlisted.example.com' } }))
    // A TCP connection to the same place (TCP proxy chains, other listeners).
    const tcpOptions: RequestOptions = { ...(first.direction === 'inbound' ? { inbound: true } : {}), ...(first.ip !== undefined && first.host !== first.ip ? { ip: first.ip } : {}) }
    requests.push(parseRequest(`tcp://${first.host ?? ''}:${first.port}`, tcpOptions))
    const order = requests.map((_, i) => i)
    tracedAlike(() => prepareSnapshot(structuredClone(snapshot)), requests, order)
    tracedAlike(() => prepareSnapshot(structuredClone(snapshot)), requests, [...order].reverse())
  })

  it('a generated 40-service mesh: exact hosts, wildcards, misses, TCP, in two orders', () => {
    const opts = { services: 40, seed: 3 }
    const dump = generateIstioDump(opts)
    const pod = generatedPod(opts)
    const fresh = () => prepareSnapshot({ envoy: { configDump: structuredClone(dump), origin: 'file' }, notes: [], pod: { name: pod.name, namespace: pod.namespace, ip: pod.ip } })
    const requests: Request[] = []
    for (const [i, s] of generatedServices(opts).entries()) {
      if (i % 5 === 0) requests.push(parseRequest(`http://${s.name}.${s.namespace}:8080/`, { ip: s.clusterIP }))
      if (i % 5 === 1) requests.push(parseRequest(`http://${s.fqdn}:8080/api/v2/items/${i}`, { ip: s.clusterIP, headers: ['end-user: jason'] }))
      if (i % 5 === 2) requests.push(parseRequest(`http://${s.clusterIP}:8080/items/${i}?x=1`, { method: 'POST' }))
      if (i % 5 === 3 && s.tcpPort !== null) requests.push(parseRequest(`tcp://${s.clusterIP}:${s.tcpPort}`))
      if (i % 5 === 4) requests.push(parseRequest(`http://${s.name}-typo.${s.namespace}:8080/`, { ip: s.clusterIP }))
    }
    const order = requests.map((_, i) => i)
    tracedAlike(fresh, requests, order)
    tracedAlike(fresh, requests, [...order].reverse())
  })
})
