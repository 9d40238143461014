/**
 * Cluster lookup: type, lb policy, DestinationRule provenance; a missing cluster is 503 NC (NR before Envoy 1.18).
 */
import { copyStep, deepFreeze, freezeStep, newStep, type TraceStep } from '../trace/trace.js'
import { envoyIndex } from './config-dump.js'
import { envoyFinding } from './findings.js'
import type { Cluster, EnvoyModel } from './model.js'
import { clusterRef } from './refs.js'

/** Istio's catch-all clusters for unknown destinations. */
export const PASSTHROUGH_CLUSTERS = ['PassthroughCluster', 'InboundPassthroughClusterIpv4', 'InboundPassthroughClusterIpv6']

/** Istio's cluster that drops traffic. */
export const BLACKHOLE_CLUSTER = 'BlackHoleCluster'

/** Parses an Istio cluster name `direction|port|subset|host`. */
export function parseIstioClusterName(name: string): { direction: string; port: number; subset: string; host: string } | null {
  const parts = name.split('|')
  if (parts.length !== 4) return null
  return { direction: parts[0], port: Number(parts[1]), subset: parts[2], host: parts[3] }
}

/** The major and minor of an Envoy version string, or null when it has none. */
function majorMinor(version: string | null): [number, number] | null {
  const m = version ? /^(\d+)\.(\d+)/.exec(version) : null
  return m ? [Number(m[1]), Number(m[2])] : null
}

/** The model's Envoy version (major, minor), parsed once per model; null when unknown. */
const VERSIONS = new WeakMap<EnvoyModel, [number, number] | null>()

/** Whether the snapshot's Envoy is older than major.minor (null when the version is unknown). */
export function envoyBefore(model: EnvoyModel, major: number, minor: number): boolean | null {
  let v = VERSIONS.get(model)
  if (v === undefined) {
    v = majorMinor(model.bootstrap?.envoyVersion ?? null)
    VERSIONS.set(model, v)
  }
  if (v === null) return null
  return v[0] < major || (v[0] === major && v[1] < minor)
}

/** The response flag for a missing cluster for this Envoy: NC (≥1.18) or NR (before). */
export function clusterNotFoundFlag(model: EnvoyModel): string {
  const before = envoyBefore(model, 1, 18)
  return before === null ? 'NC (NR before Envoy 1.18)' : before ? 'NR' : 'NC'
}

/** The result of looking a cluster up. */
export interface ClusterLookup {
  cluster: Cluster | null
  step: TraceStep
}

/** Looks up a cluster by name and builds the `cluster` step. */
export function lookupCluster(model: EnvoyModel, name: string, via: string): ClusterLookup {
  const cluster = envoyIndex(model).clustersByName.get(name) ?? null
  if (!cluster) {
    const findings = model.present.clusters
      ? [envoyFinding('cluster-not-found', { cluster: name || '(empty name)', flag: clusterNotFoundFlag(model) })]
      : [envoyFinding('config-missing-from-snapshot', { what: `cluster dump (cluster ${name})` })]
    return {
      cluster: null,
      step: newStep('cluster', 'unresolved', `Cluster ${name || '(empty name)'} (${via}) is not in the ${model.present.clusters ? 'config dump' : 'snapshot: it has no clusters'}.`, {
        decision: { cluster: name, via, ...(model.present.clusters ? { responseCode: 503, responseFlag: clusterNotFoundFlag(model) } : {}) },
        findings,
      }),
    }
  }
  const shared = sharedClusterStep(cluster)
  // `via` (how the route named the cluster) is the one request-dependent field; it comes second, as it always has.
  let decision = shared.byVia.get(via)
  if (decision === undefined) {
    decision = deepFreeze({ cluster: cluster.name, via, ...shared.step.decision })
    shared.byVia.set(via, decision)
  }
  return { cluster, step: copyStep(shared.step, decision) }
}

/** The cluster step of a found cluster (its decision without `cluster` and `via`), and the decision for each `via` seen. */
interface SharedClusterStep {
  step: TraceStep
  byVia: Map<string, Record<string, unknown>>
}

const CLUSTER_STEPS = new WeakMap<Cluster, SharedClusterStep>()

function sharedClusterStep(cluster: Cluster): SharedClusterStep {
  let shared = CLUSTER_STEPS.get(cluster)
  if (shared === undefined) {
    shared = { step: freezeStep(foundClusterStep(cluster)), byVia: new Map() }
    CLUSTER_STEPS.set(cluster, shared)
  }
  return shared
}

function foundClusterStep(cluster: Cluster): TraceStep {
  const decision: Record<string, unknown> = { type: cluster.type, lbPolicy: cluster.lbPolicy }
  if (cluster.extensionType) decision.clusterType = cluster.extensionType
  if (cluster.edsServiceName) decision.edsServiceName = cluster.edsServiceName
  if (cluster.istioConfig) {
    const parts = cluster.istioConfig.split('/').filter((p) => p !== '')
    decision.destinationRule = parts[parts.length - 1]
    decision.istioConfig = cluster.istioConfig
  }
  if (cluster.upstreamBindAddress) decision.upstreamBindAddress = cluster.upstreamBindAddress
  if (cluster.state === 'warming') decision.state = 'warming'
  const parsed = parseIstioClusterName(cluster.name)
  if (parsed?.subset && parsed.direction === 'outbound') decision.subset = parsed.subset
  if (cluster.type === 'extension') {
    return newStep('cluster', 'unresolved', `Cluster ${cluster.name} is a ${cluster.extensionType ?? 'cluster_type'} extension, which mesh-trace does not model.`, {
      chosen: clusterRef(cluster),
      decision,
      findings: [envoyFinding('unknown-extension', { where: `cluster ${cluster.name}`, typeUrl: cluster.extensionType ?? 'cluster_type' })],
    })
  }
  const provenance = cluster.istioConfig ? ` from ${cluster.istioConfig}` : ''
  return newStep('cluster', 'matched', `Cluster ${cluster.name}: ${cluster.type}, ${cluster.lbPolicy}${provenance}.`, { chosen: clusterRef(cluster), decision })
}
