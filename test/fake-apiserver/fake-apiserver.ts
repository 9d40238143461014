import http from 'node:http'
import https from 'node:https'
import { mkdtemp, writeFile, rm, readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { execFileSync } from 'node:child_process'
import type { Duplex } from 'node:stream'
import { WebSocketServer, type WebSocket } from 'ws'
import { endpointSlicesOf, matchesLabelSelector, workloadsOf, type FakeClusterData, type FakePod, type KubeObject } from './cluster-data.js'

/**
 * A protocol-faithful fake Kubernetes API server (stack-notes.md §5): the GETs a read-only collector
 * makes, discovery (so real kubectl works), pods/log, pods/exec and pods/portforward over WebSocket
 * with the channel protocols, and SelfSubjectAccessReview. It records every request and injects faults.
 */

/** One request as the server saw it. */
export interface RecordedRequest {
  method: string
  path: string
  query: Record<string, string[]>
  /** An HTTP upgrade (WebSocket) request. */
  upgrade: boolean
  /** The subprotocol the server chose for an upgrade. */
  protocol?: string
  /** What the request is, e.g. `pod`, `log`, `exec`, `admin:config_dump?include_eds` (see `classify`). */
  endpoint: string
  /** For exec: the argument array as sent (`command=` query parameters in order). */
  command?: string[]
  /** For exec: the container. */
  container?: string
  /** For SSAR: the body. */
  body?: unknown
  /** Milliseconds since the server started. */
  at: number
}

/**
 * A fault applied to the requests of one endpoint: `pod`, `pods`, `log`, `services`, `exec`, `portforward`, or an admin
 * path: `admin:config_dump` (any query), `admin:config_dump?include_eds` (exactly), `admin:` (every admin path).
 */
export interface Fault {
  endpoint: string
  /** Answer after this many milliseconds (for admin endpoints: inside the exec, as a slow admin would). */
  latencyMs?: number
  /** Answer with this HTTP status and a Status body (before any upgrade). */
  status?: number
  /** Exec: send part of stdout, then drop the connection without a status frame (close 1006). */
  cut?: boolean
  /** Exec: send the first half of stdout and then a Success status (a truncated dump). */
  truncate?: boolean
  /** Exec: the admin does not answer (pilot-agent exits 1 with "connection refused"). */
  adminDown?: boolean
  /** Apply only to the first N matching requests. */
  times?: number
}

/** Options of the fake server. */
export interface FakeApiServerOptions {
  data: FakeClusterData
  /** Serve HTTPS with a self-signed certificate the kubeconfig trusts (default). Plain HTTP uses insecure-skip-tls-verify, over which kubectl sends no token. */
  tls?: boolean
  faults?: Fault[]
  /** Permissions the user lacks, as `verb resource[/subresource]` (e.g. `create pods/exec`): answered 403, and SSAR says not allowed. */
  deny?: string[]
  /** Exec is forbidden by admission policy although RBAC allows it (403 on exec, SSAR allowed). */
  execForbiddenByPolicy?: boolean
  /** The bearer token the server accepts (default `fake-token`). */
  token?: string
  /** The token written into the kubeconfig (default: the accepted one; another value gives 401s). */
  kubeconfigToken?: string
  /** Port-forward: keep the stream open after the admin's reply (the client must notice the reply is whole). */
  portForwardStaysOpen?: boolean
  /** Port-forward: the admin answers with a chunked body, as Envoy does for large replies. */
  portForwardChunked?: boolean
  /** Default namespace written into the kubeconfig's context. */
  namespace?: string
}

/** A running fake server. */
export interface FakeApiServer {
  url: string
  /** Path of a kubeconfig file pointing at this server (context `fake`). */
  kubeconfigPath: string
  requests: RecordedRequest[]
  data: FakeClusterData
  faults: Fault[]
  close(): Promise<void>
}

const TOKEN = 'fake-token'

/** Starts the fake API server on 127.0.0.1 (random port) and writes a kubeconfig for it. */
export async function startFakeApiServer(options: FakeApiServerOptions): Promise<FakeApiServer> {
  const started = Date.now()
  const token = options.token ?? TOKEN
  const requests: RecordedRequest[] = []
  const faults = [...(options.faults ?? [])]
  const data = options.data
  const dir = await mkdtemp(path.join(tmpdir(), 'fake-apiserver-'))
  let tlsMaterial: { key: string; cert: string } | undefined
  if (options.tls !== false) tlsMaterial = await selfSignedCert()

  const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    void handleHttp(req, res)
  }
  const server = tlsMaterial ? https.createServer({ key: tlsMaterial.key, cert: tlsMaterial.cert }, handler) : http.createServer(handler)
  const wss = new WebSocketServer({
    noServer: true,
    handleProtocols: (protocols, req) => {
      const wanted = (req.url ?? '').includes('/portforward') ? ['v4.channel.k8s.io'] : ['v5.channel.k8s.io', 'v4.channel.k8s.io']
      return wanted.find((p) => protocols.has(p)) ?? false
    },
  })
  const sockets = new Set<Duplex>()
  server.on('connection', (s) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })

  function takeFault(endpoint: string): Fault | undefined {
    const f = faults.find((x) => faultApplies(x.endpoint, endpoint) && (x.times === undefined || x.times > 0))
    if (f?.times !== undefined) f.times--
    return f
  }

  function record(req: http.IncomingMessage, url: URL, endpoint: string, extra: Partial<RecordedRequest> = {}): RecordedRequest {
    const query: Record<string, string[]> = {}
    for (const [k, v] of url.searchParams) (query[k] ??= []).push(v)
    const r: RecordedRequest = { method: req.method ?? 'GET', path: url.pathname, query, upgrade: req.headers.upgrade !== undefined, endpoint, at: Date.now() - started, ...extra }
    requests.push(r)
    return r
  }

  const authorized = (req: http.IncomingMessage): boolean => req.headers.authorization === `Bearer ${token}`

  async function handleHttp(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x')
    const route = classify(req.method ?? 'GET', url)
    let body: unknown
    if (req.method === 'POST') {
      const chunks: Buffer[] = []
      for await (const c of req) chunks.push(c as Buffer)
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'))
      } catch {
        body = undefined
      }
    }
    record(req, url, route.endpoint, body !== undefined ? { body } : {})
    if (!authorized(req)) return sendStatus(res, 401, 'Unauthorized', 'Unauthorized')
    const fault = takeFault(route.endpoint)
    if (fault?.latencyMs !== undefined) await sleep(fault.latencyMs)
    if (fault?.status !== undefined) return sendStatus(res, fault.status, reasonOf(fault.status), `fault injected on ${route.endpoint}`)
    const denied = deniedPermission(route)
    if (denied !== undefined) return sendStatus(res, 403, 'Forbidden', forbiddenMessage(denied, route))
    if (route.endpoint === 'ssar') return sendJson(res, 201, answerSsar(body))
    const answer = answerGet(route, url)
    if (answer === undefined) return sendStatus(res, 404, 'NotFound', notFoundMessage(route))
    if (typeof answer === 'string') {
      res.writeHead(200, { 'Content-Type': 'text/plain' })
      res.end(answer)
      return
    }
    sendJson(res, 200, answer)
  }

  function deniedPermission(route: Route): string | undefined {
    const perm = permissionOf(route)
    if (perm === undefined) return undefined
    return (options.deny ?? []).includes(perm) ? perm : undefined
  }

  function answerSsar(body: unknown): KubeObject {
    const attrs = ((body as KubeObject | undefined)?.spec?.resourceAttributes ?? {}) as KubeObject
    const perm = `${attrs.verb} ${attrs.resource}${attrs.subresource ? `/${attrs.subresource}` : ''}`
    const allowed = !(options.deny ?? []).includes(perm)
    return { apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectAccessReview', metadata: {}, spec: (body as KubeObject | undefined)?.spec ?? {}, status: { allowed, ...(allowed ? {} : { reason: '' }) } }
  }

  function findPod(ns: string, name: string): FakePod | undefined {
    return data.pods.find((p) => p.object.metadata?.name === name && (p.object.metadata?.namespace ?? 'default') === ns)
  }

  function answerGet(route: Route, url: URL): KubeObject | string | undefined {
    const { ns, name } = route
    const list = (kind: string, items: KubeObject[]): KubeObject => ({ apiVersion: kind === 'EndpointSliceList' ? 'discovery.k8s.io/v1' : kind.startsWith('Deployment') ? 'apps/v1' : 'v1', kind, metadata: { resourceVersion: '1' }, items })
    switch (route.endpoint) {
      case 'version':
        return { major: '1', minor: '30', gitVersion: 'v1.30.0-fake', platform: 'linux/amd64' }
      case 'discovery:api':
        return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: '127.0.0.1' }] }
      case 'discovery:apis':
        return { kind: 'APIGroupList', apiVersion: 'v1', groups: API_GROUPS.map((g) => ({ name: g.group, versions: [{ groupVersion: `${g.group}/v1`, version: 'v1' }], preferredVersion: { groupVersion: `${g.group}/v1`, version: 'v1' } })) }
      case 'discovery:api/v1':
        return { kind: 'APIResourceList', groupVersion: 'v1', resources: CORE_RESOURCES }
      case 'discovery:group': {
        const g = API_GROUPS.find((x) => url.pathname === `/apis/${x.group}/v1`)
        return g === undefined ? undefined : { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: `${g.group}/v1`, resources: g.resources }
      }
      case 'pod':
        return findPod(ns as string, name as string)?.object
      case 'pods': {
        const labelSelector = url.searchParams.get('labelSelector') ?? ''
        const fieldSelector = url.searchParams.get('fieldSelector') ?? ''
        const items = data.pods
          .map((p) => p.object)
          .filter((p) => ns === undefined || (p.metadata?.namespace ?? 'default') === ns)
          .filter((p) => matchesLabelSelector((p.metadata?.labels ?? {}) as Record<string, string>, labelSelector))
          .filter((p) => matchesFieldSelector(p, fieldSelector))
        return list('PodList', items)
      }
      case 'log': {
        const pod = findPod(ns as string, name as string)
        if (pod === undefined) return undefined
        const container = url.searchParams.get('container') ?? ''
        return pod.logs[container] ?? ''
      }
      case 'services':
        return list('ServiceList', data.services.filter((s) => ns === undefined || (s.metadata?.namespace ?? 'default') === ns))
      case 'endpointslices':
        return list('EndpointSliceList', endpointSlicesOf(data.services, data.pods).filter((s) => ns === undefined || s.metadata.namespace === ns))
      case 'workload': {
        const kind = { deployments: 'Deployment', statefulsets: 'StatefulSet', daemonsets: 'DaemonSet' }[route.resource as string]
        return workloadsOf(data.pods).find((w) => w.kind === kind && w.metadata.name === name && w.metadata.namespace === ns)
      }
      case 'workloads': {
        const kind = { deployments: 'Deployment', statefulsets: 'StatefulSet', daemonsets: 'DaemonSet' }[route.resource as string]
        return list(`${kind}List`, workloadsOf(data.pods).filter((w) => w.kind === kind && w.metadata.namespace === ns))
      }
      default:
        return undefined
    }
  }

  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    const url = new URL(req.url ?? '/', 'http://x')
    const route = classify(req.method ?? 'GET', url)
    const command = url.searchParams.getAll('command')
    const container = url.searchParams.get('container') ?? undefined
    const adminPath = route.endpoint === 'exec' && command[0] === 'pilot-agent' && command[1] === 'request' ? command[3] : undefined
    const endpoint = adminPath !== undefined ? `admin:${adminPath}` : route.endpoint
    const rec = record(req, url, endpoint, route.endpoint === 'exec' ? { command, ...(container !== undefined ? { container } : {}) } : {})
    const reject = (status: number, message: string): void => {
      const body = JSON.stringify(statusBody(status, reasonOf(status), message))
      socket.end(`HTTP/1.1 ${status} ${reasonOf(status)}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`)
    }
    if (!authorized(req)) return reject(401, 'Unauthorized')
    if (route.endpoint !== 'exec' && route.endpoint !== 'portforward') return reject(404, 'the server could not find the requested resource')
    const pod = findPod(route.ns as string, route.name as string)
    if (pod === undefined) return reject(404, `pods "${route.name}" not found`)
    const denied = deniedPermission(route)
    if (denied !== undefined) return reject(403, forbiddenMessage(denied, route))
    if (route.endpoint === 'exec' && options.execForbiddenByPolicy === true) return reject(403, 'exec into pods is denied by policy')
    const fault = takeFault(endpoint) ?? (endpoint !== route.endpoint ? takeFault(route.endpoint) : undefined)
    if (fault?.status !== undefined) return reject(fault.status, `fault injected on ${endpoint}`)
    if (route.endpoint === 'exec') {
      const nativeSidecars = ((pod.object.spec?.initContainers ?? []) as KubeObject[]).filter((c) => c.restartPolicy === 'Always')
      const containers = [...((pod.object.spec?.containers ?? []) as KubeObject[]), ...nativeSidecars].map((c) => c.name)
      if (container === undefined || !containers.includes(container)) return reject(400, `container ${container} is not valid for pod ${route.name}`)
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      rec.protocol = ws.protocol
      if (route.endpoint === 'exec') void runExec(ws, pod, command, fault)
      else runPortForward(ws, pod, url, fault)
    })
  })

  async function runExec(ws: WebSocket, pod: FakePod, command: string[], fault: Fault | undefined): Promise<void> {
    const send = (channel: number, payload: Buffer | string): void => {
      const b = Buffer.isBuffer(payload) ? payload : Buffer.from(payload, 'utf8')
      ws.send(Buffer.concat([Buffer.from([channel]), b]))
    }
    const status = (exitCode: number, message?: string): void => {
      if (exitCode === 0) send(3, JSON.stringify({ metadata: {}, status: 'Success' }))
      else send(3, JSON.stringify({ metadata: {}, status: 'Failure', message: message ?? `command terminated with non-zero exit code: error executing command [${command.join(' ')}], exit code ${exitCode}`, reason: 'NonZeroExitCode', details: { causes: [{ reason: 'ExitCode', message: String(exitCode) }] } }))
      ws.close(1000)
    }
    if (fault?.latencyMs !== undefined) await sleep(fault.latencyMs)
    if (command[0] === 'pilot-agent') {
      if (!pod.pilotAgent) {
        send(3, JSON.stringify({ metadata: {}, status: 'Failure', message: 'OCI runtime exec failed: exec failed: unable to start container process: exec: "pilot-agent": executable file not found in $PATH: unknown', reason: 'InternalError', details: { causes: [{ message: 'OCI runtime exec failed' }] } }))
        ws.close(1000)
        return
      }
      if (command[1] !== 'request' || command.length !== 4 || command[2] !== 'GET') {
        send(2, 'Error: unsupported pilot-agent request\n')
        return status(1)
      }
      if (fault?.adminDown === true) {
        send(2, `Error: failure sending request: Get "http://localhost:15000/${command[3]}": dial tcp 127.0.0.1:15000: connect: connection refused\n`)
        return status(1)
      }
      const body = pod.admin[command[3]]
      if (body === undefined) {
        // Envoy answers unknown admin paths with 404 and its help text; pilot-agent prints it and exits 0.
        send(1, `invalid path. admin commands are:\n  /config_dump: dump current Envoy configs\n`)
        return status(0)
      }
      const bytes = Buffer.from(body, 'utf8')
      if (fault?.cut === true) {
        sendChunked(send, bytes.subarray(0, Math.floor(bytes.length / 2)))
        ws.terminate()
        return
      }
      if (fault?.truncate === true) {
        sendChunked(send, bytes.subarray(0, Math.floor(bytes.length / 2)))
        return status(0)
      }
      sendChunked(send, bytes)
      return status(0)
    }
    send(2, `OCI runtime exec failed: exec: "${command[0]}": executable file not found in $PATH\n`)
    status(126)
  }

  function runPortForward(ws: WebSocket, pod: FakePod, url: URL, fault: Fault | undefined): void {
    const port = Number(url.searchParams.get('ports'))
    const portBytes = Buffer.alloc(2)
    portBytes.writeUInt16LE(port, 0)
    ws.send(Buffer.concat([Buffer.from([0]), portBytes]))
    ws.send(Buffer.concat([Buffer.from([1]), portBytes]))
    let received = Buffer.alloc(0)
    let answered = false
    ws.on('message', (raw: Buffer) => {
      if (answered || raw.length < 1 || raw[0] !== 0) return
      received = Buffer.concat([received, raw.subarray(1)])
      const end = received.indexOf('\r\n\r\n')
      if (end < 0) return
      answered = true
      const [requestLine] = received.subarray(0, end).toString('latin1').split('\r\n')
      const m = /^(\S+) \/(\S*) HTTP\/1\.[01]$/.exec(requestLine)
      const adminPath = m?.[2] ?? ''
      requests.push({ method: m?.[1] ?? '?', path: `admin/${adminPath}`, query: {}, upgrade: false, endpoint: `admin:${adminPath}`, at: Date.now() - started })
      void (async () => {
        const f = takeFault(`admin:${adminPath}`) ?? fault
        if (f?.latencyMs !== undefined) await sleep(f.latencyMs)
        if (port !== (pod.adminPort ?? 15000) || f?.adminDown === true) {
          ws.send(Buffer.concat([Buffer.from([1]), Buffer.from(`error forwarding port ${port} to pod: connection refused`)]))
          ws.close(1000)
          return
        }
        const body = m?.[1] === 'GET' ? pod.admin[adminPath] : undefined
        const payload = Buffer.from(body ?? 'invalid path.\n', 'utf8')
        const chunked = options.portForwardChunked === true
        const framing = chunked ? 'transfer-encoding: chunked' : `content-length: ${payload.length}`
        const head = `HTTP/1.1 ${body === undefined ? '404 Not Found' : '200 OK'}\r\ncontent-type: ${adminPath.startsWith('stats') || body === undefined ? 'text/plain' : 'application/json'}\r\n${framing}\r\nconnection: close\r\n\r\n`
        const encoded = chunked ? Buffer.concat([...chunksOf(payload, 16 * 1024).map((c) => Buffer.concat([Buffer.from(`${c.length.toString(16)}\r\n`), c, Buffer.from('\r\n')])), Buffer.from('0\r\n\r\n')]) : payload
        const all = Buffer.concat([Buffer.from(head, 'latin1'), encoded])
        if (f?.cut === true) {
          sendChunked((c, b) => ws.send(Buffer.concat([Buffer.from([c]), b as Buffer])), all.subarray(0, Math.floor(all.length / 2)), 0)
          ws.terminate()
          return
        }
        sendChunked((c, b) => ws.send(Buffer.concat([Buffer.from([c]), b as Buffer])), all, 0)
        if (options.portForwardStaysOpen !== true) ws.close(1000)
      })()
    })
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address() as { port: number }
  const url = `${tlsMaterial ? 'https' : 'http'}://127.0.0.1:${address.port}`
  const kubeconfigPath = path.join(dir, 'kubeconfig')
  await writeFile(kubeconfigPath, kubeconfigText(url, options.kubeconfigToken ?? token, options.namespace ?? 'default', tlsMaterial?.cert))
  return {
    url,
    kubeconfigPath,
    requests,
    data,
    faults,
    close: async () => {
      for (const c of wss.clients) c.terminate()
      for (const s of sockets) s.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
      await rm(dir, { recursive: true, force: true })
    },
  }
}

/** A kubeconfig for the fake server: one cluster, one user with a bearer token, context `fake`. */
export function kubeconfigText(url: string, token: string, namespace: string, caPem?: string): string {
  const cluster = caPem !== undefined
    ? `    certificate-authority-data: ${Buffer.from(caPem).toString('base64')}\n    server: ${url}`
    : `    insecure-skip-tls-verify: true\n    server: ${url}`
  return `apiVersion: v1
kind: Config
clusters:
- cluster:
${cluster}
  name: fake
contexts:
- context:
    cluster: fake
    namespace: ${namespace}
    user: fake-user
  name: fake
- context:
    cluster: fake
    namespace: other
    user: fake-user
  name: fake-other
current-context: fake
users:
- name: fake-user
  user:
    token: ${token}
`
}

interface Route {
  endpoint: string
  ns?: string
  name?: string
  resource?: string
}

const CORE_RESOURCES = [
  { name: 'pods', singularName: 'pod', namespaced: true, kind: 'Pod', verbs: ['get', 'list'], shortNames: ['po'] },
  { name: 'pods/log', singularName: '', namespaced: true, kind: 'Pod', verbs: ['get'] },
  { name: 'pods/exec', singularName: '', namespaced: true, kind: 'PodExecOptions', verbs: ['create', 'get'] },
  { name: 'pods/portforward', singularName: '', namespaced: true, kind: 'PodPortForwardOptions', verbs: ['create', 'get'] },
  { name: 'services', singularName: 'service', namespaced: true, kind: 'Service', verbs: ['get', 'list'], shortNames: ['svc'] },
  { name: 'namespaces', singularName: 'namespace', namespaced: false, kind: 'Namespace', verbs: ['get', 'list'], shortNames: ['ns'] },
]

const API_GROUPS = [
  { group: 'apps', resources: [
    { name: 'deployments', singularName: 'deployment', namespaced: true, kind: 'Deployment', verbs: ['get', 'list'], shortNames: ['deploy'] },
    { name: 'statefulsets', singularName: 'statefulset', namespaced: true, kind: 'StatefulSet', verbs: ['get', 'list'], shortNames: ['sts'] },
    { name: 'daemonsets', singularName: 'daemonset', namespaced: true, kind: 'DaemonSet', verbs: ['get', 'list'], shortNames: ['ds'] },
  ] },
  { group: 'discovery.k8s.io', resources: [{ name: 'endpointslices', singularName: 'endpointslice', namespaced: true, kind: 'EndpointSlice', verbs: ['get', 'list'] }] },
  { group: 'authorization.k8s.io', resources: [{ name: 'selfsubjectaccessreviews', singularName: 'selfsubjectaccessreview', namespaced: false, kind: 'SelfSubjectAccessReview', verbs: ['create'] }] },
]

/** Names the request: which resource and verb it touches. */
function classify(method: string, url: URL): Route {
  const p = url.pathname.replace(/\/+$/, '')
  let m: RegExpExecArray | null
  if (method === 'POST' && p === '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews') return { endpoint: 'ssar' }
  if (p === '/version') return { endpoint: 'version' }
  if (p === '/api') return { endpoint: 'discovery:api' }
  if (p === '/apis') return { endpoint: 'discovery:apis' }
  if (p === '/api/v1') return { endpoint: 'discovery:api/v1' }
  if (/^\/apis\/[^/]+\/v1$/.test(p)) return { endpoint: 'discovery:group' }
  if ((m = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/(log|exec|portforward)$/.exec(p))) return { endpoint: m[3], ns: m[1], name: m[2] }
  if ((m = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)$/.exec(p))) return { endpoint: 'pod', ns: m[1], name: m[2] }
  if ((m = /^\/api\/v1\/namespaces\/([^/]+)\/pods$/.exec(p))) return { endpoint: 'pods', ns: m[1] }
  if (p === '/api/v1/pods') return { endpoint: 'pods' }
  if ((m = /^\/api\/v1\/namespaces\/([^/]+)\/services$/.exec(p))) return { endpoint: 'services', ns: m[1] }
  if (p === '/api/v1/services') return { endpoint: 'services' }
  if ((m = /^\/apis\/discovery\.k8s\.io\/v1\/namespaces\/([^/]+)\/endpointslices$/.exec(p))) return { endpoint: 'endpointslices', ns: m[1] }
  if (p === '/apis/discovery.k8s.io/v1/endpointslices') return { endpoint: 'endpointslices' }
  if ((m = /^\/apis\/apps\/v1\/namespaces\/([^/]+)\/(deployments|statefulsets|daemonsets)\/([^/]+)$/.exec(p))) return { endpoint: 'workload', ns: m[1], resource: m[2], name: m[3] }
  if ((m = /^\/apis\/apps\/v1\/namespaces\/([^/]+)\/(deployments|statefulsets|daemonsets)$/.exec(p))) return { endpoint: 'workloads', ns: m[1], resource: m[2] }
  return { endpoint: `unknown:${method} ${p}` }
}

/** The RBAC permission a route needs, as `verb resource[/subresource]`. */
function permissionOf(route: Route): string | undefined {
  switch (route.endpoint) {
    case 'pod':
      return 'get pods'
    case 'pods':
      return 'list pods'
    case 'log':
      return 'get pods/log'
    case 'exec':
      return 'create pods/exec'
    case 'portforward':
      return 'create pods/portforward'
    case 'services':
      return 'list services'
    case 'endpointslices':
      return 'list endpointslices'
    case 'workload':
      return `get ${route.resource}`
    case 'workloads':
      return `list ${route.resource}`
    default:
      return undefined
  }
}

function forbiddenMessage(perm: string, route: Route): string {
  const [verb, resource] = perm.split(' ')
  const subject = route.name !== undefined ? `${resource.split('/')[0]} "${route.name}"` : resource.split('/')[0]
  return `${subject} is forbidden: User "fake-user" cannot ${verb} resource "${resource}" in API group "" ${route.ns !== undefined ? `in the namespace "${route.ns}"` : 'at the cluster scope'}`
}

function notFoundMessage(route: Route): string {
  if (route.endpoint === 'pod' || route.endpoint === 'log') return `pods "${route.name}" not found`
  if (route.endpoint === 'workload') return `${route.resource}.apps "${route.name}" not found`
  return 'the server could not find the requested resource'
}

function matchesFieldSelector(pod: KubeObject, selector: string): boolean {
  if (selector.trim() === '') return true
  return selector.split(',').every((term) => {
    const [key, value] = term.split(/==?/)
    const actual = key === 'status.podIP' ? pod.status?.podIP : key === 'status.phase' ? pod.status?.phase : key === 'metadata.name' ? pod.metadata?.name : key === 'metadata.namespace' ? pod.metadata?.namespace : undefined
    if (key === 'status.podIP' && Array.isArray(pod.status?.podIPs)) return (pod.status.podIPs as KubeObject[]).some((x) => x.ip === value) || actual === value
    return actual === value
  })
}

function reasonOf(status: number): string {
  return { 400: 'BadRequest', 401: 'Unauthorized', 403: 'Forbidden', 404: 'NotFound', 500: 'InternalError', 503: 'ServiceUnavailable' }[status] ?? 'Unknown'
}

function statusBody(code: number, reason: string, message: string): KubeObject {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code }
}

function sendStatus(res: http.ServerResponse, code: number, reason: string, message: string): void {
  sendJson(res, code, statusBody(code, reason, message))
}

function sendJson(res: http.ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body)
  res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) })
  res.end(text)
}

function chunksOf(bytes: Buffer, size: number): Buffer[] {
  const out: Buffer[] = []
  for (let i = 0; i < bytes.length; i += size) out.push(bytes.subarray(i, i + size))
  return out
}

/** Whether a fault written for `pattern` applies to `endpoint` (exact, a query or sub-name after it, or a prefix ending in ':'). */
function faultApplies(pattern: string, endpoint: string): boolean {
  if (endpoint === pattern) return true
  if (!endpoint.startsWith(pattern)) return false
  return pattern.endsWith(':') || /^[?:]/.test(endpoint.slice(pattern.length))
}

/** Stdout as kubelet sends it: frames of at most 32 KiB. */
function sendChunked(send: (channel: number, payload: Buffer | string) => void, bytes: Buffer, channel = 1): void {
  for (let i = 0; i < bytes.length; i += 32 * 1024) send(channel, bytes.subarray(i, i + 32 * 1024))
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

let certificate: Promise<{ key: string; cert: string }> | undefined

/** One self-signed certificate for 127.0.0.1 per test process (openssl), reused by every server. */
function selfSignedCert(): Promise<{ key: string; cert: string }> {
  certificate ??= (async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'fake-apiserver-tls-'))
    try {
      const key = path.join(dir, 'tls.key')
      const cert = path.join(dir, 'tls.crt')
      execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=fake-apiserver', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' })
      return { key: await readFile(key, 'utf8'), cert: await readFile(cert, 'utf8') }
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })()
  return certificate
}
