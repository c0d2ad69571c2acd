// Ingresses and IngressClasses (networking.k8s.io/v1).
import { isIP } from 'node:net'
import {
  isDNS1035Label,
  isDNS1123Subdomain,
  isDomainPrefixedPath,
  isValidPortName,
  isValidPortNum,
  isWildcardDNS1123Subdomain,
} from '../names.ts'
import type { FieldCause, Obj } from './field.ts'
import { arr, each, immutable, invalid, isObj, notSupported, num, obj, required, str, tooLong } from './field.ts'

const pathTypes = ['Exact', 'ImplementationSpecific', 'Prefix']
const invalidPathSequences = ['//', '/./', '/../', '%2f', '%2F']
const invalidPathSuffixes = ['/..', '/.']

function validateHost(host: string, path: string): FieldCause[] {
  if (isIP(host)) return [invalid(path, host, 'must be a DNS name, not an IP address')]
  return each(path, host, host.includes('*') ? isWildcardDNS1123Subdomain(host) : isDNS1123Subdomain(host))
}

export function validateBackend(backend: Obj, path: string): FieldCause[] {
  const errs: FieldCause[] = []
  const hasService = isObj(backend.service)
  const hasResource = isObj(backend.resource)
  if (hasService && hasResource) return [invalid(path, '', 'cannot set both resource and service backends')]
  if (hasResource) {
    const r = obj(backend.resource)
    if (!str(r.kind)) errs.push(required(`${path}.resource.kind`))
    if (!str(r.name)) errs.push(required(`${path}.resource.name`))
    return errs
  }
  if (!hasService) return [required(path, 'one of `resource` or `service` must be specified')]
  const svc = obj(backend.service)
  const name = str(svc.name)
  if (!name) errs.push(required(`${path}.service.name`))
  else errs.push(...each(`${path}.service.name`, name, isDNS1035Label(name)))
  const port = obj(svc.port)
  const portName = str(port.name)
  const number = num(port.number)
  const hasNumber = number !== undefined && number !== 0
  if (portName && hasNumber) errs.push(invalid(`${path}.service.port`, port, 'cannot set both port name & port number'))
  else if (portName) errs.push(...each(`${path}.service.port.name`, portName, isValidPortName(portName)))
  else if (hasNumber) errs.push(...each(`${path}.service.port.number`, number, isValidPortNum(number)))
  else errs.push(required(`${path}.service.port`, 'port name or number is required'))
  return errs
}

function validatePath(p: Obj, path: string): FieldCause[] {
  const errs: FieldCause[] = []
  const value = str(p.path)
  const type = p.pathType
  if (type === undefined || type === null || type === '') {
    errs.push(required(`${path}.pathType`, 'pathType must be specified'))
  } else if (!pathTypes.includes(str(type))) {
    errs.push(notSupported(`${path}.pathType`, type, pathTypes))
  } else if (type === 'Exact' || type === 'Prefix') {
    if (!value.startsWith('/')) errs.push(invalid(`${path}.path`, value, 'must be an absolute path'))
    for (const seq of invalidPathSequences) if (value.includes(seq)) errs.push(invalid(`${path}.path`, value, `must not contain '${seq}'`))
    for (const suffix of invalidPathSuffixes) if (value.endsWith(suffix)) errs.push(invalid(`${path}.path`, value, `cannot end with '${suffix}'`))
  } else if (value && !value.startsWith('/')) {
    errs.push(invalid(`${path}.path`, value, 'must be an absolute path'))
  }
  errs.push(...validateBackend(obj(p.backend), `${path}.backend`))
  return errs
}

export function validateIngressSpec(spec: Obj): FieldCause[] {
  const errs: FieldCause[] = []
  const rules = arr(spec.rules)
  if (isObj(spec.defaultBackend)) errs.push(...validateBackend(spec.defaultBackend, 'spec.defaultBackend'))
  else if (rules.length === 0) errs.push(invalid('spec.rules', [], 'either `defaultBackend` or `rules` must be specified'))
  rules.forEach((x, i) => {
    const rule = obj(x)
    const path = `spec.rules[${i}]`
    const host = str(rule.host)
    if (host) errs.push(...validateHost(host, `${path}.host`))
    if (isObj(rule.http)) {
      const paths = arr(rule.http.paths)
      if (paths.length === 0) errs.push(required(`${path}.http.paths`))
      paths.forEach((p, j) => errs.push(...validatePath(obj(p), `${path}.http.paths[${j}]`)))
    }
  })
  arr(spec.tls).forEach((x, i) => {
    const tls = obj(x)
    arr(tls.hosts).forEach((h, j) => errs.push(...validateHost(str(h), `spec.tls[${i}].hosts[${j}]`)))
    const secret = str(tls.secretName)
    if (secret) errs.push(...each(`spec.tls[${i}].secretName`, secret, isDNS1123Subdomain(secret)))
  })
  const className = spec.ingressClassName
  if (typeof className === 'string') errs.push(...each('spec.ingressClassName', className, isDNS1123Subdomain(className)))
  return errs
}

export function validateIngressClassSpec(spec: Obj): FieldCause[] {
  const controller = str(spec.controller)
  if (!controller) return [required('spec.controller')]
  if (controller.length > 250) return [tooLong('spec.controller', 250)]
  const errs = each('spec.controller', controller, isDomainPrefixedPath(controller))
  const params = spec.parameters
  if (isObj(params)) {
    if (!str(params.kind)) errs.push(required('spec.parameters.kind'))
    if (!str(params.name)) errs.push(required('spec.parameters.name'))
    const scope = params.scope
    if (scope !== undefined && !['Cluster', 'Namespace'].includes(str(scope))) errs.push(notSupported('spec.parameters.scope', scope, ['Cluster', 'Namespace']))
    if (scope === 'Namespace' && !str(params.namespace)) errs.push(required('spec.parameters.namespace', '`parameters.scope` is set to \'Namespace\''))
  }
  return errs
}

export function validateIngressClassUpdate(spec: Obj, old: Obj): FieldCause[] {
  return str(spec.controller) === str(old.controller) ? [] : [immutable('spec.controller', str(spec.controller))]
}
