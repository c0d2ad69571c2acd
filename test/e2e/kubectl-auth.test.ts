// `kubectl auth can-i` against the default roles, as users of a kubeadm cluster know them:
// view, edit and admin bound in one namespace (aggregated by the controller from their
// aggregate-to-* parts), cluster-admin through system:masters, and a user with nothing.
import t from 'tap'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { kubeconfigText } from '../../src/client/kubeconfig.ts'
import { call, userCredentials } from '../helpers/apiserver.ts'
import { startCluster, until } from '../helpers/control-plane.ts'
import { kubectl } from '../helpers/kubectl.ts'

t.setTimeout(180_000)
const cluster = await startCluster(t)
const { url, dir } = cluster
await call(url, 'POST', '/api/v1/namespaces', { metadata: { name: 'team' } })

async function kubeconfigFor(user: string): Promise<string> {
  const c = await userCredentials(user)
  const file = join(dir, `kubeconfig-${user}`)
  await writeFile(file, kubeconfigText({ server: url, caPem: c.caPem!, user, certPem: c.certPem, keyPem: c.keyPem, namespace: 'team' }), { mode: 0o600 })
  return file
}

const users: Record<string, string> = { admin: cluster.kubeconfig }
for (const role of ['view', 'edit', 'admin']) {
  await call(url, 'POST', '/apis/rbac.authorization.k8s.io/v1/namespaces/team/rolebindings', {
    metadata: { name: `${role}-user` },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role },
    subjects: [{ kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: `${role}-user` }],
  })
  users[`${role}-user`] = await kubeconfigFor(`${role}-user`)
}
users.nobody = await kubeconfigFor('nobody')

async function canI(user: string, ...args: string[]): Promise<boolean> {
  const r = await kubectl(users[user]!, ['auth', 'can-i', ...args])
  if (r.code > 1) throw new Error(`kubectl auth can-i ${args.join(' ')} as ${user}: ${r.stderr}`)
  return r.code === 0
}

// The aggregation controller fills edit from system:aggregate-to-edit and friends.
await until('edit to be aggregated', async () => canI('edit-user', 'create', 'deployments.apps'), 30_000)

const matrix: [string, string[], Record<string, boolean>][] = [
  ['get pods', ['get', 'pods'], { 'view-user': true, 'edit-user': true, 'admin-user': true, admin: true, nobody: false }],
  ['create pods', ['create', 'pods'], { 'view-user': false, 'edit-user': true, 'admin-user': true, admin: true, nobody: false }],
  ['get secrets', ['get', 'secrets'], { 'view-user': false, 'edit-user': true, 'admin-user': true, admin: true, nobody: false }],
  ['create deployments.apps', ['create', 'deployments.apps'], { 'view-user': false, 'edit-user': true, 'admin-user': true, admin: true, nobody: false }],
  ['create rolebindings', ['create', 'rolebindings.rbac.authorization.k8s.io'], { 'view-user': false, 'edit-user': false, 'admin-user': true, admin: true, nobody: false }],
  ['get pods in default', ['get', 'pods', '-n', 'default'], { 'view-user': false, 'edit-user': false, 'admin-user': false, admin: true, nobody: false }],
  ['create namespaces', ['create', 'namespaces'], { 'view-user': false, 'edit-user': false, 'admin-user': false, admin: true, nobody: false }],
  ['delete nodes', ['delete', 'nodes'], { 'view-user': false, 'edit-user': false, 'admin-user': false, admin: true, nobody: false }],
  ['get /version', ['get', '/version'], { 'view-user': true, 'edit-user': true, 'admin-user': true, admin: true, nobody: true }],
  ['create selfsubjectaccessreviews', ['create', 'selfsubjectaccessreviews.authorization.k8s.io'], { 'view-user': true, 'edit-user': true, 'admin-user': true, admin: true, nobody: true }],
]

t.test('kubectl auth can-i: the default roles answer as upstream\'s', async (t) => {
  for (const [what, args, expected] of matrix) {
    for (const [user, allowed] of Object.entries(expected)) t.equal(await canI(user, ...args), allowed, `${user}: ${what}`)
  }
})

t.test('kubectl auth whoami and can-i --list', async (t) => {
  const who = await kubectl(users['view-user']!, ['auth', 'whoami', '-o', 'json'])
  t.equal(who.code, 0, who.stderr)
  t.same(JSON.parse(who.stdout).status.userInfo, { username: 'view-user', groups: ['system:authenticated'] })
  const list = await kubectl(users['view-user']!, ['auth', 'can-i', '--list'])
  t.equal(list.code, 0, list.stderr)
  t.match(list.stdout, /^pods\s+\[\]\s+\[\]\s+\[get list watch\]$/m, 'view lists pods read-only')
  t.notMatch(list.stdout, /^secrets\s/m, 'and no secrets')
})
