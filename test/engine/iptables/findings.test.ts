import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { IPTABLES_FINDINGS } from '../../../src/engine/iptables/findings.js'
import { detectMesh, portMeaning } from '../../../src/engine/iptables/mesh.js'
import { traceIptables } from '../../../src/engine/iptables/netfilter.js'
import type { Connection, TraceIptablesContext } from '../../../src/engine/iptables/netfilter.js'
import { parseRules } from '../../../src/engine/iptables/parse.js'
import { ISTIO_122_SAVE, ISTIO_TPROXY_SAVE } from './rulesets.js'

const FIXTURES = fileURLToPath(new URL('../../fixtures/init-logs/', import.meta.url))
const POD = '10.244.2.5'
const app = (over: Partial<Connection> = {}): Connection => ({ direction: 'outbound', protocol: 'tcp', srcIp: POD, srcPort: 40000, dstIp: '203.0.113.9', dstPort: 80, uid: 1000, podIps: [POD], ...over })
const inbound = (over: Partial<Connection> = {}): Connection => ({ direction: 'inbound', protocol: 'tcp', srcIp: '198.51.100.10', srcPort: 40000, dstIp: POD, dstPort: 9080, podIps: [POD], ...over })

const SHADOWED = `*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:ISTIO_OUTPUT - [0:0]
:ISTIO_REDIRECT - [0:0]
-A OUTPUT -p tcp -j ISTIO_OUTPUT
-A ISTIO_OUTPUT -m owner --uid-owner 1337 -j RETURN
-A ISTIO_OUTPUT -j ISTIO_REDIRECT
-A ISTIO_OUTPUT -d 203.0.113.0/24 -j RETURN
-A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001
COMMIT
`
const EMPTY_NAT = '*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\nCOMMIT\n'
const AMBIENT = '*nat\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:ISTIO_PRERT - [0:0]\n-A PREROUTING -j ISTIO_PRERT\nCOMMIT\n'
const NFT = 'table inet istio-proxy-nat {\n\tchain output {\n\t\ttype nat hook output priority -100; policy accept;\n\t}\n}\n'

describe('findings: each catalog entry has a trigger', () => {
  const rows: Array<[string, string, Connection, TraceIptablesContext, string]> = [
    ['ambient-mode', AMBIENT, app(), {}, 'ambient-mode'],
    ['captured-before-proxy-ready', ISTIO_122_SAVE, app(), { initContainerUids: { 'db-migrate': 1000 } }, 'captured-before-proxy-ready'],
    ['dns-captured', ISTIO_122_SAVE, app({ protocol: 'udp', dstIp: '10.96.0.10', dstPort: 53 }), {}, 'dns-captured'],
    ['exclude-shadowed', SHADOWED, app(), {}, 'exclude-shadowed'],
    ['legacy-tables-hidden', `# Warning: iptables-legacy tables present, use iptables-legacy-save to see them\n${ISTIO_122_SAVE}`, app(), {}, 'legacy-tables-hidden'],
    ['nftables-not-simulated', NFT, app(), {}, 'nftables-not-simulated'],
    ['not-intercepted by the proxy uid', ISTIO_122_SAVE, app({ uid: 1337 }), {}, 'not-intercepted'],
    ['not-intercepted by an excluded CIDR', ISTIO_122_SAVE, app({ dstIp: '192.0.2.7' }), {}, 'not-intercepted'],
    ['owner-uid-assumed', ISTIO_122_SAVE, app({ uid: undefined }), {}, 'owner-uid-assumed'],
    ['proxy-uid-mismatch', ISTIO_122_SAVE, app(), { runAsUser: 1000670000 }, 'proxy-uid-mismatch'],
    ['rules-empty', EMPTY_NAT, app(), {}, 'rules-empty'],
    ['rules-inferred', ISTIO_122_SAVE, app(), { origin: 'cni' }, 'rules-inferred'],
    ['rules-intended', '* nat\n-N ISTIO_OUTPUT\n-A OUTPUT -j ISTIO_OUTPUT\nCOMMIT\n', app(), {}, 'rules-intended'],
    ['rules-partial', readFileSync(`${FIXTURES}crashloop-invalid-cidr.log`, 'utf8'), app(), {}, 'rules-partial'],
    ['tproxy-routing', ISTIO_TPROXY_SAVE, inbound(), {}, 'tproxy-routing'],
    ['unresolved-construct', '*nat\n:OUTPUT ACCEPT [0:0]\n-A OUTPUT -m statistic --mode nth --every 2 -j RETURN\nCOMMIT\n', app(), {}, 'unresolved-construct'],
  ]
  it.each(rows)('%s', (_n, text, conn, ctx, code) => {
    const t = traceIptables(parseRules(text), conn, ctx)

    expect(t.steps.flatMap((s) => s.findings).map((f) => f.code)).toContain(code)
  })

  it('every catalog code is triggered above', () => {
    expect(Object.keys(IPTABLES_FINDINGS).filter((c) => !rows.some((r) => r[4] === c))).toEqual([])
  })

  it('the catalog is ordered by code', () => {
    const codes = Object.keys(IPTABLES_FINDINGS)

    expect(codes).toEqual([...codes].sort())
  })
})

describe('findings: what they say', () => {
  it('exclude-shadowed names the exclusion and the rule that decided first', () => {
    const t = traceIptables(parseRules(SHADOWED), app())

    const f = t.steps.flatMap((s) => s.findings).find((x) => x.code === 'exclude-shadowed')!
    expect(f.message).toContain('ISTIO_OUTPUT #3 (line 11)')
    expect(f.message).toContain('ISTIO_OUTPUT #2')
  })

  it('not-intercepted quotes the RETURN rule and its line', () => {
    const t = traceIptables(parseRules(ISTIO_122_SAVE), app({ dstIp: '192.0.2.7' }))

    const f = t.steps.flatMap((s) => s.findings).find((x) => x.code === 'not-intercepted')!
    expect(f.message).toContain('ISTIO_OUTPUT #10 (iptables-save:41, "-A ISTIO_OUTPUT -d 192.0.2.0/24 -j RETURN")')
  })

  it('proxy-uid-mismatch is silent when the runAsUser matches', () => {
    const t = traceIptables(parseRules(ISTIO_122_SAVE), app(), { runAsUser: 1337 })

    expect(t.steps.flatMap((s) => s.findings).map((f) => f.code)).not.toContain('proxy-uid-mismatch')
  })

  it('an unsupported ruleset leaves interception unknown', () => {
    const t = traceIptables(parseRules(NFT), app())

    expect([t.intercepted, t.steps[0].outcome]).toEqual([null, 'unresolved'])
  })

  it('an address that is not an IP is unresolved, not a crash', () => {
    const t = traceIptables(parseRules(ISTIO_122_SAVE), app({ dstIp: 'ratings.default' }))

    expect([t.intercepted, t.steps[0].decision.reason]).toEqual([null, 'invalid-address'])
  })

  it('a connection of a family without rules is unresolved', () => {
    const t = traceIptables(parseRules(ISTIO_122_SAVE), app({ srcIp: 'fd00::5', dstIp: '2001:db8::1', podIps: ['fd00::5'] }))

    expect([t.intercepted, t.steps[0].outcome, t.steps[0].decision.reason]).toEqual([null, 'unresolved', 'no-rules-for-family'])
  })
})

const KUMA = `*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:KUMA_MESH_INBOUND - [0:0]
:KUMA_MESH_INBOUND_REDIRECT - [0:0]
:KUMA_MESH_OUTBOUND - [0:0]
:KUMA_MESH_OUTBOUND_REDIRECT - [0:0]
-A PREROUTING -p tcp -j KUMA_MESH_INBOUND
-A OUTPUT -p tcp -j KUMA_MESH_OUTBOUND
-A KUMA_MESH_INBOUND -p tcp -j KUMA_MESH_INBOUND_REDIRECT
-A KUMA_MESH_INBOUND_REDIRECT -p tcp -j REDIRECT --to-ports 15006
-A KUMA_MESH_OUTBOUND -s 127.0.0.6/32 -o lo -j RETURN
-A KUMA_MESH_OUTBOUND ! -d 127.0.0.1/32 -o lo -m owner --uid-owner 5678 -j KUMA_MESH_INBOUND_REDIRECT
-A KUMA_MESH_OUTBOUND -o lo -m owner ! --uid-owner 5678 -j RETURN
-A KUMA_MESH_OUTBOUND -m owner --uid-owner 5678 -j RETURN
-A KUMA_MESH_OUTBOUND -d 127.0.0.1/32 -j RETURN
-A KUMA_MESH_OUTBOUND -j KUMA_MESH_OUTBOUND_REDIRECT
-A KUMA_MESH_OUTBOUND_REDIRECT -p tcp -j REDIRECT --to-ports 15001
COMMIT
`
const CONSUL = `*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:CONSUL_PROXY_INBOUND - [0:0]
:CONSUL_PROXY_IN_REDIRECT - [0:0]
:CONSUL_PROXY_OUTPUT - [0:0]
:CONSUL_PROXY_REDIRECT - [0:0]
-A PREROUTING -p tcp -j CONSUL_PROXY_INBOUND
-A OUTPUT -p tcp -j CONSUL_PROXY_OUTPUT
-A CONSUL_PROXY_INBOUND -p tcp -j CONSUL_PROXY_IN_REDIRECT
-A CONSUL_PROXY_IN_REDIRECT -p tcp -j REDIRECT --to-ports 20000
-A CONSUL_PROXY_OUTPUT -m owner --uid-owner 5995 -j RETURN
-A CONSUL_PROXY_OUTPUT -d 127.0.0.1/32 -j RETURN
-A CONSUL_PROXY_OUTPUT -j CONSUL_PROXY_REDIRECT
-A CONSUL_PROXY_REDIRECT -p tcp -j REDIRECT --to-ports 15001
COMMIT
`
const OSM = `*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:PROXY_INBOUND - [0:0]
:PROXY_IN_REDIRECT - [0:0]
:PROXY_OUTPUT - [0:0]
:PROXY_REDIRECT - [0:0]
-A PREROUTING -p tcp -j PROXY_INBOUND
-A OUTPUT -p tcp -j PROXY_OUTPUT
-A PROXY_INBOUND -p tcp -m tcp --dport 15010 -j RETURN
-A PROXY_INBOUND -p tcp -m tcp --dport 15901 -j RETURN
-A PROXY_INBOUND -p tcp -m tcp --dport 15902 -j RETURN
-A PROXY_INBOUND -p tcp -m tcp --dport 15903 -j RETURN
-A PROXY_INBOUND -p tcp -j PROXY_IN_REDIRECT
-A PROXY_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15003
-A PROXY_OUTPUT -m owner --uid-owner 1500 -j RETURN
-A PROXY_OUTPUT -d 127.0.0.1/32 -j RETURN
-A PROXY_OUTPUT -o lo -j RETURN
-A PROXY_OUTPUT -j PROXY_REDIRECT
-A PROXY_REDIRECT -p tcp -j REDIRECT --to-ports 15001
-A PROXY_REDIRECT -p tcp -m tcp --dport 15000 -j ACCEPT
COMMIT
`
const LINKERD = `*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:PROXY_INIT_OUTPUT - [0:0]
:PROXY_INIT_REDIRECT - [0:0]
-A PREROUTING -m comment --comment "proxy-init/install-proxy-init-prerouting/1600000000" -j PROXY_INIT_REDIRECT
-A OUTPUT -m comment --comment "proxy-init/install-proxy-init-output/1600000000" -j PROXY_INIT_OUTPUT
-A PROXY_INIT_OUTPUT -m owner --uid-owner 2102 -m comment --comment "proxy-init/ignore-proxy-user-id/1600000000" -j RETURN
-A PROXY_INIT_OUTPUT -o lo -m comment --comment "proxy-init/ignore-loopback/1600000000" -j RETURN
-A PROXY_INIT_OUTPUT -p tcp -m comment --comment "proxy-init/redirect-all-outgoing-to-proxy-port/1600000000" -j REDIRECT --to-ports 4140
-A PROXY_INIT_REDIRECT -p tcp -m multiport --dports 4190,4191 -m comment --comment "proxy-init/ignore-port-4190,4191/1600000000" -j RETURN
-A PROXY_INIT_REDIRECT -p tcp -m comment --comment "proxy-init/redirect-all-incoming-to-proxy-port/1600000000" -j REDIRECT --to-ports 4143
COMMIT
`

describe('other meshes: recognised by chain names, ports explained', () => {
  it.each([
    ['istio', ISTIO_122_SAVE, 1337, 15001, 15006, /virtualOutbound/, /virtualInbound/],
    ['kuma', KUMA, 5678, 15001, 15006, /outbound/, /inbound/],
    ['consul', CONSUL, 5995, 15001, 20000, /outbound/, /public/],
    ['osm', OSM, 1500, 15001, 15003, /outbound/, /inbound/],
    ['linkerd', LINKERD, 2102, 4140, 4143, /outbound/, /inbound/],
  ] as const)('%s', (mesh, text, proxyUid, outPort, inPort, outMeaning, inMeaning) => {
    const rules = parseRules(text)

    const out = traceIptables(rules, app())
    const proxy = traceIptables(rules, app({ uid: proxyUid }))
    const inb = traceIptables(rules, inbound())

    expect(detectMesh(rules.v4)).toBe(mesh)
    expect([out.mesh, out.intercepted, out.redirectPort]).toEqual([mesh, true, outPort])
    expect(out.steps.find((s) => s.decision.table === 'nat')?.decision.portMeaning).toMatch(outMeaning)
    expect([proxy.intercepted, proxy.redirectPort]).toEqual([false, null])
    expect([inb.intercepted, inb.redirectPort]).toEqual([true, inPort])
    expect(inb.steps.find((s) => s.decision.table === 'nat')?.decision.portMeaning).toMatch(inMeaning)
  })

  it.each([
    ['istio', 15008, /HBONE/],
    ['istio', 15053, /DNS/],
    ['istio', 15090, /Prometheus/],
    ['istio', 15021, /health/],
    ['istio', 15020, /pilot-agent/],
    ['kuma', 15053, /DNS/],
    ['osm', 15902, /probe/],
    ['unknown', 8080, /port 8080/],
  ] as const)('%s port %d means %s', (mesh, port, meaning) => {
    expect(portMeaning(mesh, port, 'outbound')).toMatch(meaning)
  })

  it('OSM: the dead rule after REDIRECT is never reached', () => {
    const t = traceIptables(parseRules(OSM), app({ dstPort: 15000 }))

    expect(t.redirectPort).toBe(15001)
  })

  it('Kuma: the proxy uid given by the pod is checked against the rules', () => {
    const t = traceIptables(parseRules(KUMA), app(), { runAsUser: 5679 })

    expect(t.steps.flatMap((s) => s.findings).map((f) => f.code)).toContain('proxy-uid-mismatch')
  })
})
