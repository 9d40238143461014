import { cidrContains, isLoopbackAddress } from './cidr.js'
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

/** The result of one match on one packet: holds (with evidence), fails (with a reason code), or cannot be decided. */
export type MatchOutcome =
  | { kind: 'ok'; evidence: Evidence }
  | { kind: 'fail'; reason: MismatchCode; evidence: Evidence }
  | { kind: 'unresolved'; construct: string }

const hex = (n: number) => `0x${(n >>> 0).toString(16)}`

function result(holds: boolean, reason: MismatchCode, evidence: Evidence): MatchOutcome {
  return holds ? { kind: 'ok', evidence } : { kind: 'fail', reason, evidence }
}

function ifaceMatches(name: string, wildcard: boolean, actual: string | null): boolean {
  const a = actual ?? ''
  return wildcard ? a.startsWith(name) : a === name
}

/** Route types `-m addrtype` can see for an address, given the pod's local addresses. */
export function addressTypes(address: IpAddress, local: IpAddress[]): string[] {
  const b = address.bytes
  if (isLoopbackAddress(address) || local.some((l) => l.family === address.family && l.bytes.every((x, i) => x === b[i]))) return ['LOCAL']
  if (address.family === 'ipv4') {
    if (b.every((x) => x === 255)) return ['BROADCAST']
    if (b[0] >= 224 && b[0] <= 239) return ['MULTICAST']
    if (b.every((x) => x === 0)) return ['UNSPEC']
  } else if (b[0] === 0xff) return ['MULTICAST']
  return ['UNICAST']
}

/** Evaluates one match against a packet; `!` inverts the test, as iptables(8) says. */
export function evaluateMatch(m: Match, p: PacketView): MatchOutcome {
  const not = m.negated ? 'not ' : ''
  switch (m.kind) {
    case 'protocol': {
      const holds = (m.protocol === 'all' || m.protocol === p.protocol) !== m.negated
      return result(holds, 'protocol-mismatch', { field: 'protocol', expected: `${not}${m.protocol}`, actual: p.protocol })
    }
    case 'source':
    case 'destination': {
      const addr = m.kind === 'source' ? p.src : p.dst
      const holds = cidrContains(m.cidr, addr) !== m.negated
      return result(holds, m.kind === 'source' ? 'source-mismatch' : 'destination-mismatch', { field: m.kind, expected: `${not}${m.cidr.text}`, actual: addr.text })
    }
    case 'in-interface':
    case 'out-interface': {
      const actual = m.kind === 'in-interface' ? p.inIface : p.outIface
      const holds = ifaceMatches(m.name, m.wildcard, actual) !== m.negated
      const none = m.kind === 'in-interface' ? '(none: locally generated)' : '(none: not routed out yet)'
      return result(holds, m.kind === 'in-interface' ? 'in-interface-mismatch' : 'out-interface-mismatch', {
        field: m.kind,
        expected: `${not}${m.name}${m.wildcard ? '+' : ''}`,
        actual: actual ?? none,
      })
    }
    case 'port': {
      const port = m.field === 'dport' ? p.dport : p.sport
      const holds = portInRange(m.range, port) !== m.negated
      return result(holds, m.field === 'dport' ? 'dport-mismatch' : 'sport-mismatch', { field: m.field, expected: `${not}${formatPortRange(m.range)}`, actual: String(port) })
    }
    case 'multiport': {
      const ports = m.field === 'dports' ? [p.dport] : m.field === 'sports' ? [p.sport] : [p.sport, p.dport]
      const any = ports.some((port) => m.ranges.some((r) => portInRange(r, port)))
      const list = m.ranges.map(formatPortRange).join(',')
      const field = m.field === 'dports' ? 'dport' : m.field === 'sports' ? 'sport' : 'port'
      return result(any !== m.negated, m.field === 'sports' ? 'sport-mismatch' : 'dport-mismatch', {
        field,
        expected: `${m.negated ? 'none of' : 'one of'} ${list}`,
        actual: ports.join(' and '),
      })
    }
    case 'owner': {
      if (p.owner === null) {
        // xt_owner without a local socket returns true only when every given option is negated.
        return result(m.negated, 'owner-mismatch', {
          field: m.field === 'socket-exists' ? 'socket' : m.field,
          expected: `${not}${m.range ? formatIdRange(m.range) : 'a local socket'}`,
          actual: '(no local socket: the packet arrived from outside)',
        })
      }
      if (m.name !== undefined) return { kind: 'unresolved', construct: `${m.text} (the name ${m.name} was resolved to an id by NSS when the rule was added; iptables-save would show the number)` }
      if (m.field === 'socket-exists') return result(!m.negated, 'owner-mismatch', { field: 'socket', expected: `${not}a local socket`, actual: 'a local socket' })
      const id = m.field === 'uid' ? p.owner.uid : p.owner.gid
      const assumed = m.field === 'uid' ? p.owner.uidAssumed : p.owner.gidAssumed
      const inRange = m.range !== undefined && id >= m.range.min && id <= m.range.max
      return result(inRange !== m.negated, 'owner-mismatch', {
        field: m.field,
        expected: `${not}${m.range ? formatIdRange(m.range) : '?'}`,
        actual: assumed ? `${id} (assumed: an application ${m.field} that is not the proxy's)` : String(id),
      })
    }
    case 'mark':
    case 'connmark': {
      const v = m.kind === 'mark' ? p.mark : p.ctmark
      const holds = (((v & m.mask) >>> 0) === m.value >>> 0) !== m.negated
      const expected = `${not}${hex(m.value)}${m.mask === 0xffffffff ? '' : `/${hex(m.mask)}`}`
      return result(holds, m.kind === 'mark' ? 'mark-mismatch' : 'connmark-mismatch', { field: m.kind, expected, actual: hex(v) })
    }
    case 'ctstate': {
      const holds = m.states.some((s) => p.ctstates.includes(s)) !== m.negated
      return result(holds, 'ctstate-mismatch', { field: 'ctstate', expected: `${not}${m.states.join(',')}`, actual: p.ctstates.join(',') })
    }
    case 'comment':
      return { kind: 'ok', evidence: { field: 'comment', expected: m.comment, actual: '(comments always match)' } }
    case 'addrtype': {
      const addr = m.field === 'src' ? p.src : p.dst
      const types = addressTypes(addr, p.localAddresses)
      const holds = m.types.some((t) => types.includes(t)) !== m.negated
      return result(holds, 'addrtype-mismatch', { field: `${m.field}-type`, expected: `${not}${m.types.join(',')}`, actual: `${types.join(',')} (${addr.text})` })
    }
    case 'socket': {
      // xt_socket: the first SYN of a new connection finds no established socket; a reply finds the (non-transparent) local one.
      const found = p.socket === 'established-transparent' || (p.socket === 'established' && !m.options.includes('--transparent'))
      const actual =
        p.socket === 'established-transparent' ? 'the established transparent socket of this connection'
        : p.socket === 'established' ? `the established socket of this connection${m.options.includes('--transparent') ? ', which is not transparent' : ''}`
        : 'none: no socket has this address yet'
      return result(found !== m.negated, 'socket-mismatch', { field: 'socket', expected: `${not}an existing ${m.options.includes('--transparent') ? 'transparent ' : ''}socket for this packet`, actual })
    }
    case 'tcp-flags': {
      const set = p.protocol === 'tcp' ? (p.tcpFlags ?? ['SYN']) : []
      const masked = m.mask.includes('ALL') ? set : set.filter((f) => m.mask.includes(f))
      const want = m.compare.includes('NONE') ? [] : m.compare.includes('ALL') ? ['SYN', 'ACK', 'FIN', 'RST', 'URG', 'PSH'] : m.compare
      const holds = (p.protocol === 'tcp' && masked.length === want.length && want.every((f) => masked.includes(f))) !== m.negated
      return result(holds, 'tcp-flags-mismatch', { field: 'tcp-flags', expected: `${not}${m.compare.join(',')} of ${m.mask.join(',')}`, actual: p.protocol === 'tcp' ? (p.tcpFlags ?? ['SYN']).join(',') : p.protocol })
    }
    case 'noop':
      return { kind: 'ok', evidence: { field: m.module, expected: `-m ${m.module}`, actual: '(no condition)' } }
    case 'unknown':
      return { kind: 'unresolved', construct: m.text }
  }
}
