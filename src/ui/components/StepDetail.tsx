import { Box, Text } from 'ink'
import type { DetailLine } from '../detail-lines.js'
import { toneStyle } from '../theme.js'

/** Props of the detail panel: the wrapped lines of the selected step and where the view is. */
export interface StepDetailProps {
  lines: readonly DetailLine[]
  scroll: number
  /** The highlighted line when the panel has the keys; -1 when the step list has them. */
  cursor: number
  /** The search, highlighted where it occurs. */
  query: string
  width: number
  height: number
  color: boolean
}

/**
 * The selected step in full (summary, chosen and source, evidence, rejected candidates, findings,
 * excerpt), `height` lines from `scroll`; lines are already cleaned and wrapped to `width`.
 */
export function StepDetail({ lines, scroll, cursor, query, width, height, color }: StepDetailProps): React.JSX.Element {
  const shown = lines.slice(scroll, scroll + height)
  return (
    <Box flexDirection="column" width={width} height={height} flexShrink={0} overflow="hidden">
      {shown.map((line, k) => {
        const i = scroll + k
        return (
          <Box key={line.key} width={width} height={1}>
            <Text inverse={i === cursor} wrap="truncate-end" {...toneStyle(line.tone, color)}>
              {' '.repeat(line.indent)}
              {highlight(line.text, query, color)}
            </Text>
          </Box>
        )
      })}
    </Box>
  )
}

function highlight(text: string, query: string, color: boolean): React.ReactNode {
  if (query === '' || text === '') return text
  const lower = text.toLowerCase()
  const q = query.toLowerCase()
  const parts: React.ReactNode[] = []
  let from = 0
  for (let at = lower.indexOf(q); at >= 0; at = lower.indexOf(q, from)) {
    if (at > from) parts.push(text.slice(from, at))
    parts.push(
      <Text key={at} {...(color ? { backgroundColor: 'yellow', color: 'black' } : { underline: true, bold: true })}>
        {text.slice(at, at + q.length)}
      </Text>,
    )
    from = at + q.length
  }
  if (from < text.length) parts.push(text.slice(from))
  return parts
}
