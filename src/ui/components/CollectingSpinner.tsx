import { Box, Text } from 'ink'
import { useSpinnerFrame } from '../hooks/use-spinner-frame.js'
import { cleanText } from '../detail-lines.js'
import { toneStyle } from '../theme.js'

/** One thing being fetched, and how far it got. */
export interface CollectingItem {
  label: string
  state?: 'pending' | 'done' | 'failed'
  /** Why it failed, or what was found. */
  detail?: string
}

/** Props of the spinner shown while live facts are collected. */
export interface CollectingSpinnerProps {
  /** What is being collected from (e.g. "default/reviews-v1-…"). */
  title?: string
  items: ReadonlyArray<string | CollectingItem>
  color?: boolean
  /** Milliseconds per spinner frame; 0 stops the animation (tests). */
  intervalMs?: number
}

/** "Collecting live facts": a spinner and one line per fetch — pending, done (✓) or failed (✗ and why). */
export function CollectingSpinner({ title, items, color = true, intervalMs = 80 }: CollectingSpinnerProps): React.JSX.Element {
  const list = items.map((it): CollectingItem => (typeof it === 'string' ? { label: it } : it))
  const busy = list.some((it) => (it.state ?? 'pending') === 'pending')
  const frame = useSpinnerFrame(busy, intervalMs)
  return (
    <Box flexDirection="column">
      <Text bold>
        {busy ? <Text {...toneStyle('info', color)}>{frame}</Text> : <Text {...toneStyle('ok', color)}>✓</Text>} {busy ? 'Collecting live facts' : 'Collected live facts'}
        {title !== undefined ? ` from ${cleanText(title, 200)}` : ''}
      </Text>
      {list.map((it, i) => {
        const state = it.state ?? 'pending'
        const mark = state === 'done' ? '✓' : state === 'failed' ? '✗' : frame
        const tone = state === 'done' ? 'ok' : state === 'failed' ? 'bad' : 'dim'
        return (
          <Text key={i} wrap="truncate-end">
            {'  '}<Text {...toneStyle(tone, color)}>{mark}</Text> {cleanText(it.label, 200)}
            {it.detail !== undefined ? <Text {...toneStyle('dim', color)}>{` — ${cleanText(it.detail, 400)}`}</Text> : ''}
          </Text>
        )
      })}
    </Box>
  )
}
