import { readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
// @ts-expect-error: a plain .mjs script without type declarations
import { readmeBlocks } from '../scripts/update-readme.mjs'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const readme = readFileSync(path.join(root, 'README.md'), 'utf8')

function block(name: string): string {
  const m = new RegExp(`<!-- ${name}:begin -->\\n\`\`\`[a-z]*\\n([\\s\\S]*?)\\n\`\`\`\\n<!-- ${name}:end -->`).exec(readme)
  if (m === null) throw new Error(`README.md has no ${name} block`)
  return m[1]
}

describe('README', () => {
  it('shows what the plugin really prints for the sample (refresh with node scripts/update-readme.mjs)', () => {
    const real = readmeBlocks() as { sample: string; mermaid: string }

    expect(block('sample')).toBe(real.sample)
    expect(block('mermaid')).toBe(real.mermaid)
  })

  it('keeps the Quick start at exactly two commands', () => {
    const quick = /## Quick start\n\n```sh\n([\s\S]*?)\n```/.exec(readme)?.[1] ?? ''

    expect(quick.split('\n').map((l) => l.replace(/\s+#.*$/, '').trim())).toEqual(['npm ci && npm run demo', 'npm test'])
  })
})
