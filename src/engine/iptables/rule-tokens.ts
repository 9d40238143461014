import { RuleSpecError } from './parse-error.js'

/**
 * Splits a rule line into words the way iptables-restore and a shell do: whitespace separates,
 * `"…"` and `'…'` group, and a backslash escapes the next character (iptables-save writes `"a \"b\""`).
 */
export function tokenizeRuleLine(text: string): string[] {
  const words: string[] = []
  let current = ''
  let inWord = false
  let quote: '"' | "'" | null = null
  for (let i = 0; i < text.length; i++) {
    const c = text[i]
    if (quote) {
      if (c === quote) quote = null
      else if (c === '\\' && quote === '"' && i + 1 < text.length && (text[i + 1] === '"' || text[i + 1] === '\\')) current += text[++i]
      else current += c
      continue
    }
    if (c === '"' || c === "'") {
      quote = c
      inWord = true
    } else if (c === '\\' && i + 1 < text.length) {
      current += text[++i]
      inWord = true
    } else if (c === ' ' || c === '\t') {
      if (inWord) words.push(current)
      current = ''
      inWord = false
    } else {
      current += c
      inWord = true
    }
  }
  if (quote) throw new RuleSpecError('unterminated-quote', `a ${quote} quote is not closed`)
  if (inWord) words.push(current)
  return words
}
