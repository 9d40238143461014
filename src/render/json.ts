import type { Trace } from '../engine/trace/trace.js'

/** Renders a trace as the `mesh-trace/v1` JSON document (design.md), two-space indented. */
export function renderTraceJson(trace: Trace): string {
  return JSON.stringify(trace, null, 2)
}
