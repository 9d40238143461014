import type { Key } from 'ink'

/** A one-line text field: its value and the caret (in code points, 0…length). */
export interface LineState {
  value: string
  caret: number
}

/**
 * Applies one key to a text field (insert, Backspace, ←/→, Home/End, Ctrl-A/E/U/K/W), or returns
 * undefined when the key is not an editing key. Typed or pasted text is stripped of control characters.
 * Terminals send DEL (0x7f) for Backspace, which ink reports as `delete`: both erase before the caret.
 */
export function editLine(state: LineState, input: string, key: Partial<Key>): LineState | undefined {
  const chars = Array.from(state.value)
  const caret = Math.min(Math.max(0, state.caret), chars.length)
  if (key.backspace === true || key.delete === true) {
    if (caret === 0) return { value: state.value, caret }
    return { value: [...chars.slice(0, caret - 1), ...chars.slice(caret)].join(''), caret: caret - 1 }
  }
  if (key.leftArrow === true) return { value: state.value, caret: Math.max(0, caret - 1) }
  if (key.rightArrow === true) return { value: state.value, caret: Math.min(chars.length, caret + 1) }
  if (key.home === true || (key.ctrl === true && input === 'a')) return { value: state.value, caret: 0 }
  if (key.end === true || (key.ctrl === true && input === 'e')) return { value: state.value, caret: chars.length }
  if (key.ctrl === true && input === 'u') return { value: chars.slice(caret).join(''), caret: 0 }
  if (key.ctrl === true && input === 'k') return { value: chars.slice(0, caret).join(''), caret }
  if (key.ctrl === true && input === 'w') {
    let start = caret
    while (start > 0 && chars[start - 1] === ' ') start -= 1
    while (start > 0 && chars[start - 1] !== ' ') start -= 1
    return { value: [...chars.slice(0, start), ...chars.slice(caret)].join(''), caret: start }
  }
  if (key.ctrl === true || key.meta === true || key.return === true || key.tab === true || key.escape === true) return undefined
  if (key.upArrow === true || key.downArrow === true || key.pageUp === true || key.pageDown === true) return undefined
  const text = Array.from(input.replace(/[\u0000-\u001f\u007f-\u009f]/g, ''))
  if (text.length === 0) return undefined
  return { value: [...chars.slice(0, caret), ...text, ...chars.slice(caret)].join(''), caret: caret + text.length }
}

/**
 * The part of a field that fits `width` columns with the caret visible: the text before the caret,
 * the character under it (a space at the end) and the text after, for the editor to draw.
 */
export function visibleField(state: LineState, width: number): { before: string; at: string; after: string } {
  const chars = Array.from(state.value)
  const caret = Math.min(Math.max(0, state.caret), chars.length)
  const room = Math.max(4, width - 1)
  const start = caret < room ? 0 : caret - room + 1
  const shown = chars.slice(start, start + room + 1)
  const at = caret - start
  return { before: shown.slice(0, at).join(''), at: shown[at] ?? ' ', after: shown.slice(at + 1, room).join('') }
}
