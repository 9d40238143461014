/**
 * route-check over Envoy's own route table check suites in ../shared/upstream/envoy-router-check (skipped when absent).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { parseRouteCheckTests, parseRouteCheckText, runRouteCheck, type RouteCheckReport } from '../../../src/engine/envoy/route-check.js'

const UPSTREAM = new URL('../../../../shared/upstream/', import.meta.url)
const CURRENT = new URL('envoy-router-check/current/', UPSTREAM)
const LEGACY = new URL('envoy-router-check/legacy-pre-2020-02-golden-json/', UPSTREAM)
const present = existsSync(CURRENT)

const read = (dir: URL, f: string) => parseRouteCheckText(readFileSync(new URL(f, dir), 'utf8'))

/** Suites as Envoy's route_tests.sh runs them: <Name>.yaml with <Name>.golden.proto.json. */
function suites(): Array<[string, string, string, boolean]> {
  if (!present) return []
  const files = readdirSync(fileURLToPath(CURRENT))
  const out: Array<[string, string, string, boolean]> = files
    .filter((f) => f.endsWith('.golden.proto.json'))
    .map((f) => {
      const name = f.replace('.golden.proto.json', '')
      const config = name === 'TestRoutesFailures' ? 'TestRoutes.yaml' : `${name}.yaml`
      return [name, config, f, name !== 'TestRoutesFailures']
    })
  if (files.includes('Weighted.golden.proto.yaml')) out.push(['Weighted (YAML tests)', 'Weighted.yaml', 'Weighted.golden.proto.yaml', true])
  return out.sort()
}

function summary(r: RouteCheckReport): string {
  return r.results.filter((x) => !x.pass).map((x) => `${x.name}: ${x.mismatches.map((m) => `${m.field} expected [${m.expected}] actual [${m.actual}]`).join('; ')}`).join('\n')
}

describe.runIf(present)('route-check: Envoy router_check_tool suites (current)', () => {
  it.each(suites())('%s', (_name, config, tests, shouldPass) => {
    const report = runRouteCheck(read(CURRENT, config), read(CURRENT, tests))

    if (shouldPass) expect(summary(report)).toBe('')
    else expect(report.failed).toBeGreaterThan(0)
  })

  it('TestRoutesFailures fails for the five response header matchers, as route_tests.sh expects', () => {
    const report = runRouteCheck(read(CURRENT, 'TestRoutes.yaml'), read(CURRENT, 'TestRoutesFailures.golden.proto.json'))

    expect(report.results[0].mismatches.map((m) => m.field)).toEqual([
      'response_header_matches content-type',
      'response_header_matches content-length',
      'response_header_matches x-ping-response',
      'response_header_matches x-ping-response',
      'response_header_matches x-pong-response',
    ])
  })

  it('TestRoutes.yaml against Weighted tests fails on cluster and virtual cluster, as route_tests.sh expects', () => {
    const report = runRouteCheck(read(CURRENT, 'TestRoutes.yaml'), read(CURRENT, 'Weighted.golden.proto.json'))

    const mismatches = report.results.flatMap((r) => r.mismatches)
    expect(mismatches).toContainEqual({ field: 'cluster_name', expected: 'cluster1', actual: 'instant-server' })
    expect(mismatches).toContainEqual({ field: 'virtual_cluster_name', expected: 'test_virtual_cluster', actual: 'other' })
  })

  it('conformance: at least 95% of the tests that must pass do pass', () => {
    let total = 0
    let passed = 0
    for (const [, config, tests, shouldPass] of suites()) {
      if (!shouldPass) continue
      const r = runRouteCheck(read(CURRENT, config), read(CURRENT, tests))
      total += r.results.length
      passed += r.passed
    }

    expect(passed / total).toBeGreaterThanOrEqual(0.95)
  })

  it('coverage counts the routes some test resolved to (DetailedCoverage leaves two untested)', () => {
    const report = runRouteCheck(read(CURRENT, 'DetailedCoverage.yaml'), read(CURRENT, 'DetailedCoverage.golden.proto.json'))

    expect(report.coverage).toMatchObject({ routes: 4, covered: 2 })
  })
})

describe.runIf(existsSync(LEGACY))('route-check: pre-2020 bare-array test files (legacy)', () => {
  const files = existsSync(LEGACY) ? readdirSync(fileURLToPath(LEGACY)).filter((f) => f.endsWith('.golden.json')) : []

  it.each(files)('%s parses as the legacy schema and passes against its v2 route config', (f) => {
    const tests = parseRouteCheckTests(read(LEGACY, f))
    const report = runRouteCheck(read(LEGACY, f.replace('.golden.json', '.yaml')), read(LEGACY, f))

    expect(tests.every((t) => t.input.authority !== '' && t.input.path !== '')).toBe(true)
    expect(summary(report)).toBe('')
  })
})

describe('route-check on small inline configs', () => {
  const config = {
    virtual_hosts: [
      { name: 'www', domains: ['www.example.com'], require_tls: 'ALL', routes: [{ match: { prefix: '/' }, route: { cluster: 'www' } }] },
      {
        name: 'api',
        domains: ['*'],
        routes: [
          { match: { prefix: '/v1/' }, route: { cluster: 'api', prefix_rewrite: '/' }, request_headers_to_add: [{ header: { key: 'x-peer', value: '%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%' } }] },
          { match: { prefix: '/' }, direct_response: { status: 404, body: { inline_string: 'nope' } } },
        ],
      },
    ],
  }

  it.each([
    ['a forwarding route reports cluster, vhost, rewritten path and added headers', { authority: 'a', path: '/v1/x?q', method: 'GET' }, { cluster_name: 'api', virtual_host_name: 'api', path_rewrite: '/x?q', host_rewrite: 'a', request_header_matches: [{ name: 'x-peer', string_match: { exact: '127.0.0.1' } }] }, true],
    // Envoy surprise: require_tls is checked before any route (VirtualHostImpl::getRouteFromEntries → SSL redirect route).
    ['require_tls ALL redirects plaintext to https (301)', { authority: 'www.example.com', path: '/p', method: 'GET' }, { cluster_name: '', path_redirect: 'https://www.example.com/p', code_redirect: 301 }, true],
    ['require_tls near miss: ssl requests are routed', { authority: 'www.example.com', path: '/p', method: 'GET', ssl: true }, { cluster_name: 'www' }, true],
    ['a direct response reports the request URL, its status and text/plain body headers', { authority: 'a', path: '/z', method: 'GET' }, { path_redirect: 'http://a/z', code_redirect: 404, virtual_host_name: '', response_header_matches: [{ name: 'content-length', string_match: { exact: '4' } }] }, true],
    ['a wrong expectation fails with a mismatch', { authority: 'a', path: '/v1/x', method: 'GET' }, { cluster_name: 'other' }, false],
  ])('%s', (_name, input, validate, pass) => {
    const r = runRouteCheck(config, { tests: [{ test_name: 't', input, validate }] })

    expect(r.results[0].pass).toBe(pass)
  })

  it('dynamic metadata values are user data: camelCase keys are not normalised', () => {
    const md = { virtual_hosts: [{ name: 'v', domains: ['*'], routes: [{ match: { prefix: '/', dynamic_metadata: [{ filter: 'f', path: [{ key: 'userId' }], value: { string_match: { exact: 'u1' } } }] }, route: { cluster: 'md' } }, { match: { prefix: '/' }, route: { cluster: 'none' } }] }] }

    const r = runRouteCheck(md, { tests: [{ test_name: 't', input: { authority: 'a', path: '/', method: 'GET', dynamicMetadata: [{ metadataNamespace: 'f', value: { userId: 'u1' } }] }, validate: { clusterName: 'md' } }] })

    expect(r.results[0]).toMatchObject({ pass: true })
  })
})
