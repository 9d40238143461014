/** Virtual hosts parsed one at a time: selection reads domains in place and parses only the virtual host it picks. */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { loadEnvoyConfig, loadRouteConfiguration } from '../../../src/engine/envoy/config-dump.js'
import { routeConfigRef } from '../../../src/engine/envoy/refs.js'
import { selectVirtualHost } from '../../../src/engine/envoy/virtual-host.js'
import { virtualHostAt, virtualHostCount, virtualHostDomainLists } from '../../../src/engine/envoy/virtual-hosts.js'

/** A raw virtual host whose `routes` records, once, that it was read (i.e. the virtual host was parsed). */
function watched(reads: string[], name: string, domains: unknown[]): object {
  const routes = [{ match: { prefix: '/' }, route: { cluster: name } }]
  return Object.defineProperty({ name, domains }, 'routes', { enumerable: true, get: () => (reads.includes(name) || reads.push(name), routes) })
}

describe('a route configuration parses its virtual hosts one at a time', () => {
  const build = (reads: string[]) =>
    loadRouteConfiguration({
      name: 'r',
      virtual_hosts: [watched(reads, 'a', ['a.com']), 'not a vhost', watched(reads, 'b', ['B.com', 'b.com:80']), watched(reads, 'd', ['*'])],
    })

  it('an exact Host parses only the virtual host it picks; listing them all later returns that same object', () => {
    const reads: string[] = []
    const rc = build(reads)

    const sel = selectVirtualHost(rc, { host: 'b.com' })

    expect([sel.chosen?.name, sel.how, sel.otherCount]).toEqual(['b', 'exact', 1])
    expect(sel.chosen?.routes[0].source.pointer).toBe('/virtual_hosts/2/routes/0')
    expect(reads).toEqual(['b'])
    expect(routeConfigRef(rc).excerpt).toBe('3 virtual hosts')
    expect(reads).toEqual(['b'])
    expect(rc.virtualHosts.map((v) => v.name)).toEqual(['a', 'b', 'd'])
    expect(rc.virtualHosts[1]).toBe(sel.chosen)
    expect(reads).toEqual(['b', 'a', 'd'])
  })

  it('domains read in place are the JSON ones until the list is read, then the parsed (lower-cased) ones', () => {
    const rc = build([])

    expect([virtualHostCount(rc), virtualHostDomainLists(rc)]).toEqual([3, [['a.com'], ['B.com', 'b.com:80'], ['*']]])
    expect(virtualHostAt(rc, 1).domains).toEqual(['b.com', 'b.com:80'])
    expect(virtualHostDomainLists(rc)[1]).toEqual(['b.com', 'b.com:80'])
    expect(rc.virtualHosts).toHaveLength(3)
    expect(virtualHostAt(rc, 2)).toBe(rc.virtualHosts[2])
  })

  it('assigning the list replaces the deferred virtual hosts', () => {
    const rc = build([])
    const only = loadRouteConfiguration({ virtual_hosts: [{ name: 'z', domains: ['*'] }] }).virtualHosts

    rc.virtualHosts = only

    expect([virtualHostCount(rc), virtualHostAt(rc, 0).name]).toEqual([1, 'z'])
    expect(Object.getOwnPropertyDescriptor(rc, 'virtualHosts')?.value).toBe(only)
  })

  it('a model built whole and one parsed lazily are equal, field by field and in JSON', () => {
    const raw = { name: 'r', virtualHosts: [{ name: 'a', domains: ['A.com'], routes: [{ match: { prefix: '/' }, directResponse: { status: 200 } }] }], ignorePathParametersInPathMatching: true }
    const lazy = loadRouteConfiguration(raw)
    const listed = loadRouteConfiguration(raw)
    void listed.virtualHosts

    expect(lazy).toEqual(listed)
    expect(JSON.stringify(lazy)).toBe(JSON.stringify(listed))
    expect([lazy.ignorePathParameters, lazy.raw.ignore_path_parameters_in_path_matching, lazy.virtualHosts[0].routes[0].action.kind]).toEqual([true, true, 'direct_response'])
  })

  it('an RDS route configuration found through the index parses one virtual host per trace', () => {
    const reads: string[] = []
    const model = loadEnvoyConfig({ configDump: [{ name: '80', virtual_hosts: [watched(reads, 'a', ['a']), watched(reads, 'b', ['b'])] }] })
    const rc = model.routeConfigs[0]

    expect(selectVirtualHost(rc, { host: 'a' }).chosen?.name).toBe('a')
    expect(reads).toEqual(['a'])
  })
})

describe('the first selection (domains read in place) and later ones (the domain index) agree', () => {
  // Upper case, ports, duplicates, wildcards, the default, non-strings, and non-ASCII letters whose Unicode lower
  // case differs (U+0130 → "i̇", longer; the Kelvin sign U+212A → "k"), which Envoy's ASCII lower-casing keeps.
  const domain = fc.constantFrom('a.com', 'A.COM', 'a.com:80', '*.com', 'a.*', '*', 'b.com', 'İ.com', 'i̇.com', 'K.com', 'k.com', 7, null)
  const host = fc.option(fc.constantFrom('a.com', 'A.com', 'a.com:80', 'a.com:81', 'x.com', 'a.net', 'b.com', 'İ.com', 'i̇.com', 'K.com', 'k.com', '*', ''), { nil: undefined })

  it('for any virtual hosts and Host', () => {
    fc.assert(
      fc.property(fc.array(fc.array(domain, { maxLength: 3 }), { maxLength: 5 }), host, fc.boolean(), (vhosts, h, ignorePort) => {
        const raw = { ignore_port_in_host_matching: ignorePort, virtual_hosts: vhosts.map((domains, i) => ({ name: `v${i}`, domains })) }
        const headers: Record<string, string> = h === undefined ? {} : { host: h }
        const lazy = loadRouteConfiguration(raw)
        const first = selectVirtualHost(lazy, headers)
        const indexed = selectVirtualHost(lazy, headers)
        const listed = loadRouteConfiguration(raw)
        void listed.virtualHosts
        expect(first).toEqual(indexed)
        expect(first).toEqual(selectVirtualHost(listed, headers))
        expect(first.chosen === null || first.chosen === lazy.virtualHosts[Number(first.chosen.name.slice(1))]).toBe(true)
      }),
    )
  })
})
