/**
 * Route matching inside a virtual host (first match wins) and the chosen route's action:
 * cluster / cluster_header / weighted clusters, redirect, direct_response, rewrites, timeout, retries.
 */
import type { Alternative, Evidence, MismatchCode } from '../trace/trace.js'
import { arrAt, boolAt, isObject, numAt, objAt, strAt } from './config-dump.js'
import { compileRe2, matchHeaders, matchQueryParameter, matchValue, parseQuery, re2FullMatch, regexOf, type HeaderView } from './header-matcher.js'
import type { ClusterWeight, JsonObject, Route, VirtualHost } from './model.js'
import { routeRef } from './refs.js'
import { stripPort } from './virtual-host.js'

/** The request as the router sees it. */
export interface RouteRequest {
  method: string
  /** `:path` including the query. */
  path: string
  /** Lower-case header names; `host` is the authority. */
  headers: HeaderView
  scheme: 'http' | 'https'
  /** Whether the downstream presented / had validated a client certificate. */
  tls: { presented: boolean; validated: boolean }
  /** Dynamic metadata by filter namespace (route-check). */
  dynamicMetadata?: Record<string, unknown>
}

/** How runtime_fraction is decided: Envoy's featureEnabled(key, default, random). */
export type RuntimeDecider = (key: string | null, numerator: number, denominator: number, randomValue: number) => boolean

/** Options for route matching. */
export interface RouteMatchOptions {
  /** Envoy's per-request random value (weighted clusters, runtime fractions); default 0, as the route table check tool. */
  randomValue?: number
  /** Overrides runtime decisions (route-check's `input.runtime`). */
  runtime?: RuntimeDecider
  /** RouteConfiguration.ignore_path_parameters_in_path_matching: drop `;params` before matching. */
  ignorePathParameters?: boolean
}

const DENOMINATORS: Record<string, number> = { HUNDRED: 100, TEN_THOUSAND: 10000, MILLION: 1000000 }

/** The `:path` without query and fragment (PathMatcher::match removes them). */
export function pathWithoutQuery(path: string): string {
  const q = path.search(/[?#]/)
  return q < 0 ? path : path.slice(0, q)
}

/** A uri_template (`/foo/{id}/**`) as an anchored RegExp source; null when invalid. */
export function uriTemplateRegex(template: string): string | null {
  const esc = (s: string): string => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')
  const segOp = (op: string): string => (op === '**' ? '.*' : op === '*' ? '[^/]+' : esc(op))
  let out = ''
  let i = 0
  while (i < template.length) {
    const c = template[i]
    if (c === '{') {
      const end = template.indexOf('}', i)
      if (end < 0) return null
      const body = template.slice(i + 1, end)
      const eq = body.indexOf('=')
      const name = eq < 0 ? body : body.slice(0, eq)
      const pattern = eq < 0 ? '*' : body.slice(eq + 1)
      out += `(?<${name.replace(/[^A-Za-z0-9_]/g, '_')}>${pattern.split('/').map(segOp).join('/')})`
      i = end + 1
    } else if (template.startsWith('**', i)) {
      out += '.*'
      i += 2
    } else if (c === '*') {
      out += '[^/]+'
      i += 1
    } else {
      out += esc(c)
      i += 1
    }
  }
  return `^${out}$`
}

/** The first failing matcher of a route, or ok. */
export type RouteVerdict = { ok: true; evidence: Evidence[]; probabilistic: { numerator: number; denominator: number; key: string | null } | null } | { ok: false; reason: MismatchCode; evidence: Evidence[] } | { ok: 'unknown'; what: string }

const KNOWN_MATCH_FIELDS = new Set([
  'prefix',
  'path',
  'safe_regex',
  'regex',
  'path_separated_prefix',
  'path_match_policy',
  'connect_matcher',
  'case_sensitive',
  'runtime_fraction',
  'runtime',
  'headers',
  'query_parameters',
  'grpc',
  'tls_context',
  'dynamic_metadata',
])

/** A route's path specifier read once: how it reads and how it tests a path; `unknown` when it cannot be evaluated. */
type PathMatcher =
  | { kind: 'path'; expected: string; test: (path: string) => boolean }
  | { kind: 'connect' }
  | { kind: 'unknown'; what: string }

function compilePathMatcher(m: JsonObject): PathMatcher {
  const cs = boolAt(m, 'case_sensitive') !== false
  const fold = (s: string): string => (cs ? s : s.toLowerCase())
  const note = cs ? '' : ' (case_sensitive: false)'
  const prefix = strAt(m, 'prefix')
  if (prefix !== null) {
    const want = fold(prefix)
    return { kind: 'path', expected: `prefix "${prefix}"${note}`, test: (path) => fold(path).startsWith(want) }
  }
  const exact = strAt(m, 'path')
  if (exact !== null) {
    const want = fold(exact)
    return { kind: 'path', expected: `exact "${exact}"${note}`, test: (path) => fold(path) === want }
  }
  if (isObject(m.safe_regex)) {
    const re = regexOf(m.safe_regex)
    if (compileRe2(re) === null) return { kind: 'unknown', what: `safe_regex "${re}" (not valid RE2)` }
    return { kind: 'path', expected: `regex "${re}"`, test: (path) => re2FullMatch(re, path) }
  }
  const legacy = strAt(m, 'regex')
  if (legacy !== null) {
    let re: RegExp
    try {
      re = new RegExp(`^(?:${legacy})$`)
    } catch {
      return { kind: 'unknown', what: `regex "${legacy}"` }
    }
    return { kind: 'path', expected: `regex "${legacy}"`, test: (path) => re.test(path) }
  }
  const sep = strAt(m, 'path_separated_prefix')
  if (sep !== null) {
    const want = fold(sep)
    return { kind: 'path', expected: `path_separated_prefix "${sep}"${note}`, test: (path) => fold(path) === want || fold(path).startsWith(`${want}/`) }
  }
  if (isObject(m.path_match_policy)) {
    const tc = objAt(m.path_match_policy, 'typed_config')
    const url = strAt(tc, '@type') ?? ''
    const template = strAt(tc, 'path_template')
    if (!url.endsWith('UriTemplateMatchConfig') || template === null) return { kind: 'unknown', what: url || 'path_match_policy' }
    const re = uriTemplateRegex(template)
    if (re === null) return { kind: 'unknown', what: `uri template ${template}` }
    // Built when first used, as before: a template the RegExp engine rejects throws where it is matched.
    return { kind: 'path', expected: `uri_template "${template}"`, test: (path) => new RegExp(re).test(path) }
  }
  if (isObject(m.connect_matcher)) return { kind: 'connect' }
  return { kind: 'unknown', what: 'a route match without a path specifier' }
}

/** The path routes match on: without query and fragment, and without `;params` when the route config says so. */
function matchablePath(path: string, ignorePathParameters: boolean): string {
  const bare = pathWithoutQuery(path)
  return ignorePathParameters ? bare.replace(/;[^/]*/g, '') : bare
}

function metadataAt(md: Record<string, unknown> | undefined, filter: string, path: string[]): unknown {
  let cur: unknown = md?.[filter]
  for (const k of path) {
    if (typeof cur !== 'object' || cur === null || Array.isArray(cur)) return undefined
    cur = (cur as Record<string, unknown>)[k]
  }
  return cur
}

/** A route's match read once (per route): everything checkRoute needs that does not depend on the request. */
interface CompiledMatch {
  /** The first field of the match mesh-trace does not know, if any. */
  unknownField: string | null
  fraction: { numerator: number; denominator: number; key: string | null; expected: string } | null
  grpc: boolean
  headers: JsonObject[]
  queryParameters: JsonObject[]
  tlsContext: Array<{ key: 'presented' | 'validated'; want: boolean }>
  dynamicMetadata: JsonObject[]
  path: PathMatcher
}

const COMPILED_MATCHES = new WeakMap<Route, CompiledMatch>()

function compiledMatch(route: Route): CompiledMatch {
  let c = COMPILED_MATCHES.get(route)
  if (c === undefined) {
    c = compileMatch(route.match)
    COMPILED_MATCHES.set(route, c)
  }
  return c
}

function compileMatch(m: JsonObject): CompiledMatch {
  // v2 `runtime` (RuntimeUInt32, percent of 100) is the older form of runtime_fraction.
  const fraction = isObject(m.runtime_fraction) ? m.runtime_fraction : isObject(m.runtime) ? { default_value: { numerator: numAt(m.runtime, 'default_value') ?? 0, denominator: 'HUNDRED' }, runtime_key: m.runtime.runtime_key ?? null } : null
  let compiledFraction: CompiledMatch['fraction'] = null
  if (fraction) {
    const dv = objAt(fraction, 'default_value')
    const numerator = numAt(dv, 'numerator') ?? 0
    const denominator = DENOMINATORS[strAt(dv, 'denominator') ?? 'HUNDRED'] ?? 100
    const key = strAt(fraction, 'runtime_key')
    compiledFraction = { numerator, denominator, key, expected: `${numerator}/${denominator}${key ? ` (runtime key ${key})` : ''}` }
  }
  const tlsContext: CompiledMatch['tlsContext'] = []
  if (isObject(m.tls_context)) {
    for (const key of ['presented', 'validated'] as const) {
      const want = boolAt(m.tls_context, key)
      if (want !== null) tlsContext.push({ key, want })
    }
  }
  return {
    unknownField: Object.keys(m).find((k) => !KNOWN_MATCH_FIELDS.has(k)) ?? null,
    fraction: compiledFraction,
    grpc: isObject(m.grpc),
    headers: arrAt(m, 'headers').filter(isObject),
    queryParameters: arrAt(m, 'query_parameters').filter(isObject),
    tlsContext,
    dynamicMetadata: arrAt(m, 'dynamic_metadata').filter(isObject),
    path: compilePathMatcher(m),
  }
}

/** The compiled matches of a virtual host's routes, in order: one lookup per virtual host rather than per route. */
const COMPILED_ROUTES = new WeakMap<VirtualHost, CompiledMatch[]>()

function compiledRoutes(vh: VirtualHost): CompiledMatch[] {
  let compiled = COMPILED_ROUTES.get(vh)
  if (compiled === undefined) {
    compiled = vh.routes.map(compiledMatch)
    COMPILED_ROUTES.set(vh, compiled)
  }
  return compiled
}

/** Checks one route against a request in Envoy's order; reports the first failing matcher. */
export function checkRoute(route: Route, req: RouteRequest, opts: RouteMatchOptions = {}): RouteVerdict {
  return checkCompiled(compiledMatch(route), req, opts, matchablePath(req.path, opts.ignorePathParameters === true))
}

function checkCompiled(c: CompiledMatch, req: RouteRequest, opts: RouteMatchOptions, path: string): RouteVerdict {
  if (c.unknownField !== null) return { ok: 'unknown', what: `route match field ${c.unknownField}` }
  const evidence: Evidence[] = []
  let probabilistic: { numerator: number; denominator: number; key: string | null } | null = null
  if (c.fraction) {
    const { numerator, denominator, key } = c.fraction
    const random = opts.randomValue ?? 0
    const on = opts.runtime ? opts.runtime(key, numerator, denominator, random) : random % denominator < numerator
    const ev = { field: 'runtime_fraction', expected: c.fraction.expected, actual: `random value ${random}` }
    if (!on) return { ok: false, reason: 'runtime-fraction', evidence: [ev] }
    evidence.push(ev)
    probabilistic = { numerator, denominator, key }
  }
  if (c.grpc) {
    const ct = (req.headers.get('content-type') ?? []).join(',')
    const ok = ct === 'application/grpc' || ct.startsWith('application/grpc+') || ct.startsWith('application/grpc;')
    const ev = { field: 'header content-type', expected: 'application/grpc (grpc: {})', actual: ct === '' ? '(absent)' : `"${ct}"` }
    if (!ok) return { ok: false, reason: 'grpc-mismatch', evidence: [ev] }
    evidence.push(ev)
  }
  if (c.headers.length) {
    const hv = matchHeaders(c.headers, req.headers)
    if (!hv.ok) return { ok: false, reason: hv.evidence[0]?.field === 'header :method' ? 'method-mismatch' : 'header-mismatch', evidence: hv.evidence }
    evidence.push(...hv.evidence)
  }
  if (c.queryParameters.length) {
    const query = parseQuery(req.path)
    for (const q of c.queryParameters) {
      const v = matchQueryParameter(q, query)
      if (!v.ok) return { ok: false, reason: 'query-parameter-mismatch', evidence: [v.evidence] }
      evidence.push(v.evidence)
    }
  }
  for (const { key, want } of c.tlsContext) {
    const ev = { field: `tls_context.${key}`, expected: String(want), actual: String(req.tls[key]) }
    if (want !== req.tls[key]) return { ok: false, reason: 'tls-context-mismatch', evidence: [ev] }
    evidence.push(ev)
  }
  for (const dm of c.dynamicMetadata) {
    const filter = strAt(dm, 'filter') ?? ''
    const mdPath = arrAt(dm, 'path').filter(isObject).map((p) => strAt(p, 'key') ?? '')
    const value = metadataAt(req.dynamicMetadata, filter, mdPath)
    const ok = matchValue(objAt(dm, 'value'), value) !== (boolAt(dm, 'invert') === true)
    const ev = { field: `dynamic_metadata ${filter}/${mdPath.join('/')}`, expected: JSON.stringify(dm.value), actual: value === undefined ? '(absent)' : JSON.stringify(value) }
    if (!ok) return { ok: false, reason: 'other', evidence: [ev] }
    evidence.push(ev)
  }
  const p = c.path
  if (p.kind === 'unknown') return { ok: 'unknown', what: p.what }
  const pathEvidence = p.kind === 'connect' ? { field: ':method', expected: 'CONNECT', actual: req.method } : { field: 'path', expected: p.expected, actual: path }
  const ok = p.kind === 'connect' ? req.method === 'CONNECT' : p.test(path)
  if (!ok) return { ok: false, reason: 'path-mismatch', evidence: [pathEvidence] }
  evidence.unshift(pathEvidence)
  return { ok: true, evidence, probabilistic }
}

/** The result of route selection in one virtual host. */
export interface RouteSelection {
  chosen: Route | null
  /** Evidence for the winner. */
  evidence: Evidence[]
  /** Routes before the winner (or all, when none matched), each with its first failing matcher. */
  rejected: Alternative[]
  /** The winner matched only through a runtime fraction. */
  probabilistic: { numerator: number; denominator: number; key: string | null } | null
  /** Routes before the winner whose runtime fraction was off under the random value. */
  fractionSkipped: Route[]
  /** Set when a route could not be evaluated. */
  unresolved: { route: Route; what: string } | null
}

/** Tries the routes of a virtual host in order; the first whose every matcher holds wins. */
export function selectRoute(vh: VirtualHost, req: RouteRequest, opts: RouteMatchOptions = {}): RouteSelection {
  const rejected: Alternative[] = []
  const fractionSkipped: Route[] = []
  const path = matchablePath(req.path, opts.ignorePathParameters === true)
  const compiled = compiledRoutes(vh)
  for (let i = 0; i < vh.routes.length; i++) {
    const r = vh.routes[i]
    const v = checkCompiled(compiled[i], req, opts, path)
    if (v.ok === 'unknown') return { chosen: null, evidence: [], rejected, probabilistic: null, fractionSkipped, unresolved: { route: r, what: v.what } }
    if (v.ok === true) return { chosen: r, evidence: v.evidence, rejected, probabilistic: v.probabilistic, fractionSkipped, unresolved: null }
    if (v.reason === 'runtime-fraction') fractionSkipped.push(r)
    rejected.push({ candidate: routeRef(r), reason: v.reason, evidence: v.evidence })
  }
  return { chosen: null, evidence: [], rejected, probabilistic: null, fractionSkipped, unresolved: null }
}

// --- actions -------------------------------------------------------------------------------------

/** A weighted pick: the cluster chosen for a random value, with every weight. */
export interface WeightedPick {
  chosen: ClusterWeight | null
  total: number
  randomValue: number
  /** Every member with its share and its bucket `[from, to)` of `random % total`. */
  weights: Array<{ name: string; weight: number; percent: number; from: number; to: number }>
}

/** Picks a weighted cluster as Envoy does: r = random % total; the first i with Σ<i ≤ r < Σ≤i. */
export function pickWeightedCluster(clusters: ClusterWeight[], totalWeight: number | null, randomValue: number): WeightedPick {
  const sum = clusters.reduce((s, c) => s + c.weight, 0)
  // Older Envoy required total_weight (default 100) and used it as the modulus.
  const total = totalWeight !== null && totalWeight > 0 ? totalWeight : sum
  let at = 0
  const weights = clusters.map((c) => {
    const from = at
    at += c.weight
    return { name: c.name, weight: c.weight, percent: total > 0 ? Math.round((c.weight / total) * 10000) / 100 : 0, from, to: at }
  })
  if (total <= 0) return { chosen: null, total, randomValue, weights }
  const r = randomValue % total
  let begin = 0
  for (const c of clusters) {
    const end = begin + c.weight
    if (r >= begin && r < end) return { chosen: c, total, randomValue, weights }
    begin = end
  }
  return { chosen: null, total, randomValue, weights }
}

const REDIRECT_CODES: Record<string, number> = { MOVED_PERMANENTLY: 301, FOUND: 302, SEE_OTHER: 303, TEMPORARY_REDIRECT: 307, PERMANENT_REDIRECT: 308 }

/** Applies a `RegexMatchAndSubstitute` (RE2, `\1` substitutions) to a path. */
export function regexSubstitute(pattern: string, substitution: string, value: string): string {
  const re = compileRe2(pattern)
  if (!re) return value
  const sub = substitution.replace(/\$/g, '\\$').replace(/\\(\d)/g, '$$$1')
  return re.matcher(value).replaceAll(sub)
}

/** The matched prefix of a route for prefix_rewrite (prefix, or path for exact matches, etc.). */
function matchedPrefix(route: Route, path: string): string | null {
  const m = route.match
  const prefix = strAt(m, 'prefix')
  if (prefix !== null) return path.slice(0, prefix.length)
  const exact = strAt(m, 'path')
  if (exact !== null) return path.slice(0, exact.length)
  const sep = strAt(m, 'path_separated_prefix')
  if (sep !== null) return path.slice(0, sep.length)
  // Regex (and template) routes count the whole path as matched (RegexRouteEntryImpl::rewritePathHeader).
  if (isObject(m.safe_regex) || strAt(m, 'regex') !== null || isObject(m.path_match_policy)) return path
  return null
}

/** The upstream path after prefix_rewrite / regex_rewrite (query kept), or null when unchanged. */
export function rewritePath(route: Route, action: JsonObject, path: string): string | null {
  const bare = pathWithoutQuery(path)
  const rest = path.slice(bare.length)
  const prefixRewrite = strAt(action, 'prefix_rewrite')
  if (prefixRewrite !== null) {
    const mp = matchedPrefix(route, bare)
    if (mp !== null) return `${prefixRewrite}${bare.slice(mp.length)}${rest}`
  }
  if (isObject(action.regex_rewrite)) {
    const rr = action.regex_rewrite
    return `${regexSubstitute(regexOf(objAt(rr, 'pattern')), strAt(rr, 'substitution') ?? '', bare)}${rest}`
  }
  if (isObject(action.path_rewrite_policy)) {
    const tc = objAt(action.path_rewrite_policy, 'typed_config')
    const rewrite = strAt(tc, 'path_template_rewrite')
    const template = strAt(objAt(route.match, 'path_match_policy'), 'path_template') ?? strAt(objAt(objAt(route.match, 'path_match_policy'), 'typed_config'), 'path_template')
    if (rewrite !== null && template !== null) {
      const re = uriTemplateRegex(template)
      const groups = re ? new RegExp(re).exec(bare)?.groups ?? {} : {}
      return `${rewrite.replace(/\{([^}]+)\}/g, (_, n: string) => groups[n.replace(/[^A-Za-z0-9_]/g, '_')] ?? '')}${rest}`
    }
  }
  return null
}

/** The upstream Host after host rewrites, or null when unchanged (auto_host_rewrite needs the endpoint). */
export function rewriteHost(action: JsonObject, req: RouteRequest): string | null {
  const literal = strAt(action, 'host_rewrite_literal') ?? strAt(action, 'host_rewrite')
  if (literal !== null) return literal
  const header = strAt(action, 'host_rewrite_header')
  if (header !== null) {
    const v = req.headers.get(header.toLowerCase())
    return v ? v.join(',') : null
  }
  if (isObject(action.host_rewrite_path_regex)) {
    const hr = action.host_rewrite_path_regex
    return regexSubstitute(regexOf(objAt(hr, 'pattern')), strAt(hr, 'substitution') ?? '', pathWithoutQuery(req.path))
  }
  return null
}

/** The redirect a route answers with: status and Location. */
export interface RedirectResult {
  status: number
  location: string
  scheme: string
  host: string
  path: string
}

/** Computes a redirect's Location as Envoy's RedirectAction would. */
export function computeRedirect(route: Route, redirect: JsonObject, req: RouteRequest): RedirectResult {
  const origHost = (req.headers.get(':authority') ?? req.headers.get('host') ?? [''])[0]
  const origScheme = req.scheme
  let scheme: string = origScheme
  if (boolAt(redirect, 'https_redirect') === true) scheme = 'https'
  const schemeRedirect = strAt(redirect, 'scheme_redirect')
  if (schemeRedirect !== null) scheme = schemeRedirect.toLowerCase()
  let host = strAt(redirect, 'host_redirect') ?? origHost
  const portRedirect = numAt(redirect, 'port_redirect')
  if (portRedirect !== null) host = `${stripPort(host)}:${portRedirect}`
  else if (scheme !== origScheme) {
    // Changing the scheme drops a port that is the default for either scheme.
    const p = host.slice(stripPort(host).length + 1)
    if (p === '80' || p === '443') host = stripPort(host)
  }
  const bare = pathWithoutQuery(req.path)
  let query = req.path.slice(bare.length)
  let path = bare
  const pathRedirect = strAt(redirect, 'path_redirect')
  if (pathRedirect !== null) {
    if (pathRedirect.includes('?')) {
      path = pathRedirect.slice(0, pathRedirect.indexOf('?'))
      query = pathRedirect.slice(pathRedirect.indexOf('?'))
    } else path = pathRedirect
  } else if (strAt(redirect, 'prefix_rewrite') !== null) {
    const mp = matchedPrefix(route, bare)
    if (mp !== null) path = `${strAt(redirect, 'prefix_rewrite')}${bare.slice(mp.length)}`
  } else if (isObject(redirect.regex_rewrite)) {
    const rr = redirect.regex_rewrite
    path = regexSubstitute(regexOf(objAt(rr, 'pattern')), strAt(rr, 'substitution') ?? '', bare)
  }
  if (boolAt(redirect, 'strip_query') === true) query = ''
  const rc = redirect.response_code
  const status = typeof rc === 'number' ? ([301, 301, 302, 303, 307, 308][rc] ?? 301) : typeof rc === 'string' ? (REDIRECT_CODES[rc] ?? 301) : 301
  return { status, location: `${scheme}://${host}${path}${query}`, scheme, host, path: `${path}${query}` }
}

/** Timeout, retries and mirrors of a RouteAction, for explanation only (read once per action, shared: do not change it). */
export function routeActionExtras(action: JsonObject): Readonly<Record<string, unknown>> {
  let extras = ACTION_EXTRAS.get(action)
  if (extras === undefined) {
    extras = readActionExtras(action)
    if (isObject(extras.retries)) Object.freeze(extras.retries)
    if (Array.isArray(extras.mirrors)) Object.freeze(extras.mirrors)
    ACTION_EXTRAS.set(action, Object.freeze(extras))
  }
  return extras
}

const ACTION_EXTRAS = new WeakMap<JsonObject, Readonly<Record<string, unknown>>>()

function readActionExtras(action: JsonObject): Record<string, unknown> {
  const out: Record<string, unknown> = { timeout: strAt(action, 'timeout') ?? '15s (Envoy default)' }
  if (isObject(action.retry_policy)) {
    const rp = action.retry_policy
    out.retries = { retryOn: strAt(rp, 'retry_on'), numRetries: numAt(rp, 'num_retries') ?? 1, perTryTimeout: strAt(rp, 'per_try_timeout') }
  }
  const mirrors = arrAt(action, 'request_mirror_policies').filter(isObject)
  if (mirrors.length) out.mirrors = mirrors.map((m) => strAt(m, 'cluster'))
  if (arrAt(action, 'hash_policy').length) out.hashPolicy = action.hash_policy
  if (isObject(action.metadata_match)) out.metadataMatch = action.metadata_match
  return out
}

/** The virtual clusters of a virtual host, read once per virtual host. */
const VIRTUAL_CLUSTERS = new WeakMap<VirtualHost, JsonObject[]>()

/** The virtual cluster (stats only) a request falls in: the first matching entry, `other` if none, '' without any. */
export function selectVirtualCluster(vh: VirtualHost, headers: HeaderView): string {
  let vcs = VIRTUAL_CLUSTERS.get(vh)
  if (vcs === undefined) {
    vcs = arrAt(vh.raw, 'virtual_clusters').filter(isObject)
    VIRTUAL_CLUSTERS.set(vh, vcs)
  }
  if (vcs.length === 0) return ''
  for (const vc of vcs) {
    const matchers = arrAt(vc, 'headers').filter(isObject)
    const pattern = strAt(vc, 'pattern')
    // The v2 form: `pattern` (regex on :path) and `method`.
    if (pattern !== null) {
      let pathOk = false
      try {
        pathOk = new RegExp(`^(?:${pattern})$`).test((headers.get(':path') ?? [''])[0])
      } catch {
        pathOk = false
      }
      const method = strAt(vc, 'method')
      if (pathOk && (method === null || (headers.get(':method') ?? [''])[0] === method)) return strAt(vc, 'name') ?? ''
      continue
    }
    if (matchHeaders(matchers, headers).ok) return strAt(vc, 'name') ?? ''
  }
  // Virtual clusters are defined but none matched: the catch-all `other` (virtualClusterFromEntries).
  return 'other'
}
