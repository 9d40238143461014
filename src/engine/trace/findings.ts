import type { Finding, FindingLevel } from './trace.js'

/** One entry of a findings catalog: its level and a message template with `{name}` placeholders. */
export interface FindingSpec {
  level: FindingLevel
  template: string
}

/** Builds a finding from a catalog entry, filling `{name}` placeholders from `params`. */
export function makeFinding<C extends string>(
  catalog: Record<C, FindingSpec>,
  code: C,
  params: Record<string, string | number> = {},
): Finding {
  const spec = catalog[code]
  const message = spec.template.replace(/\{(\w+)\}/g, (whole, key: string) =>
    key in params ? String(params[key]) : whole,
  )
  return { code, level: spec.level, message }
}

/** Findings raised by the tracer itself (resolution, missing inputs), ordered by code. */
export const TRACE_FINDINGS = {
  'assumed-intercepted': {
    level: 'info',
    template: 'No iptables rules in the snapshot: the connection is assumed to be captured to port {port}, as the sidecar would be.',
  },
  'dns-unresolved': {
    level: 'warning',
    template: 'The name {host} resolves to no Service or Envoy domain in the snapshot; pass --ip to give the destination address.',
  },
  'envoy-missing': {
    level: 'info',
    template: 'The snapshot has no Envoy configuration, so the trace ends after iptables.',
  },
  'resolved-from-envoy': {
    level: 'info',
    template: '{host} was resolved to {ip} from the Envoy configuration ({where}), not from a Service.',
  },
} satisfies Record<string, FindingSpec>

export type TraceFindingCode = keyof typeof TRACE_FINDINGS
