// EndpointSlices, Endpoints, Secrets, ConfigMaps, Leases, Nodes, Namespaces and Events.
import {
  isConfigMapKey,
  isDNS1123Label,
  isDNS1123Subdomain,
  isQualifiedName,
  isValidCIDR,
  isValidIP,
  isValidIPv4Address,
  isValidIPv6Address,
  isValidLabelValue,
  isValidPortNum,
} from '../names.ts'
import type { FieldCause, Obj } from './field.ts'
import { arr, deepEqual, duplicate, each, forbidden, immutable, invalid, isObj, nonNegative, notSupported, num, obj, required, str, tooLong, tooMany } from './field.ts'
import { validateProtocol } from './pod.ts'

const addressTypes = ['FQDN', 'IPv4', 'IPv6']

function validateAddress(type: string, address: string, path: string): FieldCause[] {
  if (type === 'IPv4') return each(path, address, isValidIPv4Address(address))
  if (type === 'IPv6') return each(path, address, isValidIPv6Address(address))
  if (type === 'FQDN') return each(path, address, isDNS1123Subdomain(address))
  return []
}

export function validateEndpointSlice(slice: Obj, old?: Obj): FieldCause[] {
  const errs: FieldCause[] = []
  const type = slice.addressType
  if (type === undefined || type === '') errs.push(required('addressType'))
  else if (!addressTypes.includes(str(type))) errs.push(notSupported('addressType', type, addressTypes))
  const endpoints = arr(slice.endpoints)
  if (endpoints.length > 1000) errs.push(tooMany('endpoints', endpoints.length, 1000))
  endpoints.forEach((x, i) => {
    const ep = obj(x)
    const path = `endpoints[${i}]`
    const addresses = arr(ep.addresses)
    if (addresses.length === 0) errs.push(required(`${path}.addresses`, 'must contain at least 1 address'))
    else if (addresses.length > 100) errs.push(tooMany(`${path}.addresses`, addresses.length, 100))
    addresses.forEach((a, j) => errs.push(...validateAddress(str(type), str(a), `${path}.addresses[${j}]`)))
    const hostname = str(ep.hostname)
    if (hostname) errs.push(...each(`${path}.hostname`, hostname, isDNS1123Label(hostname)))
    const nodeName = str(ep.nodeName)
    if (nodeName) errs.push(...each(`${path}.nodeName`, nodeName, isDNS1123Subdomain(nodeName)))
  })
  const ports = arr(slice.ports)
  if (ports.length > 20000) errs.push(tooMany('ports', ports.length, 20000))
  const names = new Set<string>()
  ports.forEach((x, i) => {
    const port = obj(x)
    const path = `ports[${i}]`
    const name = str(port.name)
    if (name) errs.push(...each(`${path}.name`, name, isDNS1123Label(name)))
    if (names.has(name)) errs.push(duplicate(`${path}.name`, name))
    names.add(name)
    const n = num(port.port)
    if (n !== undefined && n !== 0) errs.push(...each(`${path}.port`, n, isValidPortNum(n)))
    errs.push(...validateProtocol(`${path}.protocol`, port.protocol))
  })
  if (old && str(old.addressType) !== str(slice.addressType)) errs.push(immutable('addressType', str(slice.addressType)))
  return errs
}

export function validateEndpoints(ep: Obj): FieldCause[] {
  const errs: FieldCause[] = []
  arr(ep.subsets).forEach((x, i) => {
    const subset = obj(x)
    const path = `subsets[${i}]`
    for (const key of ['addresses', 'notReadyAddresses']) {
      arr(subset[key]).forEach((a, j) => {
        const addr = obj(a)
        const ip = str(addr.ip)
        if (!ip) errs.push(required(`${path}.${key}[${j}].ip`))
        else errs.push(...each(`${path}.${key}[${j}].ip`, ip, isValidIP(ip)))
        const hostname = str(addr.hostname)
        if (hostname) errs.push(...each(`${path}.${key}[${j}].hostname`, hostname, isDNS1123Label(hostname)))
      })
    }
    const ports = arr(subset.ports)
    ports.forEach((p, j) => {
      const port = obj(p)
      const pp = `${path}.ports[${j}]`
      const name = str(port.name)
      if (!name && ports.length > 1) errs.push(required(`${pp}.name`))
      else if (name) errs.push(...each(`${pp}.name`, name, isDNS1123Label(name)))
      errs.push(...each(`${pp}.port`, port.port, isValidPortNum(num(port.port) ?? 0)))
      errs.push(...validateProtocol(`${pp}.protocol`, port.protocol))
    })
  })
  return errs
}

const MaxSecretSize = 1024 * 1024

function validateDataKeys(data: unknown, path: string): { errs: FieldCause[]; size: number } {
  const errs: FieldCause[] = []
  let size = 0
  for (const [k, v] of Object.entries(obj(data))) {
    errs.push(...each(`${path}[${k}]`, k, isConfigMapKey(k)))
    size += typeof v === 'string' ? v.length : 0
  }
  return { errs, size }
}

function validateImmutableData(o: Obj, old: Obj | undefined): FieldCause[] {
  if (!old || old.immutable !== true) return []
  const errs: FieldCause[] = []
  if (o.immutable !== true) errs.push(forbidden('immutable', 'field is immutable when `immutable` is set'))
  for (const key of ['data', 'binaryData', 'stringData']) {
    if (key in old || key in o) if (!deepEqual(o[key], old[key])) errs.push(forbidden(key, 'field is immutable when `immutable` is set'))
  }
  return errs
}

const secretKeys: Record<string, string[]> = {
  'kubernetes.io/tls': ['tls.crt', 'tls.key'],
  'kubernetes.io/dockerconfigjson': ['.dockerconfigjson'],
  'kubernetes.io/dockercfg': ['.dockercfg'],
  'kubernetes.io/basic-auth': [],
  'kubernetes.io/ssh-auth': ['ssh-privatekey'],
}

export function validateSecret(secret: Obj, old?: Obj): FieldCause[] {
  const { errs, size } = validateDataKeys(secret.data, 'data')
  // stringData is merged into data by the strategy; count it too when present.
  const stringData = validateDataKeys(secret.stringData, 'stringData')
  errs.push(...stringData.errs)
  if (size * 0.75 + stringData.size > MaxSecretSize) errs.push(tooLong('data', MaxSecretSize))
  const type = str(secret.type)
  const has = (key: string): boolean => key in obj(secret.data) || key in obj(secret.stringData)
  for (const key of secretKeys[type] ?? []) if (!has(key)) errs.push(required(`data[${key}]`))
  if (type === 'kubernetes.io/basic-auth' && !has('username') && !has('password'))
    errs.push(required('data[username]'), required('data[password]'))
  if (type === 'kubernetes.io/service-account-token' && !str(obj(obj(secret.metadata).annotations)['kubernetes.io/service-account.name']))
    errs.push(required('metadata.annotations[kubernetes.io/service-account.name]'))
  if (old) {
    if (str(old.type) !== type && old.type !== undefined) errs.push(immutable('type', type))
    errs.push(...validateImmutableData(secret, old))
  }
  return errs
}

export function validateConfigMap(cm: Obj, old?: Obj): FieldCause[] {
  const data = validateDataKeys(cm.data, 'data')
  const binary = validateDataKeys(cm.binaryData, 'binaryData')
  const errs = [...data.errs, ...binary.errs]
  for (const k of Object.keys(obj(cm.binaryData)))
    if (k in obj(cm.data)) errs.push(invalid(`data[${k}]`, k, 'duplicate of key present in binaryData'))
  if (data.size + binary.size * 0.75 > MaxSecretSize) errs.push(tooLong('', MaxSecretSize))
  if (old) errs.push(...validateImmutableData(cm, old))
  return errs
}

export function validateLease(spec: Obj): FieldCause[] {
  const errs: FieldCause[] = []
  const duration = num(spec.leaseDurationSeconds)
  if (duration !== undefined && duration <= 0) errs.push(invalid('spec.leaseDurationSeconds', duration, 'must be greater than 0'))
  errs.push(...nonNegative('spec.leaseTransitions', spec.leaseTransitions))
  const strategy = spec.strategy
  if (strategy !== undefined && strategy !== null && strategy !== 'OldestEmulationVersion')
    errs.push(notSupported('spec.strategy', strategy, ['OldestEmulationVersion']))
  return errs
}

const taintEffects = ['NoExecute', 'NoSchedule', 'PreferNoSchedule']

export function validateNode(node: Obj, old?: Obj): FieldCause[] {
  const errs: FieldCause[] = []
  const spec = obj(node.spec)
  const cidrs = spec.podCIDRs !== undefined ? arr(spec.podCIDRs).map(str) : str(spec.podCIDR) ? [str(spec.podCIDR)] : []
  cidrs.forEach((c, i) => errs.push(...each(`spec.podCIDRs[${i}]`, c, isValidCIDR(c))))
  if (cidrs.length > 2) errs.push(invalid('spec.podCIDRs', cidrs, 'may specify no more than one CIDR for each IP family'))
  const seen = new Set<string>()
  arr(spec.taints).forEach((x, i) => {
    const taint = obj(x)
    const path = `spec.taints[${i}]`
    const key = str(taint.key)
    if (!key) errs.push(required(`${path}.key`))
    else errs.push(...each(`${path}.key`, key, isQualifiedName(key)))
    const value = str(taint.value)
    if (value) errs.push(...each(`${path}.value`, value, isValidLabelValue(value)))
    const effect = str(taint.effect)
    if (!effect) errs.push(required(`${path}.effect`))
    else if (!taintEffects.includes(effect)) errs.push(notSupported(`${path}.effect`, effect, taintEffects))
    const id = `${key}:${effect}`
    if (seen.has(id)) errs.push(duplicate(path, `${key}=${value}:${effect}`))
    seen.add(id)
  })
  for (const a of arr(obj(node.status).addresses)) {
    const addr = obj(a)
    if (!str(addr.type)) errs.push(required('status.addresses.type'))
  }
  if (old) {
    // As upstream's ValidateNodeUpdate: no address twice. Their syntax is not checked there
    // (the proxy and kubelet parse what they use and drop what does not parse).
    const seenAddresses = new Set<string>()
    arr(obj(node.status).addresses).forEach((a, i) => {
      const key = JSON.stringify([str(obj(a).type), str(obj(a).address)])
      // Go prints the duplicate struct with %#v.
      const shown = `core.NodeAddress{Type:${JSON.stringify(str(obj(a).type))}, Address:${JSON.stringify(str(obj(a).address))}}`
      if (seenAddresses.has(key)) errs.push({ reason: 'FieldValueDuplicate', message: `Duplicate value: ${shown}`, field: `status.addresses[${i}]` })
      seenAddresses.add(key)
    })
    const oldSpec = obj(old.spec)
    const oldCIDRs = oldSpec.podCIDRs !== undefined ? arr(oldSpec.podCIDRs).map(str) : str(oldSpec.podCIDR) ? [str(oldSpec.podCIDR)] : []
    if (oldCIDRs.length > 0 && !deepEqual(oldCIDRs, cidrs)) errs.push(forbidden('spec.podCIDRs', 'node updates may not change podCIDR except from "" to valid'))
    const oldID = str(oldSpec.providerID)
    if (oldID && oldID !== str(spec.providerID)) errs.push(forbidden('spec.providerID', 'node updates may not change providerID except from "" to valid'))
  }
  return errs
}

export function validateNamespace(ns: Obj): FieldCause[] {
  const errs: FieldCause[] = []
  arr(obj(ns.spec).finalizers).forEach((f, i) => errs.push(...each(`spec.finalizers[${i}]`, f, isQualifiedName(str(f)))))
  return errs
}

const eventTypes = ['Normal', 'Warning']

export function validateEvent(ev: Obj): FieldCause[] {
  const errs: FieldCause[] = []
  const meta = obj(ev.metadata)
  const involved = obj(ev.involvedObject)
  const ns = str(involved.namespace)
  if (ns && ns !== str(meta.namespace)) errs.push(invalid('involvedObject.namespace', ns, 'does not match event.namespace'))
  const type = ev.type
  if (type !== undefined && type !== '' && !eventTypes.includes(str(type))) errs.push(notSupported('type', type, eventTypes))
  errs.push(...nonNegative('count', ev.count))
  if (isObj(ev.eventTime) || typeof ev.eventTime === 'string') {
    if (!str(ev.reportingComponent)) errs.push(required('reportingComponent'))
    if (!str(ev.reportingInstance)) errs.push(required('reportingInstance'))
    if (!str(ev.action)) errs.push(required('action'))
    if (!str(ev.reason)) errs.push(required('reason'))
    const controller = str(ev.reportingComponent)
    if (controller) errs.push(...each('reportingComponent', controller, isQualifiedName(controller)))
  }
  if (str(ev.message).length > 4096) errs.push(tooLong('message', 4096))
  return errs
}

/** Upstream's HighestUserDefinablePriority: above it only the system classes. */
export const HIGHEST_USER_DEFINABLE_PRIORITY = 1_000_000_000
/** The built-in classes, as kube-apiserver makes them. */
export const SYSTEM_PRIORITY_CLASSES: readonly { name: string; value: number; description: string }[] = [
  { name: 'system-node-critical', value: 2_000_001_000, description: 'Used for system critical pods that must not be moved from their current node.' },
  { name: 'system-cluster-critical', value: 2_000_000_000, description: 'Used for system critical pods that must run in the cluster, but can be moved to another node if necessary.' },
]
const preemptionPolicies = ['PreemptLowerPriority', 'Never']

/** scheduling.k8s.io/v1 PriorityClass, as upstream's ValidatePriorityClass(Update). */
export function validatePriorityClass(pc: Obj, old: Obj | undefined): FieldCause[] {
  const errs: FieldCause[] = []
  const name = str(obj(pc.metadata).name) ?? ''
  const value = pc.value
  const system = SYSTEM_PRIORITY_CLASSES.find((c) => c.name === name)
  if (typeof value !== 'number' || !Number.isInteger(value) || value < -2147483648 || value > 2147483647) errs.push(invalid('value', value, 'must be a 32-bit integer'))
  else if (system) {
    if (value !== system.value) errs.push(forbidden('metadata.name', `priority class ${name} is a system class with value ${system.value}`))
  } else {
    if (name.startsWith('system-')) errs.push(forbidden('metadata.name', "priority class names with 'system-' prefix are reserved"))
    if (value > HIGHEST_USER_DEFINABLE_PRIORITY) errs.push(forbidden('value', `maximum allowed value of a user defined priority is ${HIGHEST_USER_DEFINABLE_PRIORITY}`))
  }
  const policy = pc.preemptionPolicy
  if (policy !== undefined && policy !== null && !preemptionPolicies.includes(String(policy))) errs.push(notSupported('preemptionPolicy', policy, preemptionPolicies))
  if (old) {
    if (old.value !== pc.value) errs.push(forbidden('value', 'may not be changed in an update.'))
    if ((old.preemptionPolicy ?? 'PreemptLowerPriority') !== (pc.preemptionPolicy ?? 'PreemptLowerPriority')) errs.push(immutable('preemptionPolicy', pc.preemptionPolicy))
  }
  return errs
}
