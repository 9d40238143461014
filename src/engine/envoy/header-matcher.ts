/**
 * Envoy's StringMatcher, HeaderMatcher and QueryParameterMatcher semantics (header_utility.cc, matchers.cc).
 */
import { RE2JS } from 're2js'
import type { Evidence } from '../trace/trace.js'
import { boolAt, isObject, numAt, objAt, strAt } from './config-dump.js'
import type { JsonObject } from './model.js'

const RE2_CACHE = new Map<string, RE2JS | null>()

/** Compiles an RE2 pattern once (null when RE2 rejects it). */
export function compileRe2(pattern: string): RE2JS | null {
  if (RE2_CACHE.has(pattern)) return RE2_CACHE.get(pattern) ?? null
  let re: RE2JS | null = null
  try {
    re = RE2JS.compile(pattern)
  } catch {
    re = null
  }
  RE2_CACHE.set(pattern, re)
  return re
}

/** RE2 full match, as Envoy's safe_regex does. */
export function re2FullMatch(pattern: string, value: string): boolean {
  const re = compileRe2(pattern)
  return re !== null && re.matcher(value).matches()
}

/** The regex of a `safe_regex` (RegexMatcher) value. */
export function regexOf(m: JsonObject): string {
  return strAt(m, 'regex') ?? ''
}

/** A StringMatcher read once: how it reads and how it tests a value. */
interface CompiledStringMatcher {
  expected: string
  test: (value: string) => boolean
}

/** Matchers are config, so each is read once (per matcher object) and reused by every request. */
const STRING_MATCHERS = new WeakMap<JsonObject, CompiledStringMatcher>()

function compiledStringMatcher(m: JsonObject): CompiledStringMatcher {
  let c = STRING_MATCHERS.get(m)
  if (c === undefined) {
    c = compileStringMatcher(m)
    STRING_MATCHERS.set(m, c)
  }
  return c
}

function compileStringMatcher(m: JsonObject): CompiledStringMatcher {
  const ic = boolAt(m, 'ignore_case') === true
  const fold = (s: string): string => (ic ? s.toLowerCase() : s)
  const suffix = ic ? ' (ignore_case)' : ''
  const exact = strAt(m, 'exact')
  if (exact !== null) {
    const want = fold(exact)
    return { expected: `exact "${exact}"${suffix}`, test: (v) => fold(v) === want }
  }
  const prefix = strAt(m, 'prefix')
  if (prefix !== null) {
    const want = fold(prefix)
    return { expected: `prefix "${prefix}"${suffix}`, test: (v) => fold(v).startsWith(want) }
  }
  const sfx = strAt(m, 'suffix')
  if (sfx !== null) {
    const want = fold(sfx)
    return { expected: `suffix "${sfx}"${suffix}`, test: (v) => fold(v).endsWith(want) }
  }
  const contains = strAt(m, 'contains')
  if (contains !== null) {
    const want = fold(contains)
    return { expected: `contains "${contains}"${suffix}`, test: (v) => fold(v).includes(want) }
  }
  if (isObject(m.safe_regex)) {
    const re = regexOf(m.safe_regex)
    return { expected: `regex "${re}"`, test: (v) => re2FullMatch(re, v) }
  }
  // An empty StringMatcher matches nothing we can name.
  return { expected: '(unsupported string matcher)', test: () => false }
}

/** Evaluates an `envoy.type.matcher.v3.StringMatcher`; returns the verdict and how the rule reads. */
export function matchString(m: JsonObject, value: string): { ok: boolean; expected: string } {
  const c = compiledStringMatcher(m)
  return { ok: c.test(value), expected: c.expected }
}

/** Request headers as Envoy sees them: lower-case names, possibly several values each. */
export type HeaderView = Map<string, string[]>

/** Builds a HeaderView from single values (names lower-cased). */
export function headerView(headers: Record<string, string>): HeaderView {
  const view: HeaderView = new Map()
  for (const k of Object.keys(headers)) {
    const key = k.toLowerCase()
    const prev = view.get(key)
    view.set(key, prev === undefined ? [headers[k]] : [...prev, headers[k]])
  }
  return view
}

/** The verdict of one HeaderMatcher. */
export interface HeaderVerdict {
  ok: boolean
  evidence: Evidence
}

function parseInt64(value: string): number | null {
  return /^[+-]?\d+$/.test(value.trim()) ? Number(value.trim()) : null
}

/** A HeaderMatcher read once: the header, how the rule reads, and how it tests the (joined) value. */
interface CompiledHeaderMatcher {
  name: string
  field: string
  invert: boolean
  missingAsEmpty: boolean
  /** A presence test (present_match, or no specifier). */
  presence: boolean
  presentWanted: boolean
  expected: string
  test: (value: string) => boolean
}

const HEADER_MATCHERS = new WeakMap<JsonObject, CompiledHeaderMatcher>()

/** An ECMAScript regex anchored at both ends, or null when it does not compile (then it matches nothing). */
function anchoredRegExp(source: string): RegExp | null {
  try {
    return new RegExp(`^(?:${source})$`)
  } catch {
    return null
  }
}

function compileHeaderMatcher(m: JsonObject): CompiledHeaderMatcher {
  const name = (strAt(m, 'name') ?? '').toLowerCase()
  const invert = boolAt(m, 'invert_match') === true
  let presence = false
  let presentWanted = true
  let describe = ''
  let test: (v: string) => boolean = () => true
  if ('present_match' in m) {
    presence = true
    presentWanted = boolAt(m, 'present_match') === true
    describe = presentWanted ? 'present' : 'absent'
  } else if (strAt(m, 'exact_match') !== null) {
    const e = strAt(m, 'exact_match') as string
    // Deprecated exact_match "" is a presence test (HeaderDataExactMatch: empty expectation matches any value).
    describe = e === '' ? 'present (exact_match "")' : `exact "${e}"`
    test = (v) => e === '' || v === e
  } else if (isObject(m.string_match)) {
    const sm = compiledStringMatcher(m.string_match)
    describe = sm.expected
    test = sm.test
  } else if (isObject(m.safe_regex_match)) {
    const re = regexOf(m.safe_regex_match)
    describe = `regex "${re}"`
    test = (v) => re2FullMatch(re, v)
  } else if (strAt(m, 'regex_match') !== null) {
    const source = strAt(m, 'regex_match') as string
    const re = anchoredRegExp(source)
    describe = `regex "${source}"`
    test = (v) => re !== null && re.test(v)
  } else if (strAt(m, 'value') !== null) {
    // The v1/v2 form {name, value, regex}: exact, or an ECMAScript regex when `regex` is true; empty = presence.
    const v2 = strAt(m, 'value') as string
    const isRegex = boolAt(m, 'regex') === true
    const re = isRegex && v2 !== '' ? anchoredRegExp(v2) : null
    describe = v2 === '' ? 'present' : isRegex ? `regex "${v2}"` : `exact "${v2}"`
    test = (v) => v2 === '' || (isRegex ? re !== null && re.test(v) : v === v2)
  } else if (isObject(m.range_match)) {
    const start = numAt(m.range_match, 'start') ?? 0
    const end = numAt(m.range_match, 'end') ?? 0
    describe = `range [${start}, ${end})`
    test = (v) => {
      const n = parseInt64(v)
      return n !== null && n >= start && n < end
    }
  } else if (strAt(m, 'prefix_match') !== null) {
    const p = strAt(m, 'prefix_match') as string
    describe = `prefix "${p}"`
    test = (v) => v.startsWith(p)
  } else if (strAt(m, 'suffix_match') !== null) {
    const sfx = strAt(m, 'suffix_match') as string
    describe = `suffix "${sfx}"`
    test = (v) => v.endsWith(sfx)
  } else if (strAt(m, 'contains_match') !== null) {
    const c = strAt(m, 'contains_match') as string
    describe = `contains "${c}"`
    test = (v) => v.includes(c)
  } else {
    // No specifier: a presence test.
    presence = true
    presentWanted = true
    describe = 'present'
  }
  return { name, field: `header ${name}`, invert, missingAsEmpty: boolAt(m, 'treat_missing_header_as_empty') === true, presence, presentWanted, expected: `${invert ? 'not ' : ''}${describe}`, test }
}

/**
 * Evaluates one `HeaderMatcher`. Several values of a header are joined with ','. A missing header
 * matches only `present_match: false`, or `present_match: true` inverted, unless treat_missing_header_as_empty.
 */
export function matchHeader(m: JsonObject, headers: HeaderView): HeaderVerdict {
  let c = HEADER_MATCHERS.get(m)
  if (c === undefined) {
    c = compileHeaderMatcher(m)
    HEADER_MATCHERS.set(m, c)
  }
  const values = headers.get(c.name)
  if (values === undefined && !c.missingAsEmpty) {
    const ok = c.presence && (c.invert ? c.presentWanted : !c.presentWanted)
    return { ok, evidence: { field: c.field, expected: c.expected, actual: '(absent)' } }
  }
  const value = values === undefined ? '' : values.join(',')
  const raw = c.presence ? c.presentWanted : c.test(value)
  return { ok: raw !== c.invert, evidence: { field: c.field, expected: c.expected, actual: values === undefined ? '(absent, treated as "")' : `"${value}"` } }
}

/** Evaluates all header matchers; returns the first failing one's evidence. */
export function matchHeaders(matchers: JsonObject[], headers: HeaderView): { ok: true; evidence: Evidence[] } | { ok: false; evidence: Evidence[] } {
  const evidence: Evidence[] = []
  for (const m of matchers) {
    const v = matchHeader(m, headers)
    if (!v.ok) return { ok: false, evidence: [v.evidence] }
    evidence.push(v.evidence)
  }
  return { ok: true, evidence }
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '))
  } catch {
    return s
  }
}

/** Parses the query of a `:path` into the first value of each parameter (decoded). */
export function parseQuery(path: string): Map<string, string> {
  const out = new Map<string, string>()
  const q = path.indexOf('?')
  if (q < 0) return out
  const hash = path.indexOf('#', q)
  const query = path.slice(q + 1, hash < 0 ? undefined : hash)
  for (const part of query.split('&')) {
    if (part === '') continue
    const eq = part.indexOf('=')
    const k = safeDecode(eq < 0 ? part : part.slice(0, eq))
    const v = eq < 0 ? '' : safeDecode(part.slice(eq + 1))
    if (!out.has(k)) out.set(k, v)
  }
  return out
}

/** Evaluates one QueryParameterMatcher (string_match, present_match, or the v2 value/regex form). */
export function matchQueryParameter(m: JsonObject, query: Map<string, string>): HeaderVerdict {
  const name = strAt(m, 'name') ?? ''
  const value = query.get(name)
  const field = `query ${name}`
  if (boolAt(m, 'present_match') === true) return { ok: value !== undefined, evidence: { field, expected: 'present', actual: value === undefined ? '(absent)' : `"${value}"` } }
  if (isObject(m.string_match)) {
    const expected = matchString(m.string_match, '').expected
    if (value === undefined) return { ok: false, evidence: { field, expected, actual: '(absent)' } }
    return { ok: matchString(m.string_match, value).ok, evidence: { field, expected, actual: `"${value}"` } }
  }
  const v2 = strAt(m, 'value')
  if (v2 !== null) {
    const isRegex = boolAt(m, 'regex') === true
    const expected = isRegex ? `regex "${v2}"` : `exact "${v2}"`
    if (value === undefined) return { ok: false, evidence: { field, expected, actual: '(absent)' } }
    const ok = isRegex ? re2FullMatch(v2, value) : value === v2
    return { ok, evidence: { field, expected, actual: `"${value}"` } }
  }
  // No matcher: a presence test.
  return { ok: value !== undefined, evidence: { field, expected: 'present', actual: value === undefined ? '(absent)' : `"${value}"` } }
}

/** Evaluates a `ValueMatcher` (dynamic metadata) against a JSON value. */
export function matchValue(m: JsonObject, value: unknown): boolean {
  if (isObject(m.null_match)) return value === null || value === undefined
  if (m.present_match !== undefined) return (value !== undefined) === (m.present_match === true)
  if (value === undefined) return false
  if (isObject(m.string_match)) return typeof value === 'string' && matchString(m.string_match, value).ok
  if ('bool_match' in m) return typeof value === 'boolean' && value === m.bool_match
  if (isObject(m.double_match)) {
    if (typeof value !== 'number') return false
    const dm = m.double_match
    if ('exact' in dm) return value === numAt(dm, 'exact')
    if (isObject(dm.range)) return value >= (numAt(dm.range, 'start') ?? -Infinity) && value < (numAt(dm.range, 'end') ?? Infinity)
    return false
  }
  if (isObject(m.list_match)) {
    const inner = objAt(m.list_match, 'one_of')
    return Array.isArray(value) && value.some((v) => matchValue(inner, v))
  }
  return false
}
