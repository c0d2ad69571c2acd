import t from 'tap'
import type { V1Pod } from '@kubernetes/client-node'
import { admitPodServiceAccount, SERVICE_ACCOUNT_MOUNT_PATH } from '../../../src/apiserver/admission/service-account.ts'

const pod = (spec: Partial<V1Pod['spec']> = {}): V1Pod => ({ metadata: { name: 'p', namespace: 'n' }, spec: { containers: [{ name: 'a' }, { name: 'b', volumeMounts: [] }], initContainers: [{ name: 'i' }], ...spec } })

t.test('a pod gets the default account and API access in every container', async (t) => {
  const p = pod()
  admitPodServiceAccount(p, { metadata: { name: 'default' } })
  t.equal(p.spec!.serviceAccountName, 'default')
  t.equal(p.spec!.serviceAccount, 'default')
  const vol = p.spec!.volumes!.find((v) => v.name.startsWith('kube-api-access-'))!
  t.match(vol.name, /^kube-api-access-[a-z0-9]{5}$/)
  t.same(vol.projected!.sources!.map((s) => Object.keys(s)[0]), ['serviceAccountToken', 'configMap', 'downwardAPI'])
  for (const c of [...p.spec!.containers, ...p.spec!.initContainers!]) {
    t.same(c.volumeMounts, [{ name: vol.name, readOnly: true, mountPath: SERVICE_ACCOUNT_MOUNT_PATH }], c.name)
  }
})

t.test('automount: the pod decides first, then its service account', async (t) => {
  const off = pod({ automountServiceAccountToken: false })
  admitPodServiceAccount(off, { metadata: { name: 'default' }, automountServiceAccountToken: true })
  t.notOk(off.spec!.volumes, 'pod says no')
  const bySa = pod({ serviceAccountName: 'robot' })
  admitPodServiceAccount(bySa, { metadata: { name: 'robot' }, automountServiceAccountToken: false })
  t.notOk(bySa.spec!.volumes, 'account says no')
  t.equal(bySa.spec!.serviceAccountName, 'robot')
  const podWins = pod({ automountServiceAccountToken: true })
  admitPodServiceAccount(podWins, { metadata: { name: 'default' }, automountServiceAccountToken: false })
  t.equal(podWins.spec!.volumes!.length, 1, 'pod says yes over the account')
})

t.test('a container that mounts something at the path keeps its own', async (t) => {
  const p = pod({ containers: [{ name: 'a', volumeMounts: [{ name: 'mine', mountPath: SERVICE_ACCOUNT_MOUNT_PATH }] }, { name: 'b' }], initContainers: undefined, volumes: [{ name: 'mine', emptyDir: {} }] })
  admitPodServiceAccount(p, { metadata: { name: 'default' } })
  t.same(p.spec!.containers[0].volumeMounts, [{ name: 'mine', mountPath: SERVICE_ACCOUNT_MOUNT_PATH }])
  t.equal(p.spec!.containers[1].volumeMounts![0].mountPath, SERVICE_ACCOUNT_MOUNT_PATH)
  t.equal(p.spec!.volumes!.length, 2)
})
