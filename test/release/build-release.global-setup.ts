import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import type { TestProject } from 'vitest/node'
import { buildRelease, selectPlatforms, type Release } from '../../scripts/release/build.mjs'

declare module 'vitest' {
  export interface ProvidedContext {
    release: Pick<Release, 'version' | 'manifestPath' | 'archives'>
  }
}

/** Builds this machine's single binary and the darwin/arm64 node-launcher archive into a temp dir. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const out = await mkdtemp(path.join(tmpdir(), 'mesh-trace-release-test-'))
  const release = await buildRelease({ out, platforms: [...selectPlatforms('host'), ...selectPlatforms('darwin/arm64')], urlBase: 'https://example.test/releases/v0', log: () => {} })
  project.provide('release', { version: release.version, manifestPath: release.manifestPath, archives: release.archives })
  return async () => {
    await rm(out, { recursive: true, force: true })
  }
}
