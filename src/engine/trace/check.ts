import { parseDocument, isMap, isSeq, LineCounter, type Node as YamlNode } from 'yaml'
import { parseRequest, type RequestOptions } from './request.js'
import { traceRequest, type TraceContext } from './trace-request.js'
import type { TraceResult } from './trace.js'

/** A check file that cannot be used; the message names the file and line. */
export class CheckFileError extends Error {
  readonly code: string
  readonly file: string
  readonly line?: number
  constructor(message: string, file: string, line?: number, code = 'bad-check-file') {
    super(message)
    this.name = 'CheckFileError'
    this.file = file
    this.line = line
    this.code = code
  }
}

/** One request and what must happen to it. */
export interface CheckCase {
  name: string
  url: string
  options: RequestOptions
  expect: Partial<TraceResult>
  /** 1-based line of the test in the file. */
  line?: number
}

/** One field that did not come out as expected. */
export interface CheckMismatch {
  field: string
  expected: unknown
  actual: unknown
}

/** The outcome of one test. */
export interface CheckCaseResult {
  name: string
  pass: boolean
  mismatches: CheckMismatch[]
  result: TraceResult | null
  /** Set when the request itself could not be traced (e.g. a bad URL in the test). */
  error?: string
}

/** The `-o json` document of `check`. */
export interface CheckReport {
  passed: number
  failed: number
  results: CheckCaseResult[]
}

const RESULT_FIELDS: ReadonlyArray<keyof TraceResult> = [
  'outcome', 'intercepted', 'redirectPort', 'listener', 'filterChain', 'routeConfig', 'virtualHost', 'route', 'cluster', 'endpoints',
]
const REQUEST_FIELDS = ['url', 'method', 'headers', 'inbound', 'uid', 'gid', 'srcIp', 'ip', 'sni', 'alpn', 'randomValue', 'expectVs'] as const

/** Parses a check file (YAML or JSON: `tests: [{name, request: {url, …}, expect: {…}}]`). */
export function parseCheckFile(text: string, file: string): CheckCase[] {
  const lines = new LineCounter()
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true })
  const lineOf = (node: YamlNode | null | undefined): number | undefined =>
    node?.range ? lines.linePos(node.range[0]).line : undefined
  if (doc.errors.length > 0) {
    const e = doc.errors[0]
    const line = lines.linePos(e.pos[0]).line
    throw new CheckFileError(`${file}${line !== undefined ? `:${line}` : ''} is not valid YAML or JSON: ${e.message.split('\n')[0]}.`, file, line)
  }
  const root = doc.contents
  const tests = isMap(root) ? root.get('tests', true) : undefined
  if (!isSeq(tests)) {
    const line = lineOf(root as YamlNode) ?? 1
    throw new CheckFileError(`${file}:${line} has no "tests" list; a check file is {tests: [{name, request: {url}, expect: {…}}]}.`, file, line)
  }
  const seenNames = new Set<string>()
  return tests.items.map((item, i) => {
    const at = `${file}:${lineOf(item as YamlNode) ?? '?'}`
    if (!isMap(item)) throw new CheckFileError(`${at}: tests[${i}] is not a mapping.`, file, lineOf(item as YamlNode))
    const plain = item.toJSON() as Record<string, unknown>
    const req = plain.request as Record<string, unknown> | undefined
    if (req === undefined || typeof req !== 'object' || typeof req.url !== 'string') {
      throw new CheckFileError(`${at}: tests[${i}] needs request.url (e.g. http://ratings:9080/ratings/0).`, file, lineOf(item as YamlNode))
    }
    for (const key of Object.keys(req)) {
      if (!(REQUEST_FIELDS as readonly string[]).includes(key)) {
        throw new CheckFileError(`${at}: tests[${i}].request.${key} is not a request field (known: ${REQUEST_FIELDS.join(', ')}).`, file, lineOf(item as YamlNode))
      }
    }
    const expect = plain.expect as Record<string, unknown> | undefined
    if (expect === undefined || expect === null || typeof expect !== 'object' || Object.keys(expect).length === 0) {
      throw new CheckFileError(`${at}: tests[${i}] needs an expect mapping with at least one result field.`, file, lineOf(item as YamlNode))
    }
    for (const key of Object.keys(expect)) {
      if (!(RESULT_FIELDS as readonly string[]).includes(key)) {
        throw new CheckFileError(`${at}: tests[${i}].expect.${key} is not a result field (known: ${RESULT_FIELDS.join(', ')}).`, file, lineOf(item as YamlNode))
      }
    }
    const name = typeof plain.name === 'string' && plain.name !== '' ? plain.name : `#${i + 1} ${req.url}`
    if (seenNames.has(name)) throw new CheckFileError(`${at}: the test name "${name}" is used twice.`, file, lineOf(item as YamlNode))
    seenNames.add(name)
    const options: RequestOptions = { inbound: req.inbound === true }
    if (typeof req.method === 'string') options.method = req.method
    if (req.headers !== undefined) {
      if (typeof req.headers !== 'object' || req.headers === null) throw new CheckFileError(`${at}: tests[${i}].request.headers must be a mapping or a list of "Name: value".`, file)
      options.headers = Array.isArray(req.headers) ? req.headers.map(String) : (req.headers as Record<string, string>)
    }
    for (const k of ['uid', 'gid', 'randomValue'] as const) {
      if (req[k] !== undefined) {
        if (typeof req[k] !== 'number') throw new CheckFileError(`${at}: tests[${i}].request.${k} must be a number.`, file)
        options[k] = req[k] as number
      }
    }
    for (const k of ['srcIp', 'ip', 'sni', 'expectVs'] as const) if (req[k] !== undefined) options[k] = String(req[k])
    if (req.alpn !== undefined) options.alpn = Array.isArray(req.alpn) ? req.alpn.map(String) : String(req.alpn).split(',')
    const line = lineOf(item as YamlNode)
    return { name, url: req.url, options, expect: expect as Partial<TraceResult>, ...(line !== undefined ? { line } : {}) }
  })
}

/** Traces every case against the snapshot and compares each expected field with the result. */
export function runChecks(ctx: TraceContext, cases: CheckCase[]): CheckReport {
  const results = cases.map((c): CheckCaseResult => {
    let result: TraceResult
    try {
      result = traceRequest(ctx, parseRequest(c.url, c.options)).result
    } catch (err) {
      if ((err as Error).name !== 'RequestError') throw err
      return { name: c.name, pass: false, mismatches: [], result: null, error: (err as Error).message }
    }
    const mismatches: CheckMismatch[] = []
    for (const [field, expected] of Object.entries(c.expect)) {
      const actual = result[field as keyof TraceResult]
      if (!sameValue(expected, actual)) mismatches.push({ field, expected, actual })
    }
    return { name: c.name, pass: mismatches.length === 0, mismatches, result }
  })
  const passed = results.filter((r) => r.pass).length
  return { passed, failed: results.length - passed, results }
}

/** Scalars compare exactly (a number may be written as a string); endpoint lists compare as sets. */
function sameValue(expected: unknown, actual: unknown): boolean {
  if (Array.isArray(expected) || Array.isArray(actual)) {
    if (!Array.isArray(expected) || !Array.isArray(actual)) return false
    const a = [...actual].map(String).sort()
    const e = [...expected].map(String).sort()
    return a.length === e.length && a.every((v, i) => v === e[i])
  }
  if (typeof actual === 'number' && typeof expected === 'string') return String(actual) === expected
  return expected === actual
}
