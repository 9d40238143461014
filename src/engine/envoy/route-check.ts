/**
 * A pure runner for Envoy's route table check tool test files (router_check_tool, validation.proto):
 * a RouteConfiguration plus `{tests: [{test_name, input, validate}]}` (or the pre-2020 bare array form),
 * giving per-test pass/fail with mismatches, and route coverage.
 */
import { parse as parseYaml } from 'yaml'
import { EnvoyConfigError, arrAt, boolAt, isObject, loadRouteConfiguration, normalizeJson, numAt, objAt, strAt } from './config-dump.js'
import { matchHeader, type HeaderView } from './header-matcher.js'
import type { Json, JsonObject, Route, RouteConfiguration, VirtualHost } from './model.js'
import { computeRedirect, pickWeightedCluster, rewriteHost, rewritePath, selectRoute, selectVirtualCluster, type RouteRequest } from './route.js'
import { selectVirtualHost } from './virtual-host.js'

/** One test of a check file, normalised to the current schema. */
export interface RouteCheckTest {
  name: string
  input: {
    authority: string
    path: string
    method: string
    ssl: boolean
    internal: boolean
    randomValue: number
    runtime: string
    requestHeaders: Array<[string, string]>
    responseHeaders: Array<[string, string]>
    dynamicMetadata: Record<string, unknown>
  }
  /** `validate`, normalised (wrapper values unwrapped; absent fields absent). */
  validate: JsonObject
}

/** A difference between what a test expected and what the simulated router did. */
export interface RouteCheckMismatch {
  field: string
  expected: string
  actual: string
}

/** The outcome of one test. */
export interface RouteCheckTestResult {
  name: string
  pass: boolean
  mismatches: RouteCheckMismatch[]
  /** The route the request resolved to (`vhost/#i` or its name), null when none. */
  route: string | null
  /** Constructs the runner could not simulate (the test is failed when they matter). */
  unsupported: string[]
}

/** The whole run. */
export interface RouteCheckReport {
  passed: number
  failed: number
  results: RouteCheckTestResult[]
  /** Routes some test resolved to, over all routes. */
  coverage: { routes: number; covered: number; percent: number; uncovered: Array<{ virtualHost: string; route: string }> }
}

/** Parses check-file or route-config text: JSON, or YAML (which also accepts JSON with trailing commas). */
export function parseRouteCheckText(text: string, file = 'tests'): unknown {
  try {
    return JSON.parse(text)
  } catch {
    try {
      return parseYaml(text)
    } catch (e) {
      throw new EnvoyConfigError(file, '', 'invalid-json-or-yaml', `not valid JSON or YAML (${(e as Error).message.split('\n')[0]})`)
    }
  }
}

function unwrapStruct(v: Json | undefined): unknown {
  return v === undefined ? undefined : v
}

function headerPairs(list: Json[], keyField: string): Array<[string, string]> {
  return list.filter(isObject).map((h) => [(strAt(h, keyField) ?? '').toLowerCase(), strAt(h, 'value') ?? ''])
}

function rawTestInput(doc: unknown, legacy: boolean, i: number): Record<string, unknown> | undefined {
  const list = legacy ? doc : (doc as { tests?: unknown })?.tests
  const t = Array.isArray(list) ? (list[i] as { input?: unknown } | undefined) : undefined
  return t && typeof t.input === 'object' && t.input !== null ? (t.input as Record<string, unknown>) : undefined
}

/** Normalises a check file (current `{tests}` schema or the pre-2020 bare array) into tests. */
export function parseRouteCheckTests(doc: unknown): RouteCheckTest[] {
  const { json } = normalizeJson(doc)
  const legacy = Array.isArray(json)
  const tests = legacy ? json : isObject(json) && Array.isArray(json.tests) ? json.tests : null
  if (tests === null) throw new EnvoyConfigError('tests', '', 'no-tests', 'expected {"tests": [...]} or a bare array of tests')
  return tests.map((t, i) => {
    if (!isObject(t)) throw new EnvoyConfigError('tests', legacy ? `/${i}` : `/tests/${i}`, 'test-not-object', 'each test must be an object')
    const input = objAt(t, 'input')
    const md: Record<string, unknown> = {}
    // Metadata values are user data (Struct): read them from the original document, keys untouched.
    const rawInput = rawTestInput(doc, legacy, i)
    const rawMd = (rawInput?.dynamic_metadata ?? rawInput?.dynamicMetadata ?? []) as unknown[]
    arrAt(input, 'dynamic_metadata').forEach((e, j) => {
      if (!isObject(e)) return
      const ns = strAt(e, 'metadata_namespace') ?? ''
      const original = rawMd[j] as Record<string, unknown> | undefined
      const value = original?.value ?? unwrapStruct(e.value)
      const prev = md[ns]
      // allow_overwrite (default false) decides whether a later entry's keys replace earlier ones.
      const overwrite = boolAt(e, 'allow_overwrite') === true
      if (prev === undefined) md[ns] = value
      else if (isObject(prev as Json) && isObject(value as Json)) md[ns] = overwrite ? { ...(prev as object), ...(value as object) } : { ...(value as object), ...(prev as object) }
      else if (overwrite) md[ns] = value
    })
    return {
      name: strAt(t, 'test_name') ?? `#${i}`,
      input: {
        authority: strAt(input, 'authority') ?? strAt(input, ':authority') ?? '',
        path: strAt(input, 'path') ?? strAt(input, ':path') ?? '',
        method: strAt(input, 'method') ?? strAt(input, ':method') ?? 'GET',
        ssl: boolAt(input, 'ssl') === true,
        internal: boolAt(input, 'internal') === true,
        randomValue: numAt(input, 'random_value') ?? 0,
        runtime: strAt(input, 'runtime') ?? '',
        requestHeaders: [...headerPairs(arrAt(input, 'additional_request_headers'), 'key'), ...headerPairs(arrAt(input, 'additional_headers'), legacy ? 'field' : 'key')],
        responseHeaders: headerPairs(arrAt(input, 'additional_response_headers'), 'key'),
        dynamicMetadata: md,
      },
      validate: objAt(t, 'validate'),
    }
  })
}

// --- header maps ---------------------------------------------------------------------------------

type Headers = Array<[string, string]>

function view(h: Headers): HeaderView {
  const v: HeaderView = new Map()
  for (const [k, val] of h) v.set(k, [...(v.get(k) ?? []), val])
  return v
}

function first(h: Headers, name: string): string {
  return h.find(([k]) => k === name)?.[1] ?? ''
}

function setHeader(h: Headers, name: string, value: string): Headers {
  const idx = h.findIndex(([k]) => k === name)
  if (idx < 0) return [...h, [name, value]]
  return h.map(([k, v], i) => (i === idx ? [k, value] : [k, v])).filter(([k], i) => k !== name || i === idx) as Headers
}

/** Substitutes the command operators the tool can resolve (its stream info has a 127.0.0.1 peer). */
function formatHeaderValue(value: string, unsupported: Set<string>): string {
  return value.replace(/%%|%([A-Z_]+)(\([^)]*\))?%/g, (whole, op: string | undefined) => {
    if (whole === '%%') return '%'
    switch (op) {
      case 'DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT':
      case 'DOWNSTREAM_DIRECT_REMOTE_ADDRESS_WITHOUT_PORT':
        return '127.0.0.1'
      case 'DOWNSTREAM_REMOTE_ADDRESS':
      case 'DOWNSTREAM_DIRECT_REMOTE_ADDRESS':
        return '127.0.0.1:0'
      case 'PROTOCOL':
        return 'HTTP/1.1'
      default:
        unsupported.add(`header formatter ${whole}`)
        return ''
    }
  })
}

/** Applies one level's `*_headers_to_remove` then `*_headers_to_add` (HeaderParser::evaluateHeaders). */
function applyHeaderMutations(h: Headers, level: JsonObject, kind: 'request' | 'response', unsupported: Set<string>): Headers {
  const removes = arrAt(level, `${kind}_headers_to_remove`).filter((x): x is string => typeof x === 'string').map((x) => x.toLowerCase())
  let out = h.filter(([k]) => !removes.includes(k))
  for (const opt of arrAt(level, `${kind}_headers_to_add`).filter(isObject)) {
    const header = objAt(opt, 'header')
    const key = (strAt(header, 'key') ?? '').toLowerCase()
    const value = formatHeaderValue(strAt(header, 'value') ?? '', unsupported)
    const appendLegacy = boolAt(opt, 'append')
    const action = strAt(opt, 'append_action') ?? (appendLegacy === false ? 'OVERWRITE_IF_EXISTS_OR_ADD' : 'APPEND_IF_EXISTS_OR_ADD')
    const exists = out.some(([k]) => k === key)
    if (action === 'APPEND_IF_EXISTS_OR_ADD') out = [...out, [key, value]]
    else if (action === 'ADD_IF_ABSENT') out = exists ? out : [...out, [key, value]]
    else if (action === 'OVERWRITE_IF_EXISTS_OR_ADD') out = [...out.filter(([k]) => k !== key), [key, value]]
    else if (action === 'OVERWRITE_IF_EXISTS') out = exists ? [...out.filter(([k]) => k !== key), [key, value]] : out
  }
  return out
}

// --- simulation ----------------------------------------------------------------------------------

interface Simulated {
  route: Route | null
  vhost: VirtualHost | null
  kind: 'none' | 'route' | 'direct'
  cluster: string
  virtualCluster: string
  virtualHostName: string
  pathRewrite: string
  hostRewrite: string
  pathRedirect: string
  codeRedirect: number
  requestHeaders: Headers
  responseHeaders: Headers
  unsupported: Set<string>
}

function simulate(rc: RouteConfiguration, t: RouteCheckTest): Simulated {
  const unsupported = new Set<string>()
  const scheme = t.input.ssl ? 'https' : 'http'
  let request: Headers = [
    [':authority', t.input.authority],
    [':path', t.input.path],
    [':method', t.input.method],
    ['x-forwarded-proto', scheme],
    [':scheme', scheme],
  ]
  if (t.input.internal) request.push(['x-envoy-internal', 'true'])
  request = [...request, ...t.input.requestHeaders]
  let response: Headers = [...t.input.responseHeaders]
  const base: Simulated = { route: null, vhost: null, kind: 'none', cluster: '', virtualCluster: '', virtualHostName: '', pathRewrite: '', hostRewrite: '', pathRedirect: '', codeRedirect: 0, requestHeaders: request, responseHeaders: response, unsupported }
  // vhost_header may name any request header; the first value of each is what the lookup sees.
  const byName: Record<string, string> = { host: t.input.authority }
  for (const [k, v] of request) if (!(k in byName)) byName[k] = v
  const vhSel = selectVirtualHost(rc, byName)
  const vh = vhSel.chosen
  if (!vh) return base
  const hv = view(request)
  const req: RouteRequest = { method: t.input.method, path: t.input.path, headers: hv, scheme, tls: { presented: false, validated: false }, dynamicMetadata: t.input.dynamicMetadata }
  const directResponse = (status: number, body: string | null, location: string, route: Route | null): Simulated => {
    // sendLocalReply: the status, and content-length / content-type text/plain when there is a body.
    response = [...response, [':status', String(status)]]
    if (body !== null && body !== '') response = [...response, ['content-length', String(new TextEncoder().encode(body).length)], ['content-type', 'text/plain']]
    for (const level of [route?.raw ?? {}, vh.raw, rc.raw]) response = applyHeaderMutations(response, level, 'response', unsupported)
    return { ...base, route, vhost: vh, kind: 'direct', pathRedirect: location, codeRedirect: status, responseHeaders: response }
  }
  // require_tls is checked before any route (VirtualHostImpl::getRouteFromEntries): an SSL redirect.
  const requireTls = strAt(vh.raw, 'require_tls')
  if (scheme !== 'https' && (requireTls === 'ALL' || (requireTls === 'EXTERNAL_ONLY' && !t.input.internal))) {
    return directResponse(301, null, `https://${t.input.authority}${t.input.path}`, null)
  }
  const sel = selectRoute(vh, req, {
    randomValue: t.input.randomValue,
    ignorePathParameters: rc.ignorePathParameters,
    // The tool's runtime mock: on only for the key the test names; numerator 0 is raised to 1 (assignRuntimeFraction).
    runtime: (key, numerator, denominator, random) => t.input.runtime !== '' && key === t.input.runtime && random % denominator < Math.max(1, numerator),
  })
  if (sel.unresolved) unsupported.add(sel.unresolved.what)
  const route = sel.chosen
  if (!route) return { ...base, vhost: vh }
  const action = route.action
  if (action.kind === 'redirect') {
    const r = computeRedirect(route, action.config, req)
    return directResponse(r.status, null, r.location, route)
  }
  if (action.kind === 'direct_response') {
    const r = computeRedirect(route, {}, req)
    return directResponse(action.status, action.body, r.location, route)
  }
  if (action.kind !== 'route') {
    unsupported.add(`${action.kind} action`)
    return { ...base, route, vhost: vh }
  }
  let cluster = ''
  const spec = action.cluster
  if (spec.kind === 'cluster') cluster = spec.name
  else if (spec.kind === 'cluster_header') cluster = (hv.get(spec.header) ?? [''])[0]
  else if (spec.kind === 'weighted_clusters') {
    const pick = pickWeightedCluster(spec.clusters, spec.totalWeight, t.input.randomValue)
    cluster = pick.chosen ? (pick.chosen.clusterHeader ? (hv.get(pick.chosen.clusterHeader.toLowerCase()) ?? [''])[0] : pick.chosen.name) : ''
  } else unsupported.add('cluster_specifier_plugin')
  // finalizeRequestHeaders: header mutations route → vhost → route config, then host and path rewrites.
  for (const level of [route.raw, vh.raw, rc.raw]) request = applyHeaderMutations(request, level, 'request', unsupported)
  const newHost = rewriteHost(action.config, req)
  if (newHost !== null) request = setHeader(request, ':authority', newHost)
  if (action.config.auto_host_rewrite === true) unsupported.add('auto_host_rewrite')
  const newPath = rewritePath(route, action.config, t.input.path)
  if (newPath !== null) request = setHeader(request, ':path', newPath)
  for (const level of [route.raw, vh.raw, rc.raw]) response = applyHeaderMutations(response, level, 'response', unsupported)
  const finalView = view(request)
  return {
    ...base,
    route,
    vhost: vh,
    kind: 'route',
    cluster,
    virtualCluster: selectVirtualCluster(vh, finalView),
    virtualHostName: vh.name,
    pathRewrite: first(request, ':path'),
    hostRewrite: first(request, ':authority'),
    requestHeaders: request,
    responseHeaders: response,
  }
}

function describeMatcher(m: JsonObject): string {
  return JSON.stringify(m)
}

/** Runs every test against the route configuration. */
export function runRouteCheck(config: unknown, tests: unknown): RouteCheckReport {
  const rc = loadRouteConfiguration(config, 'route_config')
  const parsed = parseRouteCheckTests(tests)
  const covered = new Set<Route>()
  const results = parsed.map((t): RouteCheckTestResult => {
    const sim = simulate(rc, t)
    if (sim.route) covered.add(sim.route)
    const mismatches: RouteCheckMismatch[] = []
    const v = t.validate
    const compare = (field: string, actual: string | number): void => {
      if (!(field in v)) return
      const raw = v[field]
      const expected = isObject(raw) && 'value' in raw ? raw.value : raw
      if (String(expected ?? '') !== String(actual)) mismatches.push({ field, expected: String(expected ?? ''), actual: String(actual) })
    }
    compare('cluster_name', sim.cluster)
    compare('virtual_cluster_name', sim.virtualCluster)
    compare('virtual_host_name', sim.virtualHostName)
    compare('path_rewrite', sim.pathRewrite)
    compare('host_rewrite', sim.hostRewrite)
    compare('path_redirect', sim.pathRedirect)
    compare('code_redirect', sim.codeRedirect)
    for (const [field, headers] of [
      ['request_header_matches', sim.requestHeaders],
      ['response_header_matches', sim.responseHeaders],
    ] as const) {
      const hv = view(headers)
      for (const m of arrAt(v, field).filter(isObject)) {
        const r = matchHeader(m, hv)
        if (!r.ok) mismatches.push({ field: `${field} ${strAt(m, 'name') ?? ''}`, expected: describeMatcher(m), actual: r.evidence.actual })
      }
    }
    for (const [field, headers] of [
      ['request_header_fields', sim.requestHeaders],
      ['response_header_fields', sim.responseHeaders],
      ['header_fields', sim.requestHeaders],
    ] as const) {
      for (const h of arrAt(v, field).filter(isObject)) {
        const key = (strAt(h, 'key') ?? strAt(h, 'field') ?? '').toLowerCase()
        const expected = strAt(h, 'value') ?? ''
        const actual = first(headers, key)
        if (actual !== expected) mismatches.push({ field: `${field} ${key}`, expected, actual })
      }
    }
    const unsupported = [...sim.unsupported]
    const routeLabel = sim.route && sim.vhost ? `${sim.vhost.name}/${sim.route.name ?? `#${sim.route.index}`}` : sim.kind === 'direct' && sim.vhost ? `${sim.vhost.name}/require_tls` : null
    return { name: t.name, pass: mismatches.length === 0, mismatches, route: routeLabel, unsupported }
  })
  const all = rc.virtualHosts.flatMap((vh) => vh.routes.map((r) => ({ vh, r })))
  const uncovered = all.filter(({ r }) => !covered.has(r)).map(({ vh, r }) => ({ virtualHost: vh.name, route: r.name ?? `#${r.index}` }))
  const passed = results.filter((r) => r.pass).length
  return {
    passed,
    failed: results.length - passed,
    results,
    coverage: { routes: all.length, covered: all.length - uncovered.length, percent: all.length ? Math.round(((all.length - uncovered.length) / all.length) * 10000) / 100 : 100, uncovered },
  }
}
