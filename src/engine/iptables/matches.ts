import { compileCidr, isLoopbackAddress, sameAddress } from './cidr.js'
import type { Family, IpAddress } from './cidr.js'
import type { Match } from './model.js'
import { formatIdRange, formatPortRange, portInRange } from './port-range.js'
import type { Evidence, MismatchCode } from '../trace/trace.js'

/** The packet (the first packet of a connection) as one hook sees it. */
export interface PacketView {
  family: Family
  protocol: 'tcp' | 'udp'
  src: IpAddress
  dst: IpAddress
  sport: number
  dport: number
  /** `-i`: the incoming interface; null where the hook has none (OUTPUT, POSTROUTING). */
  inIface: string | null
  /** `-o`: the outgoing interface; null where the hook has none (PREROUTING, INPUT). */
  outIface: string | null
  /** The local socket's owner; null when the packet has no local socket (arriving packets). */
  owner: { uid: number; gid: number; uidAssumed: boolean; gidAssumed: boolean } | null
  mark: number
  ctmark: number
  /** Conntrack states this packet has: NEW, plus DNAT/SNAT once nat rewrote it, or UNTRACKED. */
  ctstates: string[]
  /** Addresses the routing table calls LOCAL: the pod IPs (loopback is always local). */
  localAddresses: IpAddress[]
  /** TCP flags of the packet: `SYN` for the first packet, `SYN,ACK` for the reply (default SYN). */
  tcpFlags?: string[]
  /** What a socket lookup finds for this packet: nothing (a new connection) or the established, non-transparent socket of a reply. */
  socket?: 'none' | 'established' | 'established-transparent'
}

/**
 * A PacketView with every field present and in one order. Packets built here share one hidden class, which keeps the
 * walk's property reads fast (spread-built packets with overridden keys were slow dictionary objects).
 */
export function makePacket(f: PacketView): PacketView {
  return {
    family: f.family,
    protocol: f.protocol,
    src: f.src,
    dst: f.dst,
    sport: f.sport,
    dport: f.dport,
    inIface: f.inIface,
    outIface: f.outIface,
    owner: f.owner,
    mark: f.mark,
    ctmark: f.ctmark,
    ctstates: f.ctstates,
    localAddresses: f.localAddresses,
    tcpFlags: f.tcpFlags ?? SYN_ONLY,
    socket: f.socket ?? 'none',
  }
}

/** The packet with another packet mark, connection mark and conntrack states (what MARK, CONNMARK and CT change). */
export function withMarks(p: PacketView, mark: number, ctmark: number, ctstates: string[]): PacketView {
  // Rare (MARK, CONNMARK and CT only): the spread's slow object is copied into the one shape by makePacket.
  return makePacket({ ...p, mark, ctmark, ctstates })
}

/** The result of one match on one packet: holds (with evidence), fails (with a reason code), or cannot be decided. */
export type MatchOutcome =
  | { kind: 'ok'; evidence: Evidence }
  | { kind: 'fail'; reason: MismatchCode; evidence: Evidence }
  | { kind: 'unresolved'; construct: string }

const hex = (n: number) => `0x${(n >>> 0).toString(16)}`

function ifaceMatches(name: string, wildcard: boolean, actual: string | null): boolean {
  const a = actual ?? ''
  return wildcard ? a.startsWith(name) : a === name
}

/** Route types `-m addrtype` can see for an address, given the pod's local addresses. */
export function addressTypes(address: IpAddress, local: IpAddress[]): string[] {
  const b = address.bytes
  if (isLoopbackAddress(address) || local.some((l) => sameAddress(l, address))) return ['LOCAL']
  if (address.family === 'ipv4') {
    if (b.every((x) => x === 255)) return ['BROADCAST']
    if (b[0] >= 224 && b[0] <= 239) return ['MULTICAST']
    if (b.every((x) => x === 0)) return ['UNSPEC']
  } else if (b[0] === 0xff) return ['MULTICAST']
  return ['UNICAST']
}

/** What one match says about a packet: it holds, it fails, or the simulator cannot decide it. */
export type Verdict = 0 | 1 | 2
/** The match holds. */
export const HOLDS = 0
/** The match fails. */
export const FAILS = 1
/** The simulator cannot decide the match (an unknown module, a user name it cannot resolve). */
export const UNRESOLVED = 2

function socketFound(m: { options: string[] }, p: PacketView): boolean {
  // xt_socket: the first SYN of a new connection finds no established socket; a reply finds the (non-transparent) local one.
  return p.socket === 'established-transparent' || (p.socket === 'established' && !m.options.includes('--transparent'))
}

function tcpFlagsHold(m: { mask: string[]; compare: string[] }, p: PacketView): boolean {
  if (p.protocol !== 'tcp') return false
  const set = p.tcpFlags ?? SYN_ONLY
  const masked = m.mask.includes('ALL') ? set : set.filter((f) => m.mask.includes(f))
  const want = m.compare.includes('NONE') ? [] : m.compare.includes('ALL') ? ALL_FLAGS : m.compare
  return masked.length === want.length && want.every((f) => masked.includes(f))
}

const SYN_ONLY = ['SYN']
const ALL_FLAGS = ['SYN', 'ACK', 'FIN', 'RST', 'URG', 'PSH']

/** A compiled match: decides it for a packet, allocating nothing. */
export type MatchTest = (p: PacketView) => Verdict

const always =
  (v: Verdict): MatchTest =>
  () =>
    v

// Each test below is its own closure literal, with `!` folded in: a shared wrapper calling an inner predicate made
// every call site megamorphic and cost more than the tests themselves (measured: ~20 ns per test, now a few).

/**
 * Compiles one match into its test: the one place match semantics live (the walk runs the compiled tests of every
 * rule it passes; evidence is built separately, by matchEvidence, only for the rules a step shows).
 * `!` inverts the test, as iptables(8) says.
 */
export function compileMatch(m: Match): MatchTest {
  const neg = m.negated
  switch (m.kind) {
    case 'protocol': {
      const want = m.protocol
      return want === 'all' ? always(neg ? FAILS : HOLDS) : (p) => ((p.protocol === want) !== neg ? HOLDS : FAILS)
    }
    case 'source': {
      const inCidr = compileCidr(m.cidr)
      return (p) => (inCidr(p.src) !== neg ? HOLDS : FAILS)
    }
    case 'destination': {
      const inCidr = compileCidr(m.cidr)
      return (p) => (inCidr(p.dst) !== neg ? HOLDS : FAILS)
    }
    case 'in-interface': {
      const { name, wildcard } = m
      return (p) => (ifaceMatches(name, wildcard, p.inIface) !== neg ? HOLDS : FAILS)
    }
    case 'out-interface': {
      const { name, wildcard } = m
      return (p) => (ifaceMatches(name, wildcard, p.outIface) !== neg ? HOLDS : FAILS)
    }
    case 'port': {
      const { min, max } = m.range
      return m.field === 'dport' ? (p) => ((p.dport >= min && p.dport <= max) !== neg ? HOLDS : FAILS) : (p) => ((p.sport >= min && p.sport <= max) !== neg ? HOLDS : FAILS)
    }
    case 'multiport': {
      const ranges = m.ranges
      const inAny = (port: number) => ranges.some((r) => portInRange(r, port))
      if (m.field === 'dports') return (p) => (inAny(p.dport) !== neg ? HOLDS : FAILS)
      if (m.field === 'sports') return (p) => (inAny(p.sport) !== neg ? HOLDS : FAILS)
      return (p) => ((inAny(p.sport) || inAny(p.dport)) !== neg ? HOLDS : FAILS)
    }
    case 'owner': {
      const { field, range, name } = m
      return (p) => {
        // xt_owner without a local socket returns true only when every given option is negated.
        if (p.owner === null) return neg ? HOLDS : FAILS
        if (name !== undefined) return UNRESOLVED
        if (field === 'socket-exists') return neg ? FAILS : HOLDS
        const id = field === 'uid' ? p.owner.uid : p.owner.gid
        return (range !== undefined && id >= range.min && id <= range.max) !== neg ? HOLDS : FAILS
      }
    }
    case 'mark': {
      const { mask } = m
      const value = m.value >>> 0
      return (p) => ((((p.mark & mask) >>> 0) === value) !== neg ? HOLDS : FAILS)
    }
    case 'connmark': {
      const { mask } = m
      const value = m.value >>> 0
      return (p) => ((((p.ctmark & mask) >>> 0) === value) !== neg ? HOLDS : FAILS)
    }
    case 'ctstate': {
      const states = m.states
      return (p) => (states.some((st) => p.ctstates.includes(st)) !== neg ? HOLDS : FAILS)
    }
    case 'comment':
    case 'noop':
      return always(HOLDS)
    case 'addrtype': {
      const { field, types } = m
      return (p) => {
        const actual = addressTypes(field === 'src' ? p.src : p.dst, p.localAddresses)
        return types.some((t) => actual.includes(t)) !== neg ? HOLDS : FAILS
      }
    }
    case 'socket':
      return (p) => (socketFound(m, p) !== neg ? HOLDS : FAILS)
    case 'tcp-flags':
      return (p) => (tcpFlagsHold(m, p) !== neg ? HOLDS : FAILS)
    case 'unknown':
      return always(UNRESOLVED)
  }
}

const COMPILED = new WeakMap<Match, MatchTest>()

/** The compiled test of a match, compiled once. */
export function matchTest(m: Match): MatchTest {
  let t = COMPILED.get(m)
  if (t === undefined) {
    t = compileMatch(m)
    COMPILED.set(m, t)
  }
  return t
}

/** Decides one match for a packet. */
export function matchVerdict(m: Match, p: PacketView): Verdict {
  return matchTest(m)(p)
}

/** The reason code a failing match gives. */
export function mismatchReason(m: Match): MismatchCode {
  switch (m.kind) {
    case 'protocol':
      return 'protocol-mismatch'
    case 'source':
      return 'source-mismatch'
    case 'destination':
      return 'destination-mismatch'
    case 'in-interface':
      return 'in-interface-mismatch'
    case 'out-interface':
      return 'out-interface-mismatch'
    case 'port':
      return m.field === 'dport' ? 'dport-mismatch' : 'sport-mismatch'
    case 'multiport':
      return m.field === 'sports' ? 'sport-mismatch' : 'dport-mismatch'
    case 'owner':
      return 'owner-mismatch'
    case 'mark':
      return 'mark-mismatch'
    case 'connmark':
      return 'connmark-mismatch'
    case 'ctstate':
      return 'ctstate-mismatch'
    case 'addrtype':
      return 'addrtype-mismatch'
    case 'socket':
      return 'socket-mismatch'
    case 'tcp-flags':
      return 'tcp-flags-mismatch'
    case 'comment':
    case 'noop':
    case 'unknown':
      return 'other'
  }
}

/** The construct an unresolved match names (only meaningful where matchVerdict says Unresolved). */
export function unresolvedConstruct(m: Match): string {
  if (m.kind === 'owner' && m.name !== undefined) return `${m.text} (the name ${m.name} was resolved to an id by NSS when the rule was added; iptables-save would show the number)`
  return m.text
}

/** Reads, from a packet, what a match's evidence shows the packet had (compiled per match, like MatchTest). */
export type ActualReader = (p: PacketView) => string

const NO_SOCKET_OWNER = '(no local socket: the packet arrived from outside)'

/**
 * Compiles what the packet had for the field a match tests, as evidence shows it. Together with the match, this
 * determines the whole Evidence (matchEvidence), which is what lets the explainer reuse evidence between traces.
 */
export function compileActual(m: Match): ActualReader {
  switch (m.kind) {
    case 'protocol':
      return (p) => p.protocol
    case 'source':
      return (p) => p.src.text
    case 'destination':
      return (p) => p.dst.text
    case 'in-interface':
      return (p) => p.inIface ?? '(none: locally generated)'
    case 'out-interface':
      return (p) => p.outIface ?? '(none: not routed out yet)'
    case 'port':
      return m.field === 'dport' ? (p) => String(p.dport) : (p) => String(p.sport)
    case 'multiport':
      return m.field === 'dports' ? (p) => String(p.dport) : m.field === 'sports' ? (p) => String(p.sport) : (p) => `${p.sport} and ${p.dport}`
    case 'owner': {
      const field = m.field
      if (field === 'socket-exists') return (p) => (p.owner === null ? NO_SOCKET_OWNER : 'a local socket')
      return (p) => {
        if (p.owner === null) return NO_SOCKET_OWNER
        const id = field === 'uid' ? p.owner.uid : p.owner.gid
        const assumed = field === 'uid' ? p.owner.uidAssumed : p.owner.gidAssumed
        return assumed ? `${id} (assumed: an application ${field} that is not the proxy's)` : String(id)
      }
    }
    case 'mark':
      return (p) => hex(p.mark)
    case 'connmark':
      return (p) => hex(p.ctmark)
    case 'ctstate':
      return (p) => p.ctstates.join(',')
    case 'comment':
      return () => '(comments always match)'
    case 'addrtype': {
      const field = m.field
      return (p) => {
        const addr = field === 'src' ? p.src : p.dst
        return `${addressTypes(addr, p.localAddresses).join(',')} (${addr.text})`
      }
    }
    case 'socket': {
      const transparent = m.options.includes('--transparent')
      return (p) =>
        p.socket === 'established-transparent' ? 'the established transparent socket of this connection'
        : p.socket === 'established' ? `the established socket of this connection${transparent ? ', which is not transparent' : ''}`
        : 'none: no socket has this address yet'
    }
    case 'tcp-flags':
      return (p) => (p.protocol === 'tcp' ? (p.tcpFlags ?? SYN_ONLY).join(',') : p.protocol)
    case 'noop':
      return () => '(no condition)'
    case 'unknown':
      return () => '(not simulated)'
  }
}

/** What the packet had for the field a match tests, as evidence shows it. */
export function matchActual(m: Match, p: PacketView): string {
  return compileActual(m)(p)
}

/** What a match tested, what it expected and what the packet had: the evidence a step shows for it. */
export function matchEvidence(m: Match, p: PacketView): Evidence {
  const not = m.negated ? 'not ' : ''
  const actual = matchActual(m, p)
  switch (m.kind) {
    case 'protocol':
      return { field: 'protocol', expected: `${not}${m.protocol}`, actual }
    case 'source':
    case 'destination':
      return { field: m.kind, expected: `${not}${m.cidr.text}`, actual }
    case 'in-interface':
    case 'out-interface':
      return { field: m.kind, expected: `${not}${m.name}${m.wildcard ? '+' : ''}`, actual }
    case 'port':
      return { field: m.field, expected: `${not}${formatPortRange(m.range)}`, actual }
    case 'multiport': {
      const field = m.field === 'dports' ? 'dport' : m.field === 'sports' ? 'sport' : 'port'
      return { field, expected: `${m.negated ? 'none of' : 'one of'} ${m.ranges.map(formatPortRange).join(',')}`, actual }
    }
    case 'owner':
      if (p.owner === null) return { field: m.field === 'socket-exists' ? 'socket' : m.field, expected: `${not}${m.range ? formatIdRange(m.range) : 'a local socket'}`, actual }
      if (m.field === 'socket-exists') return { field: 'socket', expected: `${not}a local socket`, actual }
      return { field: m.field, expected: `${not}${m.range ? formatIdRange(m.range) : '?'}`, actual }
    case 'mark':
    case 'connmark':
      return { field: m.kind, expected: `${not}${hex(m.value)}${m.mask === 0xffffffff ? '' : `/${hex(m.mask)}`}`, actual }
    case 'ctstate':
      return { field: 'ctstate', expected: `${not}${m.states.join(',')}`, actual }
    case 'comment':
      return { field: 'comment', expected: m.comment, actual }
    case 'addrtype':
      return { field: `${m.field}-type`, expected: `${not}${m.types.join(',')}`, actual }
    case 'socket':
      return { field: 'socket', expected: `${not}an existing ${m.options.includes('--transparent') ? 'transparent ' : ''}socket for this packet`, actual }
    case 'tcp-flags':
      return { field: 'tcp-flags', expected: `${not}${m.compare.join(',')} of ${m.mask.join(',')}`, actual }
    case 'noop':
      return { field: m.module, expected: `-m ${m.module}`, actual }
    case 'unknown':
      return { field: m.module, expected: m.text, actual }
  }
}

/** Evaluates one match against a packet with its evidence: holds, fails (with a reason code), or cannot be decided. */
export function evaluateMatch(m: Match, p: PacketView): MatchOutcome {
  const v = matchVerdict(m, p)
  if (v === UNRESOLVED) return { kind: 'unresolved', construct: unresolvedConstruct(m) }
  const evidence = matchEvidence(m, p)
  return v === HOLDS ? { kind: 'ok', evidence } : { kind: 'fail', reason: mismatchReason(m), evidence }
}
