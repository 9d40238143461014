import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { ADMIN_GET_ALLOW_LIST, adminHttpRequest, isAllowedAdminPath, pilotAgentRequestArgv } from '../../../src/collect/cluster/admin-paths.js'
import { BugError } from '../../../src/errors.js'

describe('the admin allow-list', () => {
  it.each([
    ['config_dump?include_eds', true],
    ['clusters?format=json', true],
    ['stats', true],
    ['quitquitquit', false],
    ['healthcheck/fail', false],
    ['logging?level=debug', false],
    ['reset_counters', false],
    ['drain_listeners', false],
    ['config_dump?include_eds&x=/quitquitquit', false],
    ['stats/../quitquitquit', false],
    ['', false],
  ])('%s → %s', (path, allowed) => {
    expect(isAllowedAdminPath(path)).toBe(allowed)
  })

  it('builds `pilot-agent request GET <path>` as four separate arguments', () => {
    expect(pilotAgentRequestArgv('config_dump?include_eds')).toEqual(['pilot-agent', 'request', 'GET', 'config_dump?include_eds'])
  })

  it('builds a raw GET for the port-forward path', () => {
    expect(adminHttpRequest('stats')).toMatch(/^GET \/stats HTTP\/1\.1\r\nHost: 127\.0\.0\.1:15000\r\n/)
  })

  it('refuses any path off the list, whatever it is', () => {
    fc.assert(
      fc.property(fc.string(), (path) => {
        fc.pre(!ADMIN_GET_ALLOW_LIST.includes(path))
        expect(() => pilotAgentRequestArgv(path)).toThrow(BugError)
        expect(() => adminHttpRequest(path)).toThrow(BugError)
      }),
    )
  })
})
