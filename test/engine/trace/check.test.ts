import { describe, expect, it } from 'vitest'
import { CheckFileError, parseCheckFile } from '../../../src/engine/trace/check.js'

const GOOD = `tests:
  - name: reviews calls ratings
    request:
      url: http://ratings:9080/ratings/0
      headers: { end-user: jason }
      uid: 1000
    expect:
      intercepted: true
      redirectPort: 15001
  - request: { url: "tcp://10.96.0.10:53", uid: 1337 }
    expect: { intercepted: false }
`

describe('parseCheckFile', () => {
  it('reads YAML tests with their lines, naming unnamed tests after the URL', () => {
    const cases = parseCheckFile(GOOD, 'checks.yaml')

    expect(cases).toHaveLength(2)
    expect(cases[0]).toMatchObject({ name: 'reviews calls ratings', url: 'http://ratings:9080/ratings/0', line: 2, options: { headers: { 'end-user': 'jason' }, uid: 1000, inbound: false } })
    expect(cases[1]).toMatchObject({ name: '#2 tcp://10.96.0.10:53', options: { uid: 1337 }, expect: { intercepted: false } })
  })

  it('reads the same tests as JSON', () => {
    const json = JSON.stringify({ tests: [{ name: 'a', request: { url: 'http://r:1/', inbound: true }, expect: { cluster: 'x' } }] })

    expect(parseCheckFile(json, 'checks.json')[0]).toMatchObject({ name: 'a', options: { inbound: true }, expect: { cluster: 'x' } })
  })

  it.each([
    ['broken YAML', 'tests:\n  - name: a\n   bad: [', 'bad-check-file', 3],
    ['no tests list', 'checks: []\n', 'bad-check-file', 1],
    ['a test without request.url', 'tests:\n  - name: a\n    expect: { outcome: forwarded }\n', 'bad-check-file', 2],
    ['an unknown expect field', 'tests:\n  - request: { url: "http://r:1/" }\n    expect: { clusterName: x }\n', 'bad-check-file', 2],
    ['an unknown request field', 'tests:\n  - request: { url: "http://r:1/", hdrs: {} }\n    expect: { outcome: forwarded }\n', 'bad-check-file', 2],
    ['an empty expect', 'tests:\n  - request: { url: "http://r:1/" }\n    expect: {}\n', 'bad-check-file', 2],
    ['a duplicate name', 'tests:\n  - name: a\n    request: { url: "http://r:1/" }\n    expect: { outcome: forwarded }\n  - name: a\n    request: { url: "http://r:1/" }\n    expect: { outcome: forwarded }\n', 'bad-check-file', 5],
    ['uid as a string', 'tests:\n  - request: { url: "http://r:1/", uid: "x" }\n    expect: { outcome: forwarded }\n', 'bad-check-file', undefined],
  ])('rejects %s, naming the line', (_n, text, code, line) => {
    let error: unknown
    try {
      parseCheckFile(text, 'checks.yaml')
    } catch (err) {
      error = err
    }

    expect(error).toBeInstanceOf(CheckFileError)
    expect((error as CheckFileError).code).toBe(code)
    if (line !== undefined) expect((error as CheckFileError).message).toContain(`checks.yaml:${line}`)
  })
})
