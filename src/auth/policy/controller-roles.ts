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
      // weft.dev/mesh: the mesh's workload identities (controllers/certificates/mesh.ts).
      rule(['approve'], ['certificates.k8s.io'], ['signers'], ['kubernetes.io/kube-apiserver-client-kubelet', 'kubernetes.io/kubelet-serving', 'weft.dev/mesh']),
      rule(['sign'], ['certificates.k8s.io'], ['signers'], ['kubernetes.io/kube-apiserver-client', 'kubernetes.io/kube-apiserver-client-kubelet', 'kubernetes.io/kubelet-serving', 'kubernetes.io/legacy-unknown', 'weft.dev/mesh']),
      rule(['create'], ['authorization.k8s.io'], ['subjectaccessreviews']),
      eventsRule(),
    ]),
    c('clusterrole-aggregation-controller', [rule(['escalate', 'get', 'list', 'patch', 'update', 'watch'], ['rbac.authorization.k8s.io'], ['clusterroles'])]),
    c('cronjob-controller', [
      rule(['get', 'list', 'update', 'watch'], ['batch'], ['cronjobs']),
      rule(['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'], ['batch'], ['jobs']),
      rule(['update'], ['batch'], ['cronjobs/status']),
      rule(['update'], ['batch'], ['cronjobs/finalizers']),
      rule(['delete', 'list'], [''], ['pods']),
      eventsRule(),
    ]),
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
    c('disruption-controller', [
      rule(READ, ['apps', 'extensions'], ['deployments']),
      rule(READ, ['apps', 'extensions'], ['replicasets']),
      rule(READ, [''], ['replicationcontrollers']),
      rule(READ, ['policy'], ['poddisruptionbudgets']),
      rule(READ, ['apps'], ['statefulsets']),
      rule(['update'], ['policy'], ['poddisruptionbudgets/status']),
      rule(['get'], ['*'], ['*/scale']),
      rule(['patch', 'update'], [''], ['pods/status']),
      eventsRule(),
    ]),
    c('endpointslice-controller', [
      rule(READ, [''], ['nodes', 'pods', 'services']),
      rule(['update'], [''], ['services/finalizers']),
      rule(['create', 'delete', 'get', 'list', 'update', 'watch'], ['discovery.k8s.io'], ['endpointslices']),
      eventsRule(),
    ]),
    c('generic-garbage-collector', [rule(['delete', 'get', 'list', 'patch', 'update', 'watch'], ['*'], ['*']), eventsRule()]),
    c('job-controller', [
      rule(['get', 'list', 'patch', 'update', 'watch'], ['batch'], ['jobs']),
      rule(['update'], ['batch'], ['jobs/status']),
      rule(['update'], ['batch'], ['jobs/finalizers']),
      rule(['create', 'delete', 'list', 'patch', 'watch'], [''], ['pods']),
      eventsRule(),
    ]),
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
    c('horizontal-pod-autoscaler', [
      rule(['get', 'list', 'watch'], ['autoscaling'], ['horizontalpodautoscalers']),
      rule(['update'], ['autoscaling'], ['horizontalpodautoscalers/status']),
      rule(['get', 'update'], ['*'], ['*/scale']),
      rule(['list'], [''], ['pods']),
      rule(['list'], ['metrics.k8s.io'], ['pods']),
      rule(['get', 'list'], ['custom.metrics.k8s.io'], ['*']),
      rule(['get', 'list'], ['external.metrics.k8s.io'], ['*']),
      eventsRule(),
    ]),
    c('persistent-volume-binder', [
      rule(['create', 'delete', 'get', 'list', 'update', 'watch'], [''], ['persistentvolumes']),
      // weft's binder writes the phase with a merge patch (upstream: update only).
      rule(['patch', 'update'], [''], ['persistentvolumes/status']),
      rule(['get', 'list', 'update', 'watch'], [''], ['persistentvolumeclaims']),
      rule(['patch', 'update'], [''], ['persistentvolumeclaims/status']),
      rule(['create', 'delete', 'get', 'list', 'watch'], [''], ['pods']),
      rule(['get', 'list', 'watch'], ['storage.k8s.io'], ['storageclasses']),
      rule(['create', 'delete', 'get', 'update'], [''], ['endpoints']),
      rule(['create', 'delete', 'get'], [''], ['services']),
      rule(['get'], [''], ['secrets']),
      rule(['get', 'list'], [''], ['nodes']),
      rule(['watch'], [''], ['events']),
      eventsRule(),
    ]),
    c('pvc-protection-controller', [rule(['get', 'list', 'watch'], [''], ['pods']), rule(['get', 'list', 'update', 'watch'], [''], ['persistentvolumeclaims']), eventsRule()]),
    c('pv-protection-controller', [rule(['get', 'list', 'update', 'watch'], [''], ['persistentvolumes']), eventsRule()]),
    // weft's own: the local-path provisioner k3s runs as a Deployment, here a controller.
    c('local-path-provisioner', [
      rule(['create', 'delete', 'get', 'list', 'watch'], [''], ['persistentvolumes']),
      rule(['get', 'list', 'watch'], [''], ['persistentvolumeclaims', 'nodes']),
      rule(['get', 'list', 'watch'], ['storage.k8s.io'], ['storageclasses']),
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
    c('statefulset-controller', [
      rule(['list', 'watch'], [''], ['pods']),
      rule(READ, ['apps'], ['statefulsets']),
      rule(['update'], ['apps'], ['statefulsets/status']),
      rule(['update'], ['apps'], ['statefulsets/finalizers']),
      rule(['create', 'delete', 'get', 'patch', 'update'], [''], ['pods']),
      rule(['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'], ['apps'], ['controllerrevisions']),
      rule(['create', 'get'], [''], ['persistentvolumeclaims']),
      rule(['delete', 'update'], [''], ['persistentvolumeclaims']),
      eventsRule(),
    ]),
    c('service-controller', [rule(READ, [''], ['services']), rule(['patch', 'update'], [''], ['services/status']), rule(['list', 'watch'], [''], ['nodes']), eventsRule()]),
    c('ttl-after-finished-controller', [rule(['delete', 'get', 'list', 'watch'], ['batch'], ['jobs']), eventsRule()]),
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
