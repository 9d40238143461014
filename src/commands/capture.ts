import { Args, Flags } from '@oclif/core'
import { MeshTraceCommand } from '../base-command.js'
import { kubeFlags } from '../flags.js'
import { UserError } from '../errors.js'
import { writeBundle, type WrittenBundle } from '../collect/bundle/write-bundle.js'
import { stripControl } from '../render/sanitize.js'

export default class Capture extends MeshTraceCommand {
  static override summary = "Save a pod's iptables rules, Envoy config and services as a bundle, with secrets redacted."
  static override description = `Reads the pod the way a trace does (read-only: GETs, pods/log, and pods/exec of "pilot-agent request GET" for config_dump, clusters and stats) and writes a bundle that --bundle reads back: pod.json, iptables-save.txt, config_dump.json, clusters.json, stats.txt, services.json, pods.json and meta.json.

Secrets are redacted before anything is written: SDS secrets, private keys, inline certificates, tokens and Authorization values. meta.json records the versions, the time, every redaction, and what could not be collected.`
  static override examples = [
    '<%= config.bin %> capture reviews-v1-cb8655c75-b97zc -o reviews.bundle',
    '<%= config.bin %> capture deploy/productpage -n bookinfo -o productpage.tar.gz',
  ]
  static override args = {
    pod: Args.string({ description: 'The pod: POD, pod/NAME, deploy/NAME, sts/NAME or ds/NAME.', required: true }),
  }
  static override flags = {
    ...kubeFlags,
    output: Flags.string({ char: 'o', summary: 'Where to write the bundle: a directory, or FILE.tar.gz.', required: true }),
    overwrite: Flags.boolean({ summary: 'Replace an existing archive, or the bundle files in an existing directory.', default: false }),
  }

  async run(): Promise<WrittenBundle> {
    const { args, flags } = await this.parse(Capture)
    const { collectPodEvidence, kubeOptionsFromFlags } = await import('../collect/cluster/collect-pod.js')
    const { bundleContentsOf } = await import('../collect/cluster/capture-contents.js')
    const progress = process.stderr.isTTY === true ? (m: string) => process.stderr.write(`${stripControl(m)}\n`) : () => {}
    const collected = await collectPodEvidence(args.pod, kubeOptionsFromFlags(flags), progress, { serverVersion: true })
    const contents = bundleContentsOf(collected, { toolVersion: this.config.version, ...(collected.serverVersion !== undefined ? { kubernetesVersion: collected.serverVersion } : {}) })
    if (contents.configDump === undefined && contents.iptablesV4 === undefined) {
      throw new UserError('Nothing traceable was collected, so no bundle was written.', { code: 'capture-empty' })
    }
    const written = await writeBundle(contents, flags.output, { overwrite: flags.overwrite })
    const pod = `${collected.connection.namespace}/${String((collected.raw.pod.metadata as Record<string, unknown>).name)}`
    this.log(`Wrote ${written.path}: bundle of pod ${pod} (${written.files.join(', ')}).`)
    for (const line of written.redactionSummary) process.stderr.write(`redacted: ${line}\n`)
    for (const note of written.meta.notes) process.stderr.write(`note: ${stripControl(note)}\n`)
    return written
  }
}
