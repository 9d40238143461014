import { readFile, readdir, stat, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import type { PodFacts, ServiceFacts, Snapshot } from '../../engine/snapshot.js'
import { UserError } from '../../errors.js'
import { lineColumn, locateJsonError } from '../json-error.js'

/** Single-file inputs (`--iptables`, `--config-dump`, …); each overrides the bundle's file of that kind. */
export interface OfflineInputs {
  bundle?: string
  iptables?: string
  ip6tables?: string
  configDump?: string
  clusters?: string
  stats?: string
  services?: string
  pod?: string
}

/** The files a bundle directory may hold (design.md, "bundle"); every one is optional. */
export const BUNDLE_FILES = {
  pod: 'pod.json',
  iptables: 'iptables-save.txt',
  ip6tables: 'ip6tables-save.txt',
  configDump: 'config_dump.json',
  clustersJson: 'clusters.json',
  clustersText: 'clusters.txt',
  statsText: 'stats.txt',
  statsJson: 'stats.json',
  services: 'services.json',
  pods: 'pods.json',
  meta: 'meta.json',
} as const

/** Reads a bundle (directory or .tar.gz) and single-file inputs into a Snapshot. Never writes to the user's files. */
export async function readOfflineSnapshot(inputs: OfflineInputs): Promise<Snapshot> {
  return (await readOfflineBundle(inputs)).main
}

/** A bundle's own pod and its sub-bundles (immediate sub-directories holding a pod.json: other pods, for --follow). */
export interface OfflineBundle {
  main: Snapshot
  others: Snapshot[]
}

/** Reads a bundle with its sub-bundles; single-file inputs override the top-level bundle's files. */
export async function readOfflineBundle(inputs: OfflineInputs): Promise<OfflineBundle> {
  const files: BundleFiles = {}
  let cleanup: (() => Promise<void>) | undefined
  const subDirs: string[] = []
  let display = (file: string): string => file
  try {
    if (inputs.bundle !== undefined) {
      const bundle = inputs.bundle
      const { dir, dispose } = await openBundle(bundle)
      cleanup = dispose
      if (dispose !== undefined) display = (file) => (file.startsWith(dir + path.sep) ? `${bundle}:${path.relative(dir, file)}` : file)
      Object.assign(files, await bundleFiles(dir))
      for (const entry of await readdir(dir, { withFileTypes: true })) {
        if (entry.isDirectory() && (await exists(path.join(dir, entry.name, BUNDLE_FILES.pod)))) subDirs.push(path.join(dir, entry.name))
      }
    }
    const single: Array<[keyof typeof BUNDLE_FILES, string | undefined, Array<keyof typeof BUNDLE_FILES>]> = [
      ['iptables', inputs.iptables, []],
      ['ip6tables', inputs.ip6tables, []],
      ['configDump', inputs.configDump, []],
      ['clustersText', inputs.clusters, ['clustersJson']],
      ['statsText', inputs.stats, ['statsJson']],
      ['services', inputs.services, []],
      ['pod', inputs.pod, []],
    ]
    for (const [key, file, displaced] of single) {
      if (file === undefined) continue
      await mustExist(file, `--${flagName(key)}`)
      files[key] = file
      for (const d of displaced) delete files[d]
    }
    const main = await snapshotFromFiles(files, display)
    const others: Snapshot[] = []
    for (const sub of subDirs.sort()) {
      const snapshot = await snapshotFromFiles(await bundleFiles(sub), display)
      // Sub-bundles are pods of the same cluster: they share its Services and pod list unless they carry their own.
      if (snapshot.services === undefined && main.services !== undefined) snapshot.services = main.services
      if (snapshot.pods === undefined && main.pods !== undefined) snapshot.pods = main.pods
      others.push(snapshot)
    }
    return { main, others }
  } finally {
    await cleanup?.()
  }
}

type BundleFiles = Partial<Record<keyof typeof BUNDLE_FILES, string>>

async function bundleFiles(dir: string): Promise<BundleFiles> {
  const files: BundleFiles = {}
  const present = new Set(await readdir(dir))
  for (const [key, name] of Object.entries(BUNDLE_FILES) as Array<[keyof typeof BUNDLE_FILES, string]>) {
    if (present.has(name)) files[key] = path.join(dir, name)
  }
  return files
}

async function exists(file: string): Promise<boolean> {
  try {
    await stat(file)
    return true
  } catch {
    return false
  }
}

function flagName(key: keyof typeof BUNDLE_FILES): string {
  return { iptables: 'iptables', ip6tables: 'ip6tables', configDump: 'config-dump', clustersText: 'clusters', statsText: 'stats', services: 'services', pod: 'pod-json' }[key as string] ?? key
}

async function mustExist(file: string, what: string): Promise<void> {
  try {
    await stat(file)
  } catch {
    throw new UserError(`${what} ${file} does not exist.`, { code: 'file-not-found', hint: 'Check the path.' })
  }
}

async function openBundle(bundle: string): Promise<{ dir: string; dispose?: () => Promise<void> }> {
  let info
  try {
    info = await stat(bundle)
  } catch {
    throw new UserError(`The bundle ${bundle} does not exist.`, {
      code: 'bundle-not-found',
      hint: 'Pass a bundle directory or .tar.gz written by `kubectl mesh-trace capture`, e.g. --bundle examples/bookinfo.',
    })
  }
  if (info.isDirectory()) return { dir: bundle }
  if (!/\.(tar\.gz|tgz|tar)$/i.test(bundle)) {
    throw new UserError(`The bundle ${bundle} is neither a directory nor a .tar.gz archive.`, { code: 'bundle-not-a-bundle' })
  }
  const { extract } = await import('tar')
  const tmp = await mkdtemp(path.join(tmpdir(), 'mesh-trace-bundle-'))
  try {
    await extract({ file: bundle, cwd: tmp, strict: true })
  } catch (err) {
    await rm(tmp, { recursive: true, force: true })
    throw new UserError(`The bundle ${bundle} is not a readable tar archive (${(err as Error).message}).`, { code: 'bundle-bad-archive' })
  }
  // A capture archive holds one top-level directory; accept files at the top too.
  const entries = await readdir(tmp, { withFileTypes: true })
  const only = entries.length === 1 && entries[0].isDirectory() ? path.join(tmp, entries[0].name) : tmp
  return { dir: only, dispose: () => rm(tmp, { recursive: true, force: true }) }
}

async function snapshotFromFiles(files: BundleFiles, display: (file: string) => string): Promise<Snapshot> {
  const snapshot: Snapshot = { notes: [], files: {} }
  const logical = (name: string, file: string): void => {
    ;(snapshot.files as Record<string, string>)[name] = display(file)
  }
  if (files.pod !== undefined) {
    snapshot.pod = podFacts(await readJson(files.pod, display), display(files.pod))
    logical('pod', files.pod)
  }
  if (files.iptables !== undefined || files.ip6tables !== undefined) {
    snapshot.iptables = { origin: 'file' }
    if (files.iptables !== undefined) {
      snapshot.iptables.v4 = await readText(files.iptables)
      logical('iptables-save', files.iptables)
    }
    if (files.ip6tables !== undefined) {
      snapshot.iptables.v6 = await readText(files.ip6tables)
      logical('ip6tables-save', files.ip6tables)
    }
  }
  const clusters = files.clustersJson ?? files.clustersText
  const stats = files.statsJson ?? files.statsText
  if (files.configDump !== undefined || clusters !== undefined || stats !== undefined) {
    snapshot.envoy = { origin: 'file' }
    if (files.configDump !== undefined) {
      snapshot.envoy.configDump = await readJson(files.configDump, display)
      logical('config_dump', files.configDump)
    }
    if (clusters !== undefined) {
      snapshot.envoy.clusters = await readMaybeJson(clusters, display)
      logical('clusters', clusters)
    }
    if (stats !== undefined) {
      snapshot.envoy.stats = await readMaybeJson(stats, display)
      logical('stats', stats)
    }
  }
  if (files.services !== undefined) {
    snapshot.services = serviceFacts(await readJson(files.services, display), display(files.services))
    logical('services', files.services)
  }
  if (files.pods !== undefined) {
    snapshot.pods = podList(await readJson(files.pods, display))
    logical('pods', files.pods)
  }
  if (files.meta !== undefined) {
    const meta = (await readJson(files.meta, display)) as { capturedAt?: unknown; notes?: unknown; iptables?: { origin?: unknown } }
    if (typeof meta?.capturedAt === 'string') snapshot.capturedAt = meta.capturedAt
    // capture records where iptables-save.txt came from: rules rebuilt for an istio-cni pod stay marked as such.
    const origin = meta?.iptables?.origin
    if (snapshot.iptables !== undefined && (origin === 'init-log' || origin === 'cni' || origin === 'exec')) snapshot.iptables.origin = origin
    if (Array.isArray(meta?.notes)) snapshot.notes.push(...meta.notes.filter((n): n is string => typeof n === 'string'))
  }
  return snapshot
}

async function readText(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8')
  } catch (err) {
    throw new UserError(`${file} cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}).`, { code: 'file-unreadable' })
  }
}

/** Parses JSON, turning a syntax error into one sentence naming the file, line and column. */
export async function readJson(file: string, display: (file: string) => string = (f) => f): Promise<unknown> {
  const text = await readText(file)
  return parseJsonText(text, display(file))
}

async function readMaybeJson(file: string, display: (file: string) => string): Promise<unknown> {
  const text = await readText(file)
  return /^\s*[[{]/.test(text) ? parseJsonText(text, display(file)) : text
}

/** JSON.parse with an error that names the file and the line:column of the fault. */
export function parseJsonText(text: string, name: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    const fault = locateJsonError(text)
    if (fault === undefined) throw new UserError(`${name} is not valid JSON.`, { code: 'bad-json' })
    const { line, column } = lineColumn(text, fault.offset)
    throw new UserError(`${name} is not valid JSON at line ${line}, column ${column}: ${fault.problem}.`, { code: 'bad-json' })
  }
}

type Json = Record<string, unknown>

function asObject(v: unknown): Json | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : undefined
}

/** The Pod object (`kubectl get pod -o json`) → the facts the engine needs. */
export function podFacts(raw: unknown, file: string): PodFacts {
  const pod = asObject(raw)
  const meta = asObject(pod?.metadata)
  if (pod === undefined || meta === undefined || typeof meta.name !== 'string') {
    throw new UserError(`${file} is not a Pod object: /metadata/name is missing.`, { code: 'bad-pod' })
  }
  const spec = asObject(pod.spec) ?? {}
  const status = asObject(pod.status) ?? {}
  const podSec = asObject(spec.securityContext) ?? {}
  const containers = (Array.isArray(spec.containers) ? spec.containers : []).map(asObject).filter((c): c is Json => c !== undefined)
  const inits = (Array.isArray(spec.initContainers) ? spec.initContainers : []).map(asObject).filter((c): c is Json => c !== undefined)
  const users: NonNullable<PodFacts['containerUsers']> = {}
  for (const c of [...containers, ...inits]) {
    const sec = asObject(c.securityContext) ?? {}
    const runAsUser = num(sec.runAsUser) ?? num(podSec.runAsUser)
    const runAsGroup = num(sec.runAsGroup) ?? num(podSec.runAsGroup)
    if (typeof c.name === 'string' && (runAsUser !== undefined || runAsGroup !== undefined)) {
      users[c.name] = { ...(runAsUser !== undefined ? { runAsUser } : {}), ...(runAsGroup !== undefined ? { runAsGroup } : {}) }
    }
  }
  const ips = (Array.isArray(status.podIPs) ? status.podIPs : [])
    .map((p) => asObject(p)?.ip)
    .filter((ip): ip is string => typeof ip === 'string')
  const ip = typeof status.podIP === 'string' ? status.podIP : ips[0]
  const facts: PodFacts = {
    name: meta.name,
    namespace: typeof meta.namespace === 'string' ? meta.namespace : 'default',
    containers: containers.map((c) => String(c.name)),
    initContainers: inits.map((c) => String(c.name)),
    containerUsers: users,
  }
  if (ip !== undefined) facts.ip = ip
  if (ips.length > 0 || ip !== undefined) facts.ips = ips.length > 0 ? ips : [ip as string]
  if (typeof spec.nodeName === 'string') facts.node = spec.nodeName
  if (asObject(meta.labels) !== undefined) facts.labels = meta.labels as Record<string, string>
  if (asObject(meta.annotations) !== undefined) facts.annotations = meta.annotations as Record<string, string>
  return facts
}

function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined
}

/** services.json: a Kubernetes List of Services, or the Snapshot's own array form. */
export function serviceFacts(raw: unknown, file: string): ServiceFacts[] {
  const items = Array.isArray(raw) ? raw : asObject(raw)?.items
  if (!Array.isArray(items)) {
    throw new UserError(`${file} is neither a List of Services nor an array: /items is missing.`, { code: 'bad-services' })
  }
  return items.flatMap((item, i): ServiceFacts[] => {
    const o = asObject(item)
    if (o === undefined) return []
    if (typeof o.name === 'string' && Array.isArray(o.clusterIPs)) return [o as unknown as ServiceFacts]
    const meta = asObject(o.metadata)
    const spec = asObject(o.spec)
    if (meta === undefined || spec === undefined || typeof meta.name !== 'string') {
      throw new UserError(`${file}: /items/${i} is not a Service (metadata.name or spec missing).`, { code: 'bad-services' })
    }
    const clusterIPs = Array.isArray(spec.clusterIPs)
      ? spec.clusterIPs.filter((x): x is string => typeof x === 'string')
      : typeof spec.clusterIP === 'string'
        ? [spec.clusterIP]
        : []
    const ports = (Array.isArray(spec.ports) ? spec.ports : []).map(asObject).filter((p): p is Json => p !== undefined)
    return [
      {
        name: meta.name,
        namespace: typeof meta.namespace === 'string' ? meta.namespace : 'default',
        clusterIPs,
        ports: ports.map((p) => ({
          ...(typeof p.name === 'string' ? { name: p.name } : {}),
          port: Number(p.port),
          protocol: typeof p.protocol === 'string' ? p.protocol : 'TCP',
        })),
      },
    ]
  })
}

function podList(raw: unknown): NonNullable<Snapshot['pods']> {
  const items = Array.isArray(raw) ? raw : asObject(raw)?.items
  if (!Array.isArray(items)) return []
  return items.flatMap((item) => {
    const o = asObject(item)
    if (o === undefined) return []
    if (typeof o.name === 'string' && Array.isArray(o.ips)) return [o as { name: string; namespace: string; ips: string[] }]
    const meta = asObject(o.metadata)
    const status = asObject(o.status) ?? {}
    if (meta === undefined || typeof meta.name !== 'string') return []
    const ips = (Array.isArray(status.podIPs) ? status.podIPs : []).map((p) => asObject(p)?.ip).filter((x): x is string => typeof x === 'string')
    if (ips.length === 0 && typeof status.podIP === 'string') ips.push(status.podIP)
    return [{ name: meta.name, namespace: typeof meta.namespace === 'string' ? meta.namespace : 'default', ips }]
  })
}
