import { describe, expect, it } from 'vitest'
import { clusterNotFoundFlag, lookupCluster, parseIstioClusterName } from '../../../src/engine/envoy/cluster.js'
import { loadEnvoyConfig } from '../../../src/engine/envoy/config-dump.js'

const withVersion = (v: Record<string, unknown>, clusters: unknown[] = []) =>
  loadEnvoyConfig({ configDump: { configs: [{ '@type': 'type.googleapis.com/envoy.admin.v3.BootstrapConfigDump', bootstrap: { node: v } }, { '@type': 'type.googleapis.com/envoy.admin.v3.ClustersConfigDump', dynamic_active_clusters: clusters.map((cluster) => ({ cluster })) }] } })

describe('clusterNotFoundFlag (NC since Envoy 1.18, NR before)', () => {
  it.each([
    ['Envoy 1.11 says NR', { build_version: 'abc/1.11.0-dev/Clean/RELEASE/BoringSSL' }, 'NR'],
    ['Envoy 1.17.9 still says NR', { user_agent_build_version: { version: { major_number: 1, minor_number: 17, patch: 9 } } }, 'NR'],
    ['Envoy 1.18 says NC', { user_agent_build_version: { version: { major_number: 1, minor_number: 18 } } }, 'NC'],
    ['an unknown version names both', {}, 'NC (NR before Envoy 1.18)'],
  ])('%s', (_name, node, flag) => {
    expect(clusterNotFoundFlag(withVersion(node))).toBe(flag)
  })
})

describe('parseIstioClusterName', () => {
  it.each([
    ['outbound with subset', 'outbound|9080|v1|reviews.default.svc.cluster.local', { direction: 'outbound', port: 9080, subset: 'v1', host: 'reviews.default.svc.cluster.local' }],
    ['inbound 1.8+ (no host)', 'inbound|9080||', { direction: 'inbound', port: 9080, subset: '', host: '' }],
    ['near miss: the DNS-SRV SNI form is not a cluster name', 'outbound_.9080_.v1_.reviews.default.svc.cluster.local', null],
    ['a catch-all cluster', 'PassthroughCluster', null],
  ])('%s', (_name, name, expected) => {
    expect(parseIstioClusterName(name)).toEqual(expected)
  })
})

describe('lookupCluster', () => {
  it('reports type, lb policy, subset and DestinationRule provenance', () => {
    const model = withVersion({}, [{ name: 'outbound|9080|v1|reviews.default.svc.cluster.local', type: 'EDS', lb_policy: 'LEAST_REQUEST', metadata: { filter_metadata: { istio: { config: '/apis/networking.istio.io/v1alpha3/namespaces/default/destination-rule/reviews' } } } }])

    const { step } = lookupCluster(model, 'outbound|9080|v1|reviews.default.svc.cluster.local', 'cluster')

    expect(step).toMatchObject({ outcome: 'matched', decision: { type: 'EDS', lbPolicy: 'LEAST_REQUEST', subset: 'v1', destinationRule: 'reviews' } })
  })

  it('a missing cluster is unresolved with cluster-not-found and the flag for this Envoy', () => {
    const { cluster, step } = lookupCluster(withVersion({ build_version: 'x/1.30.0/Clean' }, [{ name: 'a' }]), 'outbound|9080|v3|reviews.default.svc.cluster.local', 'cluster')

    expect(cluster).toBeNull()
    expect(step).toMatchObject({ outcome: 'unresolved', decision: { responseCode: 503, responseFlag: 'NC' } })
    expect(step.findings.map((f) => f.code)).toEqual(['cluster-not-found'])
  })

  it('near miss: without any cluster dump the snapshot lacks the data, not the cluster', () => {
    const { step } = lookupCluster(loadEnvoyConfig({ configDump: { configs: [] } }), 'c', 'cluster')

    expect(step.findings.map((f) => f.code)).toEqual(['config-missing-from-snapshot'])
  })
})
