import type { Trace } from '../engine/trace/trace.js'
import { renderTraceJson } from './json.js'
import { renderTraceText } from './text.js'
import { renderTraceYaml } from './yaml.js'

/** The output formats `-o` accepts. */
export type OutputFormat = 'text' | 'json' | 'yaml'

/** Renders a trace in the chosen format. */
export function renderTrace(trace: Trace, format: string, options: { color: boolean }): string {
  switch (format) {
    case 'json':
      return renderTraceJson(trace)
    case 'yaml':
      return renderTraceYaml(trace)
    default:
      return renderTraceText(trace, options)
  }
}
