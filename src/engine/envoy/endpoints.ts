/**
 * Endpoints of a cluster: EDS (`?include_eds`), inline `load_assignment`, and `/clusters` (text or JSON)
 * host health.
 */
import { memoPair } from '../memo.js'
import { copyStep, freezeStep, newStep, type Alternative, type ConfigRef, type SourceRef, type TraceStep } from '../trace/trace.js'
import { canonicalIp, formatAddress } from './address.js'
import { BLACKHOLE_CLUSTER, PASSTHROUGH_CLUSTERS } from './cluster.js'
import { EnvoyConfigError, arrAt, boolAt, envoyIndex, isObject, normalizeJson, numAt, objAt, strAt } from './config-dump.js'
import { envoyFinding } from './findings.js'
import type { Cluster, ClusterStatus, EnvoyModel, HealthStatus, HostStatus, Json, JsonObject } from './model.js'

const HOST_ADDRESS = /^\[([^\]]+)\]:(\d+)$|^([^:\s]+):(\d+)$/

function parseHostAddress(text: string): { ip: string; port: number } | null {
  const m = HOST_ADDRESS.exec(text)
  if (m) return m[1] !== undefined ? { ip: canonicalIp(m[1]), port: Number(m[2]) } : { ip: canonicalIp(m[3]), port: Number(m[4]) }
  if (text.startsWith('unix:') || text.startsWith('/') || text.startsWith('envoy://')) return { ip: text, port: 0 }
  return null
}

function parseClustersText(text: string): ClusterStatus[] {
  const clusters = new Map<string, ClusterStatus>()
  const hosts = new Map<string, HostStatus>()
  text.split(/\r?\n/).forEach((line, i) => {
    if (line.trim() === '') return
    const parts = line.split('::')
    if (parts.length < 3) return
    const name = parts[0]
    // IPv6 hosts print as [fd00::7]:9080, so the key and value are split off from the right.
    const value = parts[parts.length - 1]
    const key = parts[parts.length - 2]
    const middle = parts.slice(1, -2).join('::')
    let cluster = clusters.get(name)
    if (!cluster) {
      cluster = { name, addedViaApi: null, hosts: [], source: { file: 'clusters', line: i + 1 } }
      clusters.set(name, cluster)
    }
    if (middle === '' && key === 'added_via_api') cluster.addedViaApi = value === 'true'
    const addr = middle === '' ? null : parseHostAddress(middle)
    if (!addr) return
    const hostKey = `${name}|${middle}`
    let host = hosts.get(hostKey)
    if (!host) {
      host = { ip: addr.ip, port: addr.port, healthFlags: ['healthy'], edsHealthStatus: null, stats: {}, weight: null, priority: null, hostname: null, source: { file: 'clusters', line: i + 1 } }
      hosts.set(hostKey, host)
      cluster.hosts.push(host)
    }
    if (key === 'health_flags') {
      host.healthFlags = value === 'healthy' ? ['healthy'] : value.split('/').filter((f) => f !== '')
      host.source = { file: 'clusters', line: i + 1 }
    } else if (key === 'weight') host.weight = Number(value)
    else if (key === 'priority') host.priority = Number(value)
    else if (key === 'hostname') host.hostname = value
    else if (/^-?\d+(\.\d+)?$/.test(value)) host.stats[key] = Number(value)
  })
  return [...clusters.values()]
}

const JSON_FLAG_NAMES: Array<[string, string]> = [
  ['failed_active_health_check', 'failed_active_hc'],
  ['failed_outlier_check', 'failed_outlier_check'],
  ['failed_active_degraded_check', 'degraded_active_hc'],
  ['pending_dynamic_removal', 'pending_dynamic_removal'],
  ['pending_active_hc', 'pending_active_hc'],
  ['excluded_via_immediate_hc_fail', 'excluded_via_immediate_hc_fail'],
  ['active_hc_timeout', 'active_hc_timeout'],
]

function healthFlagsFromJson(h: JsonObject): { flags: string[]; eds: string | null } {
  const flags: string[] = []
  for (const [field, flag] of JSON_FLAG_NAMES) if (boolAt(h, field) === true) flags.push(flag)
  const eds = strAt(h, 'eds_health_status')
  if (eds === 'UNHEALTHY' || eds === 'TIMEOUT') flags.push('failed_eds_health')
  if (eds === 'DRAINING') flags.push('eds_status_draining')
  if (eds === 'DEGRADED') flags.push('degraded_eds_health')
  return { flags: flags.length ? flags : ['healthy'], eds }
}

function parseClustersJson(input: unknown): ClusterStatus[] {
  const { json, pointerOf } = normalizeJson(input)
  if (!isObject(json) || !Array.isArray(json.cluster_statuses)) {
    throw new EnvoyConfigError('clusters', '', 'not-clusters', 'expected /clusters text or {"cluster_statuses": [...]} from /clusters?format=json')
  }
  return clusterStatusesFromJson(arrAt(json, 'cluster_statuses'), pointerOf, 'clusters')
}

/** ClusterStatus entries (normalised JSON, e.g. old `istioctl pc endpoint -o json` arrays) → model. */
export function clusterStatusesFromJson(list: Json[], pointerOf: (o: object) => string | undefined, file: string): ClusterStatus[] {
  return list
    .filter(isObject)
    .map((c) => ({
      name: strAt(c, 'name') ?? '',
      addedViaApi: boolAt(c, 'added_via_api'),
      source: { file, pointer: pointerOf(c) ?? '' },
      hosts: arrAt(c, 'host_statuses')
        .filter(isObject)
        .map((h): HostStatus => {
          const address = objAt(h, 'address')
          const sa = objAt(address, 'socket_address')
          const pipe = strAt(objAt(address, 'pipe'), 'path')
          const stats: Record<string, number> = {}
          for (const s of arrAt(h, 'stats').filter(isObject)) {
            const n = strAt(s, 'name')
            if (n !== null) stats[n] = numAt(s, 'value') ?? 0
          }
          const { flags, eds } = healthFlagsFromJson(objAt(h, 'health_status'))
          return {
            ip: strAt(sa, 'address') !== null ? canonicalIp(strAt(sa, 'address') as string) : pipe !== null ? `unix://${pipe}` : '',
            port: numAt(sa, 'port_value') ?? 0,
            healthFlags: flags,
            edsHealthStatus: eds,
            stats,
            weight: numAt(h, 'weight'),
            priority: numAt(h, 'priority'),
            hostname: strAt(h, 'hostname'),
            source: { file, pointer: pointerOf(h) ?? '' },
          }
        }),
    }))
}

/** Parses `/clusters` text (`cluster::host::key::value`) or `/clusters?format=json`. */
export function parseAdminClusters(input: unknown): ClusterStatus[] {
  if (typeof input === 'string') {
    const trimmed = input.trimStart()
    if (trimmed.startsWith('{')) {
      try {
        return parseClustersJson(JSON.parse(input))
      } catch (e) {
        if (e instanceof EnvoyConfigError) throw e
        throw new EnvoyConfigError('clusters', '', 'invalid-json', 'the /clusters text starts with "{" but is not valid JSON')
      }
    }
    return parseClustersText(input)
  }
  return parseClustersJson(input)
}

/** Coarse health of a host as the load balancer sees it. */
export type CoarseHealth = 'healthy' | 'degraded' | 'unhealthy' | 'excluded'

/** Coarse health from `/clusters` health flags (host_utility.cc flag names). */
export function healthFromFlags(flags: string[]): CoarseHealth {
  if (flags.some((f) => ['failed_active_hc', 'failed_outlier_check', 'failed_eds_health', 'eds_status_draining'].includes(f))) return 'unhealthy'
  if (flags.some((f) => ['pending_active_hc', 'excluded_via_immediate_hc_fail'].includes(f))) return 'excluded'
  if (flags.some((f) => ['degraded_active_hc', 'degraded_eds_health'].includes(f))) return 'degraded'
  return 'healthy'
}

/** Coarse health from an EDS `health_status` (UNKNOWN and HEALTHY are healthy). */
export function healthFromEds(status: HealthStatus): CoarseHealth {
  if (status === 'UNHEALTHY' || status === 'DRAINING' || status === 'TIMEOUT') return 'unhealthy'
  if (status === 'DEGRADED') return 'degraded'
  return 'healthy'
}

/** `ip:port` of a host as Envoy prints it. */
export function hostKey(ip: string, port: number): string {
  return port === 0 && !/^[\d.:a-f]+$/i.test(ip) ? ip : formatAddress(ip, port)
}

// --- the endpoint stage ------------------------------------------------------------------------

/** One endpoint of the chosen cluster, with its health as far as the snapshot shows. */
export interface EndpointCandidate {
  /** `ip:port` as Envoy prints it. */
  address: string
  health: CoarseHealth
  /** Where the health came from and what it said. */
  healthSource: 'eds' | 'clusters' | 'none'
  healthDetail: string
  priority: number
  locality: string
  weight: number
  source: SourceRef
}

/** The outcome of the endpoint stage. */
export interface EndpointResolution {
  step: TraceStep
  outcome: 'forwarded' | 'passthrough' | 'blackhole' | 'no_healthy_upstream' | 'unknown'
  endpoints: string[] | null
}

const HEALTH_ORDER: Record<CoarseHealth, number> = { healthy: 0, degraded: 1, unhealthy: 2, excluded: 3 }

function endpointRef(c: EndpointCandidate): ConfigRef {
  return { kind: 'endpoint', name: c.address, source: c.source, excerpt: `${c.healthDetail}${c.priority ? `, priority ${c.priority}` : ''}${c.locality ? `, ${c.locality}` : ''}` }
}

/** Collects a cluster's endpoints from inline/EDS assignments and `/clusters`, merged by address. */
export function clusterEndpoints(model: EnvoyModel, cluster: Cluster): { candidates: EndpointCandidate[]; sources: string[]; known: boolean; overprovisioningFactor: number } {
  const index = envoyIndex(model)
  const byAddress = new Map<string, EndpointCandidate>()
  const sources: string[] = []
  const eds = cluster.type === 'EDS' ? index.loadAssignmentsByCluster.get(cluster.edsServiceName ?? cluster.name) ?? index.loadAssignmentsByCluster.get(cluster.name) : undefined
  const assignment = cluster.loadAssignment ?? eds ?? null
  if (assignment) {
    sources.push(cluster.loadAssignment ? 'load_assignment' : 'eds')
    for (const le of assignment.endpoints) {
      const locality = [le.locality.region, le.locality.zone, le.locality.subZone].filter((x) => x !== '').join('/')
      for (const e of le.lbEndpoints) {
        const address = hostKey(e.ip, e.port)
        byAddress.set(address, {
          address,
          health: healthFromEds(e.healthStatus),
          healthSource: 'eds',
          healthDetail: `health_status ${e.healthStatus}`,
          priority: le.priority,
          locality,
          weight: e.weight,
          source: e.source,
        })
      }
    }
  }
  const status = index.clusterStatusesByName.get(cluster.name)
  if (status) {
    sources.push('/clusters')
    // DNS clusters list resolved addresses only in /clusters; those replace the configured hostnames.
    if (cluster.type === 'STRICT_DNS' || cluster.type === 'LOGICAL_DNS') byAddress.clear()
    for (const h of status.hosts) {
      const address = hostKey(h.ip, h.port)
      const prev = byAddress.get(address)
      byAddress.set(address, {
        address,
        health: healthFromFlags(h.healthFlags),
        healthSource: 'clusters',
        healthDetail: `health_flags ${h.healthFlags.map((f) => (f === 'healthy' ? f : `/${f}`)).join('')}${prev ? ` (${prev.healthDetail})` : ''}`,
        priority: h.priority ?? prev?.priority ?? 0,
        locality: prev?.locality ?? '',
        weight: h.weight ?? prev?.weight ?? 1,
        source: h.source,
      })
    }
  }
  const known = assignment !== null || status !== undefined
  const candidates = [...byAddress.values()].sort((a, b) => HEALTH_ORDER[a.health] - HEALTH_ORDER[b.health] || a.priority - b.priority)
  return { candidates, sources, known, overprovisioningFactor: assignment?.overprovisioningFactor ?? 140 }
}

/**
 * Envoy's priority load in percent: each priority gets min(100, healthy% × overprovisioning) of what the
 * lower priorities left; a total under 100 is scaled up (load_balancer_impl.cc, recalculatePerPriorityState).
 */
export function priorityLoad(levels: Array<{ priority: number; healthy: number; total: number }>, overprovisioningFactor: number): Map<number, number> {
  const sorted = [...levels].sort((a, b) => a.priority - b.priority)
  const health = sorted.map((l) => (l.total > 0 ? Math.min(100, Math.floor((overprovisioningFactor / 100) * ((l.healthy * 100) / l.total))) : 0))
  const totalHealth = Math.min(100, health.reduce((a, b) => a + b, 0))
  const out = new Map<number, number>()
  let remaining = 100
  sorted.forEach((l, i) => {
    const load = totalHealth > 0 && totalHealth < 100 ? Math.round((health[i] * 100) / health.reduce((a, b) => a + b, 0)) : Math.min(remaining, health[i])
    out.set(l.priority, load)
    remaining -= Math.min(remaining, load)
  })
  return out
}

/** Resolves the endpoints of the chosen cluster and builds the `endpoint` step. */
export function resolveEndpoints(model: EnvoyModel, cluster: Cluster, originalDst: { ip: string; port: number }): EndpointResolution {
  if (cluster.type === 'ORIGINAL_DST') return originalDstEndpoints(model, cluster, originalDst)
  return copyResolution(sharedResolution(model, cluster))
}

/** A resolution of its own for one trace from a shared one (sharedResolution). */
export function copyResolution(shared: EndpointResolution): EndpointResolution {
  return { step: copyStep(shared.step), outcome: shared.outcome, endpoints: shared.endpoints === null ? null : shared.endpoints.slice() }
}

/** Endpoint stages of the model's clusters, built once: apart from ORIGINAL_DST, the stage depends on the cluster alone. */
const RESOLUTIONS = new WeakMap<EnvoyModel, WeakMap<Cluster, EndpointResolution>>()

/** The endpoint stage of a cluster that is not ORIGINAL_DST, shared by every trace (copy it with copyResolution). */
export function sharedResolution(model: EnvoyModel, cluster: Cluster): EndpointResolution {
  return memoPair(RESOLUTIONS, model, cluster, frozenResolution)
}

function frozenResolution(model: EnvoyModel, cluster: Cluster): EndpointResolution {
  const r = clusterResolution(model, cluster)
  freezeStep(r.step)
  return r
}

function originalDstEndpoints(model: EnvoyModel, cluster: Cluster, originalDst: { ip: string; port: number }): EndpointResolution {
  const address = formatAddress(originalDst.ip, originalDst.port)
  const bind = cluster.upstreamBindAddress ? ` from ${cluster.upstreamBindAddress}` : ''
  const recent = recentHosts(model, cluster)
  return {
    outcome: PASSTHROUGH_CLUSTERS.includes(cluster.name) ? 'passthrough' : 'forwarded',
    endpoints: [address],
    step: newStep('endpoint', 'matched', `${cluster.name} is ORIGINAL_DST: Envoy connects to the original destination ${address}${bind}.`, {
      chosen: { kind: 'endpoint', name: address, source: cluster.source, excerpt: 'original destination' },
      decision: { clusterType: 'ORIGINAL_DST', endpoint: address, ...(cluster.upstreamBindAddress ? { upstreamBindAddress: cluster.upstreamBindAddress } : {}), ...(recent.length ? { recentHosts: recent } : {}) },
      evidence: [{ field: 'original destination', expected: 'ORIGINAL_DST host', actual: address }],
    }),
  }
}

function clusterResolution(model: EnvoyModel, cluster: Cluster): EndpointResolution {
  const { candidates, sources, known, overprovisioningFactor } = clusterEndpoints(model, cluster)
  if (cluster.name === BLACKHOLE_CLUSTER || (known && candidates.length === 0 && cluster.type === 'STATIC')) {
    return {
      outcome: 'blackhole',
      endpoints: [],
      step: newStep('endpoint', 'dropped', `${cluster.name} has no endpoints: the connection is dropped (503 UH for HTTP, reset for TCP).`, {
        decision: { responseFlag: 'UH', responseCode: 503, stat: `cluster.${cluster.name}.upstream_cx_none_healthy` },
        findings: cluster.name === BLACKHOLE_CLUSTER ? [envoyFinding('blackhole-registry-only', { what: 'the request', cluster: cluster.name })] : [envoyFinding('no-healthy-upstream', { cluster: cluster.name })],
      }),
    }
  }
  if (!known) {
    return {
      outcome: 'unknown',
      endpoints: null,
      step: newStep('endpoint', 'unresolved', `The snapshot has no endpoints for ${cluster.type} cluster ${cluster.name}.`, {
        decision: { clusterType: cluster.type, edsServiceName: cluster.edsServiceName },
        findings: [envoyFinding('no-endpoints-in-snapshot', { cluster: cluster.name, type: cluster.type })],
      }),
    }
  }
  const counted = candidates.filter((c) => c.health !== 'excluded')
  const healthy = counted.filter((c) => c.health === 'healthy')
  const degraded = counted.filter((c) => c.health === 'degraded')
  const priorities = [...new Set(candidates.map((c) => c.priority))].sort((a, b) => a - b)
  const load = priorityLoad(
    priorities.map((p) => ({ priority: p, healthy: healthy.filter((c) => c.priority === p).length, total: counted.filter((c) => c.priority === p).length })),
    overprovisioningFactor,
  )
  const rejected: Alternative[] = candidates
    .filter((c) => c.health !== 'healthy')
    .map((c) => ({ candidate: endpointRef(c), reason: c.health === 'degraded' ? 'degraded' : c.health === 'excluded' ? 'excluded' : 'unhealthy', evidence: [{ field: c.healthSource === 'clusters' ? 'health_flags' : 'health_status', expected: 'healthy', actual: c.healthDetail }] }))
  // Healthy hosts of a priority that gets no load are failover capacity, not candidates.
  const idle = healthy.filter((c) => (load.get(c.priority) ?? 0) === 0 && healthy.some((h) => (load.get(h.priority) ?? 0) > 0))
  rejected.push(...idle.map((c) => ({ candidate: endpointRef(c), reason: 'lower-precedence' as const, evidence: [{ field: 'priority', expected: 'a priority that gets load', actual: `priority ${c.priority} gets 0%` }] })))
  const decision: Record<string, unknown> = {
    sources,
    lbPolicy: cluster.lbPolicy,
    total: counted.length,
    healthy: healthy.length,
    degraded: degraded.length,
    ...(priorities.length > 1 ? { priorityLoad: Object.fromEntries(load) } : {}),
    healthyPanicThreshold: cluster.healthyPanicThreshold,
  }
  if (counted.length === 0 || (healthy.length === 0 && degraded.length === 0 && cluster.healthyPanicThreshold <= 0)) {
    return {
      outcome: 'no_healthy_upstream',
      endpoints: [],
      step: newStep('endpoint', 'no_match', `${cluster.name} has no healthy endpoint (${counted.length} total): 503 UH.`, {
        decision: { ...decision, responseFlag: 'UH', responseCode: 503 },
        rejected,
        findings: [envoyFinding('no-healthy-upstream', { cluster: cluster.name })],
      }),
    }
  }
  const findings = []
  const healthyPercent = (healthy.length / counted.length) * 100
  let panic = false
  if (healthyPercent < cluster.healthyPanicThreshold) {
    panic = true
    findings.push(envoyFinding('all-endpoints-unhealthy-panic', { healthy: healthy.length, total: counted.length, cluster: cluster.name, threshold: cluster.healthyPanicThreshold }))
  }
  // Eligible: healthy hosts, then degraded ones (used when healthy hosts are insufficient); every host in panic mode.
  const eligible = panic ? counted : [...healthy.filter((c) => !idle.includes(c)), ...degraded]
  return {
    outcome: 'forwarded',
    endpoints: eligible.map((c) => c.address),
    step: newStep('endpoint', 'matched', `${cluster.name}: ${eligible.length} eligible of ${counted.length} endpoints (${eligible.map((c) => c.address).slice(0, 5).join(', ')}${eligible.length > 5 ? ', …' : ''})${panic ? ', panic mode' : ''}.`, {
        ...(eligible.length === 1 ? { chosen: endpointRef(eligible[0]) } : {}),
        decision: { ...decision, eligible: eligible.map((c) => ({ address: c.address, weight: c.weight, priority: c.priority, locality: c.locality || null })), panic },
        evidence: eligible.slice(0, 10).map((c) => ({ field: `endpoint ${c.address}`, expected: 'healthy', actual: c.healthDetail })),
        rejected: panic ? [] : rejected,
        findings,
      }),
  }
}

function recentHosts(model: EnvoyModel, cluster: Cluster): string[] {
  const status = envoyIndex(model).clusterStatusesByName.get(cluster.name)
  return status ? status.hosts.map((h) => hostKey(h.ip, h.port)) : []
}
