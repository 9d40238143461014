import { existsSync, readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { isIstioCniPod, rebuildIstioCniRules, type CniRebuild } from '../../../src/collect/cluster/istio-cni.js'

const A = 'traffic.sidecar.istio.io/'

function cniPod(annotations: Record<string, string> = {}, proxy: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    metadata: { name: 'p', namespace: 'default', annotations },
    spec: { containers: [{ name: 'app' }, { name: 'istio-proxy', ...proxy }], initContainers: [{ name: 'istio-validation' }] },
  }
}

function rebuild(annotations: Record<string, string> = {}, proxy: Record<string, unknown> = {}): CniRebuild {
  const r = rebuildIstioCniRules(cniPod(annotations, proxy), 'istio-proxy')
  if ('unsupported' in r) throw new Error(r.unsupported)
  return r
}

/** The rule lines, without comments. */
const rules = (text: string): string[] => text.split('\n').filter((l) => l !== '' && !l.startsWith('#'))

describe('isIstioCniPod', () => {
  it.each([
    ['istio-validation without istio-init', [{ name: 'istio-validation' }], true],
    ['istio-init', [{ name: 'istio-init' }], false],
    ['no init containers', [], false],
  ])('%s → %s', (_name, initContainers, expected) => {
    expect(isIstioCniPod({ spec: { initContainers } })).toBe(expected)
  })
})

describe('rebuildIstioCniRules', () => {
  it('writes the default rule set in iptables-save form, every input named in a comment', () => {
    const r = rebuild()

    expect(rules(r.v4)).toEqual([
      '*nat',
      ':PREROUTING ACCEPT [0:0]',
      ':INPUT ACCEPT [0:0]',
      ':OUTPUT ACCEPT [0:0]',
      ':POSTROUTING ACCEPT [0:0]',
      ':ISTIO_INBOUND - [0:0]',
      ':ISTIO_IN_REDIRECT - [0:0]',
      ':ISTIO_OUTPUT - [0:0]',
      ':ISTIO_REDIRECT - [0:0]',
      '-A PREROUTING -p tcp -j ISTIO_INBOUND',
      '-A OUTPUT -j ISTIO_OUTPUT',
      '-A ISTIO_INBOUND -p tcp -m tcp --dport 15008 -j RETURN',
      '-A ISTIO_INBOUND -p tcp -m tcp --dport 15020 -j RETURN',
      '-A ISTIO_INBOUND -p tcp -m tcp --dport 15021 -j RETURN',
      '-A ISTIO_INBOUND -p tcp -m tcp --dport 15090 -j RETURN',
      '-A ISTIO_INBOUND -p tcp -j ISTIO_IN_REDIRECT',
      '-A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006',
      '-A ISTIO_OUTPUT -p tcp -m tcp --dport 15020 -j RETURN',
      '-A ISTIO_OUTPUT -p udp -m udp --dport 15020 -j RETURN',
      '-A ISTIO_OUTPUT -s 127.0.0.6/32 -o lo -j RETURN',
      '-A ISTIO_OUTPUT ! -d 127.0.0.1/32 -o lo -p tcp -m tcp ! --dport 15008 -m owner --uid-owner 1337 -j ISTIO_IN_REDIRECT',
      '-A ISTIO_OUTPUT -o lo -m owner ! --uid-owner 1337 -j RETURN',
      '-A ISTIO_OUTPUT -m owner --uid-owner 1337 -j RETURN',
      '-A ISTIO_OUTPUT ! -d 127.0.0.1/32 -o lo -p tcp -m tcp ! --dport 15008 -m owner --gid-owner 1337 -j ISTIO_IN_REDIRECT',
      '-A ISTIO_OUTPUT -o lo -m owner ! --gid-owner 1337 -j RETURN',
      '-A ISTIO_OUTPUT -m owner --gid-owner 1337 -j RETURN',
      '-A ISTIO_OUTPUT -d 127.0.0.1/32 -j RETURN',
      '-A ISTIO_OUTPUT -j ISTIO_REDIRECT',
      '-A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001',
      'COMMIT',
    ])
    expect(r.v4.split('\n')[0]).toMatch(/^# Rebuilt by kubectl-mesh-trace/)
    expect(r.inputs).toContain(`${A}excludeOutboundPorts=15020 (default)`)
  })

  it.each([
    ['inbound ports included', { [`${A}includeInboundPorts`]: '1111,2222' }, {}, ['-A ISTIO_INBOUND -p tcp -m tcp --dport 1111 -j ISTIO_IN_REDIRECT', '-A ISTIO_INBOUND -p tcp -m tcp --dport 2222 -j ISTIO_IN_REDIRECT'], ['-A ISTIO_INBOUND -p tcp -j ISTIO_IN_REDIRECT']],
    ['inbound ports excluded, after the sidecar ports are added', { [`${A}excludeInboundPorts`]: '22' }, {}, ['-A ISTIO_INBOUND -p tcp -m tcp --dport 22 -j RETURN'], []],
    ['no inbound capture at all', { [`${A}includeInboundPorts`]: '' }, {}, [], ['-A PREROUTING -p tcp -j ISTIO_INBOUND']],
    ['outbound ports excluded replace the default 15020', { [`${A}excludeOutboundPorts`]: '5555' }, {}, ['-A ISTIO_OUTPUT -p tcp -m tcp --dport 5555 -j RETURN', '-A ISTIO_OUTPUT -p udp -m udp --dport 5555 -j RETURN'], ['-A ISTIO_OUTPUT -p tcp -m tcp --dport 15020 -j RETURN']],
    ['outbound ports included', { [`${A}includeOutboundPorts`]: '8080' }, {}, ['-A ISTIO_OUTPUT -p tcp -m tcp --dport 8080 -j ISTIO_REDIRECT'], []],
    ['outbound CIDRs: exclusions before inclusions, no catch-all', { [`${A}includeOutboundIPRanges`]: '10.96.0.0/12', [`${A}excludeOutboundIPRanges`]: '10.96.0.1' }, {}, ['-A ISTIO_OUTPUT -d 10.96.0.1/32 -j RETURN', '-A ISTIO_OUTPUT -d 10.96.0.0/12 -j ISTIO_REDIRECT'], ['-A ISTIO_OUTPUT -j ISTIO_REDIRECT']],
    ['a loopback inclusion drops the lo RETURN', { [`${A}includeOutboundIPRanges`]: '127.0.0.0/8' }, {}, ['-A ISTIO_OUTPUT -d 127.0.0.0/8 -j ISTIO_REDIRECT'], ['-A ISTIO_OUTPUT -o lo -m owner ! --uid-owner 1337 -j RETURN']],
    ['the proxy uid and gid from the sidecar securityContext', {}, { securityContext: { runAsUser: 1000670000, runAsGroup: 1000670001 } }, ['-A ISTIO_OUTPUT -m owner --uid-owner 1000670000 -j RETURN', '-A ISTIO_OUTPUT -m owner --gid-owner 1000670001 -j RETURN'], ['-A ISTIO_OUTPUT -m owner --uid-owner 1337 -j RETURN']],
    ['Istio 1.22 jumps to ISTIO_OUTPUT for TCP only', {}, { image: 'docker.io/istio/proxyv2:1.22.1' }, ['-A OUTPUT -p tcp -j ISTIO_OUTPUT'], ['-A OUTPUT -j ISTIO_OUTPUT']],
    ['excluded interfaces return first', { [`${A}excludeInterfaces`]: 'net1' }, {}, ['-A PREROUTING -i net1 -j RETURN', '-A OUTPUT -o net1 -j RETURN'], []],
    ['DNS capture adds the DNS chains and zones', {}, { env: [{ name: 'ISTIO_META_DNS_CAPTURE', value: 'true' }] }, ['*raw', '-A ISTIO_OUTPUT -j ISTIO_OUTPUT_DNS', '-A ISTIO_OUTPUT_DNS -p udp -m udp --dport 53 -j REDIRECT --to-ports 15053', '-A ISTIO_INBOUND -p udp -m udp --sport 53 -j CT --zone 1'], []],
    ['DNS capture from proxy.istio.io/config proxyMetadata', { 'proxy.istio.io/config': 'proxyMetadata:\n  ISTIO_META_DNS_CAPTURE: "true"\n' }, {}, ['-A ISTIO_OUTPUT -j ISTIO_OUTPUT_DNS'], []],
  ])('%s', (_name, annotations, proxy, present, absent) => {
    const lines = rules(rebuild(annotations, proxy).v4)

    for (const l of present) expect(lines).toContain(l)
    for (const l of absent) expect(lines).not.toContain(l)
  })

  it('declines TPROXY interception', () => {
    expect(rebuildIstioCniRules(cniPod({ 'sidecar.istio.io/interceptionMode': 'TPROXY' }), 'istio-proxy')).toEqual({ unsupported: 'interception mode TPROXY is not rebuilt (only REDIRECT)' })
  })
})

// Conformance with istio-cni's own goldens, where the shared upstream data is present (never copied into the repo).
const UPSTREAM = '/work/shared/upstream/istio-iptables/master/sidecar-cni-plugin/'
describe.skipIf(!existsSync(UPSTREAM))('rebuildIstioCniRules against the istio-cni goldens', () => {
  it.each([
    ['basic', {}, {}],
    ['include-exclude-ports', { [`${A}includeInboundPorts`]: '1111,2222', [`${A}excludeOutboundPorts`]: '5555,6666' }, {}],
    ['include-exclude-ip', { [`${A}includeOutboundIPRanges`]: '127.0.0.0/8', [`${A}excludeOutboundIPRanges`]: '10.0.0.0/8' }, {}],
    ['custom-uid', {}, { securityContext: { runAsUser: 1000670000, runAsGroup: 1000670001 } }],
    ['dns', {}, { env: [{ name: 'ISTIO_META_DNS_CAPTURE', value: 'true' }] }],
  ])('%s', (name, annotations, proxy) => {
    const golden = readFileSync(`${UPSTREAM}${name}.iptables-save.txt`, 'utf8')

    expect(rules(rebuild(annotations, proxy).v4)).toEqual(rules(golden))
  })
})
