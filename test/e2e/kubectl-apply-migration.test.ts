// From client-side to server-side apply and back, with the real kubectl (KEP-555's upgrade
// path): `kubectl apply --server-side` takes over what `kubectl apply` recorded without a
// conflict, kubectl's own managedFields migration patch lands, and client-side apply still
// works afterwards because the server keeps the last-applied annotation current.
import t from 'tap'
import { startTestServer } from '../helpers/apiserver.ts'
import { kubectl } from '../helpers/kubectl.ts'
import { tmp } from '../helpers/openssl.ts'

const srv = await startTestServer(t)
const run = (...args: string[]) => kubectl(srv.kubeconfig, args)
const dir = tmp('weft-migrate-')
t.teardown(() => dir.remove())
const manifest = (name: string, data: Record<string, string>) =>
  dir.file(name, `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  labels: {app: shop}\ndata:\n${Object.entries(data).map(([k, v]) => `  ${k}: "${v}"`).join('\n')}\n`)
type Managed = { manager: string; operation: string; fieldsV1: { 'f:data'?: Record<string, unknown> } }
const live = async () => JSON.parse((await run('get', 'configmap', 'settings', '-o', 'json', '--show-managed-fields')).stdout) as { data: Record<string, string>; metadata: { annotations: Record<string, string>; managedFields: Managed[] } }

t.test('client-side, then server-side with a change, then client-side again', async (t) => {
  const created = await run('apply', '-f', manifest('v1.yaml', { mode: 'fast', level: '1' }))
  t.equal(created.code, 0, created.stderr)

  const moved = await run('apply', '--server-side', '-f', manifest('v2.yaml', { mode: 'slow' }))
  t.equal(moved.code, 0, `no conflict with kubectl-client-side-apply: ${moved.stderr}`)
  t.equal(moved.stdout.trim(), 'configmap/settings serverside-applied')
  t.notMatch(moved.stderr, /Warning/, 'kubectl\'s migration patch was taken')
  let obj = await live()
  t.same(obj.data, { mode: 'slow' }, 'the field the server-side apply dropped is gone after kubectl re-applies')
  const managers = obj.metadata.managedFields.map((m) => `${m.manager}/${m.operation}`)
  t.ok(managers.includes('kubectl/Apply'))
  const csa = obj.metadata.managedFields.find((m) => m.manager === 'kubectl-client-side-apply')
  t.notOk(csa?.fieldsV1['f:data'], 'client-side apply no longer owns any data')
  t.same(JSON.parse(obj.metadata.annotations['kubectl.kubernetes.io/last-applied-configuration']).data, { mode: 'slow' }, 'the annotation records the server-side apply')

  const back = await run('apply', '-f', manifest('v3.yaml', { mode: 'slow', level: '3' }))
  t.equal(back.code, 0, back.stderr)
  obj = await live()
  t.same(obj.data, { mode: 'slow', level: '3' }, 'client-side apply works from the annotation the server kept')
})
