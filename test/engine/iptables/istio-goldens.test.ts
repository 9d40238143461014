import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { traceIptables } from '../../../src/engine/iptables/netfilter.js'
import type { Connection, IptablesTrace } from '../../../src/engine/iptables/netfilter.js'
import { parseRules } from '../../../src/engine/iptables/parse.js'
import type { Ruleset } from '../../../src/engine/iptables/parse.js'

// Istio's own goldens, read in place (never copied into the repo); the cases are skipped when the directory is absent.
const UPSTREAM = fileURLToPath(new URL('../../../../shared/upstream/istio-iptables/', import.meta.url))
const HAVE_UPSTREAM = existsSync(UPSTREAM)
const SCENARIO_DIRS = ['v1.22.0/sidecar-capture', 'v1.24.0/sidecar-capture', 'master/sidecar-capture', 'master/sidecar-cni-plugin']

interface Form {
  name: string
  v4?: Ruleset
  v6?: Ruleset
  /** Why a form is left out of the comparison (e.g. a group name only NSS can resolve). */
  skip?: string
}

function formsOf(dir: string, scenario: string): Form[] {
  const files = readdirSync(`${UPSTREAM}${dir}`).filter((f) => f === `${scenario}.golden` || f === `${scenario}.txt.golden` || f.startsWith(`${scenario}.`) && f.endsWith('-save.txt'))
  return files.map((f) => {
    const text = readFileSync(`${UPSTREAM}${dir}/${f}`, 'utf8')
    const parsed = parseRules(text, f)
    const named = /--(uid|gid)-owner [A-Za-z_]/.test(text)
    return { name: f, v4: parsed.v4, v6: parsed.v6, skip: named ? 'uses a group name that only NSS resolves' : undefined }
  })
}

function scenariosOf(dir: string): string[] {
  return [...new Set(readdirSync(`${UPSTREAM}${dir}`).filter((f) => f.endsWith('.golden')).map((f) => f.replace(/(\.txt)?\.golden$/, '')))].sort()
}

function dnsServer(rs: Ruleset | undefined, fallback: string): string {
  for (const t of rs?.tables.values() ?? [])
    for (const c of t.chains.values())
      for (const r of c.rules)
        if (r.target?.kind === 'redirect' && r.target.toPorts?.min === 15053) {
          const d = r.matches.find((m) => m.kind === 'destination' && !m.negated)
          if (d && d.kind === 'destination') return d.cidr.network.text
        }
  return fallback
}

function connections(family: 'v4' | 'v6', dns: string): Array<[string, Connection]> {
  const v4 = family === 'v4'
  const pod = v4 ? '10.244.2.5' : 'fd00::5'
  const remote = v4 ? '203.0.113.9' : '2600::9'
  const lo = v4 ? '127.0.0.1' : '::1'
  const envoySrc = v4 ? '127.0.0.6' : '::6'
  const peer = v4 ? '198.51.100.10' : '2001:db8:ffff::10'
  const out = (uid: number, dstIp: string, dstPort: number, protocol: 'tcp' | 'udp' = 'tcp', srcIp = pod): Connection => ({ direction: 'outbound', protocol, srcIp, srcPort: 40000, dstIp, dstPort, uid, podIps: [pod] })
  const inb = (dstPort: number): Connection => ({ direction: 'inbound', protocol: 'tcp', srcIp: peer, srcPort: 40000, dstIp: pod, dstPort, podIps: [pod] })
  return [
    ['app uid 1000 → remote:80', out(1000, remote, 80)],
    ['app uid 1000 → remote in 9.9/16 or 2001:db8::/32', out(1000, v4 ? '9.9.1.1' : '2001:db8::9', 443)],
    ['app uid 1000 → remote in 1.1/16', out(1000, v4 ? '1.1.1.1' : '2001:db9::1', 443)],
    ['app uid 1000 → loopback:8080', out(1000, lo, 8080)],
    ['app uid 1000 → own pod IP:8080', out(1000, pod, 8080)],
    ['app uid 3 → remote:80', out(3, remote, 80)],
    ['proxy uid 1337 → remote:80', out(1337, remote, 80)],
    ['proxy uid 1337 → own pod IP (hairpin)', out(1337, pod, 8080)],
    ['proxy from 127.0.0.6 → own pod IP', out(1337, pod, 8080, 'tcp', envoySrc)],
    ['inbound → 9080', inb(9080)],
    ['inbound → 15008', inb(15008)],
    ['inbound → 15090', inb(15090)],
    ['inbound → 15020', inb(15020)],
    ['inbound → 32000', inb(32000)],
    ['app udp → DNS server:53', out(1000, dns, 53, 'udp')],
    ['app tcp → DNS server:53', out(1000, dns, 53)],
    ['proxy udp → DNS server:53', out(1337, dns, 53, 'udp')],
    ['app udp → remote:53', out(1000, remote, 53, 'udp')],
  ]
}

function signature(t: IptablesTrace): string {
  return JSON.stringify({ intercepted: t.intercepted, port: t.redirectPort, dropped: t.dropped, delivered: t.delivered })
}

describe.skipIf(!HAVE_UPSTREAM)('Istio goldens: every form of a scenario simulates identically', () => {
  const cases = HAVE_UPSTREAM ? SCENARIO_DIRS.flatMap((dir) => scenariosOf(dir).map((s) => [`${dir}/${s}`, dir, s] as const)) : []
  it.each(cases)('%s', (_n, dir, scenario) => {
    const forms = formsOf(dir, scenario)

    for (const family of ['v4', 'v6'] as const) {
      const withFamily = forms.filter((f) => f[family] !== undefined && !f.skip)
      if (withFamily.length < 2) continue
      const dns = dnsServer(withFamily[0][family], family === 'v4' ? '10.96.0.10' : 'fd00::a')
      for (const [label, conn] of connections(family, dns)) {
        const results = withFamily.map((f) => [f.name, signature(traceIptables({ [family]: f[family] }, conn))] as const)
        const distinct = new Set(results.map((r) => r[1]))
        expect(distinct.size, `${scenario} ${family} ${label}: ${results.map((r) => `${r[0]} → ${r[1]}`).join('; ')}`).toBe(1)
      }
    }
  })

  it.each(HAVE_UPSTREAM ? SCENARIO_DIRS : [])('%s: every form parses into the same tables and rule counts', (dir) => {
    for (const scenario of scenariosOf(dir)) {
      const forms = formsOf(dir, scenario)
      for (const family of ['v4', 'v6'] as const) {
        const counts = forms.filter((f) => f[family]).map((f) => JSON.stringify([...f[family]!.tables.values()].map((t) => [t.name, [...t.chains.values()].reduce((a, c) => a + c.rules.length, 0)]).sort()))

        expect(new Set(counts).size, `${dir}/${scenario} ${family}`).toBeLessThanOrEqual(1)
      }
    }
  })
})

describe.skipIf(!HAVE_UPSTREAM)('Istio goldens: one scenario, three rule layouts (1.22, 1.24, master), the same verdicts', () => {
  const VERSIONS = ['v1.22.0', 'v1.24.0', 'master']
  const common = HAVE_UPSTREAM
    ? scenariosOf('master/sidecar-capture').filter((s) => VERSIONS.every((v) => existsSync(`${UPSTREAM}${v}/sidecar-capture/${s}.iptables-save.txt`)))
    : []
  it.each(common)('%s', (scenario) => {
    for (const family of ['v4', 'v6'] as const) {
      const file = family === 'v4' ? 'iptables-save' : 'ip6tables-save'
      const paths = VERSIONS.map((v) => `${UPSTREAM}${v}/sidecar-capture/${scenario}.${file}.txt`)
      if (!paths.every((p) => existsSync(p))) continue
      const rules = paths.map((p) => parseRules(readFileSync(p, 'utf8'))[family])
      const dns = dnsServer(rules[0], family === 'v4' ? '10.96.0.10' : 'fd00::a')
      for (const [label, conn] of connections(family, dns)) {
        const results = rules.map((r, i) => `${VERSIONS[i]} → ${signature(traceIptables({ [family]: r }, conn))}`)

        expect(new Set(results.map((r) => r.split(' → ')[1])).size, `${scenario} ${family} ${label}: ${results.join('; ')}`).toBe(1)
      }
    }
  })
})

describe.skipIf(!HAVE_UPSTREAM)('Istio goldens: verdicts that Istio documents', () => {
  const load = (path: string) => parseRules(readFileSync(`${UPSTREAM}${path}`, 'utf8'))
  const pod = '10.244.2.5'
  const out = (uid: number, dstIp: string, dstPort: number, protocol: 'tcp' | 'udp' = 'tcp'): Connection => ({ direction: 'outbound', protocol, srcIp: pod, srcPort: 40000, dstIp, dstPort, uid, podIps: [pod] })
  const inb = (dstPort: number): Connection => ({ direction: 'inbound', protocol: 'tcp', srcIp: '198.51.100.10', srcPort: 40000, dstIp: pod, dstPort, podIps: [pod] })
  it.each([
    ['cni basic: app outbound is redirected to 15001', 'master/sidecar-cni-plugin/basic.iptables-save.txt', out(1000, '203.0.113.9', 80), 15001],
    ['cni basic: inbound 9080 is redirected to 15006', 'master/sidecar-cni-plugin/basic.iptables-save.txt', inb(9080), 15006],
    ['cni basic: inbound 15008 is not captured', 'master/sidecar-cni-plugin/basic.iptables-save.txt', inb(15008), null],
    ['cni basic: inbound 15021 is not captured', 'master/sidecar-cni-plugin/basic.iptables-save.txt', inb(15021), null],
    ['cni basic: outbound to 15020 is excluded', 'master/sidecar-cni-plugin/basic.iptables-save.txt', out(1000, '203.0.113.9', 15020), null],
    ['cni basic: proxy uid 1337 is not captured', 'master/sidecar-cni-plugin/basic.iptables-save.txt', out(1337, '203.0.113.9', 80), null],
    ['cni include-exclude-ports: outbound 5555 is excluded', 'master/sidecar-cni-plugin/include-exclude-ports.iptables-save.txt', out(1000, '203.0.113.9', 5555), null],
    ['cni include-exclude-ip: 10/8 is excluded', 'master/sidecar-cni-plugin/include-exclude-ip.iptables-save.txt', out(1000, '10.1.2.3', 80), null],
    ['cni custom-uid: uid 1000670000 is the proxy', 'master/sidecar-cni-plugin/custom-uid.iptables-save.txt', out(1000670000, '203.0.113.9', 80), null],
    ['cni dns: app DNS is captured to 15053', 'master/sidecar-cni-plugin/dns.iptables-save.txt', out(1000, '203.0.113.53', 53, 'udp'), 15053],
    ['master tproxy: inbound is TPROXYed to 15006', 'master/sidecar-capture/tproxy.iptables-save.txt', inb(9080), 15006],
    ['master tproxy: outbound to 1.1/16 is excluded', 'master/sidecar-capture/tproxy.iptables-save.txt', out(1000, '1.1.1.1', 80), null],
    ['master tproxy: outbound to 9.9/16 is included', 'master/sidecar-capture/tproxy.iptables-save.txt', out(1000, '9.9.9.9', 80), 15001],
    ['master basic-exclude-nic: packets leaving not-istio-nic are not touched', 'master/sidecar-capture/basic-exclude-nic.iptables-save.txt', inb(9080), null],
    ['v1.22 dns-uid-gid: DNS to 127.0.0.53 goes to 15053', 'v1.22.0/sidecar-capture/dns-uid-gid.iptables-save.txt', out(1000, '127.0.0.53', 53, 'udp'), 15053],
    ['v1.22 dns-uid-gid: DNS from uid 3 is not captured', 'v1.22.0/sidecar-capture/dns-uid-gid.iptables-save.txt', out(3, '127.0.0.53', 53, 'udp'), null],
  ])('%s', (_n, path, conn, port) => {
    const t = traceIptables(load(path), conn)

    expect(t.redirectPort).toBe(port)
    expect(t.intercepted).toBe(port !== null)
  })

  it.each(HAVE_UPSTREAM ? readdirSync(`${UPSTREAM}master/nftables-sidecar-capture`).map((f) => [f]) : [])('nft form %s is unsupported', (f) => {
    const r = parseRules(readFileSync(`${UPSTREAM}master/nftables-sidecar-capture/${f}`, 'utf8'))

    expect(r.v4?.unsupported?.kind).toBe('nftables')
  })

  it.each(HAVE_UPSTREAM ? readdirSync(`${UPSTREAM}master/ambient-cni`).filter((f) => f.endsWith('-save.txt') && !f.startsWith('hostprobe')).map((f) => [f]) : [])('ambient form %s is recognised, not simulated', (f) => {
    const r = parseRules(readFileSync(`${UPSTREAM}master/ambient-cni/${f}`, 'utf8'))

    expect((r.v4 ?? r.v6)?.unsupported?.kind).toBe('ambient')
  })
})
