import { existsSync } from 'node:fs'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { execa } from 'execa'
import { meshPods } from '../../fake-apiserver/cluster-data.js'
import { startFakeApiServer, type FakeApiServer } from '../../fake-apiserver/fake-apiserver.js'
import { ROOT, exampleCluster } from './fixtures.js'

// End to end through the built launcher (npm test builds first) against the fake API server.
const bin = path.join(ROOT, 'bin', 'kubectl-mesh_trace')
const built = existsSync(path.join(ROOT, 'dist', 'commands', 'trace.js')) && existsSync(path.join(ROOT, 'dist', 'commands', 'capture.js'))
const MODERN_POD = 'reviews-v1-5b5d6494f4-7xk2p'

async function withServer<T>(fn: (server: FakeApiServer) => Promise<T>): Promise<T> {
  const server = await startFakeApiServer({ data: meshPods(exampleCluster('bookinfo-modern')) })
  try {
    return await fn(server)
  } finally {
    await server.close()
  }
}

async function run(server: FakeApiServer, ...args: string[]) {
  return execa(bin, [...args, '--kubeconfig', server.kubeconfigPath], { cwd: ROOT, reject: false, env: { ...process.env, NO_COLOR: '1', DEBUG: '', KUBECONFIG: '' } })
}

describe.skipIf(!built)('live trace → capture → --bundle, through bin/', () => {
  it('gives the same result live, on the captured bundle, and on the example bundle', async () => {
    await withServer(async (server) => {
      const out = path.join(await mkdtemp(path.join(tmpdir(), 'live-e2e-')), 'reviews.tar.gz')
      const url = 'http://ratings:9080/ratings/0'

      const live = await run(server, MODERN_POD, url, '-o', 'json')
      const captured = await run(server, 'capture', MODERN_POD, '-o', out)
      const offline = await execa(bin, ['--bundle', out, url, '-o', 'json'], { cwd: ROOT, reject: false, env: { ...process.env, NO_COLOR: '1' } })
      const example = await execa(bin, ['--bundle', 'examples/bookinfo-modern', url, '-o', 'json'], { cwd: ROOT, reject: false, env: { ...process.env, NO_COLOR: '1' } })

      expect(live.exitCode, live.stderr).toBe(0)
      expect(captured.exitCode, captured.stderr).toBe(0)
      expect(captured.stdout).toContain(`Wrote ${out}: bundle of pod default/${MODERN_POD}`)
      expect(captured.stderr).toMatch(/^redacted: .*private-key.* in config_dump\.json$/m)
      expect(JSON.parse(offline.stdout).result).toEqual(JSON.parse(live.stdout).result)
      expect(JSON.parse(example.stdout).result).toEqual(JSON.parse(live.stdout).result)
      expect(server.requests.every((r) => r.method === 'GET')).toBe(true)
    })
  })

  it('runs as `kubectl mesh-trace` and follows productpage → reviews into the next pod', async () => {
    await withServer(async (server) => {
      const productpage = server.data.pods.find((p) => String(p.object.metadata.name).startsWith('productpage'))?.object.metadata.name as string

      const r = await execa('kubectl', ['mesh-trace', productpage, 'http://reviews:9080/reviews/0', '--follow', '-o', 'json', '--kubeconfig', server.kubeconfigPath], {
        cwd: ROOT,
        reject: false,
        env: { ...process.env, PATH: `${path.dirname(bin)}${path.delimiter}${process.env.PATH ?? ''}`, NO_COLOR: '1', KUBECONFIG: '' },
      })

      expect(r.exitCode, r.stderr).toBe(0)
      const trace = JSON.parse(r.stdout) as { steps: Array<{ stage: string }> }
      expect(trace.steps.some((s) => s.stage === 'hop')).toBe(true)
      expect(server.requests.some((q) => q.endpoint === 'pods' && q.query.fieldSelector !== undefined)).toBe(true)
      expect(server.requests.every((q) => q.method === 'GET' || q.endpoint === 'ssar')).toBe(true)
    })
  })
})
