import t from 'tap'
import { parse } from 'yaml'
import { checkSchema, requiredFields, modelDoc } from '../../src/api/schema.ts'
import { findByKind } from '../../src/api/registry.ts'
import type { ResourceInfo } from '../../src/api/registry.ts'

function info(apiVersion: string, kind: string): ResourceInfo {
  const i = findByKind(apiVersion, kind)
  if (!i) throw new Error(`no ${kind}`)
  return i
}

const deployment = parse(`
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: default
  labels: {app: web, tier: frontend}
  annotations: {deployment.kubernetes.io/revision: "3"}
  creationTimestamp: null
  managedFields:
  - manager: kubectl
    operation: Update
    apiVersion: apps/v1
    time: "2024-05-01T10:00:00Z"
    fieldsType: FieldsV1
    fieldsV1: {"f:spec": {"f:replicas": {}}}
spec:
  replicas: 3
  revisionHistoryLimit: 5
  progressDeadlineSeconds: 600
  minReadySeconds: 2
  selector:
    matchLabels: {app: web}
    matchExpressions:
    - {key: tier, operator: In, values: [frontend]}
  strategy:
    type: RollingUpdate
    rollingUpdate: {maxSurge: 1, maxUnavailable: "25%"}
  template:
    metadata:
      labels: {app: web, tier: frontend}
      annotations: {prometheus.io/scrape: "true"}
    spec:
      serviceAccountName: web
      terminationGracePeriodSeconds: 30
      nodeSelector: {kubernetes.io/os: linux}
      affinity:
        podAntiAffinity:
          preferredDuringSchedulingIgnoredDuringExecution:
          - weight: 100
            podAffinityTerm:
              topologyKey: kubernetes.io/hostname
              labelSelector: {matchLabels: {app: web}}
      tolerations:
      - {key: node-role.kubernetes.io/control-plane, operator: Exists, effect: NoSchedule}
      securityContext: {runAsNonRoot: true, runAsUser: 1000, fsGroup: 2000, seccompProfile: {type: RuntimeDefault}}
      topologySpreadConstraints:
      - {maxSkew: 1, topologyKey: topology.kubernetes.io/zone, whenUnsatisfiable: ScheduleAnyway, labelSelector: {matchLabels: {app: web}}}
      initContainers:
      - name: init
        image: busybox:1.36
        command: [sh, -c, "echo init"]
      containers:
      - name: web
        image: nginx:1.27
        imagePullPolicy: IfNotPresent
        args: ["--port", "8080"]
        ports:
        - {name: http, containerPort: 8080, protocol: TCP}
        env:
        - {name: MODE, value: production}
        - name: POD_IP
          valueFrom: {fieldRef: {fieldPath: status.podIP}}
        - name: MEM
          valueFrom: {resourceFieldRef: {resource: limits.memory, divisor: 1Mi}}
        envFrom:
        - configMapRef: {name: web-config}
        resources:
          requests: {cpu: 100m, memory: 128Mi}
          limits: {cpu: 1, memory: 256Mi, ephemeral-storage: 1Gi}
        readinessProbe:
          httpGet: {path: /healthz, port: http, scheme: HTTP}
          initialDelaySeconds: 5
          periodSeconds: 10
        livenessProbe:
          tcpSocket: {port: 8080}
          failureThreshold: 3
        startupProbe:
          exec: {command: [cat, /tmp/ready]}
        lifecycle:
          preStop: {exec: {command: [sleep, "5"]}}
        securityContext:
          allowPrivilegeEscalation: false
          readOnlyRootFilesystem: true
          capabilities: {drop: [ALL]}
        volumeMounts:
        - {name: cache, mountPath: /cache}
        - {name: config, mountPath: /etc/web, readOnly: true}
      volumes:
      - name: cache
        emptyDir: {sizeLimit: 500Mi}
      - name: config
        configMap: {name: web-config, items: [{key: a, path: a.conf}], defaultMode: 420}
status:
  replicas: 3
  conditions:
  - {type: Available, status: "True", lastUpdateTime: "2024-05-01T10:00:00Z", lastTransitionTime: "2024-05-01T10:00:00Z"}
`)

const pod = parse(`
apiVersion: v1
kind: Pod
metadata: {name: p, namespace: default, ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: rs, uid: "123", controller: true}]}
spec:
  hostname: p
  subdomain: sub
  dnsPolicy: None
  dnsConfig: {nameservers: [1.1.1.1], options: [{name: ndots, value: "2"}]}
  overhead: {cpu: 250m}
  priority: 0
  readinessGates: [{conditionType: example.com/ready}]
  containers:
  - name: c
    image: weft/echo
    resources: {limits: {cpu: 2}, requests: {memory: 1073741824}}
  volumes:
  - name: v
    downwardAPI: {items: [{path: labels, fieldRef: {fieldPath: metadata.labels}}]}
  - name: s
    projected: {sources: [{serviceAccountToken: {path: token, expirationSeconds: 3600}}]}
status:
  phase: Running
  podIP: 10.0.0.5
  podIPs: [{ip: 10.0.0.5}]
  startTime: "2024-05-01T10:00:00.123456Z"
  containerStatuses:
  - {name: c, ready: true, restartCount: 0, image: weft/echo, imageID: "", state: {running: {startedAt: "2024-05-01T10:00:00+02:00"}}}
`)

t.test('realistic manifests decode cleanly', async (t) => {
  t.same(checkSchema(info('apps/v1', 'Deployment'), deployment), { unknown: [], wrongType: [] })
  t.same(checkSchema(info('v1', 'Pod'), pod), { unknown: [], wrongType: [] })
})

t.test('unknown fields are reported with their paths', async (t) => {
  const bad = structuredClone(deployment)
  bad.metadata.labelz = { a: 'b' }
  bad.spec.template.spec.containers[0].imagee = 'nginx'
  bad.spec.template.spec.containers[0].ports[0].hostPortt = 1
  bad.spec.extra = true
  const r = checkSchema(info('apps/v1', 'Deployment'), bad)
  t.same(r.unknown.sort(), [
    'metadata.labelz',
    'spec.extra',
    'spec.template.spec.containers[0].imagee',
    'spec.template.spec.containers[0].ports[0].hostPortt',
  ])
  t.same(r.wrongType, [])
  t.same(checkSchema(info('v1', 'Pod'), { apiVersion: 'v1', kind: 'Pod', spex: {} }).unknown, ['spex'])
})

t.test('wrong JSON types', async (t) => {
  const r = checkSchema(info('apps/v1', 'Deployment'), {
    metadata: { name: 'x', labels: { a: 1 }, creationTimestamp: 'yesterday' },
    spec: { replicas: 'three', paused: 'no', selector: [], template: { spec: { containers: { name: 'c' } } } },
  })
  t.same(r.unknown, [])
  t.same(r.wrongType, [
    { reason: 'FieldValueTypeInvalid', field: 'metadata.labels.a', message: 'Invalid value: "integer": metadata.labels.a in body must be of type string: "integer"' },
    { reason: 'FieldValueInvalid', field: 'metadata.creationTimestamp', message: 'Invalid value: "yesterday": metadata.creationTimestamp in body must be of type date-time (RFC 3339): "yesterday"' },
    { reason: 'FieldValueTypeInvalid', field: 'spec.replicas', message: 'Invalid value: "string": spec.replicas in body must be of type integer: "string"' },
    { reason: 'FieldValueTypeInvalid', field: 'spec.paused', message: 'Invalid value: "string": spec.paused in body must be of type boolean: "string"' },
    { reason: 'FieldValueTypeInvalid', field: 'spec.selector', message: 'Invalid value: "array": spec.selector in body must be of type object: "array"' },
    { reason: 'FieldValueTypeInvalid', field: 'spec.template.spec.containers', message: 'Invalid value: "object": spec.template.spec.containers in body must be of type array: "object"' },
  ])
  const svc = checkSchema(info('v1', 'Service'), { spec: { ports: [{ port: 80.5, targetPort: true }] } })
  t.same(svc.wrongType.map((c) => c.field), ['spec.ports[0].port', 'spec.ports[0].targetPort'])
  t.same(checkSchema(info('v1', 'Service'), { spec: { ports: [{ port: 80, targetPort: 'http' }] } }).wrongType, [])
  t.same(checkSchema(info('v1', 'Service'), { spec: { ports: [{ port: 80, targetPort: 8080 }] } }).wrongType, [])
  t.same(checkSchema(info('v1', 'Pod'), 'nope').wrongType.length, 1)
})

t.test('quantities accept numbers only where upstream has resource.Quantity', async (t) => {
  t.same(checkSchema(info('v1', 'Node'), { status: { capacity: { cpu: 4, pods: '110' }, allocatable: { memory: 1024 } } }).wrongType, [])
  t.same(checkSchema(info('v1', 'Pod'), { spec: { volumes: [{ name: 'v', emptyDir: { sizeLimit: 1024 } }] } }).wrongType, [])
  t.same(checkSchema(info('v1', 'Pod'), { spec: { nodeName: 5 } }).wrongType.map((c) => c.field), ['spec.nodeName'])
  t.same(checkSchema(info('v1', 'ConfigMap'), { data: { a: 1 } }).wrongType.map((c) => c.field), ['data.a'])
})

t.test('a value that is not a quantity does not decode, as resource.Quantity refuses it', async (t) => {
  const wrong = checkSchema(info('v1', 'Pod'), { spec: { containers: [{ name: 'c', resources: { limits: { cpu: '1x', memory: '1Gi' } } }] } }).wrongType
  t.same(wrong, [{ reason: 'FieldValueInvalid', field: 'spec.containers[0].resources.limits.cpu', message: `quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$': "1x"` }])
  t.same(checkSchema(info('v1', 'ResourceQuota'), { spec: { hard: { pods: 'ten' } } }).wrongType.map((c) => c.field), ['spec.hard.pods'])
})

t.test('null decodes to the zero value', async (t) => {
  t.same(checkSchema(info('v1', 'Pod'), { metadata: { labels: null }, spec: { containers: null, priority: null } }), { unknown: [], wrongType: [] })
})

t.test('required fields and descriptions come from the model declarations', async (t) => {
  t.same(requiredFields('V1Container'), ['name'])
  t.same(requiredFields('V1ServicePort'), ['port'])
  t.same(requiredFields('V1PodSpec'), ['containers'])
  t.same(requiredFields('V1ObjectMeta'), [])
  t.same(requiredFields('NoSuchModel'), [])
  t.match(modelDoc('V1Deployment')?.description, /declarative updates for Pods and ReplicaSets/)
  t.match(modelDoc('V1Container')?.fields.get('image')?.description, /^Container image name/)
})

t.test('descriptions lose the generator escapes', async (t) => {
  t.match(modelDoc('V1DeploymentStrategy')?.fields.get('type')?.description, /Can be "Recreate" or "RollingUpdate"/)
})
