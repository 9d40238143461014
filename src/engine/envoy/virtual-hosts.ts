/**
 * A route configuration's virtual hosts, parsed one at a time. Selection reads only every virtual host's domains
 * and then the routes of the one it picks; in a large mesh the outbound route configuration holds one virtual host
 * per service, so a single trace would otherwise parse thousands it never uses. Reading `rc.virtualHosts` still
 * yields every one, parsed, as the same objects these functions return.
 */
import { valueOnRead } from '../memo.js'
import type { Json, JsonObject, RouteConfiguration, VirtualHost } from './model.js'

/** The virtual hosts of a route configuration that have not all been parsed yet (see `deferVirtualHosts`). */
export interface DeferredVirtualHosts {
  /**
   * The raw virtual hosts (whose `domains` field has no camelCase spelling, so it is read as it stands). Data, not
   * a callback: selection reads every one, and a hot callback queued for optimisation would keep the route
   * configuration it closes over alive until V8 installs the optimised code.
   */
  hosts: readonly JsonObject[]
  /** Parses virtual host `i`. */
  parse(i: number): VirtualHost
}

interface Deferred extends DeferredVirtualHosts {
  parsed: Array<VirtualHost | undefined>
}

const DEFERRED = new WeakMap<RouteConfiguration, Deferred>()

/**
 * Makes `rc.virtualHosts` a list parsed on first read (after which it is a plain property again, also when assigned);
 * until then `virtualHostAt` parses single virtual hosts.
 */
export function deferVirtualHosts(rc: RouteConfiguration, hosts: DeferredVirtualHosts): void {
  const d: Deferred = { hosts: hosts.hosts, parse: hosts.parse, parsed: new Array<VirtualHost | undefined>(hosts.hosts.length) }
  DEFERRED.set(rc, d)
  valueOnRead(
    rc,
    'virtualHosts',
    () => {
      const all: VirtualHost[] = []
      for (let i = 0; i < d.hosts.length; i++) all.push(virtualHostAt(rc, i))
      return all
    },
    () => DEFERRED.delete(rc),
  )
}

/** How many virtual hosts `rc` has, without parsing them. */
export function virtualHostCount(rc: RouteConfiguration): number {
  return DEFERRED.get(rc)?.hosts.length ?? rc.virtualHosts.length
}

/** Virtual host `i` of `rc` (the object `rc.virtualHosts[i]` is or will be). */
export function virtualHostAt(rc: RouteConfiguration, i: number): VirtualHost {
  const d = DEFERRED.get(rc)
  if (d === undefined) return rc.virtualHosts[i]
  let vh = d.parsed[i]
  if (vh === undefined) {
    vh = d.parse(i)
    d.parsed[i] = vh
  }
  return vh
}

const NO_DOMAINS: readonly Json[] = Object.freeze([])

/**
 * The domains of every virtual host of `rc`, in order, without parsing them: as in the JSON (strings may have upper
 * case, non-strings are not dropped) for those not parsed yet, the parsed (lower-cased) ones for the others.
 */
export function virtualHostDomainLists(rc: RouteConfiguration): Array<readonly Json[]> {
  const d = DEFERRED.get(rc)
  if (d === undefined) return rc.virtualHosts.map((vh) => vh.domains)
  const out: Array<readonly Json[]> = []
  for (let i = 0; i < d.hosts.length; i++) {
    const parsed = d.parsed[i]
    const domains = parsed !== undefined ? parsed.domains : d.hosts[i].domains
    out.push(Array.isArray(domains) ? domains : NO_DOMAINS)
  }
  return out
}
