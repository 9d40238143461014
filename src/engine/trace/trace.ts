/**
 * The Trace: what happened to one request, stage by stage, with evidence.
 * This is the `mesh-trace/v1` JSON contract (design.md, "Trace JSON"); change it only on purpose.
 */

/** The stage of the path a step describes. */
export type Stage =
  | 'iptables'
  | 'listener'
  | 'filter_chain'
  | 'network_filter'
  | 'route_config'
  | 'virtual_host'
  | 'route'
  | 'cluster'
  | 'endpoint'
  | 'stats'
  | 'hop'

/** How a stage ended: something matched, the packet passed untouched, was dropped, nothing matched, or the engine cannot tell. */
export type StepOutcome = 'matched' | 'passed' | 'dropped' | 'no_match' | 'unresolved'

/** Where a piece of evidence comes from: a line of a rules file or a JSON pointer into a config dump. */
export interface SourceRef {
  /** Logical file name: `iptables-save`, `ip6tables-save`, `config_dump`, `clusters`, `stats`, `services`. */
  file: string
  /** 1-based line number in that file (iptables). */
  line?: number
  /** RFC 6901 JSON pointer into that file (config dump). */
  pointer?: string
}

/** The kinds of configuration object a step can point at. */
export type ConfigKind =
  | 'rule'
  | 'chain'
  | 'listener'
  | 'filter-chain'
  | 'network-filter'
  | 'http-filter'
  | 'route-config'
  | 'virtual-host'
  | 'route'
  | 'cluster'
  | 'endpoint'

/** A reference to one configuration object, with its source and a short excerpt. */
export interface ConfigRef {
  kind: ConfigKind
  /** The object's own name, else `#<index>` within its parent (`ISTIO_OUTPUT #6` for rules). */
  name: string
  source: SourceRef
  /** A short quote of the object: the rule line, or a compact JSON rendering. */
  excerpt?: string
}

/** One fact that decided a match: the field tested, what the config expected, what the request had. */
export interface Evidence {
  field: string
  expected: string
  actual: string
}

/** Why a candidate lost. Codes, not sentences: renderers turn them into words. */
export type MismatchCode =
  // iptables
  | 'protocol-mismatch'
  | 'source-mismatch'
  | 'destination-mismatch'
  | 'in-interface-mismatch'
  | 'out-interface-mismatch'
  | 'sport-mismatch'
  | 'dport-mismatch'
  | 'owner-mismatch'
  | 'mark-mismatch'
  | 'connmark-mismatch'
  | 'ctstate-mismatch'
  | 'addrtype-mismatch'
  | 'socket-mismatch'
  | 'tcp-flags-mismatch'
  | 'chain-returned'
  | 'non-terminating'
  | 'not-reached'
  // Envoy listeners and filter chains
  | 'address-mismatch'
  | 'not-bound'
  | 'not-active'
  | 'destination-port-mismatch'
  | 'destination-ip-mismatch'
  | 'less-specific'
  | 'server-name-mismatch'
  | 'transport-protocol-mismatch'
  | 'application-protocol-mismatch'
  | 'direct-source-ip-mismatch'
  | 'source-type-mismatch'
  | 'source-ip-mismatch'
  | 'source-port-mismatch'
  // virtual hosts and routes
  | 'domain-mismatch'
  | 'lower-precedence'
  | 'path-mismatch'
  | 'header-mismatch'
  | 'query-parameter-mismatch'
  | 'method-mismatch'
  | 'grpc-mismatch'
  | 'tls-context-mismatch'
  | 'runtime-fraction'
  | 'shadowed'
  // clusters and endpoints
  | 'unhealthy'
  | 'degraded'
  | 'excluded'
  | 'other'

/** A candidate that was checked and did not win, with why. */
export interface Alternative {
  candidate: ConfigRef
  reason: MismatchCode
  evidence: Evidence[]
}

export type FindingLevel = 'info' | 'warning' | 'error'

/** Something the user should know about a step: a cause, a risk, or an assumption made. */
export interface Finding {
  code: string
  level: FindingLevel
  message: string
}

/** One stage of the simulated request and the facts that decided it. */
export interface TraceStep {
  stage: Stage
  outcome: StepOutcome
  /** One line a person reads first. */
  summary: string
  /** What won: the deciding rule, the chosen listener, route, cluster… */
  chosen?: ConfigRef
  /** Stage-specific facts, e.g. {chainPath: ['OUTPUT','ISTIO_OUTPUT','ISTIO_REDIRECT'], toPort: 15001}. */
  decision: Record<string, unknown>
  /** Why the chosen candidate matched. */
  evidence: Evidence[]
  /** Candidates checked before or instead of the chosen one, in evaluation order, and why each lost. */
  rejected: Alternative[]
  findings: Finding[]
}

/** How the whole request ended. */
export type ResultOutcome =
  | 'forwarded'
  | 'passthrough'
  | 'blackhole'
  | 'no_route'
  | 'no_cluster'
  | 'direct_response'
  | 'redirect'
  | 'not_intercepted'
  | 'no_listener'
  | 'no_filter_chain'
  | 'no_healthy_upstream'
  | 'unknown'

/** The summary of a trace; every field a stage never reached is null. */
export interface TraceResult {
  outcome: ResultOutcome
  intercepted: boolean | null
  redirectPort: number | null
  listener: string | null
  filterChain: string | null
  routeConfig: string | null
  virtualHost: string | null
  route: string | null
  cluster: string | null
  endpoints: string[] | null
}

/** The request as the JSON contract shows it. */
export interface TraceRequestView {
  direction: 'outbound' | 'inbound'
  protocol: 'http' | 'https' | 'tcp'
  source: { pod: string | null; ip: string | null; uid: number | null }
  destination: { host: string | null; fqdn: string | null; ip: string | null; port: number }
  method: string | null
  path: string | null
  headers: Record<string, string>
}

/** A complete trace: the `mesh-trace/v1` document. */
export interface Trace {
  schema: 'mesh-trace/v1'
  request: TraceRequestView
  steps: TraceStep[]
  result: TraceResult
}

/** A result with every field null except the outcome; stages fill in what they reach. */
export function emptyResult(outcome: ResultOutcome = 'unknown'): TraceResult {
  return {
    outcome,
    intercepted: null,
    redirectPort: null,
    listener: null,
    filterChain: null,
    routeConfig: null,
    virtualHost: null,
    route: null,
    cluster: null,
    endpoints: null,
  }
}

/** A step with empty evidence lists, for stages to fill. */
export function newStep(stage: Stage, outcome: StepOutcome, summary: string, extra: Partial<TraceStep> = {}): TraceStep {
  // Written out rather than spread (hot path); the key order is the JSON order: `chosen`, when given, comes last.
  const step: TraceStep = { stage, outcome, summary, decision: extra.decision ?? {}, evidence: extra.evidence ?? [], rejected: extra.rejected ?? [], findings: extra.findings ?? [] }
  if (extra.chosen !== undefined) step.chosen = extra.chosen
  return step
}

/**
 * Readies a step that is built once and then shared by many traces: freezes its decision (deeply: it must hold
 * only values made for it) and the items it owns (evidence, alternatives, refs, findings), so that no trace can
 * change another's. The step and its lists stay unfrozen because V8 copies frozen objects several times slower;
 * they never leave the cache, as traces get them through copyStep. Model-owned `source` objects are left alone.
 */
export function freezeStep(step: TraceStep): TraceStep {
  for (const e of step.evidence) Object.freeze(e)
  for (const alt of step.rejected) freezeAlternative(alt)
  for (const f of step.findings) Object.freeze(f)
  if (step.chosen !== undefined) Object.freeze(step.chosen)
  deepFreeze(step.decision)
  return step
}

/** Freezes plain objects and arrays, recursively. */
export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const v of Object.values(value)) deepFreeze(v)
  }
  return value
}

/** Freezes an alternative that is shared by many traces, with its candidate and evidence. */
export function freezeAlternative(alt: Alternative): Alternative {
  Object.freeze(alt.candidate)
  for (const e of alt.evidence) Object.freeze(e)
  Object.freeze(alt.evidence)
  return Object.freeze(alt)
}

/**
 * A step of its own for one trace from a shared one (freezeStep): new lists, the same frozen items and decision
 * (or `decision`). Code that adds to a decision replaces it with a copy instead.
 */
export function copyStep(shared: TraceStep, decision: Record<string, unknown> = shared.decision): TraceStep {
  const step: TraceStep = {
    stage: shared.stage,
    outcome: shared.outcome,
    summary: shared.summary,
    decision,
    evidence: shared.evidence.slice(),
    rejected: shared.rejected.slice(),
    findings: shared.findings.slice(),
  }
  if (shared.chosen !== undefined) step.chosen = shared.chosen
  return step
}
