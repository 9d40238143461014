/**
 * Finds where a JSON text first goes wrong (Node 20's JSON.parse error has no position).
 * Only called after JSON.parse failed, so clarity beats speed. Returns the offset and what was expected.
 */
export function locateJsonError(text: string): { offset: number; problem: string } | undefined {
  let i = 0
  const ws = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i])) i++
  }
  const fail = (problem: string): never => {
    throw { offset: i, problem }
  }
  const literal = (word: string) => {
    if (text.startsWith(word, i)) i += word.length
    else fail(`unexpected ${describe(text[i])}`)
  }
  const string = () => {
    i++
    while (i < text.length) {
      const ch = text[i]
      if (ch === '"') {
        i++
        return
      }
      if (ch === '\\') {
        const next = text[i + 1]
        if (next === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) fail('a bad \\u escape')
          i += 6
        } else if (next !== undefined && '"\\/bfnrt'.includes(next)) i += 2
        else fail('a bad escape')
      } else if (ch < ' ') fail('a control character inside a string')
      else i++
    }
    fail('an unterminated string')
  }
  const number = () => {
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i, i + 400))
    if (m === null || m[0] === '' || m[0] === '-') fail(`unexpected ${describe(text[i])}`)
    else i += m[0].length
  }
  const value = (): void => {
    ws()
    const ch = text[i]
    if (ch === undefined) fail('unexpected end of input; the file is truncated')
    if (ch === '{') {
      i++
      ws()
      if (text[i] === '}') {
        i++
        return
      }
      for (;;) {
        ws()
        if (text[i] !== '"') fail(`expected a property name in double quotes, found ${describe(text[i])}`)
        string()
        ws()
        if (text[i] !== ':') fail(`expected ':' after a property name, found ${describe(text[i])}`)
        i++
        value()
        ws()
        if (text[i] === ',') {
          i++
          continue
        }
        if (text[i] === '}') {
          i++
          return
        }
        fail(`expected ',' or '}', found ${describe(text[i])}`)
      }
    }
    if (ch === '[') {
      i++
      ws()
      if (text[i] === ']') {
        i++
        return
      }
      for (;;) {
        value()
        ws()
        if (text[i] === ',') {
          i++
          continue
        }
        if (text[i] === ']') {
          i++
          return
        }
        fail(`expected ',' or ']', found ${describe(text[i])}`)
      }
    }
    if (ch === '"') return string()
    if (ch === 't') return literal('true')
    if (ch === 'f') return literal('false')
    if (ch === 'n') return literal('null')
    return number()
  }
  try {
    value()
    ws()
    if (i < text.length) fail(`unexpected ${describe(text[i])} after the end of the JSON value`)
    return undefined
  } catch (e) {
    return e as { offset: number; problem: string }
  }
}

function describe(ch: string | undefined): string {
  if (ch === undefined) return 'end of input; the file is truncated'
  return JSON.stringify(ch)
}

/** 1-based line and column of an offset. */
export function lineColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset)
  const line = before.split('\n').length
  return { line, column: offset - before.lastIndexOf('\n') }
}
