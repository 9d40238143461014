import { readFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { collectFromPod, collectPodByIp, type KubeOptions } from '../../../src/collect/cluster/collect-pod.js'
import { ADMIN_GET_ALLOW_LIST } from '../../../src/collect/cluster/admin-paths.js'
import { podFacts, readOfflineSnapshot, serviceFacts } from '../../../src/collect/bundle/read-bundle.js'
import { UserError } from '../../../src/errors.js'
import { parseRequest } from '../../../src/engine/trace/request.js'
import { prepareSnapshot, traceRequest } from '../../../src/engine/trace/trace-request.js'
import type { Snapshot } from '../../../src/engine/snapshot.js'
import { startFakeApiServer, type FakeApiServer, type FakeApiServerOptions, type RecordedRequest } from '../../fake-apiserver/fake-apiserver.js'
import { BOOKINFO_POD, ROOT, clonePod, exampleCluster } from './fixtures.js'

const MODERN_POD = 'reviews-v1-5b5d6494f4-7xk2p'

async function withCluster<T>(options: Partial<FakeApiServerOptions>, fn: (server: FakeApiServer, kube: KubeOptions) => Promise<T>, kubeOverrides: Partial<KubeOptions> = {}): Promise<T> {
  const server = await startFakeApiServer({ data: exampleCluster(), ...options })
  try {
    return await fn(server, { kubeconfig: server.kubeconfigPath, container: 'istio-proxy', requestTimeout: '5s', ...kubeOverrides })
  } finally {
    await server.close()
  }
}

async function expectUserError(p: Promise<unknown>, code: string, message: RegExp): Promise<UserError> {
  const err = await p.then(() => undefined, (e: unknown) => e)
  expect(err).toBeInstanceOf(UserError)
  expect((err as UserError).code).toBe(code)
  expect((err as UserError).message).toMatch(message)
  return err as UserError
}

/** Nothing but GETs (upgrades included); a POST only to SelfSubjectAccessReview, which writes nothing. */
function expectReadOnly(requests: RecordedRequest[], options: { ssarAllowed?: boolean } = {}): void {
  for (const r of requests) {
    if (r.endpoint === 'ssar' && options.ssarAllowed === true) {
      expect(r.method).toBe('POST')
      continue
    }
    expect(`${r.method} ${r.path}`).toMatch(/^GET /)
  }
  for (const r of requests.filter((q) => q.endpoint.startsWith('admin:'))) {
    expect(ADMIN_GET_ALLOW_LIST).toContain(r.endpoint.slice('admin:'.length))
    if (r.command !== undefined) expect(r.command.slice(0, 3)).toEqual(['pilot-agent', 'request', 'GET'])
    if (r.upgrade === false) expect(r.method).toBe('GET') // an HTTP request through a port-forward
  }
  expect(requests.filter((r) => r.upgrade).every((r) => r.endpoint.startsWith('admin:') || r.endpoint === 'portforward')).toBe(true)
}

const served = (bundle: string, file: string): string => readFileSync(path.join(ROOT, 'examples', bundle, file), 'utf8')

describe('collectFromPod on the bookinfo sample', () => {
  it('collects exactly what the cluster serves', async () => {
    await withCluster({}, async (server, kube) => {
      const snapshot = await collectFromPod(BOOKINFO_POD, kube)

      expect(snapshot.notes).toEqual([])
      expect(snapshot.pod).toEqual(podFacts(JSON.parse(served('bookinfo', 'pod.json')), 'pod'))
      expect(snapshot.iptables).toEqual({ v4: server.data.pods[0].logs['istio-init'], origin: 'init-log' })
      expect(snapshot.envoy?.origin).toBe('exec')
      expect(snapshot.envoy?.configDump).toEqual(JSON.parse(served('bookinfo', 'config_dump.json')))
      expect(snapshot.envoy?.clusters).toEqual(JSON.parse(served('bookinfo', 'clusters.json')))
      expect(snapshot.envoy?.stats).toBe(served('bookinfo', 'stats.txt'))
      expect(snapshot.services).toEqual(serviceFacts(JSON.parse(served('bookinfo', 'services.json')), 'services'))
      expect(snapshot.pods?.map((p) => p.name)).toContain('ratings-v1-8558d4458d-ns6lk')
      // Pods of other namespaces come from the EndpointSlices that name them.
      expect(snapshot.pods).toContainEqual({ name: 'istio-pilot-5c4995d687-4b6mz', namespace: 'istio-system', ips: ['172.33.3.2'] })
    })
  })

  it('issues no mutating call and no admin path outside the allow-list', async () => {
    await withCluster({}, async (server, kube) => {
      await collectFromPod(BOOKINFO_POD, kube)

      expectReadOnly(server.requests)
      expect(server.requests.filter((r) => r.upgrade).map((r) => r.protocol)).toEqual(['v5.channel.k8s.io', 'v5.channel.k8s.io', 'v5.channel.k8s.io'])
    })
  })

  it('sends each admin request as `pilot-agent request GET <path>`, an argument array, in the sidecar', async () => {
    await withCluster({}, async (server, kube) => {
      await collectFromPod(BOOKINFO_POD, kube)

      const execs = server.requests.filter((r) => r.command !== undefined).map((r) => ({ command: r.command, container: r.container, query: r.query.command }))
      expect(execs).toEqual(expect.arrayContaining([
        { command: ['pilot-agent', 'request', 'GET', 'config_dump?include_eds'], container: 'istio-proxy', query: ['pilot-agent', 'request', 'GET', 'config_dump?include_eds'] },
        { command: ['pilot-agent', 'request', 'GET', 'clusters?format=json'], container: 'istio-proxy', query: ['pilot-agent', 'request', 'GET', 'clusters?format=json'] },
        { command: ['pilot-agent', 'request', 'GET', 'stats'], container: 'istio-proxy', query: ['pilot-agent', 'request', 'GET', 'stats'] },
      ]))
      expect(execs).toHaveLength(3)
    })
  })

  it('waits about as long as the slowest single fetch, not the sum', async () => {
    const slow = ['log', 'admin:config_dump', 'admin:clusters', 'admin:stats', 'services', 'pods'].map((endpoint) => ({ endpoint, latencyMs: 300 }))
    await withCluster({ faults: slow }, async (_server, kube) => {
      const started = performance.now()
      const snapshot = await collectFromPod(BOOKINFO_POD, kube)
      const wall = performance.now() - started

      expect(snapshot.notes).toEqual([])
      expect(wall).toBeGreaterThanOrEqual(300)
      expect(wall).toBeLessThan(300 * 1.7) // the sum would be 1800 ms
    })
  })
})

describe('a live trace gives the same result as the bundle', () => {
  it.each([
    ['bookinfo', BOOKINFO_POD, 'http://ratings:9080/ratings/0', false],
    ['bookinfo', BOOKINFO_POD, 'http://:9080/reviews/0', true],
    ['bookinfo-modern', MODERN_POD, 'http://ratings:9080/ratings/0', false],
    ['bookinfo-modern', MODERN_POD, 'http://:9080/reviews/0', true],
  ])('%s %s %s', async (bundle, pod, url, inbound) => {
    const server = await startFakeApiServer({ data: exampleCluster(bundle) })
    try {
      const live = await collectFromPod(pod, { kubeconfig: server.kubeconfigPath, container: 'istio-proxy', requestTimeout: '5s' })
      const offline = await readOfflineSnapshot({ bundle: path.join(ROOT, 'examples', bundle) })
      const request = parseRequest(url, { inbound })

      const liveResult = traceRequest(prepareSnapshot(live), request).result
      const offlineResult = traceRequest(prepareSnapshot(offline), request).result

      expect(liveResult).toEqual(offlineResult)
      expect(liveResult.outcome).toBe('forwarded')
    } finally {
      await server.close()
    }
  })
})

describe('targets', () => {
  it.each([
    ['pod/NAME', `pod/${BOOKINFO_POD}`],
    ['deploy/NAME', 'deploy/reviews-v1'],
    ['deployment/NAME', 'deployment/reviews-v1'],
  ])('%s resolves to the ready pod and says which', async (_name, target) => {
    await withCluster({}, async (server, kube) => {
      const messages: string[] = []
      const snapshot = await collectFromPod(target, kube, (m) => messages.push(m))

      expect(snapshot.pod?.name).toBe(BOOKINFO_POD)
      if (target.startsWith('deploy')) expect(messages).toContain(`deploy/reviews-v1: using pod ${BOOKINFO_POD} (1 of 1 ready)`)
      expectReadOnly(server.requests)
    })
  })

  it.each([
    ['sts', 'StatefulSet', 'db'],
    ['ds', 'DaemonSet', 'agent'],
  ])('%s/NAME picks a ready pod of the %s, skipping one that is not ready', async (short, kind, workload) => {
    const data = exampleCluster()
    const base = data.pods[0]
    const make = (name: string, ip: string, ready: boolean) => ({
      ...base,
      object: clonePod(base.object, name, ip, (p) => {
        p.metadata.labels = { app: workload }
        p.metadata.ownerReferences = [{ kind, name: workload, apiVersion: 'apps/v1' }]
        if (!ready) p.status.conditions = [{ type: 'Ready', status: 'False' }]
      }),
    })
    data.pods.push(make(`${workload}-0`, '10.0.0.10', false), make(`${workload}-1`, '10.0.0.11', true))
    await withCluster({ data }, async (_server, kube) => {
      const messages: string[] = []
      const snapshot = await collectFromPod(`${short}/${workload}`, kube, (m) => messages.push(m))

      expect(snapshot.pod?.name).toBe(`${workload}-1`)
      expect(messages).toContain(`${short}/${workload}: using pod ${workload}-1 (1 of 2 ready)`)
    })
  })

  it('suggests close names for a pod that does not exist', async () => {
    await withCluster({}, async (_server, kube) => {
      const err = await expectUserError(collectFromPod('reviews-v1-cb8655c75-b97zx', kube), 'pod-not-found', /^Pod reviews-v1-cb8655c75-b97zx was not found in namespace default\.$/)

      expect(err.hint).toContain(BOOKINFO_POD)
    })
  })

  it('takes the namespace from --context when -n is not given', async () => {
    await withCluster({}, async (_server, kube) => {
      await expectUserError(collectFromPod(BOOKINFO_POD, { ...kube, context: 'fake-other' }), 'pod-not-found', /in namespace other/)
    })
  })

  it('reads $KUBECONFIG with several files, the first one winning', async () => {
    await withCluster({}, async (server) => {
      const { connectToCluster } = await import('../../../src/collect/cluster/kube-connection.js')
      const conn = await connectToCluster({ container: 'istio-proxy', requestTimeout: '5s' }, { KUBECONFIG: `${server.kubeconfigPath}${path.delimiter}/nonexistent/config` })

      expect(conn.namespace).toBe('default')
      expect(conn.server).toBe(server.url)
    })
  })
})

/** Pods that break one way each. */
function brokenPod(change: (p: Record<string, any>) => void) { // eslint-disable-line @typescript-eslint/no-explicit-any
  const data = exampleCluster()
  change(data.pods[0].object)
  return data
}

describe('pods that cannot be read', () => {
  it.each([
    ['not running', brokenPod((p) => { p.status.phase = 'Pending' }), 'istio-proxy', 'pod-not-running', /is Pending, not Running/],
    ['without the sidecar', exampleCluster(), 'envoy', 'pod-not-meshed', /has no envoy container \(it has reviews, istio-proxy\)/],
    ['in ambient mode', brokenPod((p) => { p.metadata.annotations['ambient.istio.io/redirection'] = 'enabled'; p.spec.containers = p.spec.containers.filter((c: { name: string }) => c.name !== 'istio-proxy') }), 'istio-proxy', 'pod-ambient', /is in Istio ambient mode: it has no sidecar/],
    ['with the sidecar not ready', brokenPod((p) => { p.status.containerStatuses[0].ready = false; p.status.containerStatuses[0].state = { waiting: { reason: 'CrashLoopBackOff' } } }), 'istio-proxy', 'container-not-ready', /istio-proxy container of pod default\/.* is not ready \(CrashLoopBackOff\)/],
  ])('a pod %s is refused with one sentence', async (_name, data, container, code, message) => {
    await withCluster({ data }, async (_server, kube) => {
      await expectUserError(collectFromPod(BOOKINFO_POD, { ...kube, container }), code, message)
    })
  })
})

interface FaultCase {
  name: string
  options: Partial<FakeApiServerOptions>
  kube?: Partial<KubeOptions>
  /** Either the snapshot's notes match, or the collection throws this code and message. */
  notes?: RegExp[]
  missing?: Array<'iptables' | 'configDump' | 'clusters' | 'stats' | 'services'>
  error?: [string, RegExp]
  ssar?: boolean
  check?: (snapshot: Snapshot, requests: RecordedRequest[]) => void
}

const FAULTS: FaultCase[] = [
  {
    name: 'a cut exec stream (close 1006, no status) is a failure, retried once, never a complete dump',
    options: { faults: [{ endpoint: 'admin:config_dump', cut: true }] },
    notes: [/^envoy: config_dump\?include_eds could not be read: the exec stream closed before pilot-agent finished \(no status received; \d+ bytes arrived\)\.$/],
    missing: ['configDump'],
    check: (_s, requests) => expect(requests.filter((r) => r.endpoint === 'admin:config_dump?include_eds')).toHaveLength(2),
  },
  {
    name: 'a stream cut once is retried and then complete',
    options: { faults: [{ endpoint: 'admin:config_dump', cut: true, times: 1 }] },
    notes: [],
    check: (s) => expect(s.envoy?.configDump).toEqual(JSON.parse(served('bookinfo', 'config_dump.json'))),
  },
  {
    name: 'a truncated config dump (Success status, half the JSON) is detected and retried once',
    options: { faults: [{ endpoint: 'admin:config_dump', truncate: true }] },
    notes: [/^envoy: config_dump\?include_eds could not be read: the config_dump\?include_eds reply is not complete JSON \(\d+ bytes, starting "\{/],
    missing: ['configDump'],
  },
  {
    name: 'a slow admin runs into --request-timeout, and the rest is kept',
    options: { faults: [{ endpoint: 'admin:stats', latencyMs: 3000 }] },
    kube: { requestTimeout: '500ms' },
    notes: [/^envoy: stats could not be read: Reading Envoy stats timed out: exec pilot-agent request GET stats did not finish within 0\.5s/],
    missing: ['stats'],
  },
  {
    name: 'a 403 on the init log names get pods/log, and the trace starts at Envoy',
    options: { deny: ['get pods/log'] },
    notes: [/^iptables: the log of init container istio-init could not be read: You are not allowed to get pods\/log in namespace default \(403 Forbidden, confirmed by a SelfSubjectAccessReview\); the trace starts at the Envoy listener\.$/],
    missing: ['iptables'],
    ssar: true,
  },
  {
    name: 'a 500 on services becomes a note',
    options: { faults: [{ endpoint: 'services', status: 500 }] },
    notes: [/^services: could not be listed: The API server failed while reading services \(500: fault injected on services\)/],
    missing: ['services'],
  },
  {
    name: 'no cluster-wide services permission falls back to the namespace',
    options: { faults: [{ endpoint: 'services', status: 403, times: 1 }] },
    notes: [/^services: only namespace default could be listed/],
  },
  {
    name: 'an admin that does not answer becomes a note while iptables still trace',
    options: { faults: [{ endpoint: 'admin:', adminDown: true }] },
    notes: [/^envoy: clusters\?format=json could not be read: the Envoy admin on :15000 does not answer \(Error: failure sending request/, /^envoy: config_dump/, /^envoy: stats/],
    missing: ['configDump', 'clusters', 'stats'],
  },
  {
    name: 'exec and port-forward denied: the note names create pods/exec',
    options: { deny: ['create pods/exec', 'create pods/portforward'] },
    notes: [/^envoy: clusters\?format=json could not be read: You are not allowed to create pods\/exec in namespace default \(403 Forbidden, confirmed by a SelfSubjectAccessReview\)\.$/, /^envoy: config_dump/, /^envoy: stats/],
    missing: ['configDump', 'clusters', 'stats'],
    ssar: true,
  },
  {
    name: 'exec denied but port-forward allowed: the admin is read through a port-forward',
    options: { deny: ['create pods/exec'] },
    notes: [],
    check: (s, requests) => {
      expect(s.envoy?.origin).toBe('port-forward')
      expect(requests.filter((r) => r.endpoint === 'portforward').every((r) => r.query.ports?.[0] === '15000')).toBe(true)
    },
  },
  {
    name: 'no cluster-wide endpointslices permission falls back to the namespace, quietly',
    options: { faults: [{ endpoint: 'endpointslices', status: 403, times: 1 }] },
    notes: [],
    check: (s) => expect(s.pods?.some((p) => p.namespace === 'istio-system')).toBe(false),
  },
  {
    name: 'a 404 on the pod is pod-not-found',
    options: { faults: [{ endpoint: 'pod', status: 404 }] },
    error: ['pod-not-found', /^Pod reviews-v1-cb8655c75-b97zc was not found in namespace default\.$/],
  },
  {
    name: 'a 403 on the pod names get pods',
    options: { deny: ['get pods'] },
    error: ['rbac-forbidden', /^You are not allowed to get pods in namespace default \(403 Forbidden, confirmed by a SelfSubjectAccessReview\)\.$/],
    ssar: true,
  },
  {
    name: 'exec, port-forward and the log all denied: nothing to trace names create pods/exec',
    options: { deny: ['create pods/exec', 'create pods/portforward', 'get pods/log'] },
    error: ['rbac-forbidden', /^You are not allowed to create pods\/exec in namespace default/],
    ssar: true,
  },
  {
    name: 'exec refused by admission policy although RBAC allows it',
    options: { execForbiddenByPolicy: true, deny: ['create pods/portforward', 'get pods/log'] },
    error: ['exec-not-allowed', /^Exec into the pod is not allowed here although RBAC grants create pods\/exec: an admission policy refused it\.$/],
    ssar: true,
  },
  {
    name: 'an admin that does not answer and no iptables: admin-not-answering',
    options: { faults: [{ endpoint: 'admin:', adminDown: true }], deny: ['get pods/log'] },
    error: ['admin-not-answering', /^The Envoy admin of pod default\/reviews-v1-cb8655c75-b97zc does not answer: the Envoy admin on :15000 does not answer/],
    ssar: true,
  },
  {
    name: 'stale credentials: 401',
    options: { kubeconfigToken: 'stale' },
    error: ['cluster-auth', /rejected your credentials \(401 Unauthorized\)/],
  },
  {
    name: 'a slow API server runs into --request-timeout',
    options: { faults: [{ endpoint: 'pod', latencyMs: 2000 }] },
    kube: { requestTimeout: '300ms' },
    error: ['cluster-timeout', /^Reading pod reviews-v1-cb8655c75-b97zc timed out: no answer from https:\/\/127\.0\.0\.1:\d+ within 0\.3s\.$/],
  },
]

describe('fault injection', () => {
  it.each(FAULTS.map((f) => [f.name, f] as const))('%s', async (_name, f) => {
    await withCluster(f.options, async (server, kube) => {
      if (f.error !== undefined) {
        await expectUserError(collectFromPod(BOOKINFO_POD, kube), f.error[0], f.error[1])
        expectReadOnly(server.requests, { ssarAllowed: f.ssar === true })
        return
      }
      const snapshot = await collectFromPod(BOOKINFO_POD, kube)

      expect(snapshot.notes).toHaveLength(f.notes?.length ?? 0)
      for (const [i, re] of (f.notes ?? []).entries()) expect(snapshot.notes[i]).toMatch(re)
      for (const m of f.missing ?? []) {
        const value = m === 'iptables' ? snapshot.iptables : m === 'services' ? snapshot.services : snapshot.envoy?.[m]
        expect(value, m).toBeUndefined()
      }
      // The partial snapshot still traces.
      const trace = traceRequest(prepareSnapshot(snapshot), parseRequest('http://ratings:9080/ratings/0'))
      expect(trace.steps.length).toBeGreaterThan(0)
      expectReadOnly(server.requests, { ssarAllowed: f.ssar === true })
      if (f.ssar !== true) expect(server.requests.some((r) => r.endpoint === 'ssar')).toBe(false)
      f.check?.(snapshot, server.requests)
    }, f.kube)
  })

  it('an API server nobody listens on is unreachable', async () => {
    const server = await startFakeApiServer({ data: exampleCluster() })
    const kube = { kubeconfig: server.kubeconfigPath, container: 'istio-proxy', requestTimeout: '5s' }
    const { writeFile } = await import('node:fs/promises')
    const text = readFileSync(server.kubeconfigPath, 'utf8')
    await server.close()
    const { mkdtemp } = await import('node:fs/promises')
    const { tmpdir } = await import('node:os')
    const dir = await mkdtemp(path.join(tmpdir(), 'kc-'))
    await writeFile(path.join(dir, 'config'), text)

    await expectUserError(collectFromPod(BOOKINFO_POD, { ...kube, kubeconfig: path.join(dir, 'config') }), 'cluster-unreachable', /^The API server https:\/\/127\.0\.0\.1:\d+ cannot be reached \(ECONNREFUSED/)
  })

  it('a certificate the kubeconfig does not trust is a TLS error', async () => {
    await withCluster({}, async (server, kube) => {
      const { writeFile } = await import('node:fs/promises')
      const text = readFileSync(server.kubeconfigPath, 'utf8').replace(/    certificate-authority-data: .*\n/, '')
      const file = `${server.kubeconfigPath}-untrusted`
      await writeFile(file, text)

      await expectUserError(collectFromPod(BOOKINFO_POD, { ...kube, kubeconfig: file }), 'cluster-tls', /^The TLS connection to https:\/\/127\.0\.0\.1:\d+ failed: self.signed certificate/)
    })
  })
})

describe('sidecars without pilot-agent', () => {
  it('are read through a port-forward to :15000 with allow-listed GETs only', async () => {
    const data = exampleCluster()
    data.pods[0].pilotAgent = false
    await withCluster({ data }, async (server, kube) => {
      const snapshot = await collectFromPod(BOOKINFO_POD, kube)

      expect(snapshot.envoy?.origin).toBe('port-forward')
      expect(snapshot.envoy?.configDump).toEqual(JSON.parse(served('bookinfo', 'config_dump.json')))
      expect(snapshot.envoy?.stats).toBe(served('bookinfo', 'stats.txt'))
      const forwarded = server.requests.filter((r) => r.endpoint.startsWith('admin:') && !r.upgrade && r.command === undefined)
      expect(forwarded.map((r) => `${r.method} ${r.endpoint}`).sort()).toEqual(['GET admin:clusters?format=json', 'GET admin:config_dump?include_eds', 'GET admin:stats'])
      expectReadOnly(server.requests)
    })
  })
})

describe('Envoy sidecars of other meshes (no pilot-agent)', () => {
  it.each([
    ['Kuma', 'kuma-sidecar', {}, 9901],
    ['Kuma with its admin port annotation', 'kuma-sidecar', { 'kuma.io/envoy-admin-port': '9902' }, 9902],
    ['Consul', 'consul-dataplane', {}, 19000],
    ['OSM', 'envoy', {}, 15000],
  ])('%s: a port-forward to the admin port of %s', async (_name, container, annotations, port) => {
    const data = exampleCluster()
    const pod = data.pods[0]
    pod.pilotAgent = false
    pod.adminPort = port
    Object.assign(pod.object.metadata.annotations, annotations)
    for (const list of [pod.object.spec.containers, pod.object.status.containerStatuses]) for (const c of list) if (c.name === 'istio-proxy') c.name = container
    await withCluster({ data }, async (server, kube) => {
      const snapshot = await collectFromPod(BOOKINFO_POD, { ...kube, container })

      expect(snapshot.envoy?.origin).toBe('port-forward')
      expect(snapshot.envoy?.configDump).toBeDefined()
      expect(server.requests.filter((r) => r.endpoint === 'portforward').map((r) => r.query.ports)).toEqual([[String(port)], [String(port)], [String(port)]])
    })
  })

  it('names the port when the port-forward finds no admin', async () => {
    const data = exampleCluster()
    data.pods[0].pilotAgent = false
    data.pods[0].adminPort = 15999
    data.pods[0].logs = {}
    await withCluster({ data }, async (_server, kube) => {
      await expectUserError(collectFromPod(BOOKINFO_POD, kube), 'admin-not-answering', /^The Envoy admin of pod default\/reviews-v1-cb8655c75-b97zc cannot be reached: the istio-proxy container has no pilot-agent, and the port-forward to :15000 failed \(the port-forward to port 15000 failed: error forwarding port 15000/)
    })
  })
})

describe('port-forward replies', () => {
  it.each([
    ['a stream that stays open after a Content-Length reply', { portForwardStaysOpen: true }],
    ['a chunked reply on a stream that stays open', { portForwardStaysOpen: true, portForwardChunked: true }],
    ['a chunked reply', { portForwardChunked: true }],
  ])('%s is read whole, without waiting for the timeout', async (_name, options) => {
    const data = exampleCluster()
    data.pods[0].pilotAgent = false
    await withCluster({ data, ...options }, async (_server, kube) => {
      const started = performance.now()
      const snapshot = await collectFromPod(BOOKINFO_POD, kube)

      expect(snapshot.notes).toEqual([])
      expect(snapshot.envoy?.configDump).toEqual(JSON.parse(served('bookinfo', 'config_dump.json')))
      expect(performance.now() - started).toBeLessThan(2000)
    }, { requestTimeout: '4s' })
  })
})

describe('istio-cni pods', () => {
  it('rebuild iptables from annotations (origin cni), read no init log, and say so', async () => {
    const data = exampleCluster()
    const pod = data.pods[0].object
    pod.spec.initContainers = [{ name: 'istio-validation', image: 'docker.io/istio/proxyv2:1.22.1' }]
    pod.metadata.annotations['traffic.sidecar.istio.io/excludeOutboundPorts'] = '5432'
    await withCluster({ data }, async (server, kube) => {
      const snapshot = await collectFromPod(BOOKINFO_POD, kube)

      expect(snapshot.iptables?.origin).toBe('cni')
      expect(snapshot.iptables?.v4).toContain('-A ISTIO_OUTPUT -p tcp -m tcp --dport 5432 -j RETURN')
      expect(snapshot.notes).toEqual([expect.stringMatching(/^iptables: the pod uses istio-cni, which leaves no istio-init log; the rules were rebuilt/)])
      expect(server.requests.some((r) => r.endpoint === 'log')).toBe(false)
      const trace = traceRequest(prepareSnapshot(snapshot), parseRequest('http://ratings:9080/ratings/0'))
      expect(trace.result.intercepted).toBe(true)
    })
  })
})

describe('collectPodByIp (for --follow)', () => {
  it('finds the pod that owns an endpoint IP and collects it', async () => {
    const data = exampleCluster()
    const ratings = data.pods.findIndex((p) => p.object.metadata.name === 'ratings-v1-8558d4458d-ns6lk')
    data.pods[ratings] = { ...data.pods[0], object: clonePod(data.pods[0].object, 'ratings-v1-8558d4458d-ns6lk', '172.33.100.2', (p) => { p.metadata.labels = { app: 'ratings', version: 'v1' } }) }
    await withCluster({ data }, async (server, kube) => {
      const snapshot = await collectPodByIp('172.33.100.2', kube)

      expect(snapshot?.pod?.name).toBe('ratings-v1-8558d4458d-ns6lk')
      expect(snapshot?.envoy?.configDump).toBeDefined()
      expect(server.requests[0]).toMatchObject({ endpoint: 'pods', path: '/api/v1/pods', query: { fieldSelector: ['status.podIP=172.33.100.2'] } })
      expectReadOnly(server.requests)
    })
  })

  it('looks in the namespace in use without a cluster-wide list', async () => {
    await withCluster({ faults: [{ endpoint: 'pods', status: 403, times: 1 }] }, async (server, kube) => {
      const snapshot = await collectPodByIp('172.33.72.6', kube)

      expect(snapshot?.pod?.name).toBe('productpage-v1-8554d58bff-d9wbg')
      expect(server.requests[1]).toMatchObject({ endpoint: 'pods', path: '/api/v1/namespaces/default/pods' })
    })
  })

  it('returns undefined for an IP no pod owns', async () => {
    await withCluster({}, async (_server, kube) => {
      expect(await collectPodByIp('10.99.99.99', kube)).toBeUndefined()
    })
  })

  it('returns the pod facts and a note for a pod without the sidecar', async () => {
    await withCluster({}, async (_server, kube) => {
      const snapshot = await collectPodByIp('172.33.72.2', kube)

      expect(snapshot?.pod?.name).toBe('coredns-5d668bd598-8cwcz')
      expect(snapshot?.notes).toEqual([expect.stringMatching(/has no istio-proxy container/)])
      expect(snapshot?.envoy).toBeUndefined()
    })
  })
})

describe('iptables from other meshes and odd pods', () => {
  const LOG = '*nat\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -p tcp -j X\nCOMMIT\n'

  it.each([
    ['kuma-init'],
    ['consul-connect-inject-init'],
    ['osm-init'],
    ['linkerd-init'],
  ])('reads the log of %s', async (container) => {
    const data = exampleCluster()
    data.pods[0].object.spec.initContainers = [{ name: container }]
    data.pods[0].logs = { [container]: LOG }
    await withCluster({ data }, async (server, kube) => {
      const snapshot = await collectFromPod(BOOKINFO_POD, kube)

      expect(snapshot.iptables).toEqual({ v4: LOG, origin: 'init-log' })
      expect(server.requests.find((r) => r.endpoint === 'log')?.query.container).toEqual([container])
    })
  })

  it.each([
    ['an empty init log', (d: ReturnType<typeof exampleCluster>) => { d.pods[0].logs['istio-init'] = '' }, /^iptables: the log of init container istio-init is empty/],
    ['no mesh init container', (d: ReturnType<typeof exampleCluster>) => { d.pods[0].object.spec.initContainers = [] }, /^iptables: pod default\/reviews-v1-cb8655c75-b97zc has no known mesh init container/],
  ])('%s leaves a note and an Envoy-only snapshot', async (_name, change, note) => {
    const data = exampleCluster()
    change(data)
    await withCluster({ data }, async (_server, kube) => {
      const snapshot = await collectFromPod(BOOKINFO_POD, kube)

      expect(snapshot.iptables).toBeUndefined()
      expect(snapshot.notes).toEqual([expect.stringMatching(note)])
      expect(snapshot.envoy?.configDump).toBeDefined()
    })
  })

  it('reads a native sidecar (an init container with restartPolicy Always)', async () => {
    const data = exampleCluster()
    const spec = data.pods[0].object.spec
    const proxy = spec.containers.find((c: { name: string }) => c.name === 'istio-proxy')
    spec.containers = spec.containers.filter((c: { name: string }) => c.name !== 'istio-proxy')
    spec.initContainers.push({ ...proxy, restartPolicy: 'Always' })
    await withCluster({ data }, async (_server, kube) => {
      const snapshot = await collectFromPod(BOOKINFO_POD, kube)

      expect(snapshot.notes).toEqual([])
      expect(snapshot.envoy?.configDump).toBeDefined()
    })
  })
})

describe('following hops across meshed pods (fake data for --follow)', () => {
  it('collects productpage → reviews → ratings by IP', async () => {
    const { meshPods } = await import('../../fake-apiserver/cluster-data.js')
    const server = await startFakeApiServer({ data: meshPods(exampleCluster('bookinfo-modern')) })
    try {
      const kube = { kubeconfig: server.kubeconfigPath, container: 'istio-proxy', requestTimeout: '5s' }
      const ips = exampleCluster('bookinfo-modern').pods.map((p) => [p.object.metadata.name as string, p.object.status?.podIP as string])
      const hops = ips.filter(([name]) => /^(productpage|reviews-v2|ratings)/.test(name))

      const snapshots = await Promise.all(hops.map(([, ip]) => collectPodByIp(ip, kube)))

      expect(snapshots.map((s) => s?.pod?.name)).toEqual(hops.map(([name]) => name))
      expect(snapshots.every((s) => s?.envoy?.configDump !== undefined && s.notes.length === 0)).toBe(true)
    } finally {
      await server.close()
    }
  })
})
