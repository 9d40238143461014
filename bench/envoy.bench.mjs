// Envoy engine speed (issue 4, "Speed"), all ratios measured in this one run against baselines of the same run:
//   load + index + one trace vs bare JSON.parse of the same file (timed alternately in a fresh process per size),
//   vs `jq .`, warm traces per second,
//   time per warm trace at 5,000 vs 100 services, peak RSS vs a child doing only JSON.parse.
// Run by bench/run.mjs (npm run bench) as `node --expose-gc bench/envoy.bench.mjs`; imports dist/ (npm run build first).
// The last stdout line is one JSON object of figures.
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { generateIstioDump, generatedPod, generatedServices } from './lib/generate-istio-dump.mjs'

const here = dirname(fileURLToPath(import.meta.url))
const dist = join(here, '..', 'dist', 'engine')
if (!existsSync(join(dist, 'trace', 'trace-request.js'))) {
  process.stderr.write('bench/envoy.bench.mjs: dist/ is missing; run `npm run build` first.\n')
  process.exit(2)
}
const { loadEnvoyConfig, envoyIndex } = await import(join(dist, 'envoy', 'config-dump.js'))
const { traceRequest } = await import(join(dist, 'trace', 'trace-request.js'))
const { parseRequest } = await import(join(dist, 'trace', 'request.js'))

const SEED = 1
const gc = globalThis.gc ?? (() => {})
const now = () => Number(process.hrtime.bigint()) / 1e6

/** The snapshot facts every trace here uses: the generated sidecar pod, no iptables (interception assumed). */
function snapshotFor(n, configDump) {
  const pod = generatedPod({ services: n, seed: SEED })
  return { envoy: { configDump, origin: 'file' }, notes: [], pod: { name: pod.name, namespace: pod.namespace, ip: pod.ip } }
}

/** Requests spread over the services of a dump: default, VirtualService header/prefix/regex paths, TCP. */
function requestsFor(n, count) {
  const services = generatedServices({ services: n, seed: SEED })
  const out = []
  for (let i = 0; i < count; i++) {
    const s = services[Math.floor((i * services.length) / count)]
    const k = i % 4
    if (k === 0) out.push(parseRequest(`http://${s.name}.${s.namespace}:8080/`, { ip: s.clusterIP }))
    else if (k === 1) out.push(parseRequest(`http://${s.fqdn}:8080/api/v2/items/${i}`, { ip: s.clusterIP, headers: ['end-user: jason'] }))
    else if (k === 2) out.push(parseRequest(`http://${s.clusterIP}:8080/items/${i}?x=1`, { method: 'POST' }))
    else out.push(s.tcpPort !== null ? parseRequest(`tcp://${s.clusterIP}:${s.tcpPort}`) : parseRequest(`http://${s.fqdn}:8080/healthz`, { ip: s.clusterIP }))
  }
  return out
}

// --- child mode: peak RSS of one job in a fresh process ----------------------------------------
if (process.argv[2] === '--child') {
  const [, , , mode, file, n] = process.argv
  const json = JSON.parse(readFileSync(file, 'utf8'))
  let keep = json
  if (mode === 'trace') {
    const model = loadEnvoyConfig({ configDump: json })
    envoyIndex(model)
    const trace = traceRequest({ snapshot: snapshotFor(Number(n), json), envoy: model }, requestsFor(Number(n), 1)[0])
    keep = [model, trace]
  }
  process.stdout.write(`${JSON.stringify({ maxRssKb: process.resourceUsage().maxRSS, kept: keep !== undefined })}\n`)
  process.exit(0)
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b)
  const mid = Math.floor(s.length / 2)
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2
}

function bareParse(file) {
  return JSON.parse(readFileSync(file, 'utf8'))
}

/**
 * Returns only the outcome, so that nothing of this load outlives it into the next measurement: both sides must start
 * from the same heap (the garbage collector sizes its work by the heap it starts from; at 5,000 services a dump kept
 * alive through the collection before the bare parse made that parse a third faster).
 */
function loadIndexTrace(file, n, request) {
  const json = JSON.parse(readFileSync(file, 'utf8'))
  const model = loadEnvoyConfig({ configDump: json })
  envoyIndex(model)
  return traceRequest({ snapshot: snapshotFor(n, json), envoy: model }, request).result.outcome
}

/** Unmeasured rounds first: a fresh process settles its heap size over the first parses of a large file. */
const WARMUP = 2

/**
 * Median times of a bare parse (a) and of load + index + first trace (b), each after a full collection, in rounds
 * of a, b, b, a: interleaved so drift hits both alike, and each side runs as often first as second after the other
 * (run always second, the load side measured ~3 % slower at 100 services than its parts timed apart).
 * `runs` samples per side.
 */
function parseVsLoad(file, n, runs) {
  const request = requestsFor(n, 1)[0]
  const a = []
  const b = []
  const timed = (fn) => {
    gc()
    const t0 = now()
    fn()
    return now() - t0
  }
  const bare = () => bareParse(file)
  const load = () => {
    const outcome = loadIndexTrace(file, n, request)
    if (outcome !== 'forwarded') throw new Error(`first trace at N=${n} ended ${outcome}`)
  }
  const rounds = Math.ceil(runs / 2)
  for (let i = 0; i < rounds + WARMUP; i++) {
    const a1 = timed(bare)
    const b1 = timed(load)
    const b2 = timed(load)
    const a2 = timed(bare)
    if (i >= WARMUP) {
      a.push(a1, a2)
      b.push(b1, b2)
    }
  }
  return { parseMs: median(a), loadMs: median(b) }
}

function jqWall(file, runs) {
  const times = []
  for (let i = 0; i < runs; i++) {
    const t0 = now()
    const r = spawnSync('sh', ['-c', `jq . '${file}' > /dev/null`], { stdio: 'ignore' })
    if (r.status !== 0) return null
    times.push(now() - t0)
  }
  return median(times)
}

/** Warm traces per second over a varied request set, after a warm-up, for about `ms` milliseconds. */
function warmTraces(ctx, requests, ms) {
  let sink = 0
  for (let i = 0; i < 2000; i++) sink += traceRequest(ctx, requests[i % requests.length]).steps.length
  for (const r of requests) {
    const t = traceRequest(ctx, r)
    if (t.result.outcome !== 'forwarded') throw new Error(`warm trace ${r.host}:${r.port}${r.path ?? ''} ended ${t.result.outcome}`)
  }
  gc()
  let count = 0
  const t0 = now()
  let elapsed = 0
  while (elapsed < ms) {
    for (let i = 0; i < 100; i++) sink += traceRequest(ctx, requests[(count + i) % requests.length]).steps.length
    count += 100
    elapsed = now() - t0
  }
  if (sink === 0) throw new Error('no steps')
  return { perSecond: (count / elapsed) * 1000, usPerTrace: (elapsed * 1000) / count }
}

/**
 * parseVsLoad in a fresh process: this process holds the generated dumps of every size, and a large heap makes the
 * garbage collector's background threads stall small measurements at random (both sides alike, but the medians of a
 * 1 MB dump moved by milliseconds from run to run). Both sides are still timed alternately in that one process.
 */
function childTimes(file, n, runs) {
  const r = spawnSync(process.execPath, ['--expose-gc', fileURLToPath(import.meta.url), '--time', file, String(n), String(runs)], { encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`timing child failed: ${r.stderr}`)
  return JSON.parse(r.stdout.trim().split('\n').at(-1))
}

function childRss(mode, file, n) {
  const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child', mode, file, String(n)], { encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`child ${mode} failed: ${r.stderr}`)
  return JSON.parse(r.stdout.trim().split('\n').at(-1)).maxRssKb / 1024
}

if (process.argv[2] === '--time') {
  const [, , , file, n, runs] = process.argv
  process.stdout.write(`${JSON.stringify(parseVsLoad(file, Number(n), Number(runs)))}\n`)
  process.exit(0)
}

const started = now()
const dir = mkdtempSync(join(tmpdir(), 'mesh-trace-envoy-bench-'))
const sizes = [100, 1000, 5000]
const files = {}
const rows = {}
try {
  for (const n of sizes) {
    const file = join(dir, `config_dump-${n}.json`)
    writeFileSync(file, JSON.stringify(generateIstioDump({ services: n, seed: SEED })))
    files[n] = file
  }
  for (const n of sizes) {
    const file = files[n]
    const runs = n >= 5000 ? 8 : n >= 1000 ? 16 : 42
    const { parseMs, loadMs } = childTimes(file, n, runs)
    const jqMs = jqWall(file, n >= 5000 ? 3 : 5)
    rows[n] = { n, mb: statSync(file).size / 1e6, parseMs, loadMs, jqMs }
  }

  const ctxFor = (n) => {
    const json = bareParse(files[n])
    const model = loadEnvoyConfig({ configDump: json })
    envoyIndex(model)
    return { snapshot: snapshotFor(n, json), envoy: model }
  }
  const big = warmTraces(ctxFor(5000), requestsFor(5000, 512), 2000)
  gc()
  const small = warmTraces(ctxFor(100), requestsFor(100, 512), 2000)
  gc()

  const parseRss = childRss('parse', files[5000], 5000)
  const traceRss = childRss('trace', files[5000], 5000)

  // --- report --------------------------------------------------------------------------------------
  const verdict = (ok) => (ok ? 'PASS' : 'MISS')
  const f1 = (x) => x.toFixed(1)
  const f2 = (x) => x.toFixed(2)
  console.log(`Generated Istio 1.22 sidecar dumps (seed ${SEED}); medians; ${process.version}`)
  console.log('')
  console.log('services  file MB  JSON.parse ms  load+index+trace ms  ratio   target ≤1.3×   jq . ms  vs jq   target <1×')
  for (const n of sizes) {
    const r = rows[n]
    const ratio = r.loadMs / r.parseMs
    const jqRatio = r.jqMs === null ? null : r.loadMs / r.jqMs
    console.log(
      `${String(n).padStart(8)}  ${f1(r.mb).padStart(7)}  ${f1(r.parseMs).padStart(13)}  ${f1(r.loadMs).padStart(19)}  ${f2(ratio).padStart(5)}×  ${verdict(ratio <= 1.3).padStart(12)}  ${r.jqMs === null ? '   (no jq)' : f1(r.jqMs).padStart(8)}  ${jqRatio === null ? '   -' : `${f2(jqRatio)}×`.padStart(6)}  ${jqRatio === null ? 'n/a' : verdict(jqRatio < 1).padStart(10)}`,
    )
  }
  console.log('')
  const scale = big.usPerTrace / small.usPerTrace
  const rssRatio = traceRss / parseRss
  const line = (what, value, target, ok) => console.log(`${what.padEnd(44)} ${value.padStart(16)}   target ${target.padEnd(10)} ${verdict(ok)}`)
  line('warm traces/s (5,000 services, 512 requests)', `${Math.round(big.perSecond).toLocaleString('en-US')}/s`, '≥ 100,000/s', big.perSecond >= 100_000)
  line('time per warm trace 5,000 vs 100 services', `${f2(big.usPerTrace)} vs ${f2(small.usPerTrace)} µs = ${f2(scale)}×`, '≤ 2×', scale <= 2)
  line('peak RSS load+index+trace vs JSON.parse (5,000)', `${f1(traceRss)} vs ${f1(parseRss)} MB = ${f2(rssRatio)}×`, '≤ 1.2×', rssRatio <= 1.2)
  console.log(`(total ${((now() - started) / 1000).toFixed(1)} s)`)

  const out = {}
  for (const n of sizes) {
    const r = rows[n]
    out[`n${n}`] = { fileMb: Number(f2(r.mb)), parseMs: Number(f1(r.parseMs)), loadIndexTraceMs: Number(f1(r.loadMs)), ratioVsParse: Number(f2(r.loadMs / r.parseMs)), jqMs: r.jqMs === null ? null : Number(f1(r.jqMs)), ratioVsJq: r.jqMs === null ? null : Number(f2(r.loadMs / r.jqMs)) }
  }
  Object.assign(out, {
    warmTracesPerSecond: Math.round(big.perSecond),
    usPerTrace5000: Number(f2(big.usPerTrace)),
    usPerTrace100: Number(f2(small.usPerTrace)),
    traceScale5000vs100: Number(f2(scale)),
    peakRssParseMb: Number(f1(parseRss)),
    peakRssLoadMb: Number(f1(traceRss)),
    peakRssRatio: Number(f2(rssRatio)),
  })
  console.log(JSON.stringify(out))
} finally {
  rmSync(dir, { recursive: true, force: true })
}
