import type { Family } from './cidr.js'
import { BUILTIN_CHAINS } from './model.js'
import type { Chain, Rule, Ruleset, Table } from './model.js'
import { IptablesParseError, RuleSpecError } from './parse-error.js'
import { parseRuleSpec } from './parse-rule.js'
import { tokenizeRuleLine } from './rule-tokens.js'

/** One input line with its 1-based number in the text given to the parser. */
export interface SourceLine {
  text: string
  line: number
}

/** Rules of one family assembled from table blocks or commands, applied in order like iptables-restore --noflush. */
export class RulesetBuilder {
  readonly family: Family
  readonly file: string
  readonly tables = new Map<string, Table>()
  readonly notes: string[] = []
  /** In lenient mode (logs) a bad line is recorded here instead of thrown. */
  readonly failures: IptablesParseError[] = []
  private readonly lenient: boolean

  constructor(family: Family, file: string, lenient = false) {
    this.family = family
    this.file = file
    this.lenient = lenient
  }

  /** Reports a problem: throws in strict mode, records it in lenient mode. */
  fail(src: SourceLine, code: string, reason: string): void {
    const err = new IptablesParseError(this.file, src.line, src.text.trim(), code, reason)
    if (!this.lenient) throw err
    this.failures.push(err)
  }

  /** The table, created with its built-in chains (policy ACCEPT) on first use. */
  table(name: string): Table {
    let t = this.tables.get(name)
    if (!t) {
      t = { name, chains: new Map() }
      for (const hook of BUILTIN_CHAINS[name] ?? []) t.chains.set(hook, { name: hook, policy: 'ACCEPT', line: 0, rules: [] })
      this.tables.set(name, t)
    }
    return t
  }

  /** `:CHAIN POLICY [p:b]` of a save dump (or restore input). */
  declareChain(tableName: string, name: string, policy: string, src: SourceLine): void {
    const t = this.table(tableName)
    const existing = t.chains.get(name)
    const isBuiltin = (BUILTIN_CHAINS[tableName] ?? []).includes(name as never)
    if (policy !== '-' && policy !== 'ACCEPT' && policy !== 'DROP') return this.fail(src, 'invalid-policy', `policy ${policy} is not ACCEPT or DROP`)
    const pol = policy === '-' ? null : (policy as 'ACCEPT' | 'DROP')
    if (existing) {
      existing.line = src.line
      if (isBuiltin && pol) existing.policy = pol
      return
    }
    t.chains.set(name, { name, policy: isBuiltin ? (pol ?? 'ACCEPT') : null, line: src.line, rules: [] })
  }

  /** Applies one `-A/-I/-N/-P/-F/-X/-D/-R/-Z` command (already split into words) to a table. */
  apply(tableName: string, words: string[], src: SourceLine, counters?: { packets: number; bytes: number }): void {
    const t = this.table(tableName)
    const [cmd, chainName, ...rest] = words
    const chain = chainName === undefined ? undefined : t.chains.get(chainName)
    const needChain = (): Chain | undefined => {
      if (chainName === undefined) {
        this.fail(src, 'missing-argument', `${cmd} needs a chain name`)
        return undefined
      }
      if (!chain) {
        this.fail(src, 'unknown-chain', `chain ${chainName} does not exist in table ${tableName}`)
        return undefined
      }
      return chain
    }
    switch (cmd) {
      case '-A':
      case '--append':
      case '-I':
      case '--insert':
      case '-R':
      case '--replace': {
        const c = needChain()
        if (!c) return
        let specWords = rest
        let pos = cmd === '-A' || cmd === '--append' ? c.rules.length + 1 : 1
        if (cmd !== '-A' && cmd !== '--append' && /^\d+$/.test(rest[0] ?? '')) {
          pos = Number(rest[0])
          specWords = rest.slice(1)
        } else if (cmd === '-R' || cmd === '--replace') return this.fail(src, 'missing-argument', '-R needs a rule number')
        const limit = cmd === '-R' || cmd === '--replace' ? c.rules.length : c.rules.length + 1
        if (pos < 1 || pos > limit) return this.fail(src, 'invalid-rule-number', `rule number ${pos} is outside chain ${c.name} (${c.rules.length} rules)`)
        let spec
        try {
          spec = parseRuleSpec(specWords, this.family)
        } catch (e) {
          if (e instanceof RuleSpecError) return this.fail(src, e.code, e.message)
          throw e
        }
        const rule: Rule = { chain: c.name, index: 0, line: src.line, text: src.text.trim(), matches: spec.matches }
        if (spec.target) rule.target = spec.target
        const cnt = counters ?? spec.counters
        if (cnt) rule.counters = cnt
        if (cmd === '-R' || cmd === '--replace') c.rules.splice(pos - 1, 1, rule)
        else c.rules.splice(pos - 1, 0, rule)
        return
      }
      case '-N':
      case '--new-chain':
      case '--new': {
        if (chainName === undefined) return this.fail(src, 'missing-argument', '-N needs a chain name')
        if (chain) {
          this.notes.push(`Line ${src.line} creates chain ${chainName}, which already exists (iptables: "Chain already exists"); it is kept as it was.`)
          return
        }
        t.chains.set(chainName, { name: chainName, policy: null, line: src.line, rules: [] })
        return
      }
      case '-P':
      case '--policy': {
        const c = needChain()
        if (!c) return
        const p = rest[0]
        if (p !== 'ACCEPT' && p !== 'DROP') return this.fail(src, 'invalid-policy', `policy ${p ?? '(none)'} is not ACCEPT or DROP`)
        c.policy = p
        return
      }
      case '-F':
      case '--flush':
        if (chainName === undefined) for (const c of t.chains.values()) c.rules = []
        else {
          const c = needChain()
          if (c) c.rules = []
        }
        return
      case '-X':
      case '--delete-chain':
        if (chainName === undefined) {
          for (const [n, c] of t.chains) if (c.policy === null) t.chains.delete(n)
        } else if (needChain()) t.chains.delete(chainName)
        return
      case '-D':
      case '--delete': {
        const c = needChain()
        if (!c) return
        if (rest.length === 1 && /^\d+$/.test(rest[0])) {
          const n = Number(rest[0])
          if (n < 1 || n > c.rules.length) return this.fail(src, 'invalid-rule-number', `rule number ${n} is outside chain ${c.name}`)
          c.rules.splice(n - 1, 1)
          return
        }
        const key = rest.join(' ')
        const at = c.rules.findIndex((r) => ruleSpecKey(r.text) === key)
        if (at < 0) this.notes.push(`Line ${src.line} deletes a rule that is not in chain ${c.name}; nothing changed.`)
        else c.rules.splice(at, 1)
        return
      }
      case '-Z':
      case '--zero':
        return
      default:
        return this.fail(src, 'unexpected-line', `${cmd ?? '(nothing)'} is not an iptables command`)
    }
  }

  /** Applies a rule line inside a table block: `-A …`, `[p:b] -A …`, `-N …`. */
  applyLine(tableName: string, src: SourceLine): void {
    let text = src.text.trim()
    let counters: { packets: number; bytes: number } | undefined
    const m = /^\[(\d+):(\d+)\]\s+/.exec(text)
    if (m) {
      counters = { packets: Number(m[1]), bytes: Number(m[2]) }
      text = text.slice(m[0].length)
    }
    let words: string[]
    try {
      words = tokenizeRuleLine(text)
    } catch (e) {
      if (e instanceof RuleSpecError) return this.fail(src, e.code, e.message)
      throw e
    }
    this.apply(tableName, words, src, counters)
  }

  /** Numbers rules, checks that every jump names a chain, and returns the ruleset. */
  finish(form: Ruleset['form']): Ruleset {
    for (const t of this.tables.values()) {
      for (const c of t.chains.values()) {
        c.rules.forEach((r, i) => (r.index = i + 1))
        for (const r of c.rules) {
          if (r.target?.kind === 'jump' && !t.chains.has(r.target.chain)) {
            this.fail({ text: r.text, line: r.line }, 'unknown-chain', `the target ${r.target.chain} is neither a chain of table ${t.name} nor a known target`)
            r.target = { kind: 'unknown', name: r.target.chain, options: [] }
          }
        }
        if (c.line === 0 && c.rules.length > 0) c.line = c.rules[0].line
      }
    }
    return { family: this.family, form, file: this.file, tables: this.tables, notes: this.notes }
  }
}

/** The rule spec of a saved rule line without `-A CHAIN`, used to find a rule named by `-D CHAIN spec`. */
function ruleSpecKey(text: string): string {
  return text.replace(/^\[\d+:\d+\]\s+/, '').replace(/^-A\s+\S+\s+/, '')
}
