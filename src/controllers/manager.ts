// kube-controller-manager's job: every controller, fed by one set of shared informers,
// each a pure reconcile function behind the same work-queue loop.
import type {
  V1CertificateSigningRequest,
  V1ClusterRole,
  V1ConfigMap,
  V1CronJob,
  V1Job,
  V1Secret,
  V1ServiceAccount,
  V1ControllerRevision,
  V1DaemonSet,
  V1LabelSelector,
  V1Deployment,
  V1EndpointSlice,
  V1Endpoints,
  V1Lease,
  V1Namespace,
  V1Node,
  V1Pod,
  V1PersistentVolumeClaim,
  V1PodDisruptionBudget,
  V1ReplicaSet,
  V1ReplicationController,
  V1ResourceQuota,
  V1Service,
  V2HorizontalPodAutoscaler,
  V1StatefulSet,
} from '@kubernetes/client-node'
import { customResourceInfos } from '../api/crd/resources.ts'
import { resources, storedResources, type ResourceInfo } from '../api/registry.ts'
import { selectorFromSet, type LabelSelector } from '../api/selectors.ts'
import type { Informer, KubeObject as ClientObject, RestClient } from '../client/index.ts'
import { isNotFound } from '../util/errors.ts'
import type { Logger } from '../util/log.ts'
import { OwnWrites } from './own-writes.ts'
import {
  cachedSelector,
  claimCandidates,
  CONTROLLER_INDEX,
  controllerIndexValues,
  ensureIndex,
  LABELS_INDEX,
  labelIndexValues,
  SELECTOR_INDEX,
  selectedBy,
  selecting,
  selectorIndexFunc,
} from './selector-index.ts'
import { Controller, keyOf, splitKey, type InformerFactory, type ReconcileResult } from './controller.ts'
import { reconcileDeployment } from './deployment/reconcile.ts'
import { reconcileEndpoints } from './endpointslice/endpoints.ts'
import { reconcileEndpointSlices } from './endpointslice/reconcile.ts'
import { GcGraph, reconcileObject, toGcObject, type GcObject } from './garbage-collector/reconcile-owner.ts'
import { reconcileNamespace } from './namespace/reconcile-namespace.ts'
import { allocatePodCIDRs } from './node-ipam/allocate-pod-cidrs.ts'
import { CLAIM_LABEL, CLAIM_NAMESPACE, claimsOf } from './claims.ts'
import { reconcileNode } from './node-lifecycle/reconcile-node.ts'
import { NodeHealth, zoneOf } from './node-lifecycle/node-health.ts'
import { availabilityRecheckAt, reconcileReplicaSet, replicationControllerKind } from './replicaset/reconcile.ts'
import { hpaReconciler } from './hpa/runner.ts'
import { reconcileDaemonSet } from './daemonset/reconcile.ts'
import { isJobFinished } from './job/conditions.ts'
import { reconcileTrackedPod } from './job/orphan-pods.ts'
import { hasTrackingFinalizer } from './job/pod-status.ts'
import { reconcileJob } from './job/reconcile.ts'
import { reconcileCronJob } from './cronjob/reconcile.ts'
import { reconcileFinishedJobTtl } from './ttl-after-finished/reconcile.ts'
import { localZone } from '../api/cron/zone.ts'
import { reconcileStatefulSet } from './statefulset/reconcile.ts'
import type { ClaimView } from './statefulset/volume-claims.ts'
import { reconcileServiceLB } from './service-lb/reconcile-service-lb.ts'
import { reconcileOrphanedPods } from './pod-gc/reconcile.ts'
import { DEFAULT_SERVICE_ACCOUNT, reconcileDefaultServiceAccount, reconcileRootCA, ROOT_CA_CONFIGMAP } from './serviceaccount/reconcile.ts'
import { pendingAggregations } from '../auth/rbac/aggregation.ts'
import type { UserInfo } from '../auth/types.ts'
import { BOOTSTRAP_TOKEN_SECRET_TYPE } from '../auth/tokens/bootstrap-token.ts'
import { parseCertificateRequest, signCertificateRequest } from '../pki/csr.ts'
import type { CertAndKey } from '../pki/certificates.ts'
import { judge, withVerdict } from './certificates/approve.ts'
import { decided, KUBELET_CLIENT_SIGNER, KUBELET_SERVING_SIGNER, NODE_PREFIX, requestPem } from './certificates/csr.ts'
import { planSigning, withFailure } from './certificates/sign.ts'
import { DEFAULT_MESH_CERT_SECONDS, judgeMesh, MESH_ROOT_CONFIGMAP, MESH_ROOT_NAMESPACE, MESH_SIGNER, planMeshSigning, reconcileMeshRoot, runsAs, type MeshRequest } from './certificates/mesh.ts'
import { reconcileExpiredBootstrapTokens } from './bootstrap-tokens/token-cleaner.ts'
import { WORKLOAD_KINDS, type Workload, type WorkloadLookup } from './disruption/controller-scale.ts'
import { reconcileDisruptionBudget } from './disruption/reconcile.ts'
import { reconcileStaleDisruption, staleDisruptionWaitMs } from './disruption/stale-disruption.ts'
import type { Budget, BudgetPod } from '../api/disruption-budget.ts'
import { QuotaRegistry } from '../quota/registry.ts'
import type { Evaluator } from '../quota/evaluator.ts'
import { reconcileResourceQuota } from './resourcequota/reconcile.ts'
import type { Action } from './actions.ts'
import { setUpStorageControllers } from './persistentvolume/storage-controllers.ts'

const kind = (k: string): ResourceInfo => resources.find((r) => r.kind === k)!

export interface ControllerManagerOptions {
  client: RestClient
  log: Logger
  /** Pod CIDRs for nodes (default 10.244.0.0/16, a /24 each). */
  clusterCidrs?: string[]
  /** Addresses for LoadBalancer Services (CIDRs or `a-b` ranges); none: no addresses are handed out. */
  loadBalancerPool?: string[]
  /** Seconds without a heartbeat before a node is marked unknown (default 40). */
  nodeMonitorGracePeriodSeconds?: number
  /** Nodes per second that may get an evicting (NoExecute) taint in a healthy zone (default 0.1). */
  nodeEvictionRate?: number
  /** The same in a large zone that is partly down (default 0.01). */
  secondaryNodeEvictionRate?: number
  /** The share of not-Ready nodes that makes a zone partly down (default 0.55). */
  unhealthyZoneThreshold?: number
  /** A partly down zone this small or smaller gets no evictions (default 50). */
  largeClusterSizeThreshold?: number
  /** Seconds a node must stay gone before its pods are force-deleted (default 40). */
  podGCQuarantineSeconds?: number
  /** How often each HorizontalPodAutoscaler is evaluated (default 15 s, upstream's --horizontal-pod-autoscaler-sync-period). */
  hpaSyncPeriodMs?: number
  /** The informers the controllers read, shared with the scheduler; whoever made them starts them. */
  informers: InformerFactory
  /** The cluster CA published to every namespace as kube-root-ca.crt; unset: not published. */
  rootCaPem?: string
  /** Signs approved CSRs of the built-in signers; unset: nothing is signed. */
  signingCa?: CertAndKey
  /** The mesh CA: signs weft.dev/mesh requests and is published as kube-system/weft-mesh-root-cert; unset: no mesh identities. */
  meshCa?: CertAndKey
  /** The mesh's trust domain: the cluster domain (default cluster.local). */
  meshTrustDomain?: string
  /** The longest a mesh identity is signed for (default 24 h). */
  meshCertificateSeconds?: number
}

/** The pods informer's index by spec.nodeName. */
const POD_NODE_INDEX = 'nodeName'

export class ControllerManager {
  readonly informers: InformerFactory
  readonly controllers: Controller[] = []
  private readonly options: ControllerManagerOptions
  /** The custom resources of the established CRDs, by `group/kind` (for owner lookups). */
  private readonly customKinds = new Map<string, ResourceInfo>()

  constructor(options: ControllerManagerOptions) {
    this.options = options
    this.informers = options.informers
    this.setUp()
  }

  private controller(name: string, reconcile: (key: string) => ReconcileResult | Promise<ReconcileResult>, workers = 2): Controller {
    const c = new Controller({ name, client: this.options.client, log: this.options.log, reconcile, workers })
    this.controllers.push(c)
    return c
  }

  private setUp(): void {
    const inf = this.informers
    const pods = inf.for<V1Pod>(kind('Pod'))
    // Lookups by what controllers ask, not a walk over every pod per event.
    ensureIndex(pods, POD_NODE_INDEX, (p) => (p.spec?.nodeName ? [p.spec.nodeName] : []))
    ensureIndex(pods, LABELS_INDEX, labelIndexValues)
    ensureIndex(pods, CONTROLLER_INDEX, controllerIndexValues)
    const services = inf.for<V1Service>(kind('Service'))
    const slices = inf.for<V1EndpointSlice>(kind('EndpointSlice'))
    const endpoints = inf.for<V1Endpoints>(kind('Endpoints'))
    const nodes = inf.for<V1Node>(kind('Node'))
    const leases = inf.for<V1Lease>(kind('Lease'))
    const replicaSets = inf.for<V1ReplicaSet>(kind('ReplicaSet'))
    const deployments = inf.for<V1Deployment>(kind('Deployment'))
    const namespaces = inf.for<V1Namespace>(kind('Namespace'))
    const now = () => new Date()

    // EndpointSlices and Endpoints: keyed by Service. A Service without a selector (or
    // with an empty one) selects nothing: its endpoints are someone else's.
    const serviceSelector = cachedSelector<V1Service>((s) => (s.spec?.selector && Object.keys(s.spec.selector).length > 0 ? { matchLabels: s.spec.selector } : null))
    ensureIndex(services, SELECTOR_INDEX, selectorIndexFunc(serviceSelector))
    ensureIndex(slices, LABELS_INDEX, labelIndexValues)
    const servicesSelecting = (pod: V1Pod): string[] => selecting(services.indexer, serviceSelector, pod).map(keyOf)
    const nodeMap = new Map<string, V1Node>()
    nodes.addHandlers({
      onAdd: (n) => nodeMap.set(n.metadata!.name!, n),
      onUpdate: (_o, n) => nodeMap.set(n.metadata!.name!, n),
      onDelete: (n) => nodeMap.delete(n.metadata!.name!),
    })
    const eps = this.controller('endpointslice-controller', (key) => {
      const { namespace, name } = splitKey(key)
      const service = services.get(key)
      const podsHere = service ? selectedBy(pods.indexer, namespace ?? '', serviceSelector(service)) : []
      const mine = selectedBy(slices.indexer, namespace ?? '', selectorFromSet({ 'kubernetes.io/service-name': name }))
      return {
        actions: [...reconcileEndpointSlices(service, podsHere, mine, nodeMap), ...reconcileEndpoints(service, podsHere, endpoints.get(key))],
      }
    }, 8)
    eps.watch(services, (s) => [keyOf(s)])
    eps.watch(pods, servicesSelecting)
    eps.watch(slices, (s) => {
      const svc = s.metadata?.labels?.['kubernetes.io/service-name']
      return svc ? [`${s.metadata?.namespace}/${svc}`] : []
    })
    eps.watch(endpoints, (e) => [keyOf(e)])
    // Pods on a node the controller has not seen are left out until the node appears.
    const servicesOnNode = (n: V1Node) => {
      for (const p of pods.byIndex(POD_NODE_INDEX, n.metadata!.name!)) for (const key of servicesSelecting(p)) eps.enqueue(key)
    }
    nodes.addHandlers({ onAdd: servicesOnNode, onDelete: servicesOnNode })

    // ReplicaSets and DaemonSets, with upstream's "expectations": after creating or
    // deleting pods, a set waits until its informer has seen them, so it never acts twice
    // on a stale cache.
    const expectations = new Map<string, { pending: number; until: number }>()
    const ownerKey = (pod: V1Pod, kind: string): string | undefined => {
      const ref = pod.metadata?.ownerReferences?.find((r) => r.controller && r.kind === kind)
      return ref ? `${kind}:${pod.metadata?.namespace}/${ref.name}` : undefined
    }
    const observe = (pod: V1Pod) => {
      for (const kind of ['ReplicaSet', 'ReplicationController', 'DaemonSet', 'Job', 'StatefulSet']) {
        const key = ownerKey(pod, kind)
        const e = key ? expectations.get(key) : undefined
        if (e && --e.pending <= 0) expectations.delete(key!)
      }
    }
    pods.addHandlers({
      onAdd: observe,
      // A graceful delete shows first as a deletionTimestamp: that is the delete seen.
      onUpdate: (before, after) => {
        if (!before.metadata?.deletionTimestamp && after.metadata?.deletionTimestamp) observe(after)
      },
      onDelete: (p) => {
        if (!p.metadata?.deletionTimestamp) observe(p)
      },
    })
    // What a set, or a deployment, may claim: what it controls and what its selector
    // matches, from the indices (upstream lists the whole namespace per sync).
    const setSelector = cachedSelector<ClientObject & { spec?: { selector?: V1LabelSelector } }>((s) => s.spec?.selector)
    // A ReplicationController's selector is a plain label map.
    const rcSelector = cachedSelector<V1ReplicationController>((rc) => replicationControllerKind.selector(rc))
    const podsClaimableBy = <T extends ClientObject>(set: T, selectorOf: (s: T) => LabelSelector) =>
      claimCandidates(pods.indexer, set.metadata?.uid, set.metadata?.namespace ?? '', selectorOf(set))
    const podSetController = <T extends ClientObject>(
      name: string,
      kindName: string,
      sets: Informer<T>,
      selectorOf: (s: T) => LabelSelector,
      reconcile: (key: string, at: Date) => { actions: ReconcileResult['actions']; recheck?: Date },
    ) => {
      ensureIndex(sets, SELECTOR_INDEX, selectorIndexFunc(selectorOf))
      const c = this.controller(name, (key) => {
        const expectationKey = `${kindName}:${key}`
        const e = expectations.get(expectationKey)
        if (e && e.pending > 0 && Date.now() < e.until) return { actions: [], requeueAfterMs: 200 }
        expectations.delete(expectationKey)
        const at = now()
        const { actions, recheck } = reconcile(key, at)
        const changes = actions.filter((a) => (a.verb === 'create' || a.verb === 'delete') && a.info.kind === 'Pod').length
        if (changes > 0) expectations.set(expectationKey, { pending: changes, until: Date.now() + 5000 })
        return { actions, requeueAfterMs: recheck ? Math.max(0, recheck.getTime() - at.getTime()) : undefined }
      })
      c.watch(sets, (s) => [keyOf(s)])
      c.watch(pods, (p) => {
        const owner = ownerKey(p, kindName)
        if (owner) return [owner.slice(kindName.length + 1)]
        // An orphan may be adopted by any set whose selector matches it.
        return selecting(sets.indexer, selectorOf, p).map(keyOf)
      })
      return c
    }
    podSetController('replicaset-controller', 'ReplicaSet', replicaSets, setSelector, (key, at) => {
      const rs = replicaSets.get(key)
      const podsHere = rs ? podsClaimableBy(rs, setSelector) : []
      return { actions: reconcileReplicaSet(rs, podsHere, at), recheck: availabilityRecheckAt(rs, podsHere, at) }
    })
    // HorizontalPodAutoscalers: each autoscaler again every sync period.
    const autoscalers = inf.for<V2HorizontalPodAutoscaler>(kind('HorizontalPodAutoscaler'))
    // A custom resource with a scale subresource is a target too.
    const findTarget = (apiVersion: string, kindName: string) => this.customKinds.get(`${apiVersion.includes('/') ? apiVersion.split('/')[0] : ''}/${kindName}`)
    this.controller('horizontal-pod-autoscaler', hpaReconciler({ client: this.options.client, autoscalers, pods, syncPeriodMs: this.options.hpaSyncPeriodMs, findTarget })).watch(autoscalers, (h) => [keyOf(h)])

    const replicationControllers = inf.for<V1ReplicationController>(kind('ReplicationController'))
    podSetController('replication-controller', 'ReplicationController', replicationControllers, rcSelector, (key, at) => {
      const rc = replicationControllers.get(key)
      const podsHere = rc ? podsClaimableBy(rc, rcSelector) : []
      return { actions: reconcileReplicaSet(rc, podsHere, at, replicationControllerKind), recheck: availabilityRecheckAt(rc, podsHere, at) }
    })
    // ControllerRevisions, the history of DaemonSets and StatefulSets: each set reads the ones
    // it controls or its selector matches, and looks any up by name (names collide across owners).
    const revisions = inf.for<V1ControllerRevision>(kind('ControllerRevision'))
    ensureIndex(revisions, LABELS_INDEX, labelIndexValues)
    ensureIndex(revisions, CONTROLLER_INDEX, controllerIndexValues)
    const historyOf = (set: ClientObject & { spec?: { selector?: V1LabelSelector } }) => {
      const ns = set.metadata?.namespace ?? ''
      return {
        revisions: claimCandidates(revisions.indexer, set.metadata?.uid, ns, setSelector(set)),
        named: (name: string) => revisions.get(`${ns}/${name}`),
      }
    }
    // A revision wakes its controller; an orphan, every set of the kind whose selector matches it.
    const revisionKeys = <T extends ClientObject & { spec?: { selector?: V1LabelSelector } }>(kindName: string, sets: Informer<T>) => (r: V1ControllerRevision) => {
      const ref = r.metadata?.ownerReferences?.find((o) => o.controller)
      if (!ref) return selecting(sets.indexer, setSelector, r).map(keyOf)
      return ref.kind === kindName ? [`${r.metadata?.namespace}/${ref.name}`] : []
    }

    const daemonSets = inf.for<V1DaemonSet>(kind('DaemonSet'))
    const dsController = podSetController('daemonset-controller', 'DaemonSet', daemonSets, setSelector, (key, at) => {
      const ds = daemonSets.get(key)
      return { actions: ds ? reconcileDaemonSet(ds, nodes.list(), podsClaimableBy(ds, setSelector), at, historyOf(ds)) : [] }
    })
    // A node that comes, goes or changes may change where daemon pods belong.
    dsController.watch(nodes, () => daemonSets.list().map(keyOf))
    dsController.watch(revisions, revisionKeys('DaemonSet', daemonSets))

    // StatefulSets, with the claims their volumeClaimTemplates make.
    const statefulSets = inf.for<V1StatefulSet>(kind('StatefulSet'))
    const pvcInfo = kind('PersistentVolumeClaim')
    const claims = inf.for<V1PersistentVolumeClaim>(pvcInfo)
    const claimView = (ns: string): ClaimView => ({ info: pvcInfo, get: (name) => claims.get(`${ns}/${name}`) })
    const stsController = podSetController('statefulset-controller', 'StatefulSet', statefulSets, setSelector, (key, at) => {
      const set = statefulSets.get(key)
      if (!set) return { actions: [] }
      const history = historyOf(set)
      return reconcileStatefulSet({ set, pods: podsClaimableBy(set, setSelector), revisions: history.revisions, revisionNamed: history.named, claims: claimView(set.metadata?.namespace ?? ''), now: at })
    })
    stsController.watch(revisions, revisionKeys('StatefulSet', statefulSets))

    this.setUpBatchControllers(pods, (name, kindName, sets, reconcile) => podSetController(name, kindName, sets, setSelector, reconcile))

    // Deployments: keyed by Deployment; resynced every 30 s for progress deadlines.
    ensureIndex(replicaSets, LABELS_INDEX, labelIndexValues)
    ensureIndex(replicaSets, CONTROLLER_INDEX, controllerIndexValues)
    ensureIndex(deployments, SELECTOR_INDEX, selectorIndexFunc(setSelector))
    const depController = this.controller('deployment-controller', (key) => {
      const d = deployments.get(key)
      if (!d) return { actions: [] }
      const ns = d.metadata?.namespace ?? ''
      const sets = claimCandidates(replicaSets.indexer, d.metadata?.uid, ns, setSelector(d))
      const podsHere = selectedBy(pods.indexer, ns, setSelector(d))
      return { actions: reconcileDeployment(d, sets, podsHere, now(), (name) => replicaSets.get(`${ns}/${name}`) !== undefined), requeueAfterMs: 30_000 }
    })
    depController.watch(deployments, (d) => [keyOf(d)])
    depController.watch(replicaSets, (rs) => {
      const ref = rs.metadata?.ownerReferences?.find((r) => r.controller && r.kind === 'Deployment')
      if (ref) return [`${rs.metadata?.namespace}/${ref.name}`]
      return selecting(deployments.indexer, setSelector, rs).map(keyOf)
    })

    this.setUpDisruptionController(pods)

    // Node lifecycle: keyed by node name.
    const podsOnNode = (name: string) => pods.byIndex(POD_NODE_INDEX, name)
    const grace = this.options.nodeMonitorGracePeriodSeconds ?? 40
    const health = new NodeHealth({
      evictionRate: this.options.nodeEvictionRate,
      secondaryEvictionRate: this.options.secondaryNodeEvictionRate,
      unhealthyZoneThreshold: this.options.unhealthyZoneThreshold,
      largeClusterSizeThreshold: this.options.largeClusterSizeThreshold,
    })
    nodes.addHandlers({ onDelete: (n) => health.forget(n.metadata!.name!) })
    const heard = (n: V1Node, at: number) => health.lastHeard(n, leases.get(`kube-node-lease/${n.metadata!.name}`), at)
    // Zone states change slowly; they are worked out again at most once a second, not per node.
    let zones: { at: number; view: ReturnType<NodeHealth['zoneRates']> } | undefined
    const zoneView = (at: number) => {
      if (zones && at - zones.at < 1000) return zones.view
      const view = health.zoneRates(
        nodes.list().map((n) => ({
          zone: zoneOf(n),
          ready: at - heard(n, at) <= grace * 1000 && n.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True',
        })),
      )
      zones = { at, view }
      return view
    }
    const nodeLifecycle = this.controller('node-lifecycle-controller', (name) => {
      const node = nodes.get(name)
      const at = now()
      const view = zoneView(at.getTime())
      const zone = node ? zoneOf(node) : ''
      const result = reconcileNode(node, leases.get(`kube-node-lease/${name}`), podsOnNode(name), at, {
        gracePeriodSeconds: grace,
        lastHeardMs: node ? heard(node, at.getTime()) : at.getTime(),
        allDisrupted: view.allDisrupted,
        mayTaintNoExecute: () => health.takeEvictionToken(zone, view.rates.get(zone) ?? health.options.evictionRate, at.getTime()),
      })
      // Re-check a node at least every grace period: silence is what this controller watches for.
      const every = grace * 1000
      return { actions: result.actions, requeueAfterMs: nodes.get(name) ? Math.min(result.requeueAfterMs ?? every, every) : undefined }
    })
    nodeLifecycle.watch(nodes, (n) => [n.metadata!.name!])
    nodeLifecycle.watch(leases, (l) => (l.metadata?.namespace === 'kube-node-lease' ? [l.metadata.name!] : []))

    // Pod GC: pods bound to nodes that are gone, counted from when the node was deleted
    // or first noticed missing.
    const nodeGone = new Map<string, number>()
    nodes.addHandlers({ onAdd: (n) => nodeGone.delete(n.metadata!.name!), onDelete: (n) => nodeGone.set(n.metadata!.name!, Date.now()) })
    const missingSince = (name: string): number | undefined => {
      if (nodes.get(name)) return undefined
      if (!nodeGone.has(name)) nodeGone.set(name, Date.now())
      return nodeGone.get(name)
    }
    const quarantineMs = (this.options.podGCQuarantineSeconds ?? 40) * 1000
    const podGC = this.controller('pod-garbage-collector', () => reconcileOrphanedPods(pods.list(), missingSince, now(), quarantineMs))
    podGC.watch(nodes, () => ['pods'])
    podGC.watch(pods, (p) => (p.spec?.nodeName && !nodes.get(p.spec.nodeName) ? ['pods'] : []))

    // Node IPAM: one key, the whole node list, seen with the CIDRs it just gave out.
    const clusterCidrs = this.options.clusterCidrs ?? ['10.244.0.0/16']
    const cidrWrites = new OwnWrites<string[]>()
    const ipam = this.controller('node-ipam-controller', () => {
      const view = nodes.list().map((n) => {
        const written = cidrWrites.overlay(n.metadata!.name!, n.spec?.podCIDRs ?? [])
        return written ? { ...n, spec: { ...n.spec, podCIDR: written[0], podCIDRs: written } } : n
      })
      const actions = allocatePodCIDRs(view, clusterCidrs, undefined, claimsOf('pod-cidr', leases.byIndex('namespace', CLAIM_NAMESPACE)))
      for (const a of actions) {
        if (a.verb === 'patch') cidrWrites.record(a.name, (a.patch as { spec: { podCIDRs: string[] } }).spec.podCIDRs)
      }
      return { actions }
    })
    ipam.watch(nodes, () => ['nodes'])
    ipam.watch(leases, (l) => (l.metadata?.labels?.[CLAIM_LABEL] === 'pod-cidr' ? ['nodes'] : []))

    // Service load balancers: one worker, and the addresses it just wrote laid over the
    // cache, so no address is handed out twice.
    const pool = this.options.loadBalancerPool ?? []
    const ingressWrites = new OwnWrites<unknown>()
    const ingressOf = (s: V1Service) => s.status?.loadBalancer?.ingress ?? null
    const lb = this.controller(
      'service-lb-controller',
      (key) => {
        const view = services.list().map((s) => {
          const written = ingressWrites.overlay(keyOf(s), ingressOf(s))
          return written === undefined ? s : ({ ...s, status: { ...s.status, loadBalancer: { ingress: written } } } as V1Service)
        })
        const service = view.find((s) => keyOf(s) === key)
        const actions = reconcileServiceLB(service, view, pool, now(), claimsOf('lb-ip', leases.byIndex('namespace', CLAIM_NAMESPACE)))
        for (const a of actions) {
          if (a.verb === 'patch' && a.subresource === 'status') ingressWrites.record(key, (a.patch as { status: { loadBalancer: { ingress: unknown } } }).status.loadBalancer.ingress)
        }
        return { actions }
      },
      1,
    )
    lb.watch(services, (s) => [keyOf(s)])

    // Namespaces: everything namespaced in a terminating namespace goes first (custom
    // resources too: see watchCustomResources).
    const namespaced = storedResources.filter((r) => r.namespaced).map((info) => ({ info, informer: inf.for(info) }))
    const nsController = this.controller('namespace-controller', (name) => ({
      actions: reconcileNamespace(
        namespaces.get(name),
        namespaced.map(({ info, informer }) => ({ info, items: informer.byIndex('namespace', name) })),
        now(),
      ),
    }))
    nsController.watch(namespaces, (n) => [n.metadata!.name!])
    const inTerminatingNamespace = (o: ClientObject) => {
      const ns = namespaces.get(o.metadata?.namespace ?? '')
      return ns?.metadata?.deletionTimestamp ? [ns.metadata.name!] : []
    }
    for (const { informer } of namespaced) nsController.watch(informer, inTerminatingNamespace)

    this.setUpSecurityControllers(namespaces, pods)
    setUpStorageControllers(inf, (name, reconcile, workers) => this.controller(name, reconcile, workers))
    this.setUpResourceQuotaController()

    // Garbage collector: a graph of every object that can own or be owned, with each owner's
    // dependents indexed, kept current by the informers; the work is keyed by uid, so a pass
    // looks at what changed and its owners or dependents, never at the whole cluster.
    const all = storedResources.filter((r) => r.kind !== 'Event').map((info) => ({ info, informer: inf.for(info) }))
    const graph = new GcGraph()
    const gc = this.controller('garbage-collector', async (uid) => {
      const o = graph.get(uid)
      if (!o) return { actions: [] }
      const actions = reconcileObject(o, graph)
      // An owner missing from the caches may only be missing from a cache that lags (its
      // informer has not seen it yet): as upstream does, ask the API before acting on it.
      const confirmed: typeof actions = []
      for (const action of actions) {
        // The garbage collector's deletes carry a uid precondition, its patches the uid in metadata.
        const targetUid = action.verb === 'delete' ? action.uid : action.verb === 'patch' ? (action.patch as { metadata?: { uid?: string } }).metadata?.uid : undefined
        const target = targetUid ? graph.get(targetUid) : undefined
        let lagging = false
        for (const ref of target?.ownerReferences ?? []) {
          if (graph.get(ref.uid)) continue
          if (await this.ownerExists(ref, target!.namespace)) lagging = true
        }
        if (!lagging) confirmed.push(action)
      }
      return { actions: confirmed, requeueAfterMs: confirmed.length < actions.length ? 1000 : undefined }
    })
    const ownership = (o: ClientObject) => JSON.stringify(o.metadata?.ownerReferences ?? []) + String(Boolean(o.metadata?.deletionTimestamp)) + JSON.stringify(o.metadata?.finalizers ?? [])
    const involved = (o: GcObject) => {
      if (o.ownerReferences?.length || (o.deletionTimestamp && o.finalizers?.length)) gc.enqueue(o.uid)
    }
    const watchForGc = (info: ResourceInfo, informer: Informer<ClientObject>) =>
      informer.addHandlers({
        onAdd: (obj) => {
          const o = toGcObject(info, obj)
          graph.set(o)
          involved(o)
          // Dependents that came first (their owner's cache lagged) are judged again.
          for (const d of graph.dependentUids(o.uid)) gc.enqueue(d)
        },
        onUpdate: (before, after) => {
          if (ownership(before) === ownership(after)) return
          const o = toGcObject(info, after)
          graph.set(o)
          involved(o)
          // An owner whose deletion started (or changed policy) changes what its dependents should do.
          for (const d of graph.dependentUids(o.uid)) gc.enqueue(d)
          // An owner waiting on this dependent (foreground) may be free now.
          for (const ref of [...(before.metadata?.ownerReferences ?? []), ...(after.metadata?.ownerReferences ?? [])]) gc.enqueue(ref.uid)
        },
        onDelete: (obj) => {
          const uid = obj.metadata?.uid ?? ''
          const dependents = graph.dependentUids(uid)
          graph.remove(uid)
          // Its dependents may be orphans now; its owners may have been waiting for it.
          for (const d of dependents) gc.enqueue(d)
          for (const ref of obj.metadata?.ownerReferences ?? []) gc.enqueue(ref.uid)
        },
      })
    for (const { info, informer } of all) watchForGc(info, informer)

    this.watchCustomResources((info, informer) => {
      const entry = { info, informer }
      const stops = [watchForGc(info, informer)]
      if (info.namespaced) {
        namespaced.push(entry)
        nsController.watch(informer, inTerminatingNamespace)
      }
      return () => {
        const i = namespaced.indexOf(entry)
        if (i >= 0) namespaced.splice(i, 1)
        for (const stop of stops) stop()
        for (const o of informer.list()) graph.remove(o.metadata?.uid ?? '')
      }
    })
  }

  /**
   * Each established CRD's resources get an informer (its preferred version) while the CRD
   * lasts, for the controllers that act on every kind: the namespace controller deletes them
   * with their namespace, and the garbage collector follows owner references to and from
   * them. `track` wires one up and returns how to unwire it.
   */
  private watchCustomResources(track: (info: ResourceInfo, informer: Informer<ClientObject>) => () => void): void {
    const inf = this.informers
    const tracked = new Map<string, { info: ResourceInfo; untrack: () => void }>()
    const untrack = (name: string) => {
      const entry = tracked.get(name)
      if (!entry) return
      tracked.delete(name)
      entry.untrack()
      void inf.remove(entry.info)
    }
    const sync = (crd: ClientObject) => {
      const name = crd.metadata?.name ?? ''
      const status = (crd as { status?: { conditions?: { type: string; status: string }[] } }).status
      const established = (status?.conditions ?? []).some((c) => c.type === 'Established' && c.status === 'True')
      const info = established ? customResourceInfos(crd as Record<string, any>)[0] : undefined
      const current = tracked.get(name)
      if (current && (!info || current.info.version !== info.version || current.info.plural !== info.plural || current.info.namespaced !== info.namespaced)) untrack(name)
      if (!info || tracked.has(name)) return
      const informer = inf.for(info)
      const kindKey = `${info.group}/${info.kind}`
      this.customKinds.set(kindKey, info)
      const unwire = track(info, informer)
      tracked.set(name, {
        info,
        untrack: () => {
          this.customKinds.delete(kindKey)
          unwire()
        },
      })
    }
    const crds = inf.for(kind('CustomResourceDefinition'))
    crds.addHandlers({ onAdd: sync, onUpdate: (_before, after) => sync(after), onDelete: (crd) => untrack(crd.metadata?.name ?? '') })
  }

  /**
   * Jobs (with the pod-set expectations), the finalizers of pods no running Job counts,
   * CronJobs and TTL-after-finished (upstream's job-controller, cronjob-controller and
   * ttl-after-finished-controller).
   */
  private setUpBatchControllers(
    pods: Informer<V1Pod>,
    podSetController: (name: string, kindName: string, sets: Informer<V1Job>, reconcile: (key: string, at: Date) => { actions: ReconcileResult['actions']; recheck?: Date }) => Controller,
  ): void {
    const inf = this.informers
    const client = this.options.client
    const now = () => new Date()
    const jobInfo = kind('Job')
    const jobs = inf.for<V1Job>(jobInfo)
    const cronJobs = inf.for<V1CronJob>(kind('CronJob'))
    ensureIndex(jobs, CONTROLLER_INDEX, controllerIndexValues)
    const jobSelector = cachedSelector<V1Job>((j) => j.spec?.selector)
    podSetController('job-controller', 'Job', jobs, (key, at) => {
      const job = jobs.get(key)
      const candidates = job ? claimCandidates(pods.indexer, job.metadata?.uid, job.metadata?.namespace ?? '', jobSelector(job)) : []
      const { actions, requeueAfterMs } = reconcileJob(job, candidates, at)
      return { actions, recheck: requeueAfterMs === undefined ? undefined : new Date(at.getTime() + requeueAfterMs) }
    })

    // Pods whose Job is gone or finished (or that have none) lose the tracking finalizer.
    const jobNamed = (ns: string, name: string) => jobs.get(`${ns}/${name}`)
    const tracked = this.controller('job-controller', (key) => ({ actions: reconcileTrackedPod(pods.get(key), jobNamed) }))
    tracked.watch(pods, (p) => (reconcileTrackedPod(p, jobNamed).length > 0 ? [keyOf(p)] : []))
    const releasePods = (job: V1Job) => {
      for (const p of pods.byIndex(CONTROLLER_INDEX, job.metadata?.uid ?? '')) if (hasTrackingFinalizer(p)) tracked.enqueue(keyOf(p))
    }
    jobs.addHandlers({ onUpdate: (_before, after) => (isJobFinished(after) ? releasePods(after) : undefined), onDelete: releasePods })

    // CronJobs: read fresh before each sync (upstream re-reads before it calls a Job
    // unexpected), with the Jobs in status.active that the cache has not seen asked of the API.
    const cronJobController = this.controller('cronjob-controller', async (key) => {
      const cached = cronJobs.get(key)
      if (!cached) return { actions: [] }
      const { namespace, name } = splitKey(key)
      let cronJob: V1CronJob
      try {
        cronJob = await client.get<V1CronJob>(kind('CronJob'), name, namespace)
      } catch (err) {
        if (isNotFound(err)) return { actions: [] }
        throw err
      }
      const owned = jobs.byIndex(CONTROLLER_INDEX, cronJob.metadata?.uid ?? '')
      for (const ref of cronJob.status?.active ?? []) {
        if (owned.some((j) => (ref.uid ? j.metadata?.uid === ref.uid : j.metadata?.name === ref.name))) continue
        try {
          owned.push(await client.get<V1Job>(jobInfo, ref.name ?? '', namespace))
        } catch (err) {
          if (!isNotFound(err)) throw err
        }
      }
      return reconcileCronJob(cronJob, owned, { now: now(), localZone: localZone() })
    }, 1)
    cronJobController.watch(cronJobs, (c) => [keyOf(c)])
    cronJobController.watch(jobs, (j) => {
      const ref = j.metadata?.ownerReferences?.find((r) => r.controller && r.kind === 'CronJob')
      return ref ? [`${j.metadata?.namespace}/${ref.name}`] : []
    })

    // TTL after finished: the TTL is checked again on a fresh read before the Job goes, as upstream.
    const ttl = this.controller('ttl-after-finished-controller', async (key) => {
      const result = reconcileFinishedJobTtl(jobs.get(key), now())
      if (result.actions.length === 0) return result
      const { namespace, name } = splitKey(key)
      try {
        return reconcileFinishedJobTtl(await client.get<V1Job>(jobInfo, name, namespace), now())
      } catch (err) {
        if (isNotFound(err)) return { actions: [] }
        throw err
      }
    }, 1)
    ttl.watch(jobs, (j) => (j.spec?.ttlSecondsAfterFinished !== undefined && j.spec.ttlSecondsAfterFinished !== null ? [keyOf(j)] : []))
  }

  /**
   * The disruption controller: each PodDisruptionBudget's status from the pods its selector
   * matches and the scale of their controllers (keys `budget:<ns>/<name>`), and pods whose
   * DisruptionTarget mark went stale (keys `pod:<ns>/<name>`).
   */
  private setUpDisruptionController(pods: Informer<V1Pod>): void {
    const inf = this.informers
    const budgets = inf.for<V1PodDisruptionBudget>(kind('PodDisruptionBudget'))
    const budgetSelector = cachedSelector<V1PodDisruptionBudget>((b) => b.spec?.selector)
    ensureIndex(budgets, SELECTOR_INDEX, selectorIndexFunc(budgetSelector))
    // Only the workload kinds weft serves have informers; a kind served later joins by itself.
    const workloads = new Map<string, Informer<ClientObject & Workload>>()
    for (const k of WORKLOAD_KINDS) {
      const info = resources.find((r) => r.kind === k)
      if (info) workloads.set(k, inf.for<ClientObject & Workload>(info))
    }
    const lookup: WorkloadLookup = (k, ns, name) => workloads.get(k)?.get(`${ns}/${name}`)
    const BUDGET = 'budget:'
    const POD = 'pod:'
    const c = this.controller('disruption-controller', (key) => {
      const at = new Date()
      let result: { actions: Action[]; recheckAt?: Date }
      if (key.startsWith(POD)) result = reconcileStaleDisruption(pods.get(key.slice(POD.length)) as BudgetPod | undefined, at)
      else {
        const budget = budgets.get(key.slice(BUDGET.length))
        const selected = budget ? selectedBy(pods.indexer, budget.metadata?.namespace ?? '', budgetSelector(budget)) : []
        result = reconcileDisruptionBudget(budget as unknown as Budget | undefined, selected as unknown as BudgetPod[], lookup, at)
      }
      return { actions: result.actions, requeueAfterMs: result.recheckAt ? Math.max(0, result.recheckAt.getTime() - at.getTime()) : undefined }
    })
    c.watch(budgets, (b) => [BUDGET + keyOf(b)])
    c.watch(pods, (p) => {
      const keys = selecting(budgets.indexer, budgetSelector, p).map((b) => BUDGET + keyOf(b))
      if (staleDisruptionWaitMs(p as BudgetPod, new Date()) !== undefined) keys.push(POD + keyOf(p))
      return keys
    })
  }

  /**
   * ResourceQuota: each quota's usage counted again from the caches (the namespace index of
   * each kind it limits) when its spec changes, when something it counts goes away or stops
   * counting without a charge (a pod turning terminal, a Service changing type), when a pod's
   * deletion starts (to look again when its grace ends), and every 5 minutes. What is
   * created the admission plugin has charged already.
   */
  private setUpResourceQuotaController(): void {
    const inf = this.informers
    const quotaInfo = kind('ResourceQuota')
    const quotas = inf.for<V1ResourceQuota>(quotaInfo)
    const registry = new QuotaRegistry(storedResources)
    const controller = this.controller('resourcequota-controller', (key) => {
      const quota = quotas.get(key)
      const ns = quota?.metadata?.namespace ?? ''
      return reconcileResourceQuota(quota, { info: quotaInfo, registry, objectsOf: (ev) => inf.for(ev.info).byIndex('namespace', ns), now: Date.now() })
    })
    quotas.addHandlers({
      onAdd: (q) => controller.enqueue(keyOf(q)),
      // Status writes are the quota system's own: only a new spec calls for a count.
      onUpdate: (before, after) => {
        if (JSON.stringify(before.spec) !== JSON.stringify(after.spec)) controller.enqueue(keyOf(after))
      },
    })
    const replenish = (ev: Evaluator, obj: ClientObject) => {
      const ns = obj.metadata?.namespace
      if (!ns) return
      for (const q of quotas.byIndex('namespace', ns)) if (ev.matchingResources(Object.keys(q.status?.hard ?? {})).length > 0) controller.enqueue(keyOf(q))
    }
    for (const ev of registry.evaluators) {
      inf.for(ev.info).addHandlers({
        onUpdate: (before, after) => {
          // A deletion that starts sets when the pod stops counting: a count then schedules the recount.
          if (ev.replenishes(before, after, Date.now()) || ev.stopsCountingAt(before) !== ev.stopsCountingAt(after)) replenish(ev, after)
        },
        onDelete: (obj) => replenish(ev, obj),
      })
    }
  }

  /**
   * The controllers of service accounts, RBAC aggregation, certificates and bootstrap
   * tokens (upstream's serviceaccount, root-ca-cert-publisher, clusterrole-aggregation,
   * csrapproving, csrsigning and tokencleaner).
   */
  private setUpSecurityControllers(namespaces: Informer<V1Namespace>, pods: Informer<V1Pod>): void {
    const inf = this.informers
    const client = this.options.client
    const now = () => new Date()
    const saInfo = kind('ServiceAccount')
    const cmInfo = kind('ConfigMap')
    const accounts = inf.for<V1ServiceAccount>(saInfo)
    const defaultAccounts = this.controller('serviceaccount-controller', (ns) => ({
      actions: reconcileDefaultServiceAccount(namespaces.get(ns), accounts.get(`${ns}/${DEFAULT_SERVICE_ACCOUNT}`), saInfo),
    }))
    defaultAccounts.watch(namespaces, (n) => [n.metadata!.name!])
    defaultAccounts.watch(accounts, (a) => (a.metadata?.name === DEFAULT_SERVICE_ACCOUNT ? [a.metadata.namespace!] : []))

    const rootCa = this.options.rootCaPem
    if (rootCa) {
      const configMaps = inf.for<V1ConfigMap>(cmInfo)
      const publisher = this.controller('root-ca-cert-publisher', (ns) => ({ actions: reconcileRootCA(namespaces.get(ns), configMaps.get(`${ns}/${ROOT_CA_CONFIGMAP}`), rootCa, cmInfo) }))
      publisher.watch(namespaces, (n) => [n.metadata!.name!])
      publisher.watch(configMaps, (c) => (c.metadata?.name === ROOT_CA_CONFIGMAP ? [c.metadata.namespace!] : []))
    }

    const crInfo = kind('ClusterRole')
    const clusterRoles = inf.for<V1ClusterRole>(crInfo)
    const aggregation = this.controller('clusterrole-aggregation-controller', () => {
      const all = clusterRoles.list()
      const actions: Action[] = []
      for (const u of pendingAggregations(all)) {
        if ('error' in u) {
          this.options.log.warn({ clusterRole: u.name, error: u.error }, 'cannot aggregate a ClusterRole')
          continue
        }
        const role = clusterRoles.get(u.name)
        if (role) actions.push({ verb: 'update', info: crInfo, object: { ...role, rules: u.rules } })
      }
      return { actions }
    }, 1)
    aggregation.watch(clusterRoles, () => ['all'])

    const csrInfo = kind('CertificateSigningRequest')
    const csrs = inf.for<V1CertificateSigningRequest>(csrInfo)
    const parsed = async (csr: V1CertificateSigningRequest) => {
      try {
        return await parseCertificateRequest(requestPem(csr))
      } catch (err) {
        return err instanceof Error ? err : new Error(String(err))
      }
    }
    const mayRequest = async (user: UserInfo, subresource: string): Promise<boolean> => {
      const review = await client.request<{ status?: { allowed?: boolean } }>('POST', '/apis/authorization.k8s.io/v1/subjectaccessreviews', {
        apiVersion: 'authorization.k8s.io/v1',
        kind: 'SubjectAccessReview',
        spec: { user: user.username, uid: user.uid, groups: user.groups, extra: user.extra, resourceAttributes: { group: 'certificates.k8s.io', resource: 'certificatesigningrequests', verb: 'create', subresource } },
      })
      return review?.status?.allowed === true
    }
    const nodes = inf.for<V1Node>(kind('Node'))
    const meshCa = this.options.meshCa
    const trustDomain = this.options.meshTrustDomain ?? 'cluster.local'
    // The informer may not have the pod yet that the node's agent already saw: the API answers then.
    const runsOnNode = async (m: MeshRequest): Promise<boolean> => {
      if (runsAs(pods.byIndex(POD_NODE_INDEX, m.node), m.node, m.identity)) return true
      const live = await client.list<V1Pod>(kind('Pod'), { namespace: m.identity.namespace, fieldSelector: `spec.nodeName=${m.node}` })
      return runsAs(live.items, m.node, m.identity)
    }
    const approver = this.controller('csrapproving', async (name) => {
      const csr = csrs.get(name)
      if (!csr || decided(csr)) return { actions: [] }
      const req = await parsed(csr)
      if (csr.spec.signerName === MESH_SIGNER) {
        const verdict = meshCa ? await judgeMesh(csr, req, trustDomain, runsOnNode) : undefined
        return { actions: verdict ? [{ verb: 'update', info: csrInfo, object: withVerdict(csr, verdict, now()), subresource: 'approval' }] : [] }
      }
      const spec = csr.spec
      const user: UserInfo = { username: spec.username ?? '', uid: spec.uid, groups: spec.groups ?? [], extra: spec.extra as Record<string, string[]> | undefined }
      const client = spec.signerName === KUBELET_CLIENT_SIGNER
      const allowed = { nodeclient: client && (await mayRequest(user, 'nodeclient')), selfnodeclient: client && (await mayRequest(user, 'selfnodeclient')) }
      const verdict = judge(csr, req, (_u, sub) => allowed[sub], (n) => nodes.get(n))
      return { actions: verdict ? [{ verb: 'update', info: csrInfo, object: withVerdict(csr, verdict, now()), subresource: 'approval' }] : [] }
    }, 1)
    approver.watch(csrs, (c) => [c.metadata!.name!])
    // A serving request waits for its Node's addresses: a change to the Node looks at it again.
    approver.watch(nodes, (n) =>
      csrs
        .list()
        .filter((c) => c.spec.signerName === KUBELET_SERVING_SIGNER && c.spec.username === `${NODE_PREFIX}${n.metadata?.name}` && !decided(c))
        .map((c) => c.metadata!.name!),
    )

    const ca = this.options.signingCa
    if (meshCa) {
      const maxSeconds = this.options.meshCertificateSeconds ?? DEFAULT_MESH_CERT_SECONDS
      const meshSigner = this.controller('csrsigning-mesh', async (name) => {
        const csr = csrs.get(name)
        if (!csr) return { actions: [] }
        const req = await parsed(csr)
        const plan = await planMeshSigning(csr, req, trustDomain, maxSeconds, runsOnNode)
        if (!plan) return { actions: [] }
        if ('fail' in plan) return { actions: [{ verb: 'updateStatus', info: csrInfo, object: withFailure(csr, plan.fail, now()) }] }
        const certPem = await signCertificateRequest(meshCa, requestPem(csr), { usages: ['client', 'server'], validitySeconds: plan.sign.seconds })
        return { actions: [{ verb: 'updateStatus', info: csrInfo, object: { ...csr, status: { ...csr.status, certificate: Buffer.from(certPem).toString('base64') } } }] }
      }, 1)
      meshSigner.watch(csrs, (c) => (c.spec.signerName === MESH_SIGNER ? [c.metadata!.name!] : []))
      const configMaps = inf.for<V1ConfigMap>(cmInfo)
      const rootPublisher = this.controller('mesh-root-publisher', () => ({ actions: namespaces.get(MESH_ROOT_NAMESPACE) ? reconcileMeshRoot(configMaps.get(`${MESH_ROOT_NAMESPACE}/${MESH_ROOT_CONFIGMAP}`), meshCa.certPem, cmInfo) : [] }), 1)
      rootPublisher.watch(namespaces, (n) => (n.metadata?.name === MESH_ROOT_NAMESPACE ? ['root'] : []))
      rootPublisher.watch(configMaps, (c) => (c.metadata?.namespace === MESH_ROOT_NAMESPACE && c.metadata.name === MESH_ROOT_CONFIGMAP ? ['root'] : []))
    }
    if (ca) {
      const signer = this.controller('csrsigning', async (name) => {
        const csr = csrs.get(name)
        if (!csr) return { actions: [] }
        const req = await parsed(csr)
        const plan = planSigning(csr, req)
        if (!plan) return { actions: [] }
        if ('fail' in plan) return { actions: [{ verb: 'updateStatus', info: csrInfo, object: withFailure(csr, plan.fail, now()) }] }
        const certPem = await signCertificateRequest(ca, requestPem(csr), { usages: plan.sign.usages, validitySeconds: plan.sign.seconds })
        return { actions: [{ verb: 'updateStatus', info: csrInfo, object: { ...csr, status: { ...csr.status, certificate: Buffer.from(certPem).toString('base64') } } }] }
      }, 1)
      signer.watch(csrs, (c) => [c.metadata!.name!])
    }

    const secretInfo = kind('Secret')
    const secrets = inf.for<V1Secret>(secretInfo)
    const cleaner = this.controller('tokencleaner', () => reconcileExpiredBootstrapTokens(secrets.byIndex('namespace', 'kube-system'), secretInfo, now()), 1)
    cleaner.watch(secrets, (s) => (s.type === BOOTSTRAP_TOKEN_SECRET_TYPE ? ['tokens'] : []))
  }

  /** Whether the owner a reference names exists (same uid), asked of the API server itself. */
  private async ownerExists(ref: { apiVersion: string; kind: string; name: string; uid: string }, namespace: string | undefined): Promise<boolean> {
    const group = ref.apiVersion.includes('/') ? ref.apiVersion.split('/')[0] : ''
    const info = resources.find((r) => r.kind === ref.kind && r.group === group) ?? this.customKinds.get(`${group}/${ref.kind}`)
    // An owner of a kind weft does not serve (a custom resource without an established
    // CRD) cannot be looked up, so it cannot be shown gone: as upstream does, its
    // dependents are left alone.
    if (!info) return true
    try {
      const owner = await this.options.client.get(info, ref.name, info.namespaced ? namespace : undefined)
      return owner.metadata?.uid === ref.uid
    } catch (err) {
      if (isNotFound(err)) return false
      throw err
    }
  }
}
