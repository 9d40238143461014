import { describe, expect, it } from 'vitest'
import { parseRules } from '../../../src/engine/iptables/parse.js'
import { hookMayAct } from '../../../src/engine/iptables/walk.js'
import { save } from './rulesets.js'

const rawTable = (body: string, policies: Record<string, string> = {}) => parseRules(save({ raw: body }, policies)).v4!.tables.get('raw')!

describe('hookMayAct: whether a (table, hook) walk can do anything to a packet of a protocol', () => {
  it.each([
    ['an empty chain', '', 'tcp', false],
    ['only -p udp rules, for TCP', '-A OUTPUT -p udp -m udp --dport 53 -j CT --zone 2', 'tcp', false],
    ['only -p udp rules, for UDP', '-A OUTPUT -p udp -m udp --dport 53 -j CT --zone 2', 'udp', true],
    ['! -p tcp rules, for TCP', '-A OUTPUT ! -p tcp -j CT --notrack', 'tcp', false],
    ['-p all acts on anything', '-A OUTPUT -p all -j CT --notrack', 'tcp', true],
    ['a RETURN never acts', '-A OUTPUT -p tcp -j RETURN', 'tcp', false],
    ['a rule with no target only counts', '-A OUTPUT -p tcp', 'tcp', false],
    ['LOG records an action', '-A OUTPUT -p tcp -j LOG', 'tcp', true],
    ['ACCEPT decides', '-A OUTPUT -p tcp -j ACCEPT', 'tcp', true],
    ['a jump into a chain that only returns', '-A OUTPUT -j CH\n-A CH -p tcp -j RETURN', 'tcp', false],
    ['a jump into a chain that acts', '-A OUTPUT -j CH\n-A CH -p tcp -j CT --notrack', 'tcp', true],
    ['an unknown match the packet reaches (the walk reports it)', '-A OUTPUT -m statistic --mode random --probability 0.5 -j CT --notrack', 'tcp', true],
    ['an unknown match after a failing protocol test is never reached', '-A OUTPUT -p udp -m statistic --mode random --probability 0.5 -j CT --notrack', 'tcp', false],
    // The kernel tests -p (ip_packet_match) before any -m module, wherever it is written; the parser orders it first.
    ['-p written after the unknown match still rules the packet out first', '-A OUTPUT -m statistic --mode random --probability 0.5 -p udp -j CT --notrack', 'tcp', false],
  ] as const)('%s (%s) → %s', (_name, body, protocol, expected) => {
    expect(hookMayAct(rawTable(body), 'OUTPUT', protocol)).toBe(expected)
  })

  it('a DROP policy always acts', () => {
    expect(hookMayAct(rawTable('', { 'raw/OUTPUT': 'DROP' }), 'OUTPUT', 'tcp')).toBe(true)
  })

  it('a hook the table does not have never acts', () => {
    expect(hookMayAct(rawTable(''), 'INPUT', 'tcp')).toBe(false)
  })
})
