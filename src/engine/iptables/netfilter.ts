import { makeFinding } from '../trace/findings.js'
import { newStep } from '../trace/trace.js'
import type { Alternative, ConfigRef, Evidence, Finding, TraceStep } from '../trace/trace.js'
import { isIpAddress, isLoopbackAddress, parseIpAddress, sameAddress } from './cidr.js'
import type { Family, IpAddress } from './cidr.js'
import { IPTABLES_FINDINGS } from './findings.js'
import type { IptablesFindingCode } from './findings.js'
import type { PacketView } from './matches.js'
import { HOLDS, makePacket, matchEvidence, matchVerdict, mismatchReason } from './matches.js'
import { DEFAULT_PROXY_UID, detectMesh, portMeaning } from './mesh.js'
import type { Mesh } from './mesh.js'
import type { Chain, Rule, Ruleset, Table } from './model.js'
import { formatPortRange } from './port-range.js'
import { chainPathOf, evaluatedCount, forEachEvaluated, hookMayAct, pathRuleNames, ruleEvidence, ruleName, walkTable } from './walk.js'
import type { CompiledRule, EvaluatedRule, MutableState, RuleHit, WalkResult } from './walk.js'

/** One connection as netfilter sees its first packet. */
export interface Connection {
  direction: 'outbound' | 'inbound'
  protocol: 'tcp' | 'udp'
  srcIp: string
  srcPort: number
  dstIp: string
  dstPort: number
  /** Outbound: owner of the local socket (absent → an application uid that is not the proxy's, and the trace says so). */
  uid?: number
  gid?: number
  /** The pod's own IPs: outbound to these or 127/8 or ::1 leaves via `lo`, otherwise `eth0`; inbound arrives on `eth0`. */
  podIps: string[]
  /** The packet mark the socket sets (SO_MARK), 0 when absent. */
  mark?: number
}

/** What netfilter did to the connection, step by step, and where it now goes. */
export interface IptablesTrace {
  /** Stage `iptables`: the nat decision and every other (table, hook) pass that did something. */
  steps: TraceStep[]
  /** Whether the sidecar captured the connection; null only when an unknown construct or unsupported ruleset decided it. */
  intercepted: boolean | null
  /** REDIRECT --to-ports / TPROXY --on-port / DNAT port; null when not intercepted. */
  redirectPort: number | null
  dropped: boolean
  /** The socket address the connection now reaches; null when not intercepted. */
  delivered: { ip: string; port: number } | null
  /** What SO_ORIGINAL_DST returns to the proxy. */
  originalDst: { ip: string; port: number }
  mesh: Mesh
}

/** Optional facts about the pod that sharpen the trace. */
export interface TraceIptablesContext {
  /** The istio-proxy container's runAsUser. */
  runAsUser?: number
  /** The proxy uid the mesh was configured with (wins over runAsUser). */
  proxyUid?: number
  /** Where the rules came from: `init-log`, `cni` (rebuilt from annotations), `exec`, `file`. */
  origin?: string
  /** runAsUser of the pod's init containers other than istio-init (they run before Envoy is ready), by container. */
  initContainerUids?: Record<string, number>
  /** The pod runs istio-cni's `istio-validation` init container instead of istio-init. */
  cniPod?: boolean
}

type Pass = { table: string; hook: string; phase: 'local-out' | 'arrive' | 'lo-reentry' }

/** The packets after the first that a TCP connection needs to complete: the SYN-ACK, then the client's first ACK. */
type FollowLeg = 'reply' | 'ack'

/** One packet shape of a follow-up leg, over the hooks it passes. */
interface FollowSegment {
  shape: 'reply-out' | 'reply-in-lo' | 'reply-in' | 'ack-out' | 'ack-in-lo' | 'ack-in'
  hooks: ReadonlyArray<readonly [string, string]>
  /** null: leaving (OUTPUT/POSTROUTING); `lo`: looped back; `eth0`: arriving. */
  inIface: string | null
  /** The packet mark the packet starts with. */
  mark: number
}

const ESTABLISHED = ['ESTABLISHED']
const ESTABLISHED_DNAT = ['ESTABLISHED', 'DNAT']
const INVALID = ['INVALID']
const SYN_ACK = ['SYN', 'ACK']
const ACK = ['ACK']

/** The hooks a reply packet passes: nat is never consulted again for an existing connection. */
const REPLY_OUT: ReadonlyArray<readonly [string, string]> = [['raw', 'OUTPUT'], ['mangle', 'OUTPUT'], ['filter', 'OUTPUT'], ['security', 'OUTPUT'], ['mangle', 'POSTROUTING']]
const REPLY_IN: ReadonlyArray<readonly [string, string]> = [['raw', 'PREROUTING'], ['mangle', 'PREROUTING'], ['mangle', 'INPUT'], ['filter', 'INPUT'], ['security', 'INPUT']]

const OUT_PASSES: Pass[] = [
  { table: 'raw', hook: 'OUTPUT', phase: 'local-out' },
  { table: 'mangle', hook: 'OUTPUT', phase: 'local-out' },
  { table: 'nat', hook: 'OUTPUT', phase: 'local-out' },
  { table: 'filter', hook: 'OUTPUT', phase: 'local-out' },
  { table: 'security', hook: 'OUTPUT', phase: 'local-out' },
  { table: 'mangle', hook: 'POSTROUTING', phase: 'local-out' },
  { table: 'nat', hook: 'POSTROUTING', phase: 'local-out' },
]

function arrivePasses(phase: Pass['phase']): Pass[] {
  return [
    { table: 'raw', hook: 'PREROUTING', phase },
    { table: 'mangle', hook: 'PREROUTING', phase },
    { table: 'nat', hook: 'PREROUTING', phase },
    { table: 'mangle', hook: 'INPUT', phase },
    { table: 'filter', hook: 'INPUT', phase },
    { table: 'security', hook: 'INPUT', phase },
    { table: 'nat', hook: 'INPUT', phase },
  ]
}

const ARRIVE_PASSES = arrivePasses('arrive')
const LO_REENTRY_PASSES = arrivePasses('lo-reentry')

function ruleRef(rs: Ruleset, r: Rule): ConfigRef {
  return { kind: 'rule', name: ruleName(r), source: { file: rs.file, line: r.line }, excerpt: r.text }
}

/** The ConfigRef of a compiled rule, made once per rule (each trace names dozens of rules); shared, so frozen. */
function compiledRef(rs: Ruleset, c: CompiledRule): ConfigRef {
  if (c.ref === undefined || c.ref.source.file !== rs.file) {
    const ref = ruleRef(rs, c.rule)
    Object.freeze(ref.source)
    c.ref = Object.freeze(ref)
  }
  return c.ref
}

function addrPort(ip: string, port: number, family: Family): string {
  return family === 'ipv6' ? `[${ip}]:${port}` : `${ip}:${port}`
}

/** What traceIptables derives from a ruleset alone; computed once per ruleset (a Ruleset is read-only after parsing). */
interface RulesetFacts {
  mesh: Mesh
  /** The mesh the nat table alone shows (unknown: no mesh chains in nat). */
  natMesh: Mesh
  /** Proxy uids the nat rules exempt. */
  exemptedUids: number[]
  /** The --on-port of every TPROXY rule. */
  tproxyPorts: Set<number>
  /** assumeAppId answers, by `field/avoid`. */
  appIds: Map<string, number>
  /** followUpsMayAct answers, by protocol. */
  followUpsMayAct: Map<string, boolean>
}

const RULESET_FACTS = new WeakMap<Ruleset, RulesetFacts>()

function rulesetFacts(rs: Ruleset): RulesetFacts {
  const cached = RULESET_FACTS.get(rs)
  if (cached) return cached
  const nat = rs.tables.get('nat')
  const facts: RulesetFacts = {
    mesh: detectMesh(rs),
    natMesh: nat ? detectMesh({ ...rs, tables: new Map([['nat', nat]]) }) : 'unknown',
    exemptedUids: ownerUidsExempted(nat),
    tproxyPorts: new Set([...rs.tables.values()].flatMap((t) => [...t.chains.values()].flatMap((c) => c.rules.flatMap((r) => (r.target?.kind === 'tproxy' ? [r.target.onPort] : []))))),
    appIds: new Map(),
    followUpsMayAct: new Map(),
  }
  RULESET_FACTS.set(rs, facts)
  return facts
}

/** Whether any hook a reply or the client's ACK passes (raw, mangle, filter, security) may act on `protocol`. */
function followUpsMayAct(rs: Ruleset, protocol: 'tcp' | 'udp'): boolean {
  const facts = rulesetFacts(rs)
  let may = facts.followUpsMayAct.get(protocol)
  if (may === undefined) {
    may = [...REPLY_OUT, ...REPLY_IN].some(([tableName, hook]) => {
      const table = rs.tables.get(tableName)
      return table !== undefined && hookMayAct(table, hook, protocol)
    })
    facts.followUpsMayAct.set(protocol, may)
  }
  return may
}

/** Picks an application uid or gid for a socket whose owner is unknown: 1000 unless the rules name it. */
function assumeAppId(rs: Ruleset, field: 'uid' | 'gid', avoid: number | null): number {
  const memo = rulesetFacts(rs).appIds
  const key = `${field}/${avoid}`
  const known = memo.get(key)
  if (known !== undefined) return known
  const ranges = [...rs.tables.values()].flatMap((t) => [...t.chains.values()].flatMap((c) => c.rules.flatMap((r) => r.matches)))
    .flatMap((m) => (m.kind === 'owner' && m.field === field && m.range ? [m.range] : []))
  for (let id = 1000; ; id++) {
    if (id !== avoid && !ranges.some((r) => id >= r.min && id <= r.max)) {
      memo.set(key, id)
      return id
    }
  }
}

function ownerUidsExempted(nat: Table | undefined): number[] {
  if (!nat) return []
  const out = new Set<number>()
  for (const c of nat.chains.values())
    for (const r of c.rules)
      if (r.target?.kind === 'verdict' && (r.target.verdict === 'RETURN' || r.target.verdict === 'ACCEPT'))
        for (const m of r.matches) if (m.kind === 'owner' && m.field === 'uid' && !m.negated && m.range && m.range.min === m.range.max) out.add(m.range.min)
  return [...out]
}

/**
 * Simulates the first packet of a connection through netfilter (raw → mangle → nat → filter, per hook, as
 * iptables-semantics.md §2 describes) and explains every decision with the rules that made it.
 */
export function traceIptables(rules: { v4?: Ruleset; v6?: Ruleset }, conn: Connection, ctx: TraceIptablesContext = {}): IptablesTrace {
  const bad = !isIpAddress(conn.dstIp) ? conn.dstIp : !isIpAddress(conn.srcIp) ? conn.srcIp : conn.podIps.find((a) => !isIpAddress(a))
  if (bad !== undefined) {
    return {
      steps: [newStep('iptables', 'unresolved', `${JSON.stringify(bad)} is not an IP address, so the connection cannot be simulated.`, { decision: { reason: 'invalid-address', address: bad } })],
      intercepted: null,
      redirectPort: null,
      dropped: false,
      delivered: null,
      originalDst: { ip: conn.dstIp, port: conn.dstPort },
      mesh: detectMesh(rules.v4 ?? rules.v6),
    }
  }
  const dst = parseIpAddress(conn.dstIp)
  const src = parseIpAddress(conn.srcIp)
  const family = dst.family
  const rs = family === 'ipv4' ? rules.v4 : rules.v6
  const originalDst = { ip: dst.text, port: conn.dstPort }
  const facts = rs ? rulesetFacts(rs) : undefined
  const mesh = facts?.mesh ?? 'unknown'
  const base: IptablesTrace = { steps: [], intercepted: null, redirectPort: null, dropped: false, delivered: null, originalDst, mesh }
  const F = (code: IptablesFindingCode, params: Record<string, string | number> = {}): Finding => makeFinding(IPTABLES_FINDINGS, code, params)

  if (!rs) {
    base.steps.push(
      newStep('iptables', 'unresolved', `No ${family === 'ipv4' ? 'IPv4 (iptables)' : 'IPv6 (ip6tables)'} rules were given, so what netfilter does to this ${family} connection is unknown.`, {
        decision: { family, reason: 'no-rules-for-family' },
      }),
    )
    return base
  }
  if (rs.unsupported) {
    const code = rs.unsupported.kind === 'nftables' ? 'nftables-not-simulated' : 'ambient-mode'
    base.steps.push(
      newStep('iptables', 'unresolved', rs.unsupported.kind === 'nftables' ? 'The pod uses nftables, which mesh-trace does not simulate.' : 'The pod is in Istio ambient mode (ztunnel), which mesh-trace does not simulate.', {
        decision: { unsupported: rs.unsupported.kind, mesh },
        findings: [F(code, { message: rs.unsupported.message })],
      }),
    )
    return base
  }

  const podIps = conn.podIps.map((p) => parseIpAddress(p))
  const podIpSameFamily = podIps.find((p) => p.family === family)
  const isLocal = (a: IpAddress) => isLoopbackAddress(a) || podIps.some((p) => sameAddress(p, a))
  // Without a pod spec, the proxy is the uid the nat rules exempt (Istio's default 1337 if they exempt it).
  const exemptedUids = rulesetFacts(rs).exemptedUids
  const meshUid = DEFAULT_PROXY_UID[mesh]
  const proxyUid = ctx.proxyUid ?? ctx.runAsUser ?? (meshUid !== null && exemptedUids.includes(meshUid) ? meshUid : exemptedUids[0] ?? meshUid)
  const uidAssumed = conn.direction === 'outbound' && conn.uid === undefined
  const gidAssumed = conn.direction === 'outbound' && conn.gid === undefined && conn.uid === undefined
  const uid = conn.uid ?? assumeAppId(rs, 'uid', proxyUid)
  const gid = conn.gid ?? (conn.uid !== undefined ? conn.uid : assumeAppId(rs, 'gid', proxyUid))
  const loopback = parseIpAddress(family === 'ipv4' ? '127.0.0.1' : '::1')

  const leadFindings: Finding[] = []
  if (ctx.origin === 'cni') leadFindings.push(F('rules-inferred', { origin: 'istio-cni' }))
  if (rs.form !== 'save') leadFindings.push(F('rules-intended', { form: rs.form === 'restore' ? 'iptables-restore input' : 'a list of iptables commands' }))
  if (rs.partial) leadFindings.push(F('rules-partial', { note: rs.notes.find((n) => /failed setup/.test(n)) ?? rs.notes.join(' ') }))
  if (rs.legacyTablesPresent) leadFindings.push(F('legacy-tables-hidden'))
  if (uidAssumed) leadFindings.push(F('owner-uid-assumed', { uid }))
  const nat = rs.tables.get('nat')
  if (!nat || rulesetFacts(rs).natMesh === 'unknown') {
    leadFindings.push(F('rules-empty', { what: 'mesh chains (ISTIO_*, KUMA_*, CONSUL_*, PROXY_*)' }))
  }
  if (ctx.proxyUid !== undefined || ctx.runAsUser !== undefined) {
    const exempt = exemptedUids
    if (exempt.length > 0 && proxyUid !== null && !exempt.includes(proxyUid)) leadFindings.push(F('proxy-uid-mismatch', { ruleUids: exempt.join(', '), proxyUid }))
  }

  const state: MutableState = { mark: (conn.mark ?? 0) >>> 0, ctmark: 0, ctZone: null, untracked: false, ctAttached: false }
  let curDst = dst
  let curDport = conn.dstPort
  let ctstates = ['NEW']
  let intercepted: boolean | null = false
  let redirectPort: number | null = null
  let delivered: IptablesTrace['delivered'] = null
  let dropped = false
  let unresolved = false
  const notes: string[] = []
  const steps: TraceStep[] = []
  let natStep: TraceStep | null = null

  const appOwner = { uid, gid, uidAssumed, gidAssumed }
  const packetFor = (pass: Pass): PacketView => {
    const out = pass.phase === 'local-out'
    // The OUTPUT hook's output device is fixed by the first route lookup: when nat or a mark reroutes the packet,
    // -o in raw/mangle/nat/filter OUTPUT still sees the original device; only POSTROUTING sees the new one.
    const outIface = isLocal(pass.hook === 'OUTPUT' ? dst : curDst) ? 'lo' : 'eth0'
    return makePacket({
      family,
      protocol: conn.protocol,
      src,
      dst: curDst,
      sport: conn.srcPort,
      dport: curDport,
      inIface: out ? null : pass.phase === 'lo-reentry' ? 'lo' : 'eth0',
      outIface: out ? outIface : null,
      // xt_owner is only valid in OUTPUT/POSTROUTING; an arriving packet has no local socket.
      owner: out ? appOwner : null,
      mark: state.mark,
      ctmark: state.ctmark,
      // raw runs before conntrack: without a conntrack entry, --ctstate sees INVALID (looped-back packets keep theirs).
      ctstates: pass.table === 'raw' && pass.phase !== 'lo-reentry' ? INVALID : ctstates,
      localAddresses: podIps,
    })
  }

  /**
   * A TCP connection completes only if the SYN-ACK and the client's first ACK get through too. They pass raw, mangle
   * and filter again (never nat). A DROP/REJECT there, or a TPROXY that finds no transparent socket (xt_TPROXY then
   * drops, or hands an ACK to the listener, which resets it), means the connection never completes.
   */
  const traceFollowUps = (): 'ok' | 'dropped' | 'unresolved' => {
    const nated = ctstates.includes('DNAT')
    // No rule of any hook these packets pass can act on them, and no conntrack zone can differ: nothing to walk.
    if (!followUpsMayAct(rs, conn.protocol) && (!nated || (state.ctZone ?? 0) === 0)) return 'ok'
    const serverLocal = conn.direction === 'inbound' || isLocal(curDst)
    const listenerPort = intercepted && redirectPort !== null ? redirectPort : curDport
    const serverTransparent = rulesetFacts(rs).tproxyPorts.has(listenerPort)
    const est = nated ? ESTABLISHED_DNAT : ESTABLISHED
    const outIface = isLocal(curDst) ? 'lo' : 'eth0'
    const firstIface = isLocal(dst) ? 'lo' : 'eth0'
    const replyLabel = conn.protocol === 'tcp' ? 'the reply (SYN-ACK)' : 'the reply'
    // A SYN-ACK belongs to a request socket (no owner); a UDP answer to the server's socket: the proxy's when intercepted.
    const replyOwner = conn.protocol === 'udp' && intercepted === true && proxyUid !== null ? { uid: proxyUid, gid: proxyUid, uidAssumed: true, gidAssumed: true } : null
    const serverSocket = (d: IpAddress, port: number): PacketView['socket'] =>
      sameAddress(d, curDst) && port === curDport ? (serverTransparent ? 'established-transparent' : 'established') : 'none'
    const connMark = (conn.mark ?? 0) >>> 0
    // Each leg is a list of segments (one packet shape over a list of hooks); the packet of a hook is built only when
    // its table has that chain (most do not: the walk of a missing chain is a no-op).
    const segsOf = (leg: FollowLeg): FollowSegment[] => {
      if (leg === 'reply') {
        if (!serverLocal) return [{ shape: 'reply-in', hooks: REPLY_IN, inIface: 'eth0', mark: 0 }]
        const out: FollowSegment = { shape: 'reply-out', hooks: REPLY_OUT, inIface: null, mark: 0 }
        return conn.direction === 'outbound' ? [out, { shape: 'reply-in-lo', hooks: REPLY_IN, inIface: 'lo', mark: 0 }] : [out]
      }
      if (conn.direction === 'inbound') return [{ shape: 'ack-in', hooks: REPLY_IN, inIface: 'eth0', mark: 0 }]
      const out: FollowSegment = { shape: 'ack-out', hooks: REPLY_OUT, inIface: null, mark: connMark }
      return serverLocal ? [out, { shape: 'ack-in-lo', hooks: REPLY_IN, inIface: 'lo', mark: 0 }] : [out]
    }
    const packetOf = (shape: FollowSegment['shape'], table: string, hook: string, mark: number, ctmark: number): PacketView => {
      // raw runs before conntrack: without a conntrack entry, --ctstate sees INVALID (looped-back packets keep theirs).
      const ctstates = table === 'raw' && shape !== 'reply-in-lo' && shape !== 'ack-in-lo' ? INVALID : est
      switch (shape) {
        // SYN-ACK: from the server (its socket address) to the client.
        case 'reply-out':
          return makePacket({ family, protocol: conn.protocol, mark, ctmark, ctstates, localAddresses: podIps, src: curDst, sport: curDport, dst: src, dport: conn.srcPort, tcpFlags: SYN_ACK, inIface: null, outIface: conn.direction === 'inbound' ? 'eth0' : 'lo', owner: replyOwner })
        case 'reply-in-lo':
          return makePacket({ family, protocol: conn.protocol, mark, ctmark, ctstates, localAddresses: podIps, src: dst, sport: conn.dstPort, dst: src, dport: conn.srcPort, tcpFlags: SYN_ACK, inIface: 'lo', outIface: null, owner: null, socket: 'established' })
        case 'reply-in':
          return makePacket({ family, protocol: conn.protocol, mark, ctmark, ctstates, localAddresses: podIps, src: curDst, sport: curDport, dst: src, dport: conn.srcPort, tcpFlags: SYN_ACK, inIface: 'eth0', outIface: null, owner: null, socket: 'established' })
        // The client's first ACK: before nat the header still has the original destination, after it the translated one.
        case 'ack-out': {
          const before = table === 'raw' || (table === 'mangle' && hook === 'OUTPUT')
          return makePacket({ family, protocol: conn.protocol, mark, ctmark, ctstates, localAddresses: podIps, src, sport: conn.srcPort, dst: before ? dst : curDst, dport: before ? conn.dstPort : curDport, tcpFlags: ACK, inIface: null, outIface: hook === 'OUTPUT' ? firstIface : outIface, owner: appOwner })
        }
        case 'ack-in-lo':
          return makePacket({ family, protocol: conn.protocol, mark, ctmark, ctstates, localAddresses: podIps, src, sport: conn.srcPort, dst: curDst, dport: curDport, tcpFlags: ACK, inIface: 'lo', outIface: null, owner: null, socket: serverSocket(curDst, curDport) })
        case 'ack-in': {
          const before = hook === 'PREROUTING'
          const d = before ? dst : curDst
          const port = before ? conn.dstPort : curDport
          return makePacket({ family, protocol: conn.protocol, mark, ctmark, ctstates, localAddresses: podIps, src, sport: conn.srcPort, dst: d, dport: port, tcpFlags: ACK, inIface: 'eth0', outIface: null, owner: null, socket: serverSocket(d, port) })
        }
      }
    }
    const legs: FollowLeg[] = conn.protocol === 'tcp' ? ['reply', 'ack'] : ['reply']
    const forwardZone = state.ctZone ?? 0
    for (const leg of legs) {
      const label = leg === 'reply' ? replyLabel : "the client's first ACK"
      // Each packet meets raw before conntrack: a CT rule there picks the zone its conntrack lookup uses.
      const lstate: MutableState = { mark: 0, ctmark: state.ctmark, ctZone: null, untracked: false, ctAttached: false }
      let lastMarkSource: 'out' | 'in' | null = null
      let zoneChecked = false
      for (const seg of segsOf(leg)) {
        for (const [tableName, hook] of seg.hooks) {
          if (!zoneChecked && tableName !== 'raw') {
            zoneChecked = true
            lstate.ctAttached = true
            const zone = lstate.ctZone ?? 0
            if (zone !== forwardZone && nated) {
              steps.push(newStep('iptables', 'dropped', `conntrack: ${label} is looked up in conntrack zone ${zone}, but the connection is in zone ${forwardZone} (raw CT --zone rules), so nat is not undone for it — the connection never completes. Check that the raw rules name the owner of the answering socket (e.g. the proxy uid).`, {
                decision: { hook: 'conntrack', packet: leg, zone, connectionZone: forwardZone, reason: 'conntrack-zone-mismatch' },
              }))
              return 'dropped'
            }
          }
          // The packet mark survives the loop over lo, but a packet arriving from eth0 starts with none.
          const side = seg.inIface === null ? 'out' : 'in'
          if (lastMarkSource === 'out' && side === 'in' && seg.inIface !== 'lo') lstate.mark = 0
          if (lastMarkSource === null) lstate.mark = seg.mark
          lastMarkSource = side
          const table = rs.tables.get(tableName)
          if (!table || !hookMayAct(table, hook, conn.protocol)) continue
          const pkt = packetOf(seg.shape, tableName, hook, lstate.mark, lstate.ctmark)
          const before: MutableState = { ...lstate }
          const walk = walkTable(table, hook, pkt, lstate, false)
          const end = walk.end
          const tproxy = end.kind === 'terminal' && end.target.kind === 'tproxy'
          const tproxyOk = tproxy && leg === 'ack' && pkt.socket === 'established-transparent'
          if (tproxyOk && end.kind === 'terminal' && end.target.kind === 'tproxy') lstate.mark = ((lstate.mark & ~end.target.markMask) ^ end.target.markValue) >>> 0
          const blocked =
            (tproxy && !tproxyOk) ||
            (end.kind === 'terminal' && end.target.kind === 'verdict' && (end.target.verdict === 'DROP' || end.target.verdict === 'REJECT')) ||
            (end.kind === 'policy' && end.policy === 'DROP')
          if (end.kind !== 'unresolved' && !blocked) continue
          const pass: Pass = { table: tableName, hook, phase: pkt.inIface === 'lo' ? 'lo-reentry' : pkt.inIface ? 'arrive' : 'local-out' }
          const step = explainPass(rs, pass, walkTable(table, hook, pkt, before, true), pkt, mesh, conn.direction, false)
          if (tproxy && end.kind === 'terminal') {
            step.outcome = 'dropped'
            step.summary =
              leg === 'reply'
                ? `${tableName} ${hook}: ${ruleName(end.hit.rule)} TPROXYs ${label}, and TPROXY drops a packet whose socket (the client's) is not transparent — the connection never completes. Established traffic must be diverted before the TPROXY rule (-m socket or --ctstate RELATED,ESTABLISHED).`
                : `${tableName} ${hook}: ${ruleName(end.hit.rule)} TPROXYs ${label}, which finds no transparent socket for its address (after nat changed it, the server socket has another address) — the kernel drops it or the listener resets it, so the connection never completes.`
          } else step.summary = `${step.summary.replace(/\.$/, '')} — this is ${label}, so the connection never completes.`
          step.decision.packet = leg
          if (end.kind === 'unresolved') step.findings.push(F('unresolved-construct', { construct: end.construct, where: `${ruleName(end.hit.rule)} (${rs.file}:${end.hit.rule.line})` }))
          steps.push(step)
          return end.kind === 'unresolved' ? 'unresolved' : 'dropped'
        }
      }
    }
    return 'ok'
  }

  const isDecisionPass = (p: Pass) =>
    p.table === 'nat' && ((conn.direction === 'outbound' && p.hook === 'OUTPUT' && p.phase === 'local-out') || (conn.direction === 'inbound' && p.hook === 'PREROUTING'))

  // The passes of the first packet; the list is extended (a copy) only when the connection loops back over lo.
  let passes: readonly Pass[] = conn.direction === 'outbound' ? OUT_PASSES : ARRIVE_PASSES
  for (let pi = 0; ; pi++) {
    if (pi === passes.length) {
      // After the local-out passes, a packet to a local address loops back over lo and arrives again.
      if (conn.direction === 'outbound' && passes === OUT_PASSES && isLocal(curDst)) passes = [...OUT_PASSES, ...LO_REENTRY_PASSES]
      else break
    }
    const pass = passes[pi]
    if (pass.table === 'nat' && state.untracked) {
      notes.push(`nat ${pass.hook} is not consulted: the connection is untracked (NOTRACK/CT --notrack in raw).`)
      continue
    }
    if (pass.table === 'nat' && pass.phase === 'lo-reentry') {
      notes.push(`On re-entry over lo, nat ${pass.hook} is not consulted: the connection's conntrack entry already exists (nat sees only the first packet of a new connection, in OUTPUT).`)
      continue
    }
    const table = rs.tables.get(pass.table)
    const decision = isDecisionPass(pass)
    // A pass whose rules cannot act on this packet changes nothing and shows nothing (the decision pass always shows).
    if (!decision && (!table || !hookMayAct(table, pass.hook, conn.protocol))) continue
    const pkt = packetFor(pass)
    const before: MutableState = { ...state }
    // Only the decision pass is always shown; the others are walked without recording and walked again if shown.
    const walk: WalkResult | null = table ? walkTable(table, pass.hook, pkt, state, decision) : null
    // The step is built only for passes that show (most passes change nothing and are left out of the trace).
    const interceptedBefore = intercepted
    let built: TraceStep | null = null
    const stepOf = (): TraceStep => {
      if (built) return built
      const shown = decision || !table ? walk : walkTable(table, pass.hook, pkt, { ...before }, true)
      built = explainPass(rs, pass, shown, pkt, mesh, conn.direction, decision)
      if (decision && interceptedBefore === true && built.outcome === 'passed') {
        // TPROXY in mangle already delivered the connection; nat leaving it alone is not a miss.
        built.summary = built.summary.replace(' — not intercepted.', `; TPROXY in mangle PREROUTING already delivered it to ${redirectPort}.`)
      }
      return built
    }
    if (!walk) {
      if (decision) {
        natStep = stepOf()
        steps.push(stepOf())
      }
      continue
    }
    const end = walk.end
    if (end.kind === 'unresolved') {
      unresolved = true
      stepOf().findings.push(F('unresolved-construct', { construct: end.construct, where: `${ruleName(end.hit.rule)} (${rs.file}:${end.hit.rule.line})` }))
      steps.push(stepOf())
      if (decision) natStep = stepOf()
      break
    }
    if (end.kind === 'terminal') {
      const t = end.target
      if (t.kind === 'verdict' && (t.verdict === 'DROP' || t.verdict === 'REJECT')) dropped = true
      if (t.kind === 'redirect' || t.kind === 'dnat') {
        const port = t.toPorts ? t.toPorts.min : curDport
        let ip: IpAddress
        if (t.kind === 'redirect') {
          // libxt_REDIRECT: locally generated packets go to 127.0.0.1/::1; arriving ones to the incoming interface's primary address.
          ip = pass.phase === 'local-out' ? loopback : pass.phase === 'lo-reentry' ? loopback : podIpSameFamily ?? curDst
          if (pass.phase === 'arrive' && !podIpSameFamily) notes.push(`No ${family} pod IP was given; the primary address of eth0 is taken to be the destination ${curDst.text}.`)
        } else ip = t.toAddress ? parseIpAddress(t.toAddress) : curDst
        curDst = ip
        curDport = port
        ctstates = ['NEW', 'DNAT']
        stepOf().decision.newDestination = addrPort(ip.text, port, family)
        if (t.kind === 'redirect' || isLocal(ip)) {
          intercepted = true
          redirectPort = port
          delivered = { ip: ip.text, port }
        }
        if (t.toPorts && t.toPorts.min !== t.toPorts.max) notes.push(`REDIRECT/DNAT names a port range (${formatPortRange(t.toPorts)}); the kernel picks a free port in it, usually the first (${t.toPorts.min}).`)
      }
      if (t.kind === 'tproxy') {
        // xt_TPROXY delivers to a local socket without rewriting the header; with --on-ip 0.0.0.0 the original address stays.
        const onIp = t.onIp && !/^(0\.0\.0\.0|::)$/.test(t.onIp) ? t.onIp : curDst.text
        const port = t.onPort === 0 ? curDport : t.onPort
        state.mark = ((state.mark & ~t.markMask) ^ t.markValue) >>> 0
        intercepted = true
        redirectPort = port
        delivered = { ip: onIp, port }
        stepOf().decision.newDestination = addrPort(onIp, port, family)
        stepOf().findings.push(F('tproxy-routing', { port, mark: `0x${t.markValue.toString(16)}`, table: 133 }))
      }
    }
    if (end.kind === 'policy' && end.policy === 'DROP') dropped = true
    const interesting = decision || end.kind === 'terminal' || walk.actions.length > 0 || (end.kind === 'policy' && end.policy === 'DROP')
    if (interesting) steps.push(stepOf())
    if (decision) natStep = stepOf()
    if (!dropped && pass.phase === 'local-out' && pass.table === 'nat' && pass.hook === 'OUTPUT' && isLoopbackAddress(src) && !isLocal(curDst)) {
      // ip_route_me_harder: after nat, the packet is routed again, and a loopback source may not leave through eth0.
      dropped = true
      steps.push(newStep('iptables', 'dropped', `routing: after nat the connection goes to ${addrPort(curDst.text, curDport, family)} through eth0, but its source ${src.text} is a loopback address, which may not leave the host, so the kernel drops it.`, { decision: { hook: 'routing', destination: addrPort(curDst.text, curDport, family), reason: 'loopback-source' } }))
    }
    if (!dropped && pass.phase === 'arrive' && pass.table === 'nat' && pass.hook === 'PREROUTING') {
      // The route decision after nat PREROUTING: only local addresses are delivered; a pod does not forward.
      const dest = addrPort(curDst.text, curDport, family)
      if (isLoopbackAddress(curDst)) {
        dropped = true
        steps.push(newStep('iptables', 'dropped', `routing: ${dest} is a loopback address on a packet that arrived on eth0, so the kernel drops it as a martian (route_localnet is off).`, { decision: { hook: 'routing', destination: dest, reason: 'martian-destination' } }))
      } else if (!isLocal(curDst)) {
        dropped = true
        steps.push(newStep('iptables', 'dropped', `routing: ${dest} is not an address of the pod, and a pod does not forward packets (ip_forward is off), so the connection is dropped.`, { decision: { hook: 'routing', destination: dest, reason: 'not-forwarded' } }))
      }
    }
    if (dropped) break
  }

  if (!dropped && !unresolved) {
    const r = traceFollowUps()
    if (r === 'dropped') dropped = true
    if (r === 'unresolved') unresolved = true
  }

  if (unresolved) intercepted = null
  if (dropped) {
    intercepted = false
    delivered = null
  }
  const head = natStep ?? steps[0]
  if (head) {
    if (notes.length > 0) head.decision.notes = [...((head.decision.notes as string[] | undefined) ?? []), ...notes]
    head.findings.unshift(...leadFindings)
    if (natStep && intercepted === true && redirectPort !== null) {
      if (conn.dstPort === 53 && redirectPort === 15053) {
        natStep.findings.push(F('dns-captured', { destination: addrPort(dst.text, 53, family), port: redirectPort, meaning: portMeaning(mesh, redirectPort, conn.direction) }))
      }
      // Only init containers connect before Envoy is up (istio#23802): name the one whose uid sent this.
      const initContainer = ctx.initContainerUids ? Object.entries(ctx.initContainerUids).find(([, uid]) => uid === conn.uid)?.[0] : undefined
      if (conn.direction === 'outbound' && initContainer !== undefined && proxyUid !== null && conn.uid !== proxyUid && redirectPort !== 15053) {
        const when = ctx?.origin === 'cni' || ctx?.cniPod === true ? 'istio-cni wrote the rules when the pod sandbox was created, before any init container ran' : 'istio-init ran before it'
        natStep.findings.push(F('captured-before-proxy-ready', { uid: conn.uid as number, container: initContainer, when, port: redirectPort, proxyUid }))
      }
    }
    if (natStep && intercepted === false && !dropped) {
      const chosen = natStep.chosen
      const reason =
        chosen?.kind === 'rule'
          ? `${chosen.name} (${chosen.source.file}:${chosen.source.line}, "${chosen.excerpt}") returns it before any capture rule`
          : `no rule in nat ${conn.direction === 'outbound' ? 'OUTPUT' : 'PREROUTING'} captures it`
      natStep.findings.push(F('not-intercepted', { reason }))
    }
    if (natStep && intercepted === true && nat) {
      const shadow = findShadowedExclude(nat, natStep, packetForShadow(conn, src, dst, appOwner, podIps, isLocal(dst)))
      if (shadow) natStep.findings.push(F('exclude-shadowed', shadow))
    }
  } else {
    // Nothing to show: no table did anything. Record one passed step so the stage still appears.
    const s = newStep('iptables', 'passed', 'No iptables rule touched the connection.', { findings: leadFindings })
    steps.push(s)
  }
  return { steps, intercepted, redirectPort: intercepted === false ? null : redirectPort, dropped, delivered: intercepted ? delivered : null, originalDst, mesh }
}

function packetForShadow(conn: Connection, src: IpAddress, dst: IpAddress, owner: NonNullable<PacketView['owner']>, podIps: IpAddress[], local: boolean): PacketView {
  const out = conn.direction === 'outbound'
  return makePacket({
    family: dst.family,
    protocol: conn.protocol,
    src,
    dst,
    sport: conn.srcPort,
    dport: conn.dstPort,
    inIface: out ? null : 'eth0',
    outIface: out ? (local ? 'lo' : 'eth0') : null,
    owner: out ? owner : null,
    mark: conn.mark ?? 0,
    ctmark: 0,
    ctstates: NEW_STATE,
    localAddresses: podIps,
  })
}

const NEW_STATE = ['NEW']

/** Exclusions of a nat chain: RETURN/ACCEPT rules that name a destination or port (not negated), by chain; computed once. */
const EXCLUDES = new WeakMap<Chain, Rule[]>()

function excludesOf(chain: Chain): Rule[] {
  let list = EXCLUDES.get(chain)
  if (list === undefined) {
    list = chain.rules.filter(
      (r) =>
        r.target?.kind === 'verdict' &&
        (r.target.verdict === 'RETURN' || r.target.verdict === 'ACCEPT') &&
        r.matches.some((m) => !m.negated && (m.kind === 'destination' || m.kind === 'port' || m.kind === 'multiport')),
    )
    EXCLUDES.set(chain, list)
  }
  return list
}

/** An exclusion (RETURN/ACCEPT on this destination or port) that sits after the rule that captured the connection. */
function findShadowedExclude(nat: Table, natStep: TraceStep, pkt: PacketView): Record<string, string> | null {
  const path = (natStep.decision.chainPath as string[] | undefined) ?? []
  const pathRules = (natStep.decision.pathRules as string[] | undefined) ?? []
  const decidingName = natStep.chosen?.name ?? ''
  for (const chainName of path) {
    const chain = nat.chains.get(chainName)
    if (!chain) continue
    const excludes = excludesOf(chain)
    if (excludes.length === 0) continue
    const prefix = `${chainName} #`
    const hitIndexInChain = pathRules.find((n) => n.startsWith(prefix)) ?? (decidingName.startsWith(prefix) ? decidingName : undefined)
    const after = hitIndexInChain ? Number(hitIndexInChain.slice(prefix.length)) : 0
    for (const r of excludes) {
      // r.index is 1-based: the rules after the one at `after` are those with a larger index.
      if (r.index <= after) continue
      if (r.matches.every((m) => matchVerdict(m, pkt) === HOLDS)) {
        return {
          excludeRule: `${r.chain} #${r.index} (line ${r.line})`,
          excludeText: r.text,
          decidingRule: hitIndexInChain ?? decidingName,
          decidingText: natStep.chosen?.excerpt ?? '',
        }
      }
    }
  }
  return null
}

const hex = (n: number) => `0x${(n >>> 0).toString(16)}`

function describeTarget(hitTarget: NonNullable<Rule['target']>, mesh: Mesh, direction: 'outbound' | 'inbound', curPort: number): string {
  switch (hitTarget.kind) {
    case 'redirect': {
      const port = hitTarget.toPorts ? hitTarget.toPorts.min : curPort
      return `REDIRECTs to ${port} (${portMeaning(mesh, port, direction)})`
    }
    case 'dnat':
      return `DNATs to ${hitTarget.toAddress ?? '(same address)'}${hitTarget.toPorts ? ':' + formatPortRange(hitTarget.toPorts) : ''}`
    case 'tproxy': {
      const port = hitTarget.onPort === 0 ? curPort : hitTarget.onPort
      return `TPROXYs to ${port} (${portMeaning(mesh, port, direction)}) and sets mark ${hex(hitTarget.markValue)}`
    }
    case 'snat':
      return `rewrites the source (${hitTarget.name})`
    case 'verdict':
      return hitTarget.verdict === 'ACCEPT' ? 'ACCEPTs it (this table is done)' : `${hitTarget.verdict}s the connection`
    default:
      return hitTarget.kind
  }
}

/** The evidence of a hit: every match of each jump rule on its path, then of the rule itself, each field named by its rule. */
function evidenceOf(hit: RuleHit): Evidence[] {
  const out: Evidence[] = []
  const add = (entry: EvaluatedRule) => {
    for (const e of ruleEvidence(entry)) out.push({ field: `${entry.compiled.name} ${e.field}`, expected: e.expected, actual: e.actual })
  }
  for (const p of hit.path) add(p.entry)
  add(hit.entry)
  return out
}

/** Every rule the walk evaluated except the hit and the jumps that led to it, in order, with why it did not decide. */
function rejectedOf(rs: Ruleset, walk: WalkResult, hit: RuleHit | undefined): Alternative[] {
  // Sized once, then cut to length: the decision pass rejects dozens of rules, and a growing array is copied as it grows.
  const out: Alternative[] = new Array<Alternative>(evaluatedCount(walk))
  let n = 0
  forEachEvaluated(
    walk,
    (compiled, at, packet) => {
      out[n++] = failedRejection(rs, compiled, at, packet)
    },
    (e) => {
      if (hit && (e === hit.entry || onPath(hit, e))) return
      out[n++] = { candidate: compiledRef(rs, e.compiled), reason: e.reason, evidence: ruleEvidence(e) }
    },
  )
  out.length = n
  return out
}

function onPath(hit: RuleHit, e: EvaluatedRule): boolean {
  for (const p of hit.path) if (p.entry === e) return true
  return false
}

/**
 * Why a rule failed: its match at `at` did not hold. What that match tested and expected depends on the rule alone
 * (except for owner matches, whose wording depends on whether the packet has a socket), so that label is made once
 * per rule and only what the packet had is read per trace.
 */
function failedRejection(rs: Ruleset, c: CompiledRule, at: number, packet: PacketView): Alternative {
  const candidate = compiledRef(rs, c)
  const m = c.rule.matches[at]
  if (m.kind === 'owner') return { candidate, reason: 'owner-mismatch', evidence: [matchEvidence(m, packet)] }
  const labels = (c.labels ??= [])
  let label = labels[at]
  if (label === undefined) {
    const { field, expected } = matchEvidence(m, packet)
    label = labels[at] = { field, expected, reason: mismatchReason(m) }
  }
  return { candidate, reason: label.reason, evidence: [{ field: label.field, expected: label.expected, actual: c.actuals[at](packet) }] }
}

function brief(ev: Evidence[]): string {
  return ev.filter((e) => e.field !== 'comment').map((e) => `${e.field} ${e.actual.replace(/ \(assumed.*\)$/, '')}`).join(', ')
}

/** A pass's decision: where it ran, then `fields`, key by key (no spreads: the key order is the JSON order). */
function passDecision(pass: Pass, pkt: PacketView, mesh: Mesh, fields: Record<string, unknown>): Record<string, unknown> {
  const d: Record<string, unknown> =
    pkt.outIface !== null ? { table: pass.table, hook: pass.hook, outInterface: pkt.outIface, mesh } : { table: pass.table, hook: pass.hook, inInterface: pkt.inIface, mesh }
  for (const k in fields) d[k] = fields[k]
  return d
}

/** Builds the TraceStep of one (table, hook) pass. */
function explainPass(rs: Ruleset, pass: Pass, walk: WalkResult | null, pkt: PacketView, mesh: Mesh, direction: 'outbound' | 'inbound', decisionPass: boolean): TraceStep {
  const where = `${pass.table} ${pass.hook}${pass.phase === 'lo-reentry' ? ' (looped back over lo)' : ''}`
  const decisionWith = (fields: Record<string, unknown>) => passDecision(pass, pkt, mesh, fields)
  if (!walk) {
    return newStep('iptables', 'passed', `${where}: the ${pass.table} table is empty, so the connection passes unchanged${decisionPass ? ' — not intercepted' : ''}.`, {
      decision: decisionWith({ chainPath: [pass.hook], target: 'ACCEPT (no table)' }),
    })
  }
  const end = walk.end
  if (end.kind === 'unresolved') {
    return newStep('iptables', 'unresolved', `${where}: ${ruleName(end.hit.rule)} uses ${end.construct}, which mesh-trace does not simulate, so the outcome is unknown.`, {
      chosen: compiledRef(rs, end.hit.entry.compiled),
      decision: decisionWith({ chainPath: chainPathOf(end.hit), construct: end.construct }),
      evidence: evidenceOf(end.hit),
      rejected: rejectedOf(rs, walk, end.hit),
    })
  }
  if (end.kind === 'terminal') {
    const hit = end.hit
    const t = end.target
    const action = describeTarget(t, mesh, direction, pkt.dport)
    const last = hit.path[hit.path.length - 1]
    const summary = last
      ? `${where}: ${last.entry.compiled.name} jumps to ${hit.rule.chain}, ${hit.rule.index === 1 ? 'which' : `whose rule #${hit.rule.index}`} ${action}`
      : `${where}: ${hit.entry.compiled.name} ${action}`
    const decision = decisionWith({ chainPath: chainPathOf(hit), pathRules: pathRuleNames(hit), target: targetName(t) })
    if (t.kind === 'redirect' || t.kind === 'tproxy' || t.kind === 'dnat') {
      const port = t.kind === 'tproxy' ? (t.onPort === 0 ? pkt.dport : t.onPort) : t.toPorts ? t.toPorts.min : pkt.dport
      decision.toPort = port
      decision.portMeaning = portMeaning(mesh, port, direction)
    }
    const outcome = t.kind === 'verdict' && (t.verdict === 'DROP' || t.verdict === 'REJECT') ? 'dropped' : 'matched'
    return newStep('iptables', outcome, summary + (walk.actions.length ? `; before that, ${walk.actions.map((a) => `${ruleName(a.hit.rule)} ${a.description}`).join('; ')}` : ''), {
      chosen: compiledRef(rs, hit.entry.compiled),
      decision,
      evidence: evidenceOf(hit),
      rejected: rejectedOf(rs, walk, hit),
    })
  }
  // Fell off the built-in chain (or RETURNed from it): the policy decides.
  const policy = end.policy
  const lastAction = walk.actions[walk.actions.length - 1]
  if (!decisionPass && lastAction) {
    const hit = lastAction.hit
    return newStep('iptables', policy === 'DROP' ? 'dropped' : 'matched', `${where}: ${walk.actions.map((a) => `${ruleName(a.hit.rule)} ${a.description}`).join('; ')}; then the ${pass.hook} policy ${policy} applies.`, {
      chosen: compiledRef(rs, hit.entry.compiled),
      decision: decisionWith({ chainPath: chainPathOf(hit), pathRules: pathRuleNames(hit), target: targetName(hit.rule.target!), actions: walk.actions.map((a) => ({ rule: ruleName(a.hit.rule), did: a.description })), mark: hex(pkt.mark) }),
      evidence: evidenceOf(hit),
      rejected: rejectedOf(rs, walk, hit),
    })
  }
  const policyRef: ConfigRef = {
    kind: 'chain',
    name: `${pass.hook} policy ${policy}`,
    source: { file: rs.file, line: end.chain?.line || undefined },
    excerpt: `:${pass.hook} ${policy}`,
  }
  if (policyRef.source.line === undefined) delete policyRef.source.line
  const ret = end.lastReturn
  const tail = policy === 'DROP' ? 'drops the connection' : `lets it through unchanged${decisionPass ? ' — not intercepted' : ''}`
  const summary = ret
    ? `${where}: ${ruleName(ret.rule)} RETURNs (${brief(ruleEvidence(ret.entry)) || 'any packet'}), so the ${pass.hook} policy ${policy} ${tail}.`
    : `${where}: no rule decides, so the ${pass.hook} policy ${policy} ${tail}.`
  const extra = walk.actions.length ? ` Along the way: ${walk.actions.map((a) => `${ruleName(a.hit.rule)} ${a.description}`).join('; ')}.` : ''
  return newStep('iptables', policy === 'DROP' ? 'dropped' : 'passed', summary + extra, {
    chosen: ret ? compiledRef(rs, ret.entry.compiled) : policyRef,
    decision: decisionWith({ chainPath: ret ? chainPathOf(ret) : [pass.hook], pathRules: ret ? pathRuleNames(ret) : [], target: ret ? 'RETURN' : 'policy', policy }),
    evidence: ret ? evidenceOf(ret) : [],
    rejected: rejectedOf(rs, walk, ret),
  })
}

function targetName(t: NonNullable<Rule['target']>): string {
  switch (t.kind) {
    case 'jump':
      return t.chain
    case 'verdict':
      return t.verdict
    case 'redirect':
      return 'REDIRECT'
    case 'dnat':
      return 'DNAT'
    case 'snat':
      return t.name
    case 'tproxy':
      return 'TPROXY'
    case 'mark':
      return 'MARK'
    case 'connmark':
      return 'CONNMARK'
    case 'ct':
      return 'CT'
    case 'log':
      return t.name
    case 'unknown':
      return t.name
  }
}
