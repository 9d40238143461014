// Finds the Node binary a single executable is built from: the running node when it is the same
// version and platform, otherwise npm's node-<os>-<arch> package, fetched with `npm pack` (which
// checks the registry's integrity hash) and kept under dist-release/.cache/.
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, rm } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { extract } from 'tar'
import { NODE_VERSION } from './platforms.mjs'

/**
 * Node's LICENSE for the binary `nodeBinaryFor` returned: the npm package's, or for the running
 * node the one its installation ships (undefined when there is none).
 */
export function nodeLicenseFor(nodeBinary) {
  const candidates = [
    join(dirname(nodeBinary), '..', 'LICENSE'),
    join(dirname(nodeBinary), '..', 'share', 'doc', 'node', 'LICENSE'),
    join(dirname(nodeBinary), '..', 'share', 'doc', 'nodejs', 'LICENSE'),
  ]
  return candidates.find((c) => existsSync(c))
}

/** Path of a Node binary for `platform`, downloading into `cacheDir` only when the running node will not do. */
export async function nodeBinaryFor(platform, cacheDir) {
  if (process.version === `v${NODE_VERSION}` && process.platform === platform.host.platform && process.arch === platform.host.arch) {
    return process.execPath
  }
  const spec = `${platform.npm}@${NODE_VERSION}`
  const unpacked = join(cacheDir, `${platform.npm}-${NODE_VERSION}`)
  const binary = join(unpacked, ...platform.nodePath.split('/'))
  if (existsSync(binary) && existsSync(join(unpacked, 'LICENSE'))) return binary
  await mkdir(cacheDir, { recursive: true })
  const tarball = join(cacheDir, `${platform.npm}-${NODE_VERSION}.tgz`)
  if (!existsSync(tarball)) {
    process.stderr.write(`fetching ${spec} from the npm registry\n`)
    execFileSync('npm', ['pack', spec, '--silent', '--pack-destination', cacheDir], { stdio: ['ignore', 'ignore', 'inherit'] })
  }
  await rm(unpacked, { recursive: true, force: true })
  await mkdir(unpacked, { recursive: true })
  await extract({ file: tarball, cwd: unpacked, strip: 1, filter: (p) => p === `package/${platform.nodePath}` || p === 'package/LICENSE' })
  if (!existsSync(binary)) throw new Error(`${tarball} holds no ${platform.nodePath}`)
  return binary
}
