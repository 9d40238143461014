import { mkdtemp, readFile, readdir, writeFile, mkdir } from 'node:fs/promises'
import { readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { extract } from 'tar'
import { collectPodEvidence } from '../../../src/collect/cluster/collect-pod.js'
import { bundleContentsOf, envoyVersions } from '../../../src/collect/cluster/capture-contents.js'
import { writeBundle, type BundleMeta } from '../../../src/collect/bundle/write-bundle.js'
import { readOfflineSnapshot } from '../../../src/collect/bundle/read-bundle.js'
import { REDACTED_BYTES } from '../../../src/collect/redact.js'
import { UserError } from '../../../src/errors.js'
import { parseRequest } from '../../../src/engine/trace/request.js'
import { prepareSnapshot, traceRequest } from '../../../src/engine/trace/trace-request.js'
import { startFakeApiServer, type FakeApiServerOptions, type FakeApiServer } from '../../fake-apiserver/fake-apiserver.js'
import { BOOKINFO_POD, ROOT, exampleCluster } from './fixtures.js'

const MODERN_POD = 'reviews-v1-5b5d6494f4-7xk2p'

async function tempDir(): Promise<string> {
  return mkdtemp(path.join(tmpdir(), 'mesh-trace-capture-test-'))
}

async function withCluster<T>(bundle: string, options: Partial<FakeApiServerOptions>, fn: (server: FakeApiServer) => Promise<T>): Promise<T> {
  const server = await startFakeApiServer({ data: exampleCluster(bundle), ...options })
  try {
    return await fn(server)
  } finally {
    await server.close()
  }
}

async function capture(server: FakeApiServer, pod: string, out: string) {
  const collected = await collectPodEvidence(pod, { kubeconfig: server.kubeconfigPath, container: 'istio-proxy', requestTimeout: '5s' }, () => {}, { serverVersion: true })
  const contents = bundleContentsOf(collected, { toolVersion: '0.1.0-test', ...(collected.serverVersion !== undefined ? { kubernetesVersion: collected.serverVersion } : {}) })
  return { collected, written: await writeBundle(contents, out) }
}

const served = (bundle: string, file: string): string => readFileSync(path.join(ROOT, 'examples', bundle, file), 'utf8')

/** Sets the value at a JSON pointer (for building "served minus redactions"). */
function setPointer(doc: unknown, pointer: string, value: unknown): void {
  const keys = pointer.split('/').slice(1).map((k) => k.replace(/~1/g, '/').replace(/~0/g, '~'))
  let node = doc as Record<string, unknown>
  for (const k of keys.slice(0, -1)) node = node[k] as Record<string, unknown>
  node[keys[keys.length - 1]] = value
}

describe('capture → bundle → --bundle', () => {
  it('reads back what the cluster served (bookinfo, a directory)', async () => {
    await withCluster('bookinfo', {}, async (server) => {
      const out = path.join(await tempDir(), 'reviews.bundle')

      const { collected, written } = await capture(server, BOOKINFO_POD, out)
      const back = await readOfflineSnapshot({ bundle: out })

      expect(written.files).toEqual(['clusters.json', 'config_dump.json', 'iptables-save.txt', 'meta.json', 'pod.json', 'pods.json', 'services.json', 'stats.txt'])
      expect(written.meta.redacted).toEqual([])
      expect(back.pod).toEqual(collected.snapshot.pod)
      // meta.json carries where the rules came from, so the read-back snapshot keeps the live origin.
      expect(back.iptables).toEqual(collected.snapshot.iptables)
      expect(back.envoy).toEqual({ ...collected.snapshot.envoy, origin: 'file' })
      expect(back.envoy?.configDump).toEqual(JSON.parse(served('bookinfo', 'config_dump.json')))
      expect(back.envoy?.stats).toBe(served('bookinfo', 'stats.txt'))
      expect(back.services).toEqual(collected.snapshot.services)
      expect(back.pods).toEqual(collected.snapshot.pods)
      expect(back.notes).toEqual([])
      expect(back.capturedAt).toBe(collected.snapshot.capturedAt)
      expect(JSON.parse(await readFile(path.join(out, 'pod.json'), 'utf8'))).toEqual(JSON.parse(served('bookinfo', 'pod.json')))
    })
  })

  it.each([
    ['bookinfo', BOOKINFO_POD],
    ['bookinfo-modern', MODERN_POD],
  ])('traces the captured %s bundle exactly as the live pod', async (bundle, pod) => {
    await withCluster(bundle, {}, async (server) => {
      const out = path.join(await tempDir(), 'b.tar.gz')

      const { collected } = await capture(server, pod, out)
      const back = await readOfflineSnapshot({ bundle: out })

      for (const [url, inbound] of [['http://ratings:9080/ratings/0', false], ['http://:9080/reviews/0', true], ['tcp://10.96.0.10:53', false]] as const) {
        const request = parseRequest(url, { inbound })
        expect(traceRequest(prepareSnapshot(back), request)).toEqual(traceRequest(prepareSnapshot(collected.snapshot), request))
      }
    })
  })

  it('redacts the SDS secrets of bookinfo-modern before writing a .tar.gz, and nothing else', async () => {
    await withCluster('bookinfo-modern', {}, async (server) => {
      const dir = await tempDir()
      const out = path.join(dir, 'modern.tar.gz')

      const { written } = await capture(server, MODERN_POD, out)
      const back = await readOfflineSnapshot({ bundle: out })
      await extract({ file: out, cwd: dir })
      const files = await readdir(path.join(dir, 'modern'))
      const texts = await Promise.all(files.map((f) => readFile(path.join(dir, 'modern', f), 'utf8')))

      const kinds = written.meta.redacted.map((r) => `${r.what} ${r.at}`)
      expect(kinds).toEqual(expect.arrayContaining([expect.stringMatching(/^private-key \/configs\/\d+\/dynamic_active_secrets\/0\/secret\/tls_certificate\/private_key\/inline_bytes$/), expect.stringMatching(/^sds-secret .*certificate_chain\/inline_bytes$/)]))
      const expected = JSON.parse(served('bookinfo-modern', 'config_dump.json'))
      for (const r of written.meta.redacted.filter((x) => x.file === 'config_dump.json')) setPointer(expected, r.at, REDACTED_BYTES)
      expect(back.envoy?.configDump).toEqual(expected)
      for (const text of texts) expect(text).not.toContain('LS0tLS1CRUdJTi') // base64 of "-----BEGIN"
      expect(written.redactionSummary).toEqual([expect.stringMatching(/private-key.* in config_dump\.json$/)])
    })
  })

  it('records versions, time, sources, redactions and what could not be collected in meta.json', async () => {
    await withCluster('bookinfo-modern', { deny: ['list services'] }, async (server) => {
      const out = path.join(await tempDir(), 'b')

      await capture(server, MODERN_POD, out)
      const meta = JSON.parse(await readFile(path.join(out, 'meta.json'), 'utf8')) as BundleMeta
      const back = await readOfflineSnapshot({ bundle: out })

      expect(meta).toMatchObject({
        schema: 'mesh-trace-bundle/v1',
        tool: 'mesh-trace',
        toolVersion: '0.1.0-test',
        source: { context: 'fake', namespace: 'default', pod: MODERN_POD, container: 'istio-proxy' },
        versions: { envoy: '1.30.2', istio: '1.22.1', kubernetes: 'v1.30.0-fake', proxyImage: expect.stringContaining('proxyv2') },
        iptables: { origin: 'init-log', container: 'istio-init', mesh: 'Istio' },
        envoy: { via: 'exec', container: 'istio-proxy' },
      })
      expect(meta.capturedAt).toMatch(/^\d{4}-\d\d-\d\dT/)
      expect(meta.files['iptables-save.txt']).toMatch(/log of init container istio-init/)
      expect(meta.notes).toEqual([expect.stringMatching(/^services: could not be listed: You are not allowed to list services/)])
      expect(back.notes).toEqual(meta.notes)
      expect(back.services).toBeUndefined()
    })
  })

  it('issues no mutating call', async () => {
    await withCluster('bookinfo', {}, async (server) => {
      await capture(server, BOOKINFO_POD, path.join(await tempDir(), 'b'))

      expect(server.requests.length).toBeGreaterThan(5)
      expect(server.requests.every((r) => r.method === 'GET')).toBe(true)
      expect(server.requests.map((r) => r.endpoint)).toContain('version')
    })
  })

  it.each([
    ['a non-empty directory', async (dir: string) => { await mkdir(path.join(dir, 'b')); await writeFile(path.join(dir, 'b', 'notes.txt'), 'mine') ; return path.join(dir, 'b') }],
    ['an existing archive', async (dir: string) => { await writeFile(path.join(dir, 'b.tar.gz'), 'old'); return path.join(dir, 'b.tar.gz') }],
  ])('refuses to write over %s', async (_name, prepare) => {
    await withCluster('bookinfo', {}, async (server) => {
      const out = await prepare(await tempDir())

      const err = await capture(server, BOOKINFO_POD, out).catch((e: unknown) => e)

      expect(err).toBeInstanceOf(UserError)
      expect((err as UserError).code).toBe('capture-target-exists')
    })
  })
})

describe('envoyVersions', () => {
  it.each([
    ['v3 user_agent_build_version', 'bookinfo-modern', { envoy: '1.30.2', istio: '1.22.1' }],
    ['v2 buildVersion string', 'bookinfo', { envoy: '1.11.0-dev', istio: '1.1.0' }],
  ])('%s', (_name, bundle, expected) => {
    expect(envoyVersions(JSON.parse(served(bundle, 'config_dump.json')))).toEqual(expected)
  })
})
