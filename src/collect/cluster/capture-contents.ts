import type { BundleContents } from '../bundle/write-bundle.js'
import type { CollectedPod } from './collect-pod.js'

type Obj = Record<string, unknown>
const obj = (v: unknown): Obj => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {})

/** The bundle contents of a live collection: the raw objects and admin bodies as served, plus meta facts. */
export function bundleContentsOf(collected: CollectedPod, info: { toolVersion: string; kubernetesVersion?: string }): BundleContents {
  const { raw, snapshot, connection } = collected
  const meta = obj(raw.pod.metadata)
  const versions: Record<string, string> = { ...envoyVersions(snapshot.envoy?.configDump), ...proxyImage(raw.pod, connection.container) }
  if (info.kubernetesVersion !== undefined) versions.kubernetes = info.kubernetesVersion
  const contents: BundleContents = {
    pod: raw.pod,
    meta: {
      capturedAt: snapshot.capturedAt ?? new Date().toISOString(),
      toolVersion: info.toolVersion,
      source: { context: connection.context, namespace: String(meta.namespace ?? connection.namespace), pod: String(meta.name), container: connection.container },
      versions,
      notes: snapshot.notes,
    },
  }
  if (snapshot.iptables?.v4 !== undefined) contents.iptablesV4 = snapshot.iptables.v4
  if (snapshot.iptables?.v6 !== undefined) contents.iptablesV6 = snapshot.iptables.v6
  if (raw.iptablesSource !== undefined) {
    contents.meta.iptables = raw.iptablesSource.kind === 'init-log'
      ? { origin: 'init-log', container: raw.iptablesSource.container, mesh: raw.iptablesSource.mesh }
      : { origin: 'cni', rebuiltFrom: raw.iptablesSource.inputs }
  }
  if (raw.envoyVia !== undefined) contents.meta.envoy = { via: raw.envoyVia, container: connection.container }
  if (raw.admin.configDump !== undefined) contents.configDump = raw.admin.configDump
  if (raw.admin.clusters !== undefined) contents.clusters = raw.admin.clusters
  if (raw.admin.stats !== undefined) contents.stats = raw.admin.stats
  if (raw.services !== undefined) contents.services = raw.services
  if (raw.pods !== undefined || raw.endpointSlices !== undefined) contents.pods = podListWithSlicePods(raw.pods, snapshot.pods ?? [])
  return contents
}

/**
 * pods.json: the namespace's Pod List as served, plus a bare Pod (name, namespace, IPs) for each pod of another
 * namespace that an EndpointSlice named, so a bundle maps endpoint IPs to pods as the live collection did.
 */
function podListWithSlicePods(list: Obj | undefined, known: Array<{ name: string; namespace: string; ips: string[] }>): Obj {
  const served = Array.isArray(list?.items) ? (list.items as unknown[]).map(obj) : []
  const have = new Set(served.map((p) => `${String(obj(p.metadata).namespace)}/${String(obj(p.metadata).name)}`))
  const extra = known
    .filter((p) => !have.has(`${p.namespace}/${p.name}`))
    .map((p) => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name: p.name, namespace: p.namespace }, status: { ...(p.ips[0] !== undefined ? { podIP: p.ips[0] } : {}), podIPs: p.ips.map((ip) => ({ ip })) } }))
  return { apiVersion: 'v1', kind: 'List', ...(list ?? {}), items: [...served, ...extra] }
}

/** Envoy and Istio versions from the bootstrap node in a config dump (v3 snake_case, or the v2 camelCase forms). */
export function envoyVersions(configDump: unknown): Record<string, string> {
  const configs = Array.isArray(obj(configDump).configs) ? (obj(configDump).configs as unknown[]) : []
  const bootstrap = configs.map(obj).find((c) => typeof c['@type'] === 'string' && c['@type'].endsWith('BootstrapConfigDump'))
  const node = obj(obj(bootstrap?.bootstrap).node)
  const out: Record<string, string> = {}
  const v = obj(obj(node.user_agent_build_version ?? node.userAgentBuildVersion).version)
  const major = v.major_number ?? v.majorNumber
  if (major !== undefined) out.envoy = `${String(major)}.${String(v.minor_number ?? v.minorNumber ?? 0)}.${String(v.patch ?? 0)}`
  else {
    const build = node.build_version ?? node.buildVersion
    const m = typeof build === 'string' ? /\/(\d+\.\d+\.\d+[^/]*)\//.exec(build) : null
    if (m) out.envoy = m[1]
  }
  const istio = obj(node.metadata).ISTIO_VERSION
  if (typeof istio === 'string' && istio !== '') out.istio = istio
  return out
}

function proxyImage(pod: Obj, container: string): Record<string, string> {
  const spec = obj(pod.spec)
  const all = [...(Array.isArray(spec.containers) ? spec.containers : []), ...(Array.isArray(spec.initContainers) ? spec.initContainers : [])].map(obj)
  const image = all.find((c) => c.name === container)?.image
  return typeof image === 'string' ? { proxyImage: image } : {}
}
