// Defaulting as Kubernetes' SetDefaults_* functions do it for the served kinds.
// Runs on create and update (after patching), before validation; it only fills
// fields that are absent, so it is safe to run more than once.
import { defaultCronJob, defaultJob } from './batch-defaults.ts'
import { podQOSClass } from './qos.ts'
import type { ResourceInfo } from './registry.ts'

type Obj = Record<string, any>

function obj(parent: Obj, key: string): Obj {
  if (parent[key] === undefined || parent[key] === null) parent[key] = {}
  return parent[key]
}

function setIfAbsent(o: Obj, key: string, value: unknown): void {
  if (o[key] === undefined || o[key] === null || o[key] === '') o[key] = value
}

export function defaultContainer(c: Obj): void {
  if (typeof c.image === 'string') {
    const tagless = !/:[^/]+$/.test(c.image.split('@')[0]) && !c.image.includes('@')
    const latest = /:latest$/.test(c.image)
    setIfAbsent(c, 'imagePullPolicy', tagless || latest ? 'Always' : 'IfNotPresent')
  }
  setIfAbsent(c, 'terminationMessagePath', '/dev/termination-log')
  setIfAbsent(c, 'terminationMessagePolicy', 'File')
  if (c.resources === undefined) c.resources = {}
  else if (c.resources?.limits) {
    // SetDefaults_Pod: each limit without a request is also the request.
    const requests: Obj = { ...(c.resources.requests ?? {}) }
    for (const [k, v] of Object.entries(c.resources.limits)) if (!Object.hasOwn(requests, k)) requests[k] = v
    c.resources.requests = requests
  }
  for (const p of c.ports ?? []) setIfAbsent(p, 'protocol', 'TCP')
  for (const probe of [c.livenessProbe, c.readinessProbe, c.startupProbe]) {
    if (!probe) continue
    setIfAbsent(probe, 'timeoutSeconds', 1)
    setIfAbsent(probe, 'periodSeconds', 10)
    setIfAbsent(probe, 'successThreshold', 1)
    setIfAbsent(probe, 'failureThreshold', 3)
    defaultHttpGet(probe.httpGet)
  }
  for (const hook of [c.lifecycle?.postStart, c.lifecycle?.preStop]) defaultHttpGet(hook?.httpGet)
}

/** SetDefaults_HTTPGetAction: every httpGet, in probes and lifecycle hooks alike. */
function defaultHttpGet(action: Obj | undefined | null): void {
  if (!action || typeof action !== 'object') return
  setIfAbsent(action, 'path', '/')
  setIfAbsent(action, 'scheme', 'HTTP')
}

export function defaultPodSpec(spec: Obj): void {
  setIfAbsent(spec, 'restartPolicy', 'Always')
  setIfAbsent(spec, 'dnsPolicy', 'ClusterFirst')
  setIfAbsent(spec, 'schedulerName', 'default-scheduler')
  setIfAbsent(spec, 'terminationGracePeriodSeconds', 30)
  setIfAbsent(spec, 'securityContext', {})
  // SetDefaults_EphemeralContainer is SetDefaults_Container on the common part.
  for (const c of [...(spec.initContainers ?? []), ...(spec.containers ?? []), ...(spec.ephemeralContainers ?? [])]) defaultContainer(c)
  for (const v of spec.volumes ?? []) {
    if (v.configMap) setIfAbsent(v.configMap, 'defaultMode', 0o644)
    if (v.secret) setIfAbsent(v.secret, 'defaultMode', 0o644)
  }
}

/** The DefaultTolerationSeconds admission plugin: pods tolerate a not-ready or unreachable node for 300 s. */
function defaultTolerations(spec: Obj): void {
  const tolerations: Obj[] = spec.tolerations ?? []
  for (const key of ['node.kubernetes.io/not-ready', 'node.kubernetes.io/unreachable']) {
    const covered = tolerations.some(
      (t) => (t.key === key || (!t.key && t.operator === 'Exists')) && (!t.effect || t.effect === 'NoExecute'),
    )
    if (!covered) tolerations.push({ key, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 })
  }
  spec.tolerations = tolerations
}

function defaultPod(pod: Obj): void {
  const spec = obj(pod, 'spec')
  defaultPodSpec(spec)
  defaultTolerations(spec)
  // Pods get this default, pod templates do not (SetDefaults_Pod, not SetDefaults_PodSpec).
  if (spec.enableServiceLinks === undefined) spec.enableServiceLinks = true
  const status = obj(pod, 'status')
  setIfAbsent(status, 'phase', 'Pending')
  setIfAbsent(status, 'qosClass', podQOSClass(spec))
}

function defaultService(svc: Obj): void {
  const spec = obj(svc, 'spec')
  setIfAbsent(spec, 'type', 'ClusterIP')
  if (spec.type === 'ExternalName') return
  setIfAbsent(spec, 'sessionAffinity', 'None')
  if (spec.sessionAffinity === 'ClientIP') {
    const cfg = obj(obj(spec, 'sessionAffinityConfig'), 'clientIP')
    setIfAbsent(cfg, 'timeoutSeconds', 10800)
  }
  for (const p of spec.ports ?? []) {
    setIfAbsent(p, 'protocol', 'TCP')
    if (p.targetPort === undefined || p.targetPort === 0 || p.targetPort === '') p.targetPort = p.port
  }
  setIfAbsent(spec, 'internalTrafficPolicy', 'Cluster')
  if (spec.type === 'NodePort' || spec.type === 'LoadBalancer') setIfAbsent(spec, 'externalTrafficPolicy', 'Cluster')
  if (spec.type === 'LoadBalancer' && spec.allocateLoadBalancerNodePorts === undefined) spec.allocateLoadBalancerNodePorts = true
  obj(svc, 'status')
  obj(svc.status, 'loadBalancer')
  // As upstream (LoadBalancerIPMode): an ingress IP without a mode is a VIP.
  for (const ing of Array.isArray(svc.status.loadBalancer.ingress) ? svc.status.loadBalancer.ingress : []) {
    if (ing && typeof ing === 'object' && ing.ip && ing.ipMode == null) ing.ipMode = 'VIP'
  }
}

function defaultWorkloadTemplate(o: Obj): void {
  const spec = obj(o, 'spec')
  const template = obj(spec, 'template')
  defaultPodSpec(obj(template, 'spec'))
}

function defaultDeployment(d: Obj): void {
  const spec = obj(d, 'spec')
  setIfAbsent(spec, 'replicas', 1)
  const strategy = obj(spec, 'strategy')
  setIfAbsent(strategy, 'type', 'RollingUpdate')
  if (strategy.type === 'RollingUpdate') {
    const ru = obj(strategy, 'rollingUpdate')
    setIfAbsent(ru, 'maxUnavailable', '25%')
    setIfAbsent(ru, 'maxSurge', '25%')
  }
  setIfAbsent(spec, 'revisionHistoryLimit', 10)
  setIfAbsent(spec, 'progressDeadlineSeconds', 600)
  defaultWorkloadTemplate(d)
  obj(d, 'status')
}

function defaultReplicaSet(rs: Obj): void {
  setIfAbsent(obj(rs, 'spec'), 'replicas', 1)
  defaultWorkloadTemplate(rs)
  const status = obj(rs, 'status')
  setIfAbsent(status, 'replicas', 0)
}

/** As upstream's SetDefaults_ReplicationController: the selector and the labels default to the template's labels. */
function defaultReplicationController(rc: Obj): void {
  const spec = obj(rc, 'spec')
  const templateLabels = (spec.template as Obj | undefined)?.metadata as Obj | undefined
  const labels = templateLabels?.labels
  if (labels && typeof labels === 'object' && Object.keys(labels).length > 0) {
    if (!spec.selector || Object.keys(spec.selector as Obj).length === 0) spec.selector = structuredClone(labels)
    const metadata = obj(rc, 'metadata')
    if (!metadata.labels || Object.keys(metadata.labels as Obj).length === 0) metadata.labels = structuredClone(labels)
  }
  setIfAbsent(spec, 'replicas', 1)
  defaultWorkloadTemplate(rc)
  setIfAbsent(obj(rc, 'status'), 'replicas', 0)
}

/** autoscaling/v2's SetDefaults_HorizontalPodAutoscaler: minReplicas 1, a CPU target of 80% when none, a given behavior filled in. */
function defaultHorizontalPodAutoscaler(hpa: Obj): void {
  const spec = obj(hpa, 'spec')
  setIfAbsent(spec, 'minReplicas', 1)
  if (!Array.isArray(spec.metrics) || spec.metrics.length === 0) {
    spec.metrics = [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 80 } } }]
  }
  if (spec.behavior && typeof spec.behavior === 'object') {
    const up = obj(spec.behavior, 'scaleUp')
    setIfAbsent(up, 'stabilizationWindowSeconds', 0)
    setIfAbsent(up, 'selectPolicy', 'Max')
    setIfAbsent(up, 'policies', [{ type: 'Pods', value: 4, periodSeconds: 15 }, { type: 'Percent', value: 100, periodSeconds: 15 }])
    const down = obj(spec.behavior, 'scaleDown')
    setIfAbsent(down, 'stabilizationWindowSeconds', 300)
    setIfAbsent(down, 'selectPolicy', 'Max')
    setIfAbsent(down, 'policies', [{ type: 'Percent', value: 100, periodSeconds: 15 }])
  }
}

function defaultDaemonSet(ds: Obj): void {
  const spec = obj(ds, 'spec')
  const strategy = obj(spec, 'updateStrategy')
  setIfAbsent(strategy, 'type', 'RollingUpdate')
  if (strategy.type === 'RollingUpdate') {
    const ru = obj(strategy, 'rollingUpdate')
    setIfAbsent(ru, 'maxUnavailable', 1)
    setIfAbsent(ru, 'maxSurge', 0)
  }
  setIfAbsent(spec, 'revisionHistoryLimit', 10)
  defaultWorkloadTemplate(ds)
  const status = obj(ds, 'status')
  for (const k of ['currentNumberScheduled', 'desiredNumberScheduled', 'numberMisscheduled', 'numberReady']) setIfAbsent(status, k, 0)
}

/** SetDefaults_StatefulSet (apps/v1, MaxUnavailableStatefulSet on), and each claim template as a PersistentVolumeClaim. */
function defaultStatefulSet(sts: Obj): void {
  const spec = obj(sts, 'spec')
  setIfAbsent(spec, 'podManagementPolicy', 'OrderedReady')
  const strategy = obj(spec, 'updateStrategy')
  if (!strategy.type) {
    strategy.type = 'RollingUpdate'
    obj(strategy, 'rollingUpdate')
  }
  if (strategy.type === 'RollingUpdate' && strategy.rollingUpdate && typeof strategy.rollingUpdate === 'object') {
    setIfAbsent(strategy.rollingUpdate, 'partition', 0)
    setIfAbsent(strategy.rollingUpdate, 'maxUnavailable', 1)
  }
  const retention = obj(spec, 'persistentVolumeClaimRetentionPolicy')
  setIfAbsent(retention, 'whenDeleted', 'Retain')
  setIfAbsent(retention, 'whenScaled', 'Retain')
  setIfAbsent(spec, 'replicas', 1)
  setIfAbsent(spec, 'revisionHistoryLimit', 10)
  for (const claim of Array.isArray(spec.volumeClaimTemplates) ? spec.volumeClaimTemplates : []) {
    if (!claim || typeof claim !== 'object') continue
    setIfAbsent(obj(claim, 'spec'), 'volumeMode', 'Filesystem')
    setIfAbsent(obj(claim, 'status'), 'phase', 'Pending')
  }
  defaultWorkloadTemplate(sts)
  // The two counts Go writes even when zero.
  const status = obj(sts, 'status')
  setIfAbsent(status, 'replicas', 0)
  setIfAbsent(status, 'availableReplicas', 0)
}

function defaultNamespace(ns: Obj): void {
  const spec = obj(ns, 'spec')
  if (spec.finalizers === undefined) spec.finalizers = ['kubernetes']
  setIfAbsent(obj(ns, 'status'), 'phase', 'Active')
  const labels = obj(obj(ns, 'metadata'), 'labels')
  labels['kubernetes.io/metadata.name'] = ns.metadata.name
}

function defaultEndpointSlice(slice: Obj): void {
  for (const p of slice.ports ?? []) setIfAbsent(p, 'protocol', 'TCP')
  for (const e of slice.endpoints ?? []) obj(e, 'conditions')
}

function defaultEndpoints(ep: Obj): void {
  for (const s of ep.subsets ?? []) for (const p of s.ports ?? []) setIfAbsent(p, 'protocol', 'TCP')
}

/** stringData is write-only: it is merged into data (base64) and never stored, as in Kubernetes. */
function defaultSecret(secret: Obj): void {
  setIfAbsent(secret, 'type', 'Opaque')
  if (secret.stringData && typeof secret.stringData === 'object') {
    const data = obj(secret, 'data')
    for (const [k, v] of Object.entries(secret.stringData)) data[k] = Buffer.from(String(v), 'utf8').toString('base64')
  }
  delete secret.stringData
}

/** SetDefaults_RoleBinding / _ClusterRoleBinding / _Subject (rbac/v1). */
function defaultBinding(b: Obj): void {
  setIfAbsent(obj(b, 'roleRef'), 'apiGroup', 'rbac.authorization.k8s.io')
  for (const subject of Array.isArray(b.subjects) ? b.subjects : []) {
    if (subject && typeof subject === 'object' && !subject.apiGroup && (subject.kind === 'User' || subject.kind === 'Group')) {
      subject.apiGroup = 'rbac.authorization.k8s.io'
    }
  }
}

/** policy/v1 has no spec defaults; the status's counts are never omitted (no omitempty upstream). */
function defaultPodDisruptionBudget(pdb: Obj): void {
  const status = obj(pdb, 'status')
  for (const count of ['disruptionsAllowed', 'currentHealthy', 'desiredHealthy', 'expectedPods']) if (status[count] === undefined || status[count] === null) status[count] = 0
}

/** SetDefaults_PersistentVolume: a new volume is Pending, kept when released (Retain), a filesystem. */
function defaultPersistentVolume(pv: Obj): void {
  const spec = obj(pv, 'spec')
  setIfAbsent(spec, 'persistentVolumeReclaimPolicy', 'Retain')
  setIfAbsent(spec, 'volumeMode', 'Filesystem')
  setIfAbsent(obj(pv, 'status'), 'phase', 'Pending')
}

/** SetDefaults_PersistentVolumeClaim and _PersistentVolumeClaimSpec. */
function defaultPersistentVolumeClaim(pvc: Obj): void {
  setIfAbsent(obj(pvc, 'spec'), 'volumeMode', 'Filesystem')
  setIfAbsent(obj(pvc, 'status'), 'phase', 'Pending')
}

/** SetDefaults_StorageClass (storage/v1). */
function defaultStorageClass(sc: Obj): void {
  setIfAbsent(sc, 'reclaimPolicy', 'Delete')
  setIfAbsent(sc, 'volumeBindingMode', 'Immediate')
}

/**
 * SetDefaults_LimitRangeItem: a Container item's default limit falls back to its max, and
 * its default request to the default limit, else to its min.
 */
function defaultLimitRange(lr: Obj): void {
  for (const item of Array.isArray(lr.spec?.limits) ? lr.spec.limits : []) {
    if (!item || typeof item !== 'object' || item.type !== 'Container') continue
    const fallback = (target: string, ...sources: string[]) => {
      const filled: Obj = { ...(item[target] ?? {}) }
      for (const source of sources) for (const [k, v] of Object.entries(item[source] ?? {})) if (!Object.hasOwn(filled, k)) filled[k] = v
      if (Object.keys(filled).length > 0) item[target] = filled
    }
    fallback('default', 'max')
    fallback('defaultRequest', 'default', 'min')
  }
}

/** SetDefaults_CustomResourceDefinitionSpec: conversion None, singular and listKind from the kind. */
function defaultCustomResourceDefinition(o: Obj): void {
  const spec = obj(o, 'spec')
  if (spec.conversion === undefined || spec.conversion === null) spec.conversion = { strategy: 'None' }
  const names = obj(spec, 'names')
  if (typeof names.kind === 'string' && names.kind !== '') {
    setIfAbsent(names, 'singular', names.kind.toLowerCase())
    setIfAbsent(names, 'listKind', `${names.kind}List`)
  }
}

/**
 * SetDefaults_NetworkPolicy and SetDefaults_NetworkPolicyPort (networking/v1): each port's
 * protocol is TCP unless given; without policyTypes the policy is an Ingress policy, and an
 * Egress one too when it has egress rules. podSelector is always written (Go has no omitempty
 * on it), `{}` selecting every pod of the namespace.
 */
function defaultNetworkPolicy(np: Obj): void {
  const spec = obj(np, 'spec')
  obj(spec, 'podSelector')
  const rules = [...(Array.isArray(spec.ingress) ? spec.ingress : []), ...(Array.isArray(spec.egress) ? spec.egress : [])]
  for (const rule of rules) {
    if (!rule || typeof rule !== 'object' || !Array.isArray(rule.ports)) continue
    // Only an absent protocol: an empty string stays, for validation to refuse as upstream's does.
    for (const port of rule.ports) if (port && typeof port === 'object' && (port.protocol === undefined || port.protocol === null)) port.protocol = 'TCP'
  }
  if (!Array.isArray(spec.policyTypes) || spec.policyTypes.length === 0) {
    spec.policyTypes = Array.isArray(spec.egress) && spec.egress.length > 0 ? ['Ingress', 'Egress'] : ['Ingress']
  }
}

const byKind: Record<string, (o: Obj) => void> = {
  CustomResourceDefinition: defaultCustomResourceDefinition,
  Pod: defaultPod,
  Service: defaultService,
  Deployment: defaultDeployment,
  ReplicaSet: defaultReplicaSet,
  ReplicationController: defaultReplicationController,
  HorizontalPodAutoscaler: defaultHorizontalPodAutoscaler,
  DaemonSet: defaultDaemonSet,
  Job: (j) => defaultJob(j, defaultPodSpec),
  CronJob: (c) => defaultCronJob(c, defaultPodSpec),
  StatefulSet: defaultStatefulSet,
  Namespace: defaultNamespace,
  EndpointSlice: defaultEndpointSlice,
  Endpoints: defaultEndpoints,
  Secret: defaultSecret,
  LimitRange: defaultLimitRange,
  Node: (n) => obj(n, 'spec'),
  PersistentVolume: defaultPersistentVolume,
  PersistentVolumeClaim: defaultPersistentVolumeClaim,
  StorageClass: defaultStorageClass,
  RoleBinding: defaultBinding,
  ClusterRoleBinding: defaultBinding,
  PodDisruptionBudget: defaultPodDisruptionBudget,
  NetworkPolicy: defaultNetworkPolicy,
}

/** Fills the defaults of a kind into `o` in place. */
export function applyDefaults(info: ResourceInfo, o: Obj): void {
  if (info.custom) return info.custom.applyDefaults(o)
  byKind[info.kind]?.(o)
}
