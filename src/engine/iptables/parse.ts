import type { Family } from './cidr.js'
import { isInitLog, isLogError, normalizeLogLines } from './init-log.js'
import type { LogLine } from './init-log.js'
import type { Ruleset } from './model.js'
import { IptablesParseError, RuleSpecError } from './parse-error.js'
import { RulesetBuilder } from './ruleset-builder.js'
import type { SourceLine } from './ruleset-builder.js'
import { tokenizeRuleLine } from './rule-tokens.js'

/** The rule model, re-exported so callers import parse results from one place. */
export type {
  Chain,
  Match,
  Rule,
  Ruleset,
  Table,
  Target,
} from './model.js'
/** Thrown for a bare rules file that does not parse (names file:line and quotes the line). */
export { IptablesParseError } from './parse-error.js'

/** The IPv4 and IPv6 rules found in one input. */
export interface ParsedRules {
  v4?: Ruleset
  v6?: Ruleset
}

const TABLES = new Set(['raw', 'mangle', 'nat', 'filter', 'security'])
const COMMAND_LINE = /^(?:\S*\/)?(ip6?tables)(?:-legacy|-nft)?\s+(-.*)$/
const TOOL_CALL = /^(?:\S*\/)?(ip6?tables)(?:-legacy|-nft)?-(save|restore)(\s.*)?$/
const NFT_TABLE = /^\s*table\s+(inet|ip|ip6|arp|bridge|netdev)\s+\S+\s*\{/
const NFT_SCRIPT = /^\s*(add|flush|insert|create)\s+(table|chain|rule)\s+(inet|ip|ip6)\s/

interface Block {
  table: string
  kind: 'save' | 'restore'
  family: Family
  /** How the family was decided, for the notes. */
  familyFrom: 'header' | 'marker' | 'position' | 'addresses'
  start: SourceLine
  lines: SourceLine[]
  committed: boolean
  /** Blocks of one iptables-save call or one iptables-restore input share a group. */
  group: number
  failed?: SourceLine
}

interface CommandEntry {
  family: Family
  table: string
  words: string[]
  src: SourceLine
  failed?: SourceLine
}

function familyOf(tool: string): Family {
  return tool.startsWith('ip6') ? 'ipv6' : 'ipv4'
}

function otherFamily(f: Family): Family {
  return f === 'ipv4' ? 'ipv6' : 'ipv4'
}

/** The family the addresses in a block's rules belong to, if they say. */
function familyFromAddresses(lines: SourceLine[]): Family | null {
  let v4 = false
  let v6 = false
  for (const l of lines) {
    for (const m of l.text.matchAll(/(?:^|\s)(?:-s|-d|--source|--destination|--to-destination|--on-ip)\s+(\S+)/g)) {
      if (m[1].includes(':') && !/^\d+\.\d+\.\d+\.\d+:\d+/.test(m[1])) v6 = true
      else if (/^\d+\.\d+\.\d+\.\d+/.test(m[1])) v4 = true
    }
  }
  if (v4 === v6) return null
  return v6 ? 'ipv6' : 'ipv4'
}

function nftRuleset(family: Family, file: string, line: number): Ruleset {
  return {
    family,
    form: 'save',
    file,
    tables: new Map(),
    unsupported: {
      kind: 'nftables',
      message: `This is an nftables ruleset (line ${line}), which mesh-trace does not simulate; Istio's native nftables mode is invisible to iptables-save. Give the output of iptables-save instead if the pod uses iptables.`,
    },
    notes: [],
  }
}

/**
 * Parses iptables rules in any form mesh-trace meets: iptables-save output (with or without counters),
 * iptables-restore input, a list of `iptables …` commands, or a whole istio-init container log of any era.
 * IPv4 and IPv6 are kept apart. nftables rulesets come back marked unsupported; ambient-mode rules are
 * recognised and marked unsupported too. Throws IptablesParseError for a bare rules file that does not parse;
 * problems inside a log instead make the result `partial` with a note quoting the failing line.
 */
export function parseRules(text: string, file = 'iptables-save'): ParsedRules {
  const lines = normalizeLogLines(text)
  const nft = lines.find((l) => NFT_TABLE.test(l.text) || NFT_SCRIPT.test(l.text))
  if (nft && !lines.some((l) => /^\*\s*\w+\s*$/.test(l.text.trim()))) {
    const fams = new Set(lines.map((l) => /^\s*(?:add\s+)?table\s+(inet|ip6?)\b/.exec(l.text)?.[1]).filter(Boolean))
    const out: ParsedRules = {}
    if (fams.has('inet') || fams.has('ip') || fams.size === 0) out.v4 = nftRuleset('ipv4', file, nft.line)
    if (fams.has('inet') || fams.has('ip6')) out.v6 = nftRuleset('ipv6', file, nft.line)
    return out
  }
  const lenient = isInitLog(lines)
  return parseLines(lines, file, lenient)
}

function parseLines(lines: LogLine[], file: string, lenient: boolean): ParsedRules {
  const blocks: Block[] = []
  const commands: CommandEntry[] = []
  const errors: SourceLine[] = []
  const strictFail = (src: SourceLine, code: string, reason: string): never => {
    throw new IptablesParseError(file, src.line, src.text.trim(), code, reason)
  }
  let legacyHidden = false
  let group = 0
  // Family signals: a save marker/header applies to the next save blocks, a restore marker to restore blocks.
  let saveSignal: { family: Family; from: 'header' | 'marker' } | null = null
  let restoreSignal: Family | null = null
  let current: Block | null = null
  const st: {
    lastSave: { family: Family; tables: Set<string>; group: number } | null
    lastRestore: { family: Family; tables: Set<string>; group: number; signalled: boolean } | null
  } = { lastSave: null, lastRestore: null }
  let pendingHeader = false
  /** The last log line that was neither blank nor an error, to tie an error to the command it follows. */
  let lastSignificantLine = 0

  for (const l of lines) {
    const t = l.text.trim()
    if (current) {
      if (t === 'COMMIT') {
        current.committed = true
        current = null
        continue
      }
      if (t === '' || t.startsWith('#')) continue
      if (/^:\S+\s+\S+/.test(t) || /^(\[\d+:\d+\]\s+)?-[A-Za-z]\s/.test(t) || /^(\[\d+:\d+\]\s+)?--[a-z-]+\s/.test(t)) {
        if (t.startsWith(':')) current.kind = 'save'
        current.lines.push({ text: l.text, line: l.line })
        continue
      }
      if (!lenient) strictFail(l, 'unexpected-line', 'this line is not a rule, a chain declaration or COMMIT')
      // In a log, the block was cut off by something else (an error, the next log record).
      if (isLogError(t)) {
        current.failed = l
        errors.push(l)
      }
      current = null
      if (!isLogError(t)) {
        // fall through to interpret the line below
      } else continue
    }
    if (t === '') continue
    if (t.startsWith('#')) {
      const gen = /^# Generated by (ip6?tables)(?:-legacy|-nft)?-save/.exec(t)
      if (gen) {
        saveSignal = { family: familyOf(gen[1]), from: 'header' }
        pendingHeader = true
      }
      if (/iptables-legacy tables present/.test(t)) legacyHidden = true
      continue
    }
    const tableStart = /^\*\s*(\S+)\s*$/.exec(t)
    if (tableStart) {
      const table = tableStart[1]
      if (!TABLES.has(table)) {
        if (!lenient) strictFail(l, 'unknown-table', `${table} is not an iptables table`)
        errors.push(l)
        continue
      }
      const spaced = /^\*\s/.test(t)
      const kind: Block['kind'] = !spaced && (saveSignal !== null || pendingHeader) ? 'save' : 'restore'
      let family: Family
      let from: Block['familyFrom']
      if (kind === 'save') {
        family = saveSignal?.family ?? st.lastSave?.family ?? 'ipv4'
        from = saveSignal?.from ?? 'position'
        if (!st.lastSave || st.lastSave.family !== family || st.lastSave.tables.has(table)) {
          group++
          st.lastSave = { family, tables: new Set(), group }
        }
        pendingHeader = false
        st.lastSave.tables.add(table)
      } else {
        if (restoreSignal !== null && (!st.lastRestore || !st.lastRestore.signalled || st.lastRestore.family !== restoreSignal)) {
          group++
          st.lastRestore = { family: restoreSignal, tables: new Set(), group, signalled: true }
        } else if (!st.lastRestore || st.lastRestore.tables.has(table)) {
          const prev: Family | null = st.lastRestore ? st.lastRestore.family : null
          const fam: Family = prev === null ? 'ipv4' : st.lastRestore!.signalled ? prev : otherFamily(prev)
          group++
          st.lastRestore = { family: fam, tables: new Set(), group, signalled: false }
        }
        st.lastRestore.tables.add(table)
        family = st.lastRestore.family
        from = st.lastRestore.signalled ? 'marker' : 'position'
      }
      current = { table, kind, family, familyFrom: from, start: l, lines: [], committed: false, group: kind === 'save' ? st.lastSave!.group : st.lastRestore!.group }
      blocks.push(current)
      continue
    }
    const fin = /Final (?:ip6?tables|iptables) state \((IPv4|IPv6)\)/i.exec(t)
    if (fin) {
      saveSignal = { family: fin[1] === 'IPv6' ? 'ipv6' : 'ipv4', from: 'marker' }
      st.lastSave = null
      continue
    }
    const writing = /Writing following contents to rules file:\s*(\S+)/.exec(t)
    if (writing) {
      restoreSignal = /ip6tables/.test(writing[1]) ? 'ipv6' : 'ipv4'
      st.lastRestore = null
      continue
    }
    const running = /Running (?:(ip6?tables)(?:-legacy|-nft)?-restore|iptables restore with:?\s*(\S+))/.exec(t)
    if (running) {
      restoreSignal = familyOf(running[1] ?? running[2] ?? 'iptables')
      st.lastRestore = null
      continue
    }
    const tool = TOOL_CALL.exec(t)
    if (tool) {
      if (tool[2] === 'save' && lenient) {
        saveSignal = { family: familyOf(tool[1]), from: 'marker' }
        st.lastSave = null
      }
      if (tool[2] === 'restore' && lenient) restoreSignal = null
      continue
    }
    const cmd = COMMAND_LINE.exec(t)
    if (cmd) {
      let words: string[]
      try {
        words = tokenizeRuleLine(cmd[2])
      } catch (e) {
        if (!lenient && e instanceof RuleSpecError) strictFail(l, e.code, e.message)
        errors.push(l)
        continue
      }
      let table = 'filter'
      const rest: string[] = []
      for (let i = 0; i < words.length; i++) {
        const w = words[i]
        if (w === '-t' || w === '--table') table = words[++i] ?? ''
        else if (/^-t\w+$/.test(w)) table = w.slice(2)
        else if (w === '-w' || w === '--wait') {
          if (/^\d+(\.\d+)?$/.test(words[i + 1] ?? '')) i++
        } else if (w === '-W' || w === '--wait-interval') i++
        else rest.push(w)
      }
      if (!TABLES.has(table)) {
        if (!lenient) strictFail(l, 'unknown-table', `${table} is not an iptables table`)
        errors.push(l)
        continue
      }
      // Listing commands (`iptables -t nat -L`) change nothing.
      if (/^(-L|--list|-S|--list-rules|-n|-v|-C|--check)$/.test(rest[0] ?? '')) continue
      commands.push({ family: familyOf(cmd[1]), table, words: rest, src: { text: t, line: l.line } })
      lastSignificantLine = l.line
      continue
    }
    if (lenient) {
      if (isLogError(t)) {
        const last = commands[commands.length - 1]
        const afterCommand = last !== undefined && last.src.line === lastSignificantLine
        if (afterCommand) last.failed = l
        // istio-iptables.sh first deletes and flushes its old chains; those commands fail on a fresh pod, harmlessly.
        const cleanup = afterCommand && /^(-[DFXZ]|--delete|--flush|--delete-chain|--zero)$/.test(last.words[0] ?? '')
        if (!cleanup) errors.push(l)
        const lastBlock = blocks[blocks.length - 1]
        if (lastBlock && lastBlock.kind === 'restore' && /line \d+ failed/.test(t)) for (const b of blocks) if (b.group === lastBlock.group) b.failed = l
      }
      if (!isLogError(t) && !/^Try `/.test(t)) lastSignificantLine = l.line
      continue
    }
    if (/^(ip|ip6) /.test(t) || /^ip -f/.test(t)) continue
    strictFail(l, 'unexpected-line', 'this line is neither iptables-save output, iptables-restore input nor an iptables command')
  }
  if (current) {
    if (!lenient) strictFail(current.start, 'missing-commit', `table ${current.table} has no COMMIT line`)
  }
  return assemble(blocks, commands, errors, file, lenient, legacyHidden)
}

function assemble(blocks: Block[], commands: CommandEntry[], errors: SourceLine[], file: string, lenient: boolean, legacyHidden: boolean): ParsedRules {
  // A block whose addresses contradict its guessed family belongs to the other family.
  for (const b of blocks) {
    if (b.familyFrom === 'header') continue
    const byAddr = familyFromAddresses(b.lines)
    if (byAddr && byAddr !== b.family) {
      for (const o of blocks) if (o.group === b.group) o.family = byAddr
    }
  }
  const out: ParsedRules = {}
  for (const family of ['ipv4', 'ipv6'] as const) {
    const fb = blocks.filter((b) => b.family === family)
    const fc = commands.filter((c) => c.family === family)
    if (fb.length === 0 && fc.length === 0) continue
    const b = new RulesetBuilder(family, file, lenient)
    const saves = fb.filter((x) => x.kind === 'save')
    let form: Ruleset['form']
    if (saves.length > 0) {
      const lastGroup = saves[saves.length - 1].group
      const dump = saves.filter((x) => x.group === lastGroup)
      for (const blk of dump) applyBlock(b, blk)
      form = 'save'
      const groups = new Set(saves.map((x) => x.group))
      if (groups.size > 1) b.notes.push(`The input holds ${groups.size} ${family === 'ipv4' ? 'iptables' : 'ip6tables'}-save dumps; the last one (line ${dump[0].start.line}) is used.`)
      if (fb.some((x) => x.kind === 'restore') || fc.length > 0) b.notes.push('The input also holds the rules as they were written (iptables-restore input or commands); the iptables-save output, which is the final state, is used instead.')
    } else {
      const restores = fb.filter((x) => x.kind === 'restore')
      // Apply restore blocks and commands in input order, like iptables-restore --noflush and the shell would.
      const events = [
        ...restores.map((x) => ({ line: x.start.line, block: x as Block | undefined, cmd: undefined as CommandEntry | undefined })),
        ...fc.map((c) => ({ line: c.src.line, block: undefined, cmd: c })),
      ].sort((x, y) => x.line - y.line)
      for (const e of events) {
        if (e.block) {
          if (e.block.failed) {
            b.notes.push(`The ${e.block.table} table input at line ${e.block.start.line} was not applied: iptables-restore reported ${JSON.stringify(e.block.failed.text.trim())} at line ${e.block.failed.line}, and it applies none of an input that fails.`)
            continue
          }
          if (!e.block.committed) {
            b.notes.push(`The ${e.block.table} table input at line ${e.block.start.line} has no COMMIT, so iptables-restore did not apply it.`)
            continue
          }
          applyBlock(b, e.block)
        } else if (e.cmd) {
          if (e.cmd.failed) {
            b.notes.push(`The command at line ${e.cmd.src.line} failed (${JSON.stringify(e.cmd.failed.text.trim())} at line ${e.cmd.failed.line}) and is left out.`)
            continue
          }
          b.apply(e.cmd.table, e.cmd.words, e.cmd.src)
        }
      }
      form = restores.length > 0 ? 'restore' : 'commands'
      b.notes.push(
        form === 'restore'
          ? 'These rules come from iptables-restore input (what istio-init intended to write), not from iptables-save (the final state); rules that were already present are not shown.'
          : 'These rules come from the iptables commands that were run, not from iptables-save (the final state).',
      )
    }
    const rs = b.finish(form)
    if (legacyHidden) {
      rs.legacyTablesPresent = true
      rs.notes.push('iptables-save warned that iptables-legacy tables are present: those rules are missing from this dump (run iptables-legacy-save to see them).')
    }
    const failures = [...errors, ...b.failures.map((f) => ({ text: f.quote, line: f.line }))].sort((x, y) => x.line - y.line)
    if (failures.length > 0) {
      rs.partial = true
      rs.notes.push(`The log shows a failed setup, so the rules may be incomplete: line ${failures[0].line} says ${JSON.stringify(failures[0].text.trim())}.`)
    }
    markAmbient(rs)
    out[family === 'ipv4' ? 'v4' : 'v6'] = rs
  }
  if (!out.v4 && !out.v6 && lenient) {
    const rs = new RulesetBuilder('ipv4', file, true).finish('save')
    rs.notes.push('The log holds no iptables rules.')
    if (errors.length > 0) {
      rs.partial = true
      rs.notes.push(`The log shows a failed setup before any rule was written: line ${errors[0].line} says ${JSON.stringify(errors[0].text.trim())}.`)
    }
    out.v4 = rs
  }
  return out
}

function applyBlock(b: RulesetBuilder, blk: Block): void {
  b.table(blk.table)
  for (const l of blk.lines) {
    const t = l.text.trim()
    const decl = /^:(\S+)\s+(\S+)(?:\s+\[\d+:\d+\])?$/.exec(t)
    if (decl) b.declareChain(blk.table, decl[1], decl[2], l)
    else b.applyLine(blk.table, l)
  }
}

/** Ambient mode (istio-cni in-pod redirection to ztunnel) is recognised by its chains and never simulated. */
function markAmbient(rs: Ruleset): void {
  for (const t of rs.tables.values()) {
    if (t.chains.has('ISTIO_PRERT') || t.chains.has('ISTIO_POSTRT')) {
      rs.unsupported = {
        kind: 'ambient',
        message: `These are Istio ambient-mode rules (chain ${t.chains.has('ISTIO_PRERT') ? 'ISTIO_PRERT' : 'ISTIO_POSTRT'} in table ${t.name}): traffic goes to ztunnel, not to a sidecar Envoy, so mesh-trace does not simulate them.`,
      }
      return
    }
  }
}
