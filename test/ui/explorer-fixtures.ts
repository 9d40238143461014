import type { Key } from 'ink'
import type { Request } from '../../src/engine/trace/request.js'
import { parseRequest } from '../../src/engine/trace/request.js'
import type { Trace } from '../../src/engine/trace/trace.js'
import { loadTrace, variant } from '../fixtures/traces/load-traces.js'

/** Named keys, as a terminal sends them. */
export const ARROW_UP = '\u001B[A'
export const ARROW_DOWN = '\u001B[B'
export const ARROW_RIGHT = '\u001B[C'
export const ARROW_LEFT = '\u001B[D'
export const PAGE_DOWN = '\u001B[6~'
export const ENTER = '\r'
export const ESCAPE = '\u001B'
export const TAB = '\t'
export const BACKSPACE = '\u007F'
export const CTRL_U = '\u0015'

/** ink's Key with every flag off, plus the ones given (for the pure state machine). */
export function key(flags: Partial<Key> = {}): Partial<Key> {
  return { ...flags }
}

/** The request of the bookinfo fixture. */
export function bookinfoRequest(): Request {
  return parseRequest('http://ratings:9080/ratings/0')
}

/**
 * A stand-in for traceRequest on the bookinfo snapshot, from the fixtures: `end-user: jason` takes
 * route #0 to ratings v2, an unknown Host gets no route, uid 1337 is not intercepted, anything else
 * is the outbound trace; the request part mirrors the request.
 */
export function fakeRetrace(request: Request): Trace {
  const host = request.headers.host ?? ''
  let trace: Trace
  if (request.uid === 1337) trace = loadTrace('bookinfo-not-intercepted')
  else if (!/^ratings(\.default(\.svc(\.cluster\.local)?)?)?(:9080)?$/.test(host)) trace = loadTrace('bookinfo-no-route')
  else if (request.headers['end-user'] === 'jason') trace = jasonTrace()
  else trace = loadTrace('bookinfo-outbound')
  return variant(trace, (t) => {
    t.request.method = request.method ?? null
    t.request.path = request.path ?? null
    t.request.headers = { ...request.headers }
    t.request.destination.host = request.host ?? null
    t.request.direction = request.direction
    if (request.uid !== undefined) t.request.source.uid = request.uid
  })
}

/** The outbound trace as it is for `end-user: jason`: route #0 wins, to ratings v2. */
export function jasonTrace(): Trace {
  return variant(loadTrace('bookinfo-outbound'), (t) => {
    const route = t.steps[7]
    const jason = route.rejected[0]
    route.summary = 'route #0 (prefix /, header end-user=jason) sends to outbound|9080|v2|ratings.default.svc.cluster.local'
    route.chosen = jason.candidate
    route.evidence = [{ field: 'header end-user', expected: 'exact jason', actual: 'jason' }]
    route.rejected = []
    const v2 = 'outbound|9080|v2|ratings.default.svc.cluster.local'
    t.steps[8].chosen = { kind: 'cluster', name: v2, source: { file: 'config_dump', pointer: '/configs/1/dynamicActiveClusters/4/cluster' } }
    t.steps[8].summary = `${v2} (EDS, ROUND_ROBIN)`
    t.result.route = '#0'
    t.result.cluster = v2
  })
}

/** Removes colour and style escapes from a frame. */
export function plain(frame: string | undefined): string {
  return (frame ?? '').replace(/\u001B\[[0-9;]*m/g, '')
}

/** Lets ink process input and render (Escape alone waits one setImmediate in ink's parser). */
export async function settle(ms = 15): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms))
}
