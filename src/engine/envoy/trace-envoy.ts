/**
 * Walks one connection (and its HTTP request, if any) through an Envoy model:
 * listener → hand-off → filter chain → network filter → route config → virtual host → route → cluster → endpoint.
 */
import { memoPair } from '../memo.js'
import { copyStep, freezeStep, newStep, type ConfigRef, type Finding, type SourceRef, type TraceResult, type TraceStep } from '../trace/trace.js'
import { cidrContains, formatAddress, isIpLiteral, stripBrackets } from './address.js'
import { envoyBefore, lookupCluster, BLACKHOLE_CLUSTER, PASSTHROUGH_CLUSTERS } from './cluster.js'
import { arrAt, envoyIndex, isObject, numAt, strAt } from './config-dump.js'
import { copyResolution, resolveEndpoints, sharedResolution, type EndpointResolution } from './endpoints.js'
import { detectAttributes, filterChainStep, selectFilterChain } from './filter-chain.js'
import { envoyFinding } from './findings.js'
import { headerView } from './header-matcher.js'
import { selectListener } from './listener.js'
import type { Cluster, EnvoyModel, FilterChain, HttpConnectionManager, Listener, NetworkFilter, Route, RouteConfiguration, TcpProxy, VirtualHost } from './model.js'
import { analyzeNetworkFilters, httpFilterFindings, type NetworkFilterAnalysis } from './network-filter.js'
import { filterChainName, filterChainRef, networkFilterRef, routeConfigRef, routeName, routeRef, virtualHostRef } from './refs.js'
import { computeRedirect, pickWeightedCluster, rewriteHost, rewritePath, routeActionExtras, selectRoute, selectVirtualCluster, type RouteRequest } from './route.js'
import { statsStep } from './stats.js'
import { selectVirtualHost, stripPort, type DomainMatchKind } from './virtual-host.js'

/** The connection as netfilter hands it to Envoy, and what the client sends first. */
export interface EnvoyConnection {
  direction: 'outbound' | 'inbound'
  /** Where netfilter delivered the connection; null = no iptables in the snapshot (capture is assumed). */
  delivered: { ip: string; port: number } | null
  /** SO_ORIGINAL_DST. */
  originalDst: { ip: string; port: number }
  source: { ip: string; port: number }
  transportProtocol: 'raw_buffer' | 'tls'
  serverName?: string
  /** What tls_inspector / http_inspector would detect. */
  applicationProtocols: string[]
  podIps: string[]
}

/** The HTTP request, when the connection carries one. */
export interface HttpFacts {
  method: string
  /** `:path` with the query. */
  path: string
  /** Lower-case names; `host` is the authority. */
  headers: Record<string, string>
  scheme: 'http' | 'https'
}

/** The Envoy part of a trace: its steps and the result fields it decides. */
export interface EnvoyTrace {
  steps: TraceStep[]
  result: Partial<TraceResult>
}

interface State {
  model: EnvoyModel
  conn: EnvoyConnection
  steps: TraceStep[]
  result: Partial<TraceResult>
  statPrefix: { http?: string; tcp?: string }
  listener: Listener | null
  localAddress: { ip: string; port: number }
  /** The members of a weighted_clusters action, when the route had one. */
  weightedMembers?: Array<{ name: string; percent: number }>
}

function finish(s: State, outcome: TraceResult['outcome']): EnvoyTrace {
  s.result.outcome = outcome
  if (s.model.stats) s.steps.push(statsStep(s.model, { direction: s.conn.direction, outcome, listener: s.listener, localAddress: s.localAddress, httpStatPrefix: s.statPrefix.http ?? null, tcpStatPrefix: s.statPrefix.tcp ?? null, cluster: s.result.cluster ?? null, endpoints: s.result.endpoints ?? null }))
  return { steps: s.steps, result: s.result }
}

/** Traces a connection (and optional HTTP request) through Envoy. Pure. */
export function traceEnvoy(model: EnvoyModel, conn: EnvoyConnection, http: HttpFacts | undefined, opts: { randomValue?: number } = {}): EnvoyTrace {
  const s: State = { model, conn, steps: [], result: {}, statPrefix: {}, listener: null, localAddress: conn.originalDst }
  const sel = selectListener(model, { direction: conn.direction, delivered: conn.delivered, originalDst: conn.originalDst })
  s.steps.push(...sel.steps)
  s.localAddress = sel.localAddress
  if (!sel.final) return finish(s, 'no_listener')
  const listener = sel.final
  s.listener = listener
  s.result.listener = listener.name

  // Listener filters that are not modelled may change what the chains match on.
  const unknownFilter = unmodelledListenerFilter(sel.ran)
  if (unknownFilter) {
    s.steps.push(
      newStep('filter_chain', 'unresolved', `Listener filter ${unknownFilter.name} may change the connection before chains match; mesh-trace does not model it.`, {
        decision: { listener: listener.name, listenerFilter: unknownFilter.name },
        findings: [envoyFinding('unknown-extension', { where: `listener filter of ${listener.name}`, typeUrl: unknownFilter.typeUrl ?? unknownFilter.name })],
      }),
    )
    return finish(s, 'unknown')
  }
  const detected = detectAttributes(
    sel.ran,
    { transportProtocol: conn.transportProtocol, serverName: conn.serverName, applicationProtocols: conn.applicationProtocols },
    sel.localAddress,
    conn.source,
    envoyBefore(model, 1, 17) !== false,
  )
  const fcSel = selectFilterChain(listener, detected.attributes)
  s.steps.push(filterChainStep(listener, detected.attributes, fcSel, detected.findings, detected.notes))
  if (fcSel.how === 'unresolved') return finish(s, 'unknown')
  if (!fcSel.chosen) return finish(s, 'no_filter_chain')
  const chain = fcSel.chosen
  s.result.filterChain = filterChainRef(chain).name
  return traceChain(s, chain, http, opts)
}

/** The first listener filter of the listeners that ran that mesh-trace does not model, if any. */
function unmodelledListenerFilter(ran: Listener[]): Listener['listenerFilters'][number] | undefined {
  for (const l of ran) for (const f of l.listenerFilters) if (f.role === 'other') return f
  return undefined
}

/**
 * What a filter chain does before the request matters, worked out once per model and chain: the network filter
 * analysis and, for an HTTP connection manager, its network_filter step (for HTTP and for a TCP request) and its
 * route_config step. Traces take copies (copyStep).
 */
interface ChainPlan {
  nf: NetworkFilterAnalysis
  /** The names of the filters other than the terminal one. */
  preceding: readonly string[]
  hcm?: { httpStep: TraceStep; tcpStep: TraceStep; rc: RouteConfiguration | null; rcStep: TraceStep; ignorePathParameters: boolean }
}

const CHAIN_PLANS = new WeakMap<EnvoyModel, WeakMap<FilterChain, ChainPlan>>()

function chainPlan(model: EnvoyModel, chain: FilterChain): ChainPlan {
  return memoPair(CHAIN_PLANS, model, chain, buildChainPlan)
}

function buildChainPlan(model: EnvoyModel, chain: FilterChain): ChainPlan {
  const nf = analyzeNetworkFilters(chain)
  nf.findings.forEach((f) => Object.freeze(f))
  const f = nf.terminal
  const preceding = Object.freeze(chain.filters.filter((x) => x !== f).map((x) => x.name))
  if (f === null || f.hcm === null || f.tcpProxy) return { nf, preceding }
  const hcm = f.hcm
  const { rc, step: rcStep } = routeConfigFor(model, hcm)
  return { nf, preceding, hcm: { httpStep: freezeStep(hcmStep(chain, f, hcm, nf.findings, preceding, true)), tcpStep: freezeStep(hcmStep(chain, f, hcm, nf.findings, preceding, false)), rc, rcStep: freezeStep(rcStep), ignorePathParameters: rc !== null && rc.ignorePathParameters } }
}

function traceChain(s: State, chain: FilterChain, http: HttpFacts | undefined, opts: { randomValue?: number }): EnvoyTrace {
  const plan = chainPlan(s.model, chain)
  const nf = plan.nf
  if (!nf.terminal) {
    s.steps.push(
      newStep('network_filter', 'unresolved', `Filter chain ${filterChainName(chain)} ends in ${nf.unknownTerminal}, which mesh-trace does not model.`, {
        decision: { filters: chain.filters.map((f) => f.name) },
        findings: [...nf.findings, envoyFinding('unknown-extension', { where: `network filter of chain ${filterChainName(chain)}`, typeUrl: nf.unknownTerminal ?? '' })],
      }),
    )
    return finish(s, 'unknown')
  }
  const terminal = nf.terminal
  if (terminal.tcpProxy) return traceTcpProxy(s, terminal, terminal.tcpProxy, plan.preceding, nf.findings.slice(), opts.randomValue ?? 0)
  return traceHcm(s, chain, terminal.hcm as HttpConnectionManager, plan, http, opts)
}

// --- TCP ---------------------------------------------------------------------------------------

function tcpRouteCluster(tp: TcpProxy, s: State, randomValue: number): { cluster: string | null; how: string } {
  if (tp.cluster !== null) return { cluster: tp.cluster, how: 'tcp_proxy cluster' }
  if (tp.weightedClusters.length) {
    const pick = pickWeightedCluster(
      tp.weightedClusters.map((c) => ({ name: c.name, weight: c.weight, clusterHeader: null, raw: {} })),
      null,
      randomValue,
    )
    return { cluster: pick.chosen?.name ?? null, how: `weighted_clusters ${pick.weights.map((w) => `${w.name} ${w.percent}%`).join(', ')}` }
  }
  // v2 deprecated_v1 routes: first match on destination/source IP lists and ports.
  for (const r of tp.deprecatedRoutes) {
    const dstIps = arrAt(r, 'destination_ip_list').filter(isObject)
    const dstPorts = strAt(r, 'destination_ports')
    const srcIps = arrAt(r, 'source_ip_list').filter(isObject)
    const inList = (list: typeof dstIps, ip: string): boolean =>
      list.length === 0 || list.some((c) => cidrContains({ addressPrefix: strAt(c, 'address_prefix') ?? '', prefixLen: numAt(c, 'prefix_len') ?? 0 }, ip))
    const portOk = dstPorts === null || dstPorts.split(',').some((p) => {
      const [a, b] = p.split('-').map(Number)
      return b === undefined ? s.localAddress.port === a : s.localAddress.port >= a && s.localAddress.port <= b
    })
    if (inList(dstIps, s.localAddress.ip) && portOk && inList(srcIps, s.conn.source.ip)) return { cluster: strAt(r, 'cluster'), how: 'deprecated_v1 route' }
  }
  return { cluster: null, how: 'no deprecated_v1 route matched' }
}

function traceTcpProxy(s: State, f: NetworkFilter, tp: TcpProxy, preceding: readonly string[], findings: Finding[], randomValue: number): EnvoyTrace {
  s.statPrefix.tcp = tp.statPrefix
  const { cluster, how } = tcpRouteCluster(tp, s, randomValue)
  s.steps.push(
    newStep('network_filter', cluster === null ? 'no_match' : 'matched', cluster === null ? `tcp_proxy (stat_prefix ${tp.statPrefix}) has no route for the connection; it is closed.` : `tcp_proxy (stat_prefix ${tp.statPrefix}) forwards to ${cluster}.`, {
      chosen: networkFilterRef(f, `tcp_proxy → ${cluster ?? '(none)'}`),
      decision: { filter: 'tcp_proxy', statPrefix: tp.statPrefix, cluster, how, preceding },
      findings,
    }),
  )
  if (cluster === null) return finish(s, 'no_route')
  s.result.cluster = cluster
  return traceCluster(s, cluster, 'tcp_proxy', 'the connection')
}

// --- HTTP --------------------------------------------------------------------------------------

function routeConfigFor(model: EnvoyModel, hcm: HttpConnectionManager): { rc: RouteConfiguration | null; step: TraceStep } {
  const rs = hcm.routeSource
  if (rs.kind === 'route_config') {
    return { rc: rs.routeConfig, step: newStep('route_config', 'matched', `Inline route configuration ${rs.routeConfig.name || '(unnamed)'}.`, { chosen: routeConfigRef(rs.routeConfig), decision: { source: 'inline', name: rs.routeConfig.name, ignorePortInHostMatching: rs.routeConfig.ignorePortInHostMatching } }) }
  }
  if (rs.kind === 'rds') {
    const rc = envoyIndex(model).routeConfigsByName.get(rs.routeConfigName) ?? null
    if (!rc) {
      return {
        rc: null,
        step: newStep('route_config', 'unresolved', `Route configuration ${rs.routeConfigName} (RDS) is not in the snapshot.`, {
          decision: { source: 'rds', name: rs.routeConfigName, routesInSnapshot: model.present.routes },
          findings: [envoyFinding('config-missing-from-snapshot', { what: model.present.routes ? `route configuration ${rs.routeConfigName} in its routes dump (RDS not received yet?)` : `routes dump (route configuration ${rs.routeConfigName})` })],
        }),
      }
    }
    return { rc, step: newStep('route_config', 'matched', `Route configuration ${rc.name} (RDS).`, { chosen: routeConfigRef(rc), decision: { source: 'rds', name: rc.name, ignorePortInHostMatching: rc.ignorePortInHostMatching, ...(rc.vhostHeader ? { vhostHeader: rc.vhostHeader } : {}) } }) }
  }
  const what = rs.kind === 'scoped_routes' ? 'scoped_routes' : 'no route source'
  return { rc: null, step: newStep('route_config', 'unresolved', `The HTTP connection manager uses ${what}, which mesh-trace does not model.`, { decision: { source: rs.kind }, findings: [envoyFinding('unknown-extension', { where: 'HTTP connection manager', typeUrl: what })] }) }
}

/** Name and namespace of the Istio resource in a `filter_metadata.istio.config` path (`/apis/…/namespaces/<ns>/<kind>/<name>`). */
export function istioConfigRef(config: string | null): { name: string; namespace: string | null; kind: string | null } | null {
  if (!config) return null
  const parts = config.split('/').filter((p) => p !== '')
  const ns = parts.indexOf('namespaces')
  return {
    name: parts[parts.length - 1] ?? config,
    namespace: ns >= 0 ? (parts[ns + 1] ?? null) : null,
    kind: parts.length >= 2 ? parts[parts.length - 2] : null,
  }
}

/** The network_filter step of an HTTP connection manager, for an HTTP request or (`http` false) a TCP one. */
function hcmStep(chain: FilterChain, f: NetworkFilter, hcm: HttpConnectionManager, findings: Finding[], preceding: readonly string[], http: boolean): TraceStep {
  const routeSourceText = hcm.routeSource.kind === 'rds' ? `RDS "${hcm.routeSource.routeConfigName}"` : hcm.routeSource.kind === 'route_config' ? `inline route_config "${hcm.routeSource.routeConfig.name}"` : hcm.routeSource.kind
  const nfFindings = [...findings]
  if (!http) nfFindings.push(envoyFinding('hcm-for-tcp-request', { chain: filterChainName(chain) }))
  return newStep('network_filter', 'matched', `HTTP connection manager (stat_prefix ${hcm.statPrefix}), routes from ${routeSourceText}.`, {
    chosen: networkFilterRef(f, `stat_prefix ${hcm.statPrefix}, ${routeSourceText}`),
    decision: {
      filter: 'http_connection_manager',
      statPrefix: hcm.statPrefix,
      routeSource: hcm.routeSource.kind === 'rds' ? { rds: hcm.routeSource.routeConfigName } : hcm.routeSource.kind === 'route_config' ? { inline: hcm.routeSource.routeConfig.name } : { kind: hcm.routeSource.kind },
      httpFilters: Object.freeze(hcm.httpFilters.map((x) => x.name)),
      preceding,
      ...(http ? {} : { httpExpected: true }),
    },
    findings: nfFindings,
  })
}

/** How a virtual host matched, as the summary says it (the first `_` as a space). */
const HOW_TEXT: Record<DomainMatchKind, string> = { exact: 'exact', suffix_wildcard: 'suffix wildcard', prefix_wildcard: 'prefix wildcard', default: 'default', only_default: 'only default' }

function traceHcm(s: State, chain: FilterChain, hcm: HttpConnectionManager, plan: ChainPlan, http: HttpFacts | undefined, opts: { randomValue?: number }): EnvoyTrace {
  const planned = plan.hcm as NonNullable<ChainPlan['hcm']>
  s.statPrefix.http = hcm.statPrefix
  const nfStep = copyStep(http ? planned.httpStep : planned.tcpStep)
  s.steps.push(nfStep)
  const rc = planned.rc
  s.steps.push(copyStep(planned.rcStep))
  if (rc) s.result.routeConfig = rc.name
  if (!rc) return finish(s, 'unknown')
  if (!http) return finish(s, 'unknown')

  // Host header: strip_any_host_port / strip_matching_host_port change the header itself.
  const headers: Record<string, string> = {}
  for (const k of Object.keys(http.headers)) headers[k.toLowerCase()] = http.headers[k]
  const host = headers.host ?? headers[':authority']
  if (host !== undefined) {
    let h = host
    if (hcm.stripAnyHostPort) h = stripPort(h)
    else if (hcm.stripMatchingHostPort && h.slice(stripPort(h).length + 1) === String(s.localAddress.port)) h = stripPort(h)
    headers.host = h
  }
  const vhSel = selectVirtualHost(rc, headers)
  if (!vhSel.chosen) {
    const shown = vhSel.key ?? '(no Host header)'
    s.steps.push(
      newStep('virtual_host', 'no_match', `No virtual host of ${rc.name} has domain ${shown}: 404 NR.`, {
        decision: { host: vhSel.key, responseCode: 404, responseFlag: 'NR', otherVirtualHosts: vhSel.otherCount },
        rejected: vhSel.rejected,
        findings: [envoyFinding('host-header-no-domain', { routeConfig: rc.name, host: shown, closest: vhSel.closest.join(', ') || '(none)' })],
      }),
    )
    return finish(s, 'no_route')
  }
  const vh = vhSel.chosen
  s.result.virtualHost = vh.name
  s.steps.push(
    newStep('virtual_host', 'matched', `Virtual host ${vh.name} matches ${vhSel.key ?? '(any host)'} (${vhSel.how === null ? undefined : HOW_TEXT[vhSel.how]} ${vhSel.domain}).`, {
      chosen: virtualHostRef(vh),
      decision: { host: vhSel.key, matchedDomain: vhSel.domain, how: vhSel.how, otherVirtualHosts: vhSel.otherCount },
      evidence: [{ field: rc.vhostHeader ? `header ${rc.vhostHeader}` : 'host', expected: vhSel.domain ?? '*', actual: vhSel.key ?? headers[rc.vhostHeader ?? 'host'] ?? '(absent)' }],
      rejected: vhSel.rejected,
    }),
  )
  const view = headerView(headers)
  view.set(':method', [http.method])
  view.set(':path', [http.path])
  view.set(':scheme', [http.scheme])
  if (headers.host !== undefined) view.set(':authority', [headers.host])
  const tlsPeer = s.conn.transportProtocol === 'tls' && chain.transportSocket !== null && s.conn.direction === 'inbound'
  const req: RouteRequest = { method: http.method, path: http.path, headers: view, scheme: http.scheme, tls: { presented: tlsPeer, validated: tlsPeer } }
  const randomValue = opts.randomValue ?? 0
  const rSel = selectRoute(vh, req, { randomValue, ignorePathParameters: planned.ignorePathParameters })
  if (rSel.unresolved) {
    s.steps.push(
      newStep('route', 'unresolved', `Route ${routeName(rSel.unresolved.route)} of ${vh.name} uses ${rSel.unresolved.what}, which mesh-trace does not model.`, {
        rejected: rSel.rejected,
        findings: [envoyFinding('unknown-extension', { where: `route ${routeName(rSel.unresolved.route)}`, typeUrl: rSel.unresolved.what })],
      }),
    )
    return finish(s, 'unknown')
  }
  const fractionFindings = rSel.fractionSkipped.length === 0 && !(rSel.probabilistic && rSel.chosen) ? [] : [...rSel.fractionSkipped.map((r) => ({ r, on: false })), ...(rSel.probabilistic && rSel.chosen ? [{ r: rSel.chosen, on: true }] : [])].map(({ r, on }) => {
    const dv = isObject(r.match.runtime_fraction) ? r.match.runtime_fraction : {}
    return envoyFinding('runtime-fraction-assumed', {
      route: routeName(r),
      fraction: JSON.stringify(isObject(dv) ? dv.default_value ?? {} : {}),
      random: randomValue,
      outcome: on ? 'it matches' : 'it is skipped',
    })
  })
  if (!rSel.chosen) {
    s.steps.push(
      newStep('route', 'no_match', `No route of ${vh.name} matches ${http.method} ${http.path}: 404 NR.`, {
        decision: { responseCode: 404, responseFlag: 'NR' },
        rejected: rSel.rejected,
        findings: [...fractionFindings, envoyFinding('no-route-match', { virtualHost: vh.name, path: http.path })],
      }),
    )
    return finish(s, 'no_route')
  }
  const route = rSel.chosen
  s.result.route = routeName(route)
  for (const f of routeFilterFindings(hcm, route)) nfStep.findings.push(f)
  return traceRouteAction(s, vh, route, req, rSel.evidence, rSel.rejected, fractionFindings, randomValue, opts)
}

/** The HTTP filters of an HCM that may end a request for a route depend on the two alone: worked out once per pair. */
const ROUTE_FILTER_FINDINGS = new WeakMap<HttpConnectionManager, WeakMap<Route, Finding[]>>()

function routeFilterFindings(hcm: HttpConnectionManager, route: Route): Finding[] {
  return memoPair(ROUTE_FILTER_FINDINGS, hcm, route, buildRouteFilterFindings)
}

function buildRouteFilterFindings(hcm: HttpConnectionManager, route: Route): Finding[] {
  return httpFilterFindings(hcm.httpFilters, route).map((f) => Object.freeze(f))
}

/** What the route step needs of a route that does not depend on the request, read once per model and route. */
interface RoutePlan {
  ref: ConfigRef
  /** `Route <name>`, with ` (VirtualService <vs>)` when an Istio VirtualService made it: how summaries start. */
  title: string
  vs: ReturnType<typeof istioConfigRef>
  /** Whether the action may rewrite the path or the host (else the rewrites need not be worked out). */
  mayRewrite: boolean
  /**
   * For a `route` action naming one cluster: its decision when the request adds nothing to it (no virtual cluster,
   * no rewrite), the end of its summary and its cluster stages.
   */
  fixed: { cluster: string; decision: Record<string, unknown>; summaryEnd: string; tail: ClusterTail } | null
}

const REWRITE_FIELDS = ['prefix_rewrite', 'regex_rewrite', 'path_rewrite_policy', 'host_rewrite_literal', 'host_rewrite', 'host_rewrite_header', 'host_rewrite_path_regex']

const ROUTE_PLANS = new WeakMap<EnvoyModel, WeakMap<Route, RoutePlan>>()

function routePlan(model: EnvoyModel, route: Route): RoutePlan {
  return memoPair(ROUTE_PLANS, model, route, buildRoutePlan)
}

function buildRoutePlan(model: EnvoyModel, route: Route): RoutePlan {
  const vs = istioConfigRef(route.istioConfig)
  const plan: RoutePlan = {
    ref: routeRef(route),
    title: `Route ${routeName(route)}${vs ? ` (VirtualService ${vs.name})` : ''}`,
    vs,
    mayRewrite: route.action.kind === 'route' && REWRITE_FIELDS.some((k) => k in route.action.config),
    fixed: null,
  }
  const action = route.action
  if (action.kind === 'route' && action.cluster.kind === 'cluster') {
    const decision = routeDecision(route, vs, '')
    Object.assign(decision, routeActionExtras(action.config))
    if (action.config.auto_host_rewrite === true) decision.autoHostRewrite = true
    decision.cluster = action.cluster.name
    // Shallow: hash_policy and metadata_match are the model's own config objects, left as they are.
    plan.fixed = { cluster: action.cluster.name, decision: Object.freeze(decision), summaryEnd: ` to ${action.cluster.name}.`, tail: clusterTail(model, action.cluster.name, 'cluster') }
  }
  return plan
}

/** The start of a route step's decision: the action, the virtual cluster ('' = none) and the VirtualService. */
function routeDecision(route: Route, vsRef: ReturnType<typeof istioConfigRef>, vcluster: string): Record<string, unknown> {
  const decision: Record<string, unknown> = { action: route.action.kind }
  // Virtual clusters only name the stats (vhost.<vh>.vcluster.<vc>.*); shown when the vhost defines any.
  if (vcluster !== '') decision.virtualCluster = vcluster
  if (vsRef) {
    decision.virtualService = vsRef.name
    if (vsRef.namespace) decision.virtualServiceNamespace = vsRef.namespace
    decision.istioConfig = route.istioConfig
  }
  return decision
}

function traceRouteAction(
  s: State,
  vh: VirtualHost,
  route: Route,
  req: RouteRequest,
  evidence: TraceStep['evidence'],
  rejected: TraceStep['rejected'],
  findings: Finding[],
  randomValue: number,
  opts: { randomValue?: number },
): EnvoyTrace {
  const plan = routePlan(s.model, route)
  const vcluster = selectVirtualCluster(vh, req.headers)
  const fixed = plan.fixed
  if (fixed !== null && vcluster === '' && !plan.mayRewrite) {
    // The common case: everything but the summary was worked out with the plan.
    s.steps.push(newStep('route', 'matched', `${plan.title} sends ${req.method} ${req.path}${fixed.summaryEnd}`, { chosen: plan.ref, decision: fixed.decision, evidence, rejected, findings }))
    s.result.cluster = fixed.cluster
    return traceCluster(s, fixed.cluster, 'cluster', 'the request', fixed.tail)
  }
  const decision = routeDecision(route, plan.vs, vcluster)
  const title = plan.title
  const base = { chosen: plan.ref, decision, evidence, rejected, findings }
  const action = route.action
  if (action.kind === 'redirect') {
    const r = computeRedirect(route, action.config, req)
    Object.assign(decision, { responseCode: r.status, location: r.location })
    s.steps.push(newStep('route', 'matched', `${title} redirects: ${r.status} to ${r.location}.`, base))
    return finish(s, 'redirect')
  }
  if (action.kind === 'direct_response') {
    Object.assign(decision, { responseCode: action.status, ...(action.body !== null ? { body: action.body } : {}) })
    if (vh.name === 'block_all') findings.push(envoyFinding('blackhole-registry-only', { what: 'the request', cluster: 'block_all (direct_response 502)' }))
    else findings.push(envoyFinding('direct-response', { status: action.status }))
    s.steps.push(newStep('route', 'matched', `${title} answers ${action.status} directly (direct_response).`, base))
    return finish(s, 'direct_response')
  }
  if (action.kind !== 'route') {
    s.steps.push(newStep('route', 'unresolved', `Route ${routeName(route)} has a ${action.kind} action, which mesh-trace does not model.`, { ...base, findings: [...findings, envoyFinding('unknown-extension', { where: `route ${routeName(route)}`, typeUrl: action.kind })] }))
    return finish(s, 'unknown')
  }
  Object.assign(decision, routeActionExtras(action.config))
  const newPath = plan.mayRewrite ? rewritePath(route, action.config, req.path) : null
  const newHost = plan.mayRewrite ? rewriteHost(action.config, req) : null
  if (newPath !== null) decision.pathRewrite = newPath
  if (newHost !== null) decision.hostRewrite = newHost
  if (action.config.auto_host_rewrite === true) decision.autoHostRewrite = true
  let cluster: string | null = null
  let via = 'cluster'
  const spec = action.cluster
  if (spec.kind === 'cluster') cluster = spec.name
  else if (spec.kind === 'cluster_header') {
    via = `cluster_header ${spec.header}`
    cluster = (req.headers.get(spec.header) ?? []).join(',')
    decision.clusterHeader = spec.header
  } else if (spec.kind === 'weighted_clusters') {
    const pick = pickWeightedCluster(spec.clusters, spec.totalWeight, randomValue)
    decision.weightedClusters = pick.weights
    decision.randomValue = randomValue
    cluster = pick.chosen ? (pick.chosen.clusterHeader ? (req.headers.get(pick.chosen.clusterHeader.toLowerCase()) ?? []).join(',') : pick.chosen.name) : null
    via = 'weighted_clusters'
    if (spec.clusters.length > 1) {
      findings.push(envoyFinding('weighted-cluster-pick', {
        weights: pick.weights.map((w) => `${w.name} ${w.percent}% (random % ${pick.total} in [${w.from}, ${w.to}))`).join(', '),
        random: opts.randomValue ?? `${randomValue} (default; pass --random-value)`,
        cluster: cluster ?? '(none)',
      }))
      s.weightedMembers = pick.weights.map((w) => ({ name: w.name, percent: w.percent }))
    }
  } else {
    s.steps.push(newStep('route', 'unresolved', `Route ${routeName(route)} picks its cluster with a cluster_specifier_plugin, which mesh-trace does not model.`, { ...base, findings: [...findings, envoyFinding('unknown-extension', { where: `route ${routeName(route)}`, typeUrl: 'cluster_specifier_plugin' })] }))
    return finish(s, 'unknown')
  }
  decision.cluster = cluster
  s.steps.push(newStep('route', 'matched', `${title} sends ${req.method} ${req.path} to ${cluster ?? '(no cluster)'}.`, base))
  if (cluster === null) return finish(s, 'no_route')
  s.result.cluster = cluster
  return traceCluster(s, cluster, via, 'the request')
}

// --- cluster and endpoints ---------------------------------------------------------------------

/**
 * The cluster and endpoint stages for a cluster name and how it was named, shared by every trace (lookupCluster and,
 * unless the endpoints depend on the connection (ORIGINAL_DST), the endpoint stage): one lookup instead of four.
 */
interface ClusterTail {
  cluster: Cluster | null
  step: TraceStep
  endpoints: EndpointResolution | null
  /** Whether the cluster is one of Istio's passthrough clusters, or its blackhole. */
  passthrough: boolean
  blackhole: boolean
}

const CLUSTER_TAILS = new WeakMap<EnvoyModel, Map<string, Map<string, ClusterTail>>>()

function clusterTail(model: EnvoyModel, name: string, via: string): ClusterTail {
  let byName = CLUSTER_TAILS.get(model)
  if (byName === undefined) {
    byName = new Map()
    CLUSTER_TAILS.set(model, byName)
  }
  let byVia = byName.get(name)
  if (byVia === undefined) {
    byVia = new Map()
    byName.set(name, byVia)
  }
  let tail = byVia.get(via)
  if (tail === undefined) {
    const lookup = lookupCluster(model, name, via)
    const c = lookup.cluster
    tail = {
      cluster: c,
      step: freezeStep(lookup.step),
      endpoints: c !== null && lookup.step.outcome !== 'unresolved' && c.type !== 'ORIGINAL_DST' ? sharedResolution(model, c) : null,
      passthrough: c !== null && PASSTHROUGH_CLUSTERS.includes(c.name),
      blackhole: c !== null && c.name === BLACKHOLE_CLUSTER,
    }
    byVia.set(via, tail)
  }
  return tail
}

function traceCluster(s: State, name: string, via: string, what: string, tail: ClusterTail = clusterTail(s.model, name, via)): EnvoyTrace {
  const lookup = { cluster: tail.cluster, step: copyStep(tail.step) }
  s.steps.push(lookup.step)
  // A route naming a cluster Envoy lacks: 503 NC since Envoy 1.18, 404 NR before (cluster_not_found_response_code).
  if (!lookup.cluster) return finish(s, !s.model.present.clusters ? 'unknown' : lookup.step.decision.responseFlag === 'NR' ? 'no_route' : 'no_cluster')
  if (lookup.step.outcome === 'unresolved') return finish(s, 'unknown')
  const cluster: Cluster = lookup.cluster
  if (tail.passthrough) {
    lookup.step.findings.push(envoyFinding('passthrough-allow-any', { cluster: cluster.name, destination: formatAddress(s.localAddress.ip, s.localAddress.port), why: passthroughReason(s) }))
  }
  // Decisions may be shared between traces (frozen): additions go to a copy.
  if (tail.blackhole) lookup.step.decision = { ...lookup.step.decision, note: `${what} is dropped` }
  const ep = tail.endpoints !== null ? copyResolution(tail.endpoints) : resolveEndpoints(s.model, cluster, s.localAddress)
  if (s.weightedMembers !== undefined) {
    // Story 15: every member of the split with the endpoints it would send to, not only the one picked.
    const index = envoyIndex(s.model)
    lookup.step.decision = { ...lookup.step.decision }
    lookup.step.decision.weightedMembers = s.weightedMembers.map((m) => {
      const member = index.clustersByName.get(m.name)
      return { cluster: m.name, percent: m.percent, picked: m.name === cluster.name, endpoints: member === undefined ? null : m.name === cluster.name ? ep.endpoints : resolveEndpoints(s.model, member, s.localAddress).endpoints }
    })
    lookup.step.evidence.push(...(lookup.step.decision.weightedMembers as Array<{ cluster: string; percent: number; picked: boolean; endpoints: string[] | null }>).map((m) => ({
      field: `weighted member ${m.cluster}`,
      expected: `${m.percent}% of requests${m.picked ? ' (picked)' : ''}`,
      actual: m.endpoints === null ? '(cluster not in the config)' : m.endpoints.length > 0 ? m.endpoints.join(', ') : '(no eligible endpoint)',
    })))
  }
  s.steps.push(ep.step)
  s.result.endpoints = ep.endpoints
  if (ep.outcome === 'unknown') return finish(s, 'forwarded')
  return finish(s, ep.outcome)
}

/** Why the catch-all applied: the Host matched only the `*` virtual host, or no listener/chain is specific to the destination. */
function passthroughReason(s: State): string {
  const vh = [...s.steps].reverse().find((st) => st.stage === 'virtual_host' && st.outcome === 'matched')
  if (vh !== undefined) {
    const host = vh.evidence.find((e) => e.field === 'host' || e.field.startsWith('header '))?.actual ?? s.conn.originalDst.ip
    return `no virtual host of this route configuration lists the Host ${host}, so the catch-all virtual host ${vh.chosen?.name ?? '*'} applied (the address dialled does not choose the virtual host)`
  }
  const chain = [...s.steps].reverse().find((st) => st.stage === 'filter_chain' && st.outcome === 'matched')
  return `no listener or filter chain is specific to ${formatAddress(s.conn.originalDst.ip, s.conn.originalDst.port)}, so ${chain?.chosen?.name !== undefined ? `the catch-all filter chain ${chain.chosen.name}` : 'the catch-all'} of ${s.listener?.name ?? 'the listener'} applied`
}

// --- name resolution from Envoy ----------------------------------------------------------------

/**
 * Resolves a host name to a VIP from the Envoy config: a virtual host of a route config for `port` that lists
 * `host` (or `host:port`) and an IP-literal domain; else a `<VIP>_<port>` TCP listener whose tcp_proxy
 * cluster is `outbound|<port>||<host>.…`.
 */
export function resolveHostFromEnvoy(model: EnvoyModel, host: string, port: number): { ip: string; fqdn?: string; source: SourceRef } | undefined {
  const name = host.toLowerCase()
  const wanted = [name, `${name}:${port}`]
  const index = envoyIndex(model)
  // Route configs serving this port: named after it, or referenced by listeners on it.
  const configs = new Set<RouteConfiguration>()
  const byName = index.routeConfigsByName.get(String(port))
  if (byName) configs.add(byName)
  for (const l of model.listeners) {
    if (l.address?.port !== port) continue
    for (const fc of l.filterChains) {
      for (const f of fc.filters) {
        const rs = f.hcm?.routeSource
        if (rs?.kind === 'rds') {
          const rc = index.routeConfigsByName.get(rs.routeConfigName)
          if (rc) configs.add(rc)
        }
      }
    }
  }
  for (const rc of model.routeConfigs) if (rc.name.endsWith(`:${port}`) || rc.name.endsWith(`_${port}`)) configs.add(rc)
  for (const rc of configs) {
    for (const vh of rc.virtualHosts) {
      if (!vh.domains.some((d) => wanted.includes(d))) continue
      const ipDomain = vh.domains.map((d) => (isIpLiteral(d) ? d : isIpLiteral(stripPort(d)) && d.endsWith(`:${port}`) ? stripPort(d) : null)).find((d): d is string => d !== null)
      if (!ipDomain) continue
      const names = vh.domains.map((d) => (d.endsWith(`:${port}`) ? stripPort(d) : d)).filter((d) => !isIpLiteral(d) && d !== '*' && !d.includes('*'))
      const fqdn = names.sort((a, b) => b.length - a.length)[0]
      return { ip: stripBrackets(ipDomain), ...(fqdn ? { fqdn } : {}), source: vh.source }
    }
  }
  for (const l of model.listeners) {
    if (l.address?.port !== port || l.state === 'warming' || l.state === 'draining') continue
    const wildcard = l.address.ip === '0.0.0.0' || l.address.ip === '::'
    for (const fc of l.filterChains) {
      for (const f of fc.filters) {
        const c = f.tcpProxy?.cluster
        if (!c) continue
        const m = /^outbound\|(\d+)\|[^|]*\|(.+)$/.exec(c)
        if (!m || Number(m[1]) !== port) continue
        const fqdn = m[2]
        if (fqdn !== name && !fqdn.startsWith(`${name}.`)) continue
        // `<VIP>_<port>` listener, or a chain of a shared `0.0.0.0_<port>` listener keyed on the VIP (prefix_ranges /32).
        if (!wildcard) return { ip: l.address.ip, fqdn, source: l.source }
        const vip = fc.match.prefixRanges.find((r) => r.prefixLen === (r.addressPrefix.includes(':') ? 128 : 32))
        if (vip) return { ip: vip.addressPrefix, fqdn, source: fc.source }
      }
    }
  }
  return undefined
}
