import ipaddr from 'ipaddr.js'
import type { CidrRange } from './model.js'

/** Whether a string is an IPv4 or IPv6 literal (brackets allowed). */
export function isIpLiteral(value: string): boolean {
  return ipaddr.isValid(stripBrackets(value))
}

/**
 * A host name lower-cased as Envoy does, in ASCII only (absl::AsciiStrToLower in RouteMatcher::findVirtualHost, and
 * Http::LowerCaseString for domains): other characters are kept, so `K` (U+212A) is not `k`. The string itself when
 * it has no ASCII upper-case letter.
 */
export function asciiLowerCase(s: string): string {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c >= 65 && c <= 90) return s.replace(/[A-Z]+/g, (m) => m.toLowerCase())
  }
  return s
}

/** Removes `[` `]` around an IPv6 literal. */
export function stripBrackets(value: string): string {
  return value.startsWith('[') && value.endsWith(']') ? value.slice(1, -1) : value
}

/** What one address text parses to; memoised, because every trace asks about the same few hundred addresses. */
interface IpFacts {
  /** Canonical text (see canonicalIp). */
  canonical: string
  family: 'ipv4' | 'ipv6' | null
  unspecified: boolean
  loopback: boolean
  /** The canonical address parsed, for range tests; null when not an IP. */
  parsed: ipaddr.IPv4 | ipaddr.IPv6 | null
  /** formatAddress texts by port, made on first use (an address is shown with few ports). */
  withPort?: Map<number, string>
}

const IP_FACTS = new Map<string, IpFacts>()
/** Bound on the memo, so that a long session over many snapshots cannot grow it without limit. */
const IP_FACTS_MAX = 100_000

/** The last text looked up and its facts: a trace asks about the same address several times in a row. */
let lastValue = ''
let lastFacts: IpFacts | undefined

function ipFacts(value: string): IpFacts {
  if (value === lastValue && lastFacts !== undefined) return lastFacts
  const hit = IP_FACTS.get(value)
  if (hit) {
    lastValue = value
    lastFacts = hit
    return hit
  }
  const raw = stripBrackets(value)
  let facts: IpFacts
  if (!ipaddr.isValid(raw)) facts = { canonical: raw.toLowerCase(), family: null, unspecified: false, loopback: false, parsed: null }
  else {
    const parsed = ipaddr.parse(raw)
    const unspecified = parsed.range() === 'unspecified'
    let canonical: string
    let family: 'ipv4' | 'ipv6'
    if (parsed.kind() === 'ipv6') {
      const v6 = parsed as ipaddr.IPv6
      canonical = v6.isIPv4MappedAddress() ? v6.toIPv4Address().toString() : v6.toRFC5952String()
      family = v6.isIPv4MappedAddress() ? 'ipv4' : 'ipv6'
    } else {
      canonical = parsed.toString()
      family = 'ipv4'
    }
    const canon = ipaddr.isValid(canonical) ? ipaddr.parse(canonical) : null
    facts = { canonical, family, unspecified, loopback: canon?.range() === 'loopback', parsed: canon }
  }
  if (IP_FACTS.size >= IP_FACTS_MAX) IP_FACTS.clear()
  IP_FACTS.set(value, facts)
  lastValue = value
  lastFacts = facts
  return facts
}

/**
 * The canonical text of an IP (IPv4 dotted, IPv6 RFC 5952; IPv4-mapped IPv6 becomes IPv4, as Envoy
 * indexes both forms); non-IP input is returned lower-cased.
 */
export function canonicalIp(value: string): string {
  // Most addresses in a dump are already canonical IPv4; checking that is far cheaper than parsing and memoising
  // every endpoint address of a large dump.
  if (isCanonicalIpv4(value)) return value
  return ipFacts(value).canonical
}

/** Whether `value` is dotted-quad IPv4 without leading zeros (what ipaddr.js prints for it). */
function isCanonicalIpv4(value: string): boolean {
  let octets = 0
  let digits = 0
  let octet = 0
  for (let i = 0; i <= value.length; i++) {
    const c = i < value.length ? value.charCodeAt(i) : 46
    if (c === 46) {
      if (digits === 0 || octet > 255) return false
      octets++
      digits = 0
      octet = 0
    } else if (c >= 48 && c <= 57) {
      if (digits > 0 && octet === 0) return false
      octet = octet * 10 + (c - 48)
      digits++
      if (digits > 3) return false
    } else return false
  }
  return octets === 4
}

/** `ip:port` with IPv6 in brackets, as Envoy prints addresses. */
export function formatAddress(ip: string, port: number): string {
  const facts = ipFacts(ip)
  facts.withPort ??= new Map()
  let text = facts.withPort.get(port)
  if (text === undefined) {
    const canon = facts.canonical
    text = canon.includes(':') ? `[${canon}]:${port}` : `${canon}:${port}`
    if (facts.withPort.size >= 64) facts.withPort.clear()
    facts.withPort.set(port, text)
  }
  return text
}

/** The family of an IP literal, or null when it is not one. */
export function ipFamily(value: string): 'ipv4' | 'ipv6' | null {
  return ipFacts(value).family
}

/** Whether `ip` is the unspecified address of its family (`0.0.0.0` or `::`). */
export function isUnspecified(ip: string): boolean {
  return ipFacts(ip).unspecified
}

/** Whether `ip` is a loopback address. */
export function isLoopback(ip: string): boolean {
  return ipFacts(ip).loopback
}

/** Whether a CIDR range contains `ip` (families must agree; IPv4-mapped IPv6 counts as IPv4). */
export function cidrContains(range: CidrRange, ip: string): boolean {
  const a = ipFacts(ip).parsed
  const p = ipFacts(range.addressPrefix).parsed
  if (a === null || p === null) return false
  if (a.kind() !== p.kind()) return false
  const max = a.kind() === 'ipv4' ? 32 : 128
  const len = Math.max(0, Math.min(max, range.prefixLen))
  if (a.kind() === 'ipv4') return (a as ipaddr.IPv4).match(p as ipaddr.IPv4, len)
  return (a as ipaddr.IPv6).match(p as ipaddr.IPv6, len)
}

/** `10.0.0.0/8` text of a range. */
export function formatCidr(range: CidrRange): string {
  return `${range.addressPrefix}/${range.prefixLen}`
}
