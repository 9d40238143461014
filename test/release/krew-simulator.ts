import { createHash } from 'node:crypto'
import { cp, mkdir, mkdtemp, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { extract } from 'tar'
import { parse, stringify } from 'yaml'
import { validateKrewManifest } from '../../scripts/release/krew-manifest.mjs'

/** What an install left behind: the store directory and the link kubectl finds. */
export interface KrewInstallation {
  storeDir: string
  binLink: string
  receipt: string
}

/**
 * Does what `kubectl krew install --manifest=MANIFEST --archive=ARCHIVE` does (krew cannot be had
 * here): validate the manifest, pick the platform for KREW_OS/KREW_ARCH (`os`/`arch`), check the
 * archive's sha256, unpack it, apply the `files` operations into `$KREW_ROOT/store/<name>/<version>/`,
 * link `$KREW_ROOT/bin/kubectl-<name, - → _>` to `bin`, and write the receipt.
 */
export async function krewInstall(options: { manifestPath: string; archivePath: string; krewRoot: string; os: string; arch: string }): Promise<KrewInstallation> {
  const manifest = parse(await readFile(options.manifestPath, 'utf8'))
  const problems = validateKrewManifest(manifest, path.basename(options.manifestPath))
  if (problems.length > 0) throw new Error(`invalid plugin manifest: ${problems.join('; ')}`)
  const name: string = manifest.metadata.name
  const platform = manifest.spec.platforms.find((p: { selector: { matchLabels: Record<string, string> } }) =>
    Object.entries(p.selector.matchLabels).every(([k, v]) => (k === 'os' ? options.os : options.arch) === v))
  if (platform === undefined) throw new Error(`plugin "${name}" does not offer installation for this platform (${options.os}/${options.arch})`)

  const archive = await readFile(options.archivePath)
  const sum = createHash('sha256').update(archive).digest('hex')
  if (sum !== platform.sha256) throw new Error(`checksum does not match, want: ${platform.sha256}, got ${sum}`)

  const staging = await mkdtemp(path.join(tmpdir(), 'krew-staging-'))
  try {
    await extract({ file: options.archivePath, cwd: staging })
    const storeDir = path.join(options.krewRoot, 'store', name, manifest.spec.version)
    await mkdir(storeDir, { recursive: true })
    for (const op of platform.files as Array<{ from: string; to: string }>) {
      const matches = await glob(staging, op.from)
      if (matches.length === 0) throw new Error(`no files in the plugin archive matched the glob pattern=${op.from}`)
      for (const match of matches) {
        const target = path.join(storeDir, op.to, path.basename(match))
        await mkdir(path.dirname(target), { recursive: true })
        await cp(path.join(staging, match), target, { recursive: true })
      }
    }
    const binTarget = path.join(storeDir, platform.bin)
    const binLink = path.join(options.krewRoot, 'bin', `kubectl-${name.replace(/-/g, '_')}${options.os === 'windows' ? '.exe' : ''}`)
    await mkdir(path.dirname(binLink), { recursive: true })
    await rm(binLink, { force: true })
    await symlink(binTarget, binLink)
    const receipt = path.join(options.krewRoot, 'receipts', `${name}.yaml`)
    await mkdir(path.dirname(receipt), { recursive: true })
    await writeFile(receipt, stringify({ ...manifest, status: { source: { name: 'detached' } } }))
    return { storeDir, binLink, receipt }
  } finally {
    await rm(staging, { recursive: true, force: true })
  }
}

/** Go's filepath.Glob for one path segment pattern with `*` (what the manifests here use), relative to `dir`. */
async function glob(dir: string, pattern: string): Promise<string[]> {
  const parts = pattern.split('/')
  let found = ['']
  for (const part of parts) {
    const next: string[] = []
    const re = new RegExp(`^${part.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]')}$`)
    for (const base of found) {
      const entries = await readdir(path.join(dir, base)).catch(() => [] as string[])
      for (const e of entries.sort()) if (re.test(e)) next.push(base === '' ? e : `${base}/${e}`)
    }
    found = next
  }
  return found
}
