#!/usr/bin/env node
// npm run release: the esbuild bundle, one archive per krew platform, and the krew manifest.
//
//   node scripts/release/build.mjs [--platforms all|host|linux/amd64,...] [--out DIR]
//
// Output (default dist-release/):
//   bundle/                                         the esbuild bundle (see bundle.mjs)
//   kubectl-mesh-trace_v<version>_<os>_<arch>.tar.gz   single binary, or node launcher + lib/; LICENSE and
//                                                   THIRD-PARTY-NOTICES.txt (bundled packages, and Node.js for the binaries)
//   plugins/mesh-trace.yaml                         krew manifest, sha256 computed from the archives
//   checksums.txt                                   sha256sum-style list of the archives
// Settings: RELEASE_URL_BASE (where the archives will be downloaded from; default the GitHub release
// of this version), RELEASE_HOMEPAGE, SOURCE_DATE_EPOCH (archive mtimes). Node binaries for other
// platforms are fetched from npm into dist-release/.cache/ once.
import { chmod, cp, mkdir, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { pathToFileURL } from 'node:url'
import { buildBundle, NOTICES, readRuntimePjson, repoRoot } from './bundle.mjs'
import { buildSeaBlob, buildSeaExecutable } from './sea.mjs'
import { nodeBinaryFor, nodeLicenseFor } from './node-binary.mjs'
import { writeTarGz, sha256File } from './archive.mjs'
import { archiveName, executableFor, EXECUTABLE, NODE_VERSION, selectPlatforms } from './platforms.mjs'
import { buildKrewManifest, krewManifestYaml, validateKrewManifest, PLUGIN_NAME } from './krew-manifest.mjs'

export { selectPlatforms }

/** Default homepage; the URL base defaults to its GitHub release download path. */
export const DEFAULT_HOMEPAGE = 'https://github.com/mesh-trace/kubectl-mesh-trace'
const launcherScript = new URL('./entry/node-launcher.sh', import.meta.url)

/**
 * Builds the release into `out` for `platforms` (PLATFORMS entries) and returns what it wrote:
 * {version, bundleDir, archives: [{os, arch, kind, file, sha256, bytes, ...}], manifestPath}.
 */
export async function buildRelease({ out = join(repoRoot, 'dist-release'), platforms = selectPlatforms('all'), urlBase, homepage, cacheDir, log = (line) => process.stderr.write(`${line}\n`) } = {}) {
  const { version } = await readRuntimePjson()
  homepage ??= process.env.RELEASE_HOMEPAGE || DEFAULT_HOMEPAGE
  urlBase ??= process.env.RELEASE_URL_BASE || `${homepage}/releases/download/v${version}`
  cacheDir ??= join(repoRoot, 'dist-release', '.cache')
  const license = join(repoRoot, 'LICENSE')
  await stat(license)

  // Start clean (archives of another version or platform set would not match the new manifest).
  await mkdir(out, { recursive: true })
  const stale = (await readdir(out)).filter((f) => /^kubectl-mesh-trace_v.*\.tar\.gz$/.test(f) || ['bundle', 'stage', 'sea', 'plugins', 'checksums.txt'].includes(f))
  for (const entry of stale) await rm(join(out, entry), { recursive: true, force: true })
  const bundleDir = join(out, 'bundle')
  let t = Date.now()
  const bundle = await buildBundle(bundleDir)
  log(`bundle: ${bundle.files.length} files, ${(bundle.bytes / 1e6).toFixed(1)} MB (${Date.now() - t} ms)`)

  let blob
  const archives = []
  for (const platform of platforms) {
    t = Date.now()
    const stage = join(out, 'stage', `${platform.os}_${platform.arch}`)
    await mkdir(stage, { recursive: true })
    const bin = executableFor(platform)
    const files = [{ from: bin, to: '.' }, { from: 'LICENSE', to: '.' }, { from: NOTICES, to: '.' }]
    let notices = await readFile(join(bundleDir, NOTICES), 'utf8')
    if (platform.kind === 'sea') {
      blob ??= await buildSeaBlob({ bundleDir, bundle, version, workDir: join(out, 'sea') })
      const nodeBinary = await nodeBinaryFor(platform, cacheDir)
      const nodeLicense = nodeLicenseFor(nodeBinary)
      // The single binary is a Node.js binary: its license travels with it.
      notices += `\n${'='.repeat(78)}\nNode.js ${NODE_VERSION} (MIT; the runtime inside the single binary)\n${nodeLicense ? (await readFile(nodeLicense, 'utf8')).trim() : `See https://github.com/nodejs/node/blob/v${NODE_VERSION}/LICENSE`}\n`
      const warnings = await buildSeaExecutable({ nodeBinary, blob, output: join(stage, bin), macho: platform.os === 'darwin' })
      for (const w of warnings) log(`  postject (${platform.os}/${platform.arch}): ${w}`)
    } else {
      await cp(launcherScript, join(stage, EXECUTABLE))
      await chmod(join(stage, EXECUTABLE), 0o755)
      await cp(bundleDir, join(stage, 'lib'), { recursive: true })
      files.splice(1, 0, { from: 'lib', to: '.' })
    }
    await cp(license, join(stage, 'LICENSE'))
    await writeFile(join(stage, NOTICES), notices)
    const name = archiveName(version, platform)
    const file = join(out, name)
    await rm(file, { force: true })
    await writeTarGz(stage, file)
    const sha256 = await sha256File(file)
    const { size } = await stat(file)
    archives.push({ os: platform.os, arch: platform.arch, kind: platform.kind, needsNode: platform.kind === 'node-launcher', file, name, sha256, bytes: size, uri: `${urlBase.replace(/\/$/, '')}/${name}`, files, bin })
    log(`${name}: ${(size / 1e6).toFixed(1)} MB, sha256 ${sha256} (${Date.now() - t} ms)`)
  }

  const manifest = buildKrewManifest({ version, homepage, archives })
  const errors = validateKrewManifest(manifest, `${PLUGIN_NAME}.yaml`)
  if (errors.length > 0) throw new Error(`the krew manifest breaks krew's rules:\n  ${errors.join('\n  ')}`)
  const manifestPath = join(out, 'plugins', `${PLUGIN_NAME}.yaml`)
  await mkdir(join(out, 'plugins'), { recursive: true })
  await writeFile(manifestPath, krewManifestYaml(manifest))
  await writeFile(join(out, 'checksums.txt'), archives.map((a) => `${a.sha256}  ${a.name}\n`).join(''))
  await rm(join(out, 'stage'), { recursive: true, force: true })
  log(`krew manifest: ${manifestPath}`)
  return { version, bundleDir, bundle, archives, manifestPath, manifest }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values } = parseArgs({ options: { platforms: { type: 'string', default: 'all' }, out: { type: 'string' } } })
  const started = Date.now()
  await buildRelease({ platforms: selectPlatforms(values.platforms), ...(values.out ? { out: resolve(values.out) } : {}) })
  process.stderr.write(`release built in ${((Date.now() - started) / 1000).toFixed(1)} s\n`)
}
