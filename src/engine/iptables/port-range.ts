/** An inclusive port range; a single port has min === max. */
export interface PortRange {
  min: number
  max: number
}

function parsePort(text: string): number {
  if (!/^\d{1,5}$/.test(text)) throw new Error(`invalid port ${JSON.stringify(text)}`)
  const n = Number(text)
  if (n > 65535) throw new Error(`port ${n} is out of range`)
  return n
}

/**
 * Parses a port or range as `--dport`/`--sport` and multiport write it: `80`, `a:b`, `:b` (from 0), `a:` (to 65535).
 * `separator` is `-` for REDIRECT `--to-ports`.
 */
export function parsePortRange(text: string, separator: ':' | '-' = ':'): PortRange {
  const at = text.indexOf(separator)
  if (at < 0) {
    const p = parsePort(text)
    return { min: p, max: p }
  }
  const lo = text.slice(0, at)
  const hi = text.slice(at + 1)
  const min = lo === '' ? 0 : parsePort(lo)
  const max = hi === '' ? 65535 : parsePort(hi)
  if (min > max) throw new Error(`invalid port range ${JSON.stringify(text)}`)
  return { min, max }
}

/** Whether a port lies in a range. */
export function portInRange(range: PortRange, port: number): boolean {
  return port >= range.min && port <= range.max
}

/** Renders a range the way iptables-save does (`80`, `1000:2000`). */
export function formatPortRange(range: PortRange): string {
  return range.min === range.max ? String(range.min) : `${range.min}:${range.max}`
}

/** An inclusive numeric id range for `--uid-owner`/`--gid-owner` (`1337` or `1000-2000`). */
export interface IdRange {
  min: number
  max: number
}

/** Whether a `--uid-owner`/`--gid-owner` value is a user or group name (iptables resolves it through NSS when the rule is added). */
export function isOwnerName(text: string): boolean {
  return /^[A-Za-z_][A-Za-z0-9_.-]*\$?$/.test(text)
}

/** Parses a numeric uid/gid or `a-b` range; throws an Error for names (iptables-save always prints numbers). */
export function parseIdRange(text: string): IdRange {
  const m = /^(\d+)(?:-(\d+))?$/.exec(text)
  if (!m) throw new Error(`invalid id ${JSON.stringify(text)}`)
  const min = Number(m[1])
  const max = m[2] === undefined ? min : Number(m[2])
  if (min > max || max > 0xffffffff) throw new Error(`invalid id range ${JSON.stringify(text)}`)
  return { min, max }
}

/** Renders an id range (`1337`, `1000-2000`). */
export function formatIdRange(range: IdRange): string {
  return range.min === range.max ? String(range.min) : `${range.min}-${range.max}`
}
