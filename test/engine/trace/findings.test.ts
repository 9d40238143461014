import { describe, expect, it } from 'vitest'
import { makeFinding } from '../../../src/engine/trace/findings.js'
import type { FindingSpec } from '../../../src/engine/trace/findings.js'

const CATALOG = {
  plain: { level: 'info', template: 'No placeholders here.' },
  two: { level: 'warning', template: '{who} sent {what} to {who}.' },
  edges: { level: 'error', template: '{first} in the middle {last}' },
  odd: { level: 'info', template: 'Braces { that are not {placeholders} stay: {a-b} {missing}.' },
} satisfies Record<string, FindingSpec>

describe('makeFinding', () => {
  it.each([
    ['no placeholder', 'plain', {}, 'No placeholders here.'],
    ['a placeholder used twice', 'two', { who: 'app', what: 'a SYN' }, 'app sent a SYN to app.'],
    ['placeholders at both ends', 'edges', { first: 1, last: 'z' }, '1 in the middle z'],
    ['a missing parameter stays as written; non-word braces are text', 'odd', { placeholders: 'P' }, 'Braces { that are not P stay: {a-b} {missing}.'],
  ] as const)('%s', (_name, code, params, message) => {
    expect(makeFinding(CATALOG, code, params)).toEqual({ code, level: CATALOG[code].level, message })
  })
})
