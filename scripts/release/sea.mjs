// Builds a Node single executable application (SEA) around the bundle (stack-notes §4): the CJS stub
// is the SEA's main script, and every bundle file is an asset the stub writes to a cache directory.
import { spawnSync } from 'node:child_process'
import { chmod, copyFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { NODE_VERSION } from './platforms.mjs'

const postjectCli = createRequire(import.meta.url).resolve('postject/dist/cli.js')
const stubTemplate = fileURLToPath(new URL('./entry/sea-stub.cjs', import.meta.url))
/** The fuse Node's SEA support looks for (same in every Node 20 binary). */
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2'

/**
 * Writes the SEA preparation blob for `bundle` (a `describeBundle` result of `bundleDir`) into `workDir`.
 * The blob holds no code cache or snapshot, so the same blob suits every platform of this Node version.
 */
export async function buildSeaBlob({ bundleDir, bundle, version, workDir }) {
  if (process.version !== `v${NODE_VERSION}`) {
    throw new Error(`the SEA blob must be made by Node ${NODE_VERSION} (the version inside the binaries), not ${process.version}`)
  }
  await mkdir(workDir, { recursive: true })
  const stub = (await readFile(stubTemplate, 'utf8'))
    .replace('__MESH_TRACE_VERSION__', version)
    .replace('__MESH_TRACE_BUNDLE_HASH__', bundle.sha256.slice(0, 16))
  await writeFile(join(workDir, 'sea-stub.cjs'), stub)
  const filesJson = join(workDir, 'files.json')
  await writeFile(filesJson, JSON.stringify(bundle.files))
  // Paths relative to workDir (node runs there): the blob records the main script's path, and an
  // absolute one would make the archives differ from one output directory to the next.
  const rel = (p) => relative(workDir, p).split('\\').join('/')
  const assets = { 'files.json': 'files.json' }
  for (const f of bundle.files) assets[`bundle/${f}`] = rel(join(bundleDir, ...f.split('/')))
  const blob = join(workDir, 'sea-prep.blob')
  const config = { main: 'sea-stub.cjs', output: 'sea-prep.blob', disableExperimentalSEAWarning: true, useSnapshot: false, useCodeCache: false, assets }
  await writeFile(join(workDir, 'sea-config.json'), JSON.stringify(config, null, 2))
  const r = spawnSync(process.execPath, ['--experimental-sea-config', 'sea-config.json'], { cwd: workDir, encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`node --experimental-sea-config failed:\n${r.stdout}${r.stderr}`)
  return blob
}

/**
 * Copies `nodeBinary` to `output` and injects the blob with postject (run as a child process, so its
 * LIEF warnings about unrelated ELF notes can be filtered). Not stripped: stripping breaks the SEA
 * (stack-notes §4). Returns postject's remaining warnings (e.g. the invalidated Windows signature).
 */
export async function buildSeaExecutable({ nodeBinary, blob, output, macho }) {
  await rm(output, { force: true })
  await copyFile(nodeBinary, output)
  await chmod(output, 0o755)
  const args = [postjectCli, output, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', SEA_FUSE, ...(macho ? ['--macho-segment-name', 'NODE_SEA'] : [])]
  const r = spawnSync(process.execPath, args, { encoding: 'utf8' })
  const warnings = `${r.stdout}${r.stderr}`.replace(/\u001b\[[0-9;]*m/g, '').split('\n').filter((l) => l.trim() !== '' && !/Can't find string offset for section name|^Start injection|^Injection done|💉/.test(l))
  if (r.status !== 0) throw new Error(`postject failed for ${output}:\n${warnings.join('\n')}`)
  // The binary only runs its SEA blob when postject flipped the fuse to ":1" (checked for every
  // platform, including the ones that cannot be run here).
  if (!(await readFile(output)).includes(`${SEA_FUSE}:1`)) throw new Error(`${output}: the SEA fuse was not flipped`)
  return warnings
}
