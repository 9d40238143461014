import { UserError } from '../../errors.js'
import { KubeApiError, type KubeApi, type Permission } from './kube-api.js'

/** The permission a call needs, from its name (`create pods/exec` → verb create, resource pods, subresource exec). */
export function permissionOfCall(call: string, namespace?: string): Permission {
  const [verb, full] = call.split(' ')
  const [resource, subresource] = (full ?? '').split('/')
  const group = resource === 'deployments' || resource === 'statefulsets' || resource === 'daemonsets' ? 'apps' : resource === 'endpointslices' ? 'discovery.k8s.io' : ''
  return { verb: verb ?? 'get', resource: resource ?? '', ...(subresource !== undefined ? { subresource } : {}), group, ...(namespace !== undefined ? { namespace } : {}) }
}

/**
 * Turns a failed API call into one sentence and a next step. A 403 is checked with a SelfSubjectAccessReview,
 * which tells an RBAC denial (name the verb and resource) from an admission policy that forbids exec.
 */
export async function explainKubeError(err: unknown, api: KubeApi, context: { namespace: string; server: string; what: string }): Promise<UserError> {
  if (err instanceof UserError) return err
  if (!(err instanceof KubeApiError)) return new UserError(`Reading ${context.what} failed: ${(err as Error).message ?? String(err)}.`, { code: 'cluster-error', cause: err })
  const ns = context.namespace
  switch (err.kind) {
    case 'network':
      return new UserError(`The API server ${context.server} cannot be reached (${err.message}).`, { code: 'cluster-unreachable', cause: err, hint: 'Check the cluster is up and --context/--kubeconfig point at it (kubectl cluster-info), or use --bundle DIR.' })
    case 'tls':
      return new UserError(`The TLS connection to ${context.server} failed: ${err.message}.`, { code: 'cluster-tls', cause: err, hint: "Check the kubeconfig's certificate-authority for this cluster (kubectl cluster-info shows the same error if it is wrong)." })
    case 'timeout':
      return new UserError(`Reading ${context.what} timed out: ${err.message}.`, { code: 'cluster-timeout', cause: err, hint: 'Retry with a longer --request-timeout (e.g. 1m), or check the API server load.' })
    case 'stream':
      return new UserError(`Reading ${context.what} failed: ${err.message}.`, { code: 'cluster-stream', cause: err, hint: 'Retry; if it keeps failing, capture the pod with kubectl and use --bundle.' })
    case 'http':
      break
  }
  const permission = permissionOfCall(err.call, ns)
  const named = `${permission.verb} ${permission.resource}${permission.subresource !== undefined ? `/${permission.subresource}` : ''}`
  if (err.status === 401) {
    return new UserError(`The API server ${context.server} rejected your credentials (401 Unauthorized).`, { code: 'cluster-auth', cause: err, hint: 'Log in again or refresh the token in your kubeconfig (kubectl get pods shows the same error).' })
  }
  if (err.status === 403) {
    const allowed = await api.canI(permission)
    if (allowed === true && permission.subresource === 'exec') {
      return new UserError(`Exec into the pod is not allowed here although RBAC grants ${named}: an admission policy refused it.`, { code: 'exec-not-allowed', cause: err, hint: 'Ask for an exec exception for the sidecar, or capture the bundle elsewhere and use --bundle.' })
    }
    return new UserError(`You are not allowed to ${named} in namespace ${ns} (403 Forbidden${allowed === false ? ', confirmed by a SelfSubjectAccessReview' : ''}).`, {
      code: 'rbac-forbidden',
      cause: err,
      hint: `Ask for a Role granting "${named}" (the README lists the ClusterRole mesh-trace needs), or use --bundle DIR.`,
    })
  }
  if (err.status === 404) return new UserError(`${capitalize(context.what)} was not found: ${err.message}.`, { code: 'not-found', cause: err })
  return new UserError(`The API server failed while reading ${context.what} (${err.status ?? '?'}: ${err.message}).`, { code: 'cluster-error', cause: err, hint: 'Retry; if it persists, check the API server (kubectl get --raw /readyz).' })
}

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1)
}

/** A short reason for a note (partial failure), e.g. `403 Forbidden (needs get pods/log)`. */
export function describeForNote(err: unknown): string {
  if (err instanceof UserError) return err.message.replace(/\.$/, '')
  if (err instanceof KubeApiError) {
    if (err.kind === 'http' && err.status === 403) return `403 Forbidden (needs ${err.call})`
    if (err.kind === 'http') return `${err.status ?? '?'} ${err.message}`
    return err.message
  }
  return (err as Error)?.message ?? String(err)
}
