// The release bundle: esbuild builds of the CLI into a self-contained directory (no node_modules).
//
//   <out>/cli.mjs               Node version check, --version, then main.cjs through a V8 code cache
//   <out>/main.cjs              oclif, the commands, the engines (each command evaluated on first use)
//   <out>/kube.cjs              @kubernetes/client-node, loaded (and cached) only for a live pod
//   <out>/ui/run-tui.mjs        the ink explorer and its chunks (ES modules: yoga-layout has
//   <out>/ui/chunks/*.mjs       top-level await), import()ed by `trace -i` only
//   <out>/oclif.manifest.json   the committed manifest (help and command lookup read it)
import { readFile, readdir, rm, writeFile } from 'node:fs/promises'
import { createHash } from 'node:crypto'
import { createRequire } from 'node:module'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import * as esbuild from 'esbuild'

/** The repository root. */
export const repoRoot = fileURLToPath(new URL('../..', import.meta.url))
const entryDir = fileURLToPath(new URL('./entry/', import.meta.url))

/** Reads package.json and keeps what oclif needs at run time (name, version, type, oclif section). */
export async function readRuntimePjson(root = repoRoot) {
  const pjson = JSON.parse(await readFile(join(root, 'package.json'), 'utf8'))
  return { name: pjson.name, version: pjson.version, type: pjson.type, description: pjson.description, license: pjson.license, oclif: pjson.oclif }
}

/**
 * Builds the bundle into `outDir` (emptied first) and returns the list of its files, relative,
 * sorted, plus a sha256 over their names and contents (the single binary keys its cache on it).
 */
export async function buildBundle(outDir, { root = repoRoot, minify = true } = {}) {
  await rm(outDir, { recursive: true, force: true })
  const pjson = await readRuntimePjson(root)
  const manifest = JSON.parse(await readFile(join(root, 'oclif.manifest.json'), 'utf8'))
  if (manifest.version !== pjson.version) {
    throw new Error(`oclif.manifest.json is for ${manifest.version}, package.json says ${pjson.version}: run npm run build && npx oclif manifest`)
  }
  const ids = Object.keys(manifest.commands)
  const requireFromRoot = createRequire(join(root, 'package.json'))
  // The manifest points at dist/commands/<id>.js; bundle the TypeScript source it came from.
  const sources = ids.map((id) => join(root, 'src', ...manifest.commands[id].relativePath.slice(1)).replace(/\.js$/, '.ts'))
  const stubMissing = join(entryDir, 'throw-module-not-found.cjs')
  const common = {
    bundle: true,
    metafile: true,
    platform: 'node',
    target: 'node20',
    minify,
    keepNames: true, // error classes and oclif commands are told apart by name
    legalComments: 'none',
    logLevel: 'warning',
    define: { 'process.env.DEV': '"false"' },
    alias: {
      'react-devtools-core': join(entryDir, 'react-devtools-core.mjs'),
      bufferutil: stubMissing,
      'utf-8-validate': stubMissing,
      encoding: stubMissing,
    },
    absWorkingDir: root,
  }
  // The ink explorer stays an ES module next to main.cjs (yoga-layout has top-level await); the
  // commands' import('../ui/run-tui.js') becomes this proxy, which cli.mjs's import() serves.
  const uiProxy = {
    name: 'mesh-trace-ui-proxy',
    setup(build) {
      build.onResolve({ filter: /\/ui\/run-tui\.js$/ }, () => ({ path: 'run-tui', namespace: 'mesh-trace-ui-proxy' }))
      build.onLoad({ filter: /.*/, namespace: 'mesh-trace-ui-proxy' }, () => ({
        contents: 'export async function runTui(...args) { return (await globalThis.__meshTraceImportUi()).runTui(...args) }',
        loader: 'js',
      }))
    },
  }
  // client-node is 3/4 of the code; main.cjs reaches it through cli.mjs, which loads kube.cjs.
  const kubeProxy = {
    name: 'mesh-trace-kube-proxy',
    setup(build) {
      build.onResolve({ filter: /^@kubernetes\/client-node$/ }, () => ({ path: 'client-node', namespace: 'mesh-trace-kube-proxy' }))
      build.onLoad({ filter: /.*/, namespace: 'mesh-trace-kube-proxy' }, () => ({
        contents: "module.exports = globalThis.__meshTraceRequireBundle('kube.cjs')",
        loader: 'js',
      }))
    },
  }
  // esbuild gives `await import('react')` (a CommonJS module) only a default export in ES module
  // output, where Node's own loader also offers the named ones (run-tui reads react.createElement):
  // serve 'react' from a wrapper that re-exports every key of React by name.
  const reactNamedExports = {
    name: 'mesh-trace-react-named-exports',
    setup(build) {
      build.onResolve({ filter: /^react$/ }, () => ({ path: 'react', namespace: 'mesh-trace-react' }))
      build.onLoad({ filter: /.*/, namespace: 'mesh-trace-react' }, () => {
        const reactPath = requireFromRoot.resolve('react')
        const names = Object.keys(requireFromRoot('react')).filter((k) => /^[A-Za-z_$][\w$]*$/.test(k) && k !== 'default')
        return {
          contents: `import React from ${JSON.stringify(reactPath)}\nexport default React\nexport const { ${names.join(', ')} } = React\n`,
          resolveDir: root,
          loader: 'js',
        }
      })
    },
  }
  // Each command (and the engine code it imports) is evaluated when oclif first asks for it, so
  // --help evaluates none of them: COMMANDS holds getters over esbuild's lazy module wrappers.
  const mainEntry = [
    `export { main } from ${JSON.stringify(join(entryDir, 'main.mjs'))}`,
    'export const COMMANDS = {',
    ...ids.map((id, i) => `  get ${JSON.stringify(id)}() { return require(${JSON.stringify(sources[i])}).default },`),
    '}',
  ].join('\n')
  const inputs = new Set()
  const collect = (result) => { for (const input of Object.keys(result.metafile.inputs)) inputs.add(input) }
  collect(await esbuild.build({
    ...common,
    stdin: { contents: mainEntry, resolveDir: root, sourcefile: 'release-main.mjs', loader: 'js' },
    outfile: join(outDir, 'main.cjs'),
    format: 'cjs',
    // oclif reads tsconfig with typescript only when transpiling, which the release never does.
    external: ['typescript'],
    plugins: [uiProxy, kubeProxy],
  }))
  collect(await esbuild.build({
    ...common,
    stdin: { contents: "module.exports = require('@kubernetes/client-node')", resolveDir: root, sourcefile: 'release-kube.cjs', loader: 'js' },
    outfile: join(outDir, 'kube.cjs'),
    format: 'cjs',
  }))
  collect(await esbuild.build({
    ...common,
    entryPoints: [{ in: join(root, 'src/ui/run-tui.tsx'), out: 'run-tui' }],
    outdir: join(outDir, 'ui'),
    format: 'esm',
    splitting: true,
    outExtension: { '.js': '.mjs' },
    chunkNames: 'chunks/[name]-[hash]',
    plugins: [reactNamedExports],
    // CommonJS dependencies (react) may call require() for Node built-ins.
    banner: { js: "import { createRequire as __meshTraceCreateRequire } from 'node:module'; const require = __meshTraceCreateRequire(import.meta.url);" },
  }))
  const mainHash = createHash('sha256').update(await readFile(join(outDir, 'main.cjs'))).update(await readFile(join(outDir, 'kube.cjs'))).digest('hex').slice(0, 16)
  await esbuild.build({
    ...common,
    entryPoints: [{ in: join(entryDir, 'cli.mjs'), out: 'cli' }],
    outdir: outDir,
    format: 'esm',
    outExtension: { '.js': '.mjs' },
    external: ['./ui/run-tui.mjs'],
    define: { ...common.define, MESH_TRACE_PJSON: JSON.stringify(pjson), MESH_TRACE_MAIN_HASH: JSON.stringify(mainHash), MESH_TRACE_COMMAND_IDS: JSON.stringify(ids) },
  })
  await writeFile(join(outDir, 'oclif.manifest.json'), `${JSON.stringify(manifest)}\n`)
  await writeFile(join(outDir, NOTICES), await thirdPartyNotices(root, inputs))
  return describeBundle(outDir)
}

/** The file listing the bundled packages and their licenses. */
export const NOTICES = 'THIRD-PARTY-NOTICES.txt'

/**
 * The license texts of every npm package esbuild put into the bundle (from the builds' metafile
 * inputs), sorted by name: MIT and the like require the notices to travel with the code.
 */
async function thirdPartyNotices(root, inputs) {
  const dirs = new Set()
  for (const input of inputs) {
    const m = /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(input)
    if (m) dirs.add(m[1])
  }
  const entries = []
  for (const dir of dirs) {
    const pkg = JSON.parse(await readFile(join(root, dir, 'package.json'), 'utf8'))
    const files = (await readdir(join(root, dir))).filter((f) => /^(licen[cs]e|copying|notice)/i.test(f)).sort()
    const texts = await Promise.all(files.map((f) => readFile(join(root, dir, f), 'utf8')))
    const license = typeof pkg.license === 'string' ? pkg.license : JSON.stringify(pkg.license ?? pkg.licenses ?? 'UNKNOWN')
    entries.push({ id: `${pkg.name}@${pkg.version}`, text: `${pkg.name} ${pkg.version} (${license})\n${texts.length > 0 ? texts.join('\n').trim() : `No license file in the package; its package.json says ${license}.`}` })
  }
  const unique = [...new Map(entries.map((e) => [e.id, e])).values()].sort((a, b) => a.id.localeCompare(b.id))
  return `kubectl mesh-trace includes the following third-party software.\n\n${unique.map((e) => `${'='.repeat(78)}\n${e.text}\n`).join('\n')}`
}

/** Lists a bundle directory (sorted, relative, '/'-separated) and hashes it. */
export async function describeBundle(dir) {
  const files = (await readdir(dir, { recursive: true, withFileTypes: true }))
    .filter((d) => d.isFile())
    .map((d) => relative(dir, join(d.parentPath ?? d.path, d.name)).split('\\').join('/'))
    .sort()
  const hash = createHash('sha256')
  let bytes = 0
  for (const f of files) {
    const content = await readFile(join(dir, f))
    bytes += content.length
    hash.update(`${f}\0${content.length}\0`).update(content)
  }
  return { files, bytes, sha256: hash.digest('hex') }
}
