/** An HTTP/1.1 reply read from a port-forward stream, so far. */
export interface AdminHttpReply {
  /** Headers, and the whole body per Content-Length or the chunked encoding, have arrived. */
  complete: boolean
  status?: number
  body?: Buffer
}

/**
 * Reads the Envoy admin's HTTP/1.1 reply from the bytes a port-forward delivered so far: Content-Length bodies,
 * chunked bodies (Envoy streams large admin replies), or — with neither — everything until the connection closes.
 */
export function parseAdminHttpReply(bytes: Buffer, closed: boolean): AdminHttpReply {
  const end = bytes.indexOf('\r\n\r\n')
  if (end < 0) return { complete: false }
  const head = bytes.subarray(0, end).toString('latin1')
  const rest = bytes.subarray(end + 4)
  const statusText = /^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1]
  const status = statusText === undefined ? undefined : Number(statusText)
  const withStatus = (r: AdminHttpReply): AdminHttpReply => (status === undefined ? r : { ...r, status })
  if (/\r\ntransfer-encoding:\s*chunked/i.test(head)) {
    const chunks: Buffer[] = []
    let i = 0
    for (;;) {
      const lineEnd = rest.indexOf('\r\n', i)
      if (lineEnd < 0) return withStatus({ complete: false })
      const size = parseInt(rest.subarray(i, lineEnd).toString('latin1').split(';')[0], 16)
      if (!Number.isFinite(size)) return withStatus({ complete: false })
      if (size === 0) return withStatus({ complete: true, body: Buffer.concat(chunks) })
      const start = lineEnd + 2
      if (rest.length < start + size + 2) return withStatus({ complete: false })
      chunks.push(rest.subarray(start, start + size))
      i = start + size + 2
    }
  }
  const length = /\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1]
  if (length !== undefined) {
    const n = Number(length)
    return withStatus(rest.length >= n ? { complete: true, body: rest.subarray(0, n) } : { complete: false })
  }
  return withStatus(closed ? { complete: true, body: rest } : { complete: false })
}
