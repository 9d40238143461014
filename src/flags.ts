import { Flags } from '@oclif/core'
import type { RequestOptions } from './engine/trace/request.js'
import type { OfflineInputs } from './collect/bundle/read-bundle.js'

/** kubectl's own flags, spelled as kubectl spells them. */
export const kubeFlags = {
  namespace: Flags.string({ char: 'n', summary: 'Namespace of the pod (default: the current context\'s namespace).', helpGroup: 'KUBE' }),
  context: Flags.string({ summary: 'The kubeconfig context to use.', helpGroup: 'KUBE' }),
  kubeconfig: Flags.string({ summary: 'Path to the kubeconfig file (default: $KUBECONFIG or ~/.kube/config).', helpGroup: 'KUBE' }),
  container: Flags.string({ char: 'c', summary: 'The sidecar container.', default: 'istio-proxy', helpGroup: 'KUBE' }),
  'request-timeout': Flags.string({ summary: 'Time to wait for each API call (e.g. 10s, 1m).', default: '30s', helpGroup: 'KUBE' }),
}

/** What the request is: method, headers, who sends it, where from. */
export const requestFlags = {
  method: Flags.string({ char: 'X', summary: 'HTTP method.', default: 'GET', helpGroup: 'REQUEST' }),
  header: Flags.string({ char: 'H', summary: "Request header 'Name: value' (repeatable; 'Host: …' overrides the URL's authority).", multiple: true, helpGroup: 'REQUEST' }),
  uid: Flags.integer({ summary: "uid of the sending process (outbound); 1337 is Istio's proxy. Default: the app container's runAsUser.", min: 0, helpGroup: 'REQUEST' }),
  gid: Flags.integer({ summary: 'gid of the sending process (default: the uid).', min: 0, helpGroup: 'REQUEST' }),
  'src-ip': Flags.string({ summary: 'Source address: the bound address (outbound) or the peer (inbound).', helpGroup: 'REQUEST' }),
  ip: Flags.string({ summary: 'Destination IP; skips name resolution.', helpGroup: 'REQUEST' }),
  inbound: Flags.boolean({ summary: 'Trace a request arriving at the pod (TARGET like http://:9080/path).', default: false, helpGroup: 'REQUEST' }),
  sni: Flags.string({ summary: 'TLS server name the client sends (implies TLS).', helpGroup: 'REQUEST' }),
  alpn: Flags.string({ summary: 'Comma-separated ALPN protocols the client offers (e.g. istio-http/1.1,istio).', helpGroup: 'REQUEST' }),
  'random-value': Flags.integer({ summary: "Envoy's random value for weighted clusters (as in router_check_tool).", min: 0, helpGroup: 'REQUEST' }),
  'expect-vs': Flags.string({ summary: 'A VirtualService (NAME or NAMESPACE/NAME) you expect to route the request; the trace says whether it does.', helpGroup: 'REQUEST' }),
}

/** Offline inputs: a bundle, or single files that override the bundle's. */
export const offlineFlags = {
  bundle: Flags.string({ summary: 'A bundle directory or .tar.gz (from `capture`) to trace offline.', helpGroup: 'OFFLINE' }),
  iptables: Flags.string({ summary: 'iptables-save output, iptables-restore input, or an istio-init log.', helpGroup: 'OFFLINE' }),
  'config-dump': Flags.string({ summary: "Envoy /config_dump or `istioctl proxy-config … -o json` output.", helpGroup: 'OFFLINE' }),
  clusters: Flags.string({ summary: 'Envoy /clusters output (text or ?format=json).', helpGroup: 'OFFLINE' }),
  stats: Flags.string({ summary: 'Envoy /stats output (text or ?format=json).', helpGroup: 'OFFLINE' }),
}

/** Output format and colour. */
export const outputFlags = {
  output: Flags.string({ char: 'o', summary: 'Output format.', options: ['text', 'json', 'yaml', 'mermaid', 'dot'], default: 'text' }),
  'no-color': Flags.boolean({ summary: 'No colours (also NO_COLOR).', default: false }),
  color: Flags.string({ summary: 'When to colour text output.', options: ['auto', 'always', 'never'], default: 'auto' }),
}

/** Whether text output gets colour: --no-color and NO_COLOR win, then --color, then "is stdout a TTY". */
export function useColor(flags: { 'no-color': boolean; color: string }, env: NodeJS.ProcessEnv, isTty: boolean): boolean {
  if (flags['no-color'] || (env.NO_COLOR !== undefined && env.NO_COLOR !== '')) return false
  if (flags.color === 'always') return true
  if (flags.color === 'never') return false
  return isTty
}

/** The request flags as the engine's RequestOptions. */
export function requestOptionsFromFlags(flags: {
  method: string
  header?: string[]
  uid?: number
  gid?: number
  'src-ip'?: string
  ip?: string
  inbound: boolean
  sni?: string
  alpn?: string
  'random-value'?: number
  'expect-vs'?: string
}): RequestOptions {
  const options: RequestOptions = { method: flags.method, headers: flags.header ?? [], inbound: flags.inbound }
  if (flags.uid !== undefined) options.uid = flags.uid
  if (flags.gid !== undefined) options.gid = flags.gid
  if (flags['src-ip'] !== undefined) options.srcIp = flags['src-ip']
  if (flags.ip !== undefined) options.ip = flags.ip
  if (flags.sni !== undefined) options.sni = flags.sni
  if (flags.alpn !== undefined) options.alpn = flags.alpn.split(',').map((a) => a.trim()).filter((a) => a !== '')
  if (flags['random-value'] !== undefined) options.randomValue = flags['random-value']
  if (flags['expect-vs'] !== undefined) options.expectVs = flags['expect-vs']
  return options
}

/** The offline-input flags as the bundle reader's inputs. */
export function offlineInputsFromFlags(flags: {
  bundle?: string
  iptables?: string
  'config-dump'?: string
  clusters?: string
  stats?: string
}): OfflineInputs | undefined {
  const inputs: OfflineInputs = {}
  if (flags.bundle !== undefined) inputs.bundle = flags.bundle
  if (flags.iptables !== undefined) inputs.iptables = flags.iptables
  if (flags['config-dump'] !== undefined) inputs.configDump = flags['config-dump']
  if (flags.clusters !== undefined) inputs.clusters = flags.clusters
  if (flags.stats !== undefined) inputs.stats = flags.stats
  return Object.keys(inputs).length > 0 ? inputs : undefined
}
