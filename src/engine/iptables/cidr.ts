import ipaddr from 'ipaddr.js'

/** An address family as iptables and ip6tables see it. */
export type Family = 'ipv4' | 'ipv6'

/** A parsed IP address: family and network-order bytes. */
export interface IpAddress {
  family: Family
  /** 4 bytes (IPv4) or 16 bytes (IPv6), network order. */
  bytes: number[]
  /** Canonical text (`10.0.0.1`, `::1`, `::7f00:35`). */
  text: string
}

/** A network prefix as written in `-s`/`-d` (always with a length after parsing). */
export interface Cidr {
  family: Family
  /** The network address with host bits cleared. */
  network: IpAddress
  prefix: number
  /** Canonical `addr/len`, as iptables-save prints it. */
  text: string
}

/**
 * ipaddr.js reads `::127.0.0.53` (IPv4-compatible) as `::ffff:127.0.0.53` (IPv4-mapped); the kernel does not,
 * so the dotted tail of an IPv6 literal is rewritten into two hex groups before parsing.
 */
function rewriteEmbeddedIpv4(text: string): string {
  const m = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(text)
  if (!m || !ipaddr.IPv4.isValidFourPartDecimal(m[2])) return text
  const o = ipaddr.IPv4.parse(m[2]).octets
  return `${m[1]}${((o[0] << 8) | o[1]).toString(16)}:${((o[2] << 8) | o[3]).toString(16)}`
}

/** Parsed addresses by text (null: not an address); every trace parses the same few, so they are parsed once. */
const PARSED = new Map<string, IpAddress | null>()
/** Bound on the memo, so that a long session over many inputs cannot grow it without limit. */
const PARSED_MAX = 100_000

function parseUncached(t: string): IpAddress | null {
  if (ipaddr.IPv4.isValidFourPartDecimal(t)) {
    const a = ipaddr.IPv4.parse(t)
    return { family: 'ipv4', bytes: a.toByteArray(), text: a.toString() }
  }
  const v6 = rewriteEmbeddedIpv4(t)
  if (t.includes(':') && ipaddr.IPv6.isValid(v6)) {
    const a = ipaddr.IPv6.parse(v6)
    return { family: 'ipv6', bytes: a.toByteArray(), text: a.toRFC5952String() }
  }
  return null
}

function parseMemo(text: string): IpAddress | null {
  let hit = PARSED.get(text)
  if (hit === undefined) {
    hit = parseUncached(text.trim())
    // Shared between callers, so frozen: a caller that tried to change one would fail loudly.
    if (hit) Object.freeze(Object.freeze(hit).bytes)
    if (PARSED.size >= PARSED_MAX) PARSED.clear()
    PARSED.set(text, hit)
  }
  return hit
}

/** Parses one IPv4 or IPv6 address (no mask, no zone); throws an Error for anything else. The result is frozen. */
export function parseIpAddress(text: string): IpAddress {
  const parsed = parseMemo(text)
  if (parsed === null) throw new Error(`invalid IP address ${JSON.stringify(text)}`)
  return parsed
}

/** Whether a string is a literal IPv4 or IPv6 address. */
export function isIpAddress(text: string): boolean {
  return parseMemo(text) !== null
}

/** The mask of byte `i` of a prefix of length `prefix`. */
function maskByte(prefix: number, i: number): number {
  const bits = prefix - i * 8
  return bits <= 0 ? 0 : bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff
}

function maskBytes(bytes: number[], prefix: number): number[] {
  return bytes.map((b, i) => b & maskByte(prefix, i))
}

function prefixFromMask(mask: IpAddress): number | null {
  let prefix = 0
  let ended = false
  for (const b of mask.bytes) {
    for (let bit = 7; bit >= 0; bit--) {
      const set = (b >> bit) & 1
      if (set && ended) return null
      if (set) prefix++
      else ended = true
    }
  }
  return prefix
}

/** Parses `addr`, `addr/len` or `addr/dotted-mask` into a prefix with host bits cleared; throws an Error if invalid. */
export function parseCidr(text: string): Cidr {
  const slash = text.indexOf('/')
  const addrText = slash < 0 ? text : text.slice(0, slash)
  const address = parseIpAddress(addrText)
  const max = address.family === 'ipv4' ? 32 : 128
  let prefix = max
  if (slash >= 0) {
    const maskText = text.slice(slash + 1)
    if (/^\d{1,3}$/.test(maskText)) prefix = Number(maskText)
    else {
      const mask = parseIpAddress(maskText)
      const p = mask.family === address.family ? prefixFromMask(mask) : null
      if (p === null) throw new Error(`invalid mask ${JSON.stringify(maskText)}`)
      prefix = p
    }
    if (prefix > max) throw new Error(`invalid prefix length ${prefix}`)
  }
  const bytes = maskBytes(address.bytes, prefix)
  const network = { family: address.family, bytes, text: bytesToText(address.family, bytes) }
  return { family: address.family, network, prefix, text: `${network.text}/${prefix}` }
}

function bytesToText(family: Family, bytes: number[]): string {
  return family === 'ipv4' ? bytes.join('.') : (ipaddr.fromByteArray(bytes) as ipaddr.IPv6).toRFC5952String()
}

/** Whether an address lies inside a prefix (always false across families). */
export function cidrContains(cidr: Cidr, address: IpAddress): boolean {
  if (cidr.family !== address.family) return false
  const a = address.bytes
  const n = cidr.network.bytes
  for (let i = 0; i < n.length && i * 8 < cidr.prefix; i++) if ((a[i] & maskByte(cidr.prefix, i)) !== n[i]) return false
  return true
}

/**
 * cidrContains for one fixed prefix, compiled: the IPv4 case compares four masked bytes without a loop (the walk tests
 * dozens of excluded CIDRs per connection). Agrees with cidrContains (property-tested).
 */
export function compileCidr(cidr: Cidr): (address: IpAddress) => boolean {
  if (cidr.family !== 'ipv4') return (address) => cidrContains(cidr, address)
  const [n0, n1, n2, n3] = cidr.network.bytes
  const [m0, m1, m2, m3] = [0, 1, 2, 3].map((i) => maskByte(cidr.prefix, i))
  return (address) => {
    if (address.family !== 'ipv4') return false
    const b = address.bytes
    return (b[0] & m0) === n0 && (b[1] & m1) === n1 && (b[2] & m2) === n2 && (b[3] & m3) === n3
  }
}

/** Whether an address is loopback: 127.0.0.0/8 or ::1. */
export function isLoopbackAddress(address: IpAddress): boolean {
  const b = address.bytes
  if (address.family === 'ipv4') return b[0] === 127
  for (let i = 0; i < 15; i++) if (b[i] !== 0) return false
  return b[15] === 1
}

/** Whether an address is the unspecified address 0.0.0.0 or ::. */
export function isUnspecifiedAddress(address: IpAddress): boolean {
  return address.bytes.every((b) => b === 0)
}

/** Whether two addresses are the same. */
export function sameAddress(a: IpAddress, b: IpAddress): boolean {
  if (a.family !== b.family) return false
  for (let i = 0; i < a.bytes.length; i++) if (a.bytes[i] !== b.bytes[i]) return false
  return true
}
