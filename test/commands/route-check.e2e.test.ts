import { mkdtemp, writeFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { execa } from 'execa'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const bin = path.join(root, 'bin', 'kubectl-mesh_trace')
const env = { ...process.env, NO_COLOR: '1' }

const CONFIG = `virtual_hosts:
  - name: www
    domains: ["www.example.com"]
    routes:
      - match: { prefix: "/api", headers: [{ name: "x-canary", string_match: { exact: "1" } }] }
        route: { cluster: api-canary }
      - match: { prefix: "/api" }
        route: { cluster: api }
      - match: { prefix: "/" }
        redirect: { https_redirect: true }
`
const TESTS = JSON.stringify({
  tests: [
    { test_name: 'canary header', input: { authority: 'www.example.com', path: '/api/x', method: 'GET', additional_request_headers: [{ key: 'x-canary', value: '1' }] }, validate: { cluster_name: 'api-canary' } },
    { test_name: 'plain api', input: { authority: 'www.example.com', path: '/api/x', method: 'GET' }, validate: { cluster_name: 'api', virtual_host_name: 'www' } },
    { test_name: 'wrong expectation', input: { authority: 'www.example.com', path: '/api', method: 'GET' }, validate: { cluster_name: 'api-canary' } },
  ],
})

async function files(config: string, tests: string) {
  const dir = await mkdtemp(path.join(tmpdir(), 'mesh-trace-rc-'))
  await writeFile(path.join(dir, 'routes.yaml'), config)
  await writeFile(path.join(dir, 'tests.json'), tests)
  return { dir, config: path.join(dir, 'routes.yaml'), tests: path.join(dir, 'tests.json') }
}

describe('route-check', () => {
  it('runs router_check_tool files, names each failing test, ends with the summary line and exit 1', async () => {
    const f = await files(CONFIG, TESTS)

    const r = await execa(bin, ['route-check', '--config', f.config, '--tests', f.tests], { env, reject: false })

    expect(r.exitCode).toBe(1)
    expect(r.stdout).toContain('FAIL  wrong expectation: cluster_name expected [api-canary], actual [api]')
    expect(r.stdout).not.toContain('PASS')
    expect(r.stdout).toContain('Current route coverage: 66.67% (2 of 3 routes)')
    expect(r.stdout.trim().split('\n').at(-1)).toBe('2 passed, 1 failed')
    await rm(f.dir, { recursive: true })
  })

  it('lists passing tests too with --details, and uncovered routes with --covall', async () => {
    const f = await files(CONFIG, TESTS)

    const r = await execa(bin, ['route-check', '-c', f.config, '-t', f.tests, '--details', '--covall'], { env, reject: false })

    expect(r.stdout).toContain('PASS  canary header')
    expect(r.stdout).toMatch(/not covered: www .*#2|not covered: www/)
    await rm(f.dir, { recursive: true })
  })

  it('fails on coverage under --fail-under even when every test passes', async () => {
    const passing = JSON.stringify({ tests: [JSON.parse(TESTS).tests[1]] })
    const f = await files(CONFIG, passing)

    const r = await execa(bin, ['route-check', '-c', f.config, '-t', f.tests, '--fail-under', '90'], { env, reject: false })

    expect(r.exitCode).toBe(1)
    expect(r.stdout).toContain('below --fail-under 90%')
    expect(r.stdout.trim().split('\n').at(-1)).toBe('1 passed, 0 failed')
    await rm(f.dir, { recursive: true })
  })

  it('names the file of a broken config in one sentence', async () => {
    const f = await files('virtual_hosts: [ {', TESTS)

    const r = await execa(bin, ['route-check', '-c', f.config, '-t', f.tests], { env, reject: false })

    expect(r.exitCode).toBe(1)
    expect(r.stderr).toContain(f.config)
    expect(r.stderr).not.toMatch(/\n\s+at /)
    await rm(f.dir, { recursive: true })
  })
})
