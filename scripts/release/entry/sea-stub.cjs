// The single binary's main script (CommonJS, as Node 20's SEA requires). The CLI is an ES module
// bundle with lazy chunks, which a SEA cannot run from memory (stack-notes §4), so this stub writes
// the bundle, carried as SEA assets, once to <cache>/kubectl-mesh_trace/<version>/<hash>/ and
// import()s it from there. Later runs only check that the directory exists.
// The build replaces the two constants below.
const VERSION = '__MESH_TRACE_VERSION__'
const BUNDLE = '__MESH_TRACE_BUNDLE_HASH__'
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { pathToFileURL } = require('node:url')

/** Where extracted bundles live: $MESH_TRACE_CACHE_DIR, else the platform's user cache directory. */
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
  for (let d = dir; !fs.existsSync(d); d = path.dirname(d)) {
    missing.unshift(d)
    if (path.dirname(d) === d) break
  }
  for (const d of missing) {
    try {
      fs.mkdirSync(d)
    } catch (error) {
      if (error.code !== 'EEXIST') throw error
    }
  }
}

/** Writes every asset into a fresh directory, then renames it into place (a reader never sees half a bundle). */
function extractTo(dir) {
  const sea = require('node:sea')
  const files = JSON.parse(sea.getAsset('files.json', 'utf8'))
  const tmp = `${dir}.tmp-${process.pid}-${Date.now()}`
  try {
    for (const file of files) {
      const target = path.join(tmp, ...file.split('/'))
      makeDir(path.dirname(target))
      fs.writeFileSync(target, new Uint8Array(sea.getAsset(`bundle/${file}`)))
    }
    makeDir(path.dirname(dir))
    fs.renameSync(tmp, dir)
  } catch (error) {
    fs.rmSync(tmp, { recursive: true, force: true })
    // Another run extracted the same bundle at the same moment: use theirs.
    if (!fs.existsSync(path.join(dir, 'cli.mjs'))) throw error
  }
}

/** The extracted bundle's directory, extracting it first if needed (falling back to the temp directory). */
function bundleDir() {
  const candidates = [cacheRoot(), path.join(os.tmpdir(), `kubectl-mesh_trace-${typeof process.getuid === 'function' ? process.getuid() : 'user'}`)]
  let lastError
  for (const root of candidates) {
    const dir = path.join(root, VERSION, BUNDLE)
    if (fs.existsSync(path.join(dir, 'cli.mjs'))) return dir
    try {
      extractTo(dir)
      return dir
    } catch (error) {
      lastError = error
    }
  }
  throw lastError
}

let dir
try {
  dir = bundleDir()
} catch (error) {
  process.stderr.write(`kubectl mesh-trace: cannot unpack its bundle into a cache directory (${error.message}); set MESH_TRACE_CACHE_DIR to a writable directory.\n`)
  process.exit(1)
}
import(pathToFileURL(path.join(dir, 'cli.mjs')).href).catch((error) => {
  process.stderr.write(`kubectl mesh-trace: ${error && error.stack ? error.stack : error}\n`)
  process.exit(1)
})
