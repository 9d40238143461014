import { Box, Text } from 'ink'
import { toneStyle } from '../theme.js'

/** The key bindings, as the help overlay lists them. */
export const KEY_HELP: ReadonlyArray<readonly [string, string]> = [
  ['q  ctrl-c', 'quit'],
  ['?', 'this help'],
  ['↑ ↓  j k', 'move between steps, or lines of the detail'],
  ['⏎  →  tab', 'go into the detail of the step'],
  ['⏎  space', 'expand / collapse a rejected candidate'],
  ['x', 'expand / collapse every rejected candidate'],
  ['←  esc', 'back to the step list'],
  ['PgUp PgDn', 'scroll the detail'],
  ['e', 'edit the request (URL, method, headers, uid, direction, SNI)'],
  ['r', 'back to the original request'],
  ['/  n  N', 'search this step; next, previous match'],
  ['f', 'jump to the next hop (traced with --follow)'],
]

/** Props of the help overlay. */
export interface HelpOverlayProps {
  width: number
  height: number
  color: boolean
}

/** Every key and what it does; any key closes it. */
export function HelpOverlay({ width, height, color }: HelpOverlayProps): React.JSX.Element {
  const rows = KEY_HELP.slice(0, Math.max(0, height - 2))
  return (
    <Box flexDirection="column" width={width} height={height} flexShrink={0} overflow="hidden">
      <Text bold>Keys  (any key closes this)</Text>
      <Text> </Text>
      {rows.map(([keys, what]) => (
        <Text key={keys} wrap="truncate-end">
          <Text {...toneStyle('info', color)}>{`  ${keys.padEnd(12)}`}</Text> {what}
        </Text>
      ))}
    </Box>
  )
}
