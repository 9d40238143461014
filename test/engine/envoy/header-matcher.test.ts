import { describe, expect, it } from 'vitest'
import { headerView, matchHeader, matchQueryParameter, matchString, matchValue, parseQuery } from '../../../src/engine/envoy/header-matcher.js'

const view = (h: Record<string, string | string[]>) => new Map(Object.entries(h).map(([k, v]) => [k, Array.isArray(v) ? v : [v]]))

describe('matchHeader (HeaderUtility::matchHeaders)', () => {
  it.each([
    ['exact_match equal', { name: 'end-user', exact_match: 'jason' }, { 'end-user': 'jason' }, true],
    ['exact_match near miss (case matters)', { name: 'end-user', exact_match: 'jason' }, { 'end-user': 'Jason' }, false],
    // Envoy surprise: the deprecated exact_match "" is a presence test (HeaderDataExactMatch: empty expectation matches any value).
    ['exact_match "" matches any present value', { name: 'x', exact_match: '' }, { x: 'anything' }, true],
    ['string_match.exact "" matches only an empty value', { name: 'x', string_match: { exact: '' } }, { x: 'anything' }, false],
    ['string_match prefix', { name: 'x', string_match: { prefix: 'ab' } }, { x: 'abc' }, true],
    ['string_match suffix near miss', { name: 'x', string_match: { suffix: 'bc' } }, { x: 'abd' }, false],
    ['string_match contains', { name: 'x', string_match: { contains: 'b' } }, { x: 'abc' }, true],
    ['string_match ignore_case', { name: 'x', string_match: { exact: 'ABC', ignore_case: true } }, { x: 'abc' }, true],
    ['string_match safe_regex is a full match', { name: 'x', string_match: { safe_regex: { regex: 'a.c' } } }, { x: 'abcd' }, false],
    ['safe_regex_match RE2 full match', { name: 'x', safe_regex_match: { google_re2: {}, regex: '\\d{3}' } }, { x: '123' }, true],
    ['range_match is half-open [start, end)', { name: 'x', range_match: { start: '1', end: '10' } }, { x: '10' }, false],
    ['range_match parses int64', { name: 'x', range_match: { start: -10, end: 0 } }, { x: '-5' }, true],
    ['range_match near miss: not an integer', { name: 'x', range_match: { start: 0, end: 10 } }, { x: '5.5' }, false],
    ['present_match true on a present header', { name: 'x', present_match: true }, { x: '' }, true],
    ['present_match false on a present header', { name: 'x', present_match: false }, { x: 'v' }, false],
    ['no specifier is a presence test', { name: 'x' }, { x: 'v' }, true],
    ['invert_match flips a value match', { name: 'x', exact_match: 'a', invert_match: true }, { x: 'b' }, true],
    ['missing header: a value matcher is false', { name: 'x', exact_match: 'a' }, {}, false],
    // Envoy surprise: invert_match does not turn a missing header into a match for value matchers.
    ['missing header: inverted value matcher is still false', { name: 'x', exact_match: 'a', invert_match: true }, {}, false],
    ['missing header: present_match false matches', { name: 'x', present_match: false }, {}, true],
    ['missing header: present_match true inverted matches', { name: 'x', present_match: true, invert_match: true }, {}, true],
    ['missing header: treat_missing_header_as_empty matches against ""', { name: 'x', string_match: { exact: '' }, treat_missing_header_as_empty: true }, {}, true],
    ['several values are joined with ","', { name: 'x', exact_match: 'a,b' }, { x: ['a', 'b'] }, true],
    ['pseudo-header :method', { name: ':method', exact_match: 'POST' }, { ':method': 'GET' }, false],
    ['v2 {value} is exact', { name: 'x', value: 'a' }, { x: 'a' }, true],
    ['v2 {value, regex: true} is a full regex', { name: 'x', value: 'a.+', regex: true }, { x: 'abc' }, true],
    ['v2 regex near miss', { name: 'x', value: 'a.+', regex: true }, { x: 'ba' }, false],
    ['header names are case-insensitive', { name: 'End-User', exact_match: 'jason' }, { 'end-user': 'jason' }, true],
  ])('%s', (_name, m, headers, ok) => {
    expect(matchHeader(m, view(headers)).ok).toBe(ok)
  })

  it('evidence says what was expected and what the request had', () => {
    expect(matchHeader({ name: 'end-user', string_match: { exact: 'jason' } }, view({})).evidence).toEqual({ field: 'header end-user', expected: 'exact "jason"', actual: '(absent)' })
  })

  it('headerView lower-cases names', () => {
    expect([...headerView({ 'X-A': '1' }).keys()]).toEqual(['x-a'])
  })
})

describe('query parameters', () => {
  it.each([
    ['string_match exact', { name: 'a', string_match: { exact: '1' } }, '/p?a=1&b=2', true],
    ['near miss: another value', { name: 'a', string_match: { exact: '1' } }, '/p?a=2', false],
    ['present_match', { name: 'b', present_match: true }, '/p?a=1&b', true],
    ['absent parameter', { name: 'c', present_match: true }, '/p?a=1', false],
    ['the first value of a repeated key is used', { name: 'a', string_match: { exact: '1' } }, '/p?a=1&a=2', true],
    ['values are URL-decoded', { name: 'q', string_match: { exact: 'a b' } }, '/p?q=a%20b', true],
    ['v2 value + regex form', { name: 'a', value: '\\d+', regex: true }, '/p?a=42', true],
  ])('%s', (_name, m, path, ok) => {
    expect(matchQueryParameter(m, parseQuery(path)).ok).toBe(ok)
  })
})

describe('matchString and matchValue', () => {
  it.each([
    ['exact', { exact: 'a' }, 'a', true],
    ['prefix near miss', { prefix: 'b' }, 'a', false],
  ])('string %s', (_name, m, v, ok) => {
    expect(matchString(m, v).ok).toBe(ok)
  })

  it.each([
    ['string_match', { string_match: { exact: 'x' } }, 'x', true],
    ['bool_match near miss', { bool_match: true }, false, false],
    ['double_match range', { double_match: { range: { start: 1, end: 2 } } }, 1.5, true],
    ['present_match on undefined', { present_match: true }, undefined, false],
    ['list_match one_of', { list_match: { one_of: { string_match: { exact: 'b' } } } }, ['a', 'b'], true],
  ])('value %s', (_name, m, v, ok) => {
    expect(matchValue(m, v)).toBe(ok)
  })
})
