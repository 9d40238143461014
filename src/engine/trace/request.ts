/** The request to trace, as typed values (parsed from the TARGET URL and the request flags). */
export interface Request {
  direction: 'outbound' | 'inbound'
  protocol: 'http' | 'https' | 'tcp'
  /** The host as written in the URL (`ratings`, `10.254.234.130`); absent for `http://:9080/…`. */
  host?: string
  port: number
  /** Destination IP: `--ip`, an IP-literal host, or what name resolution found. */
  ip?: string
  /** Upper-case method for HTTP; absent for TCP. */
  method?: string
  /** `:path` including the query string, for HTTP. */
  path?: string
  /** Header names lower-cased; `host` is the authority unless the user set one. */
  headers: Record<string, string>
  /** Sending process uid (outbound); 1337 is the Istio proxy. */
  uid?: number
  /** Sending process gid; defaults to the uid. */
  gid?: number
  /** Bound source address (outbound) or peer address (inbound). */
  srcIp?: string
  srcPort?: number
  /** The client speaks TLS (also implied by https:// and by an SNI). */
  tls?: boolean
  /** TLS server name the client sends (tls_inspector), if any. */
  sni?: string
  /** ALPN protocols the client offers (TLS) or http_inspector detects (plaintext). */
  alpn?: string[]
  /** Envoy's random value for weighted clusters and runtime fractions. */
  randomValue?: number
  /** A VirtualService (`name` or `namespace/name`) the user expects to route this request. */
  expectVs?: string
}

/** A TARGET or request flag that cannot be understood; the message is one sentence for the user. */
export class RequestError extends Error {
  readonly code: string
  constructor(message: string, code = 'bad-target') {
    super(message)
    this.name = 'RequestError'
    this.code = code
  }
}

/** Request options as flags and check files give them (strings not yet validated). */
export interface RequestOptions {
  method?: string
  headers?: string[] | Record<string, string>
  inbound?: boolean
  uid?: number
  gid?: number
  srcIp?: string
  ip?: string
  sni?: string
  alpn?: string[]
  randomValue?: number
  expectVs?: string
}

const DEFAULT_PORTS: Record<string, number> = { http: 80, https: 443 }

/**
 * Parses a TARGET (`http://host:port/path?query`, `https://…`, `tcp://ip:port`, `http://:9080/…` with inbound)
 * and the request options into a Request. The Host header defaults to the URL's authority, as curl sends it.
 */
export function parseRequest(target: string, options: RequestOptions = {}): Request {
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/(\[[^\]]*\]|[^/:?#]*)(?::([^/?#]*))?([/?][^#]*)?(#.*)?$/.exec(target.trim())
  if (!m) {
    throw new RequestError(`TARGET "${target}" is not a URL; write it as http://HOST[:PORT]/PATH, https://…, or tcp://IP:PORT.`)
  }
  const scheme = m[1].toLowerCase()
  if (scheme !== 'http' && scheme !== 'https' && scheme !== 'tcp') {
    throw new RequestError(`TARGET "${target}" uses the scheme ${scheme}; mesh-trace understands http, https and tcp.`)
  }
  const rawHost = m[2]
  const host = rawHost.startsWith('[') ? rawHost.slice(1, -1) : rawHost
  let port: number
  if (m[3] === undefined || m[3] === '') {
    const def = DEFAULT_PORTS[scheme]
    if (def === undefined) throw new RequestError(`TARGET "${target}" needs a port: tcp://HOST:PORT.`)
    port = def
  } else {
    port = Number(m[3])
    if (!/^\d+$/.test(m[3]) || port < 1 || port > 65535) {
      throw new RequestError(`TARGET "${target}" has the port "${m[3]}"; a port is a number from 1 to 65535.`)
    }
  }
  const inbound = options.inbound === true
  if (host === '' && !inbound) {
    throw new RequestError(`TARGET "${target}" has no host; an empty host (http://:PORT/…) is only for --inbound.`)
  }
  if (scheme === 'tcp' && m[4] !== undefined && m[4] !== '/' && m[4] !== '') {
    throw new RequestError(`TARGET "${target}" is a tcp:// URL with a path; TCP has no path, write tcp://HOST:PORT.`)
  }
  const protocol = scheme as Request['protocol']
  const request: Request = { direction: inbound ? 'inbound' : 'outbound', protocol, port, headers: {} }
  if (host !== '') request.host = host.toLowerCase()
  if (protocol !== 'tcp') {
    request.method = (options.method ?? 'GET').toUpperCase()
    request.path = m[4] === undefined || m[4] === '' ? '/' : m[4].startsWith('?') ? `/${m[4]}` : m[4]
    if (!/^[A-Z][A-Z0-9_-]*$/.test(request.method)) {
      throw new RequestError(`The method "${options.method}" is not an HTTP method.`, 'bad-method')
    }
    if (host !== '') {
      const authority = rawHost.includes(':') && !rawHost.startsWith('[') ? `[${rawHost}]` : rawHost
      request.headers.host = port === DEFAULT_PORTS[scheme] ? authority : `${authority}:${port}`
    }
    Object.assign(request.headers, parseHeaders(options.headers))
  } else if (options.headers !== undefined && headerCount(options.headers) > 0) {
    throw new RequestError('Headers (-H) apply to http:// and https:// targets, not to tcp://.', 'headers-on-tcp')
  }
  if (options.uid !== undefined) request.uid = checkId(options.uid, 'uid')
  if (options.gid !== undefined) request.gid = checkId(options.gid, 'gid')
  if (options.srcIp !== undefined) request.srcIp = checkIp(options.srcIp, '--src-ip')
  if (options.ip !== undefined) request.ip = checkIp(options.ip, '--ip')
  else if (request.host !== undefined && isIpLiteral(request.host)) request.ip = request.host
  if (options.sni !== undefined) request.sni = options.sni.toLowerCase()
  else if (protocol === 'https' && request.host !== undefined && !isIpLiteral(request.host)) request.sni = request.host
  if (options.alpn !== undefined) request.alpn = options.alpn
  if (options.randomValue !== undefined) {
    if (!Number.isInteger(options.randomValue) || options.randomValue < 0) {
      throw new RequestError(`The random value ${options.randomValue} is not a non-negative integer.`, 'bad-random-value')
    }
    request.randomValue = options.randomValue
  }
  if (options.expectVs !== undefined && options.expectVs !== '') request.expectVs = options.expectVs
  return request
}

function headerCount(headers: string[] | Record<string, string>): number {
  return Array.isArray(headers) ? headers.length : Object.keys(headers).length
}

/** `-H 'name: value'` strings (or a map) → lower-cased names; repeated names are joined with ',' as Envoy does. */
export function parseHeaders(headers: string[] | Record<string, string> | undefined): Record<string, string> {
  const out: Record<string, string> = {}
  if (headers === undefined) return out
  const pairs: Array<[string, string]> = Array.isArray(headers)
    ? headers.map((h) => {
        const i = h.indexOf(':', h.startsWith(':') ? 1 : 0)
        if (i <= 0) throw new RequestError(`The header "${h}" has no name; write -H 'name: value'.`, 'bad-header')
        return [h.slice(0, i).trim(), h.slice(i + 1).trim()]
      })
    : Object.entries(headers).map(([k, v]) => [k, String(v)])
  for (const [rawName, value] of pairs) {
    const name = rawName.toLowerCase()
    if (!/^:?[a-z0-9!#$%&'*+.^_`|~-]+$/.test(name)) {
      throw new RequestError(`The header name "${rawName}" is not a valid HTTP header name.`, 'bad-header')
    }
    out[name] = name in out ? `${out[name]},${value}` : value
  }
  return out
}

function checkId(n: number, what: string): number {
  if (!Number.isInteger(n) || n < 0 || n > 4294967295) throw new RequestError(`The ${what} ${n} is not a valid number.`, `bad-${what}`)
  return n
}

function checkIp(ip: string, flag: string): string {
  if (!isIpLiteral(ip)) throw new RequestError(`${flag} ${ip} is not an IPv4 or IPv6 address.`, 'bad-ip')
  return ip.toLowerCase()
}

/** True for IPv4 dotted quads and IPv6 literals. */
export function isIpLiteral(s: string): boolean {
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(s)) return s.split('.').every((p) => Number(p) <= 255)
  return s.includes(':') && /^[0-9a-fA-F:.]+$/.test(s)
}
