import { Box, Text } from 'ink'
import type { Trace } from '../../engine/trace/trace.js'
import { cleanText } from '../detail-lines.js'
import { visibleField } from '../line-edit.js'
import { formRows, type RequestForm } from '../request-form.js'
import { toneStyle } from '../theme.js'

/** Props of the request editor: the form, the focused row and caret, the live preview, the last error. */
export interface RequestEditorProps {
  form: RequestForm
  row: number
  caret: number
  /** What the form would trace to right now, or why it cannot. */
  preview: { trace?: Trace; error?: string }
  /** The error of the last ⏎, if it failed. */
  error: string | null
  width: number
  height: number
  color: boolean
}

const LABEL = 11

/** The request as a form (URL, method, headers, uid, direction, SNI) with a live preview of the result. */
export function RequestEditor({ form, row, caret, preview, error, width, height, color }: RequestEditorProps): React.JSX.Element {
  const rows = formRows(form)
  const room = Math.max(1, height - 7)
  const top = Math.max(0, Math.min(row - room + 1, rows.length - room))
  const shown = rows.slice(Math.max(0, top), Math.max(0, top) + room)
  const fieldWidth = Math.max(8, width - LABEL - 3)
  const problem = error ?? preview.error ?? null
  return (
    <Box flexDirection="column" width={width} height={height} flexShrink={0} overflow="hidden">
      <Text bold wrap="truncate-end">Edit the request  ⏎ re-trace · esc cancel · ↑↓ field · space toggles direction</Text>
      <Text> </Text>
      {shown.map((r, k) => {
        const i = Math.max(0, top) + k
        const focused = i === row
        const label = `${focused ? '›' : ' '} ${r.label.padEnd(LABEL - 2)}`
        if (r.id === 'inbound') {
          return (
            <Box key={r.id} width={width} height={1}>
              <Text bold={focused} wrap="truncate-end">{label} <Text inverse={focused}>{r.value}</Text><Text {...toneStyle('dim', color)}>  (space toggles)</Text></Text>
            </Box>
          )
        }
        if (!focused) {
          return (
            <Box key={r.id} width={width} height={1}>
              <Text wrap="truncate-end">
                {label} {r.value === '' ? <Text {...toneStyle('dim', color)}>{r.placeholder}</Text> : cleanText(r.value, 400)}
              </Text>
            </Box>
          )
        }
        const field = visibleField({ value: r.value, caret }, fieldWidth)
        return (
          <Box key={r.id} width={width} height={1}>
            <Text bold wrap="truncate-end">
              {label} {field.before}<Text inverse>{field.at}</Text>{field.after}
            </Text>
          </Box>
        )
      })}
      <Text> </Text>
      <Text wrap="truncate-end" {...toneStyle(preview.trace !== undefined ? 'info' : 'dim', color)}>
        {preview.trace !== undefined ? `preview  ${previewLine(preview.trace)}` : ' '}
      </Text>
      <Box height={3} width={width} overflow="hidden">
        <Text wrap="wrap" {...toneStyle('bad', color)}>{problem !== null ? `error    ${cleanText(problem, 400)}` : ' '}</Text>
      </Box>
    </Box>
  )
}

function previewLine(trace: Trace): string {
  const r = trace.result
  const parts = [r.outcome, r.virtualHost, r.route !== null ? `route ${r.route}` : null, r.cluster].filter((x): x is string => x !== null)
  return cleanText(parts.join(' · '), 400)
}
