import { Flags } from '@oclif/core'
import { readFile } from 'node:fs/promises'
import { MeshTraceCommand } from '../base-command.js'
import { parseRouteCheckText, runRouteCheck, type RouteCheckReport } from '../engine/envoy/route-check.js'
import { renderRouteCheckText } from '../render/route-check.js'
import { useColor } from '../flags.js'
import { UserError } from '../errors.js'

export default class RouteCheck extends MeshTraceCommand {
  static override summary = "Run Envoy's route table check tool test files against a RouteConfiguration (exit 1 on failure)."
  static override description = `The same test files as Envoy's router_check_tool: a RouteConfiguration (YAML or JSON) and tests ({tests: [{test_name, input: {authority, path, method, additional_request_headers, random_value, ssl, internal, …}, validate: {cluster_name, virtual_host_name, path_rewrite, host_rewrite, path_redirect, code_redirect, request_header_matches, …}}]}), run unchanged. Prints one line per failing test (every test with --details), the route coverage, then "N passed, N failed".`
  static override examples = ['<%= config.bin %> route-check --config routes.yaml --tests tests.json --details']
  static override flags = {
    config: Flags.string({ char: 'c', aliases: ['config-path'], summary: 'The RouteConfiguration (YAML or JSON).', required: true }),
    tests: Flags.string({ char: 't', aliases: ['test-path'], summary: 'The tests (JSON or YAML, router_check_tool format).', required: true }),
    details: Flags.boolean({ char: 'd', summary: 'Show every test and every mismatch.', default: false }),
    'only-show-failures': Flags.boolean({ summary: 'With --details, list only failing tests.', default: false }),
    'fail-under': Flags.integer({ char: 'f', summary: 'Fail when route coverage is below this percentage.', min: 0, max: 100 }),
    covall: Flags.boolean({ summary: 'List the routes no test reached.', default: false }),
    output: Flags.string({ char: 'o', summary: 'Output format.', options: ['text', 'json'], default: 'text' }),
    'no-color': Flags.boolean({ summary: 'No colours (also NO_COLOR).', default: false }),
    color: Flags.string({ summary: 'When to colour text output.', options: ['auto', 'always', 'never'], default: 'auto' }),
  }

  async run(): Promise<RouteCheckReport> {
    const { flags } = await this.parse(RouteCheck)
    this.inputNames = { route_config: flags.config, tests: flags.tests }
    const config = parseRouteCheckText(await readInput(flags.config, '--config'), flags.config)
    const tests = parseRouteCheckText(await readInput(flags.tests, '--tests'), flags.tests)
    const report = runRouteCheck(config, tests)
    const underCoverage = flags['fail-under'] !== undefined && report.coverage.percent < flags['fail-under']
    if (flags.output === 'json') this.log(JSON.stringify(report, null, 2))
    else {
      this.log(renderRouteCheckText(report, {
        details: flags.details,
        onlyFailures: flags['only-show-failures'],
        listUncovered: flags.covall,
        failUnder: flags['fail-under'],
        color: useColor(flags, process.env, process.stdout.isTTY === true),
      }))
    }
    if (report.failed > 0 || underCoverage) this.exit(1)
    return report
  }
}

async function readInput(file: string, flag: string): Promise<string> {
  try {
    return await readFile(file, 'utf8')
  } catch {
    throw new UserError(`${flag} ${file} does not exist or cannot be read.`, { code: 'file-not-found' })
  }
}
