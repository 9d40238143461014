import { useEffect, useState } from 'react'
import { useStdout } from 'ink'

/** The terminal's size in character cells. */
export interface TerminalSize {
  columns: number
  rows: number
}

/**
 * The terminal's size, updated when it is resized; `fixed` pins it (tests, and terminals that report
 * nothing). Falls back to 80×24 when the stream does not know.
 */
export function useTerminalSize(fixed?: TerminalSize): TerminalSize {
  const { stdout } = useStdout()
  const read = (): TerminalSize => ({ columns: stdout.columns > 0 ? stdout.columns : 80, rows: stdout.rows > 0 ? stdout.rows : 24 })
  const [size, setSize] = useState<TerminalSize>(() => fixed ?? read())
  useEffect(() => {
    if (fixed !== undefined) return undefined
    const onResize = (): void => setSize(read())
    stdout.on('resize', onResize)
    return () => {
      stdout.off('resize', onResize)
    }
  }, [stdout, fixed])
  return fixed ?? size
}
