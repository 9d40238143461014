// The krew plugin manifest (plugins/mesh-trace.yaml): built from the archives, and checked against
// krew's own validation (sigs.k8s.io/krew internal/index/validation) plus krew-index's extra rules.
import { stringify } from 'yaml'

/** The only apiVersion krew reads. */
export const KREW_API_VERSION = 'krew.googlecontainertools.github.com/v1alpha2'
/** The plugin's name in krew (`kubectl krew install mesh-trace`). */
export const PLUGIN_NAME = 'mesh-trace'

const SAFE_PLUGIN_NAME = /^[\w-]+$/
const SHA256 = /^[a-f0-9]{64}$/
// krew's semver: 'v' then semver 2.0.0 (blang/semver).
const SEMVER = /^v(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$/
const WINDOWS_FORBIDDEN = ['CON', 'PRN', 'AUX', 'NUL', ...[1, 2, 3, 4, 5, 6, 7, 8, 9].flatMap((n) => [`COM${n}`, `LPT${n}`])]
const KNOWN_OS = ['linux', 'darwin', 'windows']

/**
 * The manifest object for `archives`: one platform entry each ({os, arch, uri, sha256, files, bin, needsNode}).
 * A caveats section is added when any archive needs Node on PATH.
 */
export function buildKrewManifest({ version, homepage, archives }) {
  const launcherPlatforms = archives.filter((a) => a.needsNode).map((a) => `${a.os}/${a.arch}`)
  const spec = {
    version: `v${version}`,
    homepage,
    shortDescription: 'Trace a request through iptables and the Envoy sidecar',
    description: [
      'Explains how a request travels from a pod through iptables and the Envoy',
      'sidecar: the iptables chains and redirect, then listener, filter chain, route',
      'configuration, virtual host, route, cluster and endpoint, with the evidence for',
      'each step and why every other candidate lost. Works on a live pod (read-only)',
      'or offline on a bundle saved with `kubectl mesh-trace capture`.',
      '',
    ].join('\n'),
  }
  if (launcherPlatforms.length > 0) {
    spec.caveats = [
      `On ${launcherPlatforms.join(', ')} this plugin runs with the Node.js on your PATH:`,
      'it needs Node.js >= 20.19 (https://nodejs.org). Other platforms get a single binary.',
      '',
    ].join('\n')
  }
  spec.platforms = archives.map((a) => ({
    selector: { matchLabels: { os: a.os, arch: a.arch } },
    uri: a.uri,
    sha256: a.sha256,
    files: a.files,
    bin: a.bin,
  }))
  return { apiVersion: KREW_API_VERSION, kind: 'Plugin', metadata: { name: PLUGIN_NAME }, spec }
}

/** The manifest as YAML, as krew-index keeps it. */
export function krewManifestYaml(manifest) {
  return stringify(manifest, { lineWidth: 0 })
}

/**
 * Every way `manifest` breaks krew's rules, as sentences (empty when valid). `fileName` is the
 * manifest's base name, which krew requires to be `<metadata.name>.yaml`.
 */
export function validateKrewManifest(manifest, fileName) {
  const errors = []
  const m = manifest ?? {}
  const name = m.metadata?.name
  if (m.apiVersion !== KREW_API_VERSION) errors.push(`apiVersion is ${JSON.stringify(m.apiVersion)}, krew reads only ${KREW_API_VERSION}`)
  if (m.kind !== 'Plugin') errors.push(`kind is ${JSON.stringify(m.kind)}, must be Plugin`)
  if (typeof name !== 'string' || !SAFE_PLUGIN_NAME.test(name) || WINDOWS_FORBIDDEN.some((w) => w.toLowerCase() === name.toLowerCase())) {
    errors.push(`metadata.name ${JSON.stringify(name)} is not allowed, must match ${SAFE_PLUGIN_NAME} and not be a reserved Windows name`)
  }
  if (fileName !== undefined && fileName !== `${name}.yaml`) errors.push(`the file is ${fileName}, krew requires it to be named ${name}.yaml`)
  const spec = m.spec ?? {}
  if (typeof spec.shortDescription !== 'string' || spec.shortDescription === '') errors.push('spec.shortDescription is missing')
  else if (/[\r\n]/.test(spec.shortDescription)) errors.push('spec.shortDescription has a line break')
  if (typeof spec.version !== 'string' || spec.version === '') errors.push('spec.version is missing')
  else if (!SEMVER.test(spec.version)) errors.push(`spec.version ${JSON.stringify(spec.version)} is not semver with a 'v' prefix (e.g. v0.1.0)`)
  if (spec.homepage !== undefined && !/^https?:\/\//.test(spec.homepage)) errors.push(`spec.homepage ${JSON.stringify(spec.homepage)} is not an http(s) URL`)
  const platforms = Array.isArray(spec.platforms) ? spec.platforms : []
  if (platforms.length === 0) errors.push('spec.platforms is empty')
  const seen = new Map()
  platforms.forEach((p, i) => {
    const where = `spec.platforms[${i}]`
    if (typeof p.uri !== 'string' || p.uri === '') errors.push(`${where}.uri has to be set`)
    if (typeof p.sha256 !== 'string' || p.sha256 === '') errors.push(`${where}.sha256 has to be set`)
    else if (!SHA256.test(p.sha256)) errors.push(`${where}.sha256 ${JSON.stringify(p.sha256)} must match ${SHA256}`)
    if (typeof p.bin !== 'string' || p.bin === '') errors.push(`${where}.bin has to be set`)
    errors.push(...validateFiles(p.files, p.bin, where))
    const labels = errorsOrLabels(p.selector, where)
    if (Array.isArray(labels)) {
      errors.push(...labels)
      return
    }
    if (labels.os === 'windows' && typeof p.bin === 'string' && !p.bin.endsWith('.exe')) errors.push(`${where}.bin ${p.bin} must end in .exe on windows`)
    if (labels.os !== undefined && !KNOWN_OS.includes(labels.os)) errors.push(`${where}.selector os ${labels.os} is not one of ${KNOWN_OS.join(', ')}`)
    const key = `${labels.os ?? '*'}/${labels.arch ?? '*'}`
    for (const [other, j] of seen) {
      const [os, arch] = other.split('/')
      const overlaps = (os === '*' || labels.os === undefined || os === labels.os) && (arch === '*' || labels.arch === undefined || arch === labels.arch)
      if (overlaps) errors.push(`${where}.selector (${key}) overlaps spec.platforms[${j}] (${other})`)
    }
    seen.set(key, i)
  })
  return errors
}

function validateFiles(files, bin, where) {
  if (files === undefined) return []
  if (!Array.isArray(files) || files.length === 0) return [`${where}.files has to be left out or non-empty`]
  const errors = []
  files.forEach((f, k) => {
    if (typeof f?.from !== 'string' || f.from === '') errors.push(`${where}.files[${k}].from has to be set`)
    if (typeof f?.to !== 'string' || f.to === '') errors.push(`${where}.files[${k}].to has to be set`)
    else if (f.to !== cleanPath(f.to)) errors.push(`${where}.files[${k}].to ${JSON.stringify(f.to)} is not clean, should be ${JSON.stringify(cleanPath(f.to))}`)
  })
  // krew moves each match of `from` to `to/<base name>`; bin is a path in the install directory.
  if (typeof bin === 'string' && bin !== '') {
    const installed = files.filter((f) => typeof f?.from === 'string' && typeof f?.to === 'string')
      .map((f) => cleanPath(`${f.to}/${f.from.split('/').at(-1)}`))
    if (!installed.includes(cleanPath(bin))) errors.push(`${where}.bin ${bin} is not among the installed files (${installed.join(', ')})`)
  }
  return errors
}

function errorsOrLabels(selector, where) {
  if (selector == null) return [`${where}.selector is missing (nil selector is not supported)`]
  const labels = selector.matchLabels
  const exprs = selector.matchExpressions
  if (labels == null && (exprs == null || exprs.length === 0)) return [`${where}.selector is empty`]
  if (labels != null && Object.keys(labels).length === 0) return [`${where}.selector.matchLabels is specified but empty`]
  if (exprs != null && exprs.length === 0) return [`${where}.selector.matchExpressions is specified but empty`]
  const keys = [...Object.keys(labels ?? {}), ...(exprs ?? []).map((e) => e?.key)]
  const bad = keys.filter((k) => k !== 'os' && k !== 'arch')
  if (bad.length > 0) return bad.map((k) => `${where}.selector key ${JSON.stringify(k)} is not supported (only os and arch)`)
  // Overlap checks below read matchLabels; an expression selector counts as matching anything.
  return exprs != null ? {} : labels
}

/** Go's filepath.Clean for '/'-separated relative paths. */
function cleanPath(p) {
  const out = []
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue
    if (part === '..' && out.length > 0 && out.at(-1) !== '..') out.pop()
    else out.push(part)
  }
  return out.length === 0 ? '.' : out.join('/')
}
