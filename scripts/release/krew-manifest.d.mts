// Types for krew-manifest.mjs (the release scripts are plain ESM; tests import them from TypeScript).

/** The only apiVersion krew reads. */
export const KREW_API_VERSION: string
/** The plugin's name in krew. */
export const PLUGIN_NAME: string

/** One krew file operation: move the matches of `from` into `to`. */
export interface KrewFileOperation { from: string; to: string }

/** One archive as the manifest needs it. */
export interface KrewArchive {
  os: string
  arch: string
  uri: string
  sha256: string
  bin: string
  files: KrewFileOperation[]
  needsNode?: boolean
}

/** One `spec.platforms` entry. */
export interface KrewPlatform {
  selector: { matchLabels: Record<string, string> }
  uri: string
  sha256: string
  files: KrewFileOperation[]
  bin: string
}

/** A krew Plugin manifest. */
export interface KrewManifest {
  apiVersion: string
  kind: string
  metadata: { name: string }
  spec: { version: string; homepage: string; shortDescription: string; description: string; caveats?: string; platforms: KrewPlatform[] }
}

/** Builds the manifest object for `archives`. */
export function buildKrewManifest(options: { version: string; homepage: string; archives: KrewArchive[] }): KrewManifest
/** The manifest as YAML. */
export function krewManifestYaml(manifest: KrewManifest): string
/** Every way `manifest` breaks krew's rules (empty when valid). */
export function validateKrewManifest(manifest: unknown, fileName?: string): string[]
