import { describe, expect, it } from 'vitest'
import { loadEnvoyConfig } from '../../../src/engine/envoy/config-dump.js'
import { captureListener, findListenerByAddress, selectListener } from '../../../src/engine/envoy/listener.js'

const V3 = 'type.googleapis.com/envoy.admin.v3.'
type L = { name: string; ip: string; port: number; state?: 'active' | 'warming' | 'draining'; extra?: Record<string, unknown> }

function model(listeners: L[]) {
  return loadEnvoyConfig({
    configDump: {
      configs: [
        {
          '@type': `${V3}ListenersConfigDump`,
          dynamic_listeners: listeners.map((l) => ({ name: l.name, [`${l.state ?? 'active'}_state`]: { listener: { name: l.name, address: { socket_address: { address: l.ip, port_value: l.port } }, filter_chains: [{ filters: [] }], ...l.extra } } })),
        },
      ],
    },
  })
}

const virtual: L = { name: 'virtual', ip: '0.0.0.0', port: 15001, extra: { use_original_dst: true } }
const unbound = (name: string, ip: string, port: number, state?: L['state']): L => ({ name, ip, port, state, extra: { bind_to_port: false } })

describe('findListenerByAddress', () => {
  it.each([
    ['exact ip:port beats the wildcard', [unbound('0.0.0.0_9080', '0.0.0.0', 9080), unbound('10.0.0.5_9080', '10.0.0.5', 9080)], '10.0.0.5', 9080, false, ['10.0.0.5_9080', 'exact']],
    ['the wildcard 0.0.0.0:port when no exact listener', [unbound('0.0.0.0_9080', '0.0.0.0', 9080), unbound('10.0.0.5_9080', '10.0.0.5', 9080)], '10.0.0.6', 9080, false, ['0.0.0.0_9080', 'wildcard']],
    ['near miss: another port is no match', [unbound('0.0.0.0_9080', '0.0.0.0', 9080)], '10.0.0.6', 9081, false, [null, 'none']],
    ['IPv6 uses the [::]:port wildcard, not 0.0.0.0', [unbound('0.0.0.0_9080', '0.0.0.0', 9080), unbound('[::]_9080', '::', 9080)], 'fd00::5', 9080, false, ['[::]_9080', 'wildcard']],
    ['IPv4-mapped IPv6 finds the IPv4 listener', [unbound('10.0.0.5_9080', '10.0.0.5', 9080)], '::ffff:10.0.0.5', 9080, false, ['10.0.0.5_9080', 'exact']],
    ['an IPv4 connection is taken by a [::] listener with ipv4_compat', [{ name: 'dual', ip: '::', port: 15001, extra: { address: { socket_address: { address: '::', port_value: 15001, ipv4_compat: true } } } }], '10.0.0.5', 15001, true, ['dual', 'wildcard']],
    ['near miss: a [::] listener without ipv4_compat does not take IPv4', [{ name: 'v6', ip: '::', port: 15001 }], '10.0.0.5', 15001, true, [null, 'none']],
    ['a warming listener is ignored', [unbound('10.0.0.5_9080', '10.0.0.5', 9080, 'warming'), unbound('0.0.0.0_9080', '0.0.0.0', 9080)], '10.0.0.5', 9080, false, ['0.0.0.0_9080', 'wildcard']],
    ['bind_to_port false cannot accept a socket (kernel lookup)', [unbound('0.0.0.0_9080', '0.0.0.0', 9080)], '10.0.0.5', 9080, true, [null, 'none']],
  ])('%s', (_name, listeners, ip, port, boundOnly, [name, how]) => {
    const r = findListenerByAddress(model(listeners), ip, port, boundOnly)

    expect([r.listener?.name ?? null, r.how]).toEqual([name, how])
  })
})

describe('selectListener', () => {
  it('hands off from the use_original_dst listener to the wildcard and names the exact miss', () => {
    const m = model([virtual, unbound('0.0.0.0_9080', '0.0.0.0', 9080), unbound('10.0.0.9_9080', '10.0.0.9', 9080)])

    const sel = selectListener(m, { direction: 'outbound', delivered: { ip: '127.0.0.1', port: 15001 }, originalDst: { ip: '10.254.234.130', port: 9080 } })

    expect(sel.final?.name).toBe('0.0.0.0_9080')
    expect(sel.ran.map((l) => l.name)).toEqual(['virtual', '0.0.0.0_9080'])
    expect(sel.steps[1].summary).toBe('virtual (0.0.0.0:15001, use_original_dst) hands off to 0.0.0.0_9080 (wildcard 0.0.0.0:9080; no exact 10.254.234.130:9080 listener).')
    expect(sel.steps[1].rejected).toEqual([expect.objectContaining({ candidate: expect.objectContaining({ name: '10.0.0.9_9080' }), reason: 'address-mismatch' })])
  })

  it('without a listener for the original destination the connection stays on the receiving listener', () => {
    const sel = selectListener(model([virtual]), { direction: 'outbound', delivered: { ip: '127.0.0.1', port: 15001 }, originalDst: { ip: '1.2.3.4', port: 443 } })

    expect(sel.final?.name).toBe('virtual')
    expect(sel.steps[1].decision).toMatchObject({ handOff: false })
  })

  it('an original_dst listener filter restores the destination but does not hand off', () => {
    const vi: L = { name: 'virtualInbound', ip: '0.0.0.0', port: 15006, extra: { listener_filters: [{ name: 'envoy.filters.listener.original_dst' }] } }
    const sel = selectListener(model([vi, unbound('0.0.0.0_9080', '0.0.0.0', 9080)]), { direction: 'inbound', delivered: { ip: '10.0.0.5', port: 15006 }, originalDst: { ip: '10.0.0.5', port: 9080 } })

    expect([sel.final?.name, sel.restored, sel.localAddress]).toEqual(['virtualInbound', true, { ip: '10.0.0.5', port: 9080 }])
    expect(sel.steps).toHaveLength(1)
  })

  it('a connection delivered to a bound listener (gateway, no interception) uses it directly', () => {
    const gw: L = { name: '0.0.0.0_8080', ip: '0.0.0.0', port: 8080 }
    const sel = selectListener(model([gw]), { direction: 'inbound', delivered: { ip: '10.0.0.5', port: 8080 }, originalDst: { ip: '10.0.0.5', port: 8080 } })

    expect([sel.final?.name, sel.restored]).toEqual(['0.0.0.0_8080', false])
  })

  it('nothing bound at the delivered address is no listener', () => {
    const sel = selectListener(model([unbound('0.0.0.0_15001', '0.0.0.0', 15001)]), { direction: 'outbound', delivered: { ip: '127.0.0.1', port: 15001 }, originalDst: { ip: '1.2.3.4', port: 80 } })

    expect(sel.final).toBeNull()
    expect(sel.steps[0]).toMatchObject({ outcome: 'no_match', rejected: [expect.objectContaining({ reason: 'not-bound' })] })
  })
})

describe('captureListener (no iptables in the snapshot)', () => {
  it.each([
    ['outbound: the use_original_dst listener on 15001', 'outbound', [virtual, { name: 'virtualInbound', ip: '0.0.0.0', port: 15006 }], 'virtual'],
    ['inbound: virtualInbound on 15006 when present', 'inbound', [virtual, { name: 'virtualInbound', ip: '0.0.0.0', port: 15006 }], 'virtualInbound'],
    ['inbound in 1.1-era layouts: the use_original_dst listener', 'inbound', [virtual], 'virtual'],
    ['a gateway has no capture listener', 'outbound', [{ name: '0.0.0.0_8080', ip: '0.0.0.0', port: 8080 }], null],
  ] as const)('%s', (_name, direction, listeners, expected) => {
    expect(captureListener(model([...listeners]), direction)?.name ?? null).toBe(expected)
  })
})
