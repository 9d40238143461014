/** A line of rules that cannot be understood; the message is one sentence naming `file:line` and quoting the line. */
export class IptablesParseError extends Error {
  /** Logical file name (`iptables-save`). */
  readonly file: string
  /** 1-based line in the input text. */
  readonly line: number
  /** The offending line as written. */
  readonly quote: string
  /** Stable reason code (`unexpected-line`, `invalid-address`, `unknown-chain`, …); tests assert this, not the wording. */
  readonly code: string

  constructor(file: string, line: number, quote: string, code: string, reason: string) {
    super(`${file}:${line}: ${reason} in ${JSON.stringify(quote)}.`)
    this.name = 'IptablesParseError'
    this.file = file
    this.line = line
    this.quote = quote
    this.code = code
  }
}

/** A problem found inside one rule's options, before the line number is known. */
export class RuleSpecError extends Error {
  /** Stable reason code, copied into IptablesParseError. */
  readonly code: string
  constructor(code: string, message: string) {
    super(message)
    this.name = 'RuleSpecError'
    this.code = code
  }
}
