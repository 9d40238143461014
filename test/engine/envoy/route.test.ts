import { describe, expect, it } from 'vitest'
import { loadRouteConfiguration } from '../../../src/engine/envoy/config-dump.js'
import { headerView } from '../../../src/engine/envoy/header-matcher.js'
import type { Route } from '../../../src/engine/envoy/model.js'
import { checkRoute, computeRedirect, pickWeightedCluster, regexSubstitute, rewritePath, selectRoute, selectVirtualCluster, uriTemplateRegex, type RouteRequest } from '../../../src/engine/envoy/route.js'

function route(r: Record<string, unknown>): Route {
  return loadRouteConfiguration({ virtual_hosts: [{ name: 'v', domains: ['*'], routes: [{ route: { cluster: 'c' }, ...r }] }] }).virtualHosts[0].routes[0]
}

function req(path: string, headers: Record<string, string> = {}, over: Partial<RouteRequest> = {}): RouteRequest {
  const view = headerView({ host: 'a.com', ...headers })
  view.set(':path', [path])
  view.set(':method', [over.method ?? 'GET'])
  view.set(':authority', ['a.com'])
  return { method: 'GET', path, headers: view, scheme: 'http', tls: { presented: false, validated: false }, ...over }
}

describe('checkRoute: path specifiers', () => {
  it.each([
    ['prefix matches the start', { prefix: '/api' }, '/api/v1', true],
    ['prefix near miss', { prefix: '/api' }, '/ap', false],
    // Envoy surprise: path matchers see :path without query and fragment (PathMatcher::match → removeQueryAndFragment).
    ['prefix ignores the query', { prefix: '/a?b' }, '/a?b', false],
    ['path is exact', { path: '/api' }, '/api', true],
    ['path near miss: a longer path', { path: '/api' }, '/api/', false],
    ['path ignores the query', { path: '/api' }, '/api?x=1', true],
    ['case_sensitive false on path', { path: '/API', case_sensitive: false }, '/api', true],
    ['case_sensitive default true', { prefix: '/API' }, '/api', false],
    ['safe_regex is a full match', { safe_regex: { google_re2: {}, regex: '/api/[0-9]+' } }, '/api/12', true],
    ['safe_regex near miss: partial match is not enough', { safe_regex: { google_re2: {}, regex: '/api/[0-9]+' } }, '/api/12/x', false],
    ['safe_regex excludes the query', { safe_regex: { regex: '/api' } }, '/api?x', true],
    ['safe_regex is RE2, not JS: [^validate] is a class', { safe_regex: { regex: '/x[^validate]+' } }, '/xbbb', true],
    ['path_separated_prefix matches the value itself', { path_separated_prefix: '/api' }, '/api', true],
    ['path_separated_prefix matches value + /', { path_separated_prefix: '/api' }, '/api/x', true],
    ['path_separated_prefix near miss: /apis', { path_separated_prefix: '/api' }, '/apis', false],
    ['uri_template path_match_policy', { path_match_policy: { name: 'u', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.path.match.uri_template.v3.UriTemplateMatchConfig', path_template: '/foo/{id}/**' } } }, '/foo/7/a/b', true],
    ['uri_template near miss: {id} is one segment', { path_match_policy: { name: 'u', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.path.match.uri_template.v3.UriTemplateMatchConfig', path_template: '/foo/{id}' } } }, '/foo/7/8', false],
  ])('%s', (_name, match, path, ok) => {
    expect(checkRoute(route({ match }), req(path)).ok).toBe(ok)
  })
})

describe('checkRoute: other matchers and the first failing one', () => {
  it.each([
    ['headers must all hold', { prefix: '/', headers: [{ name: 'a', exact_match: '1' }, { name: 'b', present_match: true }] }, req('/', { a: '1' }), 'header-mismatch'],
    [':method is a header', { prefix: '/', headers: [{ name: ':method', exact_match: 'POST' }] }, req('/'), 'method-mismatch'],
    ['query_parameters', { prefix: '/', query_parameters: [{ name: 'v', string_match: { exact: '2' } }] }, req('/?v=1'), 'query-parameter-mismatch'],
    ['grpc needs content-type application/grpc', { prefix: '/', grpc: {} }, req('/', { 'content-type': 'application/json' }), 'grpc-mismatch'],
    ['tls_context presented', { prefix: '/', tls_context: { presented: true } }, req('/'), 'tls-context-mismatch'],
    ['headers are checked before the path (Envoy’s order)', { prefix: '/x', headers: [{ name: 'a', present_match: true }] }, req('/y'), 'header-mismatch'],
    ['runtime_fraction off for this random value', { prefix: '/', runtime_fraction: { default_value: { numerator: 10 } } }, req('/'), 'runtime-fraction'],
  ])('%s', (_name, match, request, reason) => {
    const v = checkRoute(route({ match }), request, { randomValue: 50 })

    expect(v.ok).toBe(false)
    if (v.ok === false) expect(v.reason).toBe(reason)
  })

  it.each([
    ['grpc+proto content type', { prefix: '/', grpc: {} }, req('/', { 'content-type': 'application/grpc+proto' })],
    ['runtime fraction on: random % 100 < numerator', { prefix: '/', runtime_fraction: { default_value: { numerator: 51, denominator: 'HUNDRED' } } }, req('/')],
    ['v2 runtime {default_value: 51} is percent', { prefix: '/', runtime: { runtime_key: 'k', default_value: 51 } }, req('/')],
    ['TEN_THOUSAND denominator', { prefix: '/', runtime_fraction: { default_value: { numerator: 51, denominator: 'TEN_THOUSAND' } } }, req('/')],
  ])('%s matches', (_name, match, request) => {
    expect(checkRoute(route({ match }), request, { randomValue: 50 }).ok).toBe(true)
  })

  it.each([
    ['ignore_path_parameters_in_path_matching drops ;params before matching', true, true],
    ['near miss: without it ;params are part of the path', false, false],
  ])('%s', (_name, ignore, ok) => {
    expect(checkRoute(route({ match: { path: '/a/b' } }), req('/a;v=1/b;x'), { ignorePathParameters: ignore }).ok).toBe(ok)
  })

  it('an unmodelled match field is unknown, not a guess', () => {
    expect(checkRoute(route({ match: { prefix: '/', cookies: [] } }), req('/'))).toEqual({ ok: 'unknown', what: 'route match field cookies' })
  })

  it('selectRoute: first match wins; earlier routes are rejected in order', () => {
    const vh = loadRouteConfiguration({ virtual_hosts: [{ name: 'v', domains: ['*'], routes: [
      { name: 'a', match: { prefix: '/', headers: [{ name: 'end-user', exact_match: 'jason' }] }, route: { cluster: 'a' } },
      { name: 'b', match: { path: '/x' }, route: { cluster: 'b' } },
      { name: 'c', match: { prefix: '/' }, route: { cluster: 'c' } },
      { name: 'd', match: { prefix: '/' }, route: { cluster: 'd' } },
    ] }] }).virtualHosts[0]

    const sel = selectRoute(vh, req('/y'))

    expect(sel.chosen?.name).toBe('c')
    expect(sel.rejected.map((r) => [r.candidate.name, r.reason, r.evidence[0]])).toEqual([
      ['a', 'header-mismatch', { field: 'header end-user', expected: 'exact "jason"', actual: '(absent)' }],
      ['b', 'path-mismatch', { field: 'path', expected: 'exact "/x"', actual: '/y' }],
    ])
  })
})

describe('virtual clusters (stats only)', () => {
  const vh = (vcs: unknown[]) => loadRouteConfiguration({ virtual_hosts: [{ name: 'v', domains: ['*'], routes: [], virtual_clusters: vcs }] }).virtualHosts[0]
  const rides = { name: 'rides', headers: [{ name: ':path', string_match: { safe_regex: { regex: '^/rides/\\d+$' } } }, { name: ':method', string_match: { exact: 'PUT' } }] }

  it.each([
    ['the first matching entry names it', [rides], req('/rides/7', {}, { method: 'PUT' }), 'rides'],
    ['defined but none matches: other', [rides], req('/rides/7'), 'other'],
    ['none defined: no virtual cluster', [], req('/rides/7'), ''],
    ['the v2 pattern/method form', [{ name: 'old', pattern: '^/x$', method: 'GET' }], req('/x'), 'old'],
  ])('%s', (_name, vcs, request, expected) => {
    expect(selectVirtualCluster(vh(vcs), request.headers)).toBe(expected)
  })
})

describe('weighted clusters (weighted_cluster_specifier.cc)', () => {
  const cw = (name: string, weight: number) => ({ name, weight, clusterHeader: null, raw: {} })
  const three = [cw('cluster1', 30), cw('cluster2', 30), cw('cluster3', 40)]

  it.each([
    ['115 % 100 = 15 → first', 115, 'cluster1'],
    // Envoy surprise: buckets are half-open, so r equal to a running sum goes to the next cluster (weighted_cluster_specifier.cc).
    ['the boundary 30 goes to the next cluster', 30, 'cluster2'],
    ['59 is still the second', 59, 'cluster2'],
    ['the boundary 60 goes to the third', 60, 'cluster3'],
    ['99 is the last', 99, 'cluster3'],
  ])('%s', (_name, random, expected) => {
    expect(pickWeightedCluster(three, null, random).chosen?.name).toBe(expected)
  })

  it('older Envoy: total_weight is the modulus', () => {
    const pick = pickWeightedCluster([cw('a', 50), cw('b', 50)], 100, 149)

    expect([pick.chosen?.name, pick.total, pick.weights.map((w) => w.percent)]).toEqual(['a', 100, [50, 50]])
  })

  it('a zero-weight cluster is never picked', () => {
    expect(pickWeightedCluster([cw('a', 0), cw('b', 1)], null, 0).chosen?.name).toBe('b')
  })
})

describe('redirects and rewrites', () => {
  it.each([
    ['default 301 keeps scheme, host and query', { path_redirect: '/new' }, { path: '/old?x=1' }, { status: 301, location: 'http://a.com/new?x=1' }],
    ['path_redirect with a query replaces the query', { path_redirect: '/new?y=2' }, { path: '/old?x=1' }, { location: 'http://a.com/new?y=2' }],
    ['strip_query', { path_redirect: '/new', strip_query: true }, { path: '/old?x=1' }, { location: 'http://a.com/new' }],
    ['https_redirect', { https_redirect: true }, { path: '/p' }, { location: 'https://a.com/p' }],
    ['host_redirect and FOUND', { host_redirect: 'b.com', response_code: 'FOUND' }, { path: '/p' }, { status: 302, location: 'http://b.com/p' }],
    ['prefix_rewrite on a prefix route', { prefix_rewrite: '/v2/' }, { path: '/v1/x', prefix: '/v1/' }, { location: 'http://a.com/v2/x' }],
    ['port_redirect', { port_redirect: 8443 }, { path: '/p' }, { location: 'http://a.com:8443/p' }],
  ])('%s', (_name, redirect, r: { path: string; prefix?: string }, expected) => {
    const rt = route({ match: { prefix: r.prefix ?? '/' }, redirect })

    expect(computeRedirect(rt, redirect, req(r.path))).toMatchObject(expected)
  })

  it.each([
    ['prefix_rewrite replaces the matched prefix and keeps the query', { match: { prefix: '/api/' }, route: { cluster: 'c', prefix_rewrite: '/' } }, '/api/x?q=1', '/x?q=1'],
    ['prefix_rewrite on an exact path route', { match: { path: '/foo' }, route: { cluster: 'c', prefix_rewrite: '/bar' } }, '/foo', '/bar'],
    ['regex_rewrite with \\1 substitutions', { match: { prefix: '/' }, route: { cluster: 'c', regex_rewrite: { pattern: { regex: '^/service/([^/]+)(/.*)$' }, substitution: '\\2/instance/\\1' } } }, '/service/foo/v1/api', '/v1/api/instance/foo'],
    ['no rewrite', { match: { prefix: '/' }, route: { cluster: 'c' } }, '/x', null],
  ])('%s', (_name, r, path, expected) => {
    const rt = route(r)

    expect(rewritePath(rt, rt.action.config, path)).toBe(expected)
  })

  it('regexSubstitute replaces every match', () => {
    expect(regexSubstitute('o', '0', '/foo/boo')).toBe('/f00/b00')
  })

  it('uriTemplateRegex', () => {
    expect(uriTemplateRegex('/v1/{name=videos/*}/**')).toBe('^/v1/(?<name>videos/[^/]+)/.*$')
  })
})
