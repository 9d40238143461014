import { Box, Text } from 'ink'
import type { Trace } from '../../engine/trace/trace.js'
import { cleanText } from '../detail-lines.js'
import { toneStyle } from '../theme.js'

/** Props of the header: the trace shown, whether it comes from an edited request. */
export interface HeaderProps {
  trace: Trace
  edited: boolean
  width: number
  color: boolean
}

/** The request line, the outcome, who sends to where, the headers and the path the request took. */
export function Header({ trace, edited, width, color }: HeaderProps): React.JSX.Element {
  const r = trace.request
  const hostPort = (host: string, port: number): string => `${host.includes(':') ? `[${host}]` : host}:${port}`
  const target = r.protocol === 'tcp'
    ? `tcp://${hostPort(r.destination.host ?? r.destination.ip ?? '', r.destination.port)}`
    : `${r.method ?? 'GET'} ${r.protocol}://${hostPort(r.destination.host ?? '', r.destination.port)}${r.path ?? '/'}`
  const outcome = trace.result.outcome
  const good = outcome === 'forwarded' || outcome === 'passthrough' || outcome === 'direct_response' || outcome === 'redirect'
  const outcomeTone = good ? 'ok' : outcome === 'unknown' ? 'warn' : 'bad'
  const from = r.direction === 'outbound'
    ? `outbound from ${r.source.pod ?? 'the pod'}${r.source.ip !== null ? ` ${r.source.ip}` : ''}${r.source.uid !== null ? ` uid ${r.source.uid}` : ''}`
    : `inbound from ${r.source.ip ?? 'a peer'}`
  const to = [r.destination.fqdn ?? r.destination.host, r.destination.ip !== null ? hostPort(r.destination.ip, r.destination.port) : '(address unknown)']
    .filter((x): x is string => x !== null && x !== '')
    .join(' ')
  const headers = Object.entries(r.headers).filter(([k]) => k !== 'host')
  const res = trace.result
  const path = [res.route !== null ? `route ${res.route}` : null, res.cluster, res.endpoints !== null && res.endpoints.length > 0 ? res.endpoints.join(', ') : null]
    .filter((x): x is string => x !== null)
  const third = [
    headers.length > 0 ? `headers ${headers.map(([k, v]) => `${k}: ${v}`).join('; ')}` : null,
    path.length > 0 ? `→ ${path.join(' → ')}` : res.intercepted === false ? '→ not intercepted: straight to the destination' : null,
  ].filter((x): x is string => x !== null).join('  ')
  const right = `${edited ? '(edited) ' : ''}${outcome}`
  return (
    <Box flexDirection="column" width={width} height={3} flexShrink={0}>
      <Box width={width} height={1}>
        <Box width={Math.max(1, width - right.length - 1)} height={1} overflow="hidden">
          <Text bold wrap="truncate-end">{cleanText(target, 400)}</Text>
        </Box>
        <Text> </Text>
        <Text {...toneStyle(outcomeTone, color)} bold>{right}</Text>
      </Box>
      <Text wrap="truncate-end" {...toneStyle('dim', color)}>{cleanText(`${from} → ${to}`, 400)}</Text>
      <Text wrap="truncate-end" {...toneStyle('info', color)}>{cleanText(third, 400) || ' '}</Text>
    </Box>
  )
}
