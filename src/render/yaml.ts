import { stringify } from 'yaml'
import type { Trace } from '../engine/trace/trace.js'

/** Renders a trace as YAML: the same document as `-o json`, for people who read YAML. */
export function renderTraceYaml(trace: Trace): string {
  return stringify(JSON.parse(JSON.stringify(trace)), { lineWidth: 0, aliasDuplicateObjects: false }).trimEnd()
}
