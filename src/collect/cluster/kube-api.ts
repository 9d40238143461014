import http from 'node:http'
import https from 'node:https'
import { PassThrough, Writable } from 'node:stream'
import type { KubeConnection } from './kube-connection.js'

/**
 * The one module that talks to the API server (style.md, "Collectors"): read-only GETs, the exec and
 * port-forward upgrades through @kubernetes/client-node, and SelfSubjectAccessReview. Tests swap it out or
 * point it at the fake API server.
 */

/** A Kubernetes object as the API serves it (raw JSON, so a capture keeps every field). */
export type KubeObject = Record<string, unknown>

/** Why an API call failed, in terms the error mapper can name. */
export class KubeApiError extends Error {
  /** `http`: the server answered with an error status; `network`: unreachable; `tls`: certificate trouble; `timeout`; `stream`: an exec/port-forward stream broke. */
  readonly kind: 'http' | 'network' | 'tls' | 'timeout' | 'stream'
  readonly status?: number
  /** The Status reason (`NotFound`, `Forbidden`, …) when the server sent one. */
  readonly reason?: string
  /** The call, e.g. `get pods/log`, so a 403 can name the permission. */
  readonly call: string

  constructor(kind: KubeApiError['kind'], call: string, message: string, options: { status?: number; reason?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'KubeApiError'
    this.kind = kind
    this.call = call
    if (options.status !== undefined) this.status = options.status
    if (options.reason !== undefined) this.reason = options.reason
  }
}

/** The outcome of one exec: what the command printed and whether the status frame said it succeeded. */
export interface ExecResult {
  stdout: Buffer
  stderr: string
  /** The V1Status from channel 3; undefined when the stream closed without one (a cut stream). */
  status?: { status?: string; message?: string; reason?: string; details?: { causes?: Array<{ reason?: string; message?: string }> } }
}

/** A permission as RBAC names it. */
export interface Permission {
  verb: string
  resource: string
  subresource?: string
  group?: string
  namespace?: string
}

/** The calls the collector makes. Every one is read-only; `exec` and `portForward` are GET upgrades. */
export interface KubeApi {
  get(path: string, call: string): Promise<KubeObject>
  getText(path: string, call: string): Promise<string>
  exec(namespace: string, pod: string, container: string, argv: string[]): Promise<ExecResult>
  /**
   * Sends `request` through a port-forward to `port` and returns what the pod sent back: until `isComplete` says the
   * reply is whole (then the stream is closed), or until the pod closes the connection.
   */
  portForward(namespace: string, pod: string, port: number, request: string, isComplete?: (received: Buffer) => boolean): Promise<Buffer>
  /** Asks the API server whether the user may do something (SelfSubjectAccessReview); undefined if it cannot tell. */
  canI(permission: Permission): Promise<boolean | undefined>
}

/** The KubeApi over a kubeconfig connection. */
export function createKubeApi(conn: KubeConnection): KubeApi {
  const base = conn.server.replace(/\/+$/, '')

  async function request(method: 'GET' | 'POST', path: string, call: string, body?: string): Promise<{ status: number; text: string }> {
    const url = new URL(base + path)
    const opts: https.RequestOptions = { method, headers: { Accept: 'application/json, */*' } }
    await conn.kc.applyToHTTPSOptions(opts)
    if (body !== undefined) opts.headers = { ...opts.headers, 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(body)) }
    if (conn.timeoutMs > 0) opts.signal = AbortSignal.timeout(conn.timeoutMs)
    const lib = url.protocol === 'https:' ? https : http
    return await new Promise((resolve, reject) => {
      const req = lib.request(url, opts, (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }))
        res.on('error', (err) => reject(networkError(err, call, conn)))
      })
      req.on('error', (err) => reject(networkError(err, call, conn)))
      req.end(body)
    })
  }

  async function getChecked(path: string, call: string): Promise<string> {
    const { status, text } = await request('GET', path, call)
    if (status !== 200) throw httpError(status, text, call)
    return text
  }

  return {
    async get(path, call) {
      const text = await getChecked(path, call)
      try {
        return JSON.parse(text) as KubeObject
      } catch (err) {
        throw new KubeApiError('stream', call, `the API server sent a reply that is not JSON for ${call}`, { cause: err })
      }
    },
    getText: getChecked,
    async exec(namespace, pod, container, argv) {
      const { Exec } = await import('@kubernetes/client-node')
      const call = 'create pods/exec'
      const stdoutChunks: Buffer[] = []
      let stderr = ''
      const stdout = new Writable({ write: (chunk: Buffer, _enc, cb) => { stdoutChunks.push(chunk); cb() } })
      const stderrStream = new Writable({ write: (chunk: Buffer, _enc, cb) => { stderr += chunk.toString('utf8'); cb() } })
      let status: ExecResult['status']
      const exec = new Exec(conn.kc)
      return await withDeadline(conn.timeoutMs, call, `exec ${argv.join(' ')}`, async (onTimeout) => {
        let ws: Socket
        try {
          ws = await exec.exec(namespace, pod, container, argv, stdout, stderrStream, null, false, (s) => {
            status = s as ExecResult['status']
          })
        } catch (err) {
          throw upgradeError(err, call, conn)
        }
        onTimeout(() => ws.terminate())
        await new Promise<void>((resolve) => {
          if (ws.readyState === 3) resolve()
          else ws.on('close', () => resolve())
        })
        return { stdout: Buffer.concat(stdoutChunks), stderr, ...(status !== undefined ? { status } : {}) }
      })
    },
    async portForward(namespace, pod, port, rawRequest, isComplete) {
      const { PortForward } = await import('@kubernetes/client-node')
      const call = 'create pods/portforward'
      const out: Buffer[] = []
      let errText = ''
      let done: (() => void) | undefined
      const output = new Writable({
        write: (chunk: Buffer, _enc, cb) => {
          out.push(chunk)
          if (isComplete?.(Buffer.concat(out)) === true) done?.()
          cb()
        },
      })
      const err = new Writable({ write: (chunk: Buffer, _enc, cb) => { errText += chunk.toString('utf8'); cb() } })
      // The input stays open: ending it would make client-node close the socket before the answer arrives.
      const input = new PassThrough()
      const forward = new PortForward(conn.kc, true)
      return await withDeadline(conn.timeoutMs, call, `port-forward ${port}`, async (onTimeout) => {
        let ws: Socket
        try {
          ws = (await forward.portForward(namespace, pod, [port], output, err, input)) as Socket
        } catch (e) {
          throw upgradeError(e, call, conn)
        }
        onTimeout(() => ws.terminate())
        input.write(Buffer.from(rawRequest, 'latin1'))
        const code = await new Promise<number>((resolve) => {
          done = () => resolve(1000)
          if (ws.readyState === 3 || isComplete?.(Buffer.concat(out)) === true) resolve(1000)
          else ws.on('close', (c: number) => resolve(c))
        })
        input.destroy()
        if (ws.readyState !== 3) ws.terminate()
        if (errText !== '') throw new KubeApiError('stream', call, `the port-forward to port ${port} failed: ${errText.trim()}`)
        if (code !== 1000 && code !== 1005) throw new KubeApiError('stream', call, `the port-forward to port ${port} broke off (WebSocket close ${code})`)
        return Buffer.concat(out)
      })
    },
    async canI(permission) {
      const body = JSON.stringify({
        apiVersion: 'authorization.k8s.io/v1',
        kind: 'SelfSubjectAccessReview',
        spec: {
          resourceAttributes: {
            verb: permission.verb,
            resource: permission.resource,
            ...(permission.subresource !== undefined ? { subresource: permission.subresource } : {}),
            group: permission.group ?? '',
            ...(permission.namespace !== undefined ? { namespace: permission.namespace } : {}),
          },
        },
      })
      try {
        const { status, text } = await request('POST', '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', 'create selfsubjectaccessreviews', body)
        if (status !== 200 && status !== 201) return undefined
        const review = JSON.parse(text) as { status?: { allowed?: unknown } }
        return typeof review.status?.allowed === 'boolean' ? review.status.allowed : undefined
      } catch {
        return undefined
      }
    },
  }
}

/** What the collector needs of client-node's WebSocket (the `ws` package's). */
interface Socket {
  readyState: number
  on(event: 'close', listener: (code: number) => void): unknown
  terminate(): void
}

/** Runs `fn` with a deadline; `onTimeout` registers how to abort what `fn` opened. */
async function withDeadline<T>(timeoutMs: number, call: string, what: string, fn: (onTimeout: (abort: () => void) => void) => Promise<T>): Promise<T> {
  if (timeoutMs <= 0) return fn(() => {})
  let abort: (() => void) | undefined
  let timedOut = false
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      timedOut = true
      abort?.()
      reject(new KubeApiError('timeout', call, `${what} did not finish within ${timeoutMs / 1000}s`))
    }, timeoutMs)
  })
  const work = fn((a) => {
    abort = a
    if (timedOut) a()
  })
  work.catch(() => {}) // a late failure after the deadline has nobody to tell
  try {
    return await Promise.race([work, deadline])
  } finally {
    clearTimeout(timer)
  }
}

function httpError(status: number, text: string, call: string): KubeApiError {
  let message = `the API server answered ${status}`
  let reason: string | undefined
  try {
    const body = JSON.parse(text) as { message?: unknown; reason?: unknown }
    if (typeof body.message === 'string') message = body.message
    if (typeof body.reason === 'string') reason = body.reason
  } catch {
    // not a Status: keep the bare code
  }
  return new KubeApiError('http', call, message, { status, ...(reason !== undefined ? { reason } : {}) })
}

const TLS_CODES = /CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|ERR_TLS|ERR_SSL|EPROTO|DEPTH_ZERO/

function networkError(err: unknown, call: string, conn: KubeConnection): KubeApiError {
  const e = err as NodeJS.ErrnoException
  if (e.name === 'AbortError' || e.name === 'TimeoutError') return new KubeApiError('timeout', call, `no answer from ${conn.server} within ${conn.timeoutMs / 1000}s`, { cause: err })
  if (TLS_CODES.test(e.code ?? '') || /certificate|TLS|SSL/i.test(e.message)) return new KubeApiError('tls', call, e.message, { cause: err })
  return new KubeApiError('network', call, `${e.code ?? ''} ${e.message}`.trim(), { cause: err })
}

/** client-node's WebSocket rejection is a bare ErrorEvent ("Unexpected server response: 403"); keep its status. */
function upgradeError(err: unknown, call: string, conn: KubeConnection): KubeApiError {
  if (err instanceof KubeApiError) return err
  const e = err as { message?: string; error?: NodeJS.ErrnoException }
  const message = e?.message ?? e?.error?.message ?? String(err)
  const m = /Unexpected server response: (\d+)/.exec(message)
  if (m) return new KubeApiError('http', call, message, { status: Number(m[1]) })
  return networkError(e?.error ?? Object.assign(new Error(message), { code: (e?.error as NodeJS.ErrnoException | undefined)?.code }), call, conn)
}
