// Start-up cost of the development build (dist/ + oclif manifest) against bare `node -e 0`, measured in one run.
import { spawnSync } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const bin = join(root, 'bin', 'kubectl-mesh_trace')
const runs = Number(process.env.BENCH_RUNS ?? 15)

function wall(args) {
  const times = []
  for (let i = 0; i < runs + 2; i++) {
    const t0 = process.hrtime.bigint()
    const r = spawnSync(process.execPath, args, { cwd: root, stdio: 'ignore', env: { ...process.env, NO_COLOR: '1' } })
    const ms = Number(process.hrtime.bigint() - t0) / 1e6
    if (r.status !== 0) throw new Error(`${args.join(' ')} exited ${r.status}`)
    if (i >= 2) times.push(ms) // two warm-up runs fill the page cache
  }
  times.sort((a, b) => a - b)
  return times[Math.floor(times.length / 2)]
}

const node = wall(['-e', '0'])
const cases = {
  help: [bin, '--help'],
  version: [bin, '--version'],
  offlineTrace: [bin, '--bundle', 'examples/bookinfo', 'http://ratings:9080/ratings/0'],
}
const out = { nodeMs: Math.round(node) }
console.log(`bare node -e 0: ${node.toFixed(0)} ms (median of ${runs})`)
for (const [name, args] of Object.entries(cases)) {
  const ms = wall(args)
  out[`${name}Ms`] = Math.round(ms)
  out[`${name}Ratio`] = Number((ms / node).toFixed(2))
  console.log(`${name.padEnd(13)} ${ms.toFixed(0).padStart(5)} ms  ${(ms / node).toFixed(2)}× bare node`)
}
console.log(JSON.stringify(out))
