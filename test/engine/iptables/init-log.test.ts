import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { normalizeLogLines, parseInitLogVariables, stripLogPrefixes } from '../../../src/engine/iptables/init-log.js'
import { traceIptables } from '../../../src/engine/iptables/netfilter.js'
import { parseRules } from '../../../src/engine/iptables/parse.js'
import type { Ruleset } from '../../../src/engine/iptables/parse.js'

const FIXTURES = fileURLToPath(new URL('../../fixtures/init-logs/', import.meta.url))
const read = (name: string) => readFileSync(`${FIXTURES}${name}`, 'utf8')

/** The rules as a comparable value: tables, chains and typed rules, ignoring spelling, order of matches and line numbers. */
function canonical(rs: Ruleset | undefined): unknown {
  if (!rs) return null
  return [...rs.tables.values()]
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((t) => [
      t.name,
      [...t.chains.values()]
        .filter((c) => c.policy === null || c.rules.length > 0)
        .sort((a, b) => a.name.localeCompare(b.name))
        .map((c) => [
          c.name,
          c.policy,
          c.rules.map((r) => ({
            matches: r.matches.map(({ text: _t, ...m }) => JSON.stringify(m)).sort(),
            target: r.target?.kind === 'verdict' ? { kind: 'verdict', verdict: r.target.verdict } : r.target,
          })),
        ]),
    ])
}

/** Everything before the line that starts the iptables-save output: what the log says was written. */
function beforeSave(text: string, marker: RegExp): string {
  const lines = text.split('\n')
  const at = lines.findIndex((l) => marker.test(l))
  return lines.map((l, i) => (i >= at ? '' : l)).join('\n')
}

const SAVE_14 = read('bash-1.4.log').split('\n').slice(read('bash-1.4.log').split('\n').indexOf('+ iptables-save') + 1, read('bash-1.4.log').split('\n').indexOf('+ ip6tables-save')).join('\n')
const SAVE_122 = (() => {
  const lines = read('go-1.6.log').split('\n')
  const from = lines.indexOf('iptables-save ') + 1
  return lines.slice(from, lines.indexOf('ip6tables-save ')).join('\n')
})()

describe('init logs of every era yield the same rules as the dump they contain', () => {
  it.each([
    ['bash (≤1.4) set -x + iptables-save', 'bash-1.4.log', SAVE_14, /^\+ iptables-save$/],
    ['bash log behind CRI prefixes', 'cri-bash-1.4.log', SAVE_14, /F \+ iptables-save$/],
    ['Go 1.5–1.12: rules file + restore + iptables-save', 'go-1.6.log', SAVE_122, /^iptables-save $/],
    ['Go 1.6 log as docker JSON lines', 'docker-json-1.6.log', SAVE_122, /"log": "iptables-save \\n"/],
    ['1.13+ structured log with Final iptables state', 'structured-1.22.log', SAVE_122, /Final iptables state/],
  ])('%s', (_n, file, reference, saveMarker) => {
    const text = read(file)

    const fromLog = parseRules(text)
    const intended = parseRules(beforeSave(text, saveMarker))

    expect(fromLog.v4?.form).toBe('save')
    expect(fromLog.v4?.partial).toBeUndefined()
    expect(canonical(fromLog.v4)).toEqual(canonical(parseRules(reference).v4))
    expect(['restore', 'commands']).toContain(intended.v4?.form)
    expect(canonical(intended.v4)).toEqual(canonical(fromLog.v4))
  })

  it('keeps the ip6tables-save dump of a bash log apart from IPv4', () => {
    const r = parseRules(read('bash-1.4.log'))

    expect(r.v6?.tables.get('filter')?.chains.get('INPUT')?.rules.map((x) => x.text)).toEqual([
      '-A INPUT -m state --state ESTABLISHED -j ACCEPT',
      '-A INPUT -d ::1/128 -i lo -j ACCEPT',
      '-A INPUT -j REJECT --reject-with icmp6-port-unreachable',
    ])
    expect(r.v4?.tables.has('filter')).toBe(false)
  })

  it('gives rule lines of the raw log, even behind prefixes', () => {
    const text = read('docker-json-1.6.log')

    const r = parseRules(text, 'istio-init.log')
    const rule = r.v4!.tables.get('nat')!.chains.get('ISTIO_REDIRECT')!.rules[0]

    expect(JSON.parse(text.split('\n')[rule.line - 1]).log).toBe('-A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001\n')
    expect(r.v4?.file).toBe('istio-init.log')
  })

  it('traces the same way from a log as from the plain dump', () => {
    const conn = { direction: 'outbound' as const, protocol: 'tcp' as const, srcIp: '10.244.2.5', srcPort: 40000, dstIp: '203.0.113.9', dstPort: 80, uid: 1000, podIps: ['10.244.2.5'] }

    const t = traceIptables(parseRules(read('structured-1.22.log')), conn)

    expect([t.intercepted, t.redirectPort]).toEqual([true, 15001])
  })
})

describe('restore input in a log, without a final dump', () => {
  it("reads the 'Running iptables restore with: … and the following input' wording per family", () => {
    const log = [
      '2023-02-01T10:00:00.000000Z\tinfo\tRunning iptables restore with: iptables-restore and the following input:',
      '* nat',
      '-N ISTIO_REDIRECT',
      '-A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001',
      '-A OUTPUT -p tcp -j ISTIO_REDIRECT',
      'COMMIT',
      '2023-02-01T10:00:00.000100Z\tinfo\tRunning iptables restore with: ip6tables-restore and the following input:',
      '* nat',
      '-N ISTIO_REDIRECT',
      '-A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001',
      'COMMIT',
    ].join('\n')

    const r = parseRules(log)

    expect([r.v4?.form, r.v6?.form]).toEqual(['restore', 'restore'])
    expect(r.v4?.tables.get('nat')?.chains.get('OUTPUT')?.rules).toHaveLength(1)
    expect(r.v6?.tables.get('nat')?.chains.get('OUTPUT')?.rules).toHaveLength(0)
  })
})

describe('crash-looping init containers leave partial rules', () => {
  it.each([
    ['iptables-restore failed: nothing of that input was applied', 'crashloop-restore-failed.log', 'iptables-restore: line 3 failed', 0],
    ['a flag error before any rule', 'crashloop-invalid-cidr.log', 'invalid CIDR address: -b', 0],
  ])('%s', (_n, file, quote, ruleCount) => {
    const r = parseRules(read(file))

    expect(r.v4?.partial).toBe(true)
    expect(r.v4?.notes.join(' ')).toContain(JSON.stringify(quote))
    const count = [...(r.v4?.tables.values() ?? [])].flatMap((t) => [...t.chains.values()]).reduce((a, c) => a + c.rules.length, 0)
    expect(count).toBe(ruleCount)
  })

  it('a failed setup shows up as a rules-partial finding', () => {
    const conn = { direction: 'outbound' as const, protocol: 'tcp' as const, srcIp: '10.244.2.5', srcPort: 40000, dstIp: '203.0.113.9', dstPort: 80, uid: 1000, podIps: ['10.244.2.5'] }

    const t = traceIptables(parseRules(read('crashloop-restore-failed.log')), conn)

    expect(t.steps[0].findings.map((f) => f.code)).toEqual(expect.arrayContaining(['rules-partial', 'rules-empty', 'not-intercepted']))
    expect(t.intercepted).toBe(false)
  })
})

describe('log prefixes', () => {
  it.each([
    ['a CRI line', '2019-12-13T21:38:18.123456789Z stdout F -A OUTPUT -j RETURN', '-A OUTPUT -j RETURN'],
    ['a partial CRI line', '2019-12-13T21:38:18Z stderr P iptables: Chain already exists.', 'iptables: Chain already exists.'],
    ['a docker JSON line', '{"log":"*nat\\n","stream":"stdout","time":"2020-09-13T12:26:40Z"}', '*nat'],
    ['an Istio logger line', '2024-05-10T08:15:02.001013Z\tinfo\tFinal iptables state (IPv4):', 'Final iptables state (IPv4):'],
    ['a set -x line', '+ iptables -t nat -N ISTIO_REDIRECT', 'iptables -t nat -N ISTIO_REDIRECT'],
    ['a plain rule stays as it is', '-A OUTPUT -p tcp -j ISTIO_OUTPUT', '-A OUTPUT -p tcp -j ISTIO_OUTPUT'],
  ])('%s', (_n, raw, text) => {
    expect(stripLogPrefixes(raw).text).toBe(text)
  })

  it('keeps one output line per input line', () => {
    expect(normalizeLogLines('a\nb\n').map((l) => l.line)).toEqual([1, 2, 3])
  })

  it.each([
    ['Go 1.6 Variables block', 'go-1.6.log', { PROXY_UID: '1337', INBOUND_PORTS_EXCLUDE: '15090,15021,15020', PROXY_INBOUND_CAPTURE_PORT: '15006' }],
    ['structured variables', 'structured-1.22.log', { PROXY_GID: '1337', PROXY_TUNNEL_PORT: '15008' }],
    ['bash Variables block', 'bash-1.4.log', { PROXY_PORT: '15001', INBOUND_PORTS_INCLUDE: '*' }],
  ])('reads the %s', (_n, file, want) => {
    expect(parseInitLogVariables(read(file))).toMatchObject(want)
  })
})
