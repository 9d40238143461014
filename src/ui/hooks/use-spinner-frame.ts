import { useEffect, useState } from 'react'

/** The braille dots spinner, one frame per tick. */
export const SPINNER_FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'] as const

/** The current spinner frame; advances every `intervalMs` while `active` (0 = never, for tests). */
export function useSpinnerFrame(active: boolean, intervalMs = 80): string {
  const [frame, setFrame] = useState(0)
  useEffect(() => {
    if (!active || intervalMs <= 0) return undefined
    const timer = setInterval(() => setFrame((f) => (f + 1) % SPINNER_FRAMES.length), intervalMs)
    return () => clearInterval(timer)
  }, [active, intervalMs])
  return SPINNER_FRAMES[frame]
}
