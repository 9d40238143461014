import { UserError } from '../../errors.js'
import { KubeApiError, type KubeApi, type KubeObject } from './kube-api.js'

/** What the user named: a pod, or a workload whose ready pod we pick. */
export interface PodTarget {
  kind: 'pod' | 'deployments' | 'statefulsets' | 'daemonsets'
  name: string
}

const KINDS: Record<string, PodTarget['kind']> = {
  pod: 'pod', pods: 'pod', po: 'pod',
  deploy: 'deployments', deployment: 'deployments', deployments: 'deployments',
  sts: 'statefulsets', statefulset: 'statefulsets', statefulsets: 'statefulsets',
  ds: 'daemonsets', daemonset: 'daemonsets', daemonsets: 'daemonsets',
}

/** Parses `POD`, `pod/NAME`, `deploy/NAME`, `sts/NAME`, `ds/NAME` (kubectl's spellings, including the long ones). */
export function parsePodTarget(target: string): PodTarget {
  const slash = target.indexOf('/')
  if (slash < 0) return { kind: 'pod', name: checkName(target, target) }
  const kind = KINDS[target.slice(0, slash).toLowerCase()]
  if (kind === undefined) {
    throw new UserError(`${target} is not a pod or workload: mesh-trace reads POD, pod/NAME, deploy/NAME, sts/NAME or ds/NAME.`, { code: 'usage', exitCode: 2 })
  }
  return { kind, name: checkName(target.slice(slash + 1), target) }
}

function checkName(name: string, target: string): string {
  if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(name)) {
    throw new UserError(`${JSON.stringify(target)} is not a valid pod or workload name.`, { code: 'usage', exitCode: 2, hint: 'Names are lower-case letters, digits, "-" and ".", e.g. reviews-v1-cb8655c75-b97zc or deploy/reviews-v1.' })
  }
  return name
}

type Obj = Record<string, unknown>
const obj = (v: unknown): Obj => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {})
const arr = (v: unknown): Obj[] => (Array.isArray(v) ? v.map(obj) : [])

/** The label selector of a workload, in the API's query syntax. */
export function selectorQuery(workload: KubeObject): string {
  const selector = obj(obj(workload.spec).selector)
  const terms = Object.entries(obj(selector.matchLabels)).map(([k, v]) => `${k}=${String(v)}`)
  for (const e of arr(selector.matchExpressions)) {
    const values = (Array.isArray(e.values) ? e.values : []).map(String).join(',')
    switch (e.operator) {
      case 'In': terms.push(`${String(e.key)} in (${values})`); break
      case 'NotIn': terms.push(`${String(e.key)} notin (${values})`); break
      case 'Exists': terms.push(String(e.key)); break
      case 'DoesNotExist': terms.push(`!${String(e.key)}`); break
    }
  }
  return terms.join(',')
}

/** Whether every container of the pod reports ready and the pod runs. */
export function isPodReady(pod: KubeObject): boolean {
  const status = obj(pod.status)
  return status.phase === 'Running' && arr(status.conditions).some((c) => c.type === 'Ready' && c.status === 'True')
}

/**
 * Reads the pod the target names. A workload resolves to one of its pods: a ready one first (by name, so the
 * choice is stable), and `progress` says which. A missing pod lists close names from its namespace.
 */
export async function resolvePod(api: KubeApi, target: PodTarget, namespace: string, progress: (message: string) => void): Promise<KubeObject> {
  const ns = encodeURIComponent(namespace)
  if (target.kind === 'pod') {
    try {
      return await api.get(`/api/v1/namespaces/${ns}/pods/${encodeURIComponent(target.name)}`, 'get pods')
    } catch (err) {
      if (err instanceof KubeApiError && err.status === 404) throw await podNotFound(api, target.name, namespace)
      throw err
    }
  }
  let workload: KubeObject
  const short = { deployments: 'deploy', statefulsets: 'sts', daemonsets: 'ds' }[target.kind]
  try {
    workload = await api.get(`/apis/apps/v1/namespaces/${ns}/${target.kind}/${encodeURIComponent(target.name)}`, `get ${target.kind}`)
  } catch (err) {
    if (err instanceof KubeApiError && err.status === 404) {
      throw new UserError(`${short}/${target.name} was not found in namespace ${namespace}.`, { code: 'workload-not-found', hint: `List them with kubectl get ${target.kind} -n ${namespace}, or pass -n NAMESPACE.` })
    }
    throw err
  }
  const selector = selectorQuery(workload)
  if (selector === '') throw new UserError(`${short}/${target.name} has no pod selector.`, { code: 'workload-no-selector' })
  const list = await api.get(`/api/v1/namespaces/${ns}/pods?labelSelector=${encodeURIComponent(selector)}`, 'list pods')
  const pods = arr(list.items).sort((a, b) => String(obj(a.metadata).name).localeCompare(String(obj(b.metadata).name)))
  if (pods.length === 0) {
    throw new UserError(`${short}/${target.name} has no pods in namespace ${namespace}.`, { code: 'workload-no-pods', hint: `Check it is scaled up: kubectl get ${target.kind} ${target.name} -n ${namespace}.` })
  }
  const ready = pods.filter(isPodReady)
  const chosen = ready[0] ?? pods.find((p) => obj(p.status).phase === 'Running') ?? pods[0]
  progress(`${short}/${target.name}: using pod ${String(obj(chosen.metadata).name)} (${ready.length} of ${pods.length} ready)`)
  return chosen
}

async function podNotFound(api: KubeApi, name: string, namespace: string): Promise<UserError> {
  let names: string[] = []
  try {
    const list = await api.get(`/api/v1/namespaces/${encodeURIComponent(namespace)}/pods`, 'list pods')
    names = arr(list.items).map((p) => String(obj(p.metadata).name))
  } catch {
    // no list permission: no suggestions
  }
  const close = closeNames(name, names)
  return new UserError(`Pod ${name} was not found in namespace ${namespace}.`, {
    code: 'pod-not-found',
    hint: close.length > 0 ? `Did you mean ${close.join(', ')}? (Or pass -n NAMESPACE.)` : `List the pods with kubectl get pods -n ${namespace}, or pass -n NAMESPACE.`,
  })
}

/** Up to three names close to `name`: those it is a prefix of, then those within a small edit distance. */
export function closeNames(name: string, names: string[]): string[] {
  const prefixed = names.filter((n) => n !== name && n.startsWith(name))
  const limit = Math.max(2, Math.floor(name.length / 4))
  const near = names
    .filter((n) => !prefixed.includes(n))
    .map((n) => ({ n, d: editDistance(name, n) }))
    .filter((x) => x.d <= limit)
    .sort((a, b) => a.d - b.d || a.n.localeCompare(b.n))
    .map((x) => x.n)
  return [...prefixed.sort(), ...near].slice(0, 3)
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]
    row[0] = i
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1))
      prev = tmp
    }
  }
  return row[b.length]
}

/**
 * Checks the pod can be read: it runs, it has the sidecar container (a regular container, or a native sidecar —
 * an init container with restartPolicy Always), and that container is ready.
 */
export function checkPodUsable(pod: KubeObject, container: string): void {
  const meta = obj(pod.metadata)
  const spec = obj(pod.spec)
  const status = obj(pod.status)
  const name = `${String(meta.namespace ?? 'default')}/${String(meta.name)}`
  if (status.phase !== 'Running') {
    throw new UserError(`Pod ${name} is ${String(status.phase ?? 'not running')}, not Running, so its sidecar cannot be read.`, { code: 'pod-not-running', hint: `See why with kubectl describe pod ${String(meta.name)} -n ${String(meta.namespace ?? 'default')}.` })
  }
  const containers = arr(spec.containers).map((c) => String(c.name))
  const nativeSidecars = arr(spec.initContainers).filter((c) => c.restartPolicy === 'Always').map((c) => String(c.name))
  if (!containers.includes(container) && !nativeSidecars.includes(container)) {
    if (obj(meta.annotations)['ambient.istio.io/redirection'] === 'enabled') {
      throw new UserError(`Pod ${name} is in Istio ambient mode: it has no sidecar (ztunnel carries its traffic), and mesh-trace follows sidecars.`, { code: 'pod-ambient', hint: 'Trace from a pod with a sidecar, or inspect ztunnel with istioctl ztunnel-config.' })
    }
    throw new UserError(`Pod ${name} has no ${container} container (it has ${[...containers, ...nativeSidecars].join(', ') || 'none'}).`, {
      code: 'pod-not-meshed',
      hint: 'Choose a pod in the mesh, name the sidecar with -c CONTAINER, or pass --bundle to trace saved config.',
    })
  }
  const statuses = [...arr(status.containerStatuses), ...arr(status.initContainerStatuses)]
  const sidecar = statuses.find((s) => s.name === container)
  if (sidecar !== undefined && sidecar.ready !== true) {
    const waiting = obj(obj(sidecar.state).waiting).reason
    throw new UserError(`The ${container} container of pod ${name} is not ready${typeof waiting === 'string' ? ` (${waiting})` : ''}, so its Envoy config may be incomplete.`, {
      code: 'container-not-ready',
      hint: `Wait for it (kubectl wait --for=condition=Ready pod/${String(meta.name)} -n ${String(meta.namespace ?? 'default')}), or pick another pod.`,
    })
  }
}
