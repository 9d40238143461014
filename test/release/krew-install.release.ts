import { access, appendFile, copyFile, mkdtemp, readFile, readdir, realpath, rm } from 'node:fs/promises'
import { createHash } from 'node:crypto'
import { parse } from 'yaml'
import { validateKrewManifest } from '../../scripts/release/krew-manifest.mjs'
import { constants } from 'node:fs'
import { tmpdir } from 'node:os'
import { spawnSync } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, inject, it } from 'vitest'
import { execa } from 'execa'
import { krewInstall } from './krew-simulator.js'
import { startFakeApiServer } from '../fake-apiserver/fake-apiserver.js'
import { loadBundleCluster } from '../fake-apiserver/cluster-data.js'

// `kubectl krew install --manifest=… --archive=…`, simulated (krew cannot be had here), then the
// installed plugin run through the real kubectl from a temp directory, with PATH holding only
// $KREW_ROOT/bin and kubectl's own directory: no node and no node_modules in reach.
const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const HOST = { linux: 'linux', darwin: 'darwin', win32: 'windows' }[process.platform as string] ?? process.platform
const HOST_ARCH = { x64: 'amd64', arm64: 'arm64' }[process.arch as string] ?? process.arch
const kubectlDir = async () => path.dirname(await realpath((await execa('sh', ['-c', 'command -v kubectl'])).stdout.trim()))

async function installed(os: string, arch: string) {
  const release = inject('release')
  const archive = release.archives.find((a) => a.os === os && a.arch === arch)
  if (archive === undefined) throw new Error(`the release test build has no ${os}/${arch} archive`)
  const krewRoot = await mkdtemp(path.join(tmpdir(), 'krew-root-'))
  const install = await krewInstall({ manifestPath: release.manifestPath, archivePath: archive.file, krewRoot, os, arch })
  const home = await mkdtemp(path.join(tmpdir(), 'mesh-trace-home-'))
  const cwd = await mkdtemp(path.join(tmpdir(), 'mesh-trace-cwd-'))
  return { release, archive, krewRoot, install, home, cwd, cleanup: () => Promise.all([krewRoot, home, cwd].map((d) => rm(d, { recursive: true, force: true }))) }
}

async function hasNode(dirs: string[]): Promise<boolean> {
  for (const dir of dirs) {
    if (await access(path.join(dir, 'node'), constants.X_OK).then(() => true, () => false)) return true
  }
  return false
}

const hasTmux = spawnSync('tmux', ['-V']).status === 0

/** Polls a screen until `done` holds (10 s at most). */
async function waitForScreen(read: () => Promise<string>, done: (screen: string) => boolean): Promise<string> {
  let screen = ''
  for (let i = 0; i < 100; i++) {
    screen = await read()
    if (done(screen)) return screen
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`timed out; the screen shows:\n${screen}`)
}

/** Whether a node_modules directory sits in `dir` or any directory above it (Node would search them). */
async function nodeModulesInReach(dir: string): Promise<string | undefined> {
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    if (await access(path.join(d, 'node_modules')).then(() => true, () => false)) return path.join(d, 'node_modules')
    if (path.dirname(d) === d) return undefined
  }
}

function kubectl(env: { PATH: string; HOME: string }, cwd: string, ...args: string[]) {
  return execa('kubectl', args, { cwd, env: { ...env, NO_COLOR: '1' }, extendEnv: false, reject: false })
}

describe('krew install of the single binary', () => {
  it('traces the sample through kubectl with no node on PATH', async () => {
    const t = await installed(HOST, HOST_ARCH)
    try {
      const dirs = [path.join(t.krewRoot, 'bin'), await kubectlDir()]
      const env = { PATH: dirs.join(path.delimiter), HOME: t.home }
      expect(await hasNode(dirs)).toBe(false)

      const first = await kubectl(env, t.cwd, 'mesh-trace', '--bundle', path.join(repo, 'examples/bookinfo'), 'http://ratings:9080/ratings/0', '-o', 'json')
      const again = await kubectl(env, t.cwd, 'mesh-trace', '--bundle', path.join(repo, 'examples/bookinfo'), 'http://ratings:9080/ratings/0', '-o', 'json')

      expect(first.stderr).toBe('')
      expect(first.exitCode).toBe(0)
      const trace = JSON.parse(first.stdout)
      expect(trace.result).toMatchObject({ redirectPort: 15001, cluster: 'outbound|9080||ratings.default.svc.cluster.local', endpoints: ['172.33.100.2:9080'] })
      // The second run starts from the unpacked bundle and the V8 code cache the first one left.
      expect(again.stderr).toBe('')
      expect(again.stdout).toBe(first.stdout)
      const cached = await readdir(path.join(t.home, '.cache', 'kubectl-mesh_trace', t.release.version))
      expect(cached).toHaveLength(2)
      expect(cached).toContain('code-cache')
      expect(cached.find((d) => d !== 'code-cache')).toMatch(/^[0-9a-f]{16}$/)
      const unpacked = path.join(t.home, '.cache', 'kubectl-mesh_trace', t.release.version, cached.find((d) => d !== 'code-cache')!)
      for (const dir of [t.cwd, unpacked, t.install.storeDir]) expect(await nodeModulesInReach(dir)).toBeUndefined()
    } finally {
      await t.cleanup()
    }
  })

  it('is listed by kubectl plugin list, and answers --version and --help', async () => {
    const t = await installed(HOST, HOST_ARCH)
    try {
      const env = { PATH: [path.join(t.krewRoot, 'bin'), await kubectlDir()].join(path.delimiter), HOME: t.home }

      const list = await kubectl(env, t.cwd, 'plugin', 'list')
      const version = await kubectl(env, t.cwd, 'mesh-trace', '--version')
      const help = await kubectl(env, t.cwd, 'mesh-trace', '--help')

      expect(list.stdout).toContain(t.install.binLink)
      expect(list.stderr).not.toMatch(/warning/i)
      expect(version.stdout).toBe(`kubectl-mesh-trace/${t.release.version} ${process.platform}-${process.arch} node-v20.20.2`)
      expect(help.exitCode).toBe(0)
      expect(help.stdout).toMatch(/\$ kubectl mesh-trace \[COMMAND\]/)
      expect(help.stdout).toMatch(/^ {2}completion /m)
    } finally {
      await t.cleanup()
    }
  })

  it('still runs when its cache directory cannot be written (falls back to TMPDIR, no code cache)', async () => {
    const t = await installed(HOST, HOST_ARCH)
    try {
      const env = { PATH: [path.join(t.krewRoot, 'bin'), await kubectlDir()].join(path.delimiter), HOME: t.home }

      const r = await execa('kubectl', ['mesh-trace', '--bundle', path.join(repo, 'examples/bookinfo'), 'http://ratings:9080/ratings/0', '-o', 'json'], {
        cwd: t.cwd, env: { ...env, MESH_TRACE_CACHE_DIR: '/proc/mesh-trace-cannot-write-here', TMPDIR: t.cwd }, extendEnv: false, reject: false, timeout: 20_000,
      })

      expect(r.stderr).toBe('')
      expect(JSON.parse(r.stdout).result).toMatchObject({ redirectPort: 15001 })
      expect((await readdir(t.cwd)).some((d) => d.startsWith('kubectl-mesh_trace-'))).toBe(true)
    } finally {
      await t.cleanup()
    }
  })

  it('reads a live pod through client-node inside the binary (fake API server)', async () => {
    const t = await installed(HOST, HOST_ARCH)
    const server = await startFakeApiServer({ data: loadBundleCluster(path.join(repo, 'examples/bookinfo')) })
    try {
      const env = { PATH: [path.join(t.krewRoot, 'bin'), await kubectlDir()].join(path.delimiter), HOME: t.home }

      const r = await kubectl(env, t.cwd, 'mesh-trace', 'reviews-v1-cb8655c75-b97zc', 'http://ratings:9080/ratings/0', '--kubeconfig', server.kubeconfigPath, '-o', 'json')

      expect(r.stderr).not.toMatch(/Cannot find|ERR_MODULE|bug/)
      expect(r.exitCode).toBe(0)
      expect(JSON.parse(r.stdout).result).toMatchObject({ redirectPort: 15001, cluster: 'outbound|9080||ratings.default.svc.cluster.local' })
    } finally {
      await server.close()
      await t.cleanup()
    }
  })

  it.runIf(hasTmux)('opens the ink explorer (-i) on a terminal', async () => {
    const t = await installed(HOST, HOST_ARCH)
    const socket = `mesh-trace-release-${process.pid}`
    const tmux = (...args: string[]) => execa('tmux', ['-L', socket, '-f', '/dev/null', ...args])
    try {
      const pathEnv = [path.join(t.krewRoot, 'bin'), await kubectlDir()].join(path.delimiter)
      const command = `cd ${t.cwd} && env -i PATH=${pathEnv} HOME=${t.home} TERM=xterm-256color kubectl mesh-trace --bundle ${path.join(repo, 'examples/bookinfo')} http://ratings:9080/ratings/0 -i; echo EXIT=$?; sleep 30`

      await tmux('new-session', '-d', '-s', 'release', '-x', '100', '-y', '30', command)
      const screen = await waitForScreen(() => tmux('capture-pane', '-p', '-t', 'release').then((r) => r.stdout), (s) => s.includes('iptables'))
      await tmux('send-keys', '-t', 'release', 'q')
      const after = await waitForScreen(() => tmux('capture-pane', '-p', '-t', 'release').then((r) => r.stdout), (s) => s.includes('EXIT='))

      expect(screen).toMatch(/GET http:\/\/ratings:9080\/ratings\/0 +forwarded/)
      expect(after).toContain('EXIT=0')
    } finally {
      await tmux('kill-server').catch(() => undefined)
      await t.cleanup()
    }
  })

  it('has a manifest whose sha256 values are those of the archives, and which passes krew validation', async () => {
    const release = inject('release')
    const manifest = parse(await readFile(release.manifestPath, 'utf8'))

    expect(validateKrewManifest(manifest, path.basename(release.manifestPath))).toEqual([])
    expect(manifest.spec.platforms).toHaveLength(release.archives.length)
    for (const archive of release.archives) {
      const platform = manifest.spec.platforms.find((p: { selector: { matchLabels: { os: string; arch: string } } }) => p.selector.matchLabels.os === archive.os && p.selector.matchLabels.arch === archive.arch)
      expect(platform.sha256).toBe(createHash('sha256').update(await readFile(archive.file)).digest('hex'))
      expect(platform.uri).toBe(`https://example.test/releases/v0/${archive.name}`)
    }
  })

  it('refuses an archive whose sha256 is not the manifest\'s', async () => {
    const release = inject('release')
    const archive = release.archives.find((a) => a.kind === 'node-launcher')!
    const dir = await mkdtemp(path.join(tmpdir(), 'krew-tamper-'))
    try {
      const tampered = path.join(dir, archive.name)
      await copyFile(archive.file, tampered)
      await appendFile(tampered, '\n')

      const install = krewInstall({ manifestPath: release.manifestPath, archivePath: tampered, krewRoot: dir, os: archive.os, arch: archive.arch })

      await expect(install).rejects.toThrow(/checksum does not match/)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})

describe('krew install of the node-launcher archive (darwin/arm64, run here on this OS)', () => {
  it('runs the bundle with the node on PATH, and says so when there is none', async () => {
    const t = await installed('darwin', 'arm64')
    try {
      const bin = path.join(t.krewRoot, 'bin')
      const withNode = { PATH: [bin, await kubectlDir(), path.dirname(process.execPath), '/usr/bin', '/bin'].join(path.delimiter), HOME: t.home }
      const withoutNode = { PATH: [bin, await kubectlDir()].join(path.delimiter), HOME: t.home }

      const ok = await kubectl(withNode, t.cwd, 'mesh-trace', '--bundle', path.join(repo, 'examples/bookinfo'), 'http://ratings:9080/ratings/0', '-o', 'json')
      const missing = await kubectl(withoutNode, t.cwd, 'mesh-trace', '--version')

      expect(ok.stderr).toBe('')
      expect(JSON.parse(ok.stdout).result).toMatchObject({ redirectPort: 15001, cluster: 'outbound|9080||ratings.default.svc.cluster.local' })
      expect(missing.exitCode).toBe(1)
      expect(missing.stderr).toMatch(/needs Node\.js >= 20\.19 on PATH/)
    } finally {
      await t.cleanup()
    }
  })
})
