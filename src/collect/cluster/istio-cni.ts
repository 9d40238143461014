/**
 * With istio-cni there is no istio-init log: the CNI plugin programs the pod's netns at sandbox creation from the
 * pod's `traffic.sidecar.istio.io/*` annotations and the mesh defaults. This rebuilds that rule set, as
 * `iptables-save` would print it (iptables-semantics.md §4(c), (e); the shapes of the istio-cni goldens), so the
 * trace can run; the snapshot's origin is `cni` and every iptables step says it rests on the rebuild.
 */

type Obj = Record<string, unknown>
const obj = (v: unknown): Obj => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {})
const arr = (v: unknown): Obj[] => (Array.isArray(v) ? v.map(obj) : [])

/** The rebuilt rules and what they rest on. */
export interface CniRebuild {
  /** iptables-save text (IPv4). */
  v4: string
  /** The inputs, one line each (`traffic.sidecar.istio.io/excludeOutboundPorts=15020 (default)`), also written as comments in `v4`. */
  inputs: string[]
}

/** Why the rules cannot be rebuilt (the collector notes it and traces Envoy only). */
export interface CniUnsupported {
  unsupported: string
}

const A = 'traffic.sidecar.istio.io/'

/** Whether the pod's iptables come from istio-cni: injected (sidecar status) with an `istio-validation` init container and no `istio-init`. */
export function isIstioCniPod(pod: Obj): boolean {
  const inits = arr(obj(pod.spec).initContainers).map((c) => String(c.name))
  return inits.includes('istio-validation') && !inits.includes('istio-init')
}

/** Rebuilds the nat (and, with DNS capture, raw) rules istio-cni wrote for the pod, in iptables-save form. */
export function rebuildIstioCniRules(pod: Obj, proxyContainer: string): CniRebuild | CniUnsupported {
  const meta = obj(pod.metadata)
  const ann = Object.fromEntries(Object.entries(obj(meta.annotations)).map(([k, v]) => [k, String(v)]))
  const spec = obj(pod.spec)
  const proxy = [...arr(spec.containers), ...arr(spec.initContainers)].find((c) => c.name === proxyContainer) ?? {}
  const inputs: string[] = []
  const pick = (key: string, fallback: string): string => {
    const v = ann[key]
    inputs.push(`${key}=${v ?? fallback}${v === undefined ? ' (default)' : ''}`)
    return (v ?? fallback).trim()
  }
  const mode = pick('sidecar.istio.io/interceptionMode', 'REDIRECT')
  if (mode !== 'REDIRECT') return { unsupported: `interception mode ${mode} is not rebuilt (only REDIRECT)` }
  const podSec = obj(spec.securityContext)
  const sec = obj(proxy.securityContext)
  const uid = String(sec.runAsUser ?? podSec.runAsUser ?? 1337)
  const gid = String(sec.runAsGroup ?? podSec.runAsGroup ?? 1337)
  inputs.push(`proxy uid=${uid} gid=${gid}${sec.runAsUser === undefined ? ' (default)' : ''}`)
  const includeInbound = pick(`${A}includeInboundPorts`, '*')
  // The plugin always appends the sidecar's status, health and Prometheus ports to the inbound exclusions.
  const excludeInbound = dedup([...split(pick(`${A}excludeInboundPorts`, '15020')), '15020', '15021', '15090'])
  const excludeOutboundPorts = split(pick(`${A}excludeOutboundPorts`, '15020'))
  const includeOutboundPorts = split(pick(`${A}includeOutboundPorts`, ''))
  const includeCidrs = pick(`${A}includeOutboundIPRanges`, '*')
  const excludeCidrs = split(pick(`${A}excludeOutboundIPRanges`, '')).map(cidr)
  const excludeInterfaces = split(pick(`${A}excludeInterfaces`, ''))
  const kubevirt = split(pick(`${A}kubevirtInterfaces`, ''))
  const dns = dnsCapture(proxy, ann)
  inputs.push(`DNS capture=${dns}`)
  const version = istioVersion(proxy)
  // Istio ≤ 1.24 jumped to ISTIO_OUTPUT for TCP only; later releases for every protocol.
  const outputTcpOnly = version !== undefined && (version[0] < 1 || (version[0] === 1 && version[1] <= 24))
  inputs.push(`istio version=${version?.join('.') ?? 'unknown (layout of Istio ≥ 1.25)'}`)
  const includeAll = includeCidrs === '*'
  const includeList = includeAll ? [] : split(includeCidrs).map(cidr)
  const hasLoopback = includeList.some((c) => c.startsWith('127.'))

  const nat: Record<string, string[]> = { PREROUTING: [], INPUT: [], OUTPUT: [], POSTROUTING: [], ISTIO_INBOUND: [], ISTIO_IN_REDIRECT: [], ISTIO_OUTPUT: [], ISTIO_REDIRECT: [] }
  for (const i of excludeInterfaces) {
    nat.PREROUTING.push(`-i ${i} -j RETURN`)
    nat.OUTPUT.push(`-o ${i} -j RETURN`)
  }
  for (const i of kubevirt) nat.PREROUTING.push(`-i ${i} -j ISTIO_REDIRECT`)
  if (includeInbound !== '') nat.PREROUTING.push('-p tcp -j ISTIO_INBOUND')
  nat.OUTPUT.push(outputTcpOnly ? '-p tcp -j ISTIO_OUTPUT' : '-j ISTIO_OUTPUT')
  nat.ISTIO_INBOUND.push('-p tcp -m tcp --dport 15008 -j RETURN')
  if (includeInbound === '*') {
    for (const p of excludeInbound) nat.ISTIO_INBOUND.push(`-p tcp -m tcp --dport ${p} -j RETURN`)
    nat.ISTIO_INBOUND.push('-p tcp -j ISTIO_IN_REDIRECT')
  } else {
    for (const p of split(includeInbound)) nat.ISTIO_INBOUND.push(`-p tcp -m tcp --dport ${p} -j ISTIO_IN_REDIRECT`)
  }
  nat.ISTIO_IN_REDIRECT.push('-p tcp -j REDIRECT --to-ports 15006')
  for (const p of excludeOutboundPorts) nat.ISTIO_OUTPUT.push(`-p tcp -m tcp --dport ${p} -j RETURN`, `-p udp -m udp --dport ${p} -j RETURN`)
  nat.ISTIO_OUTPUT.push('-s 127.0.0.6/32 -o lo -j RETURN')
  for (const [owner, ids] of [['uid', split(uid)], ['gid', split(gid)]] as const) {
    for (const id of ids) {
      // istio-iptables writes the DNS variant with multiport for the uid rule only (as the goldens show).
      const hairpin = dns && owner === 'uid' ? '-p tcp -m multiport ! --dports 53,15008' : '-p tcp -m tcp ! --dport 15008'
      nat.ISTIO_OUTPUT.push(`! -d 127.0.0.1/32 -o lo ${hairpin} -m owner --${owner}-owner ${id} -j ISTIO_IN_REDIRECT`)
      if (!hasLoopback) nat.ISTIO_OUTPUT.push(`-o lo${dns ? ' -p tcp -m tcp ! --dport 53' : ''} -m owner ! --${owner}-owner ${id} -j RETURN`)
      nat.ISTIO_OUTPUT.push(`-m owner --${owner}-owner ${id} -j RETURN`)
    }
  }
  if (dns) {
    nat.ISTIO_OUTPUT.push('-j ISTIO_OUTPUT_DNS')
    nat.ISTIO_OUTPUT_DNS = ['-p tcp -m tcp --dport 53 -j REDIRECT --to-ports 15053', '-p udp -m udp --dport 53 -j REDIRECT --to-ports 15053']
  }
  nat.ISTIO_OUTPUT.push('-d 127.0.0.1/32 -j RETURN')
  for (const c of excludeCidrs) nat.ISTIO_OUTPUT.push(`-d ${c} -j RETURN`)
  for (const p of includeOutboundPorts) nat.ISTIO_OUTPUT.push(`-p tcp -m tcp --dport ${p} -j ISTIO_REDIRECT`)
  if (includeAll) nat.ISTIO_OUTPUT.push('-j ISTIO_REDIRECT')
  for (const c of includeList) nat.ISTIO_OUTPUT.push(`-d ${c} -j ISTIO_REDIRECT`)
  nat.ISTIO_REDIRECT.push('-p tcp -j REDIRECT --to-ports 15001')

  const tables: Array<[string, Record<string, string[]>, string[]]> = []
  if (dns) {
    const raw: Record<string, string[]> = { PREROUTING: ['-j ISTIO_INBOUND'], OUTPUT: ['-j ISTIO_OUTPUT_DNS'], ISTIO_INBOUND: ['-p udp -m udp --sport 53 -j CT --zone 1'], ISTIO_OUTPUT_DNS: [] }
    for (const [owner, ids] of [['uid', split(uid)], ['gid', split(gid)]] as const) {
      for (const id of ids) raw.ISTIO_OUTPUT_DNS.push(`-p udp -m udp --dport 53 -m owner --${owner}-owner ${id} -j CT --zone 1`, `-p udp -m udp --sport 15053 -m owner --${owner}-owner ${id} -j CT --zone 2`)
    }
    raw.ISTIO_OUTPUT_DNS.push('-p udp -m udp --dport 53 -j CT --zone 2')
    tables.push(['raw', raw, ['PREROUTING', 'OUTPUT']])
  }
  tables.push(['nat', nat, ['PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING']])
  const lines: string[] = ['# Rebuilt by kubectl-mesh-trace from the pod annotations and istio-cni defaults (no istio-init log with istio-cni); not read from the pod.']
  for (const input of inputs) lines.push(`#   ${input}`)
  for (const [name, chains, builtins] of tables) lines.push(...saveTable(name, chains, builtins))
  return { v4: `${lines.join('\n')}\n`, inputs }
}

/** One table in iptables-save order: built-in chains, then user chains alphabetically; rules grouped by chain in that order. */
function saveTable(name: string, chains: Record<string, string[]>, builtins: string[]): string[] {
  const user = Object.keys(chains).filter((c) => !builtins.includes(c)).sort()
  const order = [...builtins, ...user]
  return [
    `*${name}`,
    ...builtins.map((c) => `:${c} ACCEPT [0:0]`),
    ...user.map((c) => `:${c} - [0:0]`),
    ...order.flatMap((c) => (chains[c] ?? []).map((r) => `-A ${c} ${r}`)),
    'COMMIT',
  ]
}

function split(list: string): string[] {
  return list.split(',').map((s) => s.trim()).filter((s) => s !== '' && s !== '*')
}

function dedup(xs: string[]): string[] {
  return [...new Set(xs)]
}

/** An address or CIDR as iptables-save prints it (always with a mask). */
function cidr(text: string): string {
  return text.includes('/') ? text : text.includes(':') ? `${text}/128` : `${text}/32`
}

function dnsCapture(proxy: Obj, ann: Record<string, string>): boolean {
  const env = arr(proxy.env).find((e) => e.name === 'ISTIO_META_DNS_CAPTURE')
  if (env !== undefined) return String(env.value).toLowerCase() === 'true'
  const config = ann['proxy.istio.io/config'] ?? ''
  return /ISTIO_META_DNS_CAPTURE["']?\s*:\s*["']?true/i.test(config)
}

function istioVersion(proxy: Obj): [number, number] | undefined {
  const m = /:(\d+)\.(\d+)(?:\.\d+)?(?:[-@].*)?$/.exec(String(proxy.image ?? ''))
  return m ? [Number(m[1]), Number(m[2])] : undefined
}
