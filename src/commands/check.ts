import { Args, Flags } from '@oclif/core'
import { readFile } from 'node:fs/promises'
import { MeshTraceCommand } from '../base-command.js'
import { kubeFlags, offlineFlags, offlineInputsFromFlags, useColor } from '../flags.js'
import { readOfflineSnapshot } from '../collect/bundle/read-bundle.js'
import { parseCheckFile, runChecks, type CheckReport } from '../engine/trace/check.js'
import { prepareSnapshot } from '../engine/trace/trace-request.js'
import { renderCheckText } from '../render/check.js'
import { UserError } from '../errors.js'

export default class Check extends MeshTraceCommand {
  static override summary = 'Run a file of requests and expected results against a bundle (exit 1 on any failure).'
  static override description = `Each test names a request (url, method, headers, inbound, uid, gid, srcIp, ip) and any subset of the trace's result fields it expects (outcome, intercepted, redirectPort, listener, filterChain, routeConfig, virtualHost, route, cluster, endpoints). Prints one line per test, then "N passed, N failed".`
  static override examples = [
    '<%= config.bin %> check --bundle examples/bookinfo --tests examples/bookinfo/checks.yaml',
    '<%= config.bin %> check deploy/reviews -n bookinfo --tests mesh-checks.yaml',
  ]
  static override args = { pod: Args.string({ description: 'A live pod to check (POD, pod/NAME, deploy/NAME, …); omit with --bundle.' }) }
  static override flags = {
    ...kubeFlags,
    tests: Flags.string({ char: 't', summary: 'The check file (YAML or JSON).', required: true }),
    ...offlineFlags,
    output: Flags.string({ char: 'o', summary: 'Output format.', options: ['text', 'json'], default: 'text' }),
    'no-color': Flags.boolean({ summary: 'No colours (also NO_COLOR).', default: false }),
    color: Flags.string({ summary: 'When to colour text output.', options: ['auto', 'always', 'never'], default: 'auto' }),
  }

  async run(): Promise<CheckReport> {
    const { args, flags } = await this.parse(Check)
    const inputs = offlineInputsFromFlags(flags)
    if (inputs === undefined && args.pod === undefined) {
      throw new UserError('check needs a POD (read from the cluster) or --bundle (or --iptables / --config-dump files).', { code: 'no-input', exitCode: 2 })
    }
    if (inputs !== undefined && args.pod !== undefined) {
      throw new UserError('A POD and --bundle cannot be used together with check; give one of them.', { code: 'usage', exitCode: 2 })
    }
    let text: string
    try {
      text = await readFile(flags.tests, 'utf8')
    } catch {
      throw new UserError(`The check file ${flags.tests} does not exist or cannot be read.`, { code: 'file-not-found' })
    }
    const cases = parseCheckFile(text, flags.tests)
    const snapshot = inputs !== undefined ? await readOfflineSnapshot(inputs) : await collectForCheck(args.pod as string, flags)
    this.inputNames = snapshot.files ?? {}
    const report = runChecks(prepareSnapshot(snapshot), cases)
    if (flags.output === 'json') this.log(JSON.stringify(report, null, 2))
    else this.log(renderCheckText(report, { color: useColor(flags, process.env, process.stdout.isTTY === true) }))
    if (report.failed > 0) this.exit(1)
    return report
  }
}

/** The live path: the pod's facts from the cluster, read-only (client-node is loaded only here). */
async function collectForCheck(pod: string, flags: Parameters<typeof import('../collect/cluster/collect-pod.js')['kubeOptionsFromFlags']>[0]) {
  const { collectFromPod, kubeOptionsFromFlags } = await import('../collect/cluster/collect-pod.js')
  return collectFromPod(pod, kubeOptionsFromFlags(flags))
}
