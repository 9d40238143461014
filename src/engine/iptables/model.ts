import type { Cidr, Family } from './cidr.js'
import type { IdRange, PortRange } from './port-range.js'

/** A netfilter table name: `raw`, `mangle`, `nat`, `filter`, `security` (others are kept as data). */
export type TableName = string

/** The netfilter hooks a locally generated or arriving packet passes. */
export type Hook = 'PREROUTING' | 'INPUT' | 'FORWARD' | 'OUTPUT' | 'POSTROUTING'

/** A parsed rule set of one address family, from one input text. */
export interface Ruleset {
  family: 'ipv4' | 'ipv6'
  /** How the rules were written: `iptables-save` output, `iptables-restore` input, or a list of `iptables …` commands. */
  form: 'save' | 'restore' | 'commands'
  /** Logical file name for SourceRef (`iptables-save`); line numbers refer to the text given to the parser. */
  file: string
  tables: Map<string, Table>
  /** Set when the input is not something the simulator may run (nftables, ambient mode). */
  unsupported?: { kind: 'nftables' | 'ambient'; message: string }
  /** The input shows a failed or interrupted setup, so the rules may be incomplete. */
  partial?: boolean
  /** Things the parser decided or noticed, each one sentence. */
  notes: string[]
  /** iptables-save warned that iptables-legacy tables exist; their rules are not in this dump. */
  legacyTablesPresent?: boolean
}

/** One table (`*nat` block) with its chains by name. */
export interface Table {
  name: TableName
  chains: Map<string, Chain>
}

/** One chain; built-in chains have a policy, user chains `null`. */
export interface Chain {
  name: string
  policy: 'ACCEPT' | 'DROP' | null
  /** 1-based line of the `:CHAIN` / `-N` declaration, or of the first rule when implicit (0 if none). */
  line: number
  rules: Rule[]
}

/** One rule of a chain, as it will be evaluated. */
export interface Rule {
  chain: string
  /** 1-based position in its chain. */
  index: number
  /** 1-based line in the input text. */
  line: number
  /** The line as written. */
  text: string
  /** `[packets:bytes]` from `iptables-save -c`. */
  counters?: { packets: number; bytes: number }
  /** All must hold (ANDed, in written order). */
  matches: Match[]
  /** Absent: the rule only counts. */
  target?: Target
}

/** Fields every match carries. */
interface MatchBase {
  /** `!` preceded the option. */
  negated: boolean
  /** The option as written, e.g. `! --dport 15008`. */
  text: string
}

/** `-p tcp|udp|icmp|all|<number>`. */
export interface ProtocolMatch extends MatchBase {
  kind: 'protocol'
  /** Lower-case name or the number as a string; `all` matches every protocol. */
  protocol: string
}

/** `-s`/`-d` with a prefix. */
export interface AddressMatch extends MatchBase {
  kind: 'source' | 'destination'
  cidr: Cidr
}

/** `-i`/`-o`; a trailing `+` is a prefix wildcard. */
export interface InterfaceMatch extends MatchBase {
  kind: 'in-interface' | 'out-interface'
  name: string
  wildcard: boolean
}

/** `--sport`/`--dport` of the tcp/udp match (explicit `-m tcp` or implicit after `-p`). */
export interface PortMatch extends MatchBase {
  kind: 'port'
  field: 'sport' | 'dport'
  range: PortRange
}

/** `-m multiport --dports/--sports/--ports a,b,c:d`. */
export interface MultiportMatch extends MatchBase {
  kind: 'multiport'
  field: 'sports' | 'dports' | 'ports'
  ranges: PortRange[]
}

/** `-m owner --uid-owner/--gid-owner` (numeric, or a range), or `--socket-exists`. */
export interface OwnerMatch extends MatchBase {
  kind: 'owner'
  field: 'uid' | 'gid' | 'socket-exists'
  range?: IdRange
  /** A user or group name as written in restore input or a command (iptables-save prints numbers); its id is unknown here. */
  name?: string
  /** `--suppl-groups`: a gid match also accepts supplementary groups. */
  supplementaryGroups?: boolean
}

/** `-m mark --mark v[/m]` or `-m connmark --mark v[/m]`: `(mark & mask) == value`. */
export interface MarkMatch extends MatchBase {
  kind: 'mark' | 'connmark'
  value: number
  mask: number
}

/** `-m conntrack --ctstate` or `-m state --state`. */
export interface CtStateMatch extends MatchBase {
  kind: 'ctstate'
  states: string[]
}

/** `-m comment --comment "…"`: always true. */
export interface CommentMatch extends MatchBase {
  kind: 'comment'
  comment: string
}

/** `-m addrtype --src-type/--dst-type T[,T…]`. */
export interface AddrtypeMatch extends MatchBase {
  kind: 'addrtype'
  field: 'src' | 'dst'
  types: string[]
}

/** `-m socket [--transparent] [--nowildcard]`. */
export interface SocketMatch extends MatchBase {
  kind: 'socket'
  options: string[]
}

/** `-m tcp --syn` / `--tcp-flags mask comp`; the first packet of a connection is a bare SYN. */
export interface TcpFlagsMatch extends MatchBase {
  kind: 'tcp-flags'
  mask: string[]
  compare: string[]
}

/** A module (present with no option, e.g. `-m tcp` alone) that adds no test. */
export interface NoopMatch extends MatchBase {
  kind: 'noop'
  module: string
}

/** A match the simulator does not model (`-m set`, `-m statistic`, …): evaluation stops as unresolved. */
export interface UnknownMatch extends MatchBase {
  kind: 'unknown'
  module: string
}

/** One condition of a rule, parsed into typed values. */
export type Match =
  | ProtocolMatch
  | AddressMatch
  | InterfaceMatch
  | PortMatch
  | MultiportMatch
  | OwnerMatch
  | MarkMatch
  | CtStateMatch
  | CommentMatch
  | AddrtypeMatch
  | SocketMatch
  | TcpFlagsMatch
  | NoopMatch
  | UnknownMatch

/** `-j CHAIN` (push) or `-g CHAIN` (goto, no push). */
export interface JumpTarget {
  kind: 'jump'
  chain: string
  goto: boolean
}

/** ACCEPT, DROP, RETURN, REJECT (terminating verdicts and the return). */
export interface VerdictTarget {
  kind: 'verdict'
  verdict: 'ACCEPT' | 'DROP' | 'RETURN' | 'REJECT'
  options: string[]
}

/** `REDIRECT [--to-ports p[-q]]`. */
export interface RedirectTarget {
  kind: 'redirect'
  toPorts?: PortRange
}

/** `DNAT --to-destination [ip][:port[-port]]`. */
export interface DnatTarget {
  kind: 'dnat'
  toAddress?: string
  toPorts?: PortRange
}

/** `SNAT --to-source …` or `MASQUERADE`: rewrites the source only. */
export interface SnatTarget {
  kind: 'snat'
  name: 'SNAT' | 'MASQUERADE'
  options: string[]
}

/** `TPROXY --on-port p [--on-ip a] [--tproxy-mark v/m]`. */
export interface TproxyTarget {
  kind: 'tproxy'
  onPort: number
  onIp?: string
  markValue: number
  markMask: number
}

/** `MARK`: packet mark becomes `(mark & ~mask) ^ value` (every MARK option is expressed this way). */
export interface MarkTarget {
  kind: 'mark'
  value: number
  mask: number
  /** The option as written (`--set-xmark 0x539/0xffffffff`). */
  text: string
}

/** `CONNMARK --set-xmark v/m | --save-mark | --restore-mark [--nfmask m] [--ctmask m]`. */
export interface ConnmarkTarget {
  kind: 'connmark'
  mode: 'set' | 'save' | 'restore'
  value: number
  mask: number
  nfmask: number
  ctmask: number
}

/** `CT --zone n` / `CT --notrack` / `NOTRACK` (raw table). */
export interface CtTarget {
  kind: 'ct'
  zone?: number
  notrack: boolean
  options: string[]
}

/** `LOG` / `NFLOG` / `TRACE`: record and continue. */
export interface LogTarget {
  kind: 'log'
  name: string
  options: string[]
}

/** A target the simulator does not model; evaluation stops as unresolved. */
export interface UnknownTarget {
  kind: 'unknown'
  name: string
  options: string[]
}

/** What a matching rule does. */
export type Target =
  | JumpTarget
  | VerdictTarget
  | RedirectTarget
  | DnatTarget
  | SnatTarget
  | TproxyTarget
  | MarkTarget
  | ConnmarkTarget
  | CtTarget
  | LogTarget
  | UnknownTarget

/** The family of a ruleset as a `Family`. */
export type RulesetFamily = Family

/** The built-in chains of each table, in the order iptables-save prints them. */
export const BUILTIN_CHAINS: Record<string, readonly Hook[]> = {
  raw: ['PREROUTING', 'OUTPUT'],
  mangle: ['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING'],
  nat: ['PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING'],
  filter: ['INPUT', 'FORWARD', 'OUTPUT'],
  security: ['INPUT', 'FORWARD', 'OUTPUT'],
}
