import { BugError } from '../../errors.js'

/**
 * The only Envoy admin requests mesh-trace ever makes: `GET` of these exact paths (with their query).
 * The admin API also has `POST /quitquitquit`, `/healthcheck/fail`, `/logging`, `/reset_counters`, `/drain_listeners`;
 * none of them can be reached from here, because every admin request is built by the two functions below.
 */
export const ADMIN_GET_ALLOW_LIST: readonly string[] = Object.freeze([
  'config_dump?include_eds',
  'config_dump',
  'clusters?format=json',
  'clusters',
  'stats',
  'stats?format=json',
  'server_info',
])

/** The admin port of an Envoy sidecar (Istio, Kuma, Consul and OSM all default to it or publish it on localhost). */
export const ENVOY_ADMIN_PORT = 15000

/**
 * The Envoy admin port of a sidecar, for the port-forward path (pilot-agent, Istio's, knows its own): Kuma's
 * `kuma.io/envoy-admin-port` annotation or 9901 for `kuma-sidecar`, 19000 for Consul's `consul-dataplane` /
 * `envoy-sidecar`, else Istio's and OSM's 15000.
 */
export function adminPortOf(pod: Record<string, unknown>, container: string): number {
  const meta = pod.metadata !== null && typeof pod.metadata === 'object' ? (pod.metadata as Record<string, unknown>) : {}
  const annotations = meta.annotations !== null && typeof meta.annotations === 'object' ? (meta.annotations as Record<string, unknown>) : {}
  const kumaPort = Number(annotations['kuma.io/envoy-admin-port'])
  if (Number.isInteger(kumaPort) && kumaPort > 0 && kumaPort < 65536) return kumaPort
  if (container === 'kuma-sidecar') return 9901
  if (container === 'consul-dataplane' || container === 'envoy-sidecar') return 19000
  return ENVOY_ADMIN_PORT
}

/** Whether `path` is an allow-listed admin GET path (exact match, query included). */
export function isAllowedAdminPath(path: string): boolean {
  return ADMIN_GET_ALLOW_LIST.includes(path)
}

function mustBeAllowed(path: string): void {
  if (!isAllowedAdminPath(path)) throw new BugError(`Envoy admin path ${JSON.stringify(path)} is not on the read-only allow-list.`)
}

/** The exec argument array for `pilot-agent request GET <path>` (sent as separate `command=` parameters, never one string). */
export function pilotAgentRequestArgv(path: string): string[] {
  mustBeAllowed(path)
  return ['pilot-agent', 'request', 'GET', path]
}

/** The raw HTTP/1.1 request sent through a port-forward to the admin port: always `GET`, always allow-listed. */
export function adminHttpRequest(path: string, port: number = ENVOY_ADMIN_PORT): string {
  mustBeAllowed(path)
  return `GET /${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUser-Agent: kubectl-mesh-trace\r\nAccept: */*\r\nConnection: close\r\n\r\n`
}
