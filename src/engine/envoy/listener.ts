/**
 * Listener selection: the listener that accepts the socket, then the `use_original_dst` hand-off to the
 * listener of the original destination (exact ip:port, then the wildcard 0.0.0.0:port / [::]:port).
 */
import { memoPair } from '../memo.js'
import { copyStep, freezeAlternative, freezeStep, newStep, type Alternative, type ConfigRef, type Finding, type TraceStep } from '../trace/trace.js'
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
  const at = (addr: string): Listener[] => listenersAt(model, addr, port)
  const pick = (list: Listener[]): Listener | null => list.find((l) => isServing(l) && (!boundOnly || l.bindToPort)) ?? null
  const exact = pick(at(ip))
  if (exact) return { listener: exact, how: 'exact' }
  if (!isUnspecified(ip)) {
    const wild = pick(at(wildcardFor(ip)))
    if (wild) return { listener: wild, how: 'wildcard' }
    // A [::] listener with ipv4_compat also takes IPv4 connections.
    if (ipFamily(ip) === 'ipv4') {
      const compat = at('::').find((l) => isServing(l) && (!boundOnly || l.bindToPort) && l.address?.ipv4Compat === true)
      if (compat) return { listener: compat, how: 'wildcard' }
    }
  }
  return { listener: null, how: 'none' }
}

const NO_LISTENERS: Listener[] = []

/**
 * Serving listeners at one canonical IP and port (as `listenersByAddress` of the index), remembered per model as they
 * are looked up: a repeated lookup then needs no `ip|port` key string, and a first one parses only the listeners at
 * that address (the index parses listeners on first use).
 */
const LISTENERS_BY_IP = new WeakMap<EnvoyModel, Map<string, Map<number, Listener[]>>>()

function listenersAt(model: EnvoyModel, ip: string, port: number): Listener[] {
  let byIp = LISTENERS_BY_IP.get(model)
  if (byIp === undefined) LISTENERS_BY_IP.set(model, (byIp = new Map()))
  const canon = canonicalIp(ip)
  let byPort = byIp.get(canon)
  if (byPort === undefined) byIp.set(canon, (byPort = new Map()))
  let list = byPort.get(port)
  if (list === undefined) {
    list = (envoyIndex(model).listenersByAddress.get(addressKey(canon, port)) ?? NO_LISTENERS).filter(isServing)
    byPort.set(port, list)
  }
  return list
}

/** What the rejection of a listener on a port needs to know of it, worked out once per listener. */
interface PortFacts {
  ref: ConfigRef
  addressText: string
  /** The canonical IP of its address ('' without a socket address). */
  ip: string
  /** The family of its address when that is the unspecified address (0.0.0.0, ::), else null. */
  wildcardFamily: 'ipv4' | 'ipv6' | null
  /** The not-active / not-bound rejections, which do not depend on the connection. */
  notActive: Alternative
  notBound: Alternative
}

const PORT_FACTS = new WeakMap<Listener, PortFacts>()

function portFacts(l: Listener): PortFacts {
  let facts = PORT_FACTS.get(l)
  if (facts === undefined) {
    const ip = l.address ? canonicalIp(l.address.ip) : ''
    const ref = listenerRef(l)
    facts = {
      ref,
      addressText: listenerAddressText(l),
      ip,
      wildcardFamily: isUnspecified(ip) ? ipFamily(ip) : null,
      notActive: freezeAlternative({ candidate: ref, reason: 'not-active', evidence: [{ field: 'state', expected: 'active', actual: l.state }] }),
      notBound: freezeAlternative({ candidate: ref, reason: 'not-bound', evidence: [{ field: 'bind_to_port', expected: 'true (owns a socket)', actual: 'false' }] }),
    }
    PORT_FACTS.set(l, facts)
  }
  return facts
}

function rejectedOnPort(model: EnvoyModel, port: number, ip: string, chosen: Listener | null, boundOnly: boolean): Alternative[] {
  const out: Alternative[] = []
  const canon = canonicalIp(ip)
  const family = ipFamily(canon)
  let actual: string | undefined
  for (const l of listenersOnPort(model, port)) {
    if (l === chosen) continue
    const facts = portFacts(l)
    if (!isServing(l)) out.push(facts.notActive)
    else if (boundOnly && !l.bindToPort) out.push(facts.notBound)
    else {
      const mismatch = facts.ip !== canon && !(facts.wildcardFamily !== null && facts.wildcardFamily === family)
      if (!mismatch && !chosen) continue
      actual ??= formatAddress(ip, port)
      out.push({ candidate: facts.ref, reason: mismatch ? 'address-mismatch' : 'less-specific', evidence: [{ field: 'address', expected: facts.addressText, actual }] })
    }
  }
  return out
}

/** The names of a listener's listener filters, shared by every step that lists them. */
function filterNames(l: Listener): readonly string[] {
  let names = FILTER_NAMES.get(l)
  if (names === undefined) {
    names = Object.freeze(l.listenerFilters.map((f) => f.name))
    FILTER_NAMES.set(l, names)
  }
  return names
}

const FILTER_NAMES = new WeakMap<Listener, readonly string[]>()

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

/** The receiving listener's step, before the original destination (if restored) is known. */
interface Acceptance {
  receiving: Listener | null
  socketAddress: Endpoint
  restored: boolean
  step: TraceStep
  /** The matched summary up to "accepts the connection", for adding the restored destination. */
  summaryHead: string
}

/** Builds the receiving listener's step; `assumed` = no iptables said where the connection went. */
function acceptance(model: EnvoyModel, receiving: Listener | null, socketAddress: Endpoint, assumed: boolean, findings: Finding[]): Acceptance {
  const rejected = rejectedOnPort(model, socketAddress.port, socketAddress.ip, receiving, true)
  for (const r of rejected) if (r.reason === 'not-active') findings.push(envoyFinding('warming-listener', { listener: r.candidate.name, state: r.evidence[0]?.actual ?? '' }))
  const socketText = formatAddress(socketAddress.ip, socketAddress.port)
  if (!receiving) {
    const step = newStep('listener', 'no_match', `No active listener is bound to ${socketText}: the connection is refused.`, { decision: { socketAddress: socketText }, rejected, findings })
    return { receiving: null, socketAddress, restored: false, step, summaryHead: '' }
  }
  const restored = hasOriginalDst(receiving)
  const summaryHead = `${receiving.name} (${listenerAddressText(receiving)}) accepts the connection`
  const step = newStep('listener', 'matched', `${summaryHead}.`, {
    chosen: listenerRef(receiving),
    decision: {
      socketAddress: socketText,
      port: socketAddress.port,
      ...(assumed ? { capturePort: socketAddress.port } : {}),
      useOriginalDst: receiving.useOriginalDst,
      originalDstRestored: restored,
      listenerFilters: filterNames(receiving),
      ...(assumed ? { assumedCapture: true } : {}),
    },
    evidence: [{ field: 'address', expected: listenerAddressText(receiving), actual: socketText }],
    rejected,
    findings,
  })
  return { receiving, socketAddress, restored, step, summaryHead }
}

/** Per model and direction: the capture listener's acceptance, the same for every connection (null: no capture listener with an address). */
const CAPTURE_ACCEPTANCE = new WeakMap<EnvoyModel, { outbound?: Acceptance | null; inbound?: Acceptance | null }>()

function captureAcceptance(model: EnvoyModel, direction: 'outbound' | 'inbound'): Acceptance | null {
  let byDirection = CAPTURE_ACCEPTANCE.get(model)
  if (byDirection === undefined) {
    byDirection = {}
    CAPTURE_ACCEPTANCE.set(model, byDirection)
  }
  const cached = byDirection[direction]
  if (cached !== undefined) return cached
  const receiving = captureListener(model, direction)
  let acc: Acceptance | null = null
  if (receiving?.address) {
    const findings = [envoyFinding('assumed-capture-listener', { listener: receiving.name, address: listenerAddressText(receiving) })]
    acc = acceptance(model, receiving, { ip: receiving.address.ip, port: receiving.address.port }, true, findings)
    freezeStep(acc.step)
  }
  byDirection[direction] = acc
  return acc
}

/** The hand-off summary from one listener to another up to the original destination, for an exact and a wildcard match. */
interface HandOffWords {
  exact: string
  wildcard: string
}

const HAND_OFF_WORDS = new WeakMap<Listener, WeakMap<Listener, HandOffWords>>()

function handOffWords(receiving: Listener, final: Listener): HandOffWords {
  return memoPair(HAND_OFF_WORDS, receiving, final, buildHandOffWords)
}

function buildHandOffWords(receiving: Listener, final: Listener): HandOffWords {
  const head = `${receiving.name} (${listenerAddressText(receiving)}, use_original_dst) hands off to ${final.name} (`
  return { exact: `${head}exact `, wildcard: `${head}wildcard ${listenerAddressText(final)}; no exact ` }
}

/** Selects the receiving listener and performs the original-destination hand-off, with one step each. */
export function selectListener(model: EnvoyModel, input: ListenerInput): ListenerSelection {
  let acc = input.delivered ? null : captureAcceptance(model, input.direction)
  // The capture listener's step is shared: this trace gets its own copy.
  let receivingStep = acc === null ? null : copyStep(acc.step)
  if (acc === null) {
    // Delivered by iptables, or no capture listener (e.g. a gateway): the connection reaches the bound listener directly.
    const socketAddress = input.delivered ?? input.originalDst
    acc = acceptance(model, findListenerByAddress(model, socketAddress.ip, socketAddress.port, true).listener, socketAddress, !input.delivered, [])
    receivingStep = acc.step
  }
  const { receiving, socketAddress, restored } = acc
  const steps: TraceStep[] = [receivingStep as TraceStep]
  if (!receiving) return { receiving: null, final: null, ran: [], localAddress: socketAddress, restored: false, steps }
  const localAddress = restored ? input.originalDst : socketAddress
  const orig = formatAddress(localAddress.ip, localAddress.port)
  if (restored) steps[0].summary = `${acc.summaryHead}; original destination ${orig} restored.`
  if (!receiving.useOriginalDst || !restored) {
    return { receiving, final: receiving, ran: [receiving], localAddress, restored, steps }
  }
  // Hand-off (ActiveTcpSocket::newConnection): exact ip:port, then the wildcard; stopped listeners ignored.
  const target = findListenerByAddress(model, localAddress.ip, localAddress.port, false)
  const handRejected = rejectedOnPort(model, localAddress.port, localAddress.ip, target.listener, false)
  const handFindings: Finding[] = []
  for (const r of handRejected) if (r.reason === 'not-active') handFindings.push(envoyFinding('warming-listener', { listener: r.candidate.name, state: r.evidence[0]?.actual ?? '' }))
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
  const words = handOffWords(receiving, final)
  steps.push(
    newStep('listener', 'matched', target.how === 'exact' ? `${words.exact}${orig}).` : `${words.wildcard}${orig} listener).`, {
      chosen: listenerRef(final),
      decision: { handOff: true, from: receiving.name, lookup: target.how, originalDestination: orig, bindToPort: final.bindToPort, listenerFilters: filterNames(final) },
      evidence: [{ field: 'original destination', expected: listenerAddressText(final), actual: orig }],
      rejected: handRejected,
      findings: handFindings,
    }),
  )
  return { receiving, final, ran: [receiving, final], localAddress, restored, steps }
}
