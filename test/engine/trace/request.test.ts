import { describe, expect, it } from 'vitest'
import { parseHeaders, parseRequest, RequestError } from '../../../src/engine/trace/request.js'

describe('parseRequest', () => {
  it.each([
    ['http with port and path', 'http://ratings:9080/ratings/0', {}, { protocol: 'http', host: 'ratings', port: 9080, path: '/ratings/0', method: 'GET', headers: { host: 'ratings:9080' } }],
    ['http default port keeps the bare host as authority', 'http://details/details/0', {}, { port: 80, headers: { host: 'details' } }],
    ['https default port 443 and SNI from the host', 'https://api.example.com/v1', {}, { protocol: 'https', port: 443, sni: 'api.example.com', headers: { host: 'api.example.com' } }],
    ['query string stays in :path', 'http://ratings:9080/r?a=1&b=2', {}, { path: '/r?a=1&b=2' }],
    ['query without a path gets a leading slash', 'http://ratings:9080?x=1', {}, { path: '/?x=1' }],
    ['empty path is /', 'http://ratings:9080', {}, { path: '/' }],
    ['fragment is dropped', 'http://ratings:9080/a#frag', {}, { path: '/a' }],
    ['host is lower-cased', 'http://Ratings:9080/', {}, { host: 'ratings', headers: { host: 'Ratings:9080' } }],
    ['tcp has no method, path or headers', 'tcp://10.96.0.10:53', {}, { protocol: 'tcp', ip: '10.96.0.10', port: 53, method: undefined, path: undefined, headers: {} }],
    ['an IP literal host is the destination IP', 'http://10.254.234.130:9080/', {}, { ip: '10.254.234.130' }],
    ['IPv6 literal in brackets', 'http://[fd00::7]:9080/', {}, { host: 'fd00::7', ip: 'fd00::7', headers: { host: '[fd00::7]:9080' } }],
    ['--ip overrides resolution', 'http://ratings:9080/', { ip: '198.51.100.7' }, { ip: '198.51.100.7', host: 'ratings' }],
    ['inbound with an empty host', 'http://:9080/reviews/0', { inbound: true }, { direction: 'inbound', host: undefined, port: 9080, headers: {} }],
    ['method is upper-cased', 'http://r:1/', { method: 'post' }, { method: 'POST' }],
    ['-H Host overrides the authority', 'http://10.254.234.130:9080/', { headers: ['Host: ratings'] }, { headers: { host: 'ratings' } }],
    ['repeated headers are joined with a comma', 'http://r:1/', { headers: ['X-A: 1', 'x-a: 2'] }, { headers: { host: 'r:1', 'x-a': '1,2' } }],
    ['pseudo-header :method can be given', 'http://r:1/', { headers: [':authority: other'] }, { headers: { host: 'r:1', ':authority': 'other' } }],
    ['uid and gid pass through', 'tcp://1.2.3.4:80', { uid: 1337, gid: 1337 }, { uid: 1337, gid: 1337 }],
    ['explicit SNI and ALPN', 'http://r:1/', { sni: 'Outbound_.9080_._.r', alpn: ['istio-http/1.1'] }, { sni: 'outbound_.9080_._.r', alpn: ['istio-http/1.1'] }],
  ])('%s', (_name, target, options, expected) => {
    const request = parseRequest(target, options)

    const present = Object.fromEntries(Object.entries(expected).filter(([, v]) => v !== undefined))
    expect(request).toMatchObject(present)
    for (const [k, v] of Object.entries(expected)) if (v === undefined) expect(request).not.toHaveProperty(k)
  })

  it.each([
    ['not a URL', 'ratings:9080', 'bad-target'],
    ['an unknown scheme', 'ftp://ratings:21/', 'bad-target'],
    ['tcp without a port', 'tcp://10.0.0.1', 'bad-target'],
    ['a port out of range', 'http://r:70000/', 'bad-target'],
    ['a port that is not a number', 'http://r:abc/', 'bad-target'],
    ['an empty host outbound', 'http://:9080/', 'bad-target'],
    ['tcp with a path', 'tcp://1.2.3.4:80/x', 'bad-target'],
  ])('rejects %s', (_name, target, code) => {
    expect(() => parseRequest(target)).toThrow(RequestError)
    try {
      parseRequest(target)
    } catch (err) {
      expect((err as RequestError).code).toBe(code)
    }
  })

  it.each([
    ['a header without a colon', { headers: ['nocolon'] }, 'bad-header'],
    ['a header name with a space', { headers: ['bad name: 1'] }, 'bad-header'],
    ['headers on tcp', { headers: ['a: b'] }, 'headers-on-tcp'],
    ['a bad --src-ip', { srcIp: '1.2.3' }, 'bad-ip'],
    ['a bad --ip', { ip: 'ratings' }, 'bad-ip'],
  ])('rejects %s', (_name, options, code) => {
    const target = code === 'headers-on-tcp' ? 'tcp://1.2.3.4:80' : 'http://r:1/'

    expect(() => parseRequest(target, options)).toThrow(expect.objectContaining({ code }))
  })
})

describe('parseHeaders', () => {
  it('takes a map from a check file, lower-casing names', () => {
    expect(parseHeaders({ 'End-User': 'jason' })).toEqual({ 'end-user': 'jason' })
  })
})
