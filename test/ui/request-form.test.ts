import { describe, expect, it } from 'vitest'
import { parseRequest, RequestError } from '../../src/engine/trace/request.js'
import { formFromRequest, formRows, requestFromForm, requestUrl, setFormRow } from '../../src/ui/request-form.js'

describe('formFromRequest', () => {
  it('shows only what the user set: the derived Host header and defaults stay blank', () => {
    const request = parseRequest('http://ratings:9080/ratings/0', { headers: ['end-user: jason'] })

    const form = formFromRequest(request)

    expect(form).toEqual({ url: 'http://ratings:9080/ratings/0', method: 'GET', headers: ['end-user: jason'], uid: '', inbound: false, sni: '' })
  })

  it('keeps a Host override, the uid, inbound and an explicit SNI', () => {
    const request = parseRequest('https://:8443/x', { inbound: true, headers: ['Host: ratings.example.com'], uid: 1337, sni: 'other.example.com' })

    const form = formFromRequest(request)

    expect(form).toEqual({ url: 'https://:8443/x', method: 'GET', headers: ['host: ratings.example.com'], uid: '1337', inbound: true, sni: 'other.example.com' })
  })
})

describe('requestFromForm', () => {
  it('round-trips a request', () => {
    const request = parseRequest('http://ratings:9080/ratings/0?x=1', { headers: ['end-user: jason'], uid: 1000, method: 'POST' })

    const back = requestFromForm(formFromRequest(request), request)

    expect(back).toEqual(request)
  })

  it('applies an edited path and a new header', () => {
    const request = parseRequest('http://ratings:9080/ratings/0')
    let form = formFromRequest(request)
    form = setFormRow(form, 'url', 'http://ratings:9080/health')
    form = setFormRow(form, 'header:0', 'end-user: jason')

    const edited = requestFromForm(form, request)

    expect(edited.path).toBe('/health')
    expect(edited.headers).toEqual({ host: 'ratings:9080', 'end-user': 'jason' })
  })

  it('keeps --ip while the host is unchanged, and drops it when the host changes', () => {
    const request = parseRequest('http://ratings:9080/', { ip: '10.254.234.130' })
    const form = formFromRequest(request)

    expect(requestFromForm(form, request).ip).toBe('10.254.234.130')
    expect(requestFromForm(setFormRow(form, 'url', 'http://reviews:9080/'), request).ip).toBeUndefined()
  })

  it.each([
    ['a URL with an unknown scheme', { url: 'htp://ratings/' }, /scheme htp/],
    ['a uid that is not a number', { uid: 'root' }, /uid "root" is not a number/],
    ['a header without a name', { headers: [': x'] }, /header/],
    ['an empty host outbound', { url: 'http://:9080/' }, /no host/],
  ])('explains %s', (_what, change, message) => {
    const request = parseRequest('http://ratings:9080/')
    const form = { ...formFromRequest(request), ...change }

    expect(() => requestFromForm(form, request)).toThrow(RequestError)
    expect(() => requestFromForm(form, request)).toThrow(message)
  })
})

describe('formRows', () => {
  it('always ends the headers with one blank row for a new header', () => {
    const form = formFromRequest(parseRequest('http://ratings:9080/', { headers: ['a: 1'] }))

    expect(formRows(form).map((r) => r.id)).toEqual(['url', 'method', 'header:0', 'header:1', 'uid', 'inbound', 'sni'])
  })
})

describe('requestUrl', () => {
  it.each([
    ['http://ratings/x', {}, 'http://ratings:80/x'],
    ['tcp://10.0.0.1:5432', {}, 'tcp://10.0.0.1:5432'],
    ['http://[fd00::1]:9080/', {}, 'http://[fd00::1]:9080/'],
    ['http://:9080/reviews/0', { inbound: true }, 'http://:9080/reviews/0'],
  ])('%s', (url, options, expected) => {
    expect(requestUrl(parseRequest(url, options))).toBe(expected)
  })
})
