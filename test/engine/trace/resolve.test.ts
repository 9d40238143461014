import { describe, expect, it } from 'vitest'
import { resolveFromServices, searchNames } from '../../../src/engine/trace/resolve.js'
import type { ServiceFacts } from '../../../src/engine/snapshot.js'

const services: ServiceFacts[] = [
  { name: 'ratings', namespace: 'default', clusterIPs: ['10.254.234.130'], ports: [{ port: 9080, protocol: 'TCP' }] },
  { name: 'ratings', namespace: 'other', clusterIPs: ['10.254.1.1'], ports: [{ port: 9080, protocol: 'TCP' }] },
  { name: 'db', namespace: 'default', clusterIPs: ['None'], ports: [{ port: 5432, protocol: 'TCP' }] },
]

describe('searchNames', () => {
  it.each([
    ['a short name tries the search domains first', 'ratings', ['ratings.default.svc.cluster.local', 'ratings.svc.cluster.local', 'ratings.cluster.local', 'ratings']],
    ['a name with 5 dots is tried as-is first (ndots:5)', 'a.b.c.d.e.f', ['a.b.c.d.e.f', 'a.b.c.d.e.f.default.svc.cluster.local', 'a.b.c.d.e.f.svc.cluster.local', 'a.b.c.d.e.f.cluster.local']],
    ['a trailing dot is absolute', 'ratings.other.svc.cluster.local.', ['ratings.other.svc.cluster.local']],
  ])('%s', (_n, host, expected) => {
    expect(searchNames(host, 'default')).toEqual(expected)
  })
})

describe('resolveFromServices', () => {
  it.each([
    ['short name in the pod namespace', 'ratings', { ip: '10.254.234.130', fqdn: 'ratings.default.svc.cluster.local', via: 'service' }],
    ['name.namespace reaches another namespace', 'ratings.other', { ip: '10.254.1.1', fqdn: 'ratings.other.svc.cluster.local', via: 'service' }],
    ['the FQDN', 'ratings.other.svc.cluster.local', { ip: '10.254.1.1', via: 'service' }],
    ['an IP literal', '10.1.2.3', { ip: '10.1.2.3', via: 'ip' }],
    ['a headless service has no VIP', 'db', { headless: true, via: 'service', fqdn: 'db.default.svc.cluster.local' }],
    ['an unknown name', 'example.com', { via: 'none' }],
  ])('%s', (_n, host, expected) => {
    expect(resolveFromServices(host, 'default', services)).toMatchObject(expected)
  })
})
