// Types for build.mjs (used by the release tests and the release bench).

/** One archive the release wrote. */
export interface ReleaseArchive {
  os: string
  arch: string
  kind: 'sea' | 'node-launcher'
  needsNode: boolean
  /** Absolute path of the archive. */
  file: string
  /** Its file name, e.g. kubectl-mesh-trace_v0.1.0_linux_amd64.tar.gz. */
  name: string
  sha256: string
  bytes: number
  uri: string
  bin: string
  files: Array<{ from: string; to: string }>
}

/** What buildRelease wrote. */
export interface Release {
  version: string
  bundleDir: string
  bundle: { files: string[]; bytes: number; sha256: string }
  archives: ReleaseArchive[]
  manifestPath: string
}

/** A release target (see platforms.mjs). */
export interface ReleasePlatform { os: string; arch: string; kind: 'sea' | 'node-launcher' }

export const DEFAULT_HOMEPAGE: string
/** Builds the bundle, the archives for `platforms` and the krew manifest into `out`. */
export function buildRelease(options?: { out?: string; platforms?: ReleasePlatform[]; urlBase?: string; homepage?: string; cacheDir?: string; log?: (line: string) => void }): Promise<Release>
/** Parses `all`, `host` or `linux/amd64,darwin/arm64` into platforms. */
export function selectPlatforms(spec?: string): ReleasePlatform[]
