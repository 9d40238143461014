import { existsSync } from 'node:fs'
import { homedir } from 'node:os'
import path from 'node:path'
import type { KubeConfig } from '@kubernetes/client-node'
import { UserError } from '../../errors.js'

/** kubectl's connection flags, as the collector takes them (see `kubeFlags` in src/flags.ts). */
export interface KubeOptions {
  /** --kubeconfig (otherwise $KUBECONFIG, ~/.kube/config, then in-cluster config). */
  kubeconfig?: string
  /** --context (otherwise the kubeconfig's current-context). */
  context?: string
  /** -n/--namespace (otherwise the context's namespace, else `default`). */
  namespace?: string
  /** -c/--container: the sidecar container (default `istio-proxy`). */
  container: string
  /** --request-timeout as kubectl spells it: `30s`, `1m`, `500ms`, `0` (no timeout). */
  requestTimeout: string
}

/** The shared kube flags (src/flags.ts `kubeFlags`) as KubeOptions. */
export function kubeOptionsFromFlags(flags: { namespace?: string; context?: string; kubeconfig?: string; container: string; 'request-timeout': string }): KubeOptions {
  return {
    container: flags.container,
    requestTimeout: flags['request-timeout'],
    ...(flags.namespace !== undefined ? { namespace: flags.namespace } : {}),
    ...(flags.context !== undefined ? { context: flags.context } : {}),
    ...(flags.kubeconfig !== undefined ? { kubeconfig: flags.kubeconfig } : {}),
  }
}

/** A loaded kubeconfig with the namespace and per-request timeout resolved. */
export interface KubeConnection {
  kc: KubeConfig
  /** The namespace to use when the target names none. */
  namespace: string
  /** Per-request timeout in milliseconds; 0 means none. */
  timeoutMs: number
  /** The API server URL (for messages). */
  server: string
  /** The context in use (for messages and meta.json). */
  context: string
}

/** Parses kubectl's --request-timeout: a number with unit (`ms`, `s`, `m`, `h`, combinable like `1m30s`), a bare number of seconds, or `0`. */
export function parseRequestTimeout(text: string): number {
  const t = text.trim()
  if (/^\d+$/.test(t)) return Number(t) * 1000
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/gy
  let total = 0
  let m: RegExpExecArray | null
  let consumed = 0
  while ((m = re.exec(t)) !== null) {
    total += Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h']
    consumed = re.lastIndex
  }
  if (t === '' || consumed !== t.length) {
    throw new UserError(`--request-timeout ${JSON.stringify(text)} is not a duration.`, { code: 'usage', exitCode: 2, hint: 'Use a number with a unit, e.g. 30s, 1m or 500ms (0 means no timeout).' })
  }
  return Math.round(total)
}

/**
 * Loads the kubeconfig the way kubectl does: --kubeconfig, else every file in $KUBECONFIG (the first file to
 * set a value wins), else ~/.kube/config, else the in-cluster service account; then --context and the namespace.
 */
export async function connectToCluster(options: KubeOptions, env: NodeJS.ProcessEnv = process.env): Promise<KubeConnection> {
  const { KubeConfig } = await import('@kubernetes/client-node')
  const timeoutMs = parseRequestTimeout(options.requestTimeout)
  const kc = new KubeConfig()
  const load = (target: KubeConfig, file: string): void => {
    if (!existsSync(file)) {
      throw new UserError(`The kubeconfig ${file} does not exist.`, { code: 'kubeconfig-not-found', hint: 'Check --kubeconfig or $KUBECONFIG.' })
    }
    try {
      target.loadFromFile(file)
    } catch (err) {
      throw new UserError(`The kubeconfig ${file} cannot be read: ${(err as Error).message}.`, { code: 'kubeconfig-invalid', cause: err })
    }
  }
  const files = options.kubeconfig !== undefined ? [options.kubeconfig] : (env.KUBECONFIG ?? '').split(path.delimiter).filter((f) => f !== '')
  if (files.length > 0) {
    load(kc, files[0])
    for (const file of files.slice(1)) {
      if (!existsSync(file)) continue // kubectl skips missing files in $KUBECONFIG
      const more = new KubeConfig()
      load(more, file)
      mergeFirstWins(kc, more)
    }
  } else if (existsSync(path.join(env.HOME ?? homedir(), '.kube', 'config'))) {
    load(kc, path.join(env.HOME ?? homedir(), '.kube', 'config'))
  } else if (env.KUBERNETES_SERVICE_HOST !== undefined) {
    kc.loadFromCluster()
  } else {
    throw new UserError('No kubeconfig was found, so there is no cluster to read the pod from.', {
      code: 'kubeconfig-not-found',
      hint: 'Pass --kubeconfig FILE (or set $KUBECONFIG), or trace a saved bundle with --bundle DIR.',
    })
  }
  if (options.context !== undefined) {
    if (kc.getContextObject(options.context) === null) {
      const known = kc.getContexts().map((c) => c.name)
      throw new UserError(`The context ${options.context} is not in the kubeconfig.`, { code: 'context-not-found', hint: known.length > 0 ? `Known contexts: ${known.join(', ')}.` : 'The kubeconfig has no contexts.' })
    }
    kc.setCurrentContext(options.context)
  }
  const cluster = kc.getCurrentCluster()
  if (cluster === null) {
    throw new UserError(`The kubeconfig has no cluster for the context ${kc.getCurrentContext() || '(none)'}.`, { code: 'context-not-found', hint: 'Choose a context with --context, or fix the kubeconfig (kubectl config get-contexts).' })
  }
  const namespace = options.namespace ?? kc.getContextObject(kc.getCurrentContext())?.namespace ?? 'default'
  return { kc, namespace, timeoutMs, server: cluster.server, context: kc.getCurrentContext() }
}

function mergeFirstWins(into: KubeConfig, from: KubeConfig): void {
  if (into.currentContext === '' || into.currentContext === undefined) into.currentContext = from.currentContext
  const names = (xs: Array<{ name: string }>): Set<string> => new Set(xs.map((x) => x.name))
  const clusters = names(into.clusters)
  const users = names(into.users)
  const contexts = names(into.contexts)
  for (const c of from.clusters) if (!clusters.has(c.name)) into.addCluster(c)
  for (const u of from.users) if (!users.has(u.name)) into.addUser(u)
  for (const c of from.contexts) if (!contexts.has(c.name)) into.addContext(c)
}
