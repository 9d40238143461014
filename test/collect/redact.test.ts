import { describe, expect, it } from 'vitest'
import { REDACTED, REDACTED_BYTES, redactJson, redactText, summarizeRedactions } from '../../src/collect/redact.js'

const PEM_KEY = '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n'
const PEM_CERT = '-----BEGIN CERTIFICATE-----\nMIIDKDCCAhCgAwIBAgIQakHSyPA7fpEl\n-----END CERTIFICATE-----\n'
const JWT = 'eyJhbGciOiJSUzI1NiIsImtpZCI6IjEifQ.eyJpc3MiOiJrdWJlcm5ldGVzIiwic3ViIjoieCJ9.c2lnbmF0dXJl'

describe('redactJson', () => {
  it.each([
    ['an SDS secret certificate chain', { configs: [{ '@type': 'type.googleapis.com/envoy.admin.v3.SecretsConfigDump', dynamic_active_secrets: [{ name: 'default', secret: { tls_certificate: { certificate_chain: { inline_bytes: 'Y2VydA==' } } } }] }] }, '/configs/0/dynamic_active_secrets/0/secret/tls_certificate/certificate_chain/inline_bytes', 'sds-secret', REDACTED_BYTES],
    ['a private key (inline bytes)', { tls_certificate: { private_key: { inline_bytes: 'a2V5' } } }, '/tls_certificate/private_key/inline_bytes', 'private-key', REDACTED_BYTES],
    ['a private key (camelCase inline string)', { tlsCertificate: { privateKey: { inlineString: 'key' } } }, '/tlsCertificate/privateKey/inlineString', 'private-key', REDACTED],
    ['a trusted CA inline string', { validation_context: { trusted_ca: { inline_string: 'ca' } } }, '/validation_context/trusted_ca/inline_string', 'certificate', REDACTED],
    ['a PEM private key anywhere', { note: PEM_KEY }, '/note', 'private-key', REDACTED],
    ['a PEM certificate anywhere', { x: [PEM_CERT] }, '/x/0', 'certificate', REDACTED],
    ['a JWT anywhere', { metadata: { ISTIO_META_X: JWT } }, '/metadata/ISTIO_META_X', 'token', REDACTED],
    ['an Authorization header to add', { request_headers_to_add: [{ header: { key: 'Authorization', value: 'Basic dXNlcjpwYXNz' } }] }, '/request_headers_to_add/0/header/value', 'authorization', REDACTED],
    ['an authorization field', { headers: { authorization: 'x' } }, '/headers/authorization', 'authorization', REDACTED],
    ['an access token field', { call_credentials: { access_token: 'abc' } }, '/call_credentials/access_token', 'token', REDACTED],
    ['a secret-looking env value', { env: [{ name: 'DB_PASSWORD', value: 'hunter2' }] }, '/env/0/value', 'secret-env', REDACTED],
  ])('%s', (_name, input, pointer, what, replacement) => {
    const before = JSON.stringify(input)

    const { value, redactions } = redactJson(input, 'f.json')

    expect(redactions).toEqual([{ file: 'f.json', at: pointer, what }])
    const segments = pointer.split('/').slice(1)
    let v: unknown = value
    for (const s of segments) v = (v as Record<string, unknown>)[s]
    expect(v).toBe(replacement)
    expect(JSON.stringify(input)).toBe(before) // the input is untouched
  })

  it.each([
    ['a direct response body', { direct_response: { status: 200, body: { inline_string: 'hello' } } }],
    ['a certificate file name', { tls_certificate: { certificate_chain: { filename: '/etc/certs/cert-chain.pem' } } }],
    ['an ordinary env value', { env: [{ name: 'ISTIO_META_INTERCEPTION_MODE', value: 'REDIRECT' }] }],
    ['an SDS reference by name', { tls_certificate_sds_secret_configs: [{ name: 'default', sds_config: { ads: {} } }] }],
  ])('keeps %s', (_name, input) => {
    expect(redactJson(input, 'f.json')).toEqual({ value: input, redactions: [] })
  })
})

describe('redactText', () => {
  it.each([
    ['a PEM block', `before\n${PEM_KEY}after`, ['before', REDACTED, REDACTED, REDACTED, 'after'], 'private-key'],
    ['an Authorization header', 'GET / Authorization: Bearer abcdefghijkl', [`GET / Authorization: ${REDACTED}`], 'authorization'],
    ['a bearer token', 'token is Bearer abcdefghijklmnop', [`token is Bearer ${REDACTED}`], 'token'],
    ['a JWT', `x=${JWT}`, [`x=${REDACTED}`], 'token'],
  ])('%s', (_name, text, lines, what) => {
    const r = redactText(text, 'log')

    expect(r.text.split('\n')).toEqual(lines)
    expect(r.redactions[0]).toEqual({ file: 'log', at: expect.stringMatching(/^line \d+$/), what: expect.any(String) })
    expect(r.redactions.map((x) => x.what)).toContain(what)
  })

  it('leaves iptables rules alone', () => {
    const rules = '*nat\n-A ISTIO_OUTPUT -m owner --uid-owner 1337 -j RETURN\nCOMMIT\n'

    expect(redactText(rules, 'iptables-save.txt')).toEqual({ text: rules, redactions: [] })
  })
})

describe('summarizeRedactions', () => {
  it('counts kinds per file', () => {
    expect(summarizeRedactions([
      { file: 'a', at: '/1', what: 'private-key' },
      { file: 'a', at: '/2', what: 'sds-secret' },
      { file: 'a', at: '/3', what: 'sds-secret' },
    ])).toEqual(['1 private-key, 2 sds-secret in a'])
  })
})
