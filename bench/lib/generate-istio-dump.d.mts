/** A generated service: its names, ClusterIP, optional TCP port and the VirtualService shape of its routes. */
export interface GeneratedService {
  name: string
  namespace: string
  fqdn: string
  clusterIP: string
  tcpPort: number | null
  vs: 'header' | 'prefix-weighted' | 'regex' | null
  endpoints: number
  endpointBase: number
}

/** The sidecar pod whose dump is generated. */
export interface GeneratedPod {
  name: string
  namespace: string
  ip: string
  app: string
  fqdn: string
}

export interface GenerateOptions {
  services: number
  seed?: number
}

/** The services a dump of { services, seed } contains. */
export function generatedServices(options: GenerateOptions): GeneratedService[]
/** The sidecar pod the dump belongs to. */
export function generatedPod(options: GenerateOptions): GeneratedPod
/** A realistic Istio 1.22 sidecar `/config_dump?include_eds` object, deterministic for `seed`. */
export function generateIstioDump(options: GenerateOptions): { configs: Array<Record<string, unknown>> }
