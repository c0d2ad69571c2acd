// The node authorizer (upstream plugin/pkg/auth/authorizer/node/node_authorizer.go, with the
// AuthorizeNodeWithSelectors behaviour): a node may read the secrets, configmaps, claims and
// service-account tokens its pods need, its own Node and Lease, its pods, and what the static
// node rules list. Everything it does not allow is noOpinion, so RBAC has the last word; callers
// other than nodes always get noOpinion.
//
// What weft's agent asks for under the node's identity, and what answers it:
//   kubelet  pods list/watch spec.nodeName=<self> · pods/status patch          → authorizePod
//            secrets, configmaps get (pod-objects.ts)                           → the graph
//            nodes get/create, nodes/status patch (node-registration.ts)        → authorizeNode
//            leases patch (apply) in kube-node-lease                            → authorizeLease
//            serviceaccounts/token create (projected tokens)                    → the graph
//            nodes list/watch, all of them (agent.ts, routes)                   → RBAC: weft:node-proxier
//   proxy    services list/watch · events create                                → the static rules
//            endpointslices list/watch                                          → the static rules (weft's addition)
//            nodes list/watch metadata.name=<self>                              → authorizeNode
//   netpol   networkpolicies, pods, namespaces list/watch, all of them          → RBAC: weft:network-policy-agent
//            (an unscoped pod list is noOpinion here, so that role answers it)
//   CSRs     certificatesigningrequests create/get/list/watch (rotation)        → the static rules
//   storage  persistentvolumeclaims get, persistentvolumes get (pod volumes)   → the graph
//            persistentvolumes list/watch with labelSelector
//              weft.dev/local-path-node=<self> · update/patch of those         → authorizeVolume (weft's
//              local-path cleanup; NodeRestriction allows only its finalizer to go)
import type { V1PolicyRule } from '@kubernetes/client-node'
import { parseFieldSelector, type FieldRequirement } from '../../api/field-selectors.ts'
import { parseLabelSelector, requiresExactMatch } from '../../api/selectors.ts'
import { LOCAL_PATH_NODE_LABEL } from '../../api/storage.ts'
import { resources } from '../../api/registry.ts'
import { nodeRules } from '../policy/cluster-roles.ts'
import { rule } from '../policy/rbac-objects.ts'
import type { Attributes, Authorizer, Decision, ResourceAttributes } from '../types.ts'
import type { NodeGraph, NodeObjectKind } from './node-graph.ts'
import { nodeIdentity } from './node-identity.ts'
import { parsePolicyRules } from '../rbac/objects.ts'
import { rulesAllow, type PolicyRule } from '../rbac/rules.ts'

export const NODE_LEASE_NAMESPACE = 'kube-node-lease'

export interface NodeAuthorizeOptions {
  /** The request's `?fieldSelector=`, as sent: list/watch of pods is allowed with `spec.nodeName=<self>`. */
  fieldSelector?: string
  /** The request's `?labelSelector=`: list/watch of local-path volumes is allowed with `weft.dev/local-path-node=<self>`. */
  labelSelector?: string
}

/** Upstream's NodeRules() plus the EndpointSlice reads weft's in-process proxy makes. */
export function weftNodeRules(): V1PolicyRule[] {
  return [...nodeRules(), rule(['list', 'watch'], ['discovery.k8s.io'], ['endpointslices'])]
}

const allow: Decision = { decision: 'allow', reason: '' }
const noOpinion = (reason: string): Decision => ({ decision: 'noOpinion', reason })
const noRelationship = (nodeName: string) => noOpinion(`no relationship found between node '${nodeName}' and this object`)

/** Kinds the graph may relate to a node. Upstream also relates VolumeAttachments and ResourceClaims; weft tracks neither, so a node reads none. */
type GraphKind = NodeObjectKind | 'untracked'

export class NodeAuthorizer implements Authorizer {
  readonly #graph: NodeGraph
  readonly #rules: readonly PolicyRule[]

  constructor(graph: NodeGraph, rules: readonly V1PolicyRule[] = weftNodeRules()) {
    this.#graph = graph
    this.#rules = parsePolicyRules(rules)
  }

  authorize(attrs: Attributes, options: NodeAuthorizeOptions = {}): Decision {
    const { isNode, nodeName } = nodeIdentity(attrs.user)
    if (!isNode) return noOpinion('')
    if (nodeName === '') return noOpinion(`unknown node for user ${JSON.stringify(attrs.user.username)}`)
    if (!attrs.resourceRequest) return noOpinion('')
    const selector = fieldRequirements(attrs, options.fieldSelector)
    const a = withSelectedName(attrs, selector)
    switch (`${a.apiGroup}/${a.resource}`) {
      case '/secrets':
        return this.#readNamespaced(nodeName, 'secret', a)
      case '/configmaps':
        return this.#readNamespaced(nodeName, 'configmap', a)
      case '/persistentvolumeclaims':
        return a.subresource === 'status' ? this.#statusUpdate(nodeName, 'persistentvolumeclaim', a) : this.#get(nodeName, 'persistentvolumeclaim', a)
      case '/persistentvolumes':
        return this.#volume(nodeName, a, options.labelSelector)
      case 'storage.k8s.io/volumeattachments':
      case 'resource.k8s.io/resourceclaims':
        return this.#get(nodeName, 'untracked', a)
      case '/serviceaccounts':
        return this.#createToken(nodeName, a)
      case 'coordination.k8s.io/leases':
        return this.#lease(nodeName, a)
      case 'storage.k8s.io/csinodes':
        return this.#csiNode(nodeName, a)
      case '/nodes':
        return this.#node(nodeName, a)
      case '/pods':
        return this.#pod(nodeName, a, selector)
    }
    return rulesAllow(a, this.#rules) ? allow : noOpinion('')
  }

  #related(nodeName: string, kind: GraphKind, a: ResourceAttributes): Decision {
    if (a.name === '') return noOpinion('No Object name found')
    if (kind === 'untracked' || !this.#graph.mayRead(nodeName, kind, a.namespace, a.name)) return noRelationship(nodeName)
    return allow
  }

  #readNamespaced(nodeName: string, kind: NodeObjectKind, a: ResourceAttributes): Decision {
    if (a.verb !== 'get' && a.verb !== 'list' && a.verb !== 'watch') return noOpinion('can only read resources of this type')
    if (a.subresource !== '') return noOpinion('cannot read subresource')
    if (a.namespace === '') return noOpinion('can only read namespaced object of this type')
    return this.#related(nodeName, kind, a)
  }

  #get(nodeName: string, kind: GraphKind, a: ResourceAttributes): Decision {
    if (a.verb !== 'get') return noOpinion('can only get individual resources of this type')
    if (a.subresource !== '') return noOpinion('cannot get subresource')
    return this.#related(nodeName, kind, a)
  }

  #statusUpdate(nodeName: string, kind: GraphKind, a: ResourceAttributes): Decision {
    if (a.verb !== 'update' && a.verb !== 'patch') return noOpinion('can only get/update/patch this type')
    if (a.subresource !== 'status') return noOpinion('can only update status subresource')
    return this.#related(nodeName, kind, a)
  }

  #volume(nodeName: string, a: ResourceAttributes, labelSelector: string | undefined): Decision {
    if (a.subresource !== '') return noOpinion('cannot get subresource')
    if (a.verb === 'get') {
      if (a.name === '') return noOpinion('No Object name found')
      return this.#graph.mayReadVolume(nodeName, a.name) ? allow : noRelationship(nodeName)
    }
    if (a.verb === 'list' || a.verb === 'watch') {
      if (a.name === '' && localPathSelector(labelSelector) === nodeName) return allow
      return noOpinion(`can only list/watch persistentvolumes with the ${LOCAL_PATH_NODE_LABEL}=${nodeName} label selector`)
    }
    if (a.verb === 'update' || a.verb === 'patch') return a.name !== '' && this.#graph.localVolumeNode(a.name) === nodeName ? allow : noRelationship(nodeName)
    return noOpinion('can only get, list, watch, update or patch persistentvolumes')
  }

  #createToken(nodeName: string, a: ResourceAttributes): Decision {
    if (a.verb !== 'create' || a.name === '') return noOpinion('can only create tokens for individual service accounts')
    if (a.subresource !== 'token') return noOpinion('can only create token subresource of serviceaccount')
    return this.#graph.mayRead(nodeName, 'serviceaccount', a.namespace, a.name) ? allow : noRelationship(nodeName)
  }

  #lease(nodeName: string, a: ResourceAttributes): Decision {
    if (!['get', 'create', 'update', 'patch', 'delete'].includes(a.verb)) return noOpinion('can only get, create, update, patch, or delete a node lease')
    if (a.namespace !== NODE_LEASE_NAMESPACE) return noOpinion(`can only access leases in the ${JSON.stringify(NODE_LEASE_NAMESPACE)} system namespace`)
    // On create the name is in the body: NodeRestriction checks it.
    if (a.verb !== 'create' && a.name !== nodeName) return noOpinion('can only access node lease with the same name as the requesting node')
    return allow
  }

  #csiNode(nodeName: string, a: ResourceAttributes): Decision {
    if (!['get', 'create', 'update', 'patch', 'delete'].includes(a.verb)) return noOpinion('can only get, create, update, patch, or delete a CSINode')
    if (a.subresource !== '') return noOpinion('cannot authorize CSINode subresources')
    if (a.verb !== 'create' && a.name !== nodeName) return noOpinion('can only access CSINode with the same name as the requesting node')
    return allow
  }

  #node(nodeName: string, a: ResourceAttributes): Decision {
    if (a.subresource === '') {
      // NodeRestriction limits create/update/patch to the node's own object.
      if (a.verb === 'create' || a.verb === 'update' || a.verb === 'patch') return allow
      if (a.verb === 'get' || a.verb === 'list' || a.verb === 'watch') {
        if (a.name === nodeName) return allow
        if (a.name === '') return noOpinion(`node '${nodeName}' cannot read all nodes, only its own Node object`)
        return noOpinion(`node '${nodeName}' cannot read '${a.name}', only its own Node object`)
      }
    } else if (a.subresource === 'status' && (a.verb === 'update' || a.verb === 'patch')) {
      return allow
    }
    return noOpinion('')
  }

  #pod(nodeName: string, a: ResourceAttributes, selector: FieldRequirement[]): Decision {
    switch (a.subresource) {
      case '':
        if (a.verb === 'get') return this.#graph.hasPod(nodeName, a.namespace, a.name) ? allow : a.name === '' ? noOpinion('No Object name found') : noRelationship(nodeName)
        if (a.verb === 'list' || a.verb === 'watch') {
          if (selector.some((r) => r.field === 'spec.nodeName' && r.operator === 'Equals' && r.value === nodeName)) return allow
          if (a.name !== '') return this.#graph.hasPod(nodeName, a.namespace, a.name) ? allow : noRelationship(nodeName)
          return noOpinion('can only list/watch pods with spec.nodeName field selector')
        }
        // Mirror pods: NodeRestriction refuses them in weft, which has no static pods.
        if (a.verb === 'create' || a.verb === 'delete') return allow
        break
      case 'status':
        if (a.verb === 'update' || a.verb === 'patch') return allow
        break
      case 'eviction':
        if (a.verb === 'create') return allow
        break
    }
    return noOpinion('')
  }
}

/** The node a label selector pins with `weft.dev/local-path-node=<node>`, if it does (and parses). */
function localPathSelector(text: string | undefined): string | undefined {
  if (!text) return undefined
  try {
    return requiresExactMatch(parseLabelSelector(text), LOCAL_PATH_NODE_LABEL)
  } catch {
    return undefined
  }
}

/** The request's field selector as the API server will apply it; none when it would refuse it. */
function fieldRequirements(a: ResourceAttributes, text: string | undefined): FieldRequirement[] {
  if (!text || (a.verb !== 'list' && a.verb !== 'watch')) return []
  const info = resources.find((r) => r.group === a.apiGroup && r.plural === a.resource)
  if (!info) return []
  try {
    return parseFieldSelector(text, info).requirements
  } catch {
    return []
  }
}

/** A list/watch pinned to one name by `metadata.name=` addresses that object, as upstream's RequestInfo makes it. */
function withSelectedName(a: ResourceAttributes, selector: FieldRequirement[]): ResourceAttributes {
  if (a.name !== '' || (a.verb !== 'list' && a.verb !== 'watch')) return a
  const name = selector.find((r) => r.field === 'metadata.name' && r.operator === 'Equals')?.value
  return name ? { ...a, name } : a
}
