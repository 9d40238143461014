#!/usr/bin/env node
// npm run bench: runs every bench/*.bench.mjs in its own process (after `npm run build`), prints each one's
// report, then one final JSON line merging the figures. Ratios are measured against a baseline in the same run.
import { readdirSync } from 'node:fs'
import { spawnSync } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const only = process.argv.slice(2)
const files = readdirSync(here).filter((f) => f.endsWith('.bench.mjs')).filter((f) => only.length === 0 || only.some((o) => f.includes(o))).sort()
const figures = {}
let failed = false
for (const file of files) {
  console.log(`\n== ${file}`)
  const r = spawnSync(process.execPath, ['--expose-gc', join(here, file)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })
  const lines = r.stdout.trimEnd().split('\n')
  const last = lines.at(-1) ?? ''
  let parsed
  try {
    parsed = JSON.parse(last)
  } catch {
    parsed = undefined
  }
  console.log((parsed ? lines.slice(0, -1) : lines).join('\n'))
  if (r.status !== 0) failed = true
  if (parsed) figures[file.replace(/\.bench\.mjs$/, '')] = parsed
}
console.log(JSON.stringify(figures))
process.exit(failed ? 1 : 0)
