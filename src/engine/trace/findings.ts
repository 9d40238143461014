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
  const parts = templateParts(spec)
  let message = parts[0]
  for (let i = 1; i < parts.length; i += 2) {
    const key = parts[i]
    message += (key in params ? String(params[key]) : `{${key}}`) + parts[i + 1]
  }
  return { code, level: spec.level, message }
}

/** A template split once into literal text and placeholder names, alternating (`split` with a capture group). */
const TEMPLATE_PARTS = new WeakMap<FindingSpec, string[]>()

function templateParts(spec: FindingSpec): string[] {
  let parts = TEMPLATE_PARTS.get(spec)
  if (parts === undefined) {
    parts = spec.template.split(/\{(\w+)\}/)
    TEMPLATE_PARTS.set(spec, parts)
  }
  return parts
}

/** Findings raised by the tracer itself (resolution, missing inputs), ordered by code. */
export const TRACE_FINDINGS = {
  'assumed-intercepted': {
    level: 'info',
    template: 'No iptables rules in the snapshot: the connection is assumed to be captured to port {port} ({listener}), as a sidecar\'s rules would do.',
  },
  'direct-to-listener': {
    level: 'info',
    template: 'No iptables rules in the snapshot, and listener {listener} is bound to the destination port {port} itself (as on a gateway): the connection reaches Envoy directly, so nothing was redirected.',
  },
  'dns-unresolved': {
    level: 'warning',
    template: 'The name {host} resolves to no Service or Envoy domain in the snapshot; pass --ip to give the destination address.',
  },
  'envoy-missing': {
    level: 'info',
    template: 'The snapshot has no Envoy configuration, so the trace ends after iptables.',
  },
  'expected-vs-applied': {
    level: 'info',
    template: 'The chosen route comes from VirtualService {vs}, as expected.',
  },
  'no-route-from-expected-vs': {
    level: 'warning',
    template: '{expected} does not route this request: {actual}. Its routes are not in this proxy\'s config for this host and port — check its hosts, its gateways (it must include mesh for sidecars), exportTo, and the Sidecar resource of this namespace.',
  },
  'no-sidecar': {
    level: 'warning',
    template: 'Pod {pod} has no sidecar container (containers: {containers}): nothing in this pod routes by VirtualService or DestinationRule; its requests leave as the app sent them.',
  },
  'resolved-from-envoy': {
    level: 'info',
    template: '{host} was resolved to {ip} from the Envoy configuration ({where}), not from a Service.',
  },
} satisfies Record<string, FindingSpec>

export type TraceFindingCode = keyof typeof TRACE_FINDINGS
