/** Something the user can fix: printed as one or two sentences, no stack, exit 1. */
export class UserError extends Error {
  readonly hint?: string
  readonly code: string
  readonly exitCode: number

  constructor(message: string, options: { hint?: string; code?: string; exitCode?: number; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'UserError'
    this.hint = options.hint
    this.code = options.code ?? 'user-error'
    this.exitCode = options.exitCode ?? 1
  }
}

/** Everything else: a bug in mesh-trace. */
export class BugError extends Error {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'BugError'
  }
}
