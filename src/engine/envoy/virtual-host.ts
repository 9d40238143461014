/**
 * Virtual-host selection (config_impl.cc RouteMatcher::findVirtualHost): Host (or vhost_header), optional
 * port stripping, lower-case, exact → longest suffix wildcard → longest prefix wildcard → `*`.
 */
import type { Alternative } from '../trace/trace.js'
import type { RouteConfiguration, VirtualHost } from './model.js'
import { virtualHostRef } from './refs.js'

/** How a virtual host matched. */
export type DomainMatchKind = 'exact' | 'suffix_wildcard' | 'prefix_wildcard' | 'default' | 'only_default'

/** The result of virtual-host selection. */
export interface VirtualHostSelection {
  /** The chosen virtual host, or null (404 NR). */
  chosen: VirtualHost | null
  /** The domain that matched (`*` for the default vhost). */
  domain: string | null
  /** How it matched. */
  how: DomainMatchKind | null
  /** The key that was looked up (after port stripping and lower-casing), or null when the header is absent. */
  key: string | null
  /** Near-miss vhosts (domains close to the key), in config order. */
  rejected: Alternative[]
  /** How many other vhosts were not close. */
  otherCount: number
  /** The closest domains, best first. */
  closest: string[]
}

/** Index of the port separator in a Host value: the last ':' not inside [...] (HeaderUtility::getPortStart). */
export function portStart(host: string): number {
  const colon = host.lastIndexOf(':')
  if (colon < 0) return -1
  const bracket = host.lastIndexOf(']')
  if (bracket > colon) return -1
  // An unbracketed IPv6 literal has no port.
  if (bracket < 0 && host.indexOf(':') !== colon) return -1
  return colon
}

/** Host with `:port` removed (if any). */
export function stripPort(host: string): string {
  const p = portStart(host)
  return p < 0 ? host : host.slice(0, p)
}

function levenshtein(a: string, b: string): number {
  const dp = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    let prev = dp[0]
    dp[0] = i
    for (let j = 1; j <= b.length; j++) {
      const tmp = dp[j]
      dp[j] = Math.min(dp[j] + 1, dp[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1))
      prev = tmp
    }
  }
  return dp[b.length]
}

function closeness(key: string, domain: string): number {
  const base = (s: string): string => stripPort(s).split('.')[0]
  if (domain === '*') return Infinity
  if (base(key) === base(domain)) return Math.min(1, levenshtein(key, domain))
  // Far longer or shorter domains are never near misses; skip the quadratic distance (large meshes).
  if (Math.abs(key.length - domain.length) > Math.max(2, Math.floor(key.length * 0.3))) return Infinity
  return levenshtein(key, domain)
}

/** Selects the virtual host for a request's Host header. */
export function selectVirtualHost(rc: RouteConfiguration, headers: Record<string, string>): VirtualHostSelection {
  const defaultVh = rc.virtualHosts.find((v) => v.domains.includes('*')) ?? null
  const others = rc.virtualHosts.filter((v) => v !== defaultVh)
  // Fast path: only a default vhost means every request (even without Host) gets it.
  if (others.length === 0 && defaultVh) return { chosen: defaultVh, domain: '*', how: 'only_default', key: null, rejected: [], otherCount: 0, closest: [] }
  const header = rc.vhostHeader ?? 'host'
  const raw = headers[header] ?? (header === 'host' ? headers[':authority'] : undefined)
  if (raw === undefined) return { chosen: null, domain: null, how: null, key: null, rejected: [], otherCount: rc.virtualHosts.length, closest: [] }
  const key = (rc.ignorePortInHostMatching ? stripPort(raw) : raw).toLowerCase()
  let chosen: VirtualHost | null = null
  let domain: string | null = null
  let how: DomainMatchKind | null = null
  for (const vh of rc.virtualHosts) {
    if (vh.domains.includes(key)) {
      chosen = vh
      domain = key
      how = 'exact'
      break
    }
  }
  if (!chosen) {
    // Longest wildcard first; the wildcard must match at least one character.
    let best = -1
    for (const vh of rc.virtualHosts) {
      for (const d of vh.domains) {
        if (!d.startsWith('*') || d === '*') continue
        const suffix = d.slice(1)
        if (suffix.length < key.length && key.endsWith(suffix) && suffix.length > best) {
          best = suffix.length
          chosen = vh
          domain = d
          how = 'suffix_wildcard'
        }
      }
    }
  }
  if (!chosen) {
    let best = -1
    for (const vh of rc.virtualHosts) {
      for (const d of vh.domains) {
        if (!d.endsWith('*') || d === '*') continue
        const prefix = d.slice(0, -1)
        if (prefix.length < key.length && key.startsWith(prefix) && prefix.length > best) {
          best = prefix.length
          chosen = vh
          domain = d
          how = 'prefix_wildcard'
        }
      }
    }
  }
  if (!chosen && defaultVh) {
    chosen = defaultVh
    domain = '*'
    how = 'default'
  }
  // Near misses: vhosts with a domain close to the key.
  const scored = rc.virtualHosts
    .filter((v) => v !== chosen && v !== defaultVh)
    .map((vh) => {
      const ranked = vh.domains.map((d) => ({ d, s: closeness(key, d) })).sort((x, y) => x.s - y.s)
      return { vh, best: ranked[0] }
    })
  const threshold = Math.max(2, Math.floor(key.length * 0.3))
  const near = scored.filter((x) => x.best && x.best.s <= threshold)
  const rejected: Alternative[] = near.map((x) => ({
    candidate: virtualHostRef(x.vh),
    reason: 'domain-mismatch',
    evidence: [{ field: rc.vhostHeader ? `header ${rc.vhostHeader}` : 'host', expected: x.best.d, actual: key }],
  }))
  const closest = scored
    .filter((x) => x.best)
    .sort((a, b) => a.best.s - b.best.s)
    .slice(0, 5)
    .map((x) => x.best.d)
  return { chosen, domain, how, key, rejected, otherCount: scored.length - near.length, closest }
}
