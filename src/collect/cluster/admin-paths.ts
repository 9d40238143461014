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
