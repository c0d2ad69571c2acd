// networking.k8s.io/v1 NetworkPolicy, as upstream's ValidateNetworkPolicy and
// ValidateNetworkPolicyUpdate (pkg/apis/networking/validation): the pod selector, each rule's
// ports and peers, ipBlock CIDRs and their exceptions, policyTypes. The whole spec may change
// on an update; CIDRs the stored policy already holds are taken without being checked again,
// as upstream's AllowCIDRsEvenIfInvalid does, so a stricter parser never blocks an edit.
//
// CIDRs are checked with names.ts's isValidCIDR, the check every other legacy CIDR field in
// weft gets (upstream's IsValidCIDRForLegacyField message; host bits allowed, leading zeros and
// IPv4-mapped IPv6 refused). policyTypes has no duplicate check upstream: only more than two
// entries, or one that is neither Ingress nor Egress, is refused.
import { isValidCIDR, isValidPortName, isValidPortNum } from '../names.ts'
import { parseCIDR } from '../../util/ip-parse.ts'
import type { FieldCause, Obj } from './field.ts'
import { arr, each, invalid, isObj, notSupported, obj, required, forbidden } from './field.ts'
import { validateLabelSelector } from './meta.ts'

export const NETWORK_POLICY_PROTOCOLS = ['TCP', 'UDP', 'SCTP']
export const POLICY_TYPES = ['Ingress', 'Egress']

const present = (v: unknown): boolean => v !== undefined && v !== null

/** ValidateNetworkPolicyPort. */
export function validateNetworkPolicyPort(port: Obj, path: string): FieldCause[] {
  const errs: FieldCause[] = []
  if (present(port.protocol) && !NETWORK_POLICY_PROTOCOLS.includes(port.protocol as string)) {
    errs.push(notSupported(`${path}.protocol`, port.protocol, NETWORK_POLICY_PROTOCOLS))
  }
  const endPort = port.endPort
  if (present(port.port)) {
    if (typeof port.port === 'number') {
      errs.push(...each(`${path}.port`, port.port, isValidPortNum(port.port)))
      if (present(endPort)) {
        if (typeof endPort === 'number' && endPort < port.port) errs.push(invalid(`${path}.endPort`, endPort, 'must be greater than or equal to `port`'))
        errs.push(...each(`${path}.endPort`, endPort, isValidPortNum(typeof endPort === 'number' ? endPort : NaN)))
      }
    } else {
      if (present(endPort)) errs.push(invalid(`${path}.endPort`, endPort, 'may not be specified when `port` is non-numeric'))
      const name = String(port.port)
      errs.push(...each(`${path}.port`, name, isValidPortName(name)))
    }
  } else if (present(endPort)) {
    errs.push(invalid(`${path}.endPort`, endPort, 'may not be specified when `port` is not specified'))
  }
  return errs
}

/** ValidateIPBlock: `cidr` required and a CIDR; each `except` a CIDR strictly inside it. */
export function validateIPBlock(block: Obj, path: string, allowed: ReadonlySet<string>): FieldCause[] {
  const cidr = typeof block.cidr === 'string' ? block.cidr : ''
  if (cidr === '') return [required(`${path}.cidr`)]
  const check = (field: string, value: string): FieldCause[] => (allowed.has(value) ? [] : each(field, value, isValidCIDR(value)))
  const errs = check(`${path}.cidr`, cidr)
  const outer = parseCIDR(cidr, 'sloppy')
  if (!outer) return errs
  arr(block.except).forEach((e, i) => {
    const field = `${path}.except[${i}]`
    const text = typeof e === 'string' ? e : ''
    errs.push(...check(field, text))
    const inner = parseCIDR(text, 'sloppy')
    if (!inner) return
    // Go's IPNet.Contains(except's network address) and a longer prefix; another family is never inside.
    const inside = inner.family === outer.family && inner.base >> BigInt((outer.family === 4 ? 32 : 128) - outer.prefix) === outer.base >> BigInt((outer.family === 4 ? 32 : 128) - outer.prefix)
    if (!inside || outer.prefix >= inner.prefix) errs.push(invalid(field, text, 'must be a strict subset of `cidr`'))
  })
  return errs
}

/** ValidateNetworkPolicyPeer: one or more of podSelector and namespaceSelector, or ipBlock alone. */
export function validateNetworkPolicyPeer(peer: Obj, path: string, allowed: ReadonlySet<string>): FieldCause[] {
  const errs: FieldCause[] = []
  let count = 0
  if (present(peer.podSelector)) {
    count++
    errs.push(...validateLabelSelector(peer.podSelector, `${path}.podSelector`))
  }
  if (present(peer.namespaceSelector)) {
    count++
    errs.push(...validateLabelSelector(peer.namespaceSelector, `${path}.namespaceSelector`))
  }
  if (present(peer.ipBlock)) {
    count++
    errs.push(...validateIPBlock(obj(peer.ipBlock), `${path}.ipBlock`, allowed))
  }
  if (count === 0) errs.push(required(path, 'must specify a peer'))
  else if (count > 1 && present(peer.ipBlock)) errs.push(forbidden(path, 'may not specify both ipBlock and another peer'))
  return errs
}

/** Go's `%#v` of a []networking.PolicyType, as the "more than two" message shows it. */
function showPolicyTypes(types: unknown[]): string {
  return `[]networking.PolicyType{${types.map((t) => JSON.stringify(String(t))).join(', ')}}`
}

/** ValidateNetworkPolicySpec. */
export function validateNetworkPolicySpec(spec: Obj, allowed: ReadonlySet<string> = new Set()): FieldCause[] {
  const errs = validateLabelSelector(spec.podSelector, 'spec.podSelector')
  const rules = (key: 'ingress' | 'egress', peers: 'from' | 'to') =>
    arr(spec[key]).forEach((r, i) => {
      const rule = obj(r)
      const path = `spec.${key}[${i}]`
      arr(rule.ports).forEach((p, j) => errs.push(...validateNetworkPolicyPort(obj(p), `${path}.ports[${j}]`)))
      arr(rule[peers]).forEach((p, j) => errs.push(...validateNetworkPolicyPeer(obj(p), `${path}.${peers}[${j}]`, allowed)))
    })
  rules('ingress', 'from')
  rules('egress', 'to')
  const types = arr(spec.policyTypes)
  if (types.length > POLICY_TYPES.length) {
    errs.push({ reason: 'FieldValueInvalid', message: `Invalid value: ${showPolicyTypes(types)}: may not specify more than two policyTypes`, field: 'spec.policyTypes' })
    return errs
  }
  types.forEach((t, i) => {
    if (!POLICY_TYPES.includes(t as string)) errs.push(notSupported(`spec.policyTypes[${i}]`, t, POLICY_TYPES))
  })
  return errs
}

/** Every CIDR in a stored policy's ipBlocks (cidr and except), which an update may keep unchecked. */
function storedCIDRs(old: Obj): Set<string> {
  const out = new Set<string>()
  const spec = obj(old.spec)
  for (const [key, peers] of [['ingress', 'from'], ['egress', 'to']] as const) {
    for (const rule of arr(spec[key])) {
      for (const peer of arr(obj(rule)[peers])) {
        const block = obj(peer).ipBlock
        if (!isObj(block)) continue
        if (typeof block.cidr === 'string') out.add(block.cidr)
        for (const e of arr(block.except)) if (typeof e === 'string') out.add(e)
      }
    }
  }
  return out
}

/** ValidateNetworkPolicy (create) or ValidateNetworkPolicyUpdate (`old` given); metadata is checked by the caller. */
export function validateNetworkPolicy(np: Obj, old?: Obj): FieldCause[] {
  return validateNetworkPolicySpec(obj(np.spec), old ? storedCIDRs(old) : new Set())
}
