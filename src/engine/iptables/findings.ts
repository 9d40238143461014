import type { FindingSpec } from '../trace/findings.js'

/** Findings the iptables stage raises, ordered by code. */
export const IPTABLES_FINDINGS = {
  'ambient-mode': {
    level: 'info',
    template: '{message} Use ztunnel and waypoint tooling (istioctl ztunnel-config) to follow this connection.',
  },
  'captured-before-proxy-ready': {
    level: 'info',
    template:
      'uid {uid} is the init container {container}, and its traffic is captured to port {port} ({when}) while Envoy is not running yet, so its connections fail. Run it as uid {proxyUid}, or exclude its destination (traffic.sidecar.istio.io/excludeOutboundIPRanges or excludeOutboundPorts).',
  },
  'dns-captured': {
    level: 'info',
    template: 'DNS to {destination} is redirected to {port} ({meaning}); the answer comes from the agent, not from the nameserver.',
  },
  'exclude-shadowed': {
    level: 'warning',
    template: '{excludeRule} would exclude this connection ({excludeText}), but {decidingRule} decides first ({decidingText}).',
  },
  'legacy-tables-hidden': {
    level: 'warning',
    template: 'iptables-save warned that iptables-legacy tables are present: rules there are not in this dump and may change the result.',
  },
  'nftables-not-simulated': {
    level: 'warning',
    template: '{message}',
  },
  'not-intercepted': {
    level: 'warning',
    template: 'The connection is not captured by the sidecar: {reason}.',
  },
  'owner-uid-assumed': {
    level: 'info',
    template: "The socket's owner was not given, so the sender is assumed to be an application (uid {uid}), not the proxy.",
  },
  'proxy-uid-mismatch': {
    level: 'error',
    template: "The rules exempt uid {ruleUids} as the proxy, but the pod's proxy runs as uid {proxyUid}: the proxy's own traffic is captured again (a loop) or exempted for the wrong process.",
  },
  'rules-empty': {
    level: 'warning',
    template: 'The nat table has no {what}: no sidecar capture rules are installed (istio-init did not run, or the CNI plugin wrote them elsewhere).',
  },
  'rules-inferred': {
    level: 'info',
    template: 'These rules were rebuilt from pod annotations ({origin}), not read from the pod: every iptables step rests on that rebuild.',
  },
  'rules-intended': {
    level: 'info',
    template: 'The rules come from {form} (what was meant to be written), not from iptables-save: rules already present in the pod are not shown.',
  },
  'rules-partial': {
    level: 'warning',
    template: '{note} Connections the missing rules would have captured go out uncaptured; read the istio-init log and check the pod\'s traffic.sidecar.istio.io/* annotations.',
  },
  'tproxy-routing': {
    level: 'info',
    template:
      'TPROXY only delivers to {port} when the pod has the policy route for mark {mark}: `ip rule add fwmark {mark} lookup {table}` and `ip route add local default dev lo table {table}` (istio-init logs both). Without them the packet is routed normally.',
  },
  'unresolved-construct': {
    level: 'warning',
    template: '{construct} at {where} is not simulated, so the outcome from that rule on is unknown.',
  },
} satisfies Record<string, FindingSpec>

/** A code of the iptables findings catalog. */
export type IptablesFindingCode = keyof typeof IPTABLES_FINDINGS
