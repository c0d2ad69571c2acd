// PersistentVolumes, PersistentVolumeClaims (core/v1) and StorageClasses (storage.k8s.io/v1),
// as upstream's pkg/apis/core/validation and pkg/apis/storage/validation check them.
import { isDNS1123Subdomain, isQualifiedName, isValidLabelValue } from '../names.ts'
import { isQuantity, parseQuantityValue } from '../quantity.ts'
import type { FieldCause, Obj } from './field.ts'
import { arr, deepEqual, each, forbidden, immutable, invalid, isObj, notSupported, obj, required, str, strMap, tooLong } from './field.ts'
import { validateLabelSelector } from './meta.ts'

export const ACCESS_MODES = ['ReadOnlyMany', 'ReadWriteMany', 'ReadWriteOnce', 'ReadWriteOncePod']
const pvReclaimPolicies = ['Delete', 'Recycle', 'Retain']
const classReclaimPolicies = ['Delete', 'Retain']
const volumeModes = ['Block', 'Filesystem']
const bindingModes = ['Immediate', 'WaitForFirstConsumer']
const hostPathTypes = ['', 'BlockDevice', 'CharDevice', 'Directory', 'DirectoryOrCreate', 'File', 'FileOrCreate', 'Socket']
const nodeSelectorOperators = ['DoesNotExist', 'Exists', 'Gt', 'In', 'Lt', 'NotIn']

/** The volume sources a PersistentVolume may name (PersistentVolumeSource); weft's agents mount only hostPath and local. */
export const PV_SOURCES = [
  'hostPath', 'gcePersistentDisk', 'awsElasticBlockStore', 'glusterfs', 'flocker', 'nfs', 'rbd', 'quobyte', 'cephfs', 'iscsi', 'cinder', 'fc',
  'flexVolume', 'azureFile', 'vsphereVolume', 'photonPersistentDisk', 'portworxVolume', 'azureDisk', 'scaleIO', 'local', 'storageos', 'csi',
]

const classNameErrors = (field: string, name: string): FieldCause[] => each(field, name, isDNS1123Subdomain(name))

function validateAccessModes(modes: unknown, field: string, required_: FieldCause): FieldCause[] {
  const list = arr(modes)
  const errs: FieldCause[] = []
  if (list.length === 0) errs.push(required_)
  let oncePod = false
  let others = false
  for (const m of list) {
    if (!ACCESS_MODES.includes(str(m))) errs.push(notSupported(field, m, ACCESS_MODES))
    else if (m === 'ReadWriteOncePod') oncePod = true
    else others = true
  }
  if (oncePod && others) errs.push(forbidden(field, 'may not use ReadWriteOncePod with other access modes'))
  return errs
}

/** A quantity that must parse and be above zero (ValidatePositiveQuantityValue). */
function positiveQuantity(field: string, value: unknown): FieldCause[] {
  if (!isQuantity(value)) return [invalid(field, value, "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")]
  return parseQuantityValue(value as string) <= 0 ? [invalid(field, String(value), 'must be greater than zero')] : []
}

function noBacksteps(field: string, path: string): FieldCause[] {
  return path.split('/').includes('..') ? [invalid(field, path, "must not contain '..'")] : []
}

function validateNodeSelectorRequirement(r: Obj, field: string, isField: boolean): FieldCause[] {
  const errs: FieldCause[] = []
  const op = str(r.operator)
  const values = arr(r.values)
  if (isField) {
    if (str(r.key) !== 'metadata.name') errs.push(notSupported(`${field}.key`, r.key, ['metadata.name']))
    if (op !== 'In' && op !== 'NotIn') errs.push(invalid(`${field}.operator`, op, 'not a valid selector operator'))
    else if (values.length !== 1) errs.push(required(`${field}.values`, "must be only one value when `operator` is 'In' or 'NotIn' for node field selector"))
    return errs
  }
  if (op === 'In' || op === 'NotIn') {
    if (values.length === 0) errs.push(required(`${field}.values`, "must be specified when `operator` is 'In' or 'NotIn'"))
  } else if (op === 'Exists' || op === 'DoesNotExist') {
    if (values.length > 0) errs.push(forbidden(`${field}.values`, "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"))
  } else if (op === 'Gt' || op === 'Lt') {
    if (values.length !== 1) errs.push(required(`${field}.values`, "must be specified single value when `operator` is 'Lt' or 'Gt'"))
  } else {
    errs.push(invalid(`${field}.operator`, op, 'not a valid selector operator'))
  }
  errs.push(...each(`${field}.key`, str(r.key), isQualifiedName(str(r.key))))
  return errs
}

/** validateVolumeNodeAffinity: `required` with at least one term. */
function validateVolumeNodeAffinity(affinity: Obj, field: string): FieldCause[] {
  if (!isObj(affinity.required)) return [required(`${field}.required`, 'must specify required node constraints')]
  const terms = arr(affinity.required.nodeSelectorTerms)
  if (terms.length === 0) return [required(`${field}.required.nodeSelectorTerms`, 'must have at least one node selector term')]
  const errs: FieldCause[] = []
  terms.forEach((t, i) => {
    const term = obj(t)
    const p = `${field}.required.nodeSelectorTerms[${i}]`
    arr(term.matchExpressions).forEach((r, j) => errs.push(...validateNodeSelectorRequirement(obj(r), `${p}.matchExpressions[${j}]`, false)))
    arr(term.matchFields).forEach((r, j) => errs.push(...validateNodeSelectorRequirement(obj(r), `${p}.matchFields[${j}]`, true)))
  })
  return errs
}

function validateVolumeSource(spec: Obj): FieldCause[] {
  const errs: FieldCause[] = []
  const given = PV_SOURCES.filter((k) => isObj(spec[k]))
  if (given.length === 0) return [required('spec', 'must specify a volume type')]
  for (const extra of given.slice(1)) errs.push(forbidden(`spec.${extra}`, 'may not specify more than 1 volume type'))
  const source = given[0]
  if (source === 'hostPath') {
    const hp = obj(spec.hostPath)
    const path = str(hp.path)
    if (!path) errs.push(required('spec.hostPath.path'))
    else {
      errs.push(...noBacksteps('spec.hostPath.path', path))
      if (hp.type !== undefined && hp.type !== null && !hostPathTypes.includes(str(hp.type))) errs.push(notSupported('spec.hostPath.type', hp.type, hostPathTypes))
    }
  }
  if (source === 'local') {
    const path = str(obj(spec.local).path)
    if (!path) errs.push(required('spec.local.path'))
    else errs.push(...noBacksteps('spec.local.path', path))
    if (!isObj(spec.nodeAffinity)) errs.push(required('spec.nodeAffinity', 'Local volume requires node affinity'))
  }
  return errs
}

/** ValidatePersistentVolume(Update). */
export function validatePersistentVolume(pv: Obj, old: Obj | undefined): FieldCause[] {
  const spec = obj(pv.spec)
  const errs = validateAccessModes(spec.accessModes, 'spec.accessModes', required('spec.accessModes'))
  const capacity = obj(spec.capacity)
  const keys = Object.keys(capacity)
  if (keys.length === 0) errs.push(required('spec.capacity'))
  if (!keys.includes('storage') || keys.length > 1) errs.push(notSupported('spec.capacity', capacity, ['storage']))
  for (const k of keys) errs.push(...positiveQuantity(`spec.capacity[${k}]`, capacity[k]))
  const policy = spec.persistentVolumeReclaimPolicy
  if (policy && !pvReclaimPolicies.includes(str(policy))) errs.push(notSupported('spec.persistentVolumeReclaimPolicy', policy, pvReclaimPolicies))
  if (isObj(spec.nodeAffinity)) errs.push(...validateVolumeNodeAffinity(spec.nodeAffinity, 'spec.nodeAffinity'))
  errs.push(...validateVolumeSource(spec))
  const hostPath = str(obj(spec.hostPath).path)
  if (hostPath && hostPath.replace(/\/+$/, '') === '' && policy === 'Recycle') {
    errs.push(forbidden('spec.persistentVolumeReclaimPolicy', "may not be 'recycle' for a hostPath mount of '/'"))
  }
  if (str(spec.storageClassName)) errs.push(...classNameErrors('spec.storageClassName', str(spec.storageClassName)))
  if (spec.volumeMode !== undefined && spec.volumeMode !== null && !volumeModes.includes(str(spec.volumeMode))) errs.push(notSupported('spec.volumeMode', spec.volumeMode, volumeModes))
  if (!old) return errs
  const oldSpec = obj(old.spec)
  if (!deepEqual(sourceOf(spec), sourceOf(oldSpec))) errs.push(forbidden('spec.persistentvolumesource', 'spec.persistentvolumesource is immutable after creation'))
  if (!deepEqual(spec.volumeMode, oldSpec.volumeMode)) errs.push(immutable('volumeMode', spec.volumeMode))
  if (isObj(oldSpec.nodeAffinity) && !deepEqual(spec.nodeAffinity, oldSpec.nodeAffinity)) errs.push(immutable('nodeAffinity', spec.nodeAffinity))
  return errs
}

function sourceOf(spec: Obj): Obj {
  return Object.fromEntries(PV_SOURCES.filter((k) => spec[k] !== undefined && spec[k] !== null).map((k) => [k, spec[k]]))
}

function validateClaimSpec(spec: Obj): FieldCause[] {
  const errs = validateAccessModes(spec.accessModes, 'spec.accessModes', required('spec.accessModes', 'at least 1 access mode is required'))
  if (isObj(spec.selector)) errs.push(...validateLabelSelector(spec.selector, 'spec.selector'))
  const requests = obj(obj(spec.resources).requests)
  if (requests.storage === undefined) errs.push(required('spec.resources[storage]'))
  else errs.push(...positiveQuantity('spec.resources[storage]', requests.storage))
  if (str(spec.storageClassName)) errs.push(...classNameErrors('spec.storageClassName', str(spec.storageClassName)))
  if (spec.volumeMode !== undefined && spec.volumeMode !== null && !volumeModes.includes(str(spec.volumeMode))) errs.push(notSupported('spec.volumeMode', spec.volumeMode, volumeModes))
  return errs
}

const storageOf = (spec: Obj): unknown => obj(obj(spec.resources).requests).storage

/**
 * ValidatePersistentVolumeClaimUpdate: the spec is immutable, except that volumeName may be
 * set once (the binder does it), a storage class may be set where there was none, and a
 * bound claim's storage request may grow (whether it may grow at all is the resize
 * admission's call).
 */
function validateClaimUpdate(pvc: Obj, old: Obj): FieldCause[] {
  const errs: FieldCause[] = []
  const spec = structuredClone(obj(pvc.spec))
  const oldSpec = structuredClone(obj(old.spec))
  if (!str(oldSpec.volumeName)) oldSpec.volumeName = spec.volumeName
  if ((oldSpec.storageClassName === undefined || oldSpec.storageClassName === null) && spec.storageClassName !== undefined && spec.storageClassName !== null) {
    const beta = strMap(obj(old.metadata).annotations)['volume.beta.kubernetes.io/storage-class']
    if (beta === undefined || beta === spec.storageClassName) oldSpec.storageClassName = spec.storageClassName
  }
  const newSize = storageOf(spec)
  const oldSize = storageOf(oldSpec)
  if (obj(pvc.status).phase === 'Bound' && isObj(obj(spec.resources).requests)) obj(spec.resources).requests = { ...obj(obj(spec.resources).requests), storage: oldSize }
  if (!deepEqual(spec, oldSpec)) errs.push(forbidden('spec', 'spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims'))
  if (isQuantity(newSize) && isQuantity(oldSize) && parseQuantityValue(newSize as string) < parseQuantityValue(oldSize as string)) {
    errs.push(forbidden('spec.resources.requests.storage', 'field can not be less than previous value'))
  }
  if (!deepEqual(obj(pvc.spec).volumeMode, obj(old.spec).volumeMode)) errs.push(immutable('volumeMode', obj(pvc.spec).volumeMode))
  return errs
}

/** ValidatePersistentVolumeClaim(Update); a status write is checked as ValidatePersistentVolumeClaimStatusUpdate. */
export function validatePersistentVolumeClaim(pvc: Obj, old: Obj | undefined, subresource: string | undefined): FieldCause[] {
  if (subresource === 'status') {
    const errs: FieldCause[] = []
    if (arr(obj(pvc.spec).accessModes).length === 0) errs.push(required('Spec.accessModes'))
    for (const [k, v] of Object.entries(obj(obj(pvc.status).capacity))) if (!isQuantity(v)) errs.push(invalid(`status.capacity[${k}]`, v, 'must be a quantity'))
    return errs
  }
  const errs = validateClaimSpec(obj(pvc.spec))
  if (old) errs.push(...validateClaimUpdate(pvc, old))
  return errs
}

const maxParameters = 512
const maxParametersSize = 256 * 1024

/** ValidateStorageClass(Update). */
export function validateStorageClass(sc: Obj, old: Obj | undefined): FieldCause[] {
  const errs: FieldCause[] = []
  const provisioner = str(sc.provisioner)
  if (!provisioner) errs.push(required('provisioner'))
  else errs.push(...each('provisioner', provisioner.toLowerCase(), isQualifiedName(provisioner.toLowerCase())))
  const params = sc.parameters
  if (isObj(params)) {
    const entries = Object.entries(params)
    if (entries.length > maxParameters) errs.push(tooLong('parameters', maxParameters))
    else {
      let size = 0
      for (const [k, v] of entries) {
        if (k.length === 0) errs.push(invalid('parameters', k, 'field can not be empty.'))
        size += k.length + str(v).length
      }
      if (size > maxParametersSize) errs.push(tooLong('parameters', maxParametersSize))
    }
  }
  if (sc.reclaimPolicy && !classReclaimPolicies.includes(str(sc.reclaimPolicy))) errs.push(notSupported('reclaimPolicy', sc.reclaimPolicy, classReclaimPolicies))
  if (sc.volumeBindingMode === undefined || sc.volumeBindingMode === null) errs.push(required('volumeBindingMode'))
  else if (!bindingModes.includes(str(sc.volumeBindingMode))) errs.push(notSupported('volumeBindingMode', sc.volumeBindingMode, bindingModes))
  arr(sc.allowedTopologies).forEach((t, i) => {
    const exprs = arr(obj(t).matchLabelExpressions)
    if (exprs.length === 0) errs.push(required(`allowedTopologies[${i}].matchLabelExpressions`, 'must have at least one label expression'))
    exprs.forEach((e, j) => {
      const p = `allowedTopologies[${i}].matchLabelExpressions[${j}]`
      const key = str(obj(e).key)
      errs.push(...each(`${p}.key`, key, isQualifiedName(key)))
      const values = arr(obj(e).values)
      if (values.length === 0) errs.push(required(`${p}.values`, 'must specify as least one value'))
      values.forEach((v, k) => errs.push(...each(`${p}.values[${k}]`, v, isValidLabelValue(str(v)))))
    })
  })
  if (!old) return errs
  if (!deepEqual(old.parameters, sc.parameters)) errs.push(forbidden('parameters', 'updates to parameters are forbidden.'))
  if (str(old.provisioner) !== provisioner) errs.push(forbidden('provisioner', 'updates to provisioner are forbidden.'))
  if (old.reclaimPolicy !== sc.reclaimPolicy) errs.push(forbidden('reclaimPolicy', 'updates to reclaimPolicy are forbidden.'))
  if (old.volumeBindingMode !== sc.volumeBindingMode) errs.push(immutable('volumeBindingMode', sc.volumeBindingMode))
  return errs
}
