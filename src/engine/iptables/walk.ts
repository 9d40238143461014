import type { Evidence, MismatchCode } from '../trace/trace.js'
import { evaluateMatch } from './matches.js'
import type { PacketView } from './matches.js'
import type { Chain, Rule, Table, Target } from './model.js'

/** A rule that was evaluated and did not decide, with why. */
export interface EvaluatedRule {
  rule: Rule
  reason: MismatchCode
  evidence: Evidence[]
}

/** A rule that held, with the jump rules that led to it (outermost first) and the evidence of each. */
export interface RuleHit {
  rule: Rule
  evidence: Evidence[]
  path: Array<{ rule: Rule; evidence: Evidence[]; entry: EvaluatedRule }>
  /** The chain names from the built-in chain to the rule's chain. */
  chainPath: string[]
  entry: EvaluatedRule
}

/** A non-terminating action that changed the packet (MARK, CONNMARK, CT) or only recorded it (LOG). */
export interface WalkAction {
  hit: RuleHit
  description: string
}

/** How one table's chain for one hook ended for the packet. */
export type WalkEnd =
  | { kind: 'terminal'; hit: RuleHit; target: Target }
  | { kind: 'policy'; policy: 'ACCEPT' | 'DROP'; chain: Chain | null; lastReturn?: RuleHit }
  | { kind: 'unresolved'; hit: RuleHit; construct: string }

/** The result of walking one (table, hook) for the packet: the end, every rule evaluated in order, and the actions done. */
export interface WalkResult {
  end: WalkEnd
  evaluated: EvaluatedRule[]
  actions: WalkAction[]
}

/** Packet fields the non-terminating targets can change, carried from one hook to the next. */
export interface MutableState {
  mark: number
  ctmark: number
  ctZone: number | null
  untracked: boolean
  /** A CT/NOTRACK rule already attached a conntrack template to this packet. */
  ctAttached: boolean
}

const hex = (n: number) => `0x${(n >>> 0).toString(16)}`

interface Frame {
  chain: Chain
  i: number
  path: RuleHit['path']
}

/** Hard limit against jump loops (iptables itself rejects loops at load time). */
const MAX_STEPS = 100000

/**
 * Walks the built-in chain `hook` of a table for one packet, following -j (push), -g (goto: no push),
 * RETURN and the chain policy as iptables(8) describes; non-terminating targets update `state` and continue.
 */
export function walkTable(table: Table, hook: string, packet: PacketView, state: MutableState): WalkResult {
  const evaluated: EvaluatedRule[] = []
  const actions: WalkAction[] = []
  const builtin = table.chains.get(hook)
  if (!builtin) return { end: { kind: 'policy', policy: 'ACCEPT', chain: null }, evaluated, actions }
  const frames: Frame[] = [{ chain: builtin, i: 0, path: [] }]
  let lastReturn: RuleHit | undefined
  const view = (): PacketView => ({ ...packet, mark: state.mark, ctmark: state.ctmark, ctstates: state.untracked ? ['UNTRACKED'] : packet.ctstates })
  const chainPathOf = (frame: Frame): string[] => [builtin.name, ...frame.path.map((p) => (p.rule.target as { chain: string }).chain)]
  // The packet as the matches see it; rebuilt only when a MARK, CONNMARK or CT target changes it.
  let pv = view()
  const policyEnd = (): WalkResult => ({
    end: { kind: 'policy', policy: builtin.policy ?? 'ACCEPT', chain: builtin, lastReturn },
    evaluated,
    actions,
  })
  for (let steps = 0; steps < MAX_STEPS; steps++) {
    const top = frames[frames.length - 1]
    if (top.i >= top.chain.rules.length) {
      if (frames.length === 1) return policyEnd()
      frames.pop()
      continue
    }
    const rule = top.chain.rules[top.i++]
    const evidence: Evidence[] = []
    let failed: EvaluatedRule | null = null
    for (const m of rule.matches) {
      const r = evaluateMatch(m, pv)
      if (r.kind === 'unresolved') {
        const entry = { rule, reason: 'other' as MismatchCode, evidence }
        return { end: { kind: 'unresolved', hit: { rule, evidence, path: top.path, chainPath: chainPathOf(top), entry }, construct: r.construct }, evaluated, actions }
      }
      if (r.kind === 'fail') {
        failed = { rule, reason: r.reason, evidence: [r.evidence] }
        break
      }
      evidence.push(r.evidence)
    }
    if (failed) {
      evaluated.push(failed)
      continue
    }
    const t = rule.target
    const entry: EvaluatedRule = { rule, reason: 'non-terminating', evidence }
    evaluated.push(entry)
    const hit: RuleHit = { rule, evidence, path: top.path, chainPath: chainPathOf(top), entry }
    if (!t) continue
    switch (t.kind) {
      case 'jump': {
        entry.reason = 'chain-returned'
        const target = table.chains.get(t.chain)
        if (!target) return { end: { kind: 'unresolved', hit, construct: `-j ${t.chain} (no such chain)` }, evaluated, actions }
        const frame: Frame = { chain: target, i: 0, path: [...top.path, { rule, evidence, entry }] }
        if (t.goto) frames[frames.length - 1] = frame
        else frames.push(frame)
        continue
      }
      case 'verdict':
        if (t.verdict === 'RETURN') {
          entry.reason = 'chain-returned'
          lastReturn = hit
          if (frames.length === 1) return policyEnd()
          frames.pop()
          continue
        }
        return { end: { kind: 'terminal', hit, target: t }, evaluated, actions }
      case 'redirect':
      case 'dnat':
      case 'snat':
      case 'tproxy':
        return { end: { kind: 'terminal', hit, target: t }, evaluated, actions }
      case 'mark': {
        state.mark = ((state.mark & ~t.mask) ^ t.value) >>> 0
        pv = view()
        actions.push({ hit, description: `sets the packet mark to ${hex(state.mark)} (MARK ${t.text})` })
        continue
      }
      case 'connmark': {
        if (t.mode === 'set') state.ctmark = ((state.ctmark & ~t.mask) ^ t.value) >>> 0
        // xt_CONNMARK: save: ct = (ct & ~ctmask) ^ (mark & nfmask); restore: mark = (mark & ~nfmask) ^ (ct & ctmask).
        else if (t.mode === 'save') state.ctmark = ((state.ctmark & ~t.ctmask) ^ (state.mark & t.nfmask)) >>> 0
        else state.mark = ((state.mark & ~t.nfmask) ^ (state.ctmark & t.ctmask)) >>> 0
        pv = view()
        actions.push({
          hit,
          description:
            t.mode === 'restore'
              ? `copies the connection mark into the packet mark (now ${hex(state.mark)})`
              : `sets the connection mark to ${hex(state.ctmark)} (CONNMARK ${t.mode === 'save' ? '--save-mark' : '--set-xmark'})`,
        })
        continue
      }
      case 'ct': {
        // xt_CT: a packet that already carries a conntrack template (an earlier CT rule) is left alone; the first CT wins.
        if (state.ctAttached) {
          entry.reason = 'non-terminating'
          continue
        }
        state.ctAttached = true
        if (t.zone !== undefined) state.ctZone = t.zone
        if (t.notrack) state.untracked = true
        pv = view()
        actions.push({ hit, description: t.notrack ? 'turns connection tracking off for the packet (NOTRACK): nat will not see it' : `puts the connection in conntrack zone ${t.zone ?? '?'}` })
        continue
      }
      case 'log':
        actions.push({ hit, description: `logs the packet (${t.name}) and continues` })
        continue
      case 'unknown':
        return { end: { kind: 'unresolved', hit, construct: `-j ${t.name}${t.options.length ? ' ' + t.options.join(' ') : ''}` }, evaluated, actions }
    }
  }
  const top = frames[frames.length - 1]
  const rule = top.chain.rules[Math.max(0, top.i - 1)]
  const entry = { rule, reason: 'other' as MismatchCode, evidence: [] }
  return { end: { kind: 'unresolved', hit: { rule, evidence: [], path: top.path, chainPath: [], entry }, construct: 'a jump loop' }, evaluated, actions }
}
