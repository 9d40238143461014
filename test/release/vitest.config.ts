import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'

// npm run test:release: builds the host platform's single binary and the node-launcher archive once
// (global setup), then installs them the way krew does and runs them through the real kubectl.
export default defineConfig({
  test: {
    root: fileURLToPath(new URL('../..', import.meta.url)),
    include: ['test/release/**/*.release.ts'],
    globalSetup: ['test/release/build-release.global-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 300_000,
  },
})
