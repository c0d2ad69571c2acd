import t from 'tap'
import { applyDefaults } from '../../src/api/defaults.ts'
import { resources } from '../../src/api/registry.ts'

const info = (kind: string) => resources.find((r) => r.kind === kind)!

t.test('Pod defaults, as Kubernetes sets them', async (t) => {
  const pod: any = {
    metadata: { name: 'p' },
    spec: {
      containers: [
        { name: 'a', image: 'nginx', ports: [{ containerPort: 80 }], readinessProbe: { httpGet: { port: 80 } } },
        { name: 'b', image: 'nginx:1.27', resources: { limits: { cpu: '1', memory: '1Gi' } } },
        { name: 'c', image: 'repo/app:latest' },
        { name: 'd', image: 'repo/app@sha256:abc' },
      ],
    },
  }
  applyDefaults(info('Pod'), pod)
  t.equal(pod.spec.restartPolicy, 'Always')
  t.equal(pod.spec.dnsPolicy, 'ClusterFirst')
  t.equal(pod.spec.schedulerName, 'default-scheduler')
  t.equal(pod.spec.terminationGracePeriodSeconds, 30)
  t.equal(pod.spec.enableServiceLinks, true)
  const [a, b, c, d] = pod.spec.containers
  t.equal(a.imagePullPolicy, 'Always', 'untagged image')
  t.equal(b.imagePullPolicy, 'IfNotPresent', 'tagged image')
  t.equal(c.imagePullPolicy, 'Always', ':latest')
  t.equal(d.imagePullPolicy, 'IfNotPresent', 'digest')
  t.equal(a.ports[0].protocol, 'TCP')
  t.same(a.readinessProbe, { httpGet: { port: 80, path: '/', scheme: 'HTTP' }, timeoutSeconds: 1, periodSeconds: 10, successThreshold: 1, failureThreshold: 3 })
  t.same(b.resources.requests, { cpu: '1', memory: '1Gi' }, 'requests default to limits')
  t.equal(a.terminationMessagePath, '/dev/termination-log')
  t.same(
    pod.spec.tolerations,
    [
      { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
      { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
    ],
    'DefaultTolerationSeconds',
  )
  t.equal(pod.status.phase, 'Pending')
  t.equal(pod.status.qosClass, 'Burstable')
})

t.test('existing tolerations are respected and defaulting is idempotent', async (t) => {
  const pod: any = { metadata: { name: 'p' }, spec: { tolerations: [{ operator: 'Exists' }], containers: [{ name: 'a', image: 'x:1' }] } }
  applyDefaults(info('Pod'), pod)
  t.same(pod.spec.tolerations, [{ operator: 'Exists' }], 'a tolerate-everything toleration covers both')
  const once = structuredClone(pod)
  applyDefaults(info('Pod'), pod)
  t.same(pod, once)
})

t.test('QoS classes', async (t) => {
  const qos = (resources: object) => {
    const pod: any = { metadata: { name: 'p' }, spec: { containers: [{ name: 'a', image: 'x:1', resources }] } }
    applyDefaults(info('Pod'), pod)
    return pod.status.qosClass
  }
  t.equal(qos({}), 'BestEffort')
  t.equal(qos({ limits: { cpu: '1', memory: '1Gi' } }), 'Guaranteed')
  t.equal(qos({ requests: { cpu: '1' } }), 'Burstable')
})

t.test('Service defaults', async (t) => {
  const svc: any = { metadata: { name: 's' }, spec: { type: 'NodePort', sessionAffinity: 'ClientIP', ports: [{ port: 80 }, { port: 53, protocol: 'UDP', targetPort: 'dns' }] } }
  applyDefaults(info('Service'), svc)
  t.same(svc.spec.ports, [{ port: 80, protocol: 'TCP', targetPort: 80 }, { port: 53, protocol: 'UDP', targetPort: 'dns' }])
  t.equal(svc.spec.externalTrafficPolicy, 'Cluster')
  t.equal(svc.spec.internalTrafficPolicy, 'Cluster')
  t.equal(svc.spec.sessionAffinityConfig.clientIP.timeoutSeconds, 10800)
  const ext: any = { metadata: { name: 'e' }, spec: { type: 'ExternalName', externalName: 'x.example' } }
  applyDefaults(info('Service'), ext)
  t.same(ext.spec, { type: 'ExternalName', externalName: 'x.example' }, 'ExternalName gets nothing else')
  const plain: any = { metadata: { name: 'c' }, spec: { ports: [{ port: 1 }] } }
  applyDefaults(info('Service'), plain)
  t.equal(plain.spec.type, 'ClusterIP')
  t.notOk(plain.spec.externalTrafficPolicy, 'ClusterIP has no external policy')
})

t.test('workload defaults', async (t) => {
  const dep: any = { metadata: { name: 'd' }, spec: { template: { spec: { containers: [{ name: 'a', image: 'x:1' }] } } } }
  applyDefaults(info('Deployment'), dep)
  t.equal(dep.spec.replicas, 1)
  t.same(dep.spec.strategy, { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '25%', maxSurge: '25%' } })
  t.equal(dep.spec.revisionHistoryLimit, 10)
  t.equal(dep.spec.progressDeadlineSeconds, 600)
  t.equal(dep.spec.template.spec.restartPolicy, 'Always')
  const recreate: any = { metadata: { name: 'r' }, spec: { strategy: { type: 'Recreate' }, template: { spec: { containers: [] } } } }
  applyDefaults(info('Deployment'), recreate)
  t.same(recreate.spec.strategy, { type: 'Recreate' })
  const ds: any = { metadata: { name: 'ds' }, spec: { template: { spec: { containers: [] } } } }
  applyDefaults(info('DaemonSet'), ds)
  t.same(ds.spec.updateStrategy, { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1, maxSurge: 0 } })
})

t.test('StatefulSet defaults', async (t) => {
  const claim = { metadata: { name: 'data' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } }
  const sts: any = { metadata: { name: 'db' }, spec: { serviceName: 'db', template: { spec: { containers: [{ name: 'a', image: 'x:1' }] } }, volumeClaimTemplates: [claim] } }
  applyDefaults(info('StatefulSet'), sts)
  t.equal(sts.spec.replicas, 1)
  t.equal(sts.spec.revisionHistoryLimit, 10)
  t.equal(sts.spec.podManagementPolicy, 'OrderedReady')
  t.same(sts.spec.updateStrategy, { type: 'RollingUpdate', rollingUpdate: { partition: 0, maxUnavailable: 1 } })
  t.same(sts.spec.persistentVolumeClaimRetentionPolicy, { whenDeleted: 'Retain', whenScaled: 'Retain' })
  t.equal(sts.spec.volumeClaimTemplates[0].spec.volumeMode, 'Filesystem')
  t.same(sts.spec.volumeClaimTemplates[0].status, { phase: 'Pending' })
  t.equal(sts.spec.template.spec.restartPolicy, 'Always')
  t.same(sts.status, { replicas: 0, availableReplicas: 0 }, 'the counts Go writes even when zero')

  const given: any = {
    metadata: { name: 'db' },
    spec: { replicas: 0, podManagementPolicy: 'Parallel', updateStrategy: { type: 'RollingUpdate' }, persistentVolumeClaimRetentionPolicy: { whenScaled: 'Delete' }, template: { spec: { containers: [] } } },
  }
  applyDefaults(info('StatefulSet'), given)
  t.equal(given.spec.replicas, 0, 'zero replicas stay zero')
  t.equal(given.spec.podManagementPolicy, 'Parallel')
  t.same(given.spec.updateStrategy, { type: 'RollingUpdate' }, 'a given type without rollingUpdate gets none, as upstream')
  t.same(given.spec.persistentVolumeClaimRetentionPolicy, { whenScaled: 'Delete', whenDeleted: 'Retain' })
  const onDelete: any = { metadata: { name: 'db' }, spec: { updateStrategy: { type: 'OnDelete' }, template: { spec: { containers: [] } } } }
  applyDefaults(info('StatefulSet'), onDelete)
  t.same(onDelete.spec.updateStrategy, { type: 'OnDelete' })
})

t.test('Namespace and Secret defaults', async (t) => {
  const ns: any = { metadata: { name: 'team-a' } }
  applyDefaults(info('Namespace'), ns)
  t.same(ns.spec.finalizers, ['kubernetes'])
  t.equal(ns.status.phase, 'Active')
  t.equal(ns.metadata.labels['kubernetes.io/metadata.name'], 'team-a')
  const secret: any = { metadata: { name: 's' } }
  applyDefaults(info('Secret'), secret)
  t.equal(secret.type, 'Opaque')
  const withString: any = { metadata: { name: 's' }, data: { a: 'YQ==' }, stringData: { b: 'bee', a: 'over' } }
  applyDefaults(info('Secret'), withString)
  t.same(withString.data, { a: Buffer.from('over').toString('base64'), b: Buffer.from('bee').toString('base64') }, 'stringData wins and is merged into data')
  t.notOk(withString.stringData, 'stringData is not stored')
})
