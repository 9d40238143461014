import { mkdir, mkdtemp, readdir, rename, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { UserError } from '../../errors.js'
import { redactJson, redactText, summarizeRedactions, type Redaction } from '../redact.js'
import { BUNDLE_FILES } from './read-bundle.js'

/** What goes into a bundle, unredacted and in memory (design.md, "bundle"); every part is optional but meta. */
export interface BundleContents {
  /** The Pod object as the API served it. */
  pod?: unknown
  /** iptables rules text (iptables-save output, or an init container log the engine extracts them from). */
  iptablesV4?: string
  iptablesV6?: string
  /** Envoy admin bodies as served (text); JSON ones are parsed, redacted and written pretty-printed. */
  configDump?: string
  clusters?: string
  stats?: string
  /** The Service List and Pod List as served. */
  services?: unknown
  pods?: unknown
  meta: BundleMetaInput
}

/** The facts meta.json records besides redactions and the file list. */
export interface BundleMetaInput {
  capturedAt: string
  toolVersion: string
  source: Record<string, string>
  versions: Record<string, string>
  /** Where iptables-save.txt came from (`{origin: 'init-log', container: 'istio-init'}`). */
  iptables?: Record<string, unknown>
  /** How the Envoy admin was reached. */
  envoy?: Record<string, unknown>
  /** What could not be collected, and why (become the snapshot's notes when the bundle is read). */
  notes: string[]
}

/** The meta.json of a bundle. */
export interface BundleMeta extends BundleMetaInput {
  schema: 'mesh-trace-bundle/v1'
  tool: 'mesh-trace'
  /** What each file holds. */
  files: Record<string, string>
  /** Every redacted value: file, JSON pointer or line, kind. */
  redacted: Redaction[]
}

/** The result of writing a bundle. */
export interface WrittenBundle {
  path: string
  files: string[]
  meta: BundleMeta
  /** One line per file with redactions (`2 sds-secret, 1 private-key in config_dump.json`). */
  redactionSummary: string[]
}

/**
 * Writes a bundle directory, or a `.tar.gz` holding one directory, that `--bundle` reads back. Secrets are redacted
 * in memory before anything is written; files are created owner-only. An existing non-empty directory or an
 * existing archive is replaced only with `overwrite`.
 */
export async function writeBundle(contents: BundleContents, out: string, options: { overwrite?: boolean } = {}): Promise<WrittenBundle> {
  const { files, meta } = renderBundle(contents)
  const archive = /\.(tar\.gz|tgz)$/i.test(out)
  await refuseExisting(out, archive, options.overwrite === true)
  if (!archive) {
    await mkdir(out, { recursive: true, mode: 0o700 })
    await writeFiles(out, files)
  } else {
    const top = path.basename(out).replace(/\.(tar\.gz|tgz)$/i, '') || 'bundle'
    const staging = await mkdtemp(path.join(tmpdir(), 'mesh-trace-capture-'))
    try {
      await mkdir(path.join(staging, top), { mode: 0o700 })
      await writeFiles(path.join(staging, top), files)
      const { create } = await import('tar')
      const partial = `${out}.partial-${process.pid}`
      await create({ gzip: true, file: partial, cwd: staging, portable: true }, [top])
      await rename(partial, out)
    } finally {
      await rm(staging, { recursive: true, force: true })
    }
  }
  return { path: out, files: [...files.keys()].sort(), meta, redactionSummary: summarizeRedactions(meta.redacted) }
}

/** The bundle's files (name → text), already redacted, and its meta. Pure. */
export function renderBundle(contents: BundleContents): { files: Map<string, string>; meta: BundleMeta } {
  const files = new Map<string, string>()
  const described: Record<string, string> = {}
  const redacted: Redaction[] = []
  const json = (name: string, value: unknown, what: string): void => {
    const r = redactJson(value, name)
    redacted.push(...r.redactions)
    files.set(name, `${JSON.stringify(r.value, null, 2)}\n`)
    described[name] = what
  }
  const text = (name: string, value: string, what: string): void => {
    const r = redactText(value, name)
    redacted.push(...r.redactions)
    files.set(name, r.text)
    described[name] = what
  }
  const jsonOrText = (jsonName: string, textName: string, body: string, what: string): void => {
    const parsed = tryJson(body)
    if (parsed !== undefined) json(jsonName, parsed, what)
    else text(textName, body, what)
  }
  if (contents.pod !== undefined) json(BUNDLE_FILES.pod, contents.pod, 'the Pod object, as `kubectl get pod -o json` prints it')
  const iptablesFrom = contents.meta.iptables?.origin === 'init-log' ? `the log of init container ${String(contents.meta.iptables.container)}; the iptables-save output inside it is what the trace uses` : contents.meta.iptables?.origin === 'cni' ? 'rules rebuilt from the pod annotations and istio-cni defaults (not read from the pod)' : 'iptables-save output'
  if (contents.iptablesV4 !== undefined) text(BUNDLE_FILES.iptables, contents.iptablesV4, `IPv4: ${iptablesFrom}`)
  if (contents.iptablesV6 !== undefined) text(BUNDLE_FILES.ip6tables, contents.iptablesV6, `IPv6: ${iptablesFrom}`)
  if (contents.configDump !== undefined) {
    const parsed = tryJson(contents.configDump)
    if (parsed === undefined) text(`${BUNDLE_FILES.configDump}.incomplete`, contents.configDump, 'an Envoy config dump that is not complete JSON')
    else json(BUNDLE_FILES.configDump, parsed, 'Envoy /config_dump?include_eds (secrets redacted)')
  }
  if (contents.clusters !== undefined) jsonOrText(BUNDLE_FILES.clustersJson, BUNDLE_FILES.clustersText, contents.clusters, 'Envoy /clusters')
  if (contents.stats !== undefined) jsonOrText(BUNDLE_FILES.statsJson, BUNDLE_FILES.statsText, contents.stats, 'Envoy /stats')
  if (contents.services !== undefined) json(BUNDLE_FILES.services, contents.services, 'the Services (a List)')
  if (contents.pods !== undefined) json(BUNDLE_FILES.pods, contents.pods, "the Pods of the pod's namespace (a List), plus name and IPs of the pods in other namespaces that EndpointSlices name")
  described[BUNDLE_FILES.meta] = 'this file'
  const meta: BundleMeta = { schema: 'mesh-trace-bundle/v1', tool: 'mesh-trace', ...contents.meta, files: described, redacted }
  files.set(BUNDLE_FILES.meta, `${JSON.stringify(meta, null, 2)}\n`)
  return { files, meta }
}

function tryJson(text: string): unknown {
  if (!/^\s*[[{]/.test(text)) return undefined
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

async function writeFiles(dir: string, files: Map<string, string>): Promise<void> {
  for (const [name, text] of files) await writeFile(path.join(dir, name), text, { mode: 0o600 })
}

async function refuseExisting(out: string, archive: boolean, overwrite: boolean): Promise<void> {
  let info
  try {
    info = await stat(out)
  } catch {
    return
  }
  if (archive) {
    if (info.isDirectory()) throw new UserError(`${out} is a directory, not an archive name.`, { code: 'capture-target-exists', hint: 'Give -o a new FILE.tar.gz, or a directory name without .tar.gz.' })
    if (!overwrite) throw new UserError(`${out} already exists.`, { code: 'capture-target-exists', hint: 'Choose another -o, or pass --overwrite to replace it.' })
    return
  }
  if (!info.isDirectory()) throw new UserError(`${out} exists and is not a directory.`, { code: 'capture-target-exists', hint: 'Give -o a new directory, or FILE.tar.gz for an archive.' })
  const entries = await readdir(out)
  if (entries.length === 0) return
  if (!overwrite) throw new UserError(`The directory ${out} is not empty.`, { code: 'capture-target-exists', hint: 'Choose a new directory, or pass --overwrite to replace the bundle files in it.' })
  // Replace only bundle files, so a mistaken -o . cannot wipe unrelated files.
  const bundleNames = new Set<string>([...Object.values(BUNDLE_FILES), `${BUNDLE_FILES.configDump}.incomplete`])
  const foreign = entries.filter((e) => !bundleNames.has(e))
  if (foreign.length > 0) throw new UserError(`The directory ${out} holds files that are not part of a bundle (${foreign.slice(0, 3).join(', ')}${foreign.length > 3 ? ', …' : ''}).`, { code: 'capture-target-exists', hint: 'Choose a new directory for the bundle.' })
  for (const e of entries) await rm(path.join(out, e), { force: true })
}
