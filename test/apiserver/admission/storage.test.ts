import t from 'tap'
import type { V1StorageClass } from '@kubernetes/client-node'
import { resources } from '../../../src/api/registry.ts'
import { defaultClass } from '../../../src/api/storage.ts'
import { StorageAdmission } from '../../../src/apiserver/admission/storage.ts'
import type { KObject } from '../../../src/apiserver/objects.ts'
import type { AdmissionRequest } from '../../../src/apiserver/resource-handler.ts'
import { ApiError } from '../../../src/util/errors.ts'

const kind = (k: string) => resources.find((r) => r.kind === k)!
const identity = { user: 'alice', groups: [], userAgent: 'kubectl' }

function sc(name: string, opts: { isDefault?: boolean; created?: string; expand?: boolean } = {}): V1StorageClass {
  return {
    metadata: { name, creationTimestamp: (opts.created ?? '2024-01-01T00:00:00Z') as never, annotations: opts.isDefault ? { 'storageclass.kubernetes.io/is-default-class': 'true' } : {} },
    provisioner: 'weft.dev/local-path',
    allowVolumeExpansion: opts.expand,
  }
}

function admission(classes: V1StorageClass[]): StorageAdmission {
  return new StorageAdmission({ list: async () => classes, get: async (name) => classes.find((c) => c.metadata?.name === name) })
}

function claim(spec: Record<string, unknown> = {}, extra: Record<string, unknown> = {}): KObject {
  return { metadata: { name: 'data', namespace: 'default' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } }, ...spec }, ...extra } as KObject
}

const request = (k: string, obj: KObject, old?: KObject): AdmissionRequest => ({ info: kind(k), subresource: undefined, obj, old, identity, dryRun: false })

t.test('DefaultStorageClass: only a claim without any class gets the default', async (t) => {
  const plugin = admission([sc('slow'), sc('local-path', { isDefault: true })])
  const none = claim()
  await plugin.mutate(request('PersistentVolumeClaim', none))
  t.equal(none.spec.storageClassName, 'local-path')
  const empty = claim({ storageClassName: '' })
  await plugin.mutate(request('PersistentVolumeClaim', empty))
  t.equal(empty.spec.storageClassName, '', 'an explicit "" means no class')
  const named = claim({ storageClassName: 'slow' })
  await plugin.mutate(request('PersistentVolumeClaim', named))
  t.equal(named.spec.storageClassName, 'slow')
  const beta = claim({}, { metadata: { name: 'x', namespace: 'default', annotations: { 'volume.beta.kubernetes.io/storage-class': 'slow' } } })
  await plugin.mutate(request('PersistentVolumeClaim', beta))
  t.equal(beta.spec.storageClassName, undefined, 'the beta annotation is a class too')
  const noDefault = claim()
  await admission([sc('slow')]).mutate(request('PersistentVolumeClaim', noDefault))
  t.equal(noDefault.spec.storageClassName, undefined, 'no default, no class: the binder may assign one later')
})

t.test('of several defaults the newest wins, then the first by name', async (t) => {
  t.equal(defaultClass([sc('a', { isDefault: true, created: '2024-01-01T00:00:00Z' }), sc('b', { isDefault: true, created: '2024-02-01T00:00:00Z' })])?.metadata?.name, 'b')
  t.equal(defaultClass([sc('z', { isDefault: true }), sc('m', { isDefault: true })])?.metadata?.name, 'm')
  t.equal(defaultClass([sc('a')]), undefined)
})

t.test('StorageObjectInUseProtection: new claims and volumes get their finalizers, once', async (t) => {
  const plugin = admission([])
  const pvc = claim({ storageClassName: '' }, { metadata: { name: 'data', namespace: 'default', finalizers: ['example.com/keep'] } })
  await plugin.mutate(request('PersistentVolumeClaim', pvc))
  t.same(pvc.metadata.finalizers, ['example.com/keep', 'kubernetes.io/pvc-protection'])
  const pv = { metadata: { name: 'pv1', finalizers: ['kubernetes.io/pv-protection'] }, spec: {} } as KObject
  await plugin.mutate(request('PersistentVolume', pv))
  t.same(pv.metadata.finalizers, ['kubernetes.io/pv-protection'])
  const update = claim({ storageClassName: '' })
  await plugin.mutate(request('PersistentVolumeClaim', update, claim({ storageClassName: '' })))
  t.equal(update.metadata.finalizers, undefined, 'updates are left alone')
})

t.test('PersistentVolumeClaimResize: growth only for bound claims of expandable classes', async (t) => {
  const plugin = admission([sc('fixed'), sc('elastic', { expand: true })])
  const refusal = async (cls: string, phase: string): Promise<string | undefined> => {
    const old = claim({ storageClassName: cls, volumeName: 'pv1' }, { status: { phase } })
    const grown = claim({ storageClassName: cls, volumeName: 'pv1', resources: { requests: { storage: '2Gi' } } }, { status: { phase } })
    try {
      await plugin.validate(request('PersistentVolumeClaim', grown, old))
      return undefined
    } catch (err) {
      t.ok(err instanceof ApiError && err.code === 403)
      return (err as Error).message
    }
  }
  t.equal(await refusal('elastic', 'Bound'), undefined)
  t.equal(await refusal('fixed', 'Bound'), 'persistentvolumeclaims "data" is forbidden: only dynamically provisioned pvc can be resized and the storageclass that provisions the pvc must support resize')
  t.equal(await refusal('elastic', 'Pending'), 'persistentvolumeclaims "data" is forbidden: Only bound persistent volume claims can be expanded')
  const same = claim({ storageClassName: 'fixed' }, { status: { phase: 'Pending' } })
  await plugin.validate(request('PersistentVolumeClaim', same, claim({ storageClassName: 'fixed' })))
  t.pass('an update that does not grow the claim is not judged')
})
