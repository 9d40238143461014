/**
 * Listener selection: the listener that accepts the socket, then the `use_original_dst` hand-off to the
 * listener of the original destination (exact ip:port, then the wildcard 0.0.0.0:port / [::]:port).
 */
import { newStep, type Alternative, type Evidence, type TraceStep } from '../trace/trace.js'
import { canonicalIp, formatAddress, ipFamily, isUnspecified } from './address.js'
import { addressKey, envoyIndex, findListener, type ListenerHead } from './config-dump.js'
import { envoyFinding } from './findings.js'
import type { EnvoyModel, Listener } from './model.js'
import { listenerAddressText, listenerRef } from './refs.js'

/** An IP and port. */
export interface Endpoint {
  ip: string
  port: number
}

/** The outcome of listener selection. */
export interface ListenerSelection {
  /** The listener that accepted the socket (null: none). */
  receiving: Listener | null
  /** The listener whose filter chains handle the connection (after any hand-off). */
  final: Listener | null
  /** Listeners whose listener filters ran, in order (receiving, then the hand-off target). */
  ran: Listener[]
  /** The destination used for filter-chain matching (restored original destination or socket address). */
  localAddress: Endpoint
  /** Whether the local address was restored by original_dst. */
  restored: boolean
  /** The listener steps (receiving, hand-off). */
  steps: TraceStep[]
}

function isServing(l: Pick<Listener, 'state'>): boolean {
  return l.state === 'active' || l.state === 'static'
}

/** Whether the listener restores the original destination (use_original_dst or an original_dst listener filter). */
export function hasOriginalDst(l: Listener): boolean {
  return l.useOriginalDst || l.listenerFilters.some((f) => f.role === 'original_dst')
}

/** Listeners on a port in any state, for explaining why they lost. */
function listenersOnPort(model: EnvoyModel, port: number): Listener[] {
  return envoyIndex(model).listenersByPort.get(port) ?? []
}

function wildcardFor(ip: string): string {
  return ipFamily(ip) === 'ipv6' ? '::' : '0.0.0.0'
}

/**
 * Finds the serving listener at `ip:port` exactly, then at the wildcard of the same family.
 * `boundOnly` restricts to listeners that own a socket (bind_to_port true), as the kernel does.
 */
export function findListenerByAddress(model: EnvoyModel, ip: string, port: number, boundOnly: boolean): { listener: Listener | null; how: 'exact' | 'wildcard' | 'none' } {
  const index = envoyIndex(model)
  const pick = (key: string): Listener | null => (index.listenersByAddress.get(key) ?? []).find((l) => isServing(l) && (!boundOnly || l.bindToPort)) ?? null
  const exact = pick(addressKey(ip, port))
  if (exact) return { listener: exact, how: 'exact' }
  if (!isUnspecified(ip)) {
    const wild = pick(addressKey(wildcardFor(ip), port))
    if (wild) return { listener: wild, how: 'wildcard' }
    // A [::] listener with ipv4_compat also takes IPv4 connections.
    if (ipFamily(ip) === 'ipv4') {
      const compat = (index.listenersByAddress.get(addressKey('::', port)) ?? []).find((l) => isServing(l) && (!boundOnly || l.bindToPort) && l.address?.ipv4Compat === true)
      if (compat) return { listener: compat, how: 'wildcard' }
    }
  }
  return { listener: null, how: 'none' }
}

function rejectedOnPort(model: EnvoyModel, port: number, ip: string, chosen: Listener | null, boundOnly: boolean): Alternative[] {
  const out: Alternative[] = []
  const canon = canonicalIp(ip)
  for (const l of listenersOnPort(model, port)) {
    if (l === chosen) continue
    const addr = l.address ? canonicalIp(l.address.ip) : ''
    const evidence: Evidence[] = [{ field: 'address', expected: listenerAddressText(l), actual: formatAddress(ip, port) }]
    if (!isServing(l)) out.push({ candidate: listenerRef(l), reason: 'not-active', evidence: [{ field: 'state', expected: 'active', actual: l.state }] })
    else if (boundOnly && !l.bindToPort) out.push({ candidate: listenerRef(l), reason: 'not-bound', evidence: [{ field: 'bind_to_port', expected: 'true (owns a socket)', actual: 'false' }] })
    else if (addr !== canon && !(isUnspecified(addr) && ipFamily(addr) === ipFamily(canon))) out.push({ candidate: listenerRef(l), reason: 'address-mismatch', evidence })
    else if (chosen) out.push({ candidate: listenerRef(l), reason: 'less-specific', evidence })
  }
  return out
}

/** What netfilter delivered and the original destination. */
export interface ListenerInput {
  direction: 'outbound' | 'inbound'
  delivered: Endpoint | null
  originalDst: Endpoint
}

/** The capture listener Istio uses for a direction when no iptables rules say where traffic went. */
export function captureListener(model: EnvoyModel, direction: 'outbound' | 'inbound'): Listener | null {
  const cached = CAPTURE_LISTENERS.get(model)?.[direction]
  if (cached !== undefined) return cached
  const found = findCaptureListener(model, direction)
  CAPTURE_LISTENERS.set(model, { ...CAPTURE_LISTENERS.get(model), [direction]: found })
  return found
}

const CAPTURE_LISTENERS = new WeakMap<EnvoyModel, { outbound?: Listener | null; inbound?: Listener | null }>()

function findCaptureListener(model: EnvoyModel, direction: 'outbound' | 'inbound'): Listener | null {
  // findListener parses only the listener found, not every listener of the model.
  const serving = { find: (test: (l: ListenerHead) => boolean): Listener | null => findListener(model, (l) => isServing(l) && test(l)) }
  if (direction === 'inbound') {
    const vi = serving.find((l) => l.name === 'virtualInbound') ?? serving.find((l) => l.address?.port === 15006 && l.bindToPort)
    if (vi) return vi
  }
  return (
    serving.find((l) => l.useOriginalDst && l.address?.port === 15001) ??
    serving.find((l) => l.name === 'virtualOutbound' || l.name === 'virtual') ??
    serving.find((l) => l.useOriginalDst) ??
    null
  )
}

/** Selects the receiving listener and performs the original-destination hand-off, with one step each. */
export function selectListener(model: EnvoyModel, input: ListenerInput): ListenerSelection {
  const steps: TraceStep[] = []
  let receiving: Listener | null = null
  let socketAddress: Endpoint
  const findings = []
  if (input.delivered) {
    socketAddress = input.delivered
    receiving = findListenerByAddress(model, input.delivered.ip, input.delivered.port, true).listener
  } else {
    receiving = captureListener(model, input.direction)
    if (receiving?.address) {
      socketAddress = { ip: receiving.address.ip, port: receiving.address.port }
      findings.push(envoyFinding('assumed-capture-listener', { listener: receiving.name, address: listenerAddressText(receiving) }))
    } else {
      // No capture listener (e.g. a gateway): the connection reaches the bound listener directly.
      socketAddress = input.originalDst
      receiving = findListenerByAddress(model, input.originalDst.ip, input.originalDst.port, true).listener
    }
  }
  const rejected = rejectedOnPort(model, socketAddress.port, socketAddress.ip, receiving, true)
  for (const r of rejected) if (r.reason === 'not-active') findings.push(envoyFinding('warming-listener', { listener: r.candidate.name, state: r.evidence[0]?.actual ?? '' }))
  if (!receiving) {
    steps.push(
      newStep('listener', 'no_match', `No active listener is bound to ${formatAddress(socketAddress.ip, socketAddress.port)}: the connection is refused.`, {
        decision: { socketAddress: formatAddress(socketAddress.ip, socketAddress.port) },
        rejected,
        findings,
      }),
    )
    return { receiving: null, final: null, ran: [], localAddress: socketAddress, restored: false, steps }
  }
  const restored = hasOriginalDst(receiving)
  const localAddress = restored ? input.originalDst : socketAddress
  const receivingStep = newStep('listener', 'matched', `${receiving.name} (${listenerAddressText(receiving)}) accepts the connection${restored ? `; original destination ${formatAddress(localAddress.ip, localAddress.port)} restored` : ''}.`, {
    chosen: listenerRef(receiving),
    decision: {
      socketAddress: formatAddress(socketAddress.ip, socketAddress.port),
      port: socketAddress.port,
      ...(input.delivered ? {} : { capturePort: socketAddress.port }),
      useOriginalDst: receiving.useOriginalDst,
      originalDstRestored: restored,
      listenerFilters: receiving.listenerFilters.map((f) => f.name),
      ...(input.delivered ? {} : { assumedCapture: true }),
    },
    evidence: [{ field: 'address', expected: listenerAddressText(receiving), actual: formatAddress(socketAddress.ip, socketAddress.port) }],
    rejected,
    findings,
  })
  steps.push(receivingStep)
  if (!receiving.useOriginalDst || !restored) {
    return { receiving, final: receiving, ran: [receiving], localAddress, restored, steps }
  }
  // Hand-off (ActiveTcpSocket::newConnection): exact ip:port, then the wildcard; stopped listeners ignored.
  const target = findListenerByAddress(model, localAddress.ip, localAddress.port, false)
  const orig = formatAddress(localAddress.ip, localAddress.port)
  const handRejected = rejectedOnPort(model, localAddress.port, localAddress.ip, target.listener, false)
  const handFindings = handRejected.filter((r) => r.reason === 'not-active').map((r) => envoyFinding('warming-listener', { listener: r.candidate.name, state: r.evidence[0]?.actual ?? '' }))
  if (!target.listener || target.listener === receiving) {
    steps.push(
      newStep('listener', 'matched', `${receiving.name} (${listenerAddressText(receiving)}, use_original_dst) keeps the connection: no listener for ${orig} or ${formatAddress(wildcardFor(localAddress.ip), localAddress.port)}.`, {
        chosen: listenerRef(receiving),
        decision: { handOff: false, originalDestination: orig },
        evidence: [{ field: 'listener for original destination', expected: `${orig} or ${formatAddress(wildcardFor(localAddress.ip), localAddress.port)}`, actual: '(none)' }],
        rejected: handRejected,
        findings: handFindings,
      }),
    )
    return { receiving, final: receiving, ran: [receiving], localAddress, restored, steps }
  }
  const final = target.listener
  const how = target.how === 'exact' ? `exact ${orig}` : `wildcard ${listenerAddressText(final)}; no exact ${orig} listener`
  steps.push(
    newStep('listener', 'matched', `${receiving.name} (${listenerAddressText(receiving)}, use_original_dst) hands off to ${final.name} (${how}).`, {
      chosen: listenerRef(final),
      decision: { handOff: true, from: receiving.name, lookup: target.how, originalDestination: orig, bindToPort: final.bindToPort, listenerFilters: final.listenerFilters.map((f) => f.name) },
      evidence: [{ field: 'original destination', expected: listenerAddressText(final), actual: orig }],
      rejected: handRejected,
      findings: handFindings,
    }),
  )
  return { receiving, final, ran: [receiving, final], localAddress, restored, steps }
}
