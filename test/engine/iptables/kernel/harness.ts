/** Runs connections through real netfilter (netns-probe.py under `unshare -n`) and compares them with traceIptables. */
import { spawnSync } from 'node:child_process'
import { accessSync, constants, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { traceIptables } from '../../../../src/engine/iptables/netfilter.js'
import type { Connection, IptablesTrace } from '../../../../src/engine/iptables/netfilter.js'
import { parseRules } from '../../../../src/engine/iptables/parse.js'

/** Addresses of the namespaces netns-probe.py builds. */
export const NET = {
  pod4: '10.244.2.5',
  gw4: '10.244.2.1',
  peer4: '198.51.100.10',
  pod6: 'fd00::5',
  gw6: 'fd00::1',
  peer6: '2001:db8:ffff::10',
} as const

let dumps = 0
const PROBE = fileURLToPath(new URL('./netns-probe.py', import.meta.url))

/** One connection as the probe runs it. */
export interface ProbeConn {
  family: 4 | 6
  /** tcp unless given. */
  protocol?: 'tcp' | 'udp'
  direction: 'outbound' | 'inbound'
  src: string
  sport: number
  dst: string
  dport: number
  uid: number
  gid: number
}

/** One rule set (iptables-restore text, per family) and the connections to run through it. */
export interface ProbeCase {
  rules4?: string
  rules6?: string
  conns: ProbeConn[]
}

/** What the kernel did with one connection, as the client saw it. */
export interface KernelResult {
  kind: 'local' | 'remote' | 'timeout' | 'refused' | 'reset' | 'unreachable' | 'error' | 'restore-error'
  listener?: number
  local?: [string, number]
  origDst?: [string, number]
  message?: string
}

/** Why the kernel run cannot happen here, or null when it can. */
export function kernelUnavailable(): string | null {
  if (process.platform !== 'linux') return 'not Linux'
  if (process.getuid?.() !== 0) return 'not running as root'
  for (const bin of ['/usr/bin/unshare', '/usr/sbin/iptables-restore', '/usr/sbin/ip6tables-restore', '/usr/sbin/iptables-legacy-restore', '/usr/bin/nsenter', '/usr/sbin/ip']) {
    try {
      accessSync(bin, constants.X_OK)
    } catch {
      return `${bin} is missing`
    }
  }
  const probe = spawnSync('unshare', ['-n', 'true'])
  if (probe.status !== 0) return `unshare -n fails (${probe.stderr?.toString().trim()})`
  const py = spawnSync('python3', ['-c', 'import ctypes, socket'])
  if (py.status !== 0) return 'python3 is missing'
  return null
}

/** Runs the cases in one fresh pair of namespaces and returns one result per connection. */
export function runKernel(cases: ProbeCase[], listen: number[], timeoutSeconds = 0.25, backend: 'nft' | 'legacy' = 'nft'): KernelResult[][] {
  const transparent = [...new Set(cases.flatMap((k) => [...`${k.rules4 ?? ''}\n${k.rules6 ?? ''}`.matchAll(/--on-port (\d+)/g)].map((m) => Number(m[1]))))]
  const input = JSON.stringify({ cases, listen, transparent, timeout: timeoutSeconds, backend })
  if (process.env.MESH_TRACE_KERNEL_DUMP) writeFileSync(`${process.env.MESH_TRACE_KERNEL_DUMP}.${dumps++}`, input)
  const p = spawnSync('unshare', ['-n', 'python3', PROBE], { input, maxBuffer: 256 * 1024 * 1024, env: { ...process.env, PATH: `/usr/sbin:/sbin:${process.env.PATH ?? ''}` } })
  if (p.status !== 0) throw new Error(`netns-probe.py failed: ${p.stderr.toString()}`)
  return (JSON.parse(p.stdout.toString()) as { results: KernelResult[][] }).results
}

/** The simulator's connection for a probe connection. */
export function toConnection(c: ProbeConn): Connection {
  return {
    direction: c.direction,
    protocol: c.protocol ?? 'tcp',
    srcIp: c.src,
    srcPort: c.sport,
    dstIp: c.dst,
    dstPort: c.dport,
    ...(c.direction === 'outbound' ? { uid: c.uid, gid: c.gid } : {}),
    // The addresses local to the pod namespace: its IPs and ::6, which Istio (and the probe) put on lo for IPv6.
    podIps: [NET.pod4, NET.pod6, '::6'],
  }
}

/** A comparable summary: where the connection lands. */
export type Landing = string

function isLocal(ip: string): boolean {
  return ip === NET.pod4 || ip === NET.pod6 || ip.startsWith('127.') || ip === '::1' || ip === '::6'
}

/** Where the simulator says the connection lands; null when it cannot tell (unresolved). */
export function simulatedLanding(t: IptablesTrace, c: ProbeConn): Landing | null {
  if (t.intercepted === null) return null
  if (t.dropped) return 'blocked'
  if (t.intercepted && t.delivered) return `local listener ${t.redirectPort} at ${t.delivered.ip}`
  const nat = t.steps.find((s) => s.decision.table === 'nat' && typeof s.decision.newDestination === 'string')
  let ip = c.dst
  let port = c.dport
  if (nat) {
    const m = /^\[?([^\]]+)\]?:(\d+)$/.exec(nat.decision.newDestination as string)!
    ip = m[1]
    port = Number(m[2])
  }
  return isLocal(ip) ? `local listener ${port} at ${ip}` : `remote ${ip}:${port}`
}

/** Where the kernel says the connection landed. */
export function kernelLanding(r: KernelResult): Landing {
  if (r.kind === 'local') return `local listener ${r.listener} at ${r.local![0]}`
  if (r.kind === 'remote') return `remote ${r.origDst![0]}:${r.origDst![1]}`
  if (r.kind === 'timeout' || r.kind === 'refused' || r.kind === 'reset' || r.kind === 'unreachable') return 'blocked'
  return `error ${r.message ?? ''}`
}

/** Simulates one connection against restore text, as the production parser reads it. */
export function simulate(rules4: string | undefined, rules6: string | undefined, c: ProbeConn): IptablesTrace {
  const parsed = { v4: rules4 ? parseRules(rules4).v4 : undefined, v6: rules6 ? parseRules(rules6).v6 ?? parseRules(rules6).v4 : undefined }
  if (c.family === 4 && !parsed.v4) parsed.v4 = parseRules('*nat\nCOMMIT\n').v4
  if (c.family === 6 && !parsed.v6) parsed.v6 = parseRules('# Generated by ip6tables-save\n*nat\nCOMMIT\n').v6
  return traceIptables(parsed, toConnection(c))
}

/** Every port a rule set or connection may land on, so the pod has a listener there. */
export function portsToListen(cases: ProbeCase[]): number[] {
  const ports = new Set<number>([15001, 15006, 15008, 15053, 15090, 15020, 15021])
  for (const k of cases) {
    for (const c of k.conns) ports.add(c.dport)
    for (const text of [k.rules4 ?? '', k.rules6 ?? '']) for (const m of text.matchAll(/--(?:to-ports|to-port|on-port) (\d+)|--to-destination (?:\[[^\]]+\]|[^\s:[]+)?:(\d+)/g)) ports.add(Number(m[1] ?? m[2]))
  }
  return [...ports].sort((a, b) => a - b)
}
