import { readFileSync, existsSync } from 'node:fs'
import path from 'node:path'

/** A JSON object as the API serves it. */
export type KubeObject = Record<string, any> // eslint-disable-line @typescript-eslint/no-explicit-any

/** What one pod serves beyond its object: init container logs and Envoy admin responses (path → body). */
export interface FakePod {
  object: KubeObject
  /** container name → log text. */
  logs: Record<string, string>
  /** Envoy admin path (with query) → body, e.g. `config_dump?include_eds` → JSON text. */
  admin: Record<string, string>
  /** The sidecar has a pilot-agent binary (false: exec of pilot-agent fails, port-forward is needed). */
  pilotAgent: boolean
  /** The Envoy admin port a port-forward reaches (default 15000). */
  adminPort?: number
}

/** The fake cluster's state: pods with their data, services, and workloads derived from the pods. */
export interface FakeClusterData {
  pods: FakePod[]
  services: KubeObject[]
}

/** The admin paths a bundle's files answer (what `pilot-agent request GET <path>` returns). */
export const ADMIN_FILES: Array<[path: string, file: string]> = [
  ['config_dump?include_eds', 'config_dump.json'],
  ['config_dump', 'config_dump.json'],
  ['clusters?format=json', 'clusters.json'],
  ['clusters', 'clusters.txt'],
  ['stats', 'stats.txt'],
  ['server_info', 'server_info.json'],
]

/** Loads a bundle directory (examples/bookinfo…) as the fake cluster's data: its pod (full), pods.json (bare), services.json. */
export function loadBundleCluster(dir: string): FakeClusterData {
  const read = (name: string): string | undefined => (existsSync(path.join(dir, name)) ? readFileSync(path.join(dir, name), 'utf8') : undefined)
  const podObject = JSON.parse(read('pod.json') ?? '{}') as KubeObject
  const admin: Record<string, string> = {}
  for (const [p, file] of ADMIN_FILES) {
    const text = read(file)
    if (text !== undefined) admin[p] = text
  }
  if (admin['config_dump?include_eds'] === undefined && admin.config_dump !== undefined) admin['config_dump?include_eds'] = admin.config_dump
  const logs: Record<string, string> = {}
  const save = read('iptables-save.txt')
  const inits = ((podObject.spec?.initContainers ?? []) as KubeObject[]).map((c) => String(c.name))
  if (save !== undefined && inits.includes('istio-init')) logs['istio-init'] = istioInitLog(save, podObject)
  const main: FakePod = { object: podObject, logs, admin, pilotAgent: true }
  const listed = JSON.parse(read('pods.json') ?? '{"items":[]}') as { items?: KubeObject[] }
  const others = (listed.items ?? [])
    .filter((p) => !(p.metadata?.name === podObject.metadata?.name && (p.metadata?.namespace ?? 'default') === (podObject.metadata?.namespace ?? 'default')))
    .map((p): FakePod => ({ object: p, logs: {}, admin: {}, pilotAgent: true }))
  const services = (JSON.parse(read('services.json') ?? '{"items":[]}') as { items?: KubeObject[] }).items ?? []
  return { pods: [main, ...others], services }
}

/**
 * An istio-init log in the Go-era shape (iptables-semantics.md §5, Istio 1.5–~1.12): Environment and
 * Variables blocks, the restore input, then `iptables-save` and its output, rebuilt from a bundle's save text.
 */
export function istioInitLog(saveText: string, pod: KubeObject): string {
  const save = saveText.replace(/^\[\d+:\d+\] /gm, '').replace(/^(:\S+ \S+) \[\d+:\d+\]$/gm, '$1 [0:0]')
  const restore: string[] = []
  for (const line of save.split('\n')) {
    if (line.startsWith('#') || line.trim() === '') continue
    if (line.startsWith('*')) restore.push(`* ${line.slice(1)}`)
    else if (/^:\S+ - /.test(line)) restore.push(`-N ${line.slice(1).split(' ')[0]}`)
    else if (line.startsWith(':')) continue
    else restore.push(line.replace(/ -m tcp --dport/g, ' --dport'))
  }
  const ip = String(pod.status?.podIP ?? '')
  return [
    'Environment:',
    '------------',
    'ENVOY_PORT=',
    'INBOUND_CAPTURE_PORT=',
    'ISTIO_INBOUND_INTERCEPTION_MODE=',
    'ISTIO_INBOUND_TPROXY_MARK=',
    'ISTIO_INBOUND_TPROXY_ROUTE_TABLE=',
    'ISTIO_INBOUND_PORTS=',
    'ISTIO_LOCAL_EXCLUDE_PORTS=',
    'ISTIO_SERVICE_CIDR=',
    'ISTIO_SERVICE_EXCLUDE_CIDR=',
    '',
    'Variables:',
    '----------',
    'PROXY_PORT=15001',
    'PROXY_INBOUND_CAPTURE_PORT=15006',
    'PROXY_TUNNEL_PORT=15008',
    'PROXY_UID=1337',
    'PROXY_GID=1337',
    'INBOUND_INTERCEPTION_MODE=REDIRECT',
    'INBOUND_TPROXY_MARK=1337',
    'INBOUND_TPROXY_ROUTE_TABLE=133',
    'INBOUND_PORTS_INCLUDE=*',
    'INBOUND_PORTS_EXCLUDE=15090,15021,15020',
    'OUTBOUND_IP_RANGES_INCLUDE=*',
    'OUTBOUND_IP_RANGES_EXCLUDE=',
    'OUTBOUND_PORTS_EXCLUDE=',
    'KUBEVIRT_INTERFACES=',
    'ENABLE_INBOUND_IPV6=false',
    `HOST_IP=${ip}`,
    '',
    'Writing following contents to rules file:  /tmp/iptables-rules-1606301893417683101.txt073517442',
    ...restore,
    'iptables-restore --noflush /tmp/iptables-rules-1606301893417683101.txt073517442',
    'Writing following contents to rules file:  /tmp/ip6tables-rules-1606301893424013893.txt224734921',
    '',
    'ip6tables-restore --noflush /tmp/ip6tables-rules-1606301893424013893.txt224734921',
    'iptables-save ',
    save.trimEnd(),
    'ip6tables-save ',
    '',
  ].join('\n')
}

/** Whether a pod's labels satisfy an equality-based label selector (`a=b,c!=d,e`). */
export function matchesLabelSelector(labels: Record<string, string>, selector: string): boolean {
  if (selector.trim() === '') return true
  return selector.split(',').every((term) => {
    const t = term.trim()
    const ne = /^([^!=]+)!=(.*)$/.exec(t)
    if (ne) return labels[ne[1]] !== ne[2]
    const eq = /^([^=]+)==?(.*)$/.exec(t)
    if (eq) return labels[eq[1]] === eq[2]
    return t.startsWith('!') ? !(t.slice(1) in labels) : t in labels
  })
}

/** The workloads (Deployment, StatefulSet, DaemonSet) that own the pods, derived from ownerReferences. */
export function workloadsOf(pods: FakePod[]): KubeObject[] {
  const out = new Map<string, KubeObject>()
  for (const { object: pod } of pods) {
    const ns = String(pod.metadata?.namespace ?? 'default')
    const labels = { ...((pod.metadata?.labels ?? {}) as Record<string, string>) }
    for (const ref of (pod.metadata?.ownerReferences ?? []) as KubeObject[]) {
      let kind = String(ref.kind)
      let name = String(ref.name)
      if (kind === 'ReplicaSet') {
        const hash = labels['pod-template-hash']
        if (hash === undefined || !name.endsWith(`-${hash}`)) continue
        kind = 'Deployment'
        name = name.slice(0, -(hash.length + 1))
        delete labels['pod-template-hash']
      } else if (kind === 'StatefulSet') {
        delete labels['controller-revision-hash']
        delete labels['statefulset.kubernetes.io/pod-name']
      } else if (kind === 'DaemonSet') {
        delete labels['controller-revision-hash']
        delete labels['pod-template-generation']
      } else continue
      const key = `${kind}/${ns}/${name}`
      if (!out.has(key)) {
        out.set(key, {
          apiVersion: 'apps/v1',
          kind,
          metadata: { name, namespace: ns },
          spec: { selector: { matchLabels: labels } },
        })
      }
    }
  }
  return [...out.values()]
}

/** EndpointSlices for the services with selectors, from the pods they select. */
export function endpointSlicesOf(services: KubeObject[], pods: FakePod[]): KubeObject[] {
  return services.flatMap((svc) => {
    const selector = svc.spec?.selector as Record<string, string> | undefined
    if (selector === undefined) return []
    const ns = String(svc.metadata?.namespace ?? 'default')
    const selected = pods.filter(({ object: p }) => (p.metadata?.namespace ?? 'default') === ns && Object.entries(selector).every(([k, v]) => p.metadata?.labels?.[k] === v))
    return [
      {
        apiVersion: 'discovery.k8s.io/v1',
        kind: 'EndpointSlice',
        metadata: { name: `${svc.metadata.name}-fake`, namespace: ns, labels: { 'kubernetes.io/service-name': svc.metadata.name } },
        addressType: 'IPv4',
        endpoints: selected.map(({ object: p }) => ({
          addresses: [String(p.status?.podIP)],
          conditions: { ready: true },
          targetRef: { kind: 'Pod', name: p.metadata.name, namespace: ns },
        })),
        ports: ((svc.spec?.ports ?? []) as KubeObject[]).map((p) => ({ name: p.name ?? '', port: p.targetPort ?? p.port, protocol: p.protocol ?? 'TCP' })),
      },
    ]
  })
}

/**
 * Gives every other Running pod of the main pod's namespace (or those named) the main pod's sidecar: its containers,
 * init containers, container statuses, init log and Envoy admin answers — keeping each pod's own name, labels and IPs.
 * Sample data only (every sidecar serves the main pod's config), enough to walk `--follow` hop after hop.
 */
export function meshPods(data: FakeClusterData, names?: string[]): FakeClusterData {
  const [main, ...others] = data.pods
  const ns = main.object.metadata?.namespace ?? 'default'
  const chosen = (p: FakePod): boolean => (names === undefined ? (p.object.metadata?.namespace ?? 'default') === ns && p.object.status?.phase === 'Running' : names.includes(p.object.metadata?.name))
  return {
    ...data,
    pods: [
      main,
      ...others.map((p): FakePod => {
        if (!chosen(p)) return p
        const object = JSON.parse(JSON.stringify(p.object)) as KubeObject
        object.spec = { ...(object.spec ?? {}), containers: main.object.spec?.containers, initContainers: main.object.spec?.initContainers }
        object.status = { ...(object.status ?? {}), conditions: main.object.status?.conditions, containerStatuses: main.object.status?.containerStatuses, initContainerStatuses: main.object.status?.initContainerStatuses }
        return { object, logs: { ...main.logs }, admin: { ...main.admin }, pilotAgent: main.pilotAgent }
      }),
    ],
  }
}
