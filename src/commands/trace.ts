import { Args, Flags } from '@oclif/core'
import { MeshTraceCommand } from '../base-command.js'
import { kubeFlags, offlineFlags, offlineInputsFromFlags, outputFlags, requestFlags, requestOptionsFromFlags, useColor } from '../flags.js'
import { readOfflineSnapshot, type OfflineInputs } from '../collect/bundle/read-bundle.js'
import { parseRequest } from '../engine/trace/request.js'
import { prepareSnapshot, traceRequest } from '../engine/trace/trace-request.js'
import type { Trace } from '../engine/trace/trace.js'
import type { Snapshot } from '../engine/snapshot.js'
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
    '<%= config.bin %> --bundle examples/bookinfo http://ratings:9080/ratings/0',
    "<%= config.bin %> --bundle examples/bookinfo-modern http://ratings:9080/ratings/0 -H 'end-user: jason'",
    '<%= config.bin %> --bundle examples/bookinfo --inbound http://:9080/reviews/0',
    '<%= config.bin %> --bundle examples/bookinfo-modern tcp://203.0.113.9:8443 -o json',
    '<%= config.bin %> --iptables iptables-save.txt tcp://198.51.100.7:5432 --uid 1337',
  ]
  static override args = {
    pod: Args.string({ description: 'Pod to trace from (POD or pod/NAME); omit with --bundle.' }),
    target: Args.string({ description: 'The request: http://HOST:PORT/PATH, tcp://IP:PORT, or http://:PORT/PATH with --inbound.' }),
  }
  static override flags = {
    ...kubeFlags,
    ...requestFlags,
    ...offlineFlags,
    ...outputFlags,
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
    const snapshot = inputs === undefined && pod !== undefined
      ? await collectLive(pod, flags)
      : await loadSnapshot(pod, inputs)
    this.inputNames = snapshot.files ?? {}
    const ctx = prepareSnapshot(snapshot)
    for (const note of snapshot.notes) process.stderr.write(`note: ${stripControl(note)}\n`)
    const trace = traceRequest(ctx, request)
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

/** Offline inputs → a Snapshot. */
async function loadSnapshot(pod: string | undefined, inputs: OfflineInputs | undefined): Promise<Snapshot> {
  if (inputs === undefined) {
    throw new UserError('Nothing to trace: give a POD (read from the cluster) or --bundle (or --iptables / --config-dump files).', { code: 'no-input', exitCode: 2 })
  }
  const snapshot = await readOfflineSnapshot(inputs)
  if (pod !== undefined && snapshot.pod !== undefined) {
    const name = pod.replace(/^(pod|pods|po)\//, '')
    if (name !== snapshot.pod.name) {
      throw new UserError(`The bundle holds pod ${snapshot.pod.namespace}/${snapshot.pod.name}, not ${pod}.`, { code: 'pod-not-in-bundle', hint: 'Leave out the POD argument with --bundle, or pick the bundle of that pod.' })
    }
  }
  if (snapshot.iptables === undefined && snapshot.envoy === undefined) {
    throw new UserError(`${inputs.bundle ?? 'The inputs'} hold${inputs.bundle ? 's' : ''} neither iptables rules nor an Envoy config dump, so there is nothing to trace.`, { code: 'empty-bundle', hint: 'A bundle needs iptables-save.txt and/or config_dump.json.' })
  }
  return snapshot
}
