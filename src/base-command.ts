import { Command } from '@oclif/core'
import { UserError } from './errors.js'

/** Maps the engines' typed input errors to one-sentence user errors; anything else is a bug. */
export function toUserError(err: unknown): UserError | undefined {
  if (err instanceof UserError) return err
  if (!(err instanceof Error)) return undefined
  const typed = err as Error & { code?: string; file?: string; line?: number; pointer?: string }
  switch (err.name) {
    case 'RequestError':
      return new UserError(err.message, { code: typed.code ?? 'bad-request' })
    case 'IptablesParseError':
    case 'EnvoyConfigError':
    case 'CheckFileError':
    case 'RouteCheckError':
      return new UserError(err.message, { code: typed.code ?? 'bad-input' })
    default:
      return undefined
  }
}

/** The base of every command: one place that prints errors (one sentence, no stack unless DEBUG=mesh-trace). */
export abstract class MeshTraceCommand extends Command {
  /** Replaces logical input names (`config_dump`) in error messages with the user's paths. */
  protected inputNames: Record<string, string> = {}

  protected override async catch(err: Error & { exitCode?: number; oclif?: { exit?: number } }): Promise<unknown> {
    const debug = (process.env.DEBUG ?? '').split(',').some((d) => d.trim() === 'mesh-trace' || d.trim() === '*')
    const user = toUserError(err)
    if (user !== undefined) {
      let message = user.message
      for (const [logical, file] of Object.entries(this.inputNames)) {
        message = message.replace(new RegExp(`(^|[\\s(])${logical.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?=[:\\s,.)])`, 'g'), `$1${file}`)
      }
      process.stderr.write(`Error: ${message}${user.hint ? `\n${user.hint}` : ''}\n`)
      if (debug) process.stderr.write(`${err.stack ?? ''}\n`)
      return this.exit(user.exitCode)
    }
    // oclif's own errors (usage, exit) keep their handling and exit codes.
    if (err.oclif !== undefined || err.name === 'ExitError') throw err
    process.stderr.write(`Error: this is a bug in mesh-trace: ${err.message}\n${debug ? `${err.stack ?? ''}\n` : 'Run again with DEBUG=mesh-trace to see the stack, and report it.\n'}`)
    return this.exit(1)
  }
}
