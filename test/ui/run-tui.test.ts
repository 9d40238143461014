import { EventEmitter } from 'node:events'
import { describe, expect, it } from 'vitest'
import { runTui, showCollecting } from '../../src/ui/run-tui.js'
import { loadTrace } from '../fixtures/traces/load-traces.js'
import { bookinfoRequest, fakeRetrace, settle } from './explorer-fixtures.js'

/** A terminal's output side: records writes, 80×24, a TTY. */
class FakeTerminalOut extends EventEmitter {
  isTTY = true
  columns = 80
  rows = 24
  written = ''
  write(chunk: string): boolean {
    this.written += chunk
    return true
  }
}

/** A terminal's input side in raw mode: keys written here reach ink. */
class FakeTerminalIn extends EventEmitter {
  isTTY = true
  rawMode: boolean[] = []
  private queue: string[] = []
  setRawMode(on: boolean): void {
    this.rawMode.push(on)
  }
  setEncoding(): void {}
  ref(): void {}
  unref(): void {}
  resume(): void {}
  pause(): void {}
  read(): string | null {
    return this.queue.shift() ?? null
  }
  type(keys: string): void {
    this.queue.push(keys)
    this.emit('readable')
  }
}

/** Polls (up to 10 s) until the explorer has drawn: the first load of ink and the components takes a while. */
async function until(ready: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !ready(); i++) await settle(20)
}

const ENTER_ALT_SCREEN = '\u001b[?1049h'
const LEAVE_ALT_SCREEN = '\u001b[?1049l'

describe('runTui', () => {
  it('opens on the alternate screen, quits on q, and leaves the terminal as it was', async () => {
    const stdout = new FakeTerminalOut()
    const stdin = new FakeTerminalIn()

    const done = runTui({ initial: loadTrace('bookinfo-outbound'), request: bookinfoRequest(), retrace: fakeRetrace, color: false, stdout: stdout as unknown as NodeJS.WriteStream, stdin: stdin as unknown as NodeJS.ReadStream })
    await until(() => stdout.written.includes('q quit'))
    expect(stdout.written.startsWith(ENTER_ALT_SCREEN)).toBe(true)
    expect(stdout.written).toContain('GET http://ratings:9080/ratings/0')
    stdin.type('q')
    await done

    expect(stdout.written.endsWith(`\u001b[?25h${LEAVE_ALT_SCREEN}`)).toBe(true)
    expect(stdin.rawMode[0]).toBe(true)
    expect(stdin.rawMode.at(-1)).toBe(false)
  })

  it('gives CI back to the environment after loading ink', async () => {
    const before = process.env.CI
    process.env.CI = 'true'
    const stdout = new FakeTerminalOut()
    const stdin = new FakeTerminalIn()

    const done = runTui({ initial: loadTrace('bookinfo-outbound'), request: bookinfoRequest(), retrace: fakeRetrace, color: false, stdout: stdout as unknown as NodeJS.WriteStream, stdin: stdin as unknown as NodeJS.ReadStream })
    await until(() => stdout.written.includes('q quit'))
    stdin.type('q')
    await done

    expect(process.env.CI).toBe('true')
    if (before === undefined) delete process.env.CI
    else process.env.CI = before
  })
})

describe('showCollecting', () => {
  it('draws the spinner on the given stream, updates it, and clears it', async () => {
    const stream = new FakeTerminalOut()

    const spinner = await showCollecting({ title: 'default/reviews-v1', items: ['pod', 'config_dump'], color: false, stream: stream as unknown as NodeJS.WriteStream })
    spinner.update([{ label: 'pod', state: 'done' }, 'config_dump'])
    await settle(60)
    await spinner.stop()

    expect(stream.written).toContain('Collecting live facts from default/reviews-v1')
    expect(stream.written).toContain('✓ pod')
  })
})
