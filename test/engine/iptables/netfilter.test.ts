import { describe, expect, it } from 'vitest'
import { traceIptables } from '../../../src/engine/iptables/netfilter.js'
import type { Connection } from '../../../src/engine/iptables/netfilter.js'
import { parseRules } from '../../../src/engine/iptables/parse.js'
import { KERNEL_SURPRISES, surpriseConnection } from './kernel-surprises.js'
import { ISTIO_11_SAVE, ISTIO_122_SAVE, ISTIO_TPROXY_SAVE, save } from './rulesets.js'

const POD = '10.244.2.5'
const app = (over: Partial<Connection> = {}): Connection => ({
  direction: 'outbound',
  protocol: 'tcp',
  srcIp: POD,
  srcPort: 40000,
  dstIp: '203.0.113.9',
  dstPort: 80,
  uid: 1000,
  podIps: [POD],
  ...over,
})
const inbound = (over: Partial<Connection> = {}): Connection => ({
  direction: 'inbound',
  protocol: 'tcp',
  srcIp: '198.51.100.10',
  srcPort: 40000,
  dstIp: POD,
  dstPort: 9080,
  podIps: [POD],
  ...over,
})

type Row = [string, string, Connection, { intercepted: boolean | null; port?: number | null; dropped?: boolean; chosen?: string }]

describe('traceIptables: one row per netfilter rule', () => {
  const rows: Row[] = [
    ['-j pushes; the end of a user chain returns to the caller', save({ nat: '-A OUTPUT -j CH_A\n-A OUTPUT -p tcp -j REDIRECT --to-ports 15001\n-A CH_A -p udp -j RETURN' }), app(), { intercepted: true, port: 15001, chosen: 'OUTPUT #2' }],
    ['-g does not push: RETURN in the goto chain returns to the last -j caller', save({ nat: '-A OUTPUT -j CH_A\n-A OUTPUT -j REDIRECT --to-ports 2\n-A CH_A -g CH_B\n-A CH_A -j REDIRECT --to-ports 3\n-A CH_B -j RETURN' }), app(), { intercepted: true, port: 2, chosen: 'OUTPUT #2' }],
    ['-g from a built-in chain: the end of the goto chain applies the policy', save({ nat: '-A OUTPUT -g CH_A\n-A OUTPUT -j REDIRECT --to-ports 2\n-A CH_A -p udp -j RETURN' }), app(), { intercepted: false }],
    ['RETURN in a built-in chain applies the policy', save({ nat: '-A OUTPUT -j RETURN\n-A OUTPUT -j REDIRECT --to-ports 15001' }), app(), { intercepted: false, chosen: 'OUTPUT #1' }],
    ['policy DROP in filter OUTPUT drops the connection', save({ filter: '-A OUTPUT -p udp -j ACCEPT' }, { 'filter/OUTPUT': 'DROP' }), app(), { intercepted: false, dropped: true }],
    ['a DROP rule drops the connection', save({ filter: '-A OUTPUT -d 203.0.113.0/24 -j DROP' }), app(), { intercepted: false, dropped: true, chosen: 'OUTPUT #1' }],
    ['REJECT drops the connection', save({ filter: '-A OUTPUT -p tcp -j REJECT --reject-with icmp-port-unreachable' }), app(), { intercepted: false, dropped: true }],
    ['-p udp does not match tcp', save({ nat: '-A OUTPUT -p udp -j REDIRECT --to-ports 15001' }), app(), { intercepted: false }],
    ['! -p udp matches tcp', save({ nat: '-A OUTPUT ! -p udp -j REDIRECT --to-ports 15001' }), app(), { intercepted: true, port: 15001 }],
    ['-p 6 is tcp', save({ nat: '-A OUTPUT -p 6 -j REDIRECT --to-ports 15001' }), app(), { intercepted: true, port: 15001 }],
    ['-p all matches everything', save({ nat: '-A OUTPUT -p all -j REDIRECT --to-ports 15001' }), app({ protocol: 'udp' }), { intercepted: true, port: 15001 }],
    ['-d with a /24 mask contains the address', save({ nat: '-A OUTPUT -d 203.0.113.0/24 -j REDIRECT --to-ports 15001' }), app(), { intercepted: true }],
    ['-d outside the prefix does not match', save({ nat: '-A OUTPUT -d 198.51.100.0/24 -j REDIRECT --to-ports 15001' }), app(), { intercepted: false }],
    ['! -d 127.0.0.1/32 still matches 127.0.0.6', save({ nat: '-A OUTPUT ! -d 127.0.0.1/32 -j REDIRECT --to-ports 15001' }), app({ dstIp: '127.0.0.6' }), { intercepted: true }],
    ['-s matches the bound source address', save({ nat: '-A OUTPUT -s 127.0.0.6/32 -j RETURN\n-A OUTPUT -j REDIRECT --to-ports 15001' }), app({ srcIp: '127.0.0.6', dstIp: POD }), { intercepted: false, chosen: 'OUTPUT #1' }],
    ['--dport a:b is inclusive', save({ nat: '-A OUTPUT -p tcp -m tcp --dport 70:80 -j REDIRECT --to-ports 15001' }), app(), { intercepted: true }],
    ['--dport :b starts at 0', save({ nat: '-A OUTPUT -p tcp -m tcp --dport :80 -j REDIRECT --to-ports 15001' }), app(), { intercepted: true }],
    ['--dport a: ends at 65535', save({ nat: '-A OUTPUT -p tcp -m tcp --dport 81: -j REDIRECT --to-ports 15001' }), app(), { intercepted: false }],
    ['! --dport 80 does not match port 80', save({ nat: '-A OUTPUT -p tcp -m tcp ! --dport 80 -j REDIRECT --to-ports 15001' }), app(), { intercepted: false }],
    ['--sport matches the source port', save({ nat: '-A OUTPUT -p tcp -m tcp --sport 40000 -j REDIRECT --to-ports 15001' }), app(), { intercepted: true }],
    ['multiport --dports matches a range in the list', save({ nat: '-A OUTPUT -p tcp -m multiport --dports 53,70:90 -j REDIRECT --to-ports 15001' }), app(), { intercepted: true }],
    ['multiport ! --dports excludes every listed port', save({ nat: '-A OUTPUT -p tcp -m multiport ! --dports 53,80 -j REDIRECT --to-ports 15001' }), app(), { intercepted: false }],
    ['multiport --ports matches the source port too', save({ nat: '-A OUTPUT -p tcp -m multiport --ports 40000 -j REDIRECT --to-ports 15001' }), app(), { intercepted: true }],
    ['--uid-owner a-b is an inclusive range', save({ nat: '-A OUTPUT -m owner --uid-owner 1000-2000 -j REDIRECT --to-ports 15001' }), app(), { intercepted: true }],
    ['--gid-owner tests the socket gid', save({ nat: '-A OUTPUT -m owner --gid-owner 1337 -j RETURN\n-A OUTPUT -j REDIRECT --to-ports 15001' }), app({ uid: 1000, gid: 1337 }), { intercepted: false, chosen: 'OUTPUT #1' }],
    ['an absent uid is an application uid, not 1337', save({ nat: '-A OUTPUT -m owner --uid-owner 1337 -j RETURN\n-A OUTPUT -j REDIRECT --to-ports 15001' }), app({ uid: undefined }), { intercepted: true }],
    // xt_owner.c: with no local socket the match returns (match ^ invert) == 0, so only an all-negated owner match holds.
    ['an arriving packet has no owner: --uid-owner fails', save({ nat: '-A PREROUTING -m owner --uid-owner 1000 -j REDIRECT --to-ports 15006' }), inbound(), { intercepted: false }],
    ['an arriving packet has no owner: ! --uid-owner holds', save({ nat: '-A PREROUTING -m owner ! --uid-owner 1337 -j REDIRECT --to-ports 15006' }), inbound(), { intercepted: true, port: 15006 }],
    ['-o eth+ is a prefix wildcard', save({ nat: '-A OUTPUT -o eth+ -j REDIRECT --to-ports 15001' }), app(), { intercepted: true }],
    ['! -o lo matches eth0', save({ nat: '-A OUTPUT ! -o lo -j REDIRECT --to-ports 15001' }), app(), { intercepted: true }],
    ['-i does not exist in OUTPUT', save({ nat: '-A OUTPUT -i eth0 -j REDIRECT --to-ports 15001' }), app(), { intercepted: false }],
    ['-o does not exist in PREROUTING', save({ nat: '-A PREROUTING -o eth0 -j REDIRECT --to-ports 15006' }), inbound(), { intercepted: false }],
    ['-i eth0 matches an arriving packet', save({ nat: '-A PREROUTING -i eth0 -j REDIRECT --to-ports 15006' }), inbound(), { intercepted: true }],
    ['traffic to the own pod IP leaves via lo', save({ nat: '-A OUTPUT -o lo -j REDIRECT --to-ports 15001' }), app({ dstIp: POD }), { intercepted: true }],
    ['traffic to any 127/8 address leaves via lo', save({ nat: '-A OUTPUT -o lo -j REDIRECT --to-ports 15001' }), app({ dstIp: '127.0.0.5' }), { intercepted: true }],
    ['traffic to another address leaves via eth0', save({ nat: '-A OUTPUT -o lo -j REDIRECT --to-ports 15001' }), app(), { intercepted: false }],
    ['nat PREROUTING is skipped when a local connection loops back over lo', save({ nat: '-A PREROUTING -j REDIRECT --to-ports 15006' }), app({ dstIp: POD }), { intercepted: false }],
    ['DNAT to a local address intercepts', save({ nat: `-A OUTPUT -p tcp -j DNAT --to-destination ${POD}:8080` }), app(), { intercepted: true, port: 8080 }],
    ['DNAT to a remote address rewrites without interception', save({ nat: '-A OUTPUT -p tcp -j DNAT --to-destination 198.51.100.7:81' }), app(), { intercepted: false }],
    ['MARK in mangle is seen by a mark match in nat', save({ mangle: '-A OUTPUT -j MARK --set-xmark 0x53a/0xffffffff', nat: '-A OUTPUT -m mark --mark 0x53a -j REDIRECT --to-ports 15001' }), app(), { intercepted: true }],
    ['--mark v/m masks the packet mark', save({ mangle: '-A OUTPUT -j MARK --set-xmark 0x1539/0xffffffff', nat: '-A OUTPUT -m mark --mark 0x539/0xfff -j REDIRECT --to-ports 15001' }), app(), { intercepted: true }],
    ['a socket mark given in decimal is compared in hex', save({ nat: '-A OUTPUT -m mark ! --mark 0x539 -j REDIRECT --to-ports 15001' }), app({ mark: 1337 }), { intercepted: false }],
    ['CONNMARK --save-mark then connmark match', save({ mangle: '-A OUTPUT -j MARK --set-xmark 0x7/0xffffffff\n-A OUTPUT -j CONNMARK --save-mark --nfmask 0xffffffff --ctmask 0xffffffff', nat: '-A OUTPUT -m connmark --mark 0x7 -j REDIRECT --to-ports 15001' }), app(), { intercepted: true }],
    ['CONNMARK --restore-mark copies the connection mark', save({ mangle: '-A OUTPUT -j CONNMARK --set-xmark 0x9/0xffffffff\n-A OUTPUT -j CONNMARK --restore-mark --nfmask 0xffffffff --ctmask 0xffffffff', nat: '-A OUTPUT -m mark --mark 0x9 -j REDIRECT --to-ports 15001' }), app(), { intercepted: true }],
    ['CT --zone in raw continues to nat', save({ raw: '-A OUTPUT -p tcp -j CT --zone 1', nat: '-A OUTPUT -j REDIRECT --to-ports 15001' }), app(), { intercepted: true }],
    ['NOTRACK in raw keeps nat from seeing the connection', save({ raw: '-A OUTPUT -p tcp -j CT --notrack', nat: '-A OUTPUT -j REDIRECT --to-ports 15001' }), app(), { intercepted: false }],
    ['LOG continues with the next rule', save({ nat: '-A OUTPUT -j LOG --log-prefix "out: "\n-A OUTPUT -j REDIRECT --to-ports 15001' }), app(), { intercepted: true, chosen: 'OUTPUT #2' }],
    ['NFLOG continues with the next rule', save({ nat: '-A OUTPUT -j NFLOG --nflog-prefix x --nflog-group 1\n-A OUTPUT -j REDIRECT --to-ports 15001' }), app(), { intercepted: true }],
    ['a rule without a target only counts', save({ nat: '-A OUTPUT -p tcp\n-A OUTPUT -j REDIRECT --to-ports 15001' }), app(), { intercepted: true, chosen: 'OUTPUT #2' }],
    ['--ctstate NEW matches the first packet', save({ nat: '-A OUTPUT -m conntrack --ctstate NEW -j REDIRECT --to-ports 15001' }), app(), { intercepted: true }],
    ['--ctstate RELATED,ESTABLISHED does not match the first packet', save({ nat: '-A OUTPUT -m conntrack --ctstate RELATED,ESTABLISHED -j REDIRECT --to-ports 15001' }), app(), { intercepted: false }],
    ['-m state --state NEW is the old spelling', save({ nat: '-A OUTPUT -m state --state NEW -j REDIRECT --to-ports 15001' }), app(), { intercepted: true }],
    ['--ctstate DNAT holds after nat rewrote the destination', save({ nat: '-A OUTPUT -j REDIRECT --to-ports 15001', filter: '-A OUTPUT -m conntrack --ctstate DNAT -j DROP' }), app(), { intercepted: false, dropped: true }],
    ['a comment always matches', save({ nat: '-A OUTPUT -m comment --comment "say \\"hi\\"" -j REDIRECT --to-ports 15001' }), app(), { intercepted: true }],
    ['--dst-type LOCAL matches the pod IP', save({ nat: '-A OUTPUT -m addrtype --dst-type LOCAL -j REDIRECT --to-ports 15001' }), app({ dstIp: POD }), { intercepted: true }],
    ['--dst-type LOCAL does not match a remote address', save({ nat: '-A OUTPUT -m addrtype --dst-type LOCAL -j REDIRECT --to-ports 15001' }), app(), { intercepted: false }],
    ['-m socket is false for the first SYN', save({ mangle: '-A PREROUTING -p tcp -m tcp --syn -m socket -j DROP' }), inbound(), { intercepted: false, dropped: false }],
    ['--syn matches the first packet', save({ nat: '-A OUTPUT -p tcp -m tcp --syn -j REDIRECT --to-ports 15001' }), app(), { intercepted: true }],
    ['REDIRECT in PREROUTING goes to the pod IP', save({ nat: '-A PREROUTING -p tcp -j REDIRECT --to-ports 15006' }), inbound(), { intercepted: true, port: 15006 }],
    ['REDIRECT without --to-ports keeps the port', save({ nat: '-A OUTPUT -p tcp -j REDIRECT' }), app(), { intercepted: true, port: 80 }],
    ['TPROXY in mangle PREROUTING intercepts without nat', save({ mangle: '-A PREROUTING -p tcp -j TPROXY --on-port 15006 --on-ip 0.0.0.0 --tproxy-mark 0x539/0xffffffff' }), inbound(), { intercepted: true, port: 15006 }],
    ['an unknown match is unresolved', save({ nat: '-A OUTPUT -m set --match-set foo dst -j RETURN\n-A OUTPUT -j REDIRECT --to-ports 15001' }), app(), { intercepted: null, chosen: 'OUTPUT #1' }],
    ['an unknown target is unresolved', save({ nat: '-A OUTPUT -j TEE --gateway 10.0.0.1' }), app(), { intercepted: null }],
    ['a match that is not reached does not make the trace unresolved', save({ nat: '-A OUTPUT -j REDIRECT --to-ports 15001\n-A OUTPUT -m statistic --mode random --probability 0.5 -j RETURN' }), app(), { intercepted: true }],
  ]
  it.each(rows)('%s', (_name, text, conn, want) => {
    const rules = parseRules(text)

    const t = traceIptables(rules, conn)

    expect(t.intercepted).toBe(want.intercepted)
    if (want.port !== undefined) expect(t.redirectPort).toBe(want.port)
    expect(t.dropped).toBe(want.dropped ?? false)
    if (want.chosen) expect(t.steps.map((s) => s.chosen?.name)).toContain(want.chosen)
  })
})

describe('traceIptables: kernel surprises (each found or confirmed by the kernel differential test)', () => {
  it.each(KERNEL_SURPRISES.map((k) => [k.name, k] as const))('%s', (_n, k) => {
    const t = traceIptables(parseRules(k.rules), surpriseConnection(k))

    expect([t.intercepted, t.dropped]).toEqual([k.intercepted, k.dropped])
  })

  it.each([
    ['no nat table', save({ filter: '-A INPUT -i lo -p tcp -m tcp --dport 8080 -j DROP' })],
    ['untracked (nat skipped)', save({ raw: '-A OUTPUT -p tcp -j CT --notrack', filter: '-A INPUT -i lo -p tcp -m tcp --dport 8080 -j DROP' })],
  ])('a connection to the pod IP is dropped at its first packet on re-entry over lo (%s), not at the ACK', (_n, rules) => {
    const t = traceIptables(parseRules(rules), app({ dstIp: POD, dstPort: 8080 }))
    const drop = t.steps.find((s) => s.outcome === 'dropped')

    expect(drop?.decision).toMatchObject({ table: 'filter', hook: 'INPUT', inInterface: 'lo' })
    // A follow-up packet (SYN-ACK, ACK) is marked with decision.packet; the SYN itself is not.
    expect(drop?.decision.packet).toBeUndefined()
  })
})

describe('traceIptables: where the connection is delivered', () => {
  it.each([
    ['REDIRECT in OUTPUT goes to 127.0.0.1', save({ nat: '-A OUTPUT -p tcp -j REDIRECT --to-ports 15001' }), app(), { ip: '127.0.0.1', port: 15001 }],
    ['REDIRECT in ip6tables OUTPUT goes to ::1', `# Generated by ip6tables-save v1.8.9\n${save({ nat: '-A OUTPUT -p tcp -j REDIRECT --to-ports 15001' })}`, app({ srcIp: 'fd00::5', dstIp: '2001:db8::9', podIps: ['fd00::5'] }), { ip: '::1', port: 15001 }],
    ['REDIRECT in PREROUTING goes to the primary address of eth0', save({ nat: '-A PREROUTING -p tcp -j REDIRECT --to-ports 15006' }), inbound(), { ip: POD, port: 15006 }],
    ['TPROXY with --on-ip 0.0.0.0 keeps the original address', save({ mangle: '-A PREROUTING -p tcp -j TPROXY --on-port 15006 --on-ip 0.0.0.0 --tproxy-mark 0x539/0xffffffff' }), inbound(), { ip: POD, port: 15006 }],
    ['DNAT names the new address', save({ nat: `-A OUTPUT -p tcp -j DNAT --to-destination ${POD}:8080` }), app(), { ip: POD, port: 8080 }],
    ['not intercepted: nothing is delivered', save({ nat: '-A OUTPUT -p udp -j REDIRECT --to-ports 15001' }), app(), null],
  ] as const)('%s', (_n, text, conn, want) => {
    const t = traceIptables(parseRules(text), conn)

    expect(t.delivered).toEqual(want)
    expect(t.originalDst).toEqual({ ip: conn.dstIp, port: conn.dstPort })
  })
})

describe('traceIptables: the worked examples of iptables-semantics.md §6', () => {
  const r122 = parseRules(ISTIO_122_SAVE)
  const r11 = parseRules(ISTIO_11_SAVE)
  const REVIEWS = '10.244.2.5'
  it.each([
    ['1. app → ratings:9080 is redirected to 15001', r122, app({ dstIp: '10.96.12.34', dstPort: 9080 }), { intercepted: true, port: 15001, delivered: { ip: '127.0.0.1', port: 15001 }, chosen: 'ISTIO_REDIRECT #1' }],
    ['2. Envoy (uid 1337) → 10.244.1.7:9080 is RETURNed by rule (4)', r122, app({ uid: 1337, dstIp: '10.244.1.7', dstPort: 9080 }), { intercepted: false, port: null, delivered: null, chosen: 'ISTIO_OUTPUT #4' }],
    ['3. inbound to 9080 is redirected to 15006 on the pod IP', r122, inbound({ dstIp: REVIEWS }), { intercepted: true, port: 15006, delivered: { ip: REVIEWS, port: 15006 }, chosen: 'ISTIO_IN_REDIRECT #1' }],
    ['4. Envoy from 127.0.0.6 → app over lo is RETURNed by rule (1)', r122, app({ uid: 1337, srcIp: '127.0.0.6', dstIp: REVIEWS, dstPort: 9080 }), { intercepted: false, port: null, delivered: null, chosen: 'ISTIO_OUTPUT #1' }],
    ['5. hairpin: Envoy → own pod IP goes to 15006 by rule (2)', r122, app({ uid: 1337, dstIp: REVIEWS, dstPort: 9080 }), { intercepted: true, port: 15006, delivered: { ip: '127.0.0.1', port: 15006 }, chosen: 'ISTIO_IN_REDIRECT #1' }],
    ['5. hairpin in the 1.1 layout goes to 15001', r11, app({ uid: 1337, dstIp: REVIEWS, dstPort: 9080 }), { intercepted: true, port: 15001, delivered: { ip: '127.0.0.1', port: 15001 }, chosen: 'ISTIO_REDIRECT #1' }],
    ['6. app → own pod IP bypasses Envoy by rule (3)', r122, app({ dstIp: REVIEWS, dstPort: 9080 }), { intercepted: false, port: null, delivered: null, chosen: 'ISTIO_OUTPUT #3' }],
    ['6. app → own pod IP in the 1.1 layout goes to 15001', r11, app({ dstIp: REVIEWS, dstPort: 9080 }), { intercepted: true, port: 15001, delivered: { ip: '127.0.0.1', port: 15001 }, chosen: 'ISTIO_REDIRECT #1' }],
    ['7. DNS over udp to the nameserver goes to 15053', r122, app({ protocol: 'udp', dstIp: '10.96.0.10', dstPort: 53 }), { intercepted: true, port: 15053, delivered: { ip: '127.0.0.1', port: 15053 }, chosen: 'OUTPUT #4' }],
    ['7. DNS over tcp to the nameserver goes to 15053', r122, app({ dstIp: '10.96.0.10', dstPort: 53 }), { intercepted: true, port: 15053, delivered: { ip: '127.0.0.1', port: 15053 }, chosen: 'ISTIO_OUTPUT #8' }],
    ["7. the agent's own DNS query (uid 1337) is RETURNed", r122, app({ protocol: 'udp', uid: 1337, dstIp: '10.96.0.10', dstPort: 53 }), { intercepted: false, port: null, delivered: null, chosen: 'OUTPUT #2' }],
    ['inbound to 15008 is RETURNed (HBONE)', r122, inbound({ dstPort: 15008 }), { intercepted: false, port: null, delivered: null, chosen: 'ISTIO_INBOUND #1' }],
    ['inbound in the 1.1 layout is captured to 15001', r11, inbound({ dstPort: 9080 }), { intercepted: true, port: 15001, delivered: { ip: REVIEWS, port: 15001 }, chosen: 'ISTIO_IN_REDIRECT #1' }],
    ['inbound in the 1.1 layout to an undeclared port is not captured', r11, inbound({ dstPort: 8080 }), { intercepted: false, port: null, delivered: null }],
  ] as const)('%s', (_n, rules, conn, want) => {
    const t = traceIptables(rules, conn)

    expect(t.intercepted).toBe(want.intercepted)
    expect(t.redirectPort).toBe(want.port)
    expect(t.delivered).toEqual(want.delivered)
    expect(t.mesh).toBe('istio')
    if ('chosen' in want) expect(t.steps.map((s) => s.chosen?.name)).toContain(want.chosen)
  })
})

describe('traceIptables: TPROXY layout', () => {
  const rules = parseRules(ISTIO_TPROXY_SAVE)
  it.each([
    ['inbound is TPROXYed to 15006 in mangle PREROUTING', inbound(), { intercepted: true, port: 15006, stepHook: 'mangle PREROUTING' }],
    ['Envoy → app from 127.0.0.6 over lo is RETURNed in ISTIO_INBOUND', app({ uid: 1337, srcIp: '127.0.0.6', dstIp: POD, dstPort: 9080 }), { intercepted: false, port: null, stepHook: 'nat OUTPUT' }],
    ['outbound is still REDIRECTed in nat OUTPUT', app(), { intercepted: true, port: 15001, stepHook: 'nat OUTPUT' }],
  ] as const)('%s', (_n, conn, want) => {
    const t = traceIptables(rules, conn)

    expect(t.intercepted).toBe(want.intercepted)
    expect(t.redirectPort).toBe(want.port)
    expect(t.steps.some((s) => `${s.decision.table} ${s.decision.hook}` === want.stepHook)).toBe(true)
  })
})

describe('traceIptables: TPROXY explanations', () => {
  it('the nat step after a TPROXY does not claim the connection was missed', () => {
    const t = traceIptables(parseRules(ISTIO_TPROXY_SAVE), inbound())

    const nat = t.steps.find((s) => s.decision.table === 'nat')!
    expect(nat.summary).toContain('TPROXY in mangle PREROUTING already delivered it to 15006')
    expect(t.steps.flatMap((s) => s.findings).map((f) => f.code)).not.toContain('not-intercepted')
  })
})

describe('traceIptables: explanation of the Istio 1.22 layout', () => {
  it('app uid 1000 outbound: rules (1)-(5) and the exclusions are rejected with codes, in order', () => {
    const t = traceIptables(parseRules(ISTIO_122_SAVE), app({ dstIp: '10.96.12.34', dstPort: 9080 }))

    const nat = t.steps.find((s) => s.decision.table === 'nat')!
    expect(nat.outcome).toBe('matched')
    expect(nat.decision).toMatchObject({ table: 'nat', hook: 'OUTPUT', chainPath: ['OUTPUT', 'ISTIO_OUTPUT', 'ISTIO_REDIRECT'], target: 'REDIRECT', toPort: 15001, mesh: 'istio', newDestination: '127.0.0.1:15001' })
    expect(nat.decision.portMeaning).toMatch(/outbound/)
    expect(nat.chosen).toMatchObject({ kind: 'rule', name: 'ISTIO_REDIRECT #1', source: { file: 'iptables-save', line: 43 }, excerpt: '-A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001' })
    expect(nat.rejected.map((r) => [r.candidate.name, r.reason])).toEqual([
      ['ISTIO_OUTPUT #1', 'source-mismatch'],
      ['ISTIO_OUTPUT #2', 'out-interface-mismatch'],
      ['ISTIO_OUTPUT #3', 'out-interface-mismatch'],
      ['ISTIO_OUTPUT #4', 'owner-mismatch'],
      ['ISTIO_OUTPUT #5', 'out-interface-mismatch'],
      ['ISTIO_OUTPUT #6', 'out-interface-mismatch'],
      ['ISTIO_OUTPUT #7', 'owner-mismatch'],
      ['ISTIO_OUTPUT #8', 'destination-mismatch'],
      ['ISTIO_OUTPUT #9', 'destination-mismatch'],
      ['ISTIO_OUTPUT #10', 'destination-mismatch'],
    ])
    expect(nat.rejected[3].evidence).toEqual([{ field: 'uid', expected: '1337', actual: '1000' }])
    expect(nat.evidence.map((e) => e.field)).toEqual(['OUTPUT #1 protocol', 'ISTIO_REDIRECT #1 protocol'])
    expect(nat.summary).toBe('nat OUTPUT: ISTIO_OUTPUT #11 jumps to ISTIO_REDIRECT, which REDIRECTs to 15001 (Envoy outbound capture (virtualOutbound))')
  })

  it('uid 1337 outbound: the RETURN rule is chosen, and the rules before it are rejected', () => {
    const t = traceIptables(parseRules(ISTIO_122_SAVE), app({ uid: 1337, dstIp: '10.244.1.7', dstPort: 9080 }))

    const nat = t.steps.find((s) => s.decision.table === 'nat')!
    expect(nat.outcome).toBe('passed')
    expect(nat.chosen?.name).toBe('ISTIO_OUTPUT #4')
    expect(nat.evidence).toContainEqual({ field: 'ISTIO_OUTPUT #4 uid', expected: '1337', actual: '1337' })
    expect(nat.rejected.map((r) => r.reason)).toEqual(['source-mismatch', 'out-interface-mismatch', 'out-interface-mismatch', 'protocol-mismatch', 'protocol-mismatch', 'destination-mismatch'])
    expect(nat.findings.map((f) => f.code)).toContain('not-intercepted')
  })

  it('the loopback re-entry skip is a decision note', () => {
    const t = traceIptables(parseRules(ISTIO_122_SAVE), app({ dstIp: '10.244.2.5', dstPort: 9080 }))

    const nat = t.steps.find((s) => s.decision.table === 'nat')!
    expect(String(nat.decision.notes)).toMatch(/nat PREROUTING is not consulted/)
  })

  // xt_CT.c: "Previously seen (loopback or untracked)? Ignore." — a later CT rule does not change the zone.
  it('a raw CT --zone rule gets its own step, and the first CT rule wins', () => {
    const t = traceIptables(parseRules(ISTIO_122_SAVE), app({ protocol: 'udp', uid: 1337, dstIp: '10.96.0.10', dstPort: 53 }))

    const raw = t.steps.find((s) => s.decision.table === 'raw')!
    expect(raw.outcome).toBe('matched')
    expect(raw.chosen?.name).toBe('OUTPUT #1')
    expect(raw.summary).toMatch(/zone 1/)
  })

  it('an unknown match names the construct and the rule line', () => {
    const t = traceIptables(parseRules(save({ nat: '-A OUTPUT -m set --match-set probes dst -j RETURN' })), app())

    const s = t.steps[0]
    expect(s.outcome).toBe('unresolved')
    expect(s.decision.construct).toBe('-m set --match-set probes dst')
    expect(s.chosen?.source.line).toBe(6)
    expect(s.findings.map((f) => f.code)).toContain('unresolved-construct')
  })
})
