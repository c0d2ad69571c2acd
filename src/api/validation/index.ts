// Kubernetes validation for the served kinds: validateObject(info, obj, old?) returns the
// field causes the API answers with (422 Invalid), empty when the object is valid.
import { isDNS1035Label, isDNS1123Label, isDNS1123Subdomain } from '../names.ts'
import type { ResourceInfo } from '../registry.ts'
import type { FieldCause, Obj } from './field.ts'
import { arr, forbidden, isObj, obj } from './field.ts'
import { staticPodRefusal, validateEphemeralContainersUpdate } from './ephemeral.ts'
import type { NameCheck } from './meta.ts'
import { validateObjectMeta, validateObjectMetaUpdate } from './meta.ts'
import { validatePodSpec, validatePodSpecUpdate } from './pod.ts'
import { validateServiceSpec, validateServiceStatus, validateServiceUpdate } from './service.ts'
import { validateDaemonSetSpec, validateDeploymentSpec, validateReplicaSetSpec, validateReplicationControllerSpec, validateSelectorUpdate } from './apps.ts'
import { validateCronJob, validateJob } from './batch.ts'
import { validateJobStatusUpdate } from './job-status.ts'
import { validateStatefulSetSpec, validateStatefulSetStatus, validateStatefulSetUpdate } from './statefulset.ts'
import { validateControllerRevision } from './controller-revision.ts'
import { validateIngressClassSpec, validateIngressClassUpdate, validateIngressSpec } from './ingress.ts'
import { validateHorizontalPodAutoscalerSpec } from './autoscaling.ts'
import {
  validateConfigMap,
  validateEndpointSlice,
  validateEndpoints,
  validateEvent,
  validateLease,
  validatePriorityClass,
  validateNamespace,
  validateNode,
  validateSecret,
} from './misc.ts'
import { isValidPathSegmentName, validateBinding, validateClusterRole, validateRole } from './rbac.ts'
import { validateCertificateSigningRequest, type CertificateRequestCheck } from './certificates.ts'
import { validatePodDisruptionBudget, validatePodDisruptionBudgetStatus } from './policy.ts'
import { validateNetworkPolicy } from './network-policy.ts'
import { validatePersistentVolume, validatePersistentVolumeClaim, validateStorageClass } from './storage.ts'
import { validateLimitRange, validateResourceQuota, validateResourceQuotaStatus } from './quota.ts'

import { CRD_GROUP, validateCrd } from '../crd/definition.ts'

export type { FieldCause } from './field.ts'
export type { CertificateRequestCheck } from './certificates.ts'
export { isReviewKind, reviewKinds, validateReview, type ReviewKind } from './reviews.ts'

/** Checks other modules supply (the PKI module's full parse of a CSR's request). */
export interface ValidationHooks {
  checkCertificateRequest?: CertificateRequestCheck
}

type KindRule = (o: Obj, old: Obj | undefined, subresource: string | undefined, hooks: ValidationHooks) => FieldCause[]

const spec = (o: Obj): Obj => obj(o.spec)

/**
 * What a write to a kind's status subresource is checked for, where Kubernetes checks the
 * status (and nothing of the spec, which that write cannot change). Kinds not listed here
 * get their ordinary rule.
 */
const statusRules: Record<string, KindRule> = {
  Service: (o) => validateServiceStatus(obj(o.status), spec(o)),
  ResourceQuota: (o) => validateResourceQuotaStatus(obj(o.status)),
  // The spec is the stored one: judging it again would let a rule added since the pod was
  // created block its kubelet's status reports.
  Pod: () => [],
  Job: (o, old) => (old ? validateJobStatusUpdate(o, old) : []),
  CronJob: () => [],
  StatefulSet: (o, old) => validateStatefulSetStatus(obj(o.status), obj(old?.status)),
  PodDisruptionBudget: (o) => validatePodDisruptionBudgetStatus(o),
  // ValidatePersistentVolumeStatusUpdate checks only the metadata.
  PersistentVolume: () => [],
}

const rules: Record<string, KindRule> = {
  Pod: (o, old, subresource) => validatePod(o, old, subresource),
  Service: (o, old) => [...validateServiceSpec(spec(o), obj(o.metadata)), ...(old ? validateServiceUpdate(spec(o), spec(old)) : [])],
  Deployment: (o, old) => [...validateDeploymentSpec(spec(o)), ...(old ? validateSelectorUpdate(spec(o), spec(old)) : [])],
  ReplicaSet: (o, old) => [...validateReplicaSetSpec(spec(o)), ...(old ? validateSelectorUpdate(spec(o), spec(old)) : [])],
  ReplicationController: (o) => validateReplicationControllerSpec(spec(o)),
  HorizontalPodAutoscaler: (o) => validateHorizontalPodAutoscalerSpec(spec(o)),
  DaemonSet: (o, old) => [...validateDaemonSetSpec(spec(o)), ...(old ? validateSelectorUpdate(spec(o), spec(old)) : [])],
  Job: (o, old) => validateJob(o, old),
  CronJob: (o, old) => validateCronJob(o, old),
  StatefulSet: (o, old) => [...validateStatefulSetSpec(spec(o)), ...(old ? validateStatefulSetUpdate(spec(o), spec(old)) : [])],
  ControllerRevision: (o, old) => validateControllerRevision(o, old),
  Ingress: (o) => validateIngressSpec(spec(o)),
  IngressClass: (o, old) => [...validateIngressClassSpec(spec(o)), ...(old ? validateIngressClassUpdate(spec(o), spec(old)) : [])],
  NetworkPolicy: (o, old) => validateNetworkPolicy(o, old),
  EndpointSlice: (o, old) => validateEndpointSlice(o, old),
  Endpoints: (o) => validateEndpoints(o),
  Secret: (o, old) => validateSecret(o, old),
  ConfigMap: (o, old) => validateConfigMap(o, old),
  Lease: (o) => validateLease(spec(o)),
  PriorityClass: (o, old) => validatePriorityClass(o, old),
  PodDisruptionBudget: (o) => validatePodDisruptionBudget(o),
  PersistentVolume: (o, old) => validatePersistentVolume(o, old),
  PersistentVolumeClaim: (o, old, subresource) => validatePersistentVolumeClaim(o, old, subresource),
  StorageClass: (o, old) => validateStorageClass(o, old),
  ResourceQuota: (o, old) => validateResourceQuota(o, old),
  LimitRange: (o) => validateLimitRange(o),
  Node: (o, old) => validateNode(o, old),
  Namespace: (o) => validateNamespace(o),
  Event: (o) => validateEvent(o),
  Role: (o) => validateRole(o),
  ClusterRole: (o) => validateClusterRole(o),
  RoleBinding: (o, old) => validateBinding(o, old, true),
  ClusterRoleBinding: (o, old) => validateBinding(o, old, false),
  CertificateSigningRequest: (o, old, subresource, hooks) => validateCertificateSigningRequest(o, old, subresource, { checkRequest: hooks.checkCertificateRequest }),
}

/** A CRD's status is the server's to write; its spec is checked on every other write. */
const validateCustomResourceDefinition: KindRule = (o, old, subresource) => (subresource === 'status' ? [] : validateCrd(o, old))

function validatePod(o: Obj, old: Obj | undefined, subresource: string | undefined): FieldCause[] {
  const refusal = old && subresource === 'ephemeralcontainers' ? staticPodRefusal(old) : undefined
  if (refusal) return [refusal]
  const errs = validatePodSpec(spec(o), 'spec')
  if (!old) {
    // Ephemeral containers arrive only through pods/ephemeralcontainers, never with the pod.
    if (arr(spec(o).ephemeralContainers).length > 0) errs.push(forbidden('spec.ephemeralContainers', 'cannot be set on create'))
    return errs
  }
  if (subresource === 'ephemeralcontainers') return [...errs, ...validateEphemeralContainersUpdate(o, old)]
  return [...errs, ...validatePodSpecUpdate(spec(o), spec(old))]
}

const rbacNamed = new Set(['Role', 'ClusterRole', 'RoleBinding', 'ClusterRoleBinding'])

function nameCheck(info: ResourceInfo): NameCheck {
  if (info.group === '' && info.kind === 'Namespace') return isDNS1123Label
  if (info.group === '' && info.kind === 'Service') return isDNS1035Label
  // Its pods are named `<name>-<ordinal>` and take that as their hostname: a DNS label.
  if (info.group === 'apps' && info.kind === 'StatefulSet') return isDNS1123Label
  if (info.group === 'rbac.authorization.k8s.io' && rbacNamed.has(info.kind)) return isValidPathSegmentName
  // "We don't care what you call your certificate requests."
  if (info.group === 'certificates.k8s.io') return () => []
  return isDNS1123Subdomain
}

/** Validates `obj` as an object of `info`'s kind; `old` is the stored object on update, `subresource` the one written. */
export function validateObject(info: ResourceInfo, object: object, old?: object, subresource?: string, hooks: ValidationHooks = {}): FieldCause[] {
  const o = object as Obj
  const prev = old === undefined ? undefined : (old as Obj)
  const meta = obj(o.metadata)
  const errs = validateObjectMeta(meta, info.namespaced, nameCheck(info))
  if (prev && isObj(prev.metadata)) errs.push(...validateObjectMetaUpdate(meta, prev.metadata))
  if (info.custom) return [...errs, ...info.custom.validate(o, prev)]
  const rule = info.group === CRD_GROUP && info.kind === 'CustomResourceDefinition' ? validateCustomResourceDefinition : (subresource === 'status' ? statusRules[info.kind] : undefined) ?? rules[info.kind]
  if (rule) errs.push(...rule(o, prev, subresource, hooks))
  return errs
}
