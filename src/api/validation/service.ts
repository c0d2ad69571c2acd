// Services (ValidateService / ValidateServiceUpdate).
import { isIP } from 'node:net'
import { parseIP, specialIPKind } from '../../util/ip-parse.ts'
import { isDNS1123Label, isDNS1123Subdomain, isValidCIDR, isValidIP, isValidPortName, isValidPortNum } from '../names.ts'
import type { FieldCause, Obj } from './field.ts'
import { arr, duplicate, each, forbidden, invalid, notSupported, num, obj, required, str } from './field.ts'
import { validateLabels } from './meta.ts'
import { validateProtocol } from './pod.ts'

const types = ['ClusterIP', 'ExternalName', 'LoadBalancer', 'NodePort']
const affinities = ['ClientIP', 'None']
const trafficPolicies = ['Cluster', 'Local']
const families = ['IPv4', 'IPv6']
const familyPolicies = ['PreferDualStack', 'RequireDualStack', 'SingleStack']
const ipModes = ['Proxy', 'VIP']

export const sourceRangesAnnotation = 'service.beta.kubernetes.io/load-balancer-source-ranges'

/** Kubernetes' IsValidIP then ValidateNonSpecialIP: an address a Service may claim as external. */
function validateExternalIP(field: string, value: unknown): FieldCause[] {
  const ip = parseIP(str(value))
  if (!ip) return each(field, value, isValidIP(str(value)))
  switch (specialIPKind(ip)) {
    case 'unspecified':
      return [invalid(field, value, `may not be unspecified (${value})`)]
    case 'loopback':
      return [invalid(field, value, 'may not be in the loopback range (127.0.0.0/8, ::1/128)')]
    case 'link-local':
      return [invalid(field, value, 'may not be in the link-local range (169.254.0.0/16, fe80::/10)')]
    case 'link-local-multicast':
      return [invalid(field, value, 'may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)')]
    default:
      return []
  }
}

/** spec.loadBalancerSourceRanges, or else the older annotation: CIDRs (space-padding allowed), LoadBalancer only. */
function validateSourceRanges(spec: Obj, meta: Obj, type: string): FieldCause[] {
  const errs: FieldCause[] = []
  const ranges = arr(spec.loadBalancerSourceRanges)
  const annotations = obj(meta.annotations)
  if (ranges.length > 0) {
    // Upstream's path really is spelled with a capital L; kept so messages match kubectl's.
    const path = 'spec.LoadBalancerSourceRanges'
    if (type !== 'LoadBalancer') errs.push(forbidden(path, "may only be used when `type` is 'LoadBalancer'"))
    ranges.forEach((r, i) => {
      const value = str(r).trim()
      errs.push(...each(`${path}[${i}]`, value, isValidCIDR(value)))
    })
  } else if (Object.hasOwn(annotations, sourceRangesAnnotation)) {
    const path = `metadata.annotations[${sourceRangesAnnotation}]`
    if (type !== 'LoadBalancer') errs.push(forbidden(path, "may only be used when `type` is 'LoadBalancer'"))
    const value = str(annotations[sourceRangesAnnotation]).trim()
    if (value !== '') {
      for (const part of value.split(',')) {
        const cidr = part.trim()
        errs.push(...each(path, cidr, isValidCIDR(cidr)))
      }
    }
  }
  return errs
}

function validatePorts(spec: Obj, type: string): FieldCause[] {
  const errs: FieldCause[] = []
  const ports = arr(spec.ports)
  const names = new Set<string>()
  const keys = new Set<string>()
  ports.forEach((x, i) => {
    const port = obj(x)
    const p = `spec.ports[${i}]`
    const name = str(port.name)
    if (!name) {
      if (ports.length > 1) errs.push(required(`${p}.name`))
    } else {
      errs.push(...each(`${p}.name`, name, isDNS1123Label(name)))
      if (names.has(name)) errs.push(duplicate(`${p}.name`, name))
      names.add(name)
    }
    if (port.port === undefined) errs.push(required(`${p}.port`))
    else errs.push(...each(`${p}.port`, port.port, isValidPortNum(num(port.port) ?? 0)))
    if (port.protocol !== undefined && port.protocol !== '') errs.push(...validateProtocol(`${p}.protocol`, port.protocol))
    const target = port.targetPort
    if (typeof target === 'number') {
      if (target !== 0) errs.push(...each(`${p}.targetPort`, target, isValidPortNum(target)))
    } else if (typeof target === 'string' && target !== '') {
      errs.push(...each(`${p}.targetPort`, target, isValidPortName(target)))
    }
    const nodePort = num(port.nodePort)
    if (nodePort !== undefined && nodePort !== 0) {
      if (type !== 'NodePort' && type !== 'LoadBalancer') errs.push(forbidden(`${p}.nodePort`, `may not be used when \`type\` is '${type}'`))
      else errs.push(...each(`${p}.nodePort`, nodePort, isValidPortNum(nodePort)))
    }
    const key = `${port.port}/${str(port.protocol) || 'TCP'}`
    if (keys.has(key)) errs.push(duplicate(p, { port: port.port, protocol: str(port.protocol) || 'TCP' }))
    keys.add(key)
  })
  return errs
}

function validateClusterIPs(spec: Obj, type: string): FieldCause[] {
  const errs: FieldCause[] = []
  const clusterIP = str(spec.clusterIP)
  const clusterIPs = arr(spec.clusterIPs).map(str)
  if (type === 'ExternalName') {
    if (clusterIP || clusterIPs.length > 0) errs.push(forbidden('spec.clusterIPs', 'may not be set for ExternalName services'))
    return errs
  }
  if (clusterIP && clusterIPs.length > 0 && clusterIPs[0] !== clusterIP)
    errs.push(invalid('spec.clusterIPs', clusterIPs, 'first value must match `clusterIP`'))
  const all = clusterIPs.length > 0 ? clusterIPs : clusterIP ? [clusterIP] : []
  if (all.length > 2) errs.push(invalid('spec.clusterIPs', all, 'may only hold up to 2 values'))
  all.forEach((ip, i) => {
    if (ip === 'None') {
      if (i > 0 || all.length > 1) errs.push(invalid(`spec.clusterIPs[${i}]`, ip, "'None' must be the first and only value"))
      return
    }
    errs.push(...each(`spec.clusterIPs[${i}]`, ip, isValidIP(ip)))
  })
  if (all.length === 2 && isIP(all[0]) !== 0 && isIP(all[0]) === isIP(all[1]))
    errs.push(invalid('spec.clusterIPs', all, 'may specify no more than one IP for each IP family'))
  const fams = arr(spec.ipFamilies).map(str)
  const seen = new Set<string>()
  fams.forEach((f, i) => {
    if (!families.includes(f)) errs.push(notSupported(`spec.ipFamilies[${i}]`, f, families))
    else if (seen.has(f)) errs.push(duplicate(`spec.ipFamilies[${i}]`, f))
    seen.add(f)
  })
  const policy = spec.ipFamilyPolicy
  if (policy !== undefined && policy !== null && !familyPolicies.includes(str(policy)))
    errs.push(notSupported('spec.ipFamilyPolicy', policy, familyPolicies))
  return errs
}

export function validateServiceSpec(spec: Obj, meta: Obj = {}): FieldCause[] {
  const errs: FieldCause[] = []
  const type = str(spec.type) || 'ClusterIP'
  if (!types.includes(type)) errs.push(notSupported('spec.type', spec.type, types))
  const headless = str(spec.clusterIP) === 'None'
  if (arr(spec.ports).length === 0 && !headless && type !== 'ExternalName') errs.push(required('spec.ports'))
  if (type === 'ExternalName') {
    const name = str(spec.externalName)
    if (!name) errs.push(required('spec.externalName'))
    else errs.push(...each('spec.externalName', name, isDNS1123Subdomain(name.replace(/\.$/, ''))))
  }
  errs.push(...validatePorts(spec, type))
  errs.push(...validateClusterIPs(spec, type))
  errs.push(...validateLabels(spec.selector, 'spec.selector'))
  const affinity = spec.sessionAffinity
  if (affinity !== undefined && !affinities.includes(str(affinity))) errs.push(notSupported('spec.sessionAffinity', affinity, affinities))
  if (affinity === 'ClientIP') {
    const timeout = num(obj(obj(spec.sessionAffinityConfig).clientIP).timeoutSeconds)
    if (timeout !== undefined && (timeout <= 0 || timeout > 86400))
      errs.push(invalid('spec.sessionAffinityConfig.clientIP.timeoutSeconds', timeout, 'must be greater than 0 and less than 86400'))
  } else if (spec.sessionAffinityConfig !== undefined && spec.sessionAffinityConfig !== null) {
    errs.push(forbidden('spec.sessionAffinityConfig', `must not be set when session affinity is ${str(affinity) || 'None'}`))
  }
  const etp = spec.externalTrafficPolicy
  if (etp !== undefined && etp !== '') {
    if (type !== 'NodePort' && type !== 'LoadBalancer')
      errs.push(invalid('spec.externalTrafficPolicy', etp, "may only be set when `type` is 'NodePort' or 'LoadBalancer'"))
    else if (!trafficPolicies.includes(str(etp))) errs.push(notSupported('spec.externalTrafficPolicy', etp, trafficPolicies))
  }
  const itp = spec.internalTrafficPolicy
  if (itp !== undefined && itp !== '' && !trafficPolicies.includes(str(itp))) errs.push(notSupported('spec.internalTrafficPolicy', itp, trafficPolicies))
  const hc = num(spec.healthCheckNodePort)
  if (hc !== undefined && hc !== 0) {
    if (type !== 'LoadBalancer' || etp !== 'Local')
      errs.push(invalid('spec.healthCheckNodePort', hc, 'may only be set when `type` is \'LoadBalancer\' and `externalTrafficPolicy` is \'Local\''))
    else errs.push(...each('spec.healthCheckNodePort', hc, isValidPortNum(hc)))
  }
  arr(spec.externalIPs).forEach((ip, i) => errs.push(...validateExternalIP(`spec.externalIPs[${i}]`, ip)))
  errs.push(...validateSourceRanges(spec, meta, type))
  if (type !== 'LoadBalancer' && spec.loadBalancerClass !== undefined && spec.loadBalancerClass !== null)
    errs.push(forbidden('spec.loadBalancerClass', 'may only be used when `type` is \'LoadBalancer\''))
  return errs
}

export function validateServiceUpdate(spec: Obj, old: Obj): FieldCause[] {
  const type = str(spec.type) || 'ClusterIP'
  const oldType = str(old.type) || 'ClusterIP'
  if (type === 'ExternalName' || oldType === 'ExternalName') return []
  const oldIPs = arr(old.clusterIPs).map(str)
  const oldPrimary = oldIPs[0] ?? str(old.clusterIP)
  const ips = arr(spec.clusterIPs).map(str)
  const primary = ips[0] ?? str(spec.clusterIP)
  // An update that leaves the cluster IP out keeps the allocated one, as the upstream strategy does.
  if (!oldPrimary || !primary) return []
  if (primary !== oldPrimary) return [invalid('spec.clusterIPs[0]', ips.length ? ips : [primary], 'may not change once set')]
  if (ips.length > 1 && oldIPs.length > 1 && ips[1] !== oldIPs[1]) return [invalid('spec.clusterIPs[1]', ips, 'may not change once set')]
  return []
}


/** Kubernetes' ValidateLoadBalancerStatus (what a status update of a Service is checked for). */
export function validateServiceStatus(status: Obj, spec: Obj): FieldCause[] {
  const errs: FieldCause[] = []
  const ingress = arr(obj(obj(status).loadBalancer).ingress)
  const path = 'status.loadBalancer.ingress'
  if ((str(spec.type) || 'ClusterIP') !== 'LoadBalancer' && ingress.length > 0) {
    return [forbidden(path, "may only be used when `spec.type` is 'LoadBalancer'")]
  }
  ingress.forEach((x, i) => {
    const ing = obj(x)
    const p = `${path}[${i}]`
    const ip = str(ing.ip)
    if (ip) errs.push(...each(`${p}.ip`, ip, isValidIP(ip)))
    const mode = ing.ipMode
    if (mode === undefined || mode === null) {
      if (ip) errs.push(required(`${p}.ipMode`, 'must be specified when `ip` is set'))
    } else if (!ip) errs.push(forbidden(`${p}.ipMode`, 'may not be specified when `ip` is not set'))
    else if (!ipModes.includes(str(mode))) errs.push(notSupported(`${p}.ipMode`, mode, ipModes))
    const hostname = str(ing.hostname)
    if (hostname) {
      errs.push(...each(`${p}.hostname`, hostname, isDNS1123Subdomain(hostname)))
      if (parseIP(hostname, 'sloppy')) errs.push(invalid(`${p}.hostname`, hostname, 'must be a DNS name, not an IP address'))
    }
  })
  return errs
}
