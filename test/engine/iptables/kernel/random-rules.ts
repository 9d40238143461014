/** fast-check generators of small rule sets and connections over the constructs the meshes use. */
import fc from 'fast-check'
import { NET } from './harness.js'
import type { ProbeConn } from './harness.js'

/** A generated rule set: rule lines per table, with the user chains each table declares. */
export interface GenRules {
  tables: Record<string, { user: string[]; rules: string[] }>
}

type Side = 'out' | 'in'

const COMMON = [
  '-d 203.0.113.0/24', '! -d 127.0.0.1/32', '-d 198.51.100.7/32', `-d ${NET.pod4}/32`, '-d 127.0.0.0/8', '! -d 192.0.2.0/25', '-d 10.0.0.0/8',
  `-s ${NET.pod4}/32`, '-s 127.0.0.6/32', '! -s 127.0.0.0/8', '-s 198.51.100.0/24',
  '! -p udp', '-p udp',
  'tcp:--dport 80', 'tcp:--dport 1:1000', 'tcp:! --dport 15008', 'tcp:--sport 20000:30000', 'tcp:--dport 8000:',
  'tcp:-m multiport --dports 80,443,9000:9100', 'tcp:-m multiport ! --dports 15008,8080',
  '-m mark --mark 0x1/0x1', '-m mark ! --mark 0x2/0x2', '-m connmark --mark 0x1',
  '-m conntrack --ctstate NEW', '-m conntrack --ctstate ESTABLISHED', '-m conntrack ! --ctstate DNAT', '-m state --state NEW,ESTABLISHED',
  '-m addrtype --dst-type LOCAL', '-m addrtype ! --dst-type LOCAL', '-m addrtype --src-type LOCAL',
  '-m comment --comment "say \\"hi\\""',
]
const OUT_ONLY = ['-o lo', '! -o lo', '-o eth+', '-o eth0', '-m owner --uid-owner 1337', '-m owner ! --uid-owner 1337', '-m owner --uid-owner 1000-2000', '-m owner --gid-owner 1337', '-m owner ! --gid-owner 3']
const IN_ONLY = ['-i eth0', '-i lo', '! -i eth0', '-i eth+', 'tcp:-m socket']

function matchPool(side: Side): string[] {
  return [...COMMON, ...(side === 'out' ? OUT_ONLY : IN_ONLY)]
}

const NAT_OUT_TARGETS = ['RETURN', 'ACCEPT', '', 'tcp:REDIRECT --to-ports 15001', 'tcp:REDIRECT --to-ports 15006', 'tcp:REDIRECT', `tcp:DNAT --to-destination ${NET.pod4}:15002`, 'tcp:DNAT --to-destination 127.0.0.1:15003', 'tcp:DNAT --to-destination 198.51.100.7:81']
const NAT_IN_TARGETS = ['RETURN', 'ACCEPT', '', 'tcp:REDIRECT --to-ports 15006', `tcp:DNAT --to-destination ${NET.pod4}:15002`, 'tcp:DNAT --to-destination 127.0.0.1:15003', 'tcp:DNAT --to-destination 198.51.100.7:81']
const MANGLE_OUT_TARGETS = ['MARK --set-xmark 0x1/0xffffffff', 'MARK --set-xmark 0x2/0x2', 'CONNMARK --save-mark --nfmask 0xffffffff --ctmask 0xffffffff', 'CONNMARK --restore-mark --nfmask 0xffffffff --ctmask 0xffffffff', 'RETURN', 'ACCEPT']
const MANGLE_IN_TARGETS = ['MARK --set-xmark 0x1/0xffffffff', 'CONNMARK --restore-mark --nfmask 0xffffffff --ctmask 0xffffffff', 'tcp:TPROXY --on-port 15006 --on-ip 0.0.0.0 --tproxy-mark 0x539/0xffffffff', 'RETURN', '']
const FILTER_TARGETS = ['ACCEPT', 'RETURN', '', 'DROP', 'tcp:REJECT --reject-with tcp-reset']

function ruleArb(chain: string, side: Side, targets: string[], jumps: string[]): fc.Arbitrary<string> {
  const targetArb = jumps.length > 0
    ? fc.oneof({ arbitrary: fc.constantFrom(...targets), weight: 3 }, { arbitrary: fc.tuple(fc.constantFrom('-j', '-g'), fc.constantFrom(...jumps)).map(([k, c]) => `${k}:${c}`), weight: 2 })
    : fc.constantFrom(...targets)
  // iptables allows each of -s, -d, -i, -o, -p once per rule ("multiple -d flags not allowed").
  const flag = (m: string) => /^(?:!\s)?(-[sdiop])\s/.exec(m)?.[1] ?? /^tcp:(?:!\s)?(--[sd]port)/.exec(m)?.[1] ?? m
  return fc.tuple(fc.uniqueArray(fc.constantFrom(...matchPool(side)), { maxLength: 3, selector: flag }), targetArb).map(([ms, target]) => {
    const needsTcp = ms.some((m) => m.startsWith('tcp:')) || target.startsWith('tcp:')
    let matches = ms.map((m) => m.replace(/^tcp:/, ''))
    if (needsTcp) matches = ['-p tcp', ...matches.filter((m) => !/-p (tcp|udp)$/.test(m) && m !== '! -p udp')]
    const port = matches.filter((m) => /^(!\s)?--[ds]port/.test(m))
    const rest = matches.filter((m) => !port.includes(m))
    const ordered = port.length > 0 ? [...rest.slice(0, 1), '-m tcp', ...port, ...rest.slice(1)] : rest
    const t = target.replace(/^tcp:/, '')
    const jump = /^(-[jg]):(.*)$/.exec(t)
    const tail = jump ? `${jump[1]} ${jump[2]}` : t === '' ? '' : `-j ${t}`
    return `-A ${chain} ${ordered.join(' ')} ${tail}`.replace(/\s+/g, ' ').trim()
  })
}

function chainRules(chain: string, side: Side, targets: string[], jumps: string[], max: number): fc.Arbitrary<string[]> {
  return fc.array(ruleArb(chain, side, targets, jumps), { maxLength: max })
}

/** A small rule set over raw/mangle/nat/filter with user chains reached by -j and -g (never in a loop). */
export const ruleSetArb: fc.Arbitrary<GenRules> = fc
  .record({
    natOut: chainRules('OUTPUT', 'out', NAT_OUT_TARGETS, ['O1', 'O2'], 4),
    o1: chainRules('O1', 'out', NAT_OUT_TARGETS, ['O2'], 3),
    o2: chainRules('O2', 'out', NAT_OUT_TARGETS, [], 3),
    natPre: chainRules('PREROUTING', 'in', NAT_IN_TARGETS, ['P1'], 3),
    p1: chainRules('P1', 'in', NAT_IN_TARGETS, [], 3),
    mangleOut: chainRules('OUTPUT', 'out', MANGLE_OUT_TARGETS, [], 2),
    manglePre: chainRules('PREROUTING', 'in', MANGLE_IN_TARGETS, [], 2),
    filterOut: chainRules('OUTPUT', 'out', FILTER_TARGETS, [], 2),
    filterIn: chainRules('INPUT', 'in', FILTER_TARGETS, [], 2),
  })
  .map((r) => ({
    tables: {
      mangle: { user: [], rules: [...r.manglePre, ...r.mangleOut] },
      nat: { user: ['O1', 'O2', 'P1'], rules: [...r.natPre, ...r.natOut, ...r.o1, ...r.o2, ...r.p1] },
      filter: { user: [], rules: [...r.filterIn, ...r.filterOut] },
    },
  }))

const BUILTIN: Record<string, string[]> = {
  raw: ['PREROUTING', 'OUTPUT'],
  mangle: ['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING'],
  nat: ['PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING'],
  filter: ['INPUT', 'FORWARD', 'OUTPUT'],
}

/** Renders a generated rule set as iptables-save text (which iptables-restore also reads). */
export function renderRules(g: GenRules): string {
  return Object.entries(g.tables)
    .map(([t, { user, rules }]) => [`*${t}`, ...BUILTIN[t].map((c) => `:${c} ACCEPT [0:0]`), ...user.map((c) => `:${c} - [0:0]`), ...rules, 'COMMIT'].join('\n'))
    .join('\n') + '\n'
}

const REMOTE_DSTS = ['203.0.113.9', '198.51.100.7', '192.0.2.1', NET.gw4]
const LOCAL_DSTS = [NET.pod4, '127.0.0.1', '127.0.0.6']
const PORTS = [80, 443, 8080, 9080, 15008, 9050]
const IDS = [1000, 1337, 3]

/** A TCP connection from the app or the proxy, or arriving from the remote side. */
export const connArb: fc.Arbitrary<Omit<ProbeConn, 'sport'>> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ dst: fc.constantFrom(...REMOTE_DSTS), dport: fc.constantFrom(...PORTS), uid: fc.constantFrom(...IDS), gid: fc.constantFrom(...IDS) }).map((c) => ({ family: 4 as const, direction: 'outbound' as const, src: NET.pod4, ...c })) },
  { weight: 2, arbitrary: fc.record({ dst: fc.constantFrom(...LOCAL_DSTS), src: fc.constantFrom(NET.pod4, '127.0.0.6'), dport: fc.constantFrom(...PORTS), uid: fc.constantFrom(...IDS), gid: fc.constantFrom(...IDS) }).map((c) => ({ family: 4 as const, direction: 'outbound' as const, ...c })) },
  { weight: 2, arbitrary: fc.constantFrom(...PORTS).map((dport) => ({ family: 4 as const, direction: 'inbound' as const, src: NET.peer4, dst: NET.pod4, dport, uid: 0, gid: 0 })) },
)

/** How the IPv4 vocabulary maps onto IPv6 (TEST-NET blocks become 2001:db8::/32 subnets, 127/8 becomes ::1 and ::6). */
const V6_MAP: Array<[RegExp, string]> = [
  [/--to-destination 10\.244\.2\.5:(\d+)/g, '--to-destination [fd00::5]:$1'],
  [/--to-destination 127\.0\.0\.1:(\d+)/g, '--to-destination [::1]:$1'],
  [/--to-destination 198\.51\.100\.7:(\d+)/g, '--to-destination [2001:db8:ffff::7]:$1'],
  [/--on-ip 0\.0\.0\.0/g, '--on-ip ::'],
  [/10\.244\.2\.5\/32/g, 'fd00::5/128'],
  [/10\.0\.0\.0\/8/g, 'fd00::/8'],
  [/203\.0\.113\.0\/24/g, '2001:db8:203::/64'],
  [/198\.51\.100\.7\/32/g, '2001:db8:ffff::7/128'],
  [/198\.51\.100\.0\/24/g, '2001:db8:ffff::/64'],
  [/192\.0\.2\.0\/25/g, '2001:db8:192::/65'],
  [/127\.0\.0\.1\/32/g, '::1/128'],
  [/127\.0\.0\.6\/32/g, '::6/128'],
  [/127\.0\.0\.0\/8/g, '::1/128'],
]

const V6_ADDR: Record<string, string> = {
  '10.244.2.5': NET.pod6,
  '10.244.2.1': NET.gw6,
  '198.51.100.10': NET.peer6,
  '203.0.113.9': '2001:db8:203::9',
  '198.51.100.7': '2001:db8:ffff::7',
  '192.0.2.1': '2001:db8:192::1',
  '127.0.0.1': '::1',
  '127.0.0.6': '::6',
}

/** The same rule set for ip6tables. */
export function rulesToV6(text: string): string {
  return V6_MAP.reduce((t, [re, to]) => t.replace(re, to), text)
}

/** The same connection over IPv6. */
export function connToV6<C extends { family: 4 | 6; src: string; dst: string }>(c: C): C {
  return { ...c, family: 6, src: V6_ADDR[c.src] ?? c.src, dst: V6_ADDR[c.dst] ?? c.dst }
}
