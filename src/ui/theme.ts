import type { LineTone } from './detail-lines.js'

/** Text styles for one tone; with colour off (NO_COLOR) only bold / dim / underline remain. */
export interface ToneStyle {
  color?: string
  bold?: boolean
  dimColor?: boolean
}

const COLOURS: Record<LineTone, ToneStyle> = {
  title: { bold: true },
  text: {},
  section: { bold: true, color: 'blue' },
  dim: { dimColor: true },
  ok: { color: 'green' },
  bad: { color: 'red' },
  warn: { color: 'yellow' },
  info: { color: 'cyan' },
  code: { color: 'magenta' },
}

/** The ink Text props for a tone. */
export function toneStyle(tone: LineTone, color: boolean): ToneStyle {
  const style = COLOURS[tone]
  if (color) return style
  const { color: _ignored, ...rest } = style
  return rest
}

/** Whether to colour: NO_COLOR (any non-empty value) and TERM=dumb turn colour off. */
export function colorWanted(env: NodeJS.ProcessEnv): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false
  return env.TERM !== 'dumb'
}
