import type { Trace } from '../engine/trace/trace.js'
import { renderTraceJson } from './json.js'
import { renderTraceText } from './text.js'
import { renderTraceYaml } from './yaml.js'
import { renderTraceMermaid } from './mermaid.js'
import { renderTraceDot } from './dot.js'

/** The output formats `-o` accepts. */
export type OutputFormat = 'text' | 'json' | 'yaml' | 'mermaid' | 'dot'

/** Renders a trace in the chosen format. */
export function renderTrace(trace: Trace, format: string, options: { color: boolean }): string {
  switch (format) {
    case 'json':
      return renderTraceJson(trace)
    case 'yaml':
      return renderTraceYaml(trace)
    case 'mermaid':
      return renderTraceMermaid(trace)
    case 'dot':
      return renderTraceDot(trace)
    default:
      return renderTraceText(trace, options)
  }
}
