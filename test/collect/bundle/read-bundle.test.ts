import { mkdtemp, writeFile, mkdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { create } from 'tar'
import { parseJsonText, podFacts, readOfflineSnapshot, serviceFacts } from '../../../src/collect/bundle/read-bundle.js'
import { UserError } from '../../../src/errors.js'

const POD = {
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'p1', namespace: 'shop', labels: { app: 'p' } },
  spec: {
    securityContext: { runAsUser: 2000 },
    containers: [{ name: 'app' }, { name: 'istio-proxy', securityContext: { runAsUser: 1337, runAsGroup: 1337 } }],
    initContainers: [{ name: 'istio-init', securityContext: { runAsUser: 0 } }],
  },
  status: { podIP: '10.1.2.3', podIPs: [{ ip: '10.1.2.3' }, { ip: 'fd00::3' }] },
}

async function tempDir(): Promise<string> {
  return mkdtemp(path.join(tmpdir(), 'mesh-trace-test-'))
}

describe('parseJsonText', () => {
  it.each([
    ['a missing value names line and column', '{\n  "a": 1,\n  "b": }\n', 'x.json is not valid JSON at line 3, column 8: unexpected "}"'],
    ['a truncated file says so', '{"configs": [', 'x.json is not valid JSON at line 1, column 14: unexpected end of input; the file is truncated'],
    ['a trailing comma', '{"a": [1,]}', 'x.json is not valid JSON at line 1, column 10: unexpected "]"'],
    ['an unquoted key', '{a: 1}', 'x.json is not valid JSON at line 1, column 2: expected a property name in double quotes'],
    ['garbage after the value', '{} x', 'x.json is not valid JSON at line 1, column 4: unexpected "x" after the end'],
  ])('%s', (_n, text, expected) => {
    expect(() => parseJsonText(text, 'x.json')).toThrow(expected)
  })
})

describe('podFacts', () => {
  it('takes IPs, containers and the effective runAsUser per container', () => {
    const facts = podFacts(POD, 'pod.json')

    expect(facts).toMatchObject({
      name: 'p1',
      namespace: 'shop',
      ip: '10.1.2.3',
      ips: ['10.1.2.3', 'fd00::3'],
      containers: ['app', 'istio-proxy'],
      initContainers: ['istio-init'],
      containerUsers: { app: { runAsUser: 2000 }, 'istio-proxy': { runAsUser: 1337, runAsGroup: 1337 }, 'istio-init': { runAsUser: 0 } },
    })
  })

  it('rejects an object that is not a Pod', () => {
    expect(() => podFacts({ kind: 'Service' }, 'pod.json')).toThrow(UserError)
  })
})

describe('serviceFacts', () => {
  it.each([
    ['a List of Services', { kind: 'List', items: [{ metadata: { name: 'r', namespace: 'd' }, spec: { clusterIP: '10.0.0.1', ports: [{ port: 80 }] } }] }, [{ name: 'r', namespace: 'd', clusterIPs: ['10.0.0.1'], ports: [{ port: 80, protocol: 'TCP' }] }]],
    ['clusterIPs wins over clusterIP', { items: [{ metadata: { name: 'r' }, spec: { clusterIP: '10.0.0.1', clusterIPs: ['10.0.0.1', 'fd00::1'] } }] }, [{ name: 'r', namespace: 'default', clusterIPs: ['10.0.0.1', 'fd00::1'], ports: [] }]],
    ['the snapshot array form', [{ name: 'r', namespace: 'd', clusterIPs: ['10.0.0.1'], ports: [] }], [{ name: 'r', namespace: 'd', clusterIPs: ['10.0.0.1'], ports: [] }]],
  ])('reads %s', (_n, raw, expected) => {
    expect(serviceFacts(raw, 'services.json')).toEqual(expected)
  })
})

describe('readOfflineSnapshot', () => {
  it('reads a directory bundle, every file optional', async () => {
    const dir = await tempDir()
    await writeFile(path.join(dir, 'pod.json'), JSON.stringify(POD))
    await writeFile(path.join(dir, 'iptables-save.txt'), '*nat\nCOMMIT\n')

    const snapshot = await readOfflineSnapshot({ bundle: dir })

    expect(snapshot.pod?.name).toBe('p1')
    expect(snapshot.iptables).toEqual({ origin: 'file', v4: '*nat\nCOMMIT\n' })
    expect(snapshot.envoy).toBeUndefined()
    expect(snapshot.files?.['iptables-save']).toBe(path.join(dir, 'iptables-save.txt'))
    await rm(dir, { recursive: true })
  })

  it('reads a .tar.gz bundle with one top-level directory, then removes its temporary copy', async () => {
    const dir = await tempDir()
    await mkdir(path.join(dir, 'b'))
    await writeFile(path.join(dir, 'b', 'stats.txt'), 'server.live: 1\n')
    await writeFile(path.join(dir, 'b', 'clusters.json'), '{"cluster_statuses": []}')
    const archive = path.join(dir, 'b.tar.gz')
    await create({ gzip: true, file: archive, cwd: dir }, ['b'])

    const snapshot = await readOfflineSnapshot({ bundle: archive })

    expect(snapshot.envoy).toEqual({ origin: 'file', stats: 'server.live: 1\n', clusters: { cluster_statuses: [] } })
    expect(snapshot.files?.stats).toBe(`${archive}:stats.txt`)
    await rm(dir, { recursive: true })
  })

  it('lets single-file flags override the bundle', async () => {
    const dir = await tempDir()
    await writeFile(path.join(dir, 'stats.txt'), 'a: 1\n')
    const other = path.join(dir, 'other-stats.txt')
    await writeFile(other, 'b: 2\n')

    const snapshot = await readOfflineSnapshot({ bundle: dir, stats: other })

    expect(snapshot.envoy?.stats).toBe('b: 2\n')
    await rm(dir, { recursive: true })
  })

  it.each([
    ['a missing bundle', { bundle: '/nonexistent/bundle' }, 'bundle-not-found'],
    ['a missing single file', { configDump: '/nonexistent/cd.json' }, 'file-not-found'],
  ])('rejects %s with one sentence', async (_n, inputs, code) => {
    await expect(readOfflineSnapshot(inputs)).rejects.toMatchObject({ name: 'UserError', code })
  })

  it('names the file and line of bad JSON in a bundle', async () => {
    const dir = await tempDir()
    await writeFile(path.join(dir, 'config_dump.json'), '{\n "configs": [\n  }\n')

    await expect(readOfflineSnapshot({ bundle: dir })).rejects.toThrow(`${path.join(dir, 'config_dump.json')} is not valid JSON at line 3`)
    await rm(dir, { recursive: true })
  })
})
