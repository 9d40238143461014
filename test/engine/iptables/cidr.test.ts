import fc from 'fast-check'
import ipaddr from 'ipaddr.js'
import { describe, expect, it } from 'vitest'
import { cidrContains, compileCidr, parseCidr, parseIpAddress } from '../../../src/engine/iptables/cidr.js'

describe('cidrContains and its compiled form', () => {
  it.each([
    ['host route', '10.96.0.10/32', '10.96.0.10', true],
    ['host route, next address', '10.96.0.10/32', '10.96.0.11', false],
    ['/16 inside', '172.16.0.0/16', '172.16.200.7', true],
    ['/16 outside', '172.16.0.0/16', '172.17.0.7', false],
    ['/12 spans second-octet bits', '172.16.0.0/12', '172.31.255.255', true],
    ['/12 just past', '172.16.0.0/12', '172.32.0.0', false],
    ['/31', '192.0.2.4/31', '192.0.2.5', true],
    ['/31 outside', '192.0.2.4/31', '192.0.2.6', false],
    ['/0 matches every IPv4 address', '0.0.0.0/0', '203.0.113.9', true],
    ['host bits in the rule are cleared', '10.1.2.3/8', '10.200.0.1', true],
    ['IPv4 prefix never holds an IPv6 address', '0.0.0.0/0', '::1', false],
    ['IPv6 prefix never holds an IPv4 address', '::/0', '127.0.0.1', false],
    ['IPv6 /64', '2001:db8:1::/64', '2001:db8:1::ff', true],
    ['IPv6 /64 outside', '2001:db8:1::/64', '2001:db8:2::ff', false],
  ])('%s: %s contains %s → %s', (_name, cidr, address, expected) => {
    const c = parseCidr(cidr)
    const a = parseIpAddress(address)
    expect(cidrContains(c, a)).toBe(expected)
    expect(compileCidr(c)(a)).toBe(expected)
  })

  it('agrees with ipaddr.js on random IPv4 prefixes and addresses', () => {
    const octets = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((o) => o.join('.'))
    fc.assert(
      fc.property(octets, fc.integer({ min: 0, max: 32 }), octets, (net, prefix, address) => {
        const c = parseCidr(`${net}/${prefix}`)
        const a = parseIpAddress(address)
        // The oracle: ipaddr.js's own prefix match.
        const expected = ipaddr.IPv4.parse(address).match(ipaddr.IPv4.parse(net), prefix)
        expect(cidrContains(c, a)).toBe(expected)
        expect(compileCidr(c)(a)).toBe(expected)
      }),
      { numRuns: 2000 },
    )
  })
})
