import { Box, Text } from 'ink'
import type { ExplorerState } from '../explorer-state.js'
import { cleanText } from '../detail-lines.js'
import { visibleField } from '../line-edit.js'
import { toneStyle } from '../theme.js'

/** Props of the footer line. */
export interface FooterProps {
  state: ExplorerState
  /** How many detail lines the selected step has (for the position shown on the right). */
  lineCount: number
  width: number
  color: boolean
}

/** One line: the search prompt, the last message, or the keys that work now; the position on the right. */
export function Footer({ state, lineCount, width, color }: FooterProps): React.JSX.Element {
  if (state.mode === 'search') {
    const field = visibleField(state.searchDraft, Math.max(8, width - 30))
    return (
      <Box width={width} height={1} flexShrink={0}>
        <Text wrap="truncate-end">
          /{field.before}<Text inverse>{field.at}</Text>{field.after}
          <Text {...toneStyle('dim', color)}>   ⏎ find · esc cancel</Text>
        </Text>
      </Box>
    )
  }
  const { bodyHeight } = state.layout
  const first = Math.min(lineCount, state.detailScroll + 1)
  const last = Math.min(lineCount, state.detailScroll + bodyHeight)
  const position = state.mode === 'browse' ? `${state.trace.steps.length === 0 ? 0 : state.selected + 1}/${state.trace.steps.length} · ${first}-${last}/${lineCount}` : ''
  let left: React.JSX.Element
  if (state.message !== null) {
    left = <Text wrap="truncate-end" {...toneStyle(state.message.tone === 'error' ? 'bad' : 'info', color)}>{cleanText(state.message.text, 400)}</Text>
  } else if (state.mode === 'edit') {
    left = <Text wrap="truncate-end" {...toneStyle('dim', color)}>⏎ re-trace · esc cancel · ↑↓ tab field · ←→ caret</Text>
  } else if (state.mode === 'help') {
    left = <Text wrap="truncate-end" {...toneStyle('dim', color)}>any key closes the help</Text>
  } else {
    const keys = state.focus === 'steps'
      ? `↑↓ step · ⏎ detail · e edit · / search${state.followable ? ' · f follow' : ''} · ? help · q quit`
      : `↑↓ line · ⏎ expand · ← steps · e edit · / search · n next · q quit`
    left = <Text wrap="truncate-end" {...toneStyle('dim', color)}>{keys}</Text>
  }
  return (
    <Box width={width} height={1} flexShrink={0}>
      <Box width={Math.max(1, width - position.length - 1)} height={1} overflow="hidden">{left}</Box>
      {position !== '' ? <Text {...toneStyle('dim', color)}> {position}</Text> : null}
    </Box>
  )
}
