// The release build's CLI core, bundled by esbuild into main.cjs (CommonJS, so cli.mjs can load it
// through V8's code cache: Node 20 has no compile cache for ES modules). It is the development
// launcher (bin/kubectl-mesh_trace) with package.json passed in and the commands bundled in: oclif
// finds them through the explicit strategy (pjson.oclif.commands → main.cjs, export COMMANDS).
import { Config, run, flush, handle, settings } from '@oclif/core'

/** Runs the CLI for process.argv with the release's root directory and package.json. */
export async function main(root, pjson) {
  // The release never transpiles TypeScript: skip oclif's tsconfig look-up (and its typescript import).
  settings.enableAutoTranspile = false
  const config = await Config.load({ root, pjson })
  const first = process.argv[2]
  const rootWords = ['--help', '-h', 'help', '--version', '-v', 'version']
  if (first !== undefined && !rootWords.includes(first) && !config.findCommand(first)) {
    process.argv.splice(2, 0, 'trace') // oclif's error handler re-reads process.argv
  }
  await run(process.argv.slice(2), config).then(() => flush()).catch(handle)
}
