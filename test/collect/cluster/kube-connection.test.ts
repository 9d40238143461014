import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { connectToCluster, kubeOptionsFromFlags, parseRequestTimeout } from '../../../src/collect/cluster/kube-connection.js'
import { UserError } from '../../../src/errors.js'
import { kubeconfigText } from '../../fake-apiserver/fake-apiserver.js'

describe('parseRequestTimeout', () => {
  it.each([
    ['30s', 30_000],
    ['1m', 60_000],
    ['1m30s', 90_000],
    ['500ms', 500],
    ['2h', 7_200_000],
    ['0', 0],
    ['45', 45_000],
  ])('%s → %d ms', (text, ms) => {
    expect(parseRequestTimeout(text)).toBe(ms)
  })

  it.each(['', 'soon', '10x', '-5s', '1m junk'])('%j is a usage error', (text) => {
    expect(() => parseRequestTimeout(text)).toThrow(UserError)
  })
})

describe('kubeOptionsFromFlags', () => {
  it('keeps only the flags that were given', () => {
    expect(kubeOptionsFromFlags({ container: 'istio-proxy', 'request-timeout': '30s', namespace: 'shop' })).toEqual({ container: 'istio-proxy', requestTimeout: '30s', namespace: 'shop' })
  })
})

describe('connectToCluster', () => {
  async function kubeconfigs(...texts: string[]): Promise<string[]> {
    const dir = await mkdtemp(path.join(tmpdir(), 'kc-test-'))
    return Promise.all(texts.map(async (t, i) => {
      const file = path.join(dir, `config-${i}`)
      await writeFile(file, t)
      return file
    }))
  }

  it.each([
    ['the context namespace by default', {}, 'default', 'fake'],
    ['-n over the context', { namespace: 'shop' }, 'shop', 'fake'],
    ['--context switches the namespace', { context: 'fake-other' }, 'other', 'fake-other'],
  ])('%s', async (_name, flags, namespace, context) => {
    const [file] = await kubeconfigs(kubeconfigText('https://127.0.0.1:1', 't', 'default'))

    const conn = await connectToCluster({ kubeconfig: file, container: 'istio-proxy', requestTimeout: '30s', ...flags }, {})

    expect(conn.namespace).toBe(namespace)
    expect(conn.context).toBe(context)
    expect(conn.timeoutMs).toBe(30_000)
  })

  it('merges $KUBECONFIG files with the first one winning', async () => {
    const [a, b] = await kubeconfigs(kubeconfigText('https://127.0.0.1:1', 't', 'first'), kubeconfigText('https://127.0.0.1:2', 't', 'second').replace(/fake/g, 'b'))

    const conn = await connectToCluster({ container: 'istio-proxy', requestTimeout: '30s', context: 'b' }, { KUBECONFIG: [a, b].join(path.delimiter) })
    const first = await connectToCluster({ container: 'istio-proxy', requestTimeout: '30s' }, { KUBECONFIG: [a, b].join(path.delimiter) })

    expect(conn.server).toBe('https://127.0.0.1:2')
    expect(first.server).toBe('https://127.0.0.1:1')
    expect(first.namespace).toBe('first')
  })

  it.each([
    ['a missing --kubeconfig', { kubeconfig: '/nonexistent/kubeconfig' }, {}, 'kubeconfig-not-found'],
    ['no kubeconfig anywhere', {}, { HOME: '/nonexistent-home' }, 'kubeconfig-not-found'],
    ['an unknown context', { context: 'nope' }, undefined, 'context-not-found'],
  ])('%s is a user error', async (_name, flags, env, code) => {
    const [file] = await kubeconfigs(kubeconfigText('https://127.0.0.1:1', 't', 'default'))
    const options = { container: 'istio-proxy', requestTimeout: '30s', ...(env === undefined ? { kubeconfig: file } : {}), ...flags }

    const err = await connectToCluster(options, env ?? {}).catch((e: unknown) => e)

    expect(err).toBeInstanceOf(UserError)
    expect((err as UserError).code).toBe(code)
  })
})
