// Admission for Services: cluster IPs and NodePorts are allocated on create, kept or
// changed on update, and released on delete, as Kubernetes' service REST storage does.
import { AllocationError, type NodePortAllocator, type ServiceIPAllocator } from './allocator.ts'
import type { KObject } from './objects.ts'
import { invalid } from '../util/errors.ts'

type Obj = Record<string, any>

export interface AllocationPlan {
  /** Values this request claimed: released if the write fails. */
  claimedIPs: string[]
  claimedPorts: number[]
  /** Values the old object held that the new one no longer does: released once the write succeeded. */
  freedIPs: string[]
  freedPorts: number[]
}

function ownerOf(svc: KObject): string {
  return `${svc.metadata.namespace}/${svc.metadata.name}`
}

function needsClusterIP(spec: Obj): boolean {
  return spec.type !== 'ExternalName' && spec.clusterIP !== 'None'
}

function needsNodePorts(spec: Obj): boolean {
  return spec.type === 'NodePort' || (spec.type === 'LoadBalancer' && spec.allocateLoadBalancerNodePorts !== false)
}

function usedNodePorts(spec: Obj): number[] {
  const ports: number[] = []
  for (const p of spec.ports ?? []) if (typeof p.nodePort === 'number' && p.nodePort > 0) ports.push(p.nodePort)
  if (typeof spec.healthCheckNodePort === 'number' && spec.healthCheckNodePort > 0) ports.push(spec.healthCheckNodePort)
  return ports
}

function usedIPs(spec: Obj): string[] {
  const ips: string[] = Array.isArray(spec.clusterIPs) ? spec.clusterIPs : spec.clusterIP ? [spec.clusterIP] : []
  return ips.filter((ip) => ip && ip !== 'None')
}

export class ServiceAllocation {
  readonly ips: ServiceIPAllocator
  readonly ports: NodePortAllocator

  constructor(ips: ServiceIPAllocator, ports: NodePortAllocator) {
    this.ips = ips
    this.ports = ports
  }

  /** Fills ipFamilies, ipFamilyPolicy, clusterIP(s) and nodePorts; claims what it allocates. */
  async admit(svc: KObject, old: KObject | undefined): Promise<AllocationPlan> {
    const plan: AllocationPlan = { claimedIPs: [], claimedPorts: [], freedIPs: [], freedPorts: [] }
    try {
      await this.admitInto(svc, old, plan)
    } catch (err) {
      await this.rollback(svc, plan)
      if (err instanceof AllocationError) {
        throw invalid('Service', '', svc.metadata.name, [
          { reason: 'FieldValueInvalid', field: err.field, message: `Invalid value: "${err.value}": ${err.message}` },
        ])
      }
      throw err
    }
    return plan
  }

  private async admitInto(svc: KObject, old: KObject | undefined, plan: AllocationPlan): Promise<void> {
    const spec: Obj = svc.spec
    const oldSpec: Obj | undefined = old?.spec
    const owner = ownerOf(svc)
    // Like patchAllocatedValues upstream: an update that leaves allocated values out keeps them.
    if (oldSpec && needsClusterIP(oldSpec) && needsClusterIP(spec) && !spec.clusterIP && !spec.clusterIPs) {
      spec.clusterIP = oldSpec.clusterIP
      spec.clusterIPs = oldSpec.clusterIPs
    }
    if (oldSpec && needsNodePorts(spec)) {
      for (const p of spec.ports ?? []) {
        if (p.nodePort) continue
        const match = (oldSpec.ports ?? []).find((o: Obj) => o.port === p.port && (o.protocol ?? 'TCP') === (p.protocol ?? 'TCP'))
        if (match?.nodePort) p.nodePort = match.nodePort
      }
      if (!spec.healthCheckNodePort && oldSpec.healthCheckNodePort) spec.healthCheckNodePort = oldSpec.healthCheckNodePort
    }

    if (needsClusterIP(spec)) {
      this.defaultFamilies(spec)
      const wanted: string[] = usedIPs(spec)
      const families: (4 | 6)[] = spec.ipFamilies.map((f: string) => (f === 'IPv6' ? 6 : 4))
      const result: string[] = []
      const oldIPs = oldSpec ? usedIPs(oldSpec) : []
      for (let i = 0; i < families.length; i++) {
        const requested = wanted[i]
        if (requested && oldIPs.includes(requested)) {
          result.push(requested)
          continue
        }
        const field = i === 0 ? 'spec.clusterIP' : `spec.clusterIPs[${i}]`
        const ip = await this.ips.allocate(families[i], owner, field, requested)
        // Only what this request newly claimed may be given back if it fails.
        if (ip.fresh) plan.claimedIPs.push(ip.value)
        result.push(ip.value)
      }
      spec.clusterIP = result[0]
      spec.clusterIPs = result
    } else if (spec.type === 'ExternalName') {
      delete spec.clusterIP
      delete spec.clusterIPs
      delete spec.ipFamilies
      delete spec.ipFamilyPolicy
    } else {
      // Headless.
      spec.clusterIPs = ['None']
      this.defaultFamilies(spec)
    }

    if (needsNodePorts(spec)) {
      const oldPorts = oldSpec ? usedNodePorts(oldSpec) : []
      const seen = new Set<string>()
      for (let i = 0; i < (spec.ports ?? []).length; i++) {
        const p = spec.ports[i]
        const field = `spec.ports[${i}].nodePort`
        if (p.nodePort && (oldPorts.includes(p.nodePort) || seen.has(`${p.nodePort}/${p.protocol}`))) {
          seen.add(`${p.nodePort}/${p.protocol}`)
          continue
        }
        const port = await this.ports.allocate(owner, field, p.nodePort || undefined)
        if (port.fresh) plan.claimedPorts.push(port.value)
        p.nodePort = port.value
        seen.add(`${port.value}/${p.protocol}`)
      }
    } else {
      for (const p of spec.ports ?? []) delete p.nodePort
    }
    const wantsHealthCheck = spec.type === 'LoadBalancer' && spec.externalTrafficPolicy === 'Local'
    if (wantsHealthCheck) {
      if (!spec.healthCheckNodePort || !(oldSpec && usedNodePorts(oldSpec).includes(spec.healthCheckNodePort))) {
        const port = await this.ports.allocate(owner, 'spec.healthCheckNodePort', spec.healthCheckNodePort || undefined)
        if (port.fresh) plan.claimedPorts.push(port.value)
        spec.healthCheckNodePort = port.value
      }
    } else {
      delete spec.healthCheckNodePort
    }

    if (oldSpec) {
      const nowIPs = new Set(usedIPs(spec))
      const nowPorts = new Set(usedNodePorts(spec))
      plan.freedIPs = usedIPs(oldSpec).filter((ip) => !nowIPs.has(ip))
      plan.freedPorts = usedNodePorts(oldSpec).filter((p) => !nowPorts.has(p))
    }
  }

  private defaultFamilies(spec: Obj): void {
    const cluster = this.ips.families().map((f) => (f === 6 ? 'IPv6' : 'IPv4'))
    if (!spec.ipFamilyPolicy) spec.ipFamilyPolicy = 'SingleStack'
    if (!Array.isArray(spec.ipFamilies) || spec.ipFamilies.length === 0) {
      const fromIPs = usedIPs(spec).map((ip) => (ip.includes(':') ? 'IPv6' : 'IPv4'))
      const first = fromIPs[0] ?? cluster[0]
      spec.ipFamilies = spec.ipFamilyPolicy === 'SingleStack' ? [first] : [first, ...cluster.filter((f) => f !== first)]
    } else if (spec.ipFamilyPolicy !== 'SingleStack' && spec.ipFamilies.length === 1) {
      const other = cluster.find((f) => f !== spec.ipFamilies[0])
      if (other) spec.ipFamilies = [spec.ipFamilies[0], other]
    }
    if (spec.ipFamilyPolicy === 'RequireDualStack' && cluster.length < 2) {
      throw new AllocationError('spec.ipFamilyPolicy', 'RequireDualStack', 'this cluster is not configured for dual-stack services')
    }
    for (const f of spec.ipFamilies) {
      if (!cluster.includes(f)) throw new AllocationError('spec.ipFamilies', f, `${f} is not configured on this cluster`)
    }
  }

  async rollback(svc: KObject, plan: AllocationPlan): Promise<void> {
    const owner = ownerOf(svc)
    for (const ip of plan.claimedIPs) await this.ips.release(ip, owner)
    for (const port of plan.claimedPorts) await this.ports.release(port, owner)
  }

  async commit(svc: KObject, plan: AllocationPlan): Promise<void> {
    const owner = ownerOf(svc)
    for (const ip of plan.freedIPs) await this.ips.release(ip, owner)
    for (const port of plan.freedPorts) await this.ports.release(port, owner)
  }

  async releaseAll(svc: KObject): Promise<void> {
    const owner = ownerOf(svc)
    for (const ip of usedIPs(svc.spec ?? {})) await this.ips.release(ip, owner)
    for (const port of usedNodePorts(svc.spec ?? {})) await this.ports.release(port, owner)
  }
}

/**
 * Kubernetes' dropTypeDependentFields: when an update changes `type`, fields only the
 * old type uses are cleared, unless the update also changed them itself.
 */
export function dropTypeDependentFields(next: KObject, old: KObject): void {
  const spec: Obj = next.spec ?? {}
  const oldSpec: Obj = old.spec ?? {}
  // As upstream: a Service that stops needing a health check (type or externalTrafficPolicy
  // changed) drops the port it had, unless the update set one itself.
  const needsHealthCheck = (s: Obj) => s.type === 'LoadBalancer' && s.externalTrafficPolicy === 'Local'
  if (needsHealthCheck(oldSpec) && !needsHealthCheck(spec) && spec.healthCheckNodePort === oldSpec.healthCheckNodePort) delete spec.healthCheckNodePort
  if (spec.type === oldSpec.type) return
  const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b)
  if (needsClusterIP(oldSpec) && !needsClusterIP(spec) && same(spec.clusterIPs, oldSpec.clusterIPs) && spec.clusterIP === oldSpec.clusterIP) {
    delete spec.clusterIP
    delete spec.clusterIPs
    if (same(spec.ipFamilies, oldSpec.ipFamilies)) delete spec.ipFamilies
    if (spec.ipFamilyPolicy === oldSpec.ipFamilyPolicy) delete spec.ipFamilyPolicy
  }
  if (needsNodePorts(oldSpec) && !needsNodePorts(spec) && same(usedNodePorts({ ports: spec.ports }), usedNodePorts({ ports: oldSpec.ports }))) {
    for (const p of spec.ports ?? []) delete p.nodePort
  }
  const externallyAccessible = (s: Obj) => s.type === 'NodePort' || s.type === 'LoadBalancer'
  if (oldSpec.healthCheckNodePort && spec.type !== 'LoadBalancer' && spec.healthCheckNodePort === oldSpec.healthCheckNodePort) delete spec.healthCheckNodePort
  if (spec.type !== 'LoadBalancer' && spec.allocateLoadBalancerNodePorts === oldSpec.allocateLoadBalancerNodePorts) delete spec.allocateLoadBalancerNodePorts
  if (spec.type !== 'LoadBalancer' && spec.loadBalancerClass === oldSpec.loadBalancerClass) delete spec.loadBalancerClass
  if (!externallyAccessible(spec) && spec.externalTrafficPolicy === oldSpec.externalTrafficPolicy) delete spec.externalTrafficPolicy
}
