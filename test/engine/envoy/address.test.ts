import { describe, expect, it } from 'vitest'
import { canonicalIp, cidrContains, formatAddress, ipFamily, isLoopback, isUnspecified } from '../../../src/engine/envoy/address.js'

describe('addresses', () => {
  it.each([
    ['IPv4 stays', '10.0.0.1', '10.0.0.1'],
    ['IPv6 is RFC 5952', 'FD00:0:0::7', 'fd00::7'],
    ['IPv4-mapped IPv6 becomes IPv4 (Envoy indexes both forms)', '::ffff:10.0.0.1', '10.0.0.1'],
    ['brackets are dropped', '[::1]', '::1'],
    ['a hostname is lower-cased', 'Ratings', 'ratings'],
  ])('canonicalIp: %s', (_name, ip, expected) => {
    expect(canonicalIp(ip)).toBe(expected)
  })

  it.each([
    ['v4 in range', { addressPrefix: '10.0.0.0', prefixLen: 8 }, '10.1.2.3', true],
    ['v4 near miss', { addressPrefix: '10.0.0.0', prefixLen: 8 }, '11.0.0.1', false],
    ['/0 contains every v4 address', { addressPrefix: '0.0.0.0', prefixLen: 0 }, '192.168.1.1', true],
    ['a v4 range never contains v6', { addressPrefix: '0.0.0.0', prefixLen: 0 }, 'fd00::1', false],
    ['v6 /128', { addressPrefix: 'fe80::1', prefixLen: 128 }, 'fe80::1', true],
    ['mapped v4 is matched as v4', { addressPrefix: '10.0.0.5', prefixLen: 32 }, '::ffff:10.0.0.5', true],
  ])('cidrContains: %s', (_name, range, ip, expected) => {
    expect(cidrContains(range, ip)).toBe(expected)
  })

  it.each([
    ['formatAddress v4', () => formatAddress('10.0.0.1', 80), '10.0.0.1:80'],
    ['formatAddress v6 in brackets', () => formatAddress('fd00::7', 9080), '[fd00::7]:9080'],
    ['ipFamily of mapped v4', () => ipFamily('::ffff:1.2.3.4'), 'ipv4'],
    ['ipFamily of a name', () => ipFamily('ratings'), null],
    ['unspecified ::', () => isUnspecified('::'), true],
    ['loopback 127.0.0.6', () => isLoopback('127.0.0.6'), true],
    ['near miss: 128.0.0.1 is not loopback', () => isLoopback('128.0.0.1'), false],
  ])('%s', (_name, f, expected) => {
    expect(f()).toBe(expected)
  })
})
