import { Args, Flags } from '@oclif/core'
import { MeshTraceCommand } from '../base-command.js'
import { kubeFlags, offlineFlags, offlineInputsFromFlags, outputFlags, requestFlags, requestOptionsFromFlags, useColor } from '../flags.js'
import { readOfflineBundle, type OfflineInputs } from '../collect/bundle/read-bundle.js'
import { parseRequest } from '../engine/trace/request.js'
import { prepareSnapshot, traceRequest, type TraceContext } from '../engine/trace/trace-request.js'
import { followTrace } from '../engine/trace/follow.js'
import { upstreamTransport } from '../engine/trace/upstream-transport.js'
import type { Trace } from '../engine/trace/trace.js'
import { podIpsOf, type Snapshot } from '../engine/snapshot.js'
import { renderTrace } from '../render/render.js'
import { UserError } from '../errors.js'
import { stripControl } from '../render/sanitize.js'
import type { kubeOptionsFromFlags } from '../collect/cluster/collect-pod.js'

export default class TraceCommand extends MeshTraceCommand {
  static override summary = 'Explain how a request travels through iptables and the Envoy sidecar of a pod.'
  static override description = `Walks the request the way the kernel and Envoy do: iptables chains → redirect → listener (original destination) → filter chain → HTTP connection manager or TCP proxy → route configuration → virtual host → route → cluster → endpoint. Every step shows what won, the evidence (rule line or JSON pointer), and why each other candidate lost.

TARGET is http://HOST[:PORT]/PATH, https://HOST[:PORT]/PATH, tcp://HOST:PORT, or http://:PORT/PATH with --inbound.`
  static override usage = ['[POD] TARGET [flags]']
  static override examples = [
    '<%= config.bin %> reviews-v1-cb8655c75-b97zc http://ratings:9080/ratings/0',
    "<%= config.bin %> deploy/productpage -n bookinfo http://reviews:9080/reviews/0 -H 'end-user: jason' --follow",
    '<%= config.bin %> --bundle examples/bookinfo http://ratings:9080/ratings/0',
    "<%= config.bin %> --bundle examples/bookinfo-modern http://ratings:9080/ratings/0 -H 'end-user: jason'",
    '<%= config.bin %> --bundle examples/bookinfo --inbound http://:9080/reviews/0',
    '<%= config.bin %> --bundle examples/bookinfo-modern tcp://203.0.113.9:8443 -o json',
    '<%= config.bin %> --iptables iptables-save.txt tcp://198.51.100.7:5432 --uid 1337',
  ]
  static override args = {
    pod: Args.string({ description: 'Pod to trace from: POD, pod/NAME, deploy/NAME, sts/NAME or ds/NAME (read from the cluster); with --bundle, one of the pods the bundle holds (optional).' }),
    target: Args.string({ description: 'The request: http://HOST:PORT/PATH, tcp://IP:PORT, or http://:PORT/PATH with --inbound.' }),
  }
  static override flags = {
    ...kubeFlags,
    ...requestFlags,
    ...offlineFlags,
    ...outputFlags,
    follow: Flags.boolean({ summary: 'Follow the request into the next pod (its inbound side), hop after hop.', default: false }),
    'max-hops': Flags.integer({ summary: 'How many pods --follow goes into.', default: 3, min: 1 }),
    interactive: Flags.boolean({ char: 'i', summary: 'Open the interactive explorer (needs a terminal): move through the steps, edit the request, re-trace at once.', default: false }),
  }

  async run(): Promise<Trace> {
    const { args, flags } = await this.parse(TraceCommand)
    let pod = args.pod
    let target = args.target
    if (target === undefined) {
      target = pod
      pod = undefined
    }
    if (target === undefined) {
      throw new UserError('TARGET is missing: give the request as a URL, e.g. http://ratings:9080/ratings/0.', { exitCode: 2, code: 'usage' })
    }
    const request = parseRequest(target, requestOptionsFromFlags(flags))
    if (flags.interactive && (process.stdout.isTTY !== true || process.stdin.isTTY !== true)) {
      throw new UserError('-i/--interactive needs a terminal on stdin and stdout; without one, use -o text, json or yaml.', { code: 'not-a-tty' })
    }
    const inputs = offlineInputsFromFlags(flags)
    const { snapshot, others } = inputs === undefined && pod !== undefined
      ? { snapshot: await collectLive(pod, flags), others: [] }
      : await loadSnapshot(pod, inputs)
    this.inputNames = snapshot.files ?? {}
    const ctx = prepareSnapshot(snapshot)
    for (const note of snapshot.notes) process.stderr.write(`note: ${stripControl(note)}\n`)
    let trace = traceRequest(ctx, request)
    if (flags.follow) {
      const podByIp = inputs === undefined ? livePodByIp(flags) : offlinePodByIp(others, inputs.bundle)
      trace = await followTrace(trace, ctx, request, { maxHops: flags['max-hops'], podByIp, transport: upstreamTransport })
    }
    if (flags.interactive) {
      const { runTui } = await import('../ui/run-tui.js')
      await runTui({ initial: trace, request, retrace: (edited) => traceRequest(ctx, edited), color: useColor(flags, process.env, true) })
      return trace
    }
    this.log(renderTrace(trace, flags.output, { color: useColor(flags, process.env, process.stdout.isTTY === true) }))
    return trace
  }
}

/** Reads the pod's facts from the cluster (read-only); client-node is loaded only here. */
async function collectLive(pod: string, flags: Parameters<typeof kubeOptionsFromFlags>[0]): Promise<Snapshot> {
  const { collectFromPod, kubeOptionsFromFlags } = await import('../collect/cluster/collect-pod.js')
  const progress = process.stderr.isTTY === true ? (message: string) => process.stderr.write(`\r\u001b[K${stripControl(message)}`) : () => {}
  try {
    return await collectFromPod(pod, kubeOptionsFromFlags(flags), progress)
  } finally {
    if (process.stderr.isTTY === true) process.stderr.write('\r\u001b[K')
  }
}

/** The next pods of a live trace, read from the cluster by IP. */
function livePodByIp(flags: Parameters<typeof kubeOptionsFromFlags>[0]): (ip: string) => Promise<TraceContext | string> {
  return async (ip) => {
    const { collectPodByIp, kubeOptionsFromFlags } = await import('../collect/cluster/collect-pod.js')
    const snapshot = await collectPodByIp(ip, kubeOptionsFromFlags(flags))
    return snapshot === undefined ? `no pod in the cluster has the IP ${ip} (an address outside the mesh, or a node)` : prepareSnapshot(snapshot)
  }
}

/** The next pods of an offline trace: the bundle's sub-bundles, found by pod IP. */
function offlinePodByIp(others: Snapshot[], bundle: string | undefined): (ip: string) => Promise<TraceContext | string> {
  const cache = new Map<Snapshot, TraceContext>()
  return async (ip) => {
    const found = others.find((o) => podIpsOf(o.pod).includes(ip))
    if (found === undefined) {
      return `${bundle === undefined ? 'no bundle was given' : `the bundle ${bundle} has no sub-bundle for the pod with IP ${ip}`} (capture that pod into a sub-directory of the bundle to follow it)`
    }
    const ctx = cache.get(found) ?? prepareSnapshot(found)
    cache.set(found, ctx)
    return ctx
  }
}

/** Offline inputs → the Snapshot of the chosen pod (the bundle's own, or a sub-bundle named by POD) and the others. */
async function loadSnapshot(pod: string | undefined, inputs: OfflineInputs | undefined): Promise<{ snapshot: Snapshot; others: Snapshot[] }> {
  if (inputs === undefined) {
    throw new UserError('Nothing to trace: give a POD (read from the cluster) or --bundle (or --iptables / --config-dump files).', { code: 'no-input', exitCode: 2 })
  }
  const { main, others } = await readOfflineBundle(inputs)
  let snapshot = main
  if (pod !== undefined) {
    const name = pod.replace(/^(pod|pods|po)\//, '')
    const all = [main, ...others]
    const chosen = all.find((s) => s.pod?.name === name)
    if (chosen === undefined) {
      const held = all.map((s) => s.pod?.name).filter((n): n is string => n !== undefined)
      throw new UserError(`The bundle holds ${held.length === 1 ? `pod ${main.pod?.namespace}/${held[0]}` : `the pods ${held.join(', ')}`}, not ${pod}.`, { code: 'pod-not-in-bundle', hint: 'Leave out the POD argument with --bundle, or name a pod the bundle holds.' })
    }
    snapshot = chosen
  }
  const rest = [main, ...others].filter((s) => s !== snapshot)
  if (snapshot.iptables === undefined && snapshot.envoy === undefined) {
    throw new UserError(`${inputs.bundle ?? 'The inputs'} hold${inputs.bundle ? 's' : ''} neither iptables rules nor an Envoy config dump, so there is nothing to trace.`, { code: 'empty-bundle', hint: 'A bundle needs iptables-save.txt and/or config_dump.json.' })
  }
  return { snapshot, others: rest }
}
