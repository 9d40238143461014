import { Box, Text } from 'ink'
import type { TraceStep } from '../../engine/trace/trace.js'
import { cleanText, OUTCOME_MARKS, outcomeTone } from '../detail-lines.js'
import { toneStyle } from '../theme.js'

/** Short stage names for the narrow list. */
const STAGE_SHORT: Record<TraceStep['stage'], string> = {
  iptables: 'iptables',
  listener: 'listener',
  filter_chain: 'filter_chain',
  network_filter: 'net_filter',
  route_config: 'route_config',
  virtual_host: 'virtual_host',
  route: 'route',
  cluster: 'cluster',
  endpoint: 'endpoint',
  stats: 'stats',
  hop: 'hop',
}

/** Props of the step list. */
export interface StepListProps {
  steps: readonly TraceStep[]
  selected: number
  /** Whether the list has the keys (the selection is drawn inverse) or the detail has them. */
  focused: boolean
  width: number
  height: number
  color: boolean
}

/** The steps, one a line, with outcome marks; scrolls to keep the selection in the middle. */
export function StepList({ steps, selected, focused, width, height, color }: StepListProps): React.JSX.Element {
  const top = Math.max(0, Math.min(selected - Math.floor(height / 2), steps.length - height))
  const shown = steps.slice(top, top + height)
  const numberWidth = Math.max(2, String(steps.length).length)
  return (
    <Box flexDirection="column" width={width} height={height} flexShrink={0} overflow="hidden">
      {shown.map((step, k) => {
        const i = top + k
        const isSelected = i === selected
        const name = step.chosen !== undefined ? cleanText(step.chosen.name, 200) : ''
        return (
          <Box key={i} width={width} height={1}>
            <Text inverse={isSelected && focused} bold={isSelected} wrap="truncate-end">
              {isSelected ? '›' : ' '}
              {String(i + 1).padStart(numberWidth)}{' '}
              <Text {...toneStyle(outcomeTone(step.outcome), color)}>{OUTCOME_MARKS[step.outcome] ?? '?'}</Text>{' '}
              {(STAGE_SHORT[step.stage] ?? cleanText(String(step.stage), 12)).padEnd(12)} {name}
            </Text>
          </Box>
        )
      })}
      {steps.length === 0 ? <Text {...toneStyle('dim', color)}>(no steps)</Text> : null}
    </Box>
  )
}
