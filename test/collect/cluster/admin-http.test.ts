import { describe, expect, it } from 'vitest'
import { parseAdminHttpReply } from '../../../src/collect/cluster/admin-http.js'

const b = (s: string): Buffer => Buffer.from(s, 'latin1')

describe('parseAdminHttpReply', () => {
  it.each([
    ['no headers yet', 'HTTP/1.1 200 OK\r\ncontent-le', false, { complete: false }],
    ['a whole Content-Length body', 'HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello', false, { complete: true, status: 200, body: b('hello') }],
    ['a short Content-Length body', 'HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\nhello', false, { complete: false, status: 200 }],
    ['a short Content-Length body after close', 'HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\nhello', true, { complete: false, status: 200 }],
    ['a whole chunked body', 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n', false, { complete: true, status: 200, body: b('hello world') }],
    ['a chunked body without its last chunk', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n', true, { complete: false, status: 200 }],
    ['no length: complete when closed', 'HTTP/1.1 404 Not Found\r\n\r\ninvalid path', true, { complete: true, status: 404, body: b('invalid path') }],
    ['no length: open until closed', 'HTTP/1.1 200 OK\r\n\r\npartial', false, { complete: false, status: 200 }],
  ])('%s', (_name, text, closed, expected) => {
    expect(parseAdminHttpReply(b(text), closed)).toEqual(expected)
  })
})
