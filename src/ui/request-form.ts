import { parseRequest, RequestError, type Request, type RequestOptions } from '../engine/trace/request.js'

/** The request as the editor shows it: one text field per line, headers one per line. */
export interface RequestForm {
  url: string
  method: string
  /** `name: value`, one per header; blank entries are ignored. */
  headers: string[]
  /** Blank = the app container's default. */
  uid: string
  inbound: boolean
  /** Blank = none (or the URL's host for https://). */
  sni: string
}

/** One editable row of the form. */
export type FormRowId = 'url' | 'method' | `header:${number}` | 'uid' | 'inbound' | 'sni'

/** A row as the editor draws it. */
export interface FormRow {
  id: FormRowId
  label: string
  value: string
  /** Shown dimmed when the value is blank. */
  placeholder: string
}

/** The URL a request was parsed from (the port always written out, so it survives the round trip). */
export function requestUrl(request: Request): string {
  const host = request.host === undefined ? '' : request.host.includes(':') ? `[${request.host}]` : request.host
  return `${request.protocol}://${host}:${request.port}${request.protocol === 'tcp' ? '' : request.path ?? '/'}`
}

/** The editor's starting values for a request: only what the user set, defaults left blank. */
export function formFromRequest(request: Request): RequestForm {
  const url = requestUrl(request)
  const defaults = defaultRequest(url, request.direction === 'inbound')
  const headers = Object.entries(request.headers)
    .filter(([name, value]) => !(name === 'host' && defaults?.headers.host === value))
    .map(([name, value]) => `${name}: ${value}`)
  return {
    url,
    method: request.method ?? (request.protocol === 'tcp' ? '' : 'GET'),
    headers,
    uid: request.uid === undefined ? '' : String(request.uid),
    inbound: request.direction === 'inbound',
    sni: request.sni !== undefined && request.sni !== defaults?.sni ? request.sni : '',
  }
}

function defaultRequest(url: string, inbound: boolean): Request | undefined {
  try {
    return parseRequest(url, { inbound })
  } catch {
    return undefined
  }
}

/** The rows of the form, in order; there is always one blank header row at the end for a new header. */
export function formRows(form: RequestForm): FormRow[] {
  const headers = form.headers.length > 0 && form.headers[form.headers.length - 1].trim() === '' ? form.headers : [...form.headers, '']
  return [
    { id: 'url', label: 'URL', value: form.url, placeholder: 'http://HOST:PORT/PATH' },
    { id: 'method', label: 'method', value: form.method, placeholder: 'GET' },
    ...headers.map((h, i): FormRow => ({ id: `header:${i}`, label: 'header', value: h, placeholder: 'name: value' })),
    { id: 'uid', label: 'uid', value: form.uid, placeholder: "the app container's" },
    { id: 'inbound', label: 'direction', value: form.inbound ? 'inbound' : 'outbound', placeholder: '' },
    { id: 'sni', label: 'SNI', value: form.sni, placeholder: 'none (https: the host)' },
  ]
}

/** The form with one row's text replaced (the direction row is toggled, not typed). */
export function setFormRow(form: RequestForm, id: FormRowId, value: string): RequestForm {
  if (id === 'url' || id === 'method' || id === 'uid' || id === 'sni') return { ...form, [id]: value }
  if (id === 'inbound') return form
  const i = Number(id.slice('header:'.length))
  const headers = [...form.headers]
  while (headers.length <= i) headers.push('')
  headers[i] = value
  return { ...form, headers }
}

/**
 * The Request the form describes, keeping what the form does not show from `base` (gid, source IP,
 * ALPN, random value; the destination IP only while the host is unchanged). Throws RequestError with
 * a sentence for the user when a field is wrong.
 */
export function requestFromForm(form: RequestForm, base: Request): Request {
  const options: RequestOptions = {
    headers: form.headers.map((h) => h.trim()).filter((h) => h !== ''),
    inbound: form.inbound,
  }
  if (form.method.trim() !== '') options.method = form.method.trim()
  const uid = form.uid.trim()
  if (uid !== '') {
    if (!/^\d+$/.test(uid)) throw new RequestError(`The uid "${uid}" is not a number.`, 'bad-uid')
    options.uid = Number(uid)
  }
  if (form.sni.trim() !== '') options.sni = form.sni.trim()
  if (base.gid !== undefined && base.uid !== undefined && String(base.uid) === uid) options.gid = base.gid
  if (base.srcIp !== undefined) options.srcIp = base.srcIp
  if (base.alpn !== undefined) options.alpn = base.alpn
  if (base.randomValue !== undefined) options.randomValue = base.randomValue
  const draft = parseRequest(form.url, options)
  if (base.ip !== undefined && base.ip !== base.host && draft.host === base.host && draft.direction === base.direction) {
    return parseRequest(form.url, { ...options, ip: base.ip })
  }
  return draft
}
