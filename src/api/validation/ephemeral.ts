// Ephemeral containers (upstream's validateEphemeralContainers and
// ValidatePodEphemeralContainersUpdate): debugging containers added to a running pod
// through `pods/ephemeralcontainers`, never changed or removed once there.
import type { FieldCause, Obj } from './field.ts'
import { arr, deepEqual, duplicate, forbidden, invalid, isObj, notFound, obj, str } from './field.ts'
import { validateContainerCommon } from './pod.ts'

/**
 * The fields an ephemeral container may not set, in the order of upstream's
 * EphemeralContainerCommon struct (its allow-list check walks the struct).
 */
export const ephemeralForbiddenFields = [
  'ports',
  'resources',
  'resizePolicy',
  'restartPolicy',
  'restartPolicyRules',
  'livenessProbe',
  'readinessProbe',
  'startupProbe',
  'lifecycle',
] as const

const cannotBeSet = 'cannot be set for an Ephemeral Container'
const mirrorPodAnnotation = 'kubernetes.io/config.mirror'

/** Whether a JSON value differs from Go's zero value (absent, null, '', 0, false, or empty all the way down). */
function isSet(value: unknown): boolean {
  if (value === undefined || value === null || value === '' || value === 0 || value === false) return false
  if (Array.isArray(value)) return value.length > 0
  if (isObj(value)) return Object.values(value).some(isSet)
  return true
}

function containerNames(spec: Obj): Set<string> {
  const names = new Set<string>()
  for (const c of [...arr(spec.containers), ...arr(spec.initContainers)]) {
    const name = str(obj(c).name)
    if (name) names.add(name)
  }
  return names
}

/** `spec.ephemeralContainers` of a pod whose spec is `spec`; `volumes` are the pod's volume names. */
export function validateEphemeralContainers(list: unknown[], spec: Obj, path: string, volumes: Set<string>): FieldCause[] {
  if (list.length === 0) return []
  const errs: FieldCause[] = []
  const others = containerNames(spec)
  const all = new Set(others)
  list.forEach((x, i) => {
    const c = obj(x)
    const p = `${path}[${i}]`
    errs.push(...validateContainerCommon(c, p, volumes))
    const image = str(c.image)
    if (image !== image.trim()) errs.push(invalid(`${p}.image`, image, 'must not have leading or trailing whitespace'))
    const name = str(c.name)
    if (all.has(name)) errs.push(duplicate(`${p}.name`, name))
    else all.add(name)
    const target = str(c.targetContainerName)
    if (target && !others.has(target)) errs.push(notFound(`${p}.targetContainerName`, target))
    for (const field of ephemeralForbiddenFields) if (isSet(c[field])) errs.push(forbidden(`${p}.${field}`, cannotBeSet))
    arr(c.volumeMounts).forEach((m, j) => {
      for (const key of ['subPath', 'subPathExpr']) if (str(obj(m)[key])) errs.push(forbidden(`${p}.volumeMounts[${j}].${key}`, cannotBeSet))
    })
  })
  return errs
}

/** The fields of two versions of a container that differ, one `-`/`+` pair each. */
function describeChange(before: Obj, after: Obj): string {
  const lines: string[] = []
  for (const key of [...new Set([...Object.keys(before), ...Object.keys(after)])].sort()) {
    if (deepEqual(before[key], after[key])) continue
    if (before[key] !== undefined) lines.push(`-   ${key}: ${JSON.stringify(before[key])}`)
    if (after[key] !== undefined) lines.push(`+   ${key}: ${JSON.stringify(after[key])}`)
  }
  return lines.join('\n')
}

/** Static pods (their mirror pods carry this annotation) take no ephemeral containers: this is the only error then. */
export function staticPodRefusal(old: Obj): FieldCause | undefined {
  const annotations = obj(obj(old.metadata).annotations)
  return annotations[mirrorPodAnnotation] !== undefined ? forbidden('', 'static pods do not support ephemeral containers') : undefined
}

/**
 * A write to `pods/ephemeralcontainers`: `pod` and `old` differ at most in
 * spec.ephemeralContainers (the strategy saw to that); existing ones stay as they were.
 */
export function validateEphemeralContainersUpdate(pod: Obj, old: Obj): FieldCause[] {
  const errs: FieldCause[] = []
  const path = 'spec.ephemeralContainers'
  const next = new Map<string, Obj>()
  for (const c of arr(obj(pod.spec).ephemeralContainers)) next.set(str(obj(c).name), obj(c))
  for (const x of arr(obj(old.spec).ephemeralContainers)) {
    const before = obj(x)
    const name = str(before.name)
    const after = next.get(name)
    if (!after) errs.push(forbidden(path, `existing ephemeral containers ${JSON.stringify(name)} may not be removed\n`))
    else if (!deepEqual(before, after)) errs.push(forbidden(path, `existing ephemeral containers ${JSON.stringify(name)} may not be changed\n${describeChange(before, after)}`))
  }
  return errs
}
