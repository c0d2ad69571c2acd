// The default RBAC policy a weft API server ensures at start: upstream's bootstrap roles and
// bindings (see cluster-roles.ts, controller-roles.ts) plus weft's own. Every object carries
// upstream's `kubernetes.io/bootstrapping: rbac-defaults` label and
// `rbac.authorization.kubernetes.io/autoupdate: "true"` annotation, so a reconciler treats weft's
// defaults like upstream's.
//
// weft's decisions, beyond upstream's policy:
// - `weft:kubelet-api-admin` binds system:kubelet-api-admin to user `apiserver-kubelet-client`,
//   the identity the API server presents to kubelets. kubeadm has no such binding (its client
//   certificate is CN kube-apiserver-kubelet-client in an admin group), hence a weft: name.
// - `system:coredns`: kubeadm's CoreDNS ClusterRole and binding, to SA kube-system/coredns
//   (weft's DNS pods run as kubeadm's CoreDNS Deployment is named).
// - `weft:ingress`: the Ingress controller, SA weft-ingress/weft-ingress. Cluster-wide reads of
//   what the route table is built from, status writes on Ingresses, events; a Role in its own
//   namespace for its pods (the status writer reads them) and leases (leader election).
//   No ConfigMaps: the controller reads none.
// - `weft:node-proxier` also binds system:node-proxier to group system:nodes: the agent runs the
//   service proxy in-process under the node's identity.
// - `weft:network-policy-agent`: list/watch of NetworkPolicies, Pods and Namespaces of the whole
//   cluster, bound to group system:nodes, the way weft:node-proxier gives the agent's in-process
//   proxy its reads: the agent enforces NetworkPolicy under the node's identity, and a policy's
//   peers can be any pod in any namespace. Upstream's policy agents get the same reads from a
//   ClusterRole of their own (Calico's calico-node, Cilium's agent, kube-router,
//   kube-network-policies). The trade-off: RBAC cannot say "only for NetworkPolicy", and the
//   agent has no identity but the node's, so every node can list and watch every pod's spec and
//   status (a get of another node's pod stays refused, but a list can name one; its secrets and
//   configmaps stay the node authorizer's to answer). The node authorizer has no opinion on an
//   unscoped pod list, so RBAC decides.
//   Policies hold no secrets (view reads them).
// - kubeadm's join bindings: `kubeadm:kubelet-bootstrap` and `kubeadm:node-autoapprove-bootstrap`
//   for group system:bootstrappers:kubeadm:default-node-token, and
//   `kubeadm:node-autoapprove-certificate-rotation` for group system:nodes.
// - `weft:claims` (Role and RoleBinding in kube-system): the node IPAM and service load-balancer
//   controllers claim each pod CIDR and address with a Lease there (create-if-absent) and
//   release it (delete).
// - every system:controller:* binding names user system:kube-controller-manager besides the
//   upstream service account: weft runs all controllers under that one identity.
// - `system:aggregated-metrics-reader`: metrics-server's ClusterRole (its components.yaml), as
//   weft serves metrics.k8s.io itself: get/list/watch of its nodes and pods, aggregated into
//   view, edit and admin.
// - kubeadm's `kubeadm:bootstrap-signer-clusterinfo` Role and RoleBinding in kube-public: the
//   cluster-info ConfigMap readable by user system:anonymous, as kubeadm binds it.
// - `weft:mesh-agent`: list/watch of MeshAuthorizations, bound to group system:nodes (the node
//   proxy evaluates them; it reads pods, namespaces, Services and EndpointSlices through the
//   roles above). `weft:mesh-authorizations-edit` and `-view` aggregate them into admin, edit
//   and view, as a CRD's installer does for its kinds.
// - `weft:mesh-root` (Role and RoleBinding in kube-system): group system:nodes reads the
//   ConfigMap weft-mesh-root-cert, the mesh root its node proxy verifies peers with (the way
//   kubeadm lets nodes read its kubelet-config ConfigMap there).
import type { V1ClusterRole, V1ClusterRoleBinding, V1Role, V1RoleBinding } from '@kubernetes/client-node'
import { upstreamClusterRoles } from './cluster-roles.ts'
import { CONTROLLER_ROLE_PREFIX, controllerClusterRoles, controllerNames, controllerRoles } from './controller-roles.ts'
import { INGRESS_NAMESPACE } from '../../apiserver/bootstrap-ingress.ts'
import { MESH_ROOT_CONFIGMAP, MESH_ROOT_NAMESPACE } from '../../controllers/certificates/mesh.ts'
import { AUTHORIZATION_PLURAL, MESH_GROUP } from '../../../mesh/authorization.ts'
import { READ, clusterRole, clusterRoleBinding, eventsRule, group, role, roleBinding, rule, serviceAccount, user } from './rbac-objects.ts'

export const KUBE_CONTROLLER_MANAGER_USER = 'system:kube-controller-manager'
export const KUBE_SCHEDULER_USER = 'system:kube-scheduler'
export const APISERVER_KUBELET_CLIENT_USER = 'apiserver-kubelet-client'
export const KUBEADM_BOOTSTRAP_GROUP = 'system:bootstrappers:kubeadm:default-node-token'
export const INGRESS_SERVICE_ACCOUNT = 'weft-ingress'

function weftClusterRoles(): V1ClusterRole[] {
  return [
    clusterRole('system:coredns', [rule(['list', 'watch'], [''], ['endpoints', 'services', 'pods', 'namespaces']), rule(['list', 'watch'], ['discovery.k8s.io'], ['endpointslices'])]),
    clusterRole('weft:ingress', [
      rule(READ, ['networking.k8s.io'], ['ingresses', 'ingressclasses']),
      rule(['update', 'patch'], ['networking.k8s.io'], ['ingresses/status']),
      rule(READ, [''], ['services', 'secrets']),
      rule(READ, ['discovery.k8s.io'], ['endpointslices']),
      eventsRule(),
    ]),
    clusterRole('weft:network-policy-agent', [rule(['list', 'watch'], ['networking.k8s.io'], ['networkpolicies']), rule(['list', 'watch'], [''], ['pods', 'namespaces'])]),
    clusterRole('weft:mesh-agent', [rule(['list', 'watch'], [MESH_GROUP], [AUTHORIZATION_PLURAL])]),
    clusterRole('weft:mesh-authorizations-edit', [rule(['create', 'delete', 'deletecollection', 'patch', 'update'], [MESH_GROUP], [AUTHORIZATION_PLURAL])], {
      'rbac.authorization.k8s.io/aggregate-to-admin': 'true',
      'rbac.authorization.k8s.io/aggregate-to-edit': 'true',
    }),
    clusterRole('weft:mesh-authorizations-view', [rule(READ, [MESH_GROUP], [AUTHORIZATION_PLURAL])], {
      'rbac.authorization.k8s.io/aggregate-to-admin': 'true',
      'rbac.authorization.k8s.io/aggregate-to-edit': 'true',
      'rbac.authorization.k8s.io/aggregate-to-view': 'true',
    }),
    clusterRole('system:aggregated-metrics-reader', [rule(READ, ['metrics.k8s.io'], ['pods', 'nodes'])], {
      'k8s-app': 'metrics-server',
      'rbac.authorization.k8s.io/aggregate-to-admin': 'true',
      'rbac.authorization.k8s.io/aggregate-to-edit': 'true',
      'rbac.authorization.k8s.io/aggregate-to-view': 'true',
    }),
  ]
}

export function defaultClusterRoles(): V1ClusterRole[] {
  return [...upstreamClusterRoles(), ...controllerClusterRoles(), ...weftClusterRoles()]
}

export function defaultClusterRoleBindings(): V1ClusterRoleBinding[] {
  const authenticated = group('system:authenticated')
  const kcm = user(KUBE_CONTROLLER_MANAGER_USER)
  return [
    clusterRoleBinding('cluster-admin', 'cluster-admin', [group('system:masters')]),
    clusterRoleBinding('system:basic-user', 'system:basic-user', [authenticated]),
    clusterRoleBinding('system:discovery', 'system:discovery', [authenticated]),
    clusterRoleBinding('system:public-info-viewer', 'system:public-info-viewer', [authenticated, group('system:unauthenticated')]),
    clusterRoleBinding('system:monitoring', 'system:monitoring', [group('system:monitoring')]),
    clusterRoleBinding('system:service-account-issuer-discovery', 'system:service-account-issuer-discovery', [group('system:serviceaccounts')]),
    clusterRoleBinding('system:kube-controller-manager', 'system:kube-controller-manager', [kcm]),
    clusterRoleBinding('system:kube-scheduler', 'system:kube-scheduler', [user(KUBE_SCHEDULER_USER)]),
    clusterRoleBinding('system:volume-scheduler', 'system:volume-scheduler', [user(KUBE_SCHEDULER_USER)]),
    clusterRoleBinding('system:kube-dns', 'system:kube-dns', [serviceAccount('kube-system', 'kube-dns')]),
    // Upstream keeps this binding without subjects: nodes get their rights from the node authorizer.
    clusterRoleBinding('system:node', 'system:node', []),
    clusterRoleBinding('system:node-proxier', 'system:node-proxier', [user('system:kube-proxy')]),
    ...controllerNames().map((name) => clusterRoleBinding(`${CONTROLLER_ROLE_PREFIX}${name}`, `${CONTROLLER_ROLE_PREFIX}${name}`, [serviceAccount('kube-system', name), kcm])),
    clusterRoleBinding('weft:kubelet-api-admin', 'system:kubelet-api-admin', [user(APISERVER_KUBELET_CLIENT_USER)]),
    clusterRoleBinding('system:coredns', 'system:coredns', [serviceAccount('kube-system', 'coredns')]),
    clusterRoleBinding('weft:ingress', 'weft:ingress', [serviceAccount(INGRESS_NAMESPACE, INGRESS_SERVICE_ACCOUNT)]),
    clusterRoleBinding('weft:node-proxier', 'system:node-proxier', [group('system:nodes')]),
    clusterRoleBinding('weft:network-policy-agent', 'weft:network-policy-agent', [group('system:nodes')]),
    clusterRoleBinding('weft:mesh-agent', 'weft:mesh-agent', [group('system:nodes')]),
    clusterRoleBinding('kubeadm:kubelet-bootstrap', 'system:node-bootstrapper', [group(KUBEADM_BOOTSTRAP_GROUP)]),
    clusterRoleBinding('kubeadm:node-autoapprove-bootstrap', 'system:certificates.k8s.io:certificatesigningrequests:nodeclient', [group(KUBEADM_BOOTSTRAP_GROUP)]),
    clusterRoleBinding('kubeadm:node-autoapprove-certificate-rotation', 'system:certificates.k8s.io:certificatesigningrequests:selfnodeclient', [group('system:nodes')]),
  ]
}

const leaderLocking = (name: string) => role('kube-system', `system::leader-locking-${name}`, [rule(['create', 'get', 'list', 'update', 'watch'], ['coordination.k8s.io'], ['leases']), rule(['create', 'get', 'list', 'update', 'watch'], ['coordination.k8s.io'], ['leasecandidates'])])

/** Namespaced Roles, in kube-system, kube-public and weft-ingress (the integrator creates those namespaces first). */
export function defaultRoles(): V1Role[] {
  return [
    ...controllerRoles(),
    leaderLocking('kube-controller-manager'),
    leaderLocking('kube-scheduler'),
    role('kube-system', 'weft:claims', [rule(['create', 'get', 'list', 'watch', 'delete'], ['coordination.k8s.io'], ['leases'])]),
    role('kube-public', 'kubeadm:bootstrap-signer-clusterinfo', [rule(['get'], [''], ['configmaps'], ['cluster-info'])]),
    role(MESH_ROOT_NAMESPACE, 'weft:mesh-root', [rule(['get', 'list', 'watch'], [''], ['configmaps'], [MESH_ROOT_CONFIGMAP])]),
    role(INGRESS_NAMESPACE, 'weft:ingress', [rule(READ, [''], ['pods']), rule(['get', 'create', 'update'], ['coordination.k8s.io'], ['leases'])]),
  ]
}

export function defaultRoleBindings(): V1RoleBinding[] {
  const kcm = user(KUBE_CONTROLLER_MANAGER_USER)
  const asRole = (name: string) => ({ kind: 'Role' as const, name })
  const signer = `${CONTROLLER_ROLE_PREFIX}bootstrap-signer`
  const cleaner = `${CONTROLLER_ROLE_PREFIX}token-cleaner`
  return [
    roleBinding('kube-public', signer, asRole(signer), [serviceAccount('kube-system', 'bootstrap-signer'), kcm]),
    roleBinding('kube-system', signer, asRole(signer), [serviceAccount('kube-system', 'bootstrap-signer'), kcm]),
    roleBinding('kube-system', cleaner, asRole(cleaner), [serviceAccount('kube-system', 'token-cleaner'), kcm]),
    roleBinding('kube-system', 'system::leader-locking-kube-controller-manager', asRole('system::leader-locking-kube-controller-manager'), [
      kcm,
      serviceAccount('kube-system', 'kube-controller-manager'),
      serviceAccount('kube-system', 'leader-election-controller'),
    ]),
    roleBinding('kube-system', 'weft:claims', asRole('weft:claims'), [kcm]),
    roleBinding('kube-system', 'system::leader-locking-kube-scheduler', asRole('system::leader-locking-kube-scheduler'), [user(KUBE_SCHEDULER_USER), serviceAccount('kube-system', 'kube-scheduler')]),
    roleBinding('kube-public', 'kubeadm:bootstrap-signer-clusterinfo', asRole('kubeadm:bootstrap-signer-clusterinfo'), [user('system:anonymous')]),
    roleBinding(MESH_ROOT_NAMESPACE, 'weft:mesh-root', asRole('weft:mesh-root'), [group('system:nodes')]),
    roleBinding(INGRESS_NAMESPACE, 'weft:ingress', asRole('weft:ingress'), [serviceAccount(INGRESS_NAMESPACE, INGRESS_SERVICE_ACCOUNT)]),
  ]
}
