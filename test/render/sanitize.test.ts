import { describe, expect, it } from 'vitest'
import { stripControl } from '../../src/render/sanitize.js'

describe('stripControl', () => {
  it.each([
    ['CSI colour sequences', 'a\u001b[31mred\u001b[0m', 'ared'],
    ['cursor movement', 'x\u001b[2J\u001b[H', 'x'],
    ['OSC title sequences', '\u001b]0;pwned\u0007name', 'name'],
    ['carriage return is shown, not obeyed', 'ok\rEVIL', 'ok␍EVIL'],
    ['newline is shown as a symbol', 'a\nb', 'a␤b'],
    ['bell and backspace', 'a\u0007\u0008b', 'ab'],
    ['C1 controls', 'a\u009bb', 'ab'],
    ['tab stays', 'a\tb', 'a\tb'],
    ['plain text is untouched', 'outbound|9080||ratings', 'outbound|9080||ratings'],
  ])('removes %s', (_n, input, expected) => {
    expect(stripControl(input)).toBe(expected)
  })

  it('cuts huge strings', () => {
    const out = stripControl('x'.repeat(5000), 100)

    expect(out.startsWith('x'.repeat(100))).toBe(true)
    expect(out).toContain('4900 more characters')
  })
})
