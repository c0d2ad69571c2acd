import t from 'tap'
import { mkdtemp, mkdir, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { V1PersistentVolume, V1PersistentVolumeClaim, V1Pod } from '@kubernetes/client-node'
import { claimMounts, type ClaimObjects } from '../../src/kubelet/claim-volumes.ts'
import { cleanupStep } from '../../src/kubelet/local-path-cleanup.ts'
import { prepareMountPath } from '../../src/kubelet/runtime/mount-paths.ts'

const storageDir = '/var/lib/weft/agent/storage'

const pod = (volumes: V1Pod['spec'] extends infer S ? (S extends { volumes?: infer V } ? V : never) : never): V1Pod => ({ metadata: { name: 'web', namespace: 'default' }, spec: { containers: [], volumes } })

const claim = (patch: (c: V1PersistentVolumeClaim) => void = () => {}): V1PersistentVolumeClaim => {
  const c: V1PersistentVolumeClaim = { metadata: { name: 'data', namespace: 'default', uid: 'claim-uid' }, spec: { volumeName: 'pvc-1' }, status: { phase: 'Bound' } }
  patch(c)
  return c
}

const volume = (patch: (v: V1PersistentVolume) => void = () => {}): V1PersistentVolume => {
  const v: V1PersistentVolume = {
    metadata: { name: 'pvc-1', annotations: { 'pv.kubernetes.io/provisioned-by': 'weft.dev/local-path' } },
    spec: { hostPath: { path: `${storageDir}/pvc-1_default_data`, type: 'DirectoryOrCreate' }, claimRef: { namespace: 'default', name: 'data', uid: 'claim-uid' } },
  }
  patch(v)
  return v
}

const objects = (c: V1PersistentVolumeClaim | undefined, v: V1PersistentVolume | undefined): ClaimObjects => ({ claim: (n) => (n === c?.metadata?.name ? c : undefined), volume: (n) => (n === v?.metadata?.name ? v : undefined) })
const opts = { storageDir, allowedHostPaths: ['/srv'] }
const dataPod = pod([{ name: 'data', persistentVolumeClaim: { claimName: 'data' } }, { name: 'tmp', emptyDir: {} }])

t.test('a bound claim mounts its volume; a local-path directory is the agent\'s to make', async (t) => {
  t.same(claimMounts(dataPod, objects(claim(), volume()), opts), { mounts: [{ volume: 'data', path: `${storageDir}/pvc-1_default_data`, readOnly: false, prepare: { make: 'local-path' } }] })
  const ro = pod([{ name: 'data', persistentVolumeClaim: { claimName: 'data', readOnly: true } }])
  t.same(claimMounts(ro, objects(claim(), volume()), opts), { mounts: [{ volume: 'data', path: `${storageDir}/pvc-1_default_data`, readOnly: true, prepare: { make: 'local-path' } }] })
  const manual = volume((v) => ((v.metadata!.annotations = {}), (v.spec!.hostPath = { path: '/srv/data' })))
  t.same(claimMounts(dataPod, objects(claim(), manual), opts), { mounts: [{ volume: 'data', path: '/srv/data', readOnly: false, prepare: { check: '' } }] }, 'a hostPath volume made by hand')
  const local = volume((v) => ((v.metadata!.annotations = {}), delete v.spec!.hostPath, (v.spec!.local = { path: '/srv/disk1' })))
  t.same(claimMounts(dataPod, objects(claim(), local), opts), { mounts: [{ volume: 'data', path: '/srv/disk1', readOnly: false, prepare: { check: 'Directory' } }] }, 'a local volume must exist')
  t.same(claimMounts(pod([{ name: 'tmp', emptyDir: {} }]), objects(undefined, undefined), opts), { mounts: [] }, 'no claims, nothing to wait for')
})

t.test('what a pod waits for, in the kubelet\'s words', async (t) => {
  const waits = (c: V1PersistentVolumeClaim | undefined, v: V1PersistentVolume | undefined) => {
    const r = claimMounts(dataPod, objects(c, v), opts)
    return 'waiting' in r ? r.waiting.replace('Unable to attach or mount volumes: unmounted volumes=[data], failed to process volumes=[data]: ', '') : r
  }
  t.equal(waits(undefined, undefined), 'error processing PVC default/data: failed to fetch PVC from API server: persistentvolumeclaims "data" not found')
  t.equal(waits(claim((c) => (c.metadata!.deletionTimestamp = new Date())), volume()), "error processing PVC default/data: can't start pod because PVC default/data is being deleted")
  t.equal(waits(claim((c) => ((c.status = { phase: 'Pending' }), delete c.spec!.volumeName)), undefined), 'error processing PVC default/data: PVC is not bound')
  t.equal(waits(claim(), undefined), 'error processing PVC default/data: failed to fetch PV pvc-1 from API server: persistentvolumes "pvc-1" not found')
  t.equal(waits(claim(), volume((v) => delete v.spec!.claimRef)), 'error processing PVC default/data: found PV object pvc-1 but it has a nil pv.Spec.ClaimRef indicating it is not yet bound to the claim')
  t.equal(waits(claim(), volume((v) => (v.spec!.claimRef!.uid = 'old'))), 'error processing PVC default/data: found PV object pvc-1 but its pv.Spec.ClaimRef.UID old does not point to claim.UID claim-uid')
  t.equal(waits(claim(), volume((v) => (delete v.spec!.hostPath, (v.spec!.nfs = { server: 'nfs', path: '/x' })))), 'error processing PVC default/data: weft mounts only hostPath and local PersistentVolumes, and pvc-1 is nfs')
  t.equal(waits(claim(), volume((v) => (v.spec!.volumeMode = 'Block'))), 'error processing PVC default/data: weft mounts volumes as directories, and pvc-1 has volumeMode Block')
  t.match(waits(claim(), volume((v) => ((v.metadata!.annotations = {}), (v.spec!.hostPath!.path = '/etc')))), /^error processing PVC default\/data: PersistentVolume pvc-1: hostPath volume "data" \("\/etc"\) is not allowed on this node: it allows only under \/srv/)
  t.match(waits(claim(), volume((v) => (v.spec!.hostPath!.path = `${storageDir}/nested/pvc-1_default_data`))), /is not allowed on this node/, 'local-path volumes live directly in the storage dir')
  const both = claimMounts(pod([{ name: 'a', persistentVolumeClaim: { claimName: 'x' } }, { name: 'b', persistentVolumeClaim: { claimName: 'y' } }]), objects(undefined, undefined), opts)
  t.match('waiting' in both && both.waiting, /^Unable to attach or mount volumes: unmounted volumes=\[a b\], failed to process volumes=\[a b\]: error processing PVC default\/x: .*; error processing PVC default\/y: /)
})

t.test('cleanup: remove the directory of a deleted Delete volume of this node, once nothing else holds it', async (t) => {
  const deleted = (patch: (v: V1PersistentVolume) => void = () => {}) =>
    volume((v) => {
      v.metadata!.labels = { 'weft.dev/local-path-node': 'node-1' }
      v.metadata!.deletionTimestamp = new Date()
      v.metadata!.finalizers = ['weft.dev/local-path-cleanup']
      v.spec!.persistentVolumeReclaimPolicy = 'Delete'
      patch(v)
    })
  t.same(cleanupStep(deleted(), 'node-1', storageDir), { remove: `${storageDir}/pvc-1_default_data` })
  t.equal(cleanupStep(deleted(), 'node-2', storageDir), undefined, "another node's")
  t.equal(cleanupStep(deleted((v) => delete v.metadata!.deletionTimestamp), 'node-1', storageDir), undefined, 'not being deleted')
  t.equal(cleanupStep(deleted((v) => (v.metadata!.finalizers = ['kubernetes.io/pv-protection', 'weft.dev/local-path-cleanup'])), 'node-1', storageDir), undefined, 'still protected (bound)')
  t.equal(cleanupStep(deleted((v) => (v.metadata!.finalizers = [])), 'node-1', storageDir), undefined, 'done already')
  t.same(cleanupStep(deleted((v) => (v.spec!.persistentVolumeReclaimPolicy = 'Retain')), 'node-1', storageDir), { release: true, keptBecause: 'its reclaim policy is Retain' })
  t.same(cleanupStep(deleted((v) => (v.spec!.hostPath!.path = '/etc')), 'node-1', storageDir), { release: true, keptBecause: `its path "/etc" is not a local-path directory of this node (${storageDir}/pvc-1_…)` })
  t.match(cleanupStep(deleted((v) => (v.spec!.hostPath!.path = `${storageDir}/pvc-2_default_data`)), 'node-1', storageDir), { release: true }, "another volume's directory")
})

t.test('mount paths are made or checked', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'weft-claims-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const storage = join(dir, 'storage')
  await prepareMountPath({ volume: 'v', path: join(storage, 'pvc-1_default_data'), readOnly: false, prepare: { make: 'local-path' } })
  t.equal((await stat(storage)).mode & 0o777, 0o700, 'the storage dir is private')
  t.equal((await stat(join(storage, 'pvc-1_default_data'))).mode & 0o777, 0o777, 'the volume dir is open to the pod\'s users, whatever the umask')
  await writeFile(join(storage, 'pvc-1_default_data', 'kept'), 'x')
  await prepareMountPath({ volume: 'v', path: join(storage, 'pvc-1_default_data'), readOnly: false, prepare: { make: 'local-path' } })
  t.ok(await stat(join(storage, 'pvc-1_default_data', 'kept')), 'an existing directory is left as it is')
  await prepareMountPath({ volume: 'v', path: join(dir, 'a', 'b'), readOnly: false, prepare: { make: 'directory' } })
  t.ok((await stat(join(dir, 'a', 'b'))).isDirectory())
  await prepareMountPath({ volume: 'v', path: join(dir, 'f', 'file'), readOnly: false, prepare: { make: 'file' } })
  t.ok((await stat(join(dir, 'f', 'file'))).isFile())
  await t.rejects(prepareMountPath({ volume: 'v', path: join(dir, 'missing'), readOnly: false, prepare: { check: 'Directory' } }), { message: `hostPath type check failed: ${join(dir, 'missing')} is not a directory` })
  await t.rejects(prepareMountPath({ volume: 'v', path: join(dir, 'missing'), readOnly: false, prepare: { check: '' } }), { message: `path "${join(dir, 'missing')}" does not exist` })
  await t.rejects(prepareMountPath({ volume: 'v', path: join(dir, 'f', 'file'), readOnly: false, prepare: { check: 'Directory' } }), { message: `hostPath type check failed: ${join(dir, 'f', 'file')} is not a directory` })
  await mkdir(join(dir, 'ok'))
  await prepareMountPath({ volume: 'v', path: join(dir, 'ok'), readOnly: false, prepare: { check: 'Directory' } })
  t.pass('an existing directory passes')
})
