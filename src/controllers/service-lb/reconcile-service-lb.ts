// weft's own load balancer: LoadBalancer services (no class, or weft's class) get an
// address from a pool into status.loadBalancer.ingress. Who holds which address is read
// back from every service's status, so deleting a service frees its address.
import { isIPv4, isIPv6 } from 'node:net'
import type { V1Service } from '@kubernetes/client-node'
import type { Action } from '../actions.ts'
import { resources, type ResourceInfo } from '../../api/registry.ts'
import { firstFree, parsePool, poolContains, type IpRange } from './ip-pool.ts'
import { claimAction, releaseAction, type Claim } from '../claims.ts'

export const LB_CLASS = 'weft.dev/lb'
export const LB_CLEANUP_FINALIZER = 'service.kubernetes.io/load-balancer-cleanup'

const serviceInfo = resources.find((r) => r.kind === 'Service') as ResourceInfo

export function wantsWeftLoadBalancer(service: V1Service): boolean {
  const cls = service.spec?.loadBalancerClass
  return service.spec?.type === 'LoadBalancer' && (!cls || cls === LB_CLASS)
}

function ingressIps(service: V1Service): string[] {
  return (service.status?.loadBalancer?.ingress ?? []).flatMap((i) => (i.ip ? [i.ip] : []))
}

function sameService(a: V1Service, b: V1Service): boolean {
  if (a.metadata?.uid && b.metadata?.uid) return a.metadata.uid === b.metadata.uid
  return a.metadata?.namespace === b.metadata?.namespace && a.metadata?.name === b.metadata?.name
}

function familiesOf(service: V1Service): (4 | 6)[] {
  const declared = service.spec?.ipFamilies ?? []
  if (declared.length) return declared.map((f) => (f === 'IPv6' ? 6 : 4))
  const clusterIP = service.spec?.clusterIP
  return [clusterIP && isIPv6(clusterIP) ? 6 : 4]
}

/**
 * `claims` are the `lb-ip` claims (address → the holding Service's uid): an address goes
 * to a Service only through a claim created first, so two controllers can never give one
 * address to two Services, whatever their caches say; a Service's claims go with its address.
 */
export function reconcileServiceLB(service: V1Service | undefined, allServices: V1Service[], pool: string[] | IpRange[], _now?: Date, claims: ReadonlyMap<string, Claim> = new Map()): Action[] {
  if (!service?.metadata?.name) return []
  const uid = service.metadata.uid
  const ns = service.metadata.namespace ?? 'default'
  const name = service.metadata.name
  const hasFinalizer = (service.metadata.finalizers ?? []).includes(LB_CLEANUP_FINALIZER)
  const current = ingressIps(service)
  const actions: Action[] = []

  const releasing = service.metadata.deletionTimestamp !== undefined || !wantsWeftLoadBalancer(service)
  if (releasing) {
    // Another class's load balancer is not ours to touch.
    const ours = hasFinalizer || service.spec?.type !== 'LoadBalancer'
    if (ours && (service.status?.loadBalancer?.ingress ?? []).length) {
      actions.push({ verb: 'patch', info: serviceInfo, namespace: ns, name, type: 'merge', subresource: 'status', patch: { status: { loadBalancer: { ingress: null } } } })
    }
    for (const claim of claims.values()) if (uid && claim.holder === uid) actions.push(releaseAction(claim))
    if (hasFinalizer) actions.push(removeFinalizer(ns, name))
    return actions
  }

  const ranges: IpRange[] = typeof pool[0] === 'string' ? parsePool(pool as string[]) : (pool as IpRange[])
  const held = new Set<string>()
  for (const other of allServices) {
    if (sameService(other, service)) continue
    for (const ip of ingressIps(other)) held.add(ip)
  }
  // A claim holds its address while its Service exists; one whose Service is gone is released.
  const uids = new Set(allServices.map((s) => s.metadata?.uid))
  for (const [ip, claim] of claims) {
    if (claim.holder === uid) continue
    if (uids.has(claim.holder)) held.add(ip)
    else actions.push(releaseAction(claim))
  }
  const requested = service.spec?.loadBalancerIP || undefined
  const chosen: string[] = []
  for (const family of familiesOf(service)) {
    const ofFamily = (ip: string): boolean => (family === 4 ? isIPv4(ip) : isIPv6(ip))
    const usable = (ip: string): boolean => poolContains(ranges, ip) && !held.has(ip)
    let ip: string | undefined
    if (requested && ofFamily(requested)) {
      if (usable(requested)) ip = requested
      else {
        const holder = allServices.find((s) => !sameService(s, service) && ingressIps(s).includes(requested))
        const why = holder ? `it is in use by ${holder.metadata?.namespace}/${holder.metadata?.name}` : 'it is not in the pool'
        actions.push(event(service, 'Warning', 'AllocationFailed', `Failed to allocate IP for "${ns}/${name}": requested loadBalancerIP ${requested} is not available: ${why}`))
        continue
      }
    } else {
      ip = current.find((c) => ofFamily(c) && usable(c)) ?? firstFree(ranges, family, new Set([...held, ...chosen]))
    }
    if (!ip) {
      actions.push(event(service, 'Warning', 'AllocationFailed', `Failed to allocate IP for "${ns}/${name}": no available IPs in pool`))
      continue
    }
    chosen.push(ip)
  }

  const unchanged = chosen.length === current.length && chosen.every((ip, i) => ip === current[i]) &&
    (service.status?.loadBalancer?.ingress ?? []).every((i) => i.ipMode === 'VIP')
  if (chosen.length && !hasFinalizer) {
    // The finalizer goes on first, so the address is always released before the object goes.
    actions.unshift({ verb: 'patch', info: serviceInfo, namespace: ns, name, type: 'strategic', patch: { metadata: { finalizers: [LB_CLEANUP_FINALIZER] } } })
  }
  // Every address it keeps is claimed first (an address from before claims gets one too).
  if (uid) for (const ip of chosen) if (claims.get(ip)?.holder !== uid) actions.push(claimAction('lb-ip', ip, uid))
  if (!unchanged) {
    const ingress = chosen.length ? chosen.map((ip) => ({ ip, ipMode: 'VIP' })) : null
    actions.push({ verb: 'patch', info: serviceInfo, namespace: ns, name, type: 'merge', subresource: 'status', patch: { status: { loadBalancer: { ingress } } } })
    if (chosen.length) actions.push(event(service, 'Normal', 'IPAllocated', `Assigned IP ${JSON.stringify(chosen)}`))
  }
  if (!chosen.length && hasFinalizer) actions.push(removeFinalizer(ns, name))
  return actions
}

function removeFinalizer(namespace: string, name: string): Action {
  return { verb: 'patch', info: serviceInfo, namespace, name, type: 'strategic', patch: { metadata: { [`$deleteFromPrimitiveList/finalizers`]: [LB_CLEANUP_FINALIZER] } } }
}

function event(service: V1Service, type: 'Normal' | 'Warning', reason: string, message: string): Action {
  return { verb: 'event', event: { involved: service, type, reason, message } }
}
