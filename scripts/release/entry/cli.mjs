// First file the release runs (node-launcher and single binary alike), bundled to cli.mjs:
// - refuses a Node older than the engines range with one clear line;
// - answers --version without loading oclif (the same line oclif prints);
// - loads main.cjs (and kube.cjs when a live pod needs client-node) through V8 code caches kept in
//   the user's cache directory, so later runs skip parsing and compiling them (what
//   NODE_COMPILE_CACHE does from Node 22 on; Node 20 has no compile cache).
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import Module, { createRequire } from 'node:module'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import vm from 'node:vm'

/* global MESH_TRACE_PJSON, MESH_TRACE_MAIN_HASH, MESH_TRACE_COMMAND_IDS */
const pjson = MESH_TRACE_PJSON
const [major, minor] = process.versions.node.split('.').map(Number)
if (major < 20 || (major === 20 && minor < 19)) {
  process.stderr.write(`kubectl mesh-trace needs Node.js >= 20.19 (found ${process.version} at ${process.execPath}).\n`)
  process.exit(1)
}

const args = process.argv.slice(2)
// oclif prints "wsl" as the platform on WSL; leave that case to oclif.
if (args.length === 1 && args[0] === '--version' && !os.release().toLowerCase().includes('microsoft')) {
  process.stdout.write(`${pjson.name}/${pjson.version} ${process.platform}-${os.arch() === 'ia32' ? 'x86' : os.arch()} node-${process.version}\n`)
  process.exit(0)
}

const root = path.dirname(fileURLToPath(import.meta.url))

/** The user cache directory (the single binary's stub uses the same rules). */
function cacheRoot() {
  if (process.env.MESH_TRACE_CACHE_DIR) return process.env.MESH_TRACE_CACHE_DIR
  const home = os.homedir()
  if (process.env.XDG_CACHE_HOME) return path.join(process.env.XDG_CACHE_HOME, 'kubectl-mesh_trace')
  if (process.platform === 'win32') return path.join(process.env.LOCALAPPDATA || path.join(home, 'AppData', 'Local'), 'kubectl-mesh_trace')
  if (process.platform === 'darwin') return path.join(home, 'Library', 'Caches', 'kubectl-mesh_trace')
  return path.join(home, '.cache', 'kubectl-mesh_trace')
}

/**
 * mkdir -p by hand: Node 20's recursive mkdirSync loops forever where a parent cannot be created
 * the usual way (e.g. under /proc); here any failure throws instead.
 */
function makeDir(dir) {
  const missing = []
  for (let d = dir; !existsSync(d); d = path.dirname(d)) {
    missing.unshift(d)
    if (path.dirname(d) === d) break
  }
  for (const d of missing) {
    try {
      mkdirSync(d)
    } catch (error) {
      if (error.code !== 'EEXIST') throw error
    }
  }
}

// V8 checks its version and flags but not the source text, so the directory names the exact bundle.
const cacheDir = path.join(cacheRoot(), pjson.version, 'code-cache', `${MESH_TRACE_MAIN_HASH}-${process.version}-${process.arch}`)

/**
 * Runs the CommonJS bundle `file` (next to this one) like require() would, compiled from the code
 * cache `<cacheKey>.bin` when there is one, and writes that cache at exit when there was none (so the
 * functions this run compiled are in it).
 */
function requireBundle(file, cacheKey) {
  const filename = path.join(root, file)
  const cacheFile = path.join(cacheDir, `${cacheKey}.bin`)
  let cachedData
  try {
    cachedData = readFileSync(cacheFile)
  } catch {
    cachedData = undefined
  }
  const script = new vm.Script(Module.wrap(readFileSync(filename, 'utf8')), { filename, cachedData })
  if (cachedData === undefined || script.cachedDataRejected) {
    process.once('exit', () => {
      try {
        makeDir(cacheDir)
        const tmp = `${cacheFile}.${process.pid}.tmp`
        writeFileSync(tmp, script.createCachedData())
        renameSync(tmp, cacheFile)
      } catch {
        // A read-only cache directory only costs speed.
      }
    })
  }
  const mod = new Module(filename)
  mod.filename = filename
  mod.paths = []
  // oclif's explicit command strategy require()s main.cjs: hand it this instance.
  Module._cache[filename] = mod
  script.runInThisContext()(mod.exports, createRequire(filename), mod, filename, root)
  mod.loaded = true
  return mod.exports
}

// The bundles cannot import() (a vm.Script has no dynamic import callback on Node 20 without
// --experimental-vm-modules), so they reach the ink explorer and client-node through these.
globalThis.__meshTraceImportUi = () => import('./ui/run-tui.mjs')
globalThis.__meshTraceRequireBundle = (file) => requireBundle(file, path.basename(file, '.cjs'))

// One cache per entry (help, or the command that runs), since each compiles different functions.
const first = args[0]
const entry = MESH_TRACE_COMMAND_IDS.includes(first) ? first : ['--help', '-h', 'help'].includes(first ?? '--help') ? 'help' : 'trace'
const { main } = requireBundle('main.cjs', `main-${entry}`)
await main(root, { ...pjson, oclif: { ...pjson.oclif, commands: { strategy: 'explicit', target: './main.cjs', identifier: 'COMMANDS' } } })
