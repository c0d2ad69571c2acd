// Upstream's system:controller:* roles (bootstrappolicy controller_policy.go, golden file
// testdata/controller-roles.yaml and namespace-roles.yaml) for the controllers weft runs, and
// the service account upstream's kube-controller-manager gives each.
import type { V1ClusterRole, V1Role } from '@kubernetes/client-node'
import { READ, clusterRole, eventsRule, role, rule } from './rbac-objects.ts'

export const CONTROLLER_ROLE_PREFIX = 'system:controller:'

/** One ClusterRole per controller: `system:controller:<name>`, upstream bound to SA kube-system/<name>. */
export function controllerClusterRoles(): V1ClusterRole[] {
  const c = (name: string, rules: ReturnType<typeof rule>[]) => clusterRole(`${CONTROLLER_ROLE_PREFIX}${name}`, rules)
  return [
    c('certificate-controller', [
      rule(['delete', 'get', 'list', 'watch'], ['certificates.k8s.io'], ['certificatesigningrequests']),
      rule(['update'], ['certificates.k8s.io'], ['certificatesigningrequests/approval', 'certificatesigningrequests/status']),
      // kubelet-serving: weft approves a node's own serving certificate (controllers/certificates/approve.ts); upstream does not.
      rule(['approve'], ['certificates.k8s.io'], ['signers'], ['kubernetes.io/kube-apiserver-client-kubelet', 'kubernetes.io/kubelet-serving']),
      rule(['sign'], ['certificates.k8s.io'], ['signers'], ['kubernetes.io/kube-apiserver-client', 'kubernetes.io/kube-apiserver-client-kubelet', 'kubernetes.io/kubelet-serving', 'kubernetes.io/legacy-unknown']),
      rule(['create'], ['authorization.k8s.io'], ['subjectaccessreviews']),
      eventsRule(),
    ]),
    c('clusterrole-aggregation-controller', [rule(['escalate', 'get', 'list', 'patch', 'update', 'watch'], ['rbac.authorization.k8s.io'], ['clusterroles'])]),
    c('daemon-set-controller', [
      rule(READ, ['apps', 'extensions'], ['daemonsets']),
      rule(['update'], ['apps', 'extensions'], ['daemonsets/status']),
      rule(['update'], ['apps', 'extensions'], ['daemonsets/finalizers']),
      rule(['list', 'watch'], [''], ['nodes']),
      rule(['create', 'delete', 'list', 'patch', 'watch'], [''], ['pods']),
      rule(['create'], [''], ['pods/binding']),
      rule(['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'], ['apps'], ['controllerrevisions']),
      eventsRule(),
    ]),
    c('deployment-controller', [
      rule(['get', 'list', 'update', 'watch'], ['apps', 'extensions'], ['deployments']),
      rule(['update'], ['apps', 'extensions'], ['deployments/status']),
      rule(['update'], ['apps', 'extensions'], ['deployments/finalizers']),
      rule(['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'], ['apps', 'extensions'], ['replicasets']),
      rule(['get', 'list', 'update', 'watch'], [''], ['pods']),
      eventsRule(),
    ]),
    c('endpointslice-controller', [
      rule(READ, [''], ['nodes', 'pods', 'services']),
      rule(['update'], [''], ['services/finalizers']),
      rule(['create', 'delete', 'get', 'list', 'update', 'watch'], ['discovery.k8s.io'], ['endpointslices']),
      eventsRule(),
    ]),
    c('generic-garbage-collector', [rule(['delete', 'get', 'list', 'patch', 'update', 'watch'], ['*'], ['*']), eventsRule()]),
    c('namespace-controller', [
      rule(['delete', 'get', 'list', 'watch'], [''], ['namespaces']),
      rule(['update'], [''], ['namespaces/finalize', 'namespaces/status']),
      rule(['delete', 'deletecollection', 'get', 'list', 'watch'], ['*'], ['*']),
    ]),
    c('node-controller', [
      rule(['delete', 'get', 'list', 'patch', 'update', 'watch'], [''], ['nodes']),
      rule(['patch', 'update'], [''], ['nodes/status']),
      rule(['patch', 'update'], [''], ['pods/status']),
      rule(['delete', 'get', 'list', 'watch'], [''], ['pods']),
      eventsRule(),
    ]),
    c('pod-garbage-collector', [rule(['delete', 'list', 'watch'], [''], ['pods']), rule(READ, [''], ['nodes']), rule(['patch'], [''], ['pods/status'])]),
    c('replicaset-controller', [
      rule(['get', 'list', 'update', 'watch'], ['apps', 'extensions'], ['replicasets']),
      rule(['update'], ['apps', 'extensions'], ['replicasets/status']),
      rule(['update'], ['apps', 'extensions'], ['replicasets/finalizers']),
      rule(['create', 'delete', 'list', 'patch', 'watch'], [''], ['pods']),
      eventsRule(),
    ]),
    c('replication-controller', [
      rule(['get', 'list', 'update', 'watch'], [''], ['replicationcontrollers']),
      rule(['update'], [''], ['replicationcontrollers/status']),
      rule(['update'], [''], ['replicationcontrollers/finalizers']),
      rule(['create', 'delete', 'list', 'patch', 'watch'], [''], ['pods']),
      eventsRule(),
    ]),
    // Quota counts anything, so it may list and watch everything.
    c('resourcequota-controller', [rule(['list', 'watch'], ['*'], ['*']), rule(['update'], [''], ['resourcequotas/status']), eventsRule()]),
    c('root-ca-cert-publisher', [rule(['create', 'update'], [''], ['configmaps']), eventsRule()]),
    c('service-account-controller', [rule(['create'], [''], ['serviceaccounts']), eventsRule()]),
    c('service-controller', [rule(READ, [''], ['services']), rule(['patch', 'update'], [''], ['services/status']), rule(['list', 'watch'], [''], ['nodes']), eventsRule()]),
  ]
}

/** The controller names of controllerClusterRoles(), each also its kube-system service account. */
export function controllerNames(): string[] {
  return controllerClusterRoles().map((r) => r.metadata!.name!.slice(CONTROLLER_ROLE_PREFIX.length))
}

/** The namespaced controller Roles upstream ships (namespace-roles.yaml). */
export function controllerRoles(): V1Role[] {
  return [
    role('kube-public', `${CONTROLLER_ROLE_PREFIX}bootstrap-signer`, [rule(READ, [''], ['configmaps']), rule(['update'], [''], ['configmaps'], ['cluster-info']), eventsRule()]),
    role('kube-system', `${CONTROLLER_ROLE_PREFIX}bootstrap-signer`, [rule(READ, [''], ['secrets'])]),
    role('kube-system', `${CONTROLLER_ROLE_PREFIX}token-cleaner`, [rule(['delete', 'get', 'list', 'watch'], [''], ['secrets']), eventsRule()]),
  ]
}
