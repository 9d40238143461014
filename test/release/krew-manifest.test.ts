import { describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { buildKrewManifest, krewManifestYaml, validateKrewManifest, type KrewArchive, type KrewManifest } from '../../scripts/release/krew-manifest.mjs'

// krew's rules: sigs.k8s.io/krew internal/index/validation/validate.go, plus krew-index's
// "no two platforms for one os/arch" and "bin is one of the installed files".
const SHA = 'a'.repeat(64)
const archive = (os: string, arch: string, extra: Partial<KrewArchive> = {}): KrewArchive => ({
  os, arch, uri: `https://example.test/kubectl-mesh-trace_v0.1.0_${os}_${arch}.tar.gz`, sha256: SHA,
  bin: os === 'windows' ? 'kubectl-mesh_trace.exe' : 'kubectl-mesh_trace',
  files: [{ from: os === 'windows' ? 'kubectl-mesh_trace.exe' : 'kubectl-mesh_trace', to: '.' }, { from: 'LICENSE', to: '.' }],
  ...extra,
})
const releaseArchives = [
  archive('linux', 'amd64'), archive('linux', 'arm64'), archive('darwin', 'amd64'), archive('windows', 'amd64'),
  archive('darwin', 'arm64', { needsNode: true, files: [{ from: 'kubectl-mesh_trace', to: '.' }, { from: 'lib', to: '.' }, { from: 'LICENSE', to: '.' }] }),
]
const valid = (): KrewManifest => buildKrewManifest({ version: '0.1.0', homepage: 'https://example.test/mesh-trace', archives: releaseArchives })

describe('the release manifest', () => {
  it('passes krew validation, named mesh-trace.yaml', () => {
    const manifest = valid()

    const problems = validateKrewManifest(manifest, 'mesh-trace.yaml')

    expect(problems).toEqual([])
  })

  it('survives the YAML round trip krew does', () => {
    const manifest = valid()

    const reparsed = parse(krewManifestYaml(manifest))

    expect(reparsed).toEqual(manifest)
    expect(validateKrewManifest(reparsed, 'mesh-trace.yaml')).toEqual([])
  })

  it('has the shape krew-index expects, with a caveat only because darwin/arm64 needs node', () => {
    const manifest = valid()

    expect(manifest).toMatchObject({ apiVersion: 'krew.googlecontainertools.github.com/v1alpha2', kind: 'Plugin', metadata: { name: 'mesh-trace' }, spec: { version: 'v0.1.0' } })
    expect(manifest.spec.caveats).toMatch(/darwin\/arm64.*Node\.js/)
    expect(manifest.spec.platforms.map((p) => `${p.selector.matchLabels.os}/${p.selector.matchLabels.arch}`)).toEqual(['linux/amd64', 'linux/arm64', 'darwin/amd64', 'windows/amd64', 'darwin/arm64'])
    expect(buildKrewManifest({ version: '0.1.0', homepage: 'https://x.test', archives: [archive('linux', 'amd64')] }).spec.caveats).toBeUndefined()
  })
})

type Mutation = (m: KrewManifest & Record<string, unknown>) => void
describe('krew rules', () => {
  it.each<[string, Mutation, RegExp]>([
    ['apiVersion other than v1alpha2', (m) => { m.apiVersion = 'krew.googlecontainertools.github.com/v1alpha1' }, /apiVersion/],
    ['kind other than Plugin', (m) => { m.kind = 'Plugins' }, /kind/],
    ['name with a dot', (m) => { m.metadata.name = 'mesh.trace' }, /metadata.name/],
    ['name that Windows reserves', (m) => { m.metadata.name = 'con' }, /metadata.name/],
    ['version without v', (m) => { m.spec.version = '0.1.0' }, /not semver/],
    ['version that is not semver', (m) => { m.spec.version = 'v0.1' }, /not semver/],
    ['empty short description', (m) => { m.spec.shortDescription = '' }, /shortDescription is missing/],
    ['short description with a line break', (m) => { m.spec.shortDescription = 'a\nb' }, /line break/],
    ['no platforms', (m) => { m.spec.platforms = [] }, /platforms is empty/],
    ['sha256 in upper case', (m) => { m.spec.platforms[0].sha256 = 'A'.repeat(64) }, /sha256/],
    ['sha256 too short', (m) => { m.spec.platforms[0].sha256 = 'a'.repeat(63) }, /sha256/],
    ['no uri', (m) => { m.spec.platforms[0].uri = '' }, /uri has to be set/],
    ['no bin', (m) => { m.spec.platforms[0].bin = '' }, /bin has to be set/],
    ['bin not among the files', (m) => { m.spec.platforms[0].bin = 'kubectl-other' }, /not among the installed files/],
    ['windows bin without .exe', (m) => { m.spec.platforms[3].bin = 'kubectl-mesh_trace'; m.spec.platforms[3].files[0].from = 'kubectl-mesh_trace' }, /\.exe/],
    ['empty files list', (m) => { m.spec.platforms[0].files = [] }, /files has to be left out or non-empty/],
    ['file operation without to', (m) => { m.spec.platforms[0].files[1].to = '' }, /to has to be set/],
    ['file operation with an unclean to', (m) => { m.spec.platforms[0].files[1].to = './docs/' }, /not clean/],
    ['two platforms for linux/amd64', (m) => { m.spec.platforms[1].selector.matchLabels.arch = 'amd64' }, /overlaps/],
    ['selector key other than os and arch', (m) => { m.spec.platforms[0].selector.matchLabels.distro = 'debian' }, /not supported/],
    ['empty matchLabels', (m) => { m.spec.platforms[0].selector.matchLabels = {} }, /specified but empty/],
    ['no selector', (m) => { delete (m.spec.platforms[0] as Partial<KrewManifest['spec']['platforms'][0]>).selector }, /selector is missing/],
  ])('rejects %s', (_name, mutate, message) => {
    const manifest = structuredClone(valid()) as KrewManifest & Record<string, unknown>
    mutate(manifest)

    const problems = validateKrewManifest(manifest, 'mesh-trace.yaml')

    expect(problems.join('\n')).toMatch(message)
  })

  it('requires the file to be named after the plugin', () => {
    expect(validateKrewManifest(valid(), 'kubectl-mesh-trace.yaml').join('\n')).toMatch(/named mesh-trace\.yaml/)
  })

  it('accepts a file that is left out and a pre-release version', () => {
    const manifest = valid()
    manifest.spec.version = 'v1.2.3-rc.1+build.5'
    delete (manifest.spec.platforms[0] as Partial<KrewManifest['spec']['platforms'][0]>).files

    expect(validateKrewManifest(manifest, 'mesh-trace.yaml')).toEqual([])
  })
})
