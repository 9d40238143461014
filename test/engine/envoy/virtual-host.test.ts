import { describe, expect, it } from 'vitest'
import { loadRouteConfiguration } from '../../../src/engine/envoy/config-dump.js'
import { MAX_NEAR_MISSES, portStart, selectVirtualHost } from '../../../src/engine/envoy/virtual-host.js'

const rc = (vhosts: Array<[string, string[]]>, extra: Record<string, unknown> = {}) => loadRouteConfiguration({ name: 'r', virtual_hosts: vhosts.map(([name, domains]) => ({ name, domains, routes: [] })), ...extra })

describe('selectVirtualHost (RouteMatcher::findVirtualHost)', () => {
  const table: Array<[string, string[]]> = [
    ['exact', ['api.example.com', 'api.example.com:8080']],
    ['suffix-long', ['*.api.example.com']],
    ['suffix-short', ['*.example.com']],
    ['suffix-dash', ['*-staging.example.org']],
    ['prefix', ['api.*']],
    ['prefix-long', ['api.example.*']],
    ['default', ['*']],
  ]

  it.each([
    ['exact domain', 'api.example.com', {}, 'exact', 'exact'],
    ['exact is case-insensitive (Host is lower-cased)', 'API.Example.COM', {}, 'exact', 'exact'],
    ['host:port must be listed to match when ports are not ignored', 'api.example.com:8080', {}, 'exact', 'exact'],
    ['near miss: an unlisted port falls to the prefix wildcard', 'api.example.com:9090', {}, 'prefix-long', 'prefix_wildcard'],
    ['ignore_port_in_host_matching strips the port', 'api.example.com:9090', { ignore_port_in_host_matching: true }, 'exact', 'exact'],
    ['the longest suffix wildcard wins', 'v1.api.example.com', {}, 'suffix-long', 'suffix_wildcard'],
    ['a suffix wildcard with a dash', 'web-staging.example.org', {}, 'suffix-dash', 'suffix_wildcard'],
    ['suffix beats prefix', 'api.example.com.cn', {}, 'prefix-long', 'prefix_wildcard'],
    ['the wildcard must match at least one character', '-staging.example.org', {}, 'default', 'default'],
    ['the longest prefix wildcard wins', 'api.example.net', {}, 'prefix-long', 'prefix_wildcard'],
    ['anything else gets *', 'other.org', {}, 'default', 'default'],
  ])('%s', (_name, host, extra, vh, how) => {
    const sel = selectVirtualHost(rc(table, extra), { host })

    expect([sel.chosen?.name, sel.how]).toEqual([vh, how])
  })

  it('no match and no * vhost: null, with the closest domains and near-miss vhosts', () => {
    const sel = selectVirtualHost(rc([['ratings', ['ratings', 'ratings.default.svc.cluster.local']], ['reviews', ['reviews']], ['productpage', ['productpage']]]), { host: 'ratingz' })

    expect(sel.chosen).toBeNull()
    expect(sel.closest[0]).toBe('ratings')
    expect(sel.rejected.map((r) => [r.candidate.name, r.reason])).toEqual([['ratings', 'domain-mismatch']])
    expect(sel.otherCount).toBe(2)
  })

  it('an exact domain is a map lookup: no near misses, every other non-default vhost counted', () => {
    const sel = selectVirtualHost(rc([['ratings', ['ratings']], ['ratingz', ['ratingz']], ['reviews', ['reviews']], ['d', ['*']]]), { host: 'ratings' })

    expect(sel.chosen?.name).toBe('ratings')
    expect(sel.rejected).toEqual([])
    expect(sel.otherCount).toBe(2)
  })

  // Envoy surprise: Host and domains are lower-cased in ASCII only (absl::AsciiStrToLower in
  // RouteMatcher::findVirtualHost, Http::LowerCaseString for domains), not by Unicode rules.
  it.each([
    ['the Kelvin sign K (U+212A) is not k', [['k', ['k.example.com']], ['d', ['*']]], '\u212A.example.com', 'd'],
    ['İ (U+0130) is kept, the ASCII around it lower-cased', [['i', ['\u0130.example.com']], ['d', ['*']]], '\u0130.EXAMPLE.com', 'i'],
    ['İ is not i followed by a combining dot', [['i', ['\u0130.example.com']], ['d', ['*']]], 'i\u0307.example.com', 'd'],
  ] as Array<[string, Array<[string, string[]]>, string, string]>)('Host case: %s (first lookup and the index alike)', (_name, vhosts, host, want) => {
    const config = rc(vhosts)

    expect([selectVirtualHost(config, { host }).chosen?.name, selectVirtualHost(config, { host }).chosen?.name]).toEqual([want, want])
  })

  it('the first vhost in config order wins a duplicated domain', () => {
    const sel = selectVirtualHost(rc([['first', ['a.com']], ['second', ['a.com']]]), { host: 'a.com' })

    expect(sel.chosen?.name).toBe('first')
  })

  it('an IP Host is not near every IP that shares its first octet, only IPs a few edits away', () => {
    const far: Array<[string, string[]]> = Array.from({ length: 30 }, (_, i) => [`far-${i}`, [`10.${140 + i}.${200 + i}.${17 + i}`]])

    const sel = selectVirtualHost(rc([...far, ['near', ['10.96.3.105']], ['d', ['*']]]), { host: '10.96.3.104' })

    expect(sel.how).toBe('default')
    expect(sel.rejected.map((r) => r.candidate.name)).toEqual(['near'])
    expect(sel.otherCount).toBe(30)
  })

  it(`near misses are capped at the ${MAX_NEAR_MISSES} closest, in config order; the rest are counted`, () => {
    const vhosts: Array<[string, string[]]> = Array.from({ length: 40 }, (_, i) => [`v${i}`, [i === 25 ? 'orders-yz.shop' : `orders-${i}.shop`]])

    const sel = selectVirtualHost(rc([...vhosts, ['d', ['*']]]), { host: 'orders-yy.shop' })

    // v25 is one edit away; the rest are two, so config order picks v0…v8 to fill the list.
    expect(sel.rejected.map((r) => r.candidate.name)).toEqual(['v0', 'v1', 'v2', 'v3', 'v4', 'v5', 'v6', 'v7', 'v8', 'v25'])
    expect(sel.otherCount).toBe(40 - MAX_NEAR_MISSES)
  })

  it('vhost_header picks the vhost from another header', () => {
    const sel = selectVirtualHost(rc([['a', ['a.com']], ['b', ['b.com']]], { vhost_header: 'X-Route-Host' }), { host: 'a.com', 'x-route-host': 'b.com' })

    expect(sel.chosen?.name).toBe('b')
  })

  it('an absent Host header matches no vhost…', () => {
    expect(selectVirtualHost(rc([['a', ['a.com']], ['d', ['*']]]), {}).chosen).toBeNull()
  })

  // Envoy surprise: with only a `*` vhost Envoy takes a fast path and returns it even without a Host header.
  it('…unless the * vhost is the only one (fast path in findVirtualHost)', () => {
    expect(selectVirtualHost(rc([['d', ['*']]]), {}).chosen?.name).toBe('d')
  })
})

describe('portStart (HeaderUtility::getPortStart)', () => {
  it.each([
    ['host:port', 'a.com:80', 5],
    ['no port', 'a.com', -1],
    ['bracketed IPv6 with port', '[fd00::1]:80', 9],
    ['bracketed IPv6 without port', '[fd00::1]', -1],
    ['bare IPv6 has no port', 'fd00::1', -1],
  ])('%s', (_name, host, expected) => {
    expect(portStart(host)).toBe(expected)
  })
})
