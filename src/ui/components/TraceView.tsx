import { useMemo } from 'react'
import { Box, Text } from 'ink'
import type { Request } from '../../engine/trace/request.js'
import type { Trace } from '../../engine/trace/trace.js'
import { detailLinesOf, previewEdit, type Retrace } from '../explorer-state.js'
import { useExplorer } from '../hooks/use-explorer.js'
import { useTerminalSize, type TerminalSize } from '../hooks/use-terminal-size.js'
import { Footer } from './Footer.js'
import { Header } from './Header.js'
import { HelpOverlay } from './HelpOverlay.js'
import { RequestEditor } from './RequestEditor.js'
import { StepDetail } from './StepDetail.js'
import { StepList } from './StepList.js'

/** Props of the explorer screen. */
export interface TraceViewProps {
  initial: Trace
  request: Request
  retrace: Retrace
  /** The snapshot holds next hops (traced with --follow). */
  followable?: boolean
  /** Colours on (default) or off (NO_COLOR). */
  color?: boolean
  /** Pin the terminal size (tests); otherwise it follows the terminal and its resizes. */
  size?: TerminalSize
}

/** The header (3 lines) + rule + body + rule + footer. */
const CHROME_LINES = 6

/**
 * The whole explorer screen: header with the request and outcome, the step list beside the selected
 * step's detail (or the request editor, or the help), and a footer with the keys. It fills the
 * terminal but one line, so ink redraws in place.
 */
export function TraceView({ initial, request, retrace, followable, color = true, size }: TraceViewProps): React.JSX.Element {
  const terminal = useTerminalSize(size)
  const width = Math.max(40, terminal.columns)
  const height = Math.max(CHROME_LINES + 4, terminal.rows - 1)
  const bodyHeight = height - CHROME_LINES
  const listWidth = Math.min(32, Math.max(18, Math.floor(width * 0.34)))
  const detailWidth = width - listWidth - 2
  const layout = useMemo(() => ({ detailWidth, bodyHeight }), [detailWidth, bodyHeight])
  const state = useExplorer({ initial, request, retrace, followable, layout })
  const lines = useMemo(() => detailLinesOf(state), [state.trace, state.selected, state.expanded, state.layout])
  const preview = useMemo(() => previewEdit(state), [state.editor?.form, state.request])
  const rule = '─'.repeat(width)

  let body: React.JSX.Element
  if (state.mode === 'help') {
    body = <HelpOverlay width={width} height={bodyHeight} color={color} />
  } else if (state.mode === 'edit' && state.editor !== null) {
    body = (
      <RequestEditor
        form={state.editor.form}
        row={state.editor.row}
        caret={state.editor.caret}
        preview={preview}
        error={state.editor.error}
        width={width}
        height={bodyHeight}
        color={color}
      />
    )
  } else {
    body = (
      <Box flexDirection="row" width={width} height={bodyHeight} flexShrink={0} overflow="hidden">
        <StepList steps={state.trace.steps} selected={state.selected} focused={state.focus === 'steps'} width={listWidth} height={bodyHeight} color={color} />
        <Box flexDirection="column" width={2} height={bodyHeight}>
          {Array.from({ length: bodyHeight }, (_, i) => (
            <Text key={i} dimColor>│</Text>
          ))}
        </Box>
        <StepDetail
          lines={lines}
          scroll={state.detailScroll}
          cursor={state.focus === 'detail' ? state.detailCursor : -1}
          query={state.query}
          width={detailWidth}
          height={bodyHeight}
          color={color}
        />
      </Box>
    )
  }
  return (
    <Box flexDirection="column" width={width} height={height}>
      <Header trace={state.trace} edited={state.trace !== state.initial.trace} width={width} color={color} />
      <Box height={1} flexShrink={0}><Text dimColor>{rule}</Text></Box>
      {body}
      <Box height={1} flexShrink={0}><Text dimColor>{rule}</Text></Box>
      <Footer state={state} lineCount={lines.length} width={width} color={color} />
    </Box>
  )
}
