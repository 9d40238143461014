#!/usr/bin/env node
// Wall time of a live collection against the slowest single fetch it makes (issue 5: target ≤ 1.2×).
// Run by bench/run.mjs (npm run bench); the last stdout line is the JSON figures. Needs `npm run build` first (imports dist/). Compiles the fake API server from test/fake-apiserver/
// into node_modules/.cache/ with tsc, serves the bookinfo sample with injected latencies, then times
// each fetch alone and the whole collection (median of several runs).
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const dist = path.join(root, 'dist')
if (!existsSync(path.join(dist, 'collect/cluster/collect-pod.js'))) {
  process.stderr.write('bench/live-collection.mjs: dist/ is missing; run `npm run build` first.\n')
  process.exit(2)
}
const fakeOut = path.join(root, 'node_modules/.cache/mesh-trace-bench/fake-apiserver')
execFileSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '--outDir', fakeOut, '--rootDir', path.join(root, 'test/fake-apiserver'), '--module', 'NodeNext', '--moduleResolution', 'NodeNext', '--target', 'ES2022', '--skipLibCheck', '--types', 'node', '--strict',
  path.join(root, 'test/fake-apiserver/fake-apiserver.ts'), path.join(root, 'test/fake-apiserver/cluster-data.ts')], { stdio: ['ignore', 2, 2] })
const { startFakeApiServer } = await import(pathToFileURL(path.join(fakeOut, 'fake-apiserver.js')).href)
const { loadBundleCluster } = await import(pathToFileURL(path.join(fakeOut, 'cluster-data.js')).href)
const { collectFromPod } = await import(pathToFileURL(path.join(dist, 'collect/cluster/collect-pod.js')).href)
const { connectToCluster } = await import(pathToFileURL(path.join(dist, 'collect/cluster/kube-connection.js')).href)
const { createKubeApi } = await import(pathToFileURL(path.join(dist, 'collect/cluster/kube-api.js')).href)
const { pilotAgentRequestArgv } = await import(pathToFileURL(path.join(dist, 'collect/cluster/admin-paths.js')).href)

const POD = 'reviews-v1-cb8655c75-b97zc'
const LATENCY = { pod: 10, log: 120, 'admin:config_dump': 400, 'admin:clusters': 250, 'admin:stats': 200, services: 150, pods: 150 }
const RUNS = Number(process.env.BENCH_RUNS ?? 5)
const TARGET = 1.2

const server = await startFakeApiServer({ data: loadBundleCluster(path.join(root, 'examples/bookinfo')), faults: Object.entries(LATENCY).map(([endpoint, latencyMs]) => ({ endpoint, latencyMs })) })
const options = { kubeconfig: server.kubeconfigPath, container: 'istio-proxy', requestTimeout: '30s' }
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
async function time(fn) {
  const samples = []
  for (let i = 0; i < RUNS; i++) {
    const t = performance.now()
    await fn()
    samples.push(performance.now() - t)
  }
  return median(samples)
}
try {
  const api = createKubeApi(await connectToCluster(options))
  const ns = 'default'
  const single = {
    'pod': () => api.get(`/api/v1/namespaces/${ns}/pods/${POD}`, 'get pods'),
    'istio-init log': () => api.getText(`/api/v1/namespaces/${ns}/pods/${POD}/log?container=istio-init`, 'get pods/log'),
    'exec config_dump?include_eds': () => api.exec(ns, POD, 'istio-proxy', pilotAgentRequestArgv('config_dump?include_eds')),
    'exec clusters?format=json': () => api.exec(ns, POD, 'istio-proxy', pilotAgentRequestArgv('clusters?format=json')),
    'exec stats': () => api.exec(ns, POD, 'istio-proxy', pilotAgentRequestArgv('stats')),
    'services': () => api.get('/api/v1/services', 'list services'),
    'pods': () => api.get(`/api/v1/namespaces/${ns}/pods`, 'list pods'),
  }
  const singles = {}
  for (const [name, fn] of Object.entries(single)) singles[name] = await time(fn)
  const wall = await time(() => collectFromPod(POD, options))
  const [slowestName, slowest] = Object.entries(singles).sort((a, b) => b[1] - a[1])[0]
  const sum = Object.values(singles).reduce((a, b) => a + b, 0)
  const ratio = wall / slowest
  for (const [name, ms] of Object.entries(singles)) process.stdout.write(`  single fetch ${name.padEnd(30)} ${ms.toFixed(0).padStart(5)} ms\n`)
  process.stdout.write(`live collection (median of ${RUNS}): ${wall.toFixed(0)} ms; slowest single fetch (${slowestName}): ${slowest.toFixed(0)} ms; sum of fetches: ${sum.toFixed(0)} ms\n`)
  process.stdout.write(`live collection wall time vs slowest single fetch: ${ratio.toFixed(2)}x (target <= ${TARGET}x) ${ratio <= TARGET ? 'OK' : 'OVER TARGET'}\n`)
  process.stdout.write(`${JSON.stringify({ wallMs: Math.round(wall), slowestSingleMs: Math.round(slowest), slowestFetch: slowestName, sumOfFetchesMs: Math.round(sum), ratio: Number(ratio.toFixed(3)), target: TARGET })}\n`)
  process.exitCode = ratio <= TARGET ? 0 : 1
} finally {
  await server.close()
}
