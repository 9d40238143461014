import { podIpsOf } from '../snapshot.js'
import type { Request } from './request.js'
import { traceRequest, type TraceContext } from './trace-request.js'
import type { Trace, TraceResult, TraceStep } from './trace.js'

/** Where a hop goes: the endpoint the previous pod's Envoy connects to, and who connects. */
export interface HopTarget {
  ip: string
  port: number
  /** The eligible endpoints the load balancer chooses from; the hop follows the first (healthy first). */
  candidates: string[]
  /** The source of the next connection: the previous pod's IP. */
  sourceIp: string | null
}

/**
 * The next hop of a trace, if there is one to follow: the request was forwarded (or passed through) to an
 * endpoint that is not the pod itself and not loopback.
 */
export function nextHopTarget(trace: Trace, visited: ReadonlyArray<string> = []): HopTarget | undefined {
  const r = trace.result
  if ((r.outcome !== 'forwarded' && r.outcome !== 'passthrough') || r.endpoints === null || r.endpoints.length === 0) return undefined
  const first = parseEndpoint(r.endpoints[0])
  if (first === undefined || first.ip.startsWith('127.') || first.ip === '::1') return undefined
  if (visited.includes(first.ip)) return undefined
  const source = trace.request.direction === 'outbound' ? trace.request.source.ip : trace.request.destination.ip
  return { ...first, candidates: r.endpoints, sourceIp: source }
}

function parseEndpoint(endpoint: string): { ip: string; port: number } | undefined {
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(endpoint)
  return m === null ? undefined : { ip: m[1], port: Number(m[2]) }
}

/** The request as it arrives at the next pod: the same method, path and headers, now inbound to the endpoint. */
export function hopRequest(previous: Request, target: HopTarget, tls?: { sni?: string; alpn?: string[] }): Request {
  const next: Request = {
    direction: 'inbound',
    protocol: previous.protocol === 'https' ? 'https' : previous.protocol,
    port: target.port,
    ip: target.ip,
    headers: { ...previous.headers },
  }
  if (previous.host !== undefined) next.host = previous.host
  if (previous.method !== undefined) next.method = previous.method
  if (previous.path !== undefined) next.path = previous.path
  if (target.sourceIp !== null) next.srcIp = target.sourceIp
  if (tls !== undefined) next.tls = true
  if (tls?.sni !== undefined) next.sni = tls.sni
  if (tls?.alpn !== undefined) next.alpn = tls.alpn
  return next
}

/**
 * Appends the inbound trace of the next pod to a trace: a `hop` step naming the pod (or saying why the
 * hop cannot be followed), then that pod's steps. The top-level `result` stays the first pod's; each hop's
 * own result is in its `hop` step's decision.
 */
export function appendHop(
  trace: Trace,
  hop: number,
  target: HopTarget,
  next: { ctx: TraceContext; request: Request; transportNote: string } | { missing: string },
): { trace: Trace; hopTrace?: Trace } {
  const chosen = `${target.ip}:${target.port}`
  const others = target.candidates.length > 1 ? ` (1 of ${target.candidates.length} eligible endpoints; Envoy's load balancer picks one per request)` : ''
  if ('missing' in next) {
    const step: TraceStep = {
      stage: 'hop',
      outcome: 'unresolved',
      summary: `hop ${hop}: cannot follow to ${chosen}${others}: ${next.missing}`,
      decision: { hop, endpoint: chosen, candidates: target.candidates },
      evidence: [],
      rejected: [],
      findings: [{ code: 'hop-not-followed', level: 'info', message: `The next pod (${chosen}) is not in the snapshot: ${next.missing}` }],
    }
    return { trace: { ...trace, steps: [...trace.steps, step] } }
  }
  const hopTrace = traceRequest(next.ctx, next.request)
  const pod = next.ctx.snapshot.pod
  const podName = pod === undefined ? chosen : `${pod.namespace}/${pod.name}`
  const step: TraceStep = {
    stage: 'hop',
    outcome: 'matched',
    summary: `hop ${hop}: into ${podName} (${chosen})${others}; ${next.transportNote}`,
    decision: { hop, pod: podName, endpoint: chosen, candidates: target.candidates, result: hopTrace.result as TraceResult },
    evidence: [{ field: 'endpoint', expected: `a pod IP of ${podName}`, actual: target.ip }],
    rejected: [],
    findings: [],
  }
  return { trace: { ...trace, steps: [...trace.steps, step, ...hopTrace.steps] }, hopTrace }
}

/** How the previous pod's Envoy connects to the endpoint: TLS with this SNI and ALPN, or plaintext. */
export interface HopTransport {
  tls: boolean
  sni?: string
  alpn?: string[]
  /** One phrase for the hop step: where this came from. */
  note: string
}

/** Options for following hops. */
export interface FollowOptions {
  maxHops: number
  /** The snapshot of the pod that owns an IP (sub-bundle or live), or why there is none. Does the I/O. */
  podByIp: (ip: string) => Promise<TraceContext | string>
  /** How the connection to the endpoint is made, from the previous pod's cluster config. */
  transport: (previous: TraceContext, trace: Trace, endpoint: HopTarget) => HopTransport
}

/**
 * Follows a trace into the next pods, hop after hop, up to `maxHops`, stopping at the first hop that
 * ends in an application (an inbound cluster to the pod itself), cannot be followed, or loops.
 */
export async function followTrace(first: Trace, firstCtx: TraceContext, request: Request, options: FollowOptions): Promise<Trace> {
  let trace = first
  let last = first
  let lastCtx = firstCtx
  let lastRequest = request
  const visited = [...podIps(firstCtx)]
  for (let hop = 1; hop <= options.maxHops; hop++) {
    const target = nextHopTarget(last)
    if (target === undefined) break
    // An inbound cluster that forwards to the pod's own IP (ORIGINAL_DST since Istio 1.10) delivers to the app: the end.
    if (podIps(lastCtx).includes(target.ip)) break
    if (visited.includes(target.ip)) {
      trace = {
        ...trace,
        steps: [...trace.steps, {
          stage: 'hop', outcome: 'no_match', summary: `hop ${hop}: ${target.ip}:${target.port} was already visited; the path loops, so following stops here.`,
          decision: { hop, endpoint: `${target.ip}:${target.port}`, loop: true }, evidence: [], rejected: [],
          findings: [{ code: 'hop-loop', level: 'warning', message: `The request comes back to ${target.ip}, a pod it already passed through: a routing loop.` }],
        }],
      }
      break
    }
    const found = await options.podByIp(target.ip)
    if (typeof found === 'string') {
      trace = appendHop(trace, hop, target, { missing: found }).trace
      break
    }
    const transport = options.transport(lastCtx, last, target)
    const next = hopRequest(lastRequest, target, transport.tls ? { sni: transport.sni, alpn: transport.alpn ?? [] } : undefined)
    const appended = appendHop(trace, hop, target, { ctx: found, request: next, transportNote: transport.note })
    trace = appended.trace
    if (appended.hopTrace === undefined) break
    visited.push(target.ip, ...podIps(found))
    last = appended.hopTrace
    lastCtx = found
    lastRequest = next
  }
  const pending = nextHopTarget(last)
  if (trace.steps.at(-1)?.stage !== 'hop' && trace !== first && pending !== undefined && !podIps(lastCtx).includes(pending.ip)) {
    trace = { ...trace, steps: [...trace.steps, {
      stage: 'hop', outcome: 'unresolved', summary: `stopped after --max-hops ${options.maxHops}; the request goes on to ${last.result.endpoints?.[0] ?? 'another pod'}.`,
      decision: { maxHops: options.maxHops }, evidence: [], rejected: [], findings: [],
    }] }
  }
  return trace
}

function podIps(ctx: TraceContext): string[] {
  return podIpsOf(ctx.snapshot.pod)
}
