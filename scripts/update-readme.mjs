#!/usr/bin/env node
// Rewrites the README's sample blocks from the built plugin (npm run build first), so the README stays true:
// the text trace between <!-- sample:begin/end --> and the Mermaid diagram between <!-- mermaid:begin/end -->.
// test/readme.test.ts fails when they differ from what the plugin prints.
import { readFileSync, writeFileSync } from 'node:fs'
import { execFileSync } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
export const SAMPLE_ARGS = ['--bundle', 'examples/bookinfo', 'http://ratings:9080/ratings/0']

/** What the plugin prints for the README's sample (text and Mermaid). */
export function readmeBlocks() {
  const run = (extra) => execFileSync(process.execPath, [join(root, 'bin', 'kubectl-mesh_trace'), ...SAMPLE_ARGS, ...extra], { cwd: root, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'ignore'] }).trimEnd()
  return { sample: run([]), mermaid: run(['-o', 'mermaid']) }
}

/** Replaces the fenced block between two markers. */
export function replaceBlock(readme, name, lang, body) {
  const re = new RegExp(`(<!-- ${name}:begin -->\\n)\`\`\`[a-z]*\\n[\\s\\S]*?\\n\`\`\`(\\n<!-- ${name}:end -->)`)
  if (!re.test(readme)) throw new Error(`README.md has no ${name} block`)
  return readme.replace(re, (_m, a, b) => `${a}\`\`\`${lang}\n${body}\n\`\`\`${b}`)
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const file = join(root, 'README.md')
  const blocks = readmeBlocks()
  let readme = readFileSync(file, 'utf8')
  readme = replaceBlock(readme, 'sample', '', blocks.sample)
  readme = replaceBlock(readme, 'mermaid', 'mermaid', blocks.mermaid)
  writeFileSync(file, readme)
  console.log('README.md sample blocks updated')
}
