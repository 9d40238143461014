import type { ConfigRef, Evidence, MismatchCode } from '../trace/trace.js'
import { FAILS, HOLDS, UNRESOLVED, compileActual, matchEvidence, matchTest, unresolvedConstruct, withMarks } from './matches.js'
import type { ActualReader, MatchTest, PacketView, Verdict } from './matches.js'
import type { Chain, Rule, Table, Target } from './model.js'

/**
 * A rule the walk evaluated whose matches held (or one could not be decided), with why it did not decide. Evidence is
 * not built during the walk (most passes are never shown); ruleEvidence() builds it from the packet the rule saw.
 * Rules that failed are kept in the walk's trail without an object of their own.
 */
export interface EvaluatedRule {
  rule: Rule
  compiled: CompiledRule
  reason: MismatchCode
  /** The packet as this rule saw it. */
  packet: PacketView
  /** How many leading matches held. */
  held: number
}

/** A rule with its compiled match tests (and, once a step has named it, its ConfigRef). */
export interface CompiledRule {
  rule: Rule
  /** `CHAIN #index`, as steps name the rule. */
  name: string
  tests: MatchTest[]
  /** What each match's evidence shows the packet had. */
  actuals: ActualReader[]
  /** Cached by the explainer: a rule's reference never changes. */
  ref?: ConfigRef
  /** Cached by the explainer: what each match tests and expects, as its evidence words it (by match index). */
  labels?: Array<{ field: string; expected: string; reason: MismatchCode } | undefined>
}

/** `CHAIN #index`: how steps name a rule. */
export function ruleName(r: Rule): string {
  return `${r.chain} #${r.index}`
}

const COMPILED_CHAINS = new WeakMap<Chain, CompiledRule[]>()

/** The compiled rules of a chain, compiled once (a parsed ruleset is read-only). */
export function compiledRules(chain: Chain): CompiledRule[] {
  let rules = COMPILED_CHAINS.get(chain)
  if (rules === undefined) {
    rules = chain.rules.map((rule) => ({ rule, name: ruleName(rule), tests: rule.matches.map(matchTest), actuals: rule.matches.map(compileActual), ref: undefined, labels: undefined }))
    COMPILED_CHAINS.set(chain, rules)
  }
  return rules
}

const MAY_ACT = new WeakMap<Table, Map<string, boolean>>()

/**
 * Whether walking `hook` of a table can do anything to a packet of `protocol`: some rule that can match it has a
 * target other than RETURN or a jump into a chain of the same kind, or a match the simulator cannot decide comes
 * before any protocol test that rules the packet out, or the policy drops. When it cannot, the walk would only
 * evaluate rules that fail or return, so a pass that is not shown skips it (the Istio raw rules are all `-p udp`:
 * a TCP connection never needs them). Computed once per table, hook and protocol.
 */
export function hookMayAct(table: Table, hook: string, protocol: 'tcp' | 'udp'): boolean {
  let memo = MAY_ACT.get(table)
  if (memo === undefined) MAY_ACT.set(table, (memo = new Map()))
  const key = `${hook}/${protocol}`
  const known = memo.get(key)
  if (known !== undefined) return known
  const probe = { protocol } as PacketView
  const visiting = new Set<string>()
  const ruleMayMatch = (rule: Rule): boolean | 'unresolved' => {
    for (const m of rule.matches) {
      if (m.kind === 'protocol') {
        if (matchTest(m)(probe) === FAILS) return false
      } else if (m.kind === 'unknown' || (m.kind === 'owner' && m.name !== undefined)) return 'unresolved'
    }
    return true
  }
  const chainMayAct = (name: string): boolean => {
    const chain = table.chains.get(name)
    // A missing chain or a loop: the walk reports it, so it must run.
    if (!chain || visiting.has(name)) return true
    visiting.add(name)
    for (const rule of chain.rules) {
      const may = ruleMayMatch(rule)
      if (may === 'unresolved') return true
      if (!may || !rule.target) continue
      const t = rule.target
      if (t.kind === 'verdict' && t.verdict === 'RETURN') continue
      if (t.kind === 'jump' && !chainMayAct(t.chain)) continue
      return true
    }
    visiting.delete(name)
    return false
  }
  const builtin = table.chains.get(hook)
  const result = builtin !== undefined && (builtin.policy === 'DROP' || chainMayAct(hook))
  memo.set(key, result)
  return result
}

/** A rule that held, with the jump rules that led to it (outermost first). */
export interface RuleHit {
  rule: Rule
  entry: EvaluatedRule
  path: Array<{ rule: Rule; entry: EvaluatedRule }>
  /** The built-in chain the walk started in. */
  hook: string
}

/** The evidence of an evaluated rule: that of every match that held. */
export function ruleEvidence(e: EvaluatedRule): Evidence[] {
  const ms = e.rule.matches
  const out: Evidence[] = []
  for (let i = 0; i < e.held; i++) out.push(matchEvidence(ms[i], e.packet))
  return out
}

/** The chain names from the built-in chain to the hit rule's chain. */
export function chainPathOf(hit: RuleHit): string[] {
  const out = [hit.hook]
  for (const p of hit.path) out.push((p.rule.target as { chain: string }).chain)
  return out
}

/** The names (`CHAIN #index`) of the jump rules that led to a hit, outermost first. */
export function pathRuleNames(hit: RuleHit): string[] {
  const out: string[] = []
  for (const p of hit.path) out.push(p.entry.compiled.name)
  return out
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
  /**
   * Every rule evaluated, in order, as flat triplets: a rule that failed is (its CompiledRule, the index of the failing
   * match, the packet it saw); a rule that held is (its EvaluatedRule, -1, null). Flat, because a decision pass fails
   * dozens of rules and an object for each cost more than the walk. Read it with forEachEvaluated.
   */
  trail: Array<CompiledRule | EvaluatedRule | number | PacketView | null>
  actions: WalkAction[]
}

/** Calls `failed` or `held` for every rule of a walk's trail, in evaluation order. */
export function forEachEvaluated(walk: WalkResult, failed: (compiled: CompiledRule, at: number, packet: PacketView) => void, held: (entry: EvaluatedRule) => void): void {
  const t = walk.trail
  for (let i = 0; i < t.length; i += 3) {
    const at = t[i + 1] as number
    if (at < 0) held(t[i] as EvaluatedRule)
    else failed(t[i] as CompiledRule, at, t[i + 2] as PacketView)
  }
}

/** How many rules a walk's trail holds. */
export function evaluatedCount(walk: WalkResult): number {
  return walk.trail.length / 3
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
  rules: CompiledRule[]
  i: number
  path: RuleHit['path']
}

/** Hard limit against jump loops (iptables itself rejects loops at load time). */
const MAX_STEPS = 100000

/**
 * Walks the built-in chain `hook` of a table for one packet, following -j (push), -g (goto: no push),
 * RETURN and the chain policy as iptables(8) describes; non-terminating targets update `state` and continue.
 * `record: false` leaves the trail empty (for passes that are not shown; a walk is
 * deterministic, so the caller walks again with a copy of the state when it does need the explanation).
 */
export function walkTable(table: Table, hook: string, packet: PacketView, state: MutableState, record = true): WalkResult {
  const trail: WalkResult['trail'] = []
  const actions: WalkAction[] = []
  const builtin = table.chains.get(hook)
  if (!builtin) return { end: { kind: 'policy', policy: 'ACCEPT', chain: null }, trail, actions }
  const frames: Frame[] = [{ chain: builtin, rules: compiledRules(builtin), i: 0, path: [] }]
  let lastReturn: RuleHit | undefined
  const view = (): PacketView => withMarks(packet, state.mark, state.ctmark, state.untracked ? UNTRACKED_STATES : packet.ctstates)
  // The packet as the matches see it; copied only when a MARK, CONNMARK or CT target changes what they see.
  let pv = packet.mark === state.mark && packet.ctmark === state.ctmark && !state.untracked ? packet : view()
  const policyEnd = (): WalkResult => ({
    end: { kind: 'policy', policy: builtin.policy ?? 'ACCEPT', chain: builtin, lastReturn },
    trail,
    actions,
  })
  for (let steps = 0; steps < MAX_STEPS; steps++) {
    const top = frames[frames.length - 1]
    if (top.i >= top.rules.length) {
      if (frames.length === 1) return policyEnd()
      frames.pop()
      continue
    }
    const compiled = top.rules[top.i++]
    const rule = compiled.rule
    const tests = compiled.tests
    let held = 0
    let v: Verdict = HOLDS
    for (; held < tests.length; held++) {
      v = tests[held](pv)
      if (v !== HOLDS) break
    }
    if (v === UNRESOLVED) {
      const entry: EvaluatedRule = { rule, compiled, reason: 'other', packet: pv, held }
      return { end: { kind: 'unresolved', hit: { rule, entry, path: top.path, hook }, construct: unresolvedConstruct(rule.matches[held]) }, trail, actions }
    }
    if (v === FAILS) {
      if (record) trail.push(compiled, held, pv)
      continue
    }
    const t = rule.target
    const entry: EvaluatedRule = { rule, compiled, reason: 'non-terminating', packet: pv, held }
    if (record) trail.push(entry, -1, null)
    if (!t) continue
    const hit: RuleHit = { rule, entry, path: top.path, hook }
    switch (t.kind) {
      case 'jump': {
        entry.reason = 'chain-returned'
        const target = table.chains.get(t.chain)
        if (!target) return { end: { kind: 'unresolved', hit, construct: `-j ${t.chain} (no such chain)` }, trail, actions }
        const frame: Frame = { chain: target, rules: compiledRules(target), i: 0, path: [...top.path, { rule, entry }] }
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
        return { end: { kind: 'terminal', hit, target: t }, trail, actions }
      case 'redirect':
      case 'dnat':
      case 'snat':
      case 'tproxy':
        return { end: { kind: 'terminal', hit, target: t }, trail, actions }
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
        return { end: { kind: 'unresolved', hit, construct: `-j ${t.name}${t.options.length ? ' ' + t.options.join(' ') : ''}` }, trail, actions }
    }
  }
  // A jump loop: report the rule the walk was at (the path is left out; it would be the loop itself).
  const top = frames[frames.length - 1]
  const compiled = top.rules[Math.max(0, top.i - 1)]
  const rule = compiled.rule
  const entry: EvaluatedRule = { rule, compiled, reason: 'other', packet: pv, held: 0 }
  return { end: { kind: 'unresolved', hit: { rule, entry, path: [], hook }, construct: 'a jump loop' }, trail, actions }
}

const UNTRACKED_STATES = ['UNTRACKED']
