// Pod specs (used by Pods and by every pod template) and the Pod update rules.
import {
  isDNS1123Label,
  isDNS1123Subdomain,
  isEnvVarName,
  isQualifiedName,
  isValidLabelValue,
  isValidPortName,
  isValidPortNum,
  isConfigMapKey,
  inclusiveRangeError,
} from '../names.ts'
import type { FieldCause, Obj } from './field.ts'
import { arr, deepEqual, duplicate, each, forbidden, invalid, isObj, nonNegative, notFound, notSupported, num, obj, required, str, tooLong } from './field.ts'
import { validateEphemeralContainers } from './ephemeral.ts'
import { validateLifecycle } from './lifecycle.ts'
import { validateLabels } from './meta.ts'

export const protocols = ['SCTP', 'TCP', 'UDP']
const restartPolicies = ['Always', 'Never', 'OnFailure']
const dnsPolicies = ['ClusterFirst', 'ClusterFirstWithHostNet', 'Default', 'None']
const pullPolicies = ['Always', 'IfNotPresent', 'Never']
const tolerationOperators = ['Equal', 'Exists']
const taintEffects = ['NoExecute', 'NoSchedule', 'PreferNoSchedule']
const terminationMessagePolicies = ['FallbackToLogsOnError', 'File']
const maxTerminationMessagePath = 4096

export interface PodSpecOptions {
  /** A template inside a workload: only `Always` restarts, no activeDeadlineSeconds. */
  workloadTemplate?: boolean
  /** Any other pod template (a Job's): no ephemeral containers, the rest as a pod's. */
  podTemplate?: boolean
}

export function validateProtocol(field: string, value: unknown): FieldCause[] {
  if (value === undefined || value === '') return []
  return protocols.includes(str(value)) ? [] : [notSupported(field, value, protocols)]
}

function validateVolumes(volumes: unknown[], path: string): { errs: FieldCause[]; names: Set<string> } {
  const errs: FieldCause[] = []
  const names = new Set<string>()
  volumes.forEach((v, i) => {
    const vol = obj(v)
    const p = `${path}[${i}]`
    const name = str(vol.name)
    if (!name) errs.push(required(`${p}.name`))
    else {
      errs.push(...each(`${p}.name`, name, isDNS1123Label(name)))
      if (names.has(name)) errs.push(duplicate(`${p}.name`, name))
      names.add(name)
    }
    const sources = Object.keys(vol).filter((k) => k !== 'name' && vol[k] !== undefined && vol[k] !== null)
    if (sources.length === 0) errs.push(required(p, 'must specify a volume type'))
    else if (sources.length > 1) errs.push(forbidden(`${p}.${sources[1]}`, 'may not specify more than 1 volume type'))
    if (isObj(vol.persistentVolumeClaim) && !str(vol.persistentVolumeClaim.claimName)) errs.push(required(`${p}.persistentVolumeClaim.claimName`))
    for (const key of ['configMap', 'secret']) {
      arr(obj(vol[key]).items).forEach((it, j) => {
        const k = str(obj(it).key)
        if (!k) errs.push(required(`${p}.${key}.items[${j}].key`))
        else errs.push(...each(`${p}.${key}.items[${j}].key`, k, isConfigMapKey(k)))
        if (!str(obj(it).path)) errs.push(required(`${p}.${key}.items[${j}].path`))
      })
    }
  })
  return { errs, names }
}

function validatePorts(ports: unknown[], path: string): FieldCause[] {
  const errs: FieldCause[] = []
  const names = new Set<string>()
  ports.forEach((x, i) => {
    const port = obj(x)
    const p = `${path}[${i}]`
    const name = str(port.name)
    if (name) {
      errs.push(...each(`${p}.name`, name, isValidPortName(name)))
      if (names.has(name)) errs.push(duplicate(`${p}.name`, name))
      names.add(name)
    }
    if (port.containerPort === undefined) errs.push(required(`${p}.containerPort`))
    else errs.push(...each(`${p}.containerPort`, port.containerPort, isValidPortNum(num(port.containerPort) ?? 0)))
    if (port.hostPort !== undefined && port.hostPort !== 0)
      errs.push(...each(`${p}.hostPort`, port.hostPort, isValidPortNum(num(port.hostPort) ?? 0)))
    errs.push(...validateProtocol(`${p}.protocol`, port.protocol))
  })
  return errs
}

function validateEnv(env: unknown[], path: string): FieldCause[] {
  const errs: FieldCause[] = []
  env.forEach((x, i) => {
    const e = obj(x)
    const p = `${path}[${i}]`
    const name = str(e.name)
    if (!name) errs.push(required(`${p}.name`))
    else errs.push(...each(`${p}.name`, name, isEnvVarName(name)))
    if (e.valueFrom !== undefined) {
      const from = obj(e.valueFrom)
      const sources = Object.keys(from).filter((k) => from[k] !== undefined && from[k] !== null)
      if (sources.length > 1)
        errs.push(invalid(`${p}.valueFrom`, '', 'may not have more than one field specified at a time'))
      if (e.value !== undefined && e.value !== '')
        errs.push(invalid(`${p}.valueFrom`, '', 'may not be specified when `value` is not empty'))
    }
  })
  return errs
}

/** What every kind of container is checked for (upstream's validateContainerCommon), its name's uniqueness aside. */
export function validateContainerCommon(c: Obj, p: string, volumes: Set<string>): FieldCause[] {
  const errs: FieldCause[] = []
  const name = str(c.name)
  if (!name) errs.push(required(`${p}.name`))
  else errs.push(...each(`${p}.name`, name, isDNS1123Label(name)))
  if (!str(c.image)) errs.push(required(`${p}.image`))
  if (c.imagePullPolicy !== undefined && !pullPolicies.includes(str(c.imagePullPolicy)))
    errs.push(notSupported(`${p}.imagePullPolicy`, c.imagePullPolicy, pullPolicies))
  if (c.terminationMessagePolicy !== undefined && !terminationMessagePolicies.includes(str(c.terminationMessagePolicy)))
    errs.push(notSupported(`${p}.terminationMessagePolicy`, c.terminationMessagePolicy, terminationMessagePolicies))
  errs.push(...validateTerminationMessagePath(c.terminationMessagePath, `${p}.terminationMessagePath`))
  errs.push(...validatePorts(arr(c.ports), `${p}.ports`))
  errs.push(...validateEnv(arr(c.env), `${p}.env`))
  const mountPaths = new Set<string>()
  arr(c.volumeMounts).forEach((m, j) => {
    const mount = obj(m)
    const mp = `${p}.volumeMounts[${j}]`
    const vol = str(mount.name)
    if (!vol) errs.push(required(`${mp}.name`))
    else if (!volumes.has(vol)) errs.push(notFound(`${mp}.name`, vol))
    const mountPath = str(mount.mountPath)
    if (!mountPath) errs.push(required(`${mp}.mountPath`))
    else if (mountPaths.has(mountPath)) errs.push(invalid(`${mp}.mountPath`, mountPath, 'must be unique'))
    mountPaths.add(mountPath)
  })
  return errs
}

/**
 * weft's own rule, stricter than upstream's API server (which leaves the path to the
 * container runtime): the kubelet opens this file, so it must be an absolute path no longer than PATH_MAX.
 */
function validateTerminationMessagePath(value: unknown, field: string): FieldCause[] {
  if (value === undefined || value === null || value === '') return []
  const path = str(value)
  if (Buffer.byteLength(path) > maxTerminationMessagePath) return [tooLong(field, maxTerminationMessagePath)]
  return path.startsWith('/') ? [] : [invalid(field, value, 'must be an absolute path')]
}

type ContainerKind = 'regular' | 'init'

function validateContainers(containers: unknown[], path: string, volumes: Set<string>, names: Set<string>, kind: ContainerKind, gracePeriod: number | undefined): FieldCause[] {
  const errs: FieldCause[] = []
  containers.forEach((x, i) => {
    const c = obj(x)
    const p = `${path}[${i}]`
    errs.push(...validateContainerCommon(c, p, volumes))
    const name = str(c.name)
    if (name) {
      if (names.has(name)) errs.push(duplicate(`${p}.name`, name))
      names.add(name)
    }
    const restartPolicy = c.restartPolicy
    const restartable = kind === 'init' && restartPolicy === 'Always'
    if (kind === 'init' && restartPolicy !== undefined && restartPolicy !== null && !restartable)
      errs.push(notSupported(`${p}.restartPolicy`, restartPolicy, ['Always']))
    const lifecycle = c.lifecycle
    if (lifecycle === undefined || lifecycle === null) return
    if (kind === 'init' && !restartable) errs.push(forbidden(`${p}.lifecycle`, 'may not be set for init containers without restartPolicy=Always'))
    else errs.push(...validateLifecycle(lifecycle, `${p}.lifecycle`, gracePeriod))
  })
  return errs
}

function validateTolerations(tolerations: unknown[], path: string): FieldCause[] {
  const errs: FieldCause[] = []
  tolerations.forEach((x, i) => {
    const t = obj(x)
    const p = `${path}[${i}]`
    const key = str(t.key)
    if (key) errs.push(...each(`${p}.key`, key, isQualifiedName(key)))
    const op = str(t.operator)
    if (!key && op !== 'Exists') errs.push(invalid(`${p}.operator`, op, 'operator must be Exists when `key` is empty, which means "match all values and all keys"'))
    if (op && !tolerationOperators.includes(op)) errs.push(notSupported(`${p}.operator`, op, tolerationOperators))
    if (op === 'Exists' && str(t.value)) errs.push(invalid(`${p}.operator`, t.value, 'value must be empty when `operator` is \'Exists\''))
    if ((op === 'Equal' || !op) && str(t.value)) errs.push(...each(`${p}.value`, t.value, isValidLabelValue(str(t.value))))
    const effect = str(t.effect)
    if (effect && !taintEffects.includes(effect)) errs.push(notSupported(`${p}.effect`, effect, taintEffects))
    if (t.tolerationSeconds !== undefined && effect !== 'NoExecute')
      errs.push(invalid(`${p}.effect`, effect, "effect must be 'NoExecute' when `tolerationSeconds` is set"))
  })
  return errs
}

export function validatePodSpec(spec: Obj, path: string, opts: PodSpecOptions = {}): FieldCause[] {
  const errs: FieldCause[] = []
  const vols = validateVolumes(arr(spec.volumes), `${path}.volumes`)
  errs.push(...vols.errs)
  const containers = arr(spec.containers)
  const names = new Set<string>()
  const gracePeriod = num(spec.terminationGracePeriodSeconds)
  if (containers.length === 0) errs.push(required(`${path}.containers`))
  errs.push(...validateContainers(containers, `${path}.containers`, vols.names, names, 'regular', gracePeriod))
  errs.push(...validateContainers(arr(spec.initContainers), `${path}.initContainers`, vols.names, names, 'init', gracePeriod))
  if (opts.workloadTemplate || opts.podTemplate) {
    if (arr(spec.ephemeralContainers).length > 0) errs.push(forbidden(`${path}.ephemeralContainers`, 'ephemeral containers not allowed in pod template'))
  } else {
    errs.push(...validateEphemeralContainers(arr(spec.ephemeralContainers), spec, `${path}.ephemeralContainers`, vols.names))
  }
  const restart = spec.restartPolicy
  if (opts.workloadTemplate) {
    if (restart !== undefined && restart !== 'Always') errs.push(notSupported(`${path}.restartPolicy`, restart, ['Always']))
    if (spec.activeDeadlineSeconds !== undefined && spec.activeDeadlineSeconds !== null)
      errs.push(forbidden(`${path}.activeDeadlineSeconds`, 'activeDeadlineSeconds in ReplicaSet is not Supported'))
  } else if (restart !== undefined && !restartPolicies.includes(str(restart))) {
    errs.push(notSupported(`${path}.restartPolicy`, restart, restartPolicies))
  }
  const dns = spec.dnsPolicy
  if (dns !== undefined && !dnsPolicies.includes(str(dns))) errs.push(notSupported(`${path}.dnsPolicy`, dns, dnsPolicies))
  if (dns === 'None' && !isObj(spec.dnsConfig)) errs.push(required(`${path}.dnsConfig`, 'must provide `dnsConfig` when `dnsPolicy` is None'))
  const deadline = num(spec.activeDeadlineSeconds)
  if (deadline !== undefined && (deadline < 1 || deadline > 2147483647))
    errs.push(invalid(`${path}.activeDeadlineSeconds`, deadline, inclusiveRangeError(1, 2147483647)))
  errs.push(...nonNegative(`${path}.terminationGracePeriodSeconds`, spec.terminationGracePeriodSeconds))
  errs.push(...validateLabels(spec.nodeSelector, `${path}.nodeSelector`))
  errs.push(...validateTolerations(arr(spec.tolerations), `${path}.tolerations`))
  for (const key of ['hostname', 'subdomain']) {
    const v = str(spec[key])
    if (v) errs.push(...each(`${path}.${key}`, v, isDNS1123Label(v)))
  }
  for (const key of ['serviceAccountName', 'nodeName', 'priorityClassName']) {
    const v = str(spec[key])
    if (v) errs.push(...each(`${path}.${key}`, v, isDNS1123Subdomain(v)))
  }
  arr(spec.imagePullSecrets).forEach((s, i) => {
    if (!str(obj(s).name)) errs.push(required(`${path}.imagePullSecrets[${i}].name`))
  })
  return errs
}

const podUpdateMessage =
  'pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)'

/** The spec with the fields an update may change replaced by the old ones. */
function mungedSpec(spec: Obj, old: Obj): Obj {
  const out: Obj = { ...spec }
  const sameImages = (key: string): void => {
    const oldList = arr(old[key])
    const list = arr(spec[key])
    out[key] = list.map((c, i) => (isObj(c) && isObj(oldList[i]) ? { ...c, image: oldList[i].image } : c))
  }
  sameImages('containers')
  sameImages('initContainers')
  out.activeDeadlineSeconds = old.activeDeadlineSeconds
  out.tolerations = old.tolerations
  out.terminationGracePeriodSeconds = old.terminationGracePeriodSeconds
  out.schedulingGates = old.schedulingGates
  if (!str(old.nodeName)) out.nodeName = old.nodeName
  return out
}

export function validatePodSpecUpdate(spec: Obj, old: Obj): FieldCause[] {
  const errs: FieldCause[] = []
  const oldDeadline = num(old.activeDeadlineSeconds)
  const deadline = num(spec.activeDeadlineSeconds)
  if (oldDeadline !== undefined) {
    if (deadline === undefined) errs.push(invalid('spec.activeDeadlineSeconds', null, 'must not update from a positive integer to nil value'))
    else if (deadline > oldDeadline) errs.push(invalid('spec.activeDeadlineSeconds', deadline, 'must be less than or equal to previous value'))
  }
  const oldTolerations = arr(old.tolerations)
  const tolerations = arr(spec.tolerations)
  const withoutSeconds = (t: unknown): Obj => ({ ...obj(t), tolerationSeconds: undefined })
  for (const t of oldTolerations) {
    if (!tolerations.some((n) => deepEqual(withoutSeconds(n), withoutSeconds(t))))
      errs.push(forbidden('spec.tolerations', 'existing toleration can not be modified except its tolerationSeconds'))
  }
  if (str(old.nodeName) && str(spec.nodeName) !== str(old.nodeName)) errs.push(forbidden('spec.nodeName', 'field is immutable once set'))
  // Scheduling gates may only be lifted, never added.
  const oldGates = new Set(arr(old.schedulingGates).map((g) => str(obj(g).name)))
  for (const g of arr(spec.schedulingGates)) {
    const name = str(obj(g).name)
    if (!oldGates.has(name)) errs.push(forbidden('spec.schedulingGates', `only deletion is allowed, but found new scheduling gate '${name}'`))
  }
  const changed = Object.keys({ ...spec, ...old }).filter((k) => !deepEqual(mungedSpec(spec, old)[k], old[k]) && k !== 'nodeName')
  if (changed.length > 0) errs.push(forbidden('spec', `${podUpdateMessage}\n  changed: ${changed.map((k) => `spec.${k}`).join(', ')}`))
  return errs
}

