import type { SourceLine } from './ruleset-builder.js'

/** One log line with container-runtime and logger prefixes removed; `line` is the line number in the raw log. */
export interface LogLine extends SourceLine {
  /** The line carried a timestamp or runtime prefix (so it is a new log record, not a continuation). */
  prefixed: boolean
  /** A `set -x` trace line (`+ iptables …`). */
  traced: boolean
}

const CRI_PREFIX = /^\d{4}-\d\d-\d\dT[\d:.]+(?:Z|[+-]\d\d:\d\d) (?:stdout|stderr) [FP] /
const GO_PREFIX = /^\d{4}-\d\d-\d\dT[\d:.]+(?:Z|[+-]\d\d:\d\d)\s+(?:debug|info|warn|warning|error|fatal)\s+/i
const PLAIN_TIMESTAMP = /^\d{4}-\d\d-\d\dT[\d:.]+(?:Z|[+-]\d\d:\d\d)\s+/

/** Removes a docker JSON-log wrapper, a CRI prefix, an Istio logger prefix and a `set -x` marker from one line. */
export function stripLogPrefixes(raw: string): { text: string; prefixed: boolean; traced: boolean } {
  let text = raw.replace(/\r$/, '')
  let prefixed = false
  if (text.startsWith('{') && text.includes('"log"')) {
    try {
      const rec = JSON.parse(text) as { log?: unknown }
      if (typeof rec.log === 'string') {
        text = rec.log.replace(/\r?\n$/, '')
        prefixed = true
      }
    } catch {
      // not JSON after all: keep the line
    }
  }
  const cri = CRI_PREFIX.exec(text)
  if (cri) {
    text = text.slice(cri[0].length)
    prefixed = true
  }
  const go = GO_PREFIX.exec(text) ?? PLAIN_TIMESTAMP.exec(text)
  if (go) {
    text = text.slice(go[0].length)
    prefixed = true
  }
  let traced = false
  const trace = /^\++ /.exec(text)
  if (trace) {
    text = text.slice(trace[0].length)
    traced = true
  }
  return { text, prefixed, traced }
}

/** Splits a text into lines with runtime/logger prefixes removed, keeping the raw line numbers. */
export function normalizeLogLines(text: string): LogLine[] {
  return text.split('\n').map((raw, i) => ({ ...stripLogPrefixes(raw), line: i + 1 }))
}

const LOG_MARKERS = [
  /^Environment:\s*$/,
  /^Variables:\s*$/,
  /Writing following contents to rules file/,
  /Final ip6?tables state/,
  /Istio iptables (environment|variables)/,
  /Running (ip6?tables|iptables restore)/,
]

/** Whether a text is a container log (istio-init and friends) rather than a bare rules file. */
export function isInitLog(lines: LogLine[]): boolean {
  return lines.some((l) => l.prefixed || l.traced || LOG_MARKERS.some((re) => re.test(l.text)))
}

/** Lines that report a failure of iptables or istio-iptables (a crash-looping init container leaves these). */
export const LOG_ERROR = [
  /ip6?tables(-legacy|-nft)?-restore( v[\d.]+( \(\w+\))?)?: line \d+ failed/i,
  /Chain already exists/i,
  /invalid CIDR address/i,
  /Bad argument/i,
  /Couldn't load (target|match)/i,
  /No chain\/target\/match/i,
  /host\/network .* not found/i,
  /exit status \d+/i,
  /^Error:/,
  /^(error|fatal)\b/i,
  /\bfailed to\b/i,
]

/** Whether a log line reports an iptables or istio-iptables failure. */
export function isLogError(text: string): boolean {
  return LOG_ERROR.some((re) => re.test(text))
}

/** The `Variables:` block (or `Istio iptables variables:`) of an istio-init log as KEY → value. */
export function parseInitLogVariables(text: string): Record<string, string> {
  const out: Record<string, string> = {}
  let inBlock = false
  for (const l of normalizeLogLines(text)) {
    if (/^Variables:\s*$/.test(l.text) || /Istio iptables variables:?/.test(l.text)) {
      inBlock = true
      continue
    }
    if (!inBlock || /^-+$/.test(l.text)) continue
    const m = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(l.text)
    if (m) out[m[1]] = m[2]
    else if (l.text.trim() !== '') inBlock = false
  }
  return out
}
