import { parseCidr, parseIpAddress } from './cidr.js'
import type { Family } from './cidr.js'
import type { Match, Target } from './model.js'
import { RuleSpecError } from './parse-error.js'
import { isOwnerName, parseIdRange, parsePortRange } from './port-range.js'

/** The options of one rule after the command (`-A CHAIN`) was taken off. */
export interface RuleSpec {
  matches: Match[]
  target?: Target
  /** `-c packets bytes` given inline (restore input). */
  counters?: { packets: number; bytes: number }
}

const PROTOCOL_NUMBERS: Record<string, string> = { '0': 'all', '1': 'icmp', '6': 'tcp', '17': 'udp', '58': 'ipv6-icmp', '132': 'sctp', '33': 'dccp' }

/** Targets built into iptables or modelled by the simulator; any other name is a user chain. */
const EXTENSION_TARGETS = new Set([
  'AUDIT', 'CHECKSUM', 'CLASSIFY', 'CLUSTERIP', 'CONNSECMARK', 'DSCP', 'ECN', 'HL', 'HMARK', 'IDLETIMER', 'LED',
  'NETMAP', 'NFQUEUE', 'QUEUE', 'RATEEST', 'SECMARK', 'SET', 'SYNPROXY', 'TCPMSS', 'TCPOPTSTRIP', 'TEE', 'TOS', 'TTL', 'ULOG',
])

/** Parses a mark or mask as iptables accepts it: decimal or `0x` hex, 32 bits. */
export function parseMarkNumber(text: string): number {
  if (!/^(0x[0-9a-fA-F]+|\d+)$/.test(text)) throw new RuleSpecError('invalid-mark', `${JSON.stringify(text)} is not a mark`)
  const n = Number(text)
  if (n > 0xffffffff) throw new RuleSpecError('invalid-mark', `mark ${text} does not fit in 32 bits`)
  return n
}

/** Parses `value[/mask]` (mask defaults to 0xffffffff). */
export function parseMarkMask(text: string): { value: number; mask: number } {
  const [v, m] = text.split('/')
  return { value: parseMarkNumber(v), mask: m === undefined ? 0xffffffff : parseMarkNumber(m) }
}

function wrap<T>(code: string, fn: () => T): T {
  try {
    return fn()
  } catch (e) {
    if (e instanceof RuleSpecError) throw e
    throw new RuleSpecError(code, (e as Error).message)
  }
}

/** How many arguments each option of a known match module takes. */
const MODULE_OPTIONS: Record<string, Record<string, number>> = {
  tcp: { '--dport': 1, '--destination-port': 1, '--sport': 1, '--source-port': 1, '--syn': 0, '--tcp-flags': 2 },
  udp: { '--dport': 1, '--destination-port': 1, '--sport': 1, '--source-port': 1 },
  multiport: { '--dports': 1, '--destination-ports': 1, '--sports': 1, '--source-ports': 1, '--ports': 1 },
  owner: { '--uid-owner': 1, '--gid-owner': 1, '--socket-exists': 0, '--suppl-groups': 0 },
  mark: { '--mark': 1 },
  connmark: { '--mark': 1 },
  conntrack: { '--ctstate': 1 },
  state: { '--state': 1 },
  comment: { '--comment': 1 },
  addrtype: { '--src-type': 1, '--dst-type': 1, '--limit-iface-in': 0, '--limit-iface-out': 0 },
  socket: { '--transparent': 0, '--nowildcard': 0, '--restore-skmark': 0 },
}

const CORE_OPTIONS = new Set([
  '-p', '--protocol', '-s', '--source', '--src', '-d', '--destination', '--dst', '-i', '--in-interface', '-o', '--out-interface',
  '-m', '--match', '-j', '--jump', '-g', '--goto', '-c', '--set-counters', '-f', '--fragment', '-4', '--ipv4', '-6', '--ipv6',
])

function isOptionStart(tok: string): boolean {
  return CORE_OPTIONS.has(tok) || tok === '!'
}

/** Builds the typed match for one option of a known module. */
function moduleMatch(module: string, opt: string, args: string[], negated: boolean, text: string): Match {
  const base = { negated, text }
  switch (opt) {
    case '--dport':
    case '--destination-port':
    case '--sport':
    case '--source-port':
      return { ...base, kind: 'port', field: opt.includes('d') && !opt.startsWith('--s') ? 'dport' : 'sport', range: wrap('invalid-port', () => parsePortRange(args[0])) }
    case '--syn':
      return { ...base, kind: 'tcp-flags', mask: ['SYN', 'RST', 'ACK', 'FIN'], compare: ['SYN'] }
    case '--tcp-flags':
      return { ...base, kind: 'tcp-flags', mask: args[0].toUpperCase().split(','), compare: args[1].toUpperCase().split(',') }
    case '--dports':
    case '--destination-ports':
    case '--sports':
    case '--source-ports':
    case '--ports': {
      const field = opt === '--ports' ? 'ports' : opt.startsWith('--d') ? 'dports' : 'sports'
      return { ...base, kind: 'multiport', field, ranges: wrap('invalid-port', () => args[0].split(',').map((p) => parsePortRange(p))) }
    }
    case '--uid-owner':
    case '--gid-owner':
      if (isOwnerName(args[0])) return { ...base, kind: 'owner', field: opt === '--uid-owner' ? 'uid' : 'gid', name: args[0] }
      return { ...base, kind: 'owner', field: opt === '--uid-owner' ? 'uid' : 'gid', range: wrap('invalid-owner', () => parseIdRange(args[0])) }
    case '--socket-exists':
      return { ...base, kind: 'owner', field: 'socket-exists' }
    case '--mark': {
      const { value, mask } = parseMarkMask(args[0])
      return { ...base, kind: module === 'connmark' ? 'connmark' : 'mark', value, mask }
    }
    case '--ctstate':
    case '--state':
      return { ...base, kind: 'ctstate', states: args[0].toUpperCase().split(',') }
    case '--comment':
      return { ...base, kind: 'comment', comment: args[0] }
    case '--src-type':
    case '--dst-type':
      return { ...base, kind: 'addrtype', field: opt === '--src-type' ? 'src' : 'dst', types: args[0].toUpperCase().split(',') }
    default:
      return { ...base, kind: 'unknown', module }
  }
}

function quoteArg(a: string): string {
  return /^[\w.:/,+@=-]+$/.test(a) ? a : JSON.stringify(a)
}

/** Parses the target name and its options into a typed Target. */
function buildTarget(name: string, isGoto: boolean, opts: Array<{ opt: string; args: string[] }>): Target {
  const get = (...names: string[]) => opts.find((o) => names.includes(o.opt))?.args[0]
  const has = (...names: string[]) => opts.some((o) => names.includes(o.opt))
  const flat = opts.flatMap((o) => [o.opt, ...o.args])
  if (isGoto) return { kind: 'jump', chain: name, goto: true }
  switch (name) {
    case 'ACCEPT':
    case 'DROP':
    case 'RETURN':
    case 'REJECT':
      return { kind: 'verdict', verdict: name, options: flat }
    case 'REDIRECT': {
      const p = get('--to-ports', '--to-port', '--to')
      return { kind: 'redirect', toPorts: p === undefined ? undefined : wrap('invalid-port', () => parsePortRange(p, '-')) }
    }
    case 'DNAT': {
      const to = get('--to-destination', '--to')
      if (to === undefined) return { kind: 'dnat' }
      return wrap('invalid-address', () => parseDnatDestination(to))
    }
    case 'SNAT':
    case 'MASQUERADE':
      return { kind: 'snat', name, options: flat }
    case 'TPROXY': {
      const port = get('--on-port')
      const ip = get('--on-ip')
      const mark = get('--tproxy-mark')
      const { value, mask } = mark === undefined ? { value: 0, mask: 0 } : parseMarkMask(mark)
      return {
        kind: 'tproxy',
        onPort: port === undefined ? 0 : wrap('invalid-port', () => parsePortRange(port).min),
        onIp: ip === undefined ? undefined : wrap('invalid-address', () => parseIpAddress(ip).text),
        markValue: value,
        markMask: mask,
      }
    }
    case 'MARK': {
      const o = opts.find((x) => ['--set-xmark', '--set-mark', '--and-mark', '--or-mark', '--xor-mark'].includes(x.opt))
      if (!o) return { kind: 'unknown', name, options: flat }
      const text = `${o.opt} ${o.args[0]}`
      if (o.opt === '--set-xmark') return { kind: 'mark', ...parseMarkMask(o.args[0]), text }
      if (o.opt === '--set-mark') {
        const { value, mask } = parseMarkMask(o.args[0])
        return { kind: 'mark', value, mask: (mask | value) >>> 0, text }
      }
      const m = parseMarkNumber(o.args[0])
      if (o.opt === '--and-mark') return { kind: 'mark', value: 0, mask: ~m >>> 0, text }
      if (o.opt === '--or-mark') return { kind: 'mark', value: m, mask: m, text }
      return { kind: 'mark', value: m, mask: 0, text }
    }
    case 'CONNMARK': {
      const mask = get('--mask')
      const nfmask = get('--nfmask') ?? mask
      const ctmask = get('--ctmask') ?? mask
      const masks = {
        nfmask: nfmask === undefined ? 0xffffffff : parseMarkNumber(nfmask),
        ctmask: ctmask === undefined ? 0xffffffff : parseMarkNumber(ctmask),
      }
      if (has('--save-mark')) return { kind: 'connmark', mode: 'save', value: 0, mask: 0, ...masks }
      if (has('--restore-mark')) return { kind: 'connmark', mode: 'restore', value: 0, mask: 0, ...masks }
      const x = get('--set-xmark')
      if (x !== undefined) return { kind: 'connmark', mode: 'set', ...parseMarkMask(x), ...masks }
      const s = get('--set-mark')
      if (s !== undefined) {
        const { value, mask: m } = parseMarkMask(s)
        return { kind: 'connmark', mode: 'set', value, mask: (m | value) >>> 0, ...masks }
      }
      return { kind: 'unknown', name, options: flat }
    }
    case 'CT':
    case 'NOTRACK': {
      const zone = get('--zone', '--zone-orig', '--zone-reply')
      return {
        kind: 'ct',
        zone: zone === undefined ? undefined : Number(zone),
        notrack: name === 'NOTRACK' || has('--notrack'),
        options: flat,
      }
    }
    case 'LOG':
    case 'NFLOG':
    case 'TRACE':
      return { kind: 'log', name, options: flat }
    default:
      if (EXTENSION_TARGETS.has(name)) return { kind: 'unknown', name, options: flat }
      return { kind: 'jump', chain: name, goto: false }
  }
}

/** Parses `DNAT --to-destination` values: `ip`, `ip:port`, `ip:a-b`, `[v6]:port`, `:port`. */
function parseDnatDestination(to: string): Target {
  let host = to
  let ports: string | undefined
  const v6 = /^\[([^\]]+)\](?::(.+))?$/.exec(to)
  if (v6) {
    host = v6[1]
    ports = v6[2]
  } else if ((to.match(/:/g) ?? []).length === 1) {
    ;[host, ports] = to.split(':')
  }
  const first = host.split('-')[0]
  return {
    kind: 'dnat',
    toAddress: first === '' ? undefined : parseIpAddress(first).text,
    toPorts: ports === undefined ? undefined : parsePortRange(ports, '-'),
  }
}

/**
 * Parses the options of one rule (everything after `-A CHAIN`) into typed matches and a target.
 * Options of an unknown module become one `unknown` match, so the simulator can name it.
 */
export function parseRuleSpec(tokens: string[], family: Family): RuleSpec {
  const matches: Match[] = []
  let target: Target | undefined
  let counters: RuleSpec['counters']
  let negate = false
  let module: string | null = null
  let protocol: string | null = null
  let targetName: string | null = null
  let targetGoto = false
  const targetOpts: Array<{ opt: string; args: string[] }> = []
  let moduleUsed = false
  let socketOptions: string[] = []
  let unknownMatch: { module: string; words: string[]; negated: boolean } | null = null

  const closeModule = () => {
    if (unknownMatch) {
      matches.push({ kind: 'unknown', module: unknownMatch.module, negated: false, text: `-m ${unknownMatch.module} ${unknownMatch.words.join(' ')}`.trim() })
      unknownMatch = null
    } else if (module === 'socket') {
      matches.push({ kind: 'socket', options: socketOptions, negated: false, text: ['-m socket', ...socketOptions].join(' ') })
    } else if (module !== null && !moduleUsed) {
      matches.push({ kind: 'noop', module, negated: false, text: `-m ${module}` })
    }
    socketOptions = []
    module = null
    moduleUsed = false
  }
  const need = (i: number, opt: string): string => {
    if (i >= tokens.length) throw new RuleSpecError('missing-argument', `option ${opt} needs a value`)
    return tokens[i]
  }

  // iptables refuses a second -s/-d/-i/-o/-p ("multiple -d flags not allowed").
  const seenCore = new Set<string>()
  const once = (flag: string) => {
    if (seenCore.has(flag)) throw new RuleSpecError('duplicate-option', `${flag} is given twice (iptables allows it once per rule)`)
    seenCore.add(flag)
  }
  for (let i = 0; i < tokens.length; i++) {
    const tok = tokens[i]
    if (tok === '!') {
      if (unknownMatch) unknownMatch.words.push(tok)
      negate = true
      continue
    }
    // Old intrapositional negation: `--dport ! 53`, `-s ! 10.0.0.0/8`.
    const takeValue = (opt: string): string => {
      let v = need(++i, opt)
      if (v === '!') {
        negate = true
        v = need(++i, opt)
      }
      return v
    }
    const neg = () => {
      const n = negate
      negate = false
      return n
    }
    switch (tok) {
      case '-p':
      case '--protocol': {
        once('-p')
        const v = takeValue(tok).toLowerCase()
        const n = neg()
        protocol = PROTOCOL_NUMBERS[v] ?? v
        matches.push({ kind: 'protocol', protocol, negated: n, text: `${n ? '! ' : ''}-p ${v}` })
        continue
      }
      case '-s':
      case '--source':
      case '--src':
      case '-d':
      case '--destination':
      case '--dst': {
        const v = takeValue(tok)
        const n = neg()
        if (v.includes(',')) throw new RuleSpecError('address-list', `address lists (${v}) expand to several rules and are not supported`)
        const cidr = wrap('invalid-address', () => parseCidr(v))
        if (cidr.family !== family) throw new RuleSpecError('family-mismatch', `${v} is not an ${family === 'ipv4' ? 'IPv4' : 'IPv6'} address`)
        const kind = tok.startsWith('-s') || tok.startsWith('--s') ? 'source' : 'destination'
        once(kind === 'source' ? '-s' : '-d')
        matches.push({ kind, cidr, negated: n, text: `${n ? '! ' : ''}${kind === 'source' ? '-s' : '-d'} ${cidr.text}` })
        continue
      }
      case '-i':
      case '--in-interface':
      case '-o':
      case '--out-interface': {
        const v = takeValue(tok)
        const n = neg()
        const kind = tok === '-i' || tok === '--in-interface' ? 'in-interface' : 'out-interface'
        once(kind === 'in-interface' ? '-i' : '-o')
        const wildcard = v.endsWith('+')
        matches.push({ kind, name: wildcard ? v.slice(0, -1) : v, wildcard, negated: n, text: `${n ? '! ' : ''}${kind === 'in-interface' ? '-i' : '-o'} ${v}` })
        continue
      }
      case '-f':
      case '--fragment': {
        const n = neg()
        matches.push({ kind: 'unknown', module: 'fragment', negated: n, text: `${n ? '! ' : ''}-f` })
        continue
      }
      case '-4':
      case '--ipv4':
      case '-6':
      case '--ipv6':
        continue
      case '-c':
      case '--set-counters': {
        const a = need(++i, tok)
        const pair = a.includes(':') ? a.split(':') : [a, need(++i, tok)]
        counters = { packets: Number(pair[0]), bytes: Number(pair[1]) }
        continue
      }
      case '-m':
      case '--match': {
        closeModule()
        module = need(++i, tok).toLowerCase()
        if (!(module in MODULE_OPTIONS)) unknownMatch = { module, words: [], negated: false }
        continue
      }
      case '-j':
      case '--jump':
      case '-g':
      case '--goto': {
        closeModule()
        targetName = need(++i, tok)
        targetGoto = tok === '-g' || tok === '--goto'
        continue
      }
    }
    if (!tok.startsWith('--')) {
      if (unknownMatch) {
        unknownMatch.words.push(tok)
        continue
      }
      throw new RuleSpecError('unexpected-word', `${JSON.stringify(tok)} is not an option`)
    }
    // A `--option`: it belongs to the current match module, the implicit protocol match, or the target.
    if (unknownMatch) {
      unknownMatch.words.push(tok)
      while (i + 1 < tokens.length && !isOptionStart(tokens[i + 1]) && !tokens[i + 1].startsWith('--')) unknownMatch.words.push(tokens[++i])
      negate = false
      continue
    }
    const moduleArity: number | undefined = module === null ? undefined : MODULE_OPTIONS[module][tok]
    const implicit = protocol === 'tcp' || protocol === 'udp' ? MODULE_OPTIONS[protocol][tok] : undefined
    if (targetName === null || moduleArity !== undefined) {
      const owner: string | null = moduleArity !== undefined ? module! : implicit !== undefined ? protocol! : null
      const arity = moduleArity ?? implicit
      if (owner === null || arity === undefined) {
        const n = neg()
        const words = [tok]
        while (i + 1 < tokens.length && !isOptionStart(tokens[i + 1]) && !tokens[i + 1].startsWith('--')) words.push(tokens[++i])
        matches.push({ kind: 'unknown', module: module ?? protocol ?? 'core', negated: n, text: `${n ? '! ' : ''}${words.join(' ')}` })
        if (module !== null) moduleUsed = true
        continue
      }
      const args: string[] = []
      for (let k = 0; k < arity; k++) args.push(takeValue(tok))
      const n = neg()
      if (owner === module) moduleUsed = true
      if (owner === 'socket') {
        socketOptions.push(tok)
        continue
      }
      if (tok === '--limit-iface-in' || tok === '--limit-iface-out' || tok === '--suppl-groups') {
        // These narrow a lookup; the simulator's single-interface pod view is unaffected.
        matches.push({ kind: 'noop', module: owner, negated: false, text: tok })
        continue
      }
      matches.push(moduleMatch(owner, tok, args, n, `${n ? '! ' : ''}${[tok, ...args.map(quoteArg)].join(' ')}`))
      continue
    }
    // Target options: take every following word that is not an option.
    const args: string[] = []
    while (i + 1 < tokens.length && !tokens[i + 1].startsWith('-')) args.push(tokens[++i])
    targetOpts.push({ opt: tok, args })
  }
  closeModule()
  if (negate) throw new RuleSpecError('dangling-negation', 'a "!" is not followed by an option')
  if (targetName !== null) target = buildTarget(targetName, targetGoto, targetOpts)
  return { matches, target, counters }
}
