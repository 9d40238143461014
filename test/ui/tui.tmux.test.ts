import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { readOfflineSnapshot } from '../../src/collect/bundle/read-bundle.js'
import { parseRequest } from '../../src/engine/trace/request.js'
import { prepareSnapshot, traceRequest } from '../../src/engine/trace/trace-request.js'
import { alternativeHead } from '../../src/ui/detail-lines.js'

/**
 * End to end: the real binary's explorer (`-i`) in a detached tmux session of 80×24, driven with
 * send-keys and read with capture-pane. What to expect on screen is computed from the same bundle
 * through the engine, so the test follows the sample bundle as it grows.
 */

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const bin = join(repo, 'bin', 'kubectl-mesh_trace')
const bundle = join(repo, 'examples', 'bookinfo')
const target = 'http://ratings:9080/ratings/0'
const inCi = process.env.CI !== undefined

const hasTmux = spawnSync('tmux', ['-V'], { encoding: 'utf8' }).status === 0
const builtTrace = join(repo, 'dist', 'commands', 'trace.js')
const wired = existsSync(join(repo, 'dist', 'ui', 'run-tui.js')) && existsSync(builtTrace) && readFileSync(builtTrace, 'utf8').includes('run-tui.js')
const hasBundle = existsSync(join(bundle, 'config_dump.json'))

const missing = [
  hasTmux ? null : 'tmux is not installed (apt-get install tmux)',
  wired ? null : 'dist/ has no trace command wired to the explorer (-i) yet: npm run build',
  hasBundle ? null : 'examples/bookinfo is not there yet',
].filter((m): m is string => m !== null)
if (missing.length > 0 && !inCi) {
  console.warn(`\n!!! SKIPPING the tmux end-to-end test of the explorer: ${missing.join('; ')}. In CI this fails. !!!\n`)
}

const socket = `mesh-trace-e2e-${process.pid}`
const session = 'e2e'

function tmux(...args: string[]): string {
  return execFileSync('tmux', ['-L', socket, '-f', '/dev/null', ...args], { encoding: 'utf8' })
}

function screen(): string {
  return tmux('capture-pane', '-p', '-t', session)
}

/** Waits (up to 10 s) for the screen to pass `test`; fails with the screen it last saw. */
async function waitFor(what: string, test: (screen: string) => boolean): Promise<string> {
  let last = ''
  for (let i = 0; i < 200; i++) {
    last = screen()
    if (test(last)) return last
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  throw new Error(`timed out waiting for ${what}; the screen shows:\n${last}`)
}

/** Sends keys one at a time (tmux key names, or literal text with `-l`). */
async function keys(...names: string[]): Promise<void> {
  for (const name of names) {
    tmux('send-keys', '-t', session, name)
    await new Promise((resolve) => setTimeout(resolve, 40))
  }
}

async function type(text: string): Promise<void> {
  tmux('send-keys', '-t', session, '-l', text)
  await new Promise((resolve) => setTimeout(resolve, 40))
}

describe.skipIf(missing.length > 0 && !inCi)('the explorer under tmux (bin/kubectl-mesh_trace -i)', () => {
  it('has what it needs', () => {
    expect(missing, missing.join('; ')).toEqual([])
  })

  it('opens, moves, expands a near miss, re-traces an edited request, and quits leaving the terminal clean', { timeout: 90_000 }, async () => {
    const ctx = prepareSnapshot(await readOfflineSnapshot({ bundle }))
    const first = traceRequest(ctx, parseRequest(target))
    const withMiss = first.steps.findIndex((s) => s.stage === 'route' && s.rejected.length > 0) >= 0
      ? first.steps.findIndex((s) => s.stage === 'route' && s.rejected.length > 0)
      : first.steps.findIndex((s) => s.rejected.length > 0)
    const edits = ['http://ratings:9080/health', 'http://ratings:9080/', 'http://reviews:9080/reviews/0', 'http://details:9080/details/0']
    const edit = edits
      .map((url) => ({ url, trace: traceRequest(ctx, parseRequest(url)) }))
      .find((e) => e.trace.result.route !== first.result.route || e.trace.result.cluster !== first.result.cluster)
    expect(withMiss, 'the bookinfo trace has a step with a rejected candidate').toBeGreaterThanOrEqual(0)
    expect(edit, 'one of the edits takes another route').toBeDefined()
    const command = [
      'S=$(stty -g)',
      'echo BEFORE-TUI',
      `${JSON.stringify(process.execPath)} ${JSON.stringify(bin)} --bundle ${JSON.stringify(bundle)} ${target} -i`,
      'R=$?',
      'if [ "$(stty -g)" = "$S" ]; then echo TTY-SAME; else echo TTY-CHANGED; fi',
      'echo "AFTER-TUI exit=$R"',
      'sleep 120',
    ].join('; ')

    try {
      tmux('new-session', '-d', '-x', '80', '-y', '24', '-s', session, '-c', repo, `sh -c '${command.replace(/'/g, `'\\''`)}'`)

      // Opens: the request and outcome on top, the keys at the bottom, the first step selected.
      const opened = await waitFor('the explorer', (s) => s.includes('q quit'))
      expect(opened.split('\n')[0]).toMatch(new RegExp(`^GET ${target.replace(/[/.]/g, '\\$&')} +${first.result.outcome}$`))
      expect(opened).toContain(`1/${first.steps.length}  ${first.steps[0].stage}`)

      // Moves.
      await keys('Down')
      await waitFor('step 2 selected', (s) => s.includes(`2/${first.steps.length}  ${first.steps[1].stage}`))

      // Expands the first near miss of the step that has one (the route's, when it has one).
      await keys('g', ...Array<string>(withMiss).fill('Down'), 'Enter', 'Enter', 'Enter')
      const head = alternativeHead(first.steps[withMiss].rejected[0]).slice(0, 30)
      const expanded = await waitFor('an expanded near miss', (s) => s.includes(`▾ ✗ ${head}`))
      expect(expanded).toContain(`${withMiss + 1}/${first.steps.length}  ${first.steps[withMiss].stage}`)

      // Edits the request and sees the new path at once.
      await keys('Left', 'e')
      await waitFor('the editor', (s) => s.includes('Edit the request'))
      await keys('C-u')
      await type(edit?.url ?? '')
      await keys('Enter')
      const newCluster = edit?.trace.result.cluster ?? ''
      const retraced = await waitFor('the re-traced request', (s) => s.includes('Re-traced:'))
      expect(retraced.split('\n')[0]).toMatch(/\(edited\)/)
      expect(retraced.split('\n')[0]).toContain(`GET ${edit?.url ?? ''}`)
      expect(retraced.split('\n')[2]).toContain(newCluster.slice(0, 40))

      // Quits; the shell's screen is back as it was: no explorer left, no alternate screen, cursor shown, tty modes restored.
      await keys('q')
      const after = await waitFor('the shell after the explorer', (s) => s.includes('AFTER-TUI'))
      expect(after).toContain('AFTER-TUI exit=0')
      expect(after).toContain('TTY-SAME')
      expect(after).not.toContain('q quit')
      expect(after).not.toContain('────')
      expect(after.trim().split('\n')).toEqual(['BEFORE-TUI', 'TTY-SAME', 'AFTER-TUI exit=0'])
      expect(tmux('display-message', '-p', '-t', session, '#{alternate_on} #{cursor_flag}').trim()).toBe('0 1')
    } finally {
      spawnSync('tmux', ['-L', socket, 'kill-server'])
    }
  })
})
