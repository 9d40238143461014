import { podIpsOf, type ServiceFacts, type Snapshot } from '../snapshot.js'
import { parseRules, type Ruleset } from '../iptables/parse.js'
import { traceIptables, type Connection } from '../iptables/netfilter.js'
import { loadEnvoyConfig, type EnvoyModel } from '../envoy/config-dump.js'
import { traceEnvoy, resolveHostFromEnvoy, type EnvoyConnection, type HttpFacts } from '../envoy/trace-envoy.js'
import { isIpLiteral, type Request } from './request.js'
import { resolveFromServices, type Resolution } from './resolve.js'
import { makeFinding, TRACE_FINDINGS } from './findings.js'
import { emptyResult, type ConfigRef, type Finding, type Trace, type TraceRequestView, type TraceStep } from './trace.js'

/** A snapshot parsed and indexed once, ready for any number of traces. */
export interface TraceContext {
  snapshot: Snapshot
  rules?: { v4?: Ruleset; v6?: Ruleset }
  envoy?: EnvoyModel
}

/** The peer address assumed for inbound requests when --src-ip is not given (TEST-NET-2, never a real host). */
export const DEFAULT_INBOUND_PEER = '198.51.100.10'
/** The ephemeral source port used for simulated connections. */
export const SIMULATED_SOURCE_PORT = 40000

/** Parses the snapshot's rules and Envoy config once (throws the engines' typed parse errors). */
export function prepareSnapshot(snapshot: Snapshot): TraceContext {
  const ctx: TraceContext = { snapshot }
  if (snapshot.iptables !== undefined) {
    const rules: { v4?: Ruleset; v6?: Ruleset } = {}
    if (snapshot.iptables.v4 !== undefined) {
      const parsed = parseRules(snapshot.iptables.v4, 'iptables-save')
      rules.v4 = parsed.v4
      if (parsed.v6 !== undefined) rules.v6 = parsed.v6
    }
    if (snapshot.iptables.v6 !== undefined) {
      const parsed = parseRules(snapshot.iptables.v6, 'ip6tables-save')
      rules.v6 = parsed.v6 ?? parsed.v4
    }
    if (rules.v4 !== undefined || rules.v6 !== undefined) ctx.rules = rules
  }
  const envoy = snapshot.envoy
  if (envoy !== undefined && (envoy.configDump !== undefined || envoy.clusters !== undefined || envoy.stats !== undefined)) {
    ctx.envoy = loadEnvoyConfig({ configDump: envoy.configDump, clusters: envoy.clusters, stats: envoy.stats })
  }
  return ctx
}

/** Walks one request through the snapshot: name resolution, iptables, then Envoy. Pure. */
export function traceRequest(ctx: TraceContext, request: Request): Trace {
  const { snapshot } = ctx
  const pod = snapshot.pod
  const podIps = podIpsOf(pod)
  const namespace = pod?.namespace ?? 'default'
  const steps: TraceStep[] = []
  const leadFindings: Finding[] = []
  const result = emptyResult()

  const resolution = resolveDestination(ctx, request, namespace, podIps)
  const dstIp = resolution.ip
  const srcIp = request.srcIp ?? defaultSource(request, dstIp, podIps)
  const uid = request.direction === 'outbound' ? request.uid ?? appUid(snapshot) : undefined
  const gid = request.direction === 'outbound' ? request.gid ?? uid : undefined

  const view: TraceRequestView = {
    direction: request.direction,
    protocol: request.protocol,
    source: {
      pod: request.direction === 'outbound' && pod !== undefined ? `${pod.namespace}/${pod.name}` : null,
      ip: srcIp ?? null,
      uid: uid ?? null,
    },
    destination: {
      host: request.host ?? null,
      fqdn: resolution.fqdn ?? null,
      ip: dstIp ?? null,
      port: request.port,
    },
    method: request.method ?? null,
    path: request.path ?? null,
    headers: { ...request.headers },
  }
  const finish = (): Trace => {
    if (leadFindings.length > 0 && steps.length > 0) steps[0] = { ...steps[0], findings: [...leadFindings, ...steps[0].findings] }
    return { schema: 'mesh-trace/v1', request: view, steps, result }
  }

  const sidecar = pod === undefined || pod.containers === undefined ? undefined : findSidecar(pod)
  if (pod !== undefined && pod.containers !== undefined && sidecar === undefined) {
    leadFindings.push(makeFinding(TRACE_FINDINGS, 'no-sidecar', { pod: `${pod.namespace}/${pod.name}`, containers: pod.containers.join(', ') || '(none)' }))
  }
  if (resolution.via === 'envoy' && request.host !== undefined && dstIp !== undefined) {
    leadFindings.push(
      makeFinding(TRACE_FINDINGS, 'resolved-from-envoy', { host: request.host, ip: dstIp, where: describeSource(resolution) }),
    )
  }
  if (dstIp === undefined) {
    steps.push({
      stage: 'iptables',
      outcome: 'unresolved',
      summary: `cannot resolve ${request.host ?? 'the destination'}: no Service, Envoy domain or --ip gives its address`,
      decision: { tried: resolution.tried, headless: resolution.headless ?? false },
      evidence: [],
      rejected: [],
      findings: [makeFinding(TRACE_FINDINGS, 'dns-unresolved', { host: request.host ?? '(none)' })],
    })
    return finish()
  }

  let delivered: { ip: string; port: number } | null = null
  const family = dstIp.includes(':') ? 'v6' : 'v4'
  const rules = ctx.rules?.[family]
  if (rules !== undefined) {
    const conn: Connection = {
      direction: request.direction,
      protocol: 'tcp',
      srcIp: srcIp ?? podIps[0] ?? '0.0.0.0',
      srcPort: request.srcPort ?? SIMULATED_SOURCE_PORT,
      dstIp,
      dstPort: request.port,
      podIps,
    }
    if (uid !== undefined) conn.uid = uid
    if (gid !== undefined) conn.gid = gid
    const proxyUser = snapshot.pod?.containerUsers?.['istio-proxy']
    const initContainerUids = Object.fromEntries(
      (pod?.initContainers ?? [])
        .filter((c) => c !== 'istio-init' && c !== 'istio-proxy' && c !== 'istio-validation')
        .flatMap((c) => (pod?.containerUsers?.[c]?.runAsUser !== undefined ? [[c, pod.containerUsers[c].runAsUser as number]] : [])),
    )
    const ipt = traceIptables(ctx.rules ?? {}, conn, {
      runAsUser: proxyUser?.runAsUser,
      origin: snapshot.iptables?.origin,
      initContainerUids,
      cniPod: (pod?.initContainers ?? []).includes('istio-validation') && !(pod?.initContainers ?? []).includes('istio-init'),
    })
    steps.push(...ipt.steps)
    result.intercepted = ipt.intercepted
    result.redirectPort = ipt.redirectPort
    if (ipt.intercepted === null) {
      result.outcome = 'unknown'
      return finish()
    }
    if (ipt.dropped) {
      result.outcome = 'blackhole'
      return finish()
    }
    if (!ipt.intercepted) {
      result.outcome = 'not_intercepted'
      return finish()
    }
    delivered = ipt.delivered
  } else if (ctx.rules !== undefined) {
    leadFindings.push({
      code: 'no-rules-for-family',
      level: 'warning',
      message: `The snapshot has no ${family === 'v6' ? 'ip6tables' : 'iptables'} rules for this ${family === 'v6' ? 'IPv6' : 'IPv4'} destination; interception is assumed.`,
    })
  }

  if (ctx.envoy === undefined) {
    if (steps.length > 0) steps[steps.length - 1].findings.push(makeFinding(TRACE_FINDINGS, 'envoy-missing'))
    result.outcome = 'unknown'
    return finish()
  }

  const tls = request.tls === true || request.protocol === 'https' || request.sni !== undefined
  const conn: EnvoyConnection = {
    direction: request.direction,
    delivered,
    originalDst: { ip: dstIp, port: request.port },
    source: { ip: srcIp ?? podIps[0] ?? '0.0.0.0', port: request.srcPort ?? SIMULATED_SOURCE_PORT },
    transportProtocol: tls ? 'tls' : 'raw_buffer',
    applicationProtocols: request.alpn ?? defaultAlpn(request),
    podIps,
  }
  if (request.sni !== undefined) conn.serverName = request.sni
  const http: HttpFacts | undefined =
    request.protocol === 'tcp'
      ? undefined
      : {
          method: request.method ?? 'GET',
          path: request.path ?? '/',
          // traceEnvoy only reads the headers: the request's own object will do unless a Host is added.
          headers: request.headers,
          scheme: request.protocol === 'https' ? 'https' : 'http',
        }
  if (http !== undefined && http.headers.host === undefined && request.direction === 'inbound') {
    http.headers = { ...request.headers, host: `${dstIp.includes(':') ? `[${dstIp}]` : dstIp}:${request.port}` }
  }
  const envoyTrace = traceEnvoy(ctx.envoy, conn, http, request.randomValue === undefined ? undefined : { randomValue: request.randomValue })
  const firstEnvoyStep = steps.length
  steps.push(...envoyTrace.steps)
  Object.assign(result, envoyTrace.result)
  if (rules === undefined) assumeInterception(result, steps[firstEnvoyStep], request.port)
  if (request.expectVs !== undefined) checkExpectedVirtualService(steps, request.expectVs)
  return finish()
}

/**
 * Without iptables rules, the first listener step tells how the connection reached Envoy: a capture listener
 * (use_original_dst, 15001/15006) means the sidecar's rules are assumed; a listener bound to the destination
 * port itself (a gateway) means nothing was redirected.
 */
function assumeInterception(result: Trace['result'], listenerStep: TraceStep | undefined, port: number): void {
  if (listenerStep === undefined || listenerStep.stage !== 'listener') return
  const d = listenerStep.decision
  const capturePort = typeof d.capturePort === 'number' ? d.capturePort : typeof d.port === 'number' ? d.port : null
  const listener = listenerStep.chosen?.name ?? '(listener)'
  if (d.useOriginalDst !== true && capturePort === port) {
    result.intercepted = null
    result.redirectPort = null
    listenerStep.findings.push(makeFinding(TRACE_FINDINGS, 'direct-to-listener', { listener, port }))
    return
  }
  result.intercepted = true
  result.redirectPort = capturePort
  listenerStep.findings.push(assumedIntercepted(listenerStep.chosen, capturePort, listener))
}

/** The `assumed-intercepted` finding per listener (its shared ref) and capture port, made once and shared (frozen). */
const ASSUMED_INTERCEPTED = new WeakMap<ConfigRef, Map<number | null, Finding>>()

function assumedIntercepted(ref: ConfigRef | undefined, capturePort: number | null, listener: string): Finding {
  const make = (): Finding => Object.freeze(makeFinding(TRACE_FINDINGS, 'assumed-intercepted', { port: capturePort ?? '?', listener }))
  if (ref === undefined) return make()
  let byPort = ASSUMED_INTERCEPTED.get(ref)
  if (byPort === undefined) {
    byPort = new Map()
    ASSUMED_INTERCEPTED.set(ref, byPort)
  }
  let finding = byPort.get(capturePort)
  if (finding === undefined) {
    finding = make()
    byPort.set(capturePort, finding)
  }
  return finding
}

/** `--expect-vs`: says whether the winning route comes from that VirtualService (user story 7). */
function checkExpectedVirtualService(steps: TraceStep[], expected: string): void {
  const route = steps.find((s) => s.stage === 'route' && s.outcome === 'matched')
  const wantName = expected.includes('/') ? expected.split('/')[1] : expected
  const wantNs = expected.includes('/') ? expected.split('/')[0] : undefined
  const vs = route?.decision.virtualService
  const vsNs = route?.decision.virtualServiceNamespace
  const target = route ?? steps.at(-1)
  if (target === undefined) return
  if (typeof vs === 'string' && vs === wantName && (wantNs === undefined || vsNs === wantNs)) {
    target.findings.push(makeFinding(TRACE_FINDINGS, 'expected-vs-applied', { vs: typeof vsNs === 'string' ? `${vsNs}/${vs}` : vs }))
    return
  }
  const actual = route === undefined
    ? 'no route was chosen at all'
    : typeof vs === 'string'
      ? `the chosen route ${route.chosen?.name ?? ''} comes from VirtualService ${typeof vsNs === 'string' ? `${vsNs}/` : ''}${vs}`
      : `the chosen route ${route.chosen?.name ?? ''} comes from no VirtualService (Istio's default route for the service)`
  target.findings.push(makeFinding(TRACE_FINDINGS, 'no-route-from-expected-vs', { expected: `VirtualService ${expected}`, actual }))
}

/** Container names of the Envoy sidecars of the meshes mesh-trace knows (Istio also runs it as a native sidecar init container). */
const SIDECAR_CONTAINERS = ['istio-proxy', 'kuma-sidecar', 'envoy-sidecar', 'consul-dataplane', 'envoy', 'linkerd-proxy']

function findSidecar(pod: NonNullable<Snapshot['pod']>): string | undefined {
  return [...(pod.containers ?? []), ...(pod.initContainers ?? [])].find((c) => SIDECAR_CONTAINERS.includes(c))
}

/** What a client offers by default, shared by every trace (frozen). */
const HTTPS_ALPN = Object.freeze(['h2', 'http/1.1']) as string[]
const HTTP_ALPN = Object.freeze(['http/1.1']) as string[]
const NO_ALPN = Object.freeze([] as string[]) as string[]

function defaultAlpn(request: Request): string[] {
  if (request.protocol === 'https') return HTTPS_ALPN
  if (request.protocol === 'http') return HTTP_ALPN
  return NO_ALPN
}

/** The services of a snapshot that lists none (one shared list, so per-list caches stay small). */
const NO_SERVICES: ServiceFacts[] = []

function resolveDestination(ctx: TraceContext, request: Request, namespace: string, podIps: string[]): Resolution {
  const services = ctx.snapshot.services ?? NO_SERVICES
  if (request.direction === 'inbound') {
    const ip = request.ip ?? podIps[0]
    return { ip, via: ip === undefined ? 'none' : 'ip', tried: [] }
  }
  if (request.ip !== undefined) {
    // Without Services there is no name to find (and no search list worth building).
    const fqdn = services.length === 0
      ? undefined
      : request.host !== undefined && !isIpLiteral(request.host)
        ? resolveFromServices(request.host, namespace, services).fqdn
        : fqdnForIp(services, request.ip)
    return { ip: request.ip, fqdn, via: 'ip', tried: [] }
  }
  const host = request.host as string
  const bySvc = resolveFromServices(host, namespace, services)
  if (bySvc.via === 'ip') return { ...bySvc, fqdn: fqdnForIp(services, host) }
  if (bySvc.ip !== undefined) return bySvc
  if (ctx.envoy !== undefined) {
    for (const name of bySvc.tried.length > 0 ? [host, ...bySvc.tried] : [host]) {
      const hit = resolveHostFromEnvoy(ctx.envoy, name, request.port)
      if (hit !== undefined) return { ip: hit.ip, fqdn: hit.fqdn ?? bySvc.fqdn, via: 'envoy', tried: bySvc.tried, source: hit.source }
    }
  }
  return bySvc
}

function fqdnForIp(services: Snapshot['services'] & object, ip: string): string | undefined {
  const svc = services.find((s) => s.clusterIPs.includes(ip))
  return svc === undefined ? undefined : `${svc.name}.${svc.namespace}.svc.cluster.local`
}

function defaultSource(request: Request, dstIp: string | undefined, podIps: string[]): string | undefined {
  if (request.direction === 'inbound') return DEFAULT_INBOUND_PEER
  if (dstIp === undefined) return podIps[0]
  // The kernel picks the source address from the route: loopback destinations leave from loopback.
  if (dstIp.startsWith('127.')) return '127.0.0.1'
  if (dstIp === '::1') return '::1'
  return podIps.find((ip) => ip.includes(':') === dstIp.includes(':')) ?? podIps[0]
}

/** The uid of the application container (the first non-sidecar container with a runAsUser), if the pod says. */
function appUid(snapshot: Snapshot): number | undefined {
  const users = snapshot.pod?.containerUsers ?? {}
  for (const name of snapshot.pod?.containers ?? []) {
    if (name === 'istio-proxy') continue
    const u = users[name]?.runAsUser
    if (u !== undefined) return u
  }
  return undefined
}

function describeSource(r: Resolution): string {
  const s = r.source
  if (s === undefined) return 'config_dump'
  return s.pointer !== undefined ? `${s.file} ${s.pointer}` : s.file
}
