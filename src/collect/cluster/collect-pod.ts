import type { Snapshot } from '../../engine/snapshot.js'
import { UserError } from '../../errors.js'
import { podFacts, serviceFacts } from '../bundle/read-bundle.js'
import { parseAdminHttpReply } from './admin-http.js'
import { adminHttpRequest, adminPortOf, pilotAgentRequestArgv } from './admin-paths.js'
import { isIstioCniPod, rebuildIstioCniRules } from './istio-cni.js'
import { createKubeApi, KubeApiError, type KubeApi, type KubeObject } from './kube-api.js'
import { connectToCluster, type KubeConnection, type KubeOptions } from './kube-connection.js'
import { describeForNote, explainKubeError } from './kube-errors.js'
import { checkPodUsable, parsePodTarget, resolvePod } from './target.js'

export type { KubeOptions } from './kube-connection.js'
export { kubeOptionsFromFlags } from './kube-connection.js'

/** The init containers whose logs hold the applied iptables rules, per mesh (iptables-semantics.md §5, §7). */
export const MESH_INIT_CONTAINERS: ReadonlyArray<{ container: string; mesh: string }> = [
  { container: 'istio-init', mesh: 'Istio' },
  { container: 'kuma-init', mesh: 'Kuma' },
  { container: 'consul-connect-inject-init', mesh: 'Consul' },
  { container: 'osm-init', mesh: 'OSM' },
  { container: 'linkerd-init', mesh: 'Linkerd' },
]

/** The admin paths one collection reads, and where each lands in the snapshot. */
const ENVOY_FETCHES = [
  { path: 'config_dump?include_eds', key: 'configDump', json: 'required' },
  { path: 'clusters?format=json', key: 'clusters', json: 'optional' },
  { path: 'stats', key: 'stats', json: 'never' },
] as const

/** Everything one collection read, raw, so `capture` can write it exactly as served (after redaction). */
export interface CollectedPod {
  snapshot: Snapshot
  raw: {
    pod: KubeObject
    /** The Service List as served. */
    services?: KubeObject
    /** The Pod List of the pod's namespace as served. */
    pods?: KubeObject
    /** The EndpointSlice List as served (endpoint IP → pod, across namespaces). */
    endpointSlices?: KubeObject
    /** Admin bodies as served: `config_dump`, `clusters`, `stats`. */
    admin: Partial<Record<'configDump' | 'clusters' | 'stats', string>>
    /** Where the iptables text came from: the init container whose log it is, or the istio-cni rebuild. */
    iptablesSource?: { kind: 'init-log'; container: string; mesh: string } | { kind: 'cni'; inputs: string[] }
    /** How the admin was reached. */
    envoyVia?: 'exec' | 'port-forward'
  }
  connection: { server: string; context: string; namespace: string; container: string }
  /** The API server's gitVersion, when asked for. */
  serverVersion?: string
}

/** A fetch that failed without stopping the collection. */
class AdminFetchError extends Error {
  constructor(
    readonly reason: 'no-pilot-agent' | 'admin-down' | 'incomplete' | 'failed',
    message: string,
    readonly cause2?: unknown,
  ) {
    super(message)
    this.name = 'AdminFetchError'
  }
}

/**
 * Collects a pod's facts from the live cluster, read-only: the Pod, its iptables (the init container's log, or the
 * istio-cni rebuild), Envoy's config_dump / clusters / stats through `pilot-agent request GET` in the sidecar
 * (port-forward to :15000 when there is no pilot-agent or exec is refused), Services and the namespace's Pods — all in
 * one concurrent wave, each with --request-timeout. What fails becomes a note; throws a UserError (one sentence and a
 * next step) when the pod cannot be read at all, or when neither iptables nor a config dump could be collected.
 */
export async function collectFromPod(target: string, options: KubeOptions, progress: (message: string) => void = () => {}): Promise<Snapshot> {
  return (await collectPodEvidence(target, options, progress)).snapshot
}

/** As `collectFromPod`, keeping the raw objects and admin bodies (for `capture`). */
export async function collectPodEvidence(target: string, options: KubeOptions, progress: (message: string) => void = () => {}, extras: CollectExtras = {}): Promise<CollectedPod> {
  const parsed = parsePodTarget(target)
  const conn = await connectToCluster(options)
  const api = (extras.apiFactory ?? createKubeApi)(conn)
  let pod: KubeObject
  try {
    progress(`reading ${parsed.kind === 'pod' ? 'pod' : parsed.kind} ${conn.namespace}/${parsed.name}`)
    pod = await resolvePod(api, parsed, conn.namespace, progress)
  } catch (err) {
    throw await explainKubeError(err, api, { namespace: conn.namespace, server: conn.server, what: `pod ${parsed.name}` })
  }
  checkPodUsable(pod, options.container)
  return await collectResolvedPod(api, conn, pod, options.container, progress, extras.serverVersion === true)
}

/** Extra choices for `collectPodEvidence`. */
export interface CollectExtras {
  /** Replace the API client (tests). */
  apiFactory?: (conn: KubeConnection) => KubeApi
  /** Also read the API server's version (GET /version), for meta.json. */
  serverVersion?: boolean
}

/**
 * For --follow: the pod that owns `ip` (not host-network), collected like `collectFromPod`; undefined when no pod has
 * that IP. Searches all namespaces (`list pods` cluster-wide), else the namespace in use. A pod without the sidecar
 * yields a snapshot with only its pod facts and a note.
 */
export async function collectPodByIp(ip: string, options: KubeOptions, progress: (message: string) => void = () => {}): Promise<Snapshot | undefined> {
  const conn = await connectToCluster(options)
  const api = createKubeApi(conn)
  const selector = `fieldSelector=${encodeURIComponent(`status.podIP=${ip}`)}`
  let list: KubeObject
  try {
    try {
      list = await api.get(`/api/v1/pods?${selector}`, 'list pods')
    } catch (err) {
      // Without a cluster-wide list, look in the namespace in use.
      if (!(err instanceof KubeApiError && err.status === 403)) throw err
      list = await api.get(`/api/v1/namespaces/${enc(conn.namespace)}/pods?${selector}`, 'list pods')
    }
  } catch (err) {
    throw await explainKubeError(err, api, { namespace: conn.namespace, server: conn.server, what: `the pod with IP ${ip}` })
  }
  const pods = (Array.isArray(list.items) ? (list.items as KubeObject[]) : []).filter((p) => obj(p.spec).hostNetwork !== true && obj(p.status).phase === 'Running')
  const pod = pods[0]
  if (pod === undefined) return undefined
  const meta = obj(pod.metadata)
  progress(`next hop ${ip} is pod ${String(meta.namespace)}/${String(meta.name)}`)
  try {
    checkPodUsable(pod, options.container)
  } catch (err) {
    if (!(err instanceof UserError)) throw err
    return { pod: podFacts(pod, 'pod'), notes: [err.message], capturedAt: new Date().toISOString() }
  }
  return (await collectResolvedPod(api, { ...conn, namespace: String(meta.namespace ?? conn.namespace) }, pod, options.container, progress)).snapshot
}

/** The concurrent wave for a pod already read and checked. */
async function collectResolvedPod(api: KubeApi, conn: KubeConnection, pod: KubeObject, container: string, progress: (message: string) => void, withServerVersion = false): Promise<CollectedPod> {
  const meta = obj(pod.metadata)
  const name = String(meta.name)
  const ns = String(meta.namespace ?? conn.namespace)
  const podRef = `${ns}/${name}`
  const notes: string[] = []
  const raw: CollectedPod['raw'] = { pod, admin: {} }
  const explain = (err: unknown, what: string): Promise<UserError> => explainKubeError(err, api, { namespace: ns, server: conn.server, what })
  const started = Date.now()
  progress(`collecting from ${podRef} (iptables, Envoy config_dump/clusters/stats, services, endpoint slices, pods)…`)

  const inits = (Array.isArray(obj(pod.spec).initContainers) ? (obj(pod.spec).initContainers as unknown[]) : []).map((c) => String(obj(c).name))
  const meshInit = MESH_INIT_CONTAINERS.find((m) => inits.includes(m.container))
  const iptablesTask = (async (): Promise<Snapshot['iptables']> => {
    if (meshInit !== undefined) {
      try {
        const log = await api.getText(`/api/v1/namespaces/${enc(ns)}/pods/${enc(name)}/log?container=${enc(meshInit.container)}`, 'get pods/log')
        if (log.trim() === '') {
          notes.push(`iptables: the log of init container ${meshInit.container} is empty (rotated away, or the runtime keeps no init logs), so the iptables stage cannot be simulated.`)
          return undefined
        }
        raw.iptablesSource = { kind: 'init-log', container: meshInit.container, mesh: meshInit.mesh }
        return { v4: log, origin: 'init-log' }
      } catch (err) {
        notes.push(`iptables: the log of init container ${meshInit.container} could not be read: ${describeForNote(await explain(err, `the ${meshInit.container} log`))}; the trace starts at the Envoy listener.`)
        return undefined
      }
    }
    if (isIstioCniPod(pod)) {
      const rebuilt = rebuildIstioCniRules(pod, container)
      if ('unsupported' in rebuilt) {
        notes.push(`iptables: the pod uses istio-cni (no istio-init log) and its rules cannot be rebuilt: ${rebuilt.unsupported}.`)
        return undefined
      }
      raw.iptablesSource = { kind: 'cni', inputs: rebuilt.inputs }
      notes.push('iptables: the pod uses istio-cni, which leaves no istio-init log; the rules were rebuilt from the pod annotations and the istio-cni defaults, so every iptables step rests on that rebuild.')
      return { v4: rebuilt.v4, origin: 'cni' }
    }
    notes.push(`iptables: pod ${podRef} has no known mesh init container (${MESH_INIT_CONTAINERS.map((m) => m.container).join(', ')}) and no istio-cni marker, so the iptables stage cannot be simulated.`)
    return undefined
  })()

  const envoyErrors: unknown[] = []
  const envoyTasks = ENVOY_FETCHES.map(async (fetch) => {
    try {
      const { body, via } = await fetchAdmin(api, ns, name, container, adminPortOf(pod, container), fetch.path, fetch.json === 'required')
      raw.admin[fetch.key] = body
      raw.envoyVia ??= via
      return [fetch.key, fetch.json === 'never' || !/^\s*[[{]/.test(body) ? body : JSON.parse(body)] as const
    } catch (err) {
      envoyErrors.push(err)
      const reason = err instanceof AdminFetchError ? err.message : describeForNote(await explain(err, `Envoy ${fetch.path}`))
      notes.push(`envoy: ${fetch.path} could not be read: ${reason}.`)
      return undefined
    }
  })

  const servicesTask = (async (): Promise<KubeObject | undefined> => {
    try {
      return await api.get('/api/v1/services', 'list services')
    } catch (err) {
      if (err instanceof KubeApiError && err.status === 403) {
        try {
          const list = await api.get(`/api/v1/namespaces/${enc(ns)}/services`, 'list services')
          notes.push(`services: only namespace ${ns} could be listed (no cluster-wide list services), so names in other namespaces resolve through the Envoy config only.`)
          return list
        } catch (inner) {
          err = inner
        }
      }
      notes.push(`services: could not be listed: ${describeForNote(await explain(err, 'services'))}; names resolve through the Envoy config only.`)
      return undefined
    }
  })()
  const slicesTask = (async (): Promise<KubeObject | undefined> => {
    try {
      return await api.get('/apis/discovery.k8s.io/v1/endpointslices', 'list endpointslices')
    } catch (err) {
      if (err instanceof KubeApiError && err.status === 403) {
        try {
          return await api.get(`/apis/discovery.k8s.io/v1/namespaces/${enc(ns)}/endpointslices`, 'list endpointslices')
        } catch (inner) {
          err = inner
        }
      }
      notes.push(`endpointslices: could not be listed: ${describeForNote(await explain(err, 'endpoint slices'))}; endpoints in other namespaces are not matched to pods.`)
      return undefined
    }
  })()
  const podsTask = (async (): Promise<KubeObject | undefined> => {
    try {
      return await api.get(`/api/v1/namespaces/${enc(ns)}/pods`, 'list pods')
    } catch (err) {
      notes.push(`pods: could not be listed: ${describeForNote(await explain(err, 'pods'))}; endpoints are not matched to pods.`)
      return undefined
    }
  })()

  const versionTask = withServerVersion
    ? api.get('/version', 'get version').then((v) => (typeof v.gitVersion === 'string' ? v.gitVersion : undefined), () => undefined)
    : Promise.resolve(undefined)
  const [iptables, envoyResults, services, pods, slices, serverVersion] = await Promise.all([iptablesTask, Promise.all(envoyTasks), servicesTask, podsTask, slicesTask, versionTask])
  const envoy: NonNullable<Snapshot['envoy']> = { origin: raw.envoyVia ?? 'exec' }
  for (const r of envoyResults) if (r !== undefined) (envoy as Record<string, unknown>)[r[0]] = r[1]
  if (envoy.configDump === undefined && iptables === undefined) {
    const first = envoyErrors.find((e) => !(e instanceof AdminFetchError)) ?? envoyErrors[0]
    if (first instanceof AdminFetchError) throw adminUserError(first, podRef, container)
    throw await explain(first, `the Envoy config of ${podRef}`)
  }
  const snapshot: Snapshot = { pod: podFacts(pod, 'pod'), notes: [...new Set(notes)].sort(noteOrder), capturedAt: new Date().toISOString(), files: {} }
  const files = snapshot.files as Record<string, string>
  files.pod = `pod ${podRef}`
  if (iptables !== undefined) {
    snapshot.iptables = iptables
    files['iptables-save'] = raw.iptablesSource?.kind === 'init-log' ? `${podRef} (log of ${raw.iptablesSource.container})` : `${podRef} (rules rebuilt for istio-cni)`
  }
  if (envoy.configDump !== undefined || envoy.clusters !== undefined || envoy.stats !== undefined) {
    snapshot.envoy = envoy
    for (const [k, n] of [['configDump', 'config_dump'], ['clusters', 'clusters'], ['stats', 'stats']] as const) {
      if (envoy[k] !== undefined) files[n] = `${podRef} (Envoy ${n})`
    }
  }
  if (services !== undefined) {
    raw.services = services
    snapshot.services = serviceFacts(services, 'services')
  }
  if (pods !== undefined) raw.pods = pods
  if (slices !== undefined) raw.endpointSlices = slices
  if (pods !== undefined || slices !== undefined) snapshot.pods = podsByIp(pods, slices, ns)
  progress(`collected ${podRef} in ${((Date.now() - started) / 1000).toFixed(1)}s${snapshot.notes.length > 0 ? ` (${snapshot.notes.length} note${snapshot.notes.length > 1 ? 's' : ''})` : ''}`)
  return { snapshot, raw, connection: { server: conn.server, context: conn.context, namespace: ns, container }, ...(serverVersion !== undefined ? { serverVersion } : {}) }
}

/** The namespace's pods, then the pods of other namespaces that EndpointSlices name (targetRef), with their IPs. */
export function podsByIp(pods: KubeObject | undefined, slices: KubeObject | undefined, namespace: string): NonNullable<Snapshot['pods']> {
  const out = new Map<string, { name: string; namespace: string; ips: string[] }>()
  for (const p of items(pods)) {
    const st = obj(p.status)
    const ips = items({ items: st.podIPs }).map((x) => String(x.ip))
    if (ips.length === 0 && typeof st.podIP === 'string') ips.push(st.podIP)
    const entry = { name: String(obj(p.metadata).name), namespace: String(obj(p.metadata).namespace ?? namespace), ips }
    out.set(`${entry.namespace}/${entry.name}`, entry)
  }
  for (const slice of items(slices)) {
    for (const ep of items({ items: slice.endpoints })) {
      const ref = obj(ep.targetRef)
      if (ref.kind !== 'Pod' || typeof ref.name !== 'string') continue
      const podNs = String(ref.namespace ?? obj(slice.metadata).namespace ?? namespace)
      const key = `${podNs}/${ref.name}`
      const entry = out.get(key) ?? { name: ref.name, namespace: podNs, ips: [] }
      for (const a of Array.isArray(ep.addresses) ? ep.addresses : []) if (typeof a === 'string' && !entry.ips.includes(a)) entry.ips.push(a)
      out.set(key, entry)
    }
  }
  return [...out.values()]
}

function items(list: unknown): Record<string, unknown>[] {
  const xs = obj(list).items
  return Array.isArray(xs) ? xs.map(obj) : []
}

/** Notes in a stable order: by topic, so concurrent completion does not reorder them. */
function noteOrder(a: string, b: string): number {
  return a.localeCompare(b)
}

/**
 * One admin GET: exec `pilot-agent request GET <path>` in the sidecar; if the sidecar has no pilot-agent or exec is
 * refused, a port-forward to :15000. A stream that ends without exec's status frame, or a JSON body that does not
 * parse, is incomplete: retried once, then reported — never taken as a complete dump.
 */
async function fetchAdmin(api: KubeApi, ns: string, pod: string, container: string, adminPort: number, path: string, mustBeJson: boolean): Promise<{ body: string; via: 'exec' | 'port-forward' }> {
  const attempt = async (): Promise<{ body: string; via: 'exec' | 'port-forward' }> => {
    let body: string
    let via: 'exec' | 'port-forward' = 'exec'
    try {
      body = await execAdmin(api, ns, pod, container, adminPort, path)
    } catch (err) {
      const refused = err instanceof KubeApiError && err.status === 403
      if (!(err instanceof AdminFetchError && err.reason === 'no-pilot-agent') && !refused) throw err
      try {
        body = await portForwardAdmin(api, ns, pod, adminPort, path)
        via = 'port-forward'
      } catch (pfErr) {
        // Without pilot-agent, the port-forward's failure is the news; when exec was refused, the 403 names the permission.
        if (refused) throw err
        throw new AdminFetchError('no-pilot-agent', `the ${container} container has no pilot-agent, and the port-forward to :${adminPort} failed (${pfErr instanceof Error ? pfErr.message : String(pfErr)})`)
      }
    }
    if (mustBeJson) {
      try {
        JSON.parse(body)
      } catch {
        throw new AdminFetchError('incomplete', `the ${path} reply is not complete JSON (${body.length} bytes${body.length > 0 ? `, starting ${JSON.stringify(body.slice(0, 40))}` : ''})`)
      }
    }
    return { body, via }
  }
  try {
    return await attempt()
  } catch (err) {
    if (err instanceof AdminFetchError && err.reason === 'incomplete') return await attempt()
    throw err
  }
}

async function execAdmin(api: KubeApi, ns: string, pod: string, container: string, adminPort: number, path: string): Promise<string> {
  const result = await api.exec(ns, pod, container, pilotAgentRequestArgv(path))
  const stdout = result.stdout.toString('utf8')
  if (result.status === undefined) {
    throw new AdminFetchError('incomplete', `the exec stream closed before pilot-agent finished (no status received; ${result.stdout.length} bytes arrived)`)
  }
  if (result.status.status === 'Success') return stdout
  const text = `${result.status.message ?? ''} ${result.stderr}`
  if (/pilot-agent.*(not found|no such file)|executable file not found/i.test(text)) {
    throw new AdminFetchError('no-pilot-agent', `the ${container} container has no pilot-agent`)
  }
  if (/connection refused|dial tcp|connect: /i.test(result.stderr)) {
    throw new AdminFetchError('admin-down', `the Envoy admin on :${adminPort} does not answer (${firstLine(result.stderr)})`)
  }
  throw new AdminFetchError('failed', `pilot-agent request GET ${path} failed (${firstLine(result.stderr) || result.status.message || 'non-zero exit'})`)
}

async function portForwardAdmin(api: KubeApi, ns: string, pod: string, adminPort: number, path: string): Promise<string> {
  const bytes = await api.portForward(ns, pod, adminPort, adminHttpRequest(path, adminPort), (received) => parseAdminHttpReply(received, false).complete)
  const reply = parseAdminHttpReply(bytes, true)
  if (reply.status === undefined) throw new AdminFetchError('incomplete', `the admin reply through port-forward ended before its headers (${bytes.length} bytes)`)
  if (reply.status !== 200) throw new AdminFetchError('failed', `the Envoy admin answered ${reply.status} for ${path} through port-forward`)
  if (!reply.complete || reply.body === undefined) throw new AdminFetchError('incomplete', `the admin reply for ${path} through port-forward broke off (${bytes.length} bytes)`)
  return reply.body.toString('utf8')
}

function adminUserError(err: AdminFetchError, podRef: string, container: string): UserError {
  switch (err.reason) {
    case 'admin-down':
      return new UserError(`The Envoy admin of pod ${podRef} does not answer: ${err.message}.`, { code: 'admin-not-answering', hint: `Check the sidecar is healthy (kubectl logs ${podRef.split('/')[1]} -c ${container} -n ${podRef.split('/')[0]}), then retry.` })
    case 'no-pilot-agent':
      return new UserError(`The Envoy admin of pod ${podRef} cannot be reached: ${err.message}.`, { code: 'admin-not-answering', hint: 'Name the Envoy sidecar with -c CONTAINER, or capture the config elsewhere and use --config-dump.' })
    default:
      return new UserError(`The Envoy config of pod ${podRef} could not be read: ${err.message}.`, { code: 'admin-failed', hint: 'Retry; if it keeps failing, raise --request-timeout (large meshes have large config dumps).' })
  }
}

function firstLine(s: string): string {
  return s.trim().split('\n')[0] ?? ''
}

function enc(s: string): string {
  return encodeURIComponent(s)
}

function obj(v: unknown): Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {}
}
