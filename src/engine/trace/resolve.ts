import type { ServiceFacts } from '../snapshot.js'
import type { SourceRef } from './trace.js'
import { isIpLiteral } from './request.js'

/** How a destination name became an address. */
export interface Resolution {
  ip?: string
  fqdn?: string
  /** `ip` (the URL or --ip gave it), `service` (services.json / the API), `envoy` (the config dump's domains or listeners), `none`. */
  via: 'ip' | 'service' | 'envoy' | 'none'
  /** The names tried, in the resolver's order. */
  tried: string[]
  source?: SourceRef
  /** A headless Service was found: it has no VIP. */
  headless?: boolean
}

/**
 * Expands a name the way a pod's resolver does with Kubernetes' resolv.conf
 * (`search <ns>.svc.cluster.local svc.cluster.local cluster.local`, `ndots:5`):
 * names with fewer than 5 dots try the search domains first, then the name itself.
 */
export function searchNames(host: string, namespace: string, clusterDomain = 'cluster.local'): string[] {
  const name = host.replace(/\.$/, '')
  if (host.endsWith('.')) return [name]
  const search = [`${namespace}.svc.${clusterDomain}`, `svc.${clusterDomain}`, clusterDomain].map((d) => `${name}.${d}`)
  const dots = name.split('.').length - 1
  return dots >= 5 ? [name, ...search] : [...search, name]
}

/** Resolves a host against Services, as cluster DNS would: `<svc>.<ns>.svc.<domain>` → the ClusterIP. */
export function resolveFromServices(
  host: string,
  namespace: string,
  services: ServiceFacts[],
): Resolution {
  if (isIpLiteral(host)) return { ip: host, via: 'ip', tried: [host] }
  const tried = searchNames(host, namespace)
  const byFqdn = servicesByFqdn(services)
  for (const name of tried) {
    const svc = byFqdn.get(name.toLowerCase())
    if (svc === undefined) continue
    const ip = svc.clusterIPs.find((c) => c !== '' && c.toLowerCase() !== 'none')
    if (ip === undefined) return { fqdn: name, via: 'service', tried, headless: true, source: { file: 'services' } }
    return { ip, fqdn: name, via: 'service', tried, source: { file: 'services' } }
  }
  return { via: 'none', tried }
}

/** Services by `<svc>.<ns>.svc.cluster.local`, built once per services list (a snapshot's list is never changed). */
const BY_FQDN = new WeakMap<ServiceFacts[], Map<string, ServiceFacts>>()

function servicesByFqdn(services: ServiceFacts[]): Map<string, ServiceFacts> {
  let byFqdn = BY_FQDN.get(services)
  if (byFqdn === undefined) {
    byFqdn = new Map(services.map((s) => [`${s.name}.${s.namespace}.svc.cluster.local`, s]))
    BY_FQDN.set(services, byFqdn)
  }
  return byFqdn
}
