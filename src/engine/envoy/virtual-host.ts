/**
 * Virtual-host selection (config_impl.cc RouteMatcher::findVirtualHost): Host (or vhost_header), optional
 * port stripping, lower-case, exact → longest suffix wildcard → longest prefix wildcard → `*`.
 */
import type { Alternative } from '../trace/trace.js'
import type { RouteConfiguration, VirtualHost } from './model.js'
import { asciiLowerCase } from './address.js'
import { virtualHostRef } from './refs.js'
import { virtualHostAt, virtualHostCount, virtualHostDomainLists } from './virtual-hosts.js'

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

/** The label a near miss must share: the first DNS label, or the whole address for an IP literal. */
function baseLabel(s: string): string {
  const host = stripPort(s)
  if (host.startsWith('[') || host.includes(':') || /^\d+(\.\d+){3}$/.test(host)) return host
  return host.split('.')[0]
}

function closeness(key: string, keyBase: string, domain: string): number {
  if (domain === '*') return Infinity
  if (keyBase === baseLabel(domain)) return Math.min(1, levenshtein(key, domain))
  // Far longer or shorter domains are never near misses; skip the quadratic distance (large meshes).
  if (Math.abs(key.length - domain.length) > Math.max(2, Math.floor(key.length * 0.3))) return Infinity
  return levenshtein(key, domain)
}

/** At most this many near-miss virtual hosts are reported (the closest); the rest are counted. */
export const MAX_NEAR_MISSES = 10

/** Per route configuration lookup tables, built once (Envoy builds the same maps when it loads the config). */
interface DomainIndex {
  exact: Map<string, VirtualHost>
  suffixWildcards: Wildcard[]
  prefixWildcards: Wildcard[]
  defaultVh: VirtualHost | null
}

/** A wildcard domain and the part that must match (`*.a.com` → `.a.com`, `a.*` → `a.`). */
interface Wildcard {
  domain: string
  stem: string
  vh: VirtualHost
}

/** The wildcard with the longest stem that `matches` the key (the first of equals); the wildcard must match at least one character. */
function longestWildcard(wildcards: Wildcard[], key: string, matches: (stem: string) => boolean): Wildcard | null {
  let best: Wildcard | null = null
  for (const w of wildcards) {
    if (w.stem.length < key.length && (best === null || w.stem.length > best.stem.length) && matches(w.stem)) best = w
  }
  return best
}

const DOMAIN_INDEXES = new WeakMap<RouteConfiguration, DomainIndex>()

function domainIndex(rc: RouteConfiguration): DomainIndex {
  const cached = DOMAIN_INDEXES.get(rc)
  if (cached) return cached
  const index: DomainIndex = { exact: new Map(), suffixWildcards: [], prefixWildcards: [], defaultVh: null }
  for (const vh of rc.virtualHosts) {
    for (const d of vh.domains) {
      if (d === '*') {
        index.defaultVh ??= vh
        continue
      }
      // The first virtual host in config order wins a duplicated domain.
      if (!index.exact.has(d)) index.exact.set(d, vh)
      if (d.startsWith('*')) index.suffixWildcards.push({ domain: d, stem: d.slice(1), vh })
      else if (d.endsWith('*')) index.prefixWildcards.push({ domain: d, stem: d.slice(0, -1), vh })
    }
  }
  DOMAIN_INDEXES.set(rc, index)
  return index
}

/**
 * The first virtual host (config order) with the exact domain `key` (lower-cased in ASCII), and the first with `*`, found by
 * reading the domains in place: what the domain index answers, for a route configuration looked up once.
 */
function scanDomains(rc: RouteConfiguration, key: string): { exact: number; defaultAt: number } {
  // ASCII lower-casing keeps the length: a domain of another length cannot be the key.
  let exact = -1
  let defaultAt = -1
  const lists = virtualHostDomainLists(rc)
  for (let i = 0; i < lists.length && (exact < 0 || defaultAt < 0); i++) {
    const domains = lists[i]
    for (let j = 0; j < domains.length; j++) {
      const d = domains[j]
      if (typeof d !== 'string') continue
      if (d === '*') {
        if (defaultAt < 0) defaultAt = i
      } else if (exact < 0 && d.length === key.length && asciiLowerCase(d) === key) exact = i
    }
  }
  return { exact, defaultAt }
}

// The three answers that need no wildcard, alike from the domains read in place (first lookup) and from the index.

/** Only a default vhost: every request (even without Host) gets it. */
function onlyDefault(vh: VirtualHost): VirtualHostSelection {
  return { chosen: vh, domain: '*', how: 'only_default', key: null, rejected: [], otherCount: 0, closest: [] }
}

/** No Host (or vhost_header) header: no virtual host (404 NR). */
function noHost(count: number): VirtualHostSelection {
  return { chosen: null, domain: null, how: null, key: null, rejected: [], otherCount: count, closest: [] }
}

/** An exact domain: a map lookup in Envoy, so no near misses; every other non-default vhost is counted. */
function exactMatch(vh: VirtualHost, key: string, count: number, defaultIsOther: boolean): VirtualHostSelection {
  return { chosen: vh, domain: key, how: 'exact', key, rejected: [], otherCount: count - 1 - (defaultIsOther ? 1 : 0), closest: [] }
}

/** Route configurations whose domains were scanned once; the next lookup builds the index. */
const SCANNED = new WeakSet<RouteConfiguration>()

/**
 * Selects the virtual host for a request's Host header. An exact domain is a map lookup, as in Envoy, so it has
 * no near misses; when the Host falls to a wildcard, the default or nothing, the closest domains are named.
 * The first lookup in a route configuration reads the domains in place (parsing only the virtual host it picks);
 * later ones use the index.
 */
export function selectVirtualHost(rc: RouteConfiguration, headers: Record<string, string>): VirtualHostSelection {
  const count = virtualHostCount(rc)
  const header = rc.vhostHeader ?? 'host'
  const raw = headers[header] ?? (header === 'host' ? headers[':authority'] : undefined)
  const key = raw === undefined ? null : asciiLowerCase(rc.ignorePortInHostMatching ? stripPort(raw) : raw)
  if (!DOMAIN_INDEXES.has(rc) && !SCANNED.has(rc)) {
    SCANNED.add(rc)
    const { exact, defaultAt } = scanDomains(rc, key ?? '')
    if (count === 1 && defaultAt === 0) return onlyDefault(virtualHostAt(rc, 0))
    if (key === null) return noHost(count)
    if (exact >= 0) return exactMatch(virtualHostAt(rc, exact), key, count, defaultAt >= 0 && defaultAt !== exact)
  }
  const index = domainIndex(rc)
  const defaultVh = index.defaultVh
  if (count === 1 && defaultVh) return onlyDefault(defaultVh)
  if (key === null) return noHost(count)
  const exact = index.exact.get(key)
  if (exact) return exactMatch(exact, key, count, defaultVh !== null && defaultVh !== exact)
  // Longest wildcard first: suffix wildcards, then prefix wildcards, then `*`.
  const suffix = longestWildcard(index.suffixWildcards, key, (stem) => key.endsWith(stem))
  const prefix = suffix === null ? longestWildcard(index.prefixWildcards, key, (stem) => key.startsWith(stem)) : null
  const wildcard = suffix ?? prefix
  const chosen: VirtualHost | null = wildcard?.vh ?? defaultVh
  const domain: string | null = wildcard?.domain ?? (defaultVh ? '*' : null)
  const how: DomainMatchKind | null = suffix ? 'suffix_wildcard' : prefix ? 'prefix_wildcard' : defaultVh ? 'default' : null
  // Near misses: vhosts with a domain close to the key; the closest few, shown in config order.
  const keyBase = baseLabel(key)
  const scored = rc.virtualHosts
    .filter((v) => v !== chosen && v !== defaultVh)
    .map((vh, order) => {
      const ranked = vh.domains.map((d) => ({ d, s: closeness(key, keyBase, d) })).sort((x, y) => x.s - y.s)
      return { vh, best: ranked[0], order }
    })
  const threshold = Math.max(2, Math.floor(key.length * 0.3))
  const near = scored
    .filter((x) => x.best && x.best.s <= threshold)
    .sort((a, b) => a.best.s - b.best.s || a.order - b.order)
    .slice(0, MAX_NEAR_MISSES)
    .sort((a, b) => a.order - b.order)
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
