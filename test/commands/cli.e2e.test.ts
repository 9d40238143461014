import { mkdtemp, writeFile, rm, cp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { execa } from 'execa'

// End to end through the built launcher (npm test builds first) and, where it matters, the real kubectl.
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const bin = path.join(root, 'bin', 'kubectl-mesh_trace')
const env = { ...process.env, NO_COLOR: '1', DEBUG: '' }

async function cli(...args: string[]) {
  return execa(bin, args, { cwd: root, env, reject: false })
}

async function traceJson(...args: string[]) {
  const r = await cli(...args, '-o', 'json')
  expect(r.stderr).toBe('')
  expect(r.exitCode).toBe(0)
  return JSON.parse(r.stdout)
}

describe('the two sample stories', () => {
  it.each([
    ['bookinfo outbound', ['--bundle', 'examples/bookinfo', 'http://ratings:9080/ratings/0'], {
      outcome: 'forwarded', intercepted: true, redirectPort: 15001, listener: '0.0.0.0_9080', routeConfig: '9080',
      virtualHost: 'ratings.default.svc.cluster.local:9080', cluster: 'outbound|9080||ratings.default.svc.cluster.local', endpoints: ['172.33.100.2:9080'],
    }],
    ['bookinfo inbound', ['--bundle', 'examples/bookinfo', '--inbound', 'http://:9080/reviews/0'], {
      outcome: 'forwarded', intercepted: true, redirectPort: 15001, listener: '172.33.3.3_9080',
      cluster: 'inbound|9080||reviews.default.svc.cluster.local', endpoints: ['127.0.0.1:9080'],
    }],
    ['bookinfo-modern outbound', ['--bundle', 'examples/bookinfo-modern', 'http://ratings:9080/ratings/0'], {
      outcome: 'forwarded', intercepted: true, redirectPort: 15001, listener: '0.0.0.0_9080', routeConfig: '9080',
      virtualHost: 'ratings.default.svc.cluster.local:9080', cluster: 'outbound|9080||ratings.default.svc.cluster.local', endpoints: ['10.244.1.7:9080'],
    }],
    ['bookinfo-modern inbound', ['--bundle', 'examples/bookinfo-modern', '--inbound', 'http://:9080/reviews/0'], {
      outcome: 'forwarded', intercepted: true, redirectPort: 15006, listener: 'virtualInbound',
      cluster: 'inbound|9080||', endpoints: ['10.244.2.5:9080'],
    }],
  ])('%s', async (_name, args, expected) => {
    const trace = await traceJson(...args)

    expect(trace.schema).toBe('mesh-trace/v1')
    expect(trace.result).toMatchObject(expected)
  })

  it('prints the outbound story step by step as text', async () => {
    const r = await cli('--bundle', 'examples/bookinfo', 'http://ratings:9080/ratings/0')

    expect(r.exitCode).toBe(0)
    const stages = [...r.stdout.matchAll(/^\s*\d+\. (\S+)/gm)].map((m) => m[1])
    expect(stages.slice(0, 3)).toEqual(['iptables', 'listener', 'listener'])
    for (const stage of ['filter_chain', 'route_config', 'virtual_host', 'route', 'cluster', 'endpoint']) expect(stages).toContain(stage)
    expect(r.stdout).toContain('REDIRECT --to-ports 15001')
    expect(r.stdout).toMatch(/result forwarded: .*outbound\|9080\|\|ratings\.default\.svc\.cluster\.local → 172\.33\.100\.2:9080/)
  })

  it('starts from a sub-bundle named by POD and follows the request into the next pod', async () => {
    const trace = await traceJson('productpage-v1-d5789fdfb-m2t9r', '--bundle', 'examples/bookinfo-modern', 'http://reviews:9080/reviews/0', '--follow')

    expect(trace.request.source.pod).toBe('default/productpage-v1-d5789fdfb-m2t9r')
    expect(trace.result.cluster).toBe('outbound|9080||reviews.default.svc.cluster.local')
    const hops = trace.steps.filter((s: { stage: string }) => s.stage === 'hop')
    expect(hops).toHaveLength(1)
    expect(hops[0].decision).toMatchObject({ pod: 'default/reviews-v1-5b5d6494f4-7xk2p', result: { redirectPort: 15006, cluster: 'inbound|9080||' } })
  })

  it('gives the same result as YAML', async () => {
    const r = await cli('--bundle', 'examples/bookinfo', 'http://ratings:9080/ratings/0', '-o', 'yaml')

    expect(r.exitCode).toBe(0)
    expect(r.stdout).toMatch(/^schema: mesh-trace\/v1$/m)
    expect(r.stdout).toContain('cluster: outbound|9080||ratings.default.svc.cluster.local')
  })

  it('colours text only when asked or on a terminal', async () => {
    const plain = await cli('--bundle', 'examples/bookinfo', 'http://ratings:9080/ratings/0')
    const forced = await execa(bin, ['--bundle', 'examples/bookinfo', 'http://ratings:9080/ratings/0', '--color', 'always'], { cwd: root, reject: false, env: { ...process.env, NO_COLOR: '' } })

    expect(plain.stdout).not.toContain('\u001b[')
    expect(forced.stdout).toContain('\u001b[')
  })
})

describe('bad input: one sentence, exit 1 (2 for usage), never a stack', () => {
  it.each([
    ['a missing bundle', ['--bundle', 'no/such/bundle', 'http://ratings:9080/'], 1, /^Error: The bundle no\/such\/bundle does not exist\./],
    ['a TARGET that is not a URL', ['--bundle', 'examples/bookinfo', 'ratings:9080'], 1, /^Error: TARGET "ratings:9080" is not a URL/],
    ['an unknown flag', ['--bundle', 'examples/bookinfo', 'http://r:1/', '--frobnicate'], 2, /Nonexistent flag: --frobnicate/],
    ['a bad -o value', ['--bundle', 'examples/bookinfo', 'http://r:1/', '-o', 'xml'], 2, /Expected --output=xml to be one of/],
    ['no TARGET at all', ['--bundle', 'examples/bookinfo'], 2, /^Error: TARGET is missing/],
    ['a pod that is not the bundle\'s', ['other-pod', '--bundle', 'examples/bookinfo', 'http://ratings:9080/'], 1, /^Error: The bundle holds pod default\/reviews-v1-cb8655c75-b97zc, not other-pod\./],
  ])('%s', async (_name, args, code, message) => {
    const r = await cli(...args)

    expect(r.exitCode).toBe(code)
    expect(r.stderr).toMatch(message)
    expect(r.stderr).not.toMatch(/\n\s+at /)
    expect(r.stdout).toBe('')
  })

  it('a pod with no kubeconfig anywhere says how to give one', async () => {
    const home = await mkdtemp(path.join(tmpdir(), 'mesh-trace-home-'))
    const noKube: NodeJS.ProcessEnv = { ...env, HOME: home }
    delete noKube.KUBECONFIG

    const r = await execa(bin, ['reviews-v1-xyz', 'http://ratings:9080/'], { cwd: root, env: noKube, reject: false })

    expect(r.exitCode).toBe(1)
    expect(r.stderr).toMatch(/^Error: No kubeconfig was found.*\nPass --kubeconfig FILE/)
    await rm(home, { recursive: true })
  })

  it('refuses -i without a terminal', async () => {
    const r = await cli('--bundle', 'examples/bookinfo', 'http://ratings:9080/', '-i')

    expect(r.exitCode).toBe(1)
    expect(r.stderr).toMatch(/^Error: -i\/--interactive needs a terminal/)
  })

  it('names the file and position of unparsable JSON, and leaves it unchanged', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'mesh-trace-e2e-'))
    const bad = '{\n  "configs": [\n    {"@type": "x",}\n  ]\n}\n'
    await writeFile(path.join(dir, 'config_dump.json'), bad)

    const r = await cli('--bundle', dir, 'http://ratings:9080/')

    expect(r.exitCode).toBe(1)
    expect(r.stderr).toContain(`Error: ${path.join(dir, 'config_dump.json')} is not valid JSON at line 3, column 19: expected a property name in double quotes, found "}"`)
    expect(r.stderr.trim().split('\n')).toHaveLength(1)
    await rm(dir, { recursive: true })
  })

  it('shows the stack only with DEBUG=mesh-trace', async () => {
    const r = await execa(bin, ['--bundle', 'no/such', 'http://r:1/'], { cwd: root, reject: false, env: { ...env, DEBUG: 'mesh-trace' } })

    expect(r.exitCode).toBe(1)
    expect(r.stderr).toMatch(/\n\s+at /)
  })
})

describe('check', () => {
  it('passes the sample check file and ends with the summary line', async () => {
    const r = await cli('check', '--bundle', 'examples/bookinfo', '--tests', 'examples/bookinfo/checks.yaml')

    expect(r.exitCode).toBe(0)
    const lines = r.stdout.trim().split('\n')
    expect(lines.at(-1)).toMatch(/^\d+ passed, 0 failed$/)
  })

  it('fails with exit 1 and says which field differed', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'mesh-trace-e2e-'))
    const tests = path.join(dir, 't.yaml')
    await writeFile(tests, 'tests:\n  - name: wrong cluster\n    request: { url: "http://ratings:9080/ratings/0" }\n    expect: { cluster: "outbound|9080|v9|ratings.default.svc.cluster.local", redirectPort: 15001 }\n')

    const r = await cli('check', '--bundle', 'examples/bookinfo', '--tests', tests)
    const json = await cli('check', '--bundle', 'examples/bookinfo', '--tests', tests, '-o', 'json')

    expect(r.exitCode).toBe(1)
    expect(r.stdout).toContain('FAIL  wrong cluster — cluster: expected outbound|9080|v9|ratings.default.svc.cluster.local, got outbound|9080||ratings.default.svc.cluster.local')
    expect(r.stdout.trim().split('\n').at(-1)).toBe('0 passed, 1 failed')
    expect(json.exitCode).toBe(1)
    expect(JSON.parse(json.stdout)).toMatchObject({ passed: 0, failed: 1, results: [{ name: 'wrong cluster', pass: false, mismatches: [{ field: 'cluster' }] }] })
    await rm(dir, { recursive: true })
  })

  it('works on a bundle with only iptables-save.txt and pod.json', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'mesh-trace-e2e-'))
    await cp(path.join(root, 'examples/bookinfo-modern/iptables-save.txt'), path.join(dir, 'iptables-save.txt'))
    await cp(path.join(root, 'examples/bookinfo-modern/pod.json'), path.join(dir, 'pod.json'))
    const tests = path.join(dir, 't.yaml')
    await writeFile(tests, [
      'tests:',
      '  - name: app traffic is captured',
      '    request: { url: "tcp://203.0.113.9:5432", uid: 1000 }',
      '    expect: { intercepted: true, redirectPort: 15001, outcome: unknown }',
      '  - name: the proxy itself is not',
      '    request: { url: "tcp://203.0.113.9:5432", uid: 1337 }',
      '    expect: { intercepted: false, redirectPort: null, outcome: not_intercepted }',
      '  - name: inbound goes to 15006',
      '    request: { url: "tcp://:9080", inbound: true }',
      '    expect: { intercepted: true, redirectPort: 15006 }',
      '  - name: inbound to the Envoy stats port is excluded',
      '    request: { url: "tcp://:15090", inbound: true }',
      '    expect: { intercepted: false }',
      '',
    ].join('\n'))

    const r = await cli('check', '--bundle', dir, '--tests', tests)

    expect(r.stdout.trim().split('\n').at(-1)).toBe('4 passed, 0 failed')
    expect(r.exitCode).toBe(0)
    await rm(dir, { recursive: true })
  })
})

describe('as a kubectl plugin', () => {
  const kubectlEnv = { ...env, PATH: `${path.join(root, 'bin')}:${process.env.PATH}` }

  it('is listed by kubectl plugin list', async () => {
    const r = await execa('kubectl', ['plugin', 'list'], { env: kubectlEnv, reject: false })

    expect(r.stdout).toContain(path.join(root, 'bin', 'kubectl-mesh_trace'))
  })

  it('runs as kubectl mesh-trace', async () => {
    const r = await execa('kubectl', ['mesh-trace', '--bundle', 'examples/bookinfo', 'http://ratings:9080/ratings/0', '-o', 'json'], { cwd: root, env: kubectlEnv, reject: false })

    expect(r.exitCode).toBe(0)
    expect(JSON.parse(r.stdout).result.redirectPort).toBe(15001)
  })

  it('shows help with the root usage and the subcommands', async () => {
    const r = await cli('--help')

    expect(r.exitCode).toBe(0)
    expect(r.stdout).toContain('check')
  })
})
