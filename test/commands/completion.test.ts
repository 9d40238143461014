import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { execFileSync } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import { execa } from 'execa'
import { bashCompletion, completionSpecOf, fishCompletion, kubectlPluginCompletion, zshCompletion } from '../../src/commands/completion.js'

// The scripts are generated from the committed oclif manifest (what the CLI loads at run time) and run
// in the real shells: bash's function with COMP_WORDS set, fish's `complete -C`, zsh's dispatch with
// _arguments/_describe stubbed (zsh's completion system needs a terminal).
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const manifest = JSON.parse(await readFile(path.join(root, 'oclif.manifest.json'), 'utf8'))
const spec = completionSpecOf(Object.values(manifest.commands))
const has = (shell: string) => { try { execFileSync('sh', ['-c', `command -v ${shell}`], { stdio: 'ignore' }); return true } catch { return false } }

async function withScript<T>(name: string, text: string, fn: (file: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(path.join(tmpdir(), 'mesh-trace-completion-'))
  try {
    const file = path.join(dir, name)
    await writeFile(file, text)
    return await fn(file)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

/** Runs the bash completion function for `words` (the last one is being completed) and returns COMPREPLY. */
async function bashComplete(...words: string[]): Promise<string[]> {
  return withScript('c.bash', bashCompletion(spec), async (file) => {
    const r = await execa('bash', ['-c', `source "$0"; COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 )); _kubectl_mesh_trace; printf '%s\\n' "\${COMPREPLY[@]}"`, file, 'kubectl-mesh_trace', ...words], { cwd: root })
    return r.stdout.split('\n').filter((l) => l !== '')
  })
}

describe('bash completion', () => {
  it.each<[string, string[], string[]]>([
    ['the first word completes to subcommands', [''], ['capture', 'check', 'completion', 'route-check', 'trace']],
    ['a partial subcommand', ['ro'], ['route-check']],
    ['-o values of trace, the default command', ['--bundle', 'examples/bookinfo', '-o', ''], ['text', 'json', 'yaml', 'mermaid', 'dot']],
    ['-o values of an explicit trace', ['trace', '--output', 'me'], ['mermaid']],
    ['-o values of check differ from trace\'s', ['check', '-o', ''], ['text', 'json']],
    ['--output=VALUE split at "=" by bash', ['route-check', '--output', '=', 'j'], ['json']],
    ['--output=VALUE as one word', ['--output=y'], ['--output=yaml']],
    ['--color values', ['--color', 'a'], ['auto', 'always']],
    ['trace flags by prefix', ['--in'], ['--inbound', '--interactive']],
    ['capture flags, not trace\'s', ['capture', '--o'], ['--output', '--overwrite']],
    ['file names for --bundle', ['--bundle', 'examples/bookinfo-m'], ['examples/bookinfo-modern']],
    ['nothing for a free-text flag value', ['-n', ''], []],
    ['nothing for the TARGET argument', ['--bundle', 'x', 'http'], []],
  ])('%s', async (_name, words, expected) => {
    const reply = await bashComplete(...words)

    expect(reply).toEqual(expected)
  })

  it('parses as a bash script', () => {
    expect(() => execFileSync('bash', ['-n'], { input: bashCompletion(spec) })).not.toThrow()
  })
})

describe.runIf(has('fish'))('fish completion', () => {
  it.each<[string, string, string[]]>([
    ['subcommands first', 'kubectl-mesh_trace ', ['capture', 'check', 'completion', 'route-check', 'trace']],
    ['-o values of trace', 'kubectl-mesh_trace --bundle x -o ', ['dot', 'json', 'mermaid', 'text', 'yaml']],
    ['-o values of route-check', 'kubectl-mesh_trace route-check --output ', ['json', 'text']],
    ['capture flags', 'kubectl-mesh_trace capture --ov', ['--overwrite']],
  ])('%s', async (_name, line, expected) => {
    const got = await withScript('c.fish', fishCompletion(spec), async (file) =>
      (await execa('fish', ['-c', `source ${file}; complete -C ${JSON.stringify(line)}`])).stdout)

    expect(got.split('\n').map((l) => l.split('\t')[0]).sort()).toEqual([...expected].sort())
  })
})

describe.runIf(has('zsh'))('zsh completion', () => {
  const run = (words: string[], current: number) => withScript('c.zsh', zshCompletion(spec), async (file) =>
    (await execa('zsh', ['-f', '-c', `_describe() { print -r -- "describe:$4=\${(j:,:)\${(P)4}}" }; _arguments() { print -rl -- "$@" }; compdef() { : }; source $1; words=(\${@[2,-1]}); CURRENT=${current}; _kubectl_mesh_trace`, 'zsh', file, 'kubectl-mesh_trace', ...words])).stdout.split('\n'))

  it('offers the subcommands at the first word', async () => {
    const out = await run([''], 2)

    expect(out).toHaveLength(1)
    expect(out[0]).toMatch(/^describe:subcommands=capture:Save .*,check:.*,completion:.*,route-check:.*,trace:Explain /)
  })

  it('hands the subcommand\'s flags, with -o values, to _arguments', async () => {
    const specs = await run(['route-check', '-o', ''], 4)

    expect(specs).toContain('(-o --output)--output[Output format.]:output:(text json)')
    expect(specs).toContain('(-c --config)--config[The RouteConfiguration (YAML or JSON).]:config:_files')
  })

  it('uses trace\'s flags when the first word is not a subcommand', async () => {
    const specs = await run(['--bundle', 'x', '-o', ''], 5)

    expect(specs).toContain('(-o --output)-o[Output format.]:output:(text json yaml mermaid dot)')
    expect(specs).toContain('--inbound[Trace a request arriving at the pod (TARGET like http\\://\\:9080/path).]')
  })
})

/** Installs kubectl_complete-mesh_trace in a temp dir and runs `fn` with it. */
async function withKubectlCompleter<T>(fn: (dir: string, file: string) => Promise<T>): Promise<T> {
  return withScript('kubectl_complete-mesh_trace', kubectlPluginCompletion(spec), async (file) => {
    await execa('chmod', ['+x', file])
    return fn(path.dirname(file), file)
  })
}

describe('kubectl plugin completion (kubectl_complete-mesh_trace)', () => {
  it.each<[string, string[], string[]]>([
    ['subcommands first', [''], ['capture', 'check', 'completion', 'route-check', 'trace', ':4']],
    ['-o values of trace, the default command', ['--bundle', 'x', '-o', ''], ['text', 'json', 'yaml', 'mermaid', 'dot', ':4']],
    ['-o values by prefix', ['-o', 'm'], ['mermaid', ':4']],
    ['--output=VALUE of route-check', ['route-check', '--output='], ['--output=text', '--output=json', ':4']],
    ['capture flags', ['capture', '--o'], ['--output', '--overwrite', ':4']],
    ['file names for --bundle (left to the shell)', ['--bundle', ''], [':0']],
    ['nothing for the TARGET argument', ['--bundle', 'x', 'http'], [':4']],
  ])('%s', async (_name, words, expected) => {
    const out = await withKubectlCompleter(async (_dir, file) => (await execa(file, words)).stdout)

    expect(out.split('\n')).toEqual(expected)
  })

  it('is what the real kubectl runs for `kubectl mesh-trace -o <TAB>`', async () => {
    const out = await withKubectlCompleter(async (dir) => (await execa('kubectl', ['__complete', 'mesh-trace', '-o', ''], {
      env: { ...process.env, PATH: [dir, path.join(root, 'bin'), process.env.PATH].join(path.delimiter) },
    })).stdout)

    expect(out.split('\n')).toEqual(['text', 'json', 'yaml', 'mermaid', 'dot', ':4'])
  })
})

describe('kubectl mesh-trace completion', () => {
  it.each(['bash', 'zsh', 'fish', 'kubectl'] as const)('prints the %s script built from the manifest', async (shell) => {
    const r = await execa(path.join(root, 'bin', 'kubectl-mesh_trace'), ['completion', shell], { cwd: root, reject: false })

    expect(r.exitCode).toBe(0)
    expect(r.stdout).toBe({ bash: bashCompletion, zsh: zshCompletion, fish: fishCompletion, kubectl: kubectlPluginCompletion }[shell](spec).trimEnd())
  })

  it('rejects another shell with a usage error', async () => {
    const r = await execa(path.join(root, 'bin', 'kubectl-mesh_trace'), ['completion', 'tcsh'], { cwd: root, reject: false })

    expect(r.exitCode).toBe(2)
    expect(r.stderr).toMatch(/bash, zsh, fish, kubectl/)
  })
})
