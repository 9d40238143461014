/**
 * Conformance over real Istio config dumps in ../shared/upstream/istio-config-dumps (skipped when absent).
 * Decision: an endpoint step may be `unresolved` only when the dump genuinely lacks endpoints (no EDS, no
 * /clusters), and then it must carry the `no-endpoints-in-snapshot` finding; every other step must resolve.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { loadEnvoyConfig } from '../../../src/engine/envoy/config-dump.js'
import type { EnvoyModel, Listener } from '../../../src/engine/envoy/model.js'
import { resolveHostFromEnvoy, traceEnvoy, type EnvoyTrace } from '../../../src/engine/envoy/trace-envoy.js'
import { isIpLiteral } from '../../../src/engine/envoy/address.js'

const UPSTREAM = new URL('../../../../shared/upstream/', import.meta.url)
const DUMPS = new URL('istio-config-dumps/', UPSTREAM)
const present = existsSync(DUMPS)

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = `${dir}/${f}`
    return statSync(p).isDirectory() ? walk(p) : p.endsWith('.json') ? [p] : []
  })
}

const files = present ? walk(fileURLToPath(DUMPS)).sort() : []
const rel = (p: string) => p.slice(fileURLToPath(DUMPS).length)

function load(path: string): EnvoyModel {
  const doc = JSON.parse(readFileSync(path, 'utf8'))
  return path.endsWith('admin-clusters-json/clusters.json') ? loadEnvoyConfig({ clusters: doc }) : loadEnvoyConfig({ configDump: doc })
}

/** Problems in a trace: unresolved steps other than the documented endpoint case. */
function problems(t: EnvoyTrace): string[] {
  return t.steps
    .filter((s) => s.outcome === 'unresolved' && !(s.stage === 'endpoint' && s.findings.some((f) => f.code === 'no-endpoints-in-snapshot')))
    .map((s) => `${s.stage}: ${s.summary}`)
}

function isSidecar(model: EnvoyModel): boolean {
  return model.present.listeners && model.present.routes && model.present.clusters && model.listeners.some((l) => l.useOriginalDst && l.address?.port === 15001)
}

function servingPortListeners(model: EnvoyModel): Listener[] {
  return model.listeners.filter((l) => (l.state === 'active' || l.state === 'static') && l.address !== null && l.address.port !== 15001 && l.address.port !== 15006)
}

interface Case {
  name: string
  http: boolean
  host: string
  port: number
  ip: string
  expectVhost?: string
  expectListener?: string
  expectCluster?: string
}

function casesFor(model: EnvoyModel): Case[] {
  const out: Case[] = []
  for (const l of servingPortListeners(model)) {
    const a = l.address!
    for (const fc of l.filterChains) {
      for (const f of fc.filters) {
        const rs = f.hcm?.routeSource
        if (rs?.kind === 'rds' && a.ip === '0.0.0.0' && l.name.startsWith('0.0.0.0_')) {
          const rc = model.routeConfigs.find((r) => r.name === rs.routeConfigName)
          for (const vh of rc?.virtualHosts ?? []) {
            for (const d of vh.domains) {
              if (d.includes('*') || d.includes(':') || isIpLiteral(d)) continue
              const vip = resolveHostFromEnvoy(model, d, a.port)?.ip ?? '240.0.0.1'
              out.push({ name: `http://${d}:${a.port}/`, http: true, host: d, port: a.port, ip: vip, expectVhost: vh.name })
            }
          }
        }
        if (f.tcpProxy?.cluster && a.ip !== '0.0.0.0' && fc.match.destinationPort === null && fc.match.serverNames.length === 0 && fc.match.applicationProtocols.length === 0 && fc.match.transportProtocol === '' && fc.match.prefixRanges.length === 0) {
          out.push({ name: `tcp://${a.ip}:${a.port}`, http: false, host: a.ip, port: a.port, ip: a.ip, expectListener: l.name, expectCluster: f.tcpProxy.cluster })
        }
      }
    }
  }
  return out
}

describe.runIf(present)('upstream Istio config dumps', () => {
  it.each(files.map((f) => [rel(f), f]))('%s loads without throwing', (_name, path) => {
    const model = load(path)

    expect(model.kind).toBe('envoy-model')
  })

  const sidecars = files.filter((f) => /sidecar-(productpage|ratings|echo)/.test(f))
  it.each(sidecars.map((f) => [rel(f), f]))('%s: every service domain and TCP listener traces without unresolved steps', (_name, path) => {
    const model = load(path)
    expect(isSidecar(model)).toBe(true)
    const pod = model.listeners.find((l) => l.trafficDirection === 'INBOUND' || /^\d+\.\d+\.\d+\.\d+_\d+$/.test(l.name))?.address?.ip ?? '10.0.0.1'
    const cases = casesFor(model)
    const failures: string[] = []

    for (const c of cases) {
      const t = traceEnvoy(
        model,
        { direction: 'outbound', delivered: { ip: '127.0.0.1', port: 15001 }, originalDst: { ip: c.ip, port: c.port }, source: { ip: pod, port: 40000 }, transportProtocol: 'raw_buffer', applicationProtocols: c.http ? ['http/1.1'] : [], podIps: [pod] },
        c.http ? { method: 'GET', path: '/', headers: { host: `${c.host}:${c.port}` }, scheme: 'http' } : undefined,
      )
      const p = problems(t)
      if (p.length) failures.push(`${c.name}: ${p.join('; ')}`)
      if (c.expectVhost && t.result.virtualHost !== c.expectVhost) failures.push(`${c.name}: vhost ${t.result.virtualHost} ≠ ${c.expectVhost}`)
      if (c.expectListener && t.result.listener !== c.expectListener) failures.push(`${c.name}: listener ${t.result.listener} ≠ ${c.expectListener}`)
      if (c.expectCluster && t.result.cluster !== c.expectCluster) failures.push(`${c.name}: cluster ${t.result.cluster} ≠ ${c.expectCluster}`)
    }

    console.log(_name, cases.length, cases.filter((c) => c.http).length)
    expect(cases.length).toBeGreaterThan(5)
    expect(failures).toEqual([])
  })
})
