import { mkdtemp, readdir } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { describe, expect, it, vi } from 'vitest'
import Capture from '../../src/commands/capture.js'
import { startFakeApiServer } from '../fake-apiserver/fake-apiserver.js'
import { BOOKINFO_POD, ROOT, exampleCluster } from '../collect/cluster/fixtures.js'

describe('capture POD -o DIR', () => {
  it('writes the bundle, says where, and changes nothing in the cluster', async () => {
    const server = await startFakeApiServer({ data: exampleCluster() })
    const out = path.join(await mkdtemp(path.join(tmpdir(), 'capture-cmd-')), 'reviews.bundle')
    const log = vi.spyOn(Capture.prototype, 'log').mockImplementation(() => {})
    try {
      const written = await Capture.run([`deploy/reviews-v1`, '-o', out, '--kubeconfig', server.kubeconfigPath], ROOT)
      const printed = log.mock.calls.map((c) => String(c[0])).join('\n')

      expect(written.path).toBe(out)
      expect((await readdir(out)).sort()).toEqual(['clusters.json', 'config_dump.json', 'iptables-save.txt', 'meta.json', 'pod.json', 'pods.json', 'services.json', 'stats.txt'])
      expect(printed).toContain(`Wrote ${out}: bundle of pod default/${BOOKINFO_POD}`)
      expect(server.requests.every((r) => r.method === 'GET')).toBe(true)
    } finally {
      log.mockRestore()
      await server.close()
    }
  })
})
