/**
 * Redaction of secrets before a capture touches the disk: SDS secrets, private keys, inline certificate bytes and
 * strings, tokens (JWTs, bearer tokens, secret-looking env values) and Authorization header values. Pure: values in,
 * redacted copies and a list of what was redacted out.
 */

/** What replaces a redacted string. */
export const REDACTED = '[redacted by mesh-trace]'
/** What replaces redacted bytes (Envoy `inline_bytes` are base64; this stays valid base64). */
export const REDACTED_BYTES = Buffer.from(REDACTED, 'utf8').toString('base64')

/** One redacted value: the file, where in it (a JSON pointer, or `line N`), and what kind of secret. */
export interface Redaction {
  file: string
  at: string
  what: 'private-key' | 'certificate' | 'sds-secret' | 'token' | 'authorization' | 'secret-env'
}

const INLINE_KEYS = new Set(['inline_bytes', 'inlineBytes', 'inline_string', 'inlineString'])
const PRIVATE_ANCESTORS = /^(private_key|privateKey|session_ticket_keys|sessionTicketKeys|hmac_secret|hmacSecret|password)$/
const CERT_ANCESTORS = /^(certificate_chain|certificateChain|trusted_ca|trustedCa|ocsp_staple|ocspStaple|tls_certificate|tlsCertificate|validation_context|validationContext|crl|watched_directory)$/
const TOKEN_KEYS = /^(token|access_token|accessToken|id_token|idToken|refresh_token|refreshToken|google_refresh_token|googleRefreshToken|client_secret|clientSecret|password|api_key|apiKey|bearer_token|bearerToken|jwt)$/
const AUTH_KEYS = /^(proxy-)?authorization$/i
const SECRET_ENV = /(TOKEN|SECRET|PASSWORD|PASSWD|API_?KEY|CREDENTIAL|PRIVATE_?KEY)/i
const PEM_PRIVATE = /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/
const PEM_ANY = /-----BEGIN [A-Z0-9 ]+-----/
const JWT = /\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*/

/** Redacts a parsed JSON document (config dump, Pod, lists). Returns a redacted copy; the input is not changed. */
export function redactJson(value: unknown, file: string): { value: unknown; redactions: Redaction[] } {
  const redactions: Redaction[] = []
  const walk = (v: unknown, pointer: string, ancestors: string[], inSds: boolean): unknown => {
    if (typeof v === 'string') {
      const what = secretInString(v)
      if (what !== undefined) {
        redactions.push({ file, at: pointer, what })
        return REDACTED
      }
      return v
    }
    if (Array.isArray(v)) return v.map((x, i) => walk(x, `${pointer}/${i}`, ancestors, inSds))
    if (v === null || typeof v !== 'object') return v
    const o = v as Record<string, unknown>
    const sds = inSds || (typeof o['@type'] === 'string' && /SecretsConfigDump$/.test(o['@type']))
    // A header given as {key: "authorization", value: "…"} (request_headers_to_add, env-like lists).
    const headerName = typeof o.key === 'string' ? o.key : undefined
    const envName = typeof o.name === 'string' && 'value' in o && Object.keys(o).every((k) => k === 'name' || k === 'value') ? o.name : undefined
    const out: Record<string, unknown> = {}
    for (const [k, child] of Object.entries(o)) {
      const at = `${pointer}/${escapePointer(k)}`
      if (typeof child === 'string' && INLINE_KEYS.has(k) && ancestors.some((a) => PRIVATE_ANCESTORS.test(a) || CERT_ANCESTORS.test(a) || a === 'secret' || a === 'generic_secret' || a === 'genericSecret')) {
        const what: Redaction['what'] = ancestors.some((a) => PRIVATE_ANCESTORS.test(a)) ? 'private-key' : sds ? 'sds-secret' : 'certificate'
        redactions.push({ file, at, what })
        out[k] = k.endsWith('ytes') ? REDACTED_BYTES : REDACTED
        continue
      }
      if (typeof child === 'string' && child !== '' && (AUTH_KEYS.test(k) || (k === 'value' && headerName !== undefined && AUTH_KEYS.test(headerName)))) {
        redactions.push({ file, at, what: 'authorization' })
        out[k] = REDACTED
        continue
      }
      if (typeof child === 'string' && child !== '' && TOKEN_KEYS.test(k)) {
        redactions.push({ file, at, what: 'token' })
        out[k] = REDACTED
        continue
      }
      if (typeof child === 'string' && child !== '' && k === 'value' && envName !== undefined && SECRET_ENV.test(envName)) {
        redactions.push({ file, at, what: 'secret-env' })
        out[k] = REDACTED
        continue
      }
      out[k] = walk(child, at, [...ancestors, k], sds)
    }
    return out
  }
  return { value: walk(value, '', [], false), redactions }
}

/** Redacts a text (init log, stats, clusters text): PEM blocks, JWTs, Authorization/Bearer values. */
export function redactText(text: string, file: string): { text: string; redactions: Redaction[] } {
  const redactions: Redaction[] = []
  const lines = text.split('\n')
  let inPem: Redaction['what'] | undefined
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]
    const at = `line ${i + 1}`
    if (inPem !== undefined) {
      if (/-----END [A-Z0-9 ]+-----/.test(line)) inPem = undefined
      lines[i] = REDACTED
      continue
    }
    if (PEM_ANY.test(line)) {
      const what = PEM_PRIVATE.test(line) ? 'private-key' : 'certificate'
      redactions.push({ file, at, what })
      if (!/-----END [A-Z0-9 ]+-----/.test(line.slice(line.search(PEM_ANY) + 10))) inPem = what
      lines[i] = line.slice(0, line.search(PEM_ANY)) + REDACTED
      continue
    }
    let next = line.replace(/\b((?:proxy-)?authorization)(["']?\s*[:=]\s*["']?)([^"'\s,}][^"',}]*)/gi, (_m, name: string, sep: string) => {
      redactions.push({ file, at, what: 'authorization' })
      return `${name}${sep}${REDACTED}`
    })
    next = next.replace(/\bBearer\s+(?!\[redacted)[A-Za-z0-9._~+/=-]{8,}/g, () => {
      redactions.push({ file, at, what: 'token' })
      return `Bearer ${REDACTED}`
    })
    next = next.replace(new RegExp(JWT.source, 'g'), () => {
      redactions.push({ file, at, what: 'token' })
      return REDACTED
    })
    lines[i] = next
  }
  return { text: lines.join('\n'), redactions }
}

function secretInString(s: string): Redaction['what'] | undefined {
  if (PEM_PRIVATE.test(s)) return 'private-key'
  if (PEM_ANY.test(s)) return 'certificate'
  if (JWT.test(s)) return 'token'
  if (/^(Bearer|Basic)\s+\S{8,}$/i.test(s)) return 'authorization'
  return undefined
}

function escapePointer(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1')
}

/** A one-line summary of redactions, e.g. `3 private-key, 2 certificate in config_dump.json`. */
export function summarizeRedactions(redactions: Redaction[]): string[] {
  const byFile = new Map<string, Map<string, number>>()
  for (const r of redactions) {
    const kinds = byFile.get(r.file) ?? new Map<string, number>()
    kinds.set(r.what, (kinds.get(r.what) ?? 0) + 1)
    byFile.set(r.file, kinds)
  }
  return [...byFile].map(([file, kinds]) => `${[...kinds].map(([k, n]) => `${n} ${k}`).join(', ')} in ${file}`)
}
