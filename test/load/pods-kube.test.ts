// Which cluster weft load talks to: --kubeconfig, $KUBECONFIG, ~/.kube/config, in-cluster,
// or a lab in the current directory (over its unix socket), each tried against a real API server.
import t, { type Test } from 'tap'
import { mkdir, mkdtemp, rm, writeFile, copyFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { resources } from '../../src/api/registry.ts'
import { kubeconfigText } from '../../src/client/kubeconfig.ts'
import { kubeAccess } from '../../load/kube.ts'
import { testPki, startTestServer } from '../helpers/apiserver.ts'

const server = await startTestServer(t, { socket: true })
const dir = await mkdtemp(join(tmpdir(), 'weft-load-kube-'))
t.teardown(() => rm(dir, { recursive: true, force: true }))
const namespaceInfo = resources.find((r) => r.kind === 'Namespace')!
const empty = join(dir, 'empty')
await mkdir(empty)

async function works(t: Test, access: Awaited<ReturnType<typeof kubeAccess>>): Promise<void> {
  const { items } = await access.client.list(namespaceInfo)
  t.ok(items.some((n: any) => n.metadata.name === 'default'), `the API answers through ${access.source}`)
  await access.client.close()
}

t.test('--kubeconfig first, with its context namespace', async (t) => {
  const pki = await testPki()
  const file = join(dir, 'named.yaml')
  await writeFile(file, kubeconfigText({ server: server.url, caPem: pki.ca.certPem, user: 'admin', certPem: pki.admin.certPem, keyPem: pki.admin.keyPem, namespace: 'shop' }))
  const access = await kubeAccess({ kubeconfig: file, env: { KUBECONFIG: '/nonexistent' }, home: empty, cwd: empty })
  t.equal(access.source, `--kubeconfig ${file}`)
  t.equal(access.namespace, 'shop')
  t.same(access.address, { server: server.url, credentials: access.address.credentials })
  await works(t, access)
  await t.rejects(kubeAccess({ kubeconfig: join(dir, 'missing.yaml') }), { name: 'KubeAccessError', message: `--kubeconfig ${join(dir, 'missing.yaml')}: no such file` })
  const broken = join(dir, 'broken.yaml')
  await writeFile(broken, 'apiVersion: v1\nkind: Config\ncurrent-context: nope\ncontexts: []\n')
  await t.rejects(kubeAccess({ kubeconfig: broken }), { name: 'KubeAccessError', message: /^--kubeconfig .*broken.yaml: .*no context named "nope"/ })
})

t.test('then $KUBECONFIG (the first file of the list that exists), then ~/.kube/config', async (t) => {
  const fromEnv = await kubeAccess({ env: { KUBECONFIG: `${join(dir, 'absent')}:${server.kubeconfig}` }, home: empty, cwd: empty })
  t.equal(fromEnv.source, `$KUBECONFIG (${server.kubeconfig})`)
  t.equal(fromEnv.namespace, 'default')
  await works(t, fromEnv)
  await t.rejects(kubeAccess({ env: { KUBECONFIG: join(dir, 'absent') }, home: empty, cwd: empty }), { message: /\$KUBECONFIG names .*absent, and no such file exists/ })
  const home = join(dir, 'home')
  await mkdir(join(home, '.kube'), { recursive: true })
  await copyFile(server.kubeconfig, join(home, '.kube', 'config'))
  const fromHome = await kubeAccess({ env: {}, home, cwd: empty })
  t.equal(fromHome.source, join(home, '.kube', 'config'))
  await works(t, fromHome)
})

t.test('then a lab in the current directory, over its socket', async (t) => {
  const cwd = join(dir, 'project')
  await mkdir(join(cwd, '.weft-lab'), { recursive: true })
  const state = { version: 1, id: 'test', dataDir: join(cwd, '.weft-lab'), labNetns: 'none', socket: server.socketPath!, kubeconfig: server.kubeconfig, nodes: [], processes: [], createdAt: new Date().toISOString() }
  await writeFile(join(cwd, '.weft-lab', 'lab.json'), JSON.stringify(state))
  const lab = await kubeAccess({ env: {}, home: empty, cwd })
  t.equal(lab.source, `the lab in ${join(cwd, '.weft-lab')}`)
  t.match(lab.address, { socketPath: server.socketPath })
  await works(t, lab)
  await writeFile(join(cwd, '.weft-lab', 'lab.json'), JSON.stringify({ ...state, socket: join(cwd, 'gone.sock') }))
  await t.rejects(kubeAccess({ env: {}, home: empty, cwd }), { message: /the lab in .* is not running \(no API socket at .*gone.sock\); start it with weft up/ })
})

t.test('nothing found: a message that lists every way', async (t) => {
  await t.rejects(kubeAccess({ env: {}, home: empty, cwd: empty }), {
    name: 'KubeAccessError',
    code: 'NoCluster',
    message: `no cluster to talk to: give --kubeconfig FILE, set KUBECONFIG, create ${join(empty, '.kube', 'config')}, or start a lab here with weft up`,
  })
})
