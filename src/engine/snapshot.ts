/**
 * What a collector returns (design.md, "Snapshot"): raw texts and pod facts, nothing parsed.
 * Collectors (cluster, bundle, single files) all produce this, so the engine cannot tell them apart.
 */
export interface Snapshot {
  pod?: PodFacts
  iptables?: { v4?: string; v6?: string; origin: 'init-log' | 'cni' | 'exec' | 'file' }
  envoy?: { configDump?: unknown; clusters?: string | unknown; stats?: string | unknown; origin: 'exec' | 'port-forward' | 'file' }
  services?: ServiceFacts[]
  pods?: Array<{ name: string; namespace: string; ips: string[] }>
  capturedAt?: string
  /** What could not be collected, and why. */
  notes: string[]
  /** Where each input came from, for messages: logical name → path (`config_dump` → `bundle/config_dump.json`). */
  files?: Record<string, string>
}

/** The pod facts the trace needs. */
export interface PodFacts {
  name: string
  namespace: string
  ip?: string
  ips?: string[]
  node?: string
  labels?: Record<string, string>
  annotations?: Record<string, string>
  containers?: string[]
  initContainers?: string[]
  /** runAsUser / runAsGroup per container (container-level, else pod-level securityContext). */
  containerUsers?: Record<string, { runAsUser?: number; runAsGroup?: number }>
}

/** A Service as name resolution needs it. */
export interface ServiceFacts {
  name: string
  namespace: string
  clusterIPs: string[]
  ports: Array<{ name?: string; port: number; protocol: string }>
}

/** The pod's own IPs: `ips` when the pod lists any, else its single `ip`. */
export function podIpsOf(pod: PodFacts | undefined): string[] {
  if (pod?.ips !== undefined && pod.ips.length > 0) return pod.ips
  return pod?.ip !== undefined ? [pod.ip] : []
}
