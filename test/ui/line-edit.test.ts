import { describe, expect, it } from 'vitest'
import { editLine, visibleField } from '../../src/ui/line-edit.js'

describe('editLine', () => {
  it.each([
    ['types at the caret', { value: 'ac', caret: 1 }, 'b', {}, { value: 'abc', caret: 2 }],
    ['erases before the caret (Backspace)', { value: 'abc', caret: 2 }, '', { backspace: true }, { value: 'ac', caret: 1 }],
    ['erases before the caret (DEL, as terminals send it)', { value: 'abc', caret: 3 }, '', { delete: true }, { value: 'ab', caret: 2 }],
    ['moves left and right', { value: 'abc', caret: 1 }, '', { rightArrow: true }, { value: 'abc', caret: 2 }],
    ['goes home with Ctrl-A', { value: 'abc', caret: 2 }, 'a', { ctrl: true }, { value: 'abc', caret: 0 }],
    ['clears to the start with Ctrl-U', { value: 'http://x/y', caret: 8 }, 'u', { ctrl: true }, { value: '/y', caret: 0 }],
    ['deletes a word with Ctrl-W', { value: 'end-user: jason', caret: 15 }, 'w', { ctrl: true }, { value: 'end-user: ', caret: 10 }],
    ['pastes text without control characters', { value: '', caret: 0 }, 'a\u001b[31mb\u0007', {}, { value: 'a[31mb', caret: 6 }],
    ['counts an emoji as one character', { value: '🚀x', caret: 1 }, '', { backspace: true }, { value: 'x', caret: 0 }],
  ])('%s', (_what, state, input, key, expected) => {
    expect(editLine(state, input, key)).toEqual(expected)
  })

  it.each([
    ['Enter', { return: true }],
    ['Escape', { escape: true }],
    ['Tab', { tab: true }],
    ['Up', { upArrow: true }],
  ])('leaves %s to the caller', (_what, key) => {
    expect(editLine({ value: 'x', caret: 1 }, '', key)).toBeUndefined()
  })
})

describe('visibleField', () => {
  it('scrolls a long value so the caret stays visible', () => {
    const field = visibleField({ value: 'http://ratings:9080/a/very/long/path', caret: 36 }, 12)

    expect(field).toEqual({ before: '/long/path', at: ' ', after: '' })
  })

  it('shows the character under the caret', () => {
    expect(visibleField({ value: 'abc', caret: 1 }, 20)).toEqual({ before: 'a', at: 'b', after: 'c' })
  })
})
