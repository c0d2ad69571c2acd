// The authentication benchmark's cluster state, made by the admin before any run: a
// service account allowed to create Pods in one namespace by a Role and RoleBinding, many
// unrelated RoleBindings (in that same namespace) and ClusterRoleBindings that the RBAC
// index must not scan, and a bound token for the account from TokenRequest.
import type { Pool } from 'undici'
import { closedLoop } from '../lib/load.ts'
import { HttpError, send, sendJson } from './http.ts'

export const CREATOR = 'pod-creator'

const RBAC = '/apis/rbac.authorization.k8s.io/v1'

type Subject = { kind: 'User' | 'Group'; apiGroup: string; name: string } | { kind: 'ServiceAccount'; name: string; namespace: string }

/** An unrelated subject: a user, a group or another namespace's service account, never the creator. */
function stranger(i: number, otherNamespace: string): Subject {
  switch (i % 3) {
    case 0:
      return { kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: `user-${i}` }
    case 1:
      return { kind: 'Group', apiGroup: 'rbac.authorization.k8s.io', name: `group-${i}` }
    default:
      return { kind: 'ServiceAccount', name: `sa-${i}`, namespace: otherNamespace }
  }
}

async function createAll(admin: Pool, what: string, count: number, path: string, body: (i: number) => unknown): Promise<void> {
  const r = await closedLoop(count, 32, (i) => send(admin, 'POST', path, JSON.stringify(body(i))).then(() => undefined))
  if (r.errors > 0) throw new Error(`creating ${count} ${what}: ${r.errors} failed; first: ${(r.firstError as Error)?.message ?? r.firstError}`)
}

export interface AuthSetup {
  namespace: string
  roleBindings: number
  clusterRoleBindings: number
}

/** Makes the namespace, the creator's account, Role and RoleBinding, and the unrelated bindings. */
export async function createAuthState(admin: Pool, o: AuthSetup): Promise<void> {
  const ns = o.namespace
  const others = `${ns}-others`
  for (const name of [ns, others]) await send(admin, 'POST', '/api/v1/namespaces', JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } }))
  await send(admin, 'POST', `/api/v1/namespaces/${ns}/serviceaccounts`, JSON.stringify({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: CREATOR, namespace: ns } }))
  await send(admin, 'POST', `${RBAC}/namespaces/${ns}/roles`, JSON.stringify({
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'Role',
    metadata: { name: CREATOR, namespace: ns },
    rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['create'] }],
  }))
  await createAll(admin, 'RoleBindings', o.roleBindings, `${RBAC}/namespaces/${ns}/rolebindings`, (i) => ({
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    metadata: { name: `unrelated-${i}`, namespace: ns },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'edit' },
    subjects: [stranger(i, others)],
  }))
  await createAll(admin, 'ClusterRoleBindings', o.clusterRoleBindings, `${RBAC}/clusterrolebindings`, (i) => ({
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: { name: `unrelated-${i}` },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'view' },
    subjects: [stranger(i, others)],
  }))
  // The one binding that lets the creator in, made last: the newest entry of the index.
  await send(admin, 'POST', `${RBAC}/namespaces/${ns}/rolebindings`, JSON.stringify({
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    metadata: { name: CREATOR, namespace: ns },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: CREATOR },
    subjects: [{ kind: 'ServiceAccount', name: CREATOR, namespace: ns }],
  }))
}

/** A bound token for the creator's account (TokenRequest, one hour). */
export async function creatorToken(admin: Pool, namespace: string): Promise<string> {
  const body = { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 3600 } }
  const answer = (await sendJson(admin, 'POST', `/api/v1/namespaces/${namespace}/serviceaccounts/${CREATOR}/token`, body)) as { status?: { token?: unknown } }
  const token = answer.status?.token
  if (typeof token !== 'string' || token === '') throw new Error('TokenRequest answered without status.token')
  return token
}

/** Throws unless `p` gets exactly `status` for `path` (a check that RBAC really decides). */
export async function expectStatus(p: Pool, path: string, status: number): Promise<void> {
  try {
    await send(p, 'GET', path)
  } catch (err) {
    if (err instanceof HttpError && err.status === status) return
    throw err
  }
  throw new Error(`GET ${path} succeeded; expected ${status}`)
}
