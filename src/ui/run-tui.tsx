import type { Request } from '../engine/trace/request.js'
import type { Trace } from '../engine/trace/trace.js'
import type { CollectingItem } from './components/CollectingSpinner.js'
import { colorWanted } from './theme.js'

/** What the explorer needs: the first trace, its request, and a way to trace another request on the same snapshot. */
export interface TuiOptions {
  initial: Trace
  request: Request
  /** Traces an edited request on the same snapshot (pure and fast: called on every preview and ⏎). */
  retrace: (request: Request) => Trace
  /** The snapshot holds next hops (traced with --follow). */
  followable?: boolean
  /** Colours; default: on unless NO_COLOR is set or TERM=dumb. */
  color?: boolean
  /** Terminal streams (default: process.stdin / process.stdout); both must be TTYs. */
  stdin?: NodeJS.ReadStream
  stdout?: NodeJS.WriteStream
}

const ENTER_ALT_SCREEN = '\u001b[?1049h\u001b[H'
const LEAVE_ALT_SCREEN = '\u001b[?25h\u001b[?1049l'

/**
 * Opens the interactive explorer (ink) on the terminal's alternate screen and resolves when the user
 * quits (`q` or Ctrl-C). The terminal is left as it was: the alternate screen is left, the cursor shown,
 * raw mode turned off. The one door from commands into ink: import it lazily
 * (`await import('../ui/run-tui.js')`) so other commands never load ink and react.
 */
export async function runTui(options: TuiOptions): Promise<void> {
  const stdout = options.stdout ?? process.stdout
  const stdin = options.stdin ?? process.stdin
  const { ink, createElement, TraceView } = await loadInk()
  let restored = false
  const restore = (): void => {
    if (restored) return
    restored = true
    stdout.write(LEAVE_ALT_SCREEN)
  }
  // If something ends the process under us (an uncaught error, process.exit), still give the screen back.
  process.once('exit', restore)
  stdout.write(ENTER_ALT_SCREEN)
  try {
    const app = ink.render(
      createElement(TraceView, {
        initial: options.initial,
        request: options.request,
        retrace: options.retrace,
        followable: options.followable ?? false,
        color: options.color ?? colorWanted(process.env),
      }),
      { stdout, stdin, exitOnCtrlC: true, patchConsole: false },
    )
    await app.waitUntilExit()
    app.cleanup()
  } finally {
    restore()
    process.removeListener('exit', restore)
  }
}

/** Handle on the "collecting live facts" spinner. */
export interface CollectingHandle {
  /** Redraws with new item states. */
  update(items: ReadonlyArray<string | CollectingItem>): void
  /** Removes the spinner (or leaves its last frame with `keep`). */
  stop(options?: { keep?: boolean }): Promise<void>
}

/**
 * Shows the "collecting live facts" spinner on stderr (progress never goes to stdout) while the live
 * path fetches; `update` marks items done or failed. Only call it when stderr is a TTY.
 */
export async function showCollecting(options: {
  title?: string
  items: ReadonlyArray<string | CollectingItem>
  color?: boolean
  stream?: NodeJS.WriteStream
}): Promise<CollectingHandle> {
  const { ink, createElement, CollectingSpinner } = await loadInk()
  const color = options.color ?? colorWanted(process.env)
  const element = (items: ReadonlyArray<string | CollectingItem>): React.ReactElement =>
    createElement(CollectingSpinner, { ...(options.title !== undefined ? { title: options.title } : {}), items, color })
  const app = ink.render(element(options.items), { stdout: options.stream ?? process.stderr, patchConsole: false, exitOnCtrlC: false })
  return {
    update: (items) => app.rerender(element(items)),
    stop: async ({ keep = false } = {}) => {
      if (!keep) app.clear()
      app.unmount()
      await app.waitUntilExit()
    },
  }
}

/**
 * Loads ink, react and the components. ink decides once, when first loaded, whether it runs "in CI"
 * (CI or CONTINUOUS_INTEGRATION set) and then draws nothing until exit; someone who asked for the
 * explorer on a terminal wants it drawn, so those variables are hidden while ink loads.
 */
async function loadInk() {
  const saved = { CI: process.env.CI, CONTINUOUS_INTEGRATION: process.env.CONTINUOUS_INTEGRATION }
  delete process.env.CI
  delete process.env.CONTINUOUS_INTEGRATION
  try {
    const [ink, react, view, spinner] = await Promise.all([
      import('ink'),
      import('react'),
      import('./components/TraceView.js'),
      import('./components/CollectingSpinner.js'),
    ])
    return { ink, createElement: react.createElement, TraceView: view.TraceView, CollectingSpinner: spinner.CollectingSpinner }
  } finally {
    if (saved.CI !== undefined) process.env.CI = saved.CI
    if (saved.CONTINUOUS_INTEGRATION !== undefined) process.env.CONTINUOUS_INTEGRATION = saved.CONTINUOUS_INTEGRATION
  }
}
