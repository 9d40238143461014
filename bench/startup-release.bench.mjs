// Start-up cost of the release build against bare `node -e 0`, measured in one run: the esbuild
// bundle run by node (what the node-launcher archive does) and the single binary (SEA) for this
// machine, each with its V8 code cache warm (the two warm-up runs write it), as users see it from
// their second run on. Builds both first into node_modules/.cache/mesh-trace-bench/release (a few seconds; no
// archives, no downloads). Targets (issue 7): --help <= 2x, offline trace of the sample <= 3x.
import { spawnSync } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { buildBundle, readRuntimePjson } from '../scripts/release/bundle.mjs'
import { buildSeaBlob, buildSeaExecutable } from '../scripts/release/sea.mjs'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const rounds = Number(process.env.BENCH_RUNS ?? 15)
const TARGETS = { help: 2, offlineTrace: 3 }

const work = join(root, 'node_modules/.cache/mesh-trace-bench/release')
const bundleDir = join(work, 'bundle')
const bundle = await buildBundle(bundleDir)
const { version } = await readRuntimePjson()
const blob = await buildSeaBlob({ bundleDir, bundle, version, workDir: join(work, 'sea') })
const sea = join(work, 'kubectl-mesh_trace')
await buildSeaExecutable({ nodeBinary: process.execPath, blob, output: sea })
// The single binary unpacks its bundle on first run; the warm-up runs do that, in a private cache.
const cache = await mkdtemp(join(tmpdir(), 'mesh-trace-bench-cache-'))
const env = { ...process.env, NO_COLOR: '1', MESH_TRACE_CACHE_DIR: cache }

/** Wall time of one run of `cmd args`, in ms. */
function once(cmd, args) {
  const t0 = process.hrtime.bigint()
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'ignore', env })
  const ms = Number(process.hrtime.bigint() - t0) / 1e6
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}`)
  return ms
}

/**
 * Median wall time of each [cmd, ...args] in `runs`, measured in rounds (one run of each per round,
 * after two warm-up rounds) so that load from other processes hits baseline and cases alike.
 */
function medians(runs) {
  const times = Object.fromEntries(Object.keys(runs).map((k) => [k, []]))
  for (let i = 0; i < rounds + 2; i++) {
    for (const [key, [cmd, ...args]] of Object.entries(runs)) {
      const ms = once(cmd, args)
      if (i >= 2) times[key].push(ms)
    }
  }
  return Object.fromEntries(Object.entries(times).map(([k, t]) => [k, t.sort((a, b) => a - b)[Math.floor(t.length / 2)]]))
}

const cases = {
  help: ['--help'],
  version: ['--version'],
  offlineTrace: ['--bundle', 'examples/bookinfo', 'http://ratings:9080/ratings/0'],
}
const builds = {
  bundle: [process.execPath, join(bundleDir, 'cli.mjs')],
  sea: [sea],
}
try {
  const runs = { node: [process.execPath, '-e', '0'] }
  for (const [build, pre] of Object.entries(builds)) {
    for (const [name, args] of Object.entries(cases)) runs[`${build}.${name}`] = [...pre, ...args]
  }
  const ms = medians(runs)
  const node = ms.node
  const out = { nodeMs: Math.round(node) }
  let over = false
  console.log(`bare node -e 0: ${node.toFixed(0)} ms (median of ${rounds} rounds)`)
  for (const build of Object.keys(builds)) {
    for (const name of Object.keys(cases)) {
      const t = ms[`${build}.${name}`]
      const ratio = t / node
      const target = TARGETS[name]
      const verdict = target === undefined ? '' : ratio <= target ? `  (target <= ${target}x: OK)` : `  (target <= ${target}x: OVER TARGET)`
      if (target !== undefined && ratio > target) over = true
      out[`${build}.${name}Ms`] = Math.round(t)
      out[`${build}.${name}Ratio`] = Number(ratio.toFixed(2))
      console.log(`${build.padEnd(6)} ${name.padEnd(13)} ${t.toFixed(0).padStart(5)} ms  ${ratio.toFixed(2)}x bare node${verdict}`)
    }
  }
  // Not in the ratios: the very first run of a new version, which unpacks the bundle and writes the code cache.
  const coldCache = await mkdtemp(join(tmpdir(), 'mesh-trace-bench-cold-'))
  const t0 = process.hrtime.bigint()
  spawnSync(sea, cases.offlineTrace, { cwd: root, stdio: 'ignore', env: { ...env, MESH_TRACE_CACHE_DIR: coldCache } })
  const cold = Number(process.hrtime.bigint() - t0) / 1e6
  await rm(coldCache, { recursive: true, force: true })
  out['sea.firstRunOfflineTraceMs'] = Math.round(cold)
  console.log(`sea    first run of a new version (unpack + code cache), offline trace: ${cold.toFixed(0)} ms`)
  console.log(JSON.stringify(out))
  process.exitCode = over ? 1 : 0
} finally {
  await rm(cache, { recursive: true, force: true })
}
