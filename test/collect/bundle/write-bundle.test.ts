import { mkdtemp, readFile, readdir, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { renderBundle, writeBundle, type BundleContents } from '../../../src/collect/bundle/write-bundle.js'
import { readOfflineSnapshot } from '../../../src/collect/bundle/read-bundle.js'
import { UserError } from '../../../src/errors.js'

const META: BundleContents['meta'] = { capturedAt: '2026-11-25T12:00:00.000Z', toolVersion: '0.1.0', source: { pod: 'p' }, versions: {}, notes: ['envoy: stats could not be read: timeout.'] }

describe('renderBundle', () => {
  it.each([
    ['JSON clusters go to clusters.json', { clusters: '{"cluster_statuses":[]}' }, 'clusters.json'],
    ['text clusters go to clusters.txt', { clusters: 'outbound|9080||ratings::default_priority::max_connections::1024\n' }, 'clusters.txt'],
    ['text stats go to stats.txt', { stats: 'a.b: 1\n' }, 'stats.txt'],
    ['JSON stats go to stats.json', { stats: '{"stats":[]}' }, 'stats.json'],
    ['an incomplete config dump is kept aside, not as config_dump.json', { configDump: '{"configs": [' }, 'config_dump.json.incomplete'],
  ])('%s', (_name, part, file) => {
    const { files, meta } = renderBundle({ ...part, meta: META })

    expect([...files.keys()].sort()).toEqual([file, 'meta.json'].sort())
    expect(meta.files[file]).toBeDefined()
  })

  it('describes where iptables-save.txt came from', () => {
    const { meta } = renderBundle({ iptablesV4: '*nat\nCOMMIT\n', meta: { ...META, iptables: { origin: 'cni', rebuiltFrom: [] } } })

    expect(meta.files['iptables-save.txt']).toMatch(/rebuilt from the pod annotations/)
  })
})

describe('writeBundle', () => {
  it('writes owner-only files that --bundle reads back, notes included', async () => {
    const out = path.join(await mkdtemp(path.join(tmpdir(), 'wb-')), 'b')

    const written = await writeBundle({ iptablesV4: '*nat\n:PREROUTING ACCEPT [0:0]\nCOMMIT\n', stats: 'x: 1\n', meta: META }, out)
    const back = await readOfflineSnapshot({ bundle: out })
    const mode = (await import('node:fs/promises')).stat

    expect(written.files).toEqual(['iptables-save.txt', 'meta.json', 'stats.txt'])
    expect(back.iptables?.v4).toBe('*nat\n:PREROUTING ACCEPT [0:0]\nCOMMIT\n')
    expect(back.notes).toEqual(META.notes)
    expect(back.capturedAt).toBe(META.capturedAt)
    expect((await mode(path.join(out, 'stats.txt'))).mode & 0o777).toBe(0o600)
  })

  it('replaces an earlier bundle with --overwrite, but never foreign files', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'wb-'))
    await writeBundle({ stats: 'old\n', meta: META }, dir)

    await writeBundle({ stats: 'new\n', meta: META }, dir, { overwrite: true })
    await writeFile(path.join(dir, 'mine.txt'), 'x')
    const err = await writeBundle({ stats: 'new\n', meta: META }, dir, { overwrite: true }).catch((e: unknown) => e)

    expect(await readFile(path.join(dir, 'stats.txt'), 'utf8')).toBe('new\n')
    expect(err).toBeInstanceOf(UserError)
    expect((await readdir(dir)).sort()).toEqual(['meta.json', 'mine.txt', 'stats.txt'])
  })
})
