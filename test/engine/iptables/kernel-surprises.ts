/**
 * Behaviours where the kernel differs from a first reading of iptables(8); each was found or confirmed by
 * kernel-differential.test.ts, which also replays these rows against real netfilter.
 */
import type { Connection } from '../../../src/engine/iptables/netfilter.js'
import { save } from './rulesets.js'

/** One surprising case: rules, a TCP connection, and what the kernel does with it. */
export interface KernelSurprise {
  name: string
  /** One line: where the behaviour comes from. */
  source: string
  rules: string
  protocol?: 'tcp' | 'udp'
  direction: 'outbound' | 'inbound'
  src: string
  dst: string
  dport: number
  uid: number
  intercepted: boolean
  dropped: boolean
}

const POD = '10.244.2.5'
const PEER = '198.51.100.10'
/** Istio-style DNS capture (so the proxy is uid 1337) whose raw rules zone the answers of `proxyUid`'s socket on 15053. */
const DNS_ZONES = (proxyUid: number) =>
  save({
    raw: `-A OUTPUT -p udp -m udp --sport 15053 -m owner --uid-owner ${proxyUid} -j CT --zone 2\n-A OUTPUT -d 127.0.0.53/32 -p udp -m udp --dport 53 -j CT --zone 2`,
    nat: '-A OUTPUT -j ISTIO_OUTPUT_DNS\n-A ISTIO_OUTPUT_DNS -d 127.0.0.53/32 -p udp -m udp --dport 53 -j REDIRECT --to-ports 15053',
  })
const TPROXY = '-A PREROUTING -p tcp -j TPROXY --on-port 15006 --on-ip 0.0.0.0 --tproxy-mark 0x539/0xffffffff'

/** The surprises, each a test row for the simulator and for the kernel. */
export const KERNEL_SURPRISES: KernelSurprise[] = [
  {
    name: 'after REDIRECT in nat OUTPUT, filter OUTPUT still sees -o eth0',
    source: 'nf_hook_state.out is fixed by the first route lookup; ip_route_me_harder after nat does not change it',
    rules: save({ nat: '-A OUTPUT -p tcp -j REDIRECT --to-ports 15001', filter: '-A OUTPUT -o eth0 -p tcp -j DROP' }),
    direction: 'outbound', src: POD, dst: '203.0.113.9', dport: 80, uid: 1000, intercepted: false, dropped: true,
  },
  {
    name: 'after REDIRECT in nat OUTPUT, mangle POSTROUTING sees -o lo',
    source: 'ip_output hands POSTROUTING the device of the rerouted skb_dst',
    rules: save({ nat: '-A OUTPUT -p tcp -j REDIRECT --to-ports 15001', mangle: '-A POSTROUTING -o eth0 -p tcp -j DROP' }),
    direction: 'outbound', src: POD, dst: '203.0.113.9', dport: 80, uid: 1000, intercepted: true, dropped: false,
  },
  {
    name: 'a connection from 127.0.0.6 DNATed to a remote address is dropped',
    source: 'ip_route_me_harder: a loopback source may not leave through eth0',
    rules: save({ nat: '-A OUTPUT -p tcp -j DNAT --to-destination 198.51.100.7:81' }),
    direction: 'outbound', src: '127.0.0.6', dst: '127.0.0.1', dport: 8080, uid: 1337, intercepted: false, dropped: true,
  },
  {
    name: 'inbound DNAT to 127.0.0.1 is dropped as a martian',
    source: 'ip_route_input_slow: loopback destination on a non-loopback device (route_localnet=0)',
    rules: save({ nat: '-A PREROUTING -p tcp -j DNAT --to-destination 127.0.0.1:15003' }),
    direction: 'inbound', src: PEER, dst: POD, dport: 9080, uid: 0, intercepted: false, dropped: true,
  },
  {
    name: 'inbound DNAT to a remote address is dropped: a pod does not forward',
    source: 'net.ipv4.ip_forward is 0 in a new network namespace',
    rules: save({ nat: '-A PREROUTING -p tcp -j DNAT --to-destination 198.51.100.7:81' }),
    direction: 'inbound', src: PEER, dst: POD, dport: 9080, uid: 0, intercepted: false, dropped: true,
  },
  {
    name: 'TPROXY without an ESTABLISHED divert drops the replies of outbound connections',
    source: 'xt_TPROXY: an established socket that is not transparent means NF_DROP',
    rules: save({ mangle: TPROXY }),
    direction: 'outbound', src: POD, dst: '203.0.113.9', dport: 80, uid: 1000, intercepted: false, dropped: true,
  },
  {
    name: "Istio's --ctstate RELATED,ESTABLISHED divert lets those replies through",
    source: 'iptables-semantics.md §4d: ISTIO_DIVERT before ISTIO_TPROXY',
    rules: save({ mangle: `-A PREROUTING -p tcp -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n${TPROXY}` }),
    direction: 'outbound', src: POD, dst: '203.0.113.9', dport: 80, uid: 1000, intercepted: false, dropped: false,
  },
  {
    name: 'TPROXY followed by a nat REDIRECT never completes the handshake',
    source: "xt_TPROXY looks up the client's ACK by its pre-nat address, finds only the listener, which resets it",
    rules: save({ mangle: TPROXY, nat: '-A PREROUTING -p tcp -j REDIRECT --to-ports 15006' }),
    direction: 'inbound', src: PEER, dst: POD, dport: 9080, uid: 0, intercepted: false, dropped: true,
  },
  {
    name: 'REJECT of ESTABLISHED in filter OUTPUT blocks an inbound connection (its SYN-ACK)',
    source: 'the reply passes raw/mangle/filter OUTPUT; only nat is skipped for it',
    rules: save({ filter: '-A OUTPUT -p tcp -m conntrack --ctstate ESTABLISHED -j REJECT --reject-with tcp-reset' }),
    direction: 'inbound', src: PEER, dst: POD, dport: 9080, uid: 0, intercepted: false, dropped: true,
  },
  {
    name: "-m socket matches the client's ACK, so a DROP on it blocks the connection",
    source: 'xt_socket finds the established socket for every packet after the SYN',
    rules: save({ mangle: '-A PREROUTING -p tcp -m socket -j DROP' }),
    direction: 'inbound', src: PEER, dst: POD, dport: 9080, uid: 0, intercepted: false, dropped: true,
  },
  {
    name: '! -d 127.0.0.1/32 still matches 127.0.0.6',
    source: 'iptables-semantics.md §8',
    rules: save({ nat: '-A OUTPUT ! -d 127.0.0.1/32 -p tcp -j REDIRECT --to-ports 15001' }),
    direction: 'outbound', src: POD, dst: '127.0.0.6', dport: 8080, uid: 1000, intercepted: true, dropped: false,
  },
  {
    name: 'nat PREROUTING is not consulted when a local connection loops back over lo',
    source: 'nf_nat_inet_fn: the DST manip was already set up in OUTPUT',
    rules: save({ nat: '-A PREROUTING -p tcp -j REDIRECT --to-ports 15006' }),
    direction: 'outbound', src: POD, dst: POD, dport: 8080, uid: 1000, intercepted: false, dropped: false,
  },
  {
    name: 'conntrack zones: a DNS answer from a socket the raw rules do not zone never reaches the app',
    source: 'xt_CT: the answer is looked up in zone 0, misses the zone-2 query, and nat is not undone',
    rules: DNS_ZONES(3),
    protocol: 'udp', direction: 'outbound', src: POD, dst: '127.0.0.53', dport: 53, uid: 1000, intercepted: false, dropped: true,
  },
  {
    name: 'conntrack zones: the answer from the proxy uid named in raw gets back',
    source: 'iptables-semantics.md §4c (DNS capture: CT --zone 1|2)',
    rules: DNS_ZONES(1337),
    protocol: 'udp', direction: 'outbound', src: POD, dst: '127.0.0.53', dport: 53, uid: 1000, intercepted: true, dropped: false,
  },
  {
    name: 'raw runs before conntrack: --ctstate there sees INVALID, not NEW',
    source: 'xt_conntrack: no conntrack entry yet means the INVALID state bit',
    rules: save({ raw: '-A OUTPUT -p tcp -m conntrack --ctstate INVALID -j CT --notrack', nat: '-A OUTPUT -p tcp -j REDIRECT --to-ports 15001' }),
    direction: 'outbound', src: POD, dst: '203.0.113.9', dport: 80, uid: 1000, intercepted: false, dropped: false,
  },
  {
    name: 'with no nat table at all, a connection to the pod IP still loops back over lo into filter INPUT',
    source: 'ip_output → loopback_xmit → ip_rcv: PREROUTING and INPUT run whatever tables exist',
    rules: save({ filter: '-A INPUT -i lo -p tcp -m tcp --dport 8080 -j DROP' }),
    direction: 'outbound', src: POD, dst: POD, dport: 8080, uid: 1000, intercepted: false, dropped: true,
  },
  {
    name: 'an untracked connection to the pod IP skips nat but still loops back over lo into filter INPUT',
    source: 'NOTRACK: nf_nat sees no conntrack entry; the route to a local address is still via lo',
    rules: save({ raw: '-A OUTPUT -p tcp -j CT --notrack', nat: '-A OUTPUT -p tcp -j REDIRECT --to-ports 15001', filter: '-A INPUT -i lo -p tcp -m tcp --dport 8080 -j DROP' }),
    direction: 'outbound', src: POD, dst: POD, dport: 8080, uid: 1000, intercepted: false, dropped: true,
  },
]

/** The simulator's connection for a surprise row (IPv4, fixed source port). */
export function surpriseConnection(k: KernelSurprise, srcPort = 40000): Connection {
  return {
    direction: k.direction,
    protocol: k.protocol ?? 'tcp',
    srcIp: k.src,
    srcPort,
    dstIp: k.dst,
    dstPort: k.dport,
    ...(k.direction === 'outbound' ? { uid: k.uid, gid: k.uid } : {}),
    podIps: [POD, 'fd00::5'],
  }
}
