import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { loadBundleCluster, type FakeClusterData, type KubeObject } from '../../fake-apiserver/cluster-data.js'
import { startFakeApiServer, type FakeApiServer, type FakeApiServerOptions } from '../../fake-apiserver/fake-apiserver.js'
import type { KubeOptions } from '../../../src/collect/cluster/collect-pod.js'

/** The repository root (examples/ live there). */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..')

/** The bookinfo sample's pod, as the fake cluster serves it. */
export const BOOKINFO_POD = 'reviews-v1-cb8655c75-b97zc'

/** The fake cluster of a bundle under examples/. */
export function exampleCluster(name = 'bookinfo'): FakeClusterData {
  return loadBundleCluster(path.join(ROOT, 'examples', name))
}

/** A fake server over the bookinfo sample (or `data`), and KubeOptions pointing at it. */
export async function startBookinfo(options: Partial<FakeApiServerOptions> = {}): Promise<{ server: FakeApiServer; kube: KubeOptions }> {
  const server = await startFakeApiServer({ data: exampleCluster(), ...options })
  return { server, kube: { kubeconfig: server.kubeconfigPath, container: 'istio-proxy', requestTimeout: '5s' } }
}

/** A deep copy of a pod object with a new name and IP (for --follow and workload tests). */
export function clonePod(pod: KubeObject, name: string, ip: string, patch: (p: KubeObject) => void = () => {}): KubeObject {
  const copy = JSON.parse(JSON.stringify(pod)) as KubeObject
  copy.metadata.name = name
  copy.status.podIP = ip
  copy.status.podIPs = [{ ip }]
  patch(copy)
  return copy
}
