import t from 'tap'
import { validateObject } from '../../src/api/validation/index.ts'
import { findByKind } from '../../src/api/registry.ts'
import type { ResourceInfo } from '../../src/api/registry.ts'

type Obj = Record<string, any>

function info(apiVersion: string, kind: string): ResourceInfo {
  const i = findByKind(apiVersion, kind)
  if (!i) throw new Error(`no ${kind}`)
  return i
}

const podInfo = info('v1', 'Pod')
const svcInfo = info('v1', 'Service')
const deployInfo = info('apps/v1', 'Deployment')

function pod(mutate: (p: Obj) => void = () => {}): Obj {
  const p: Obj = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'web', namespace: 'default', uid: 'u1', creationTimestamp: '2024-01-01T00:00:00Z' },
    spec: {
      containers: [{ name: 'web', image: 'nginx', ports: [{ containerPort: 80, protocol: 'TCP' }], volumeMounts: [{ name: 'data', mountPath: '/data' }] }],
      volumes: [{ name: 'data', emptyDir: {} }],
      restartPolicy: 'Always',
      dnsPolicy: 'ClusterFirst',
    },
  }
  mutate(p)
  return p
}

function service(mutate: (s: Obj) => void = () => {}): Obj {
  const s: Obj = {
    metadata: { name: 'web', namespace: 'default' },
    spec: { type: 'ClusterIP', selector: { app: 'web' }, ports: [{ port: 80, targetPort: 8080, protocol: 'TCP' }] },
  }
  mutate(s)
  return s
}

function deployment(mutate: (d: Obj) => void = () => {}): Obj {
  const d: Obj = {
    metadata: { name: 'web', namespace: 'default' },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: 'web' } },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' } },
      template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image: 'nginx' }] } },
    },
  }
  mutate(d)
  return d
}

/** `field: message` lines, as kubectl prints them. */
function lines(i: ResourceInfo, o: Obj, old?: Obj): string[] {
  return validateObject(i, o, old).map((c) => `${c.field}: ${c.message}`)
}

t.test('valid objects produce no causes', async (t) => {
  t.same(lines(podInfo, pod()), [])
  t.same(lines(svcInfo, service()), [])
  t.same(lines(deployInfo, deployment()), [])
})

t.test('metadata', async (t) => {
  t.same(lines(podInfo, pod((p) => delete p.metadata.name)), ['metadata.name: Required value: name or generateName is required'])
  t.same(lines(podInfo, pod((p) => (p.metadata.name = 'Web'))), [
    `metadata.name: Invalid value: "Web": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`,
  ])
  t.same(lines(podInfo, pod((p) => delete p.metadata.namespace)), ['metadata.namespace: Required value'])
  t.same(lines(info('v1', 'Namespace'), { metadata: { name: 'a.b' } }).length, 1, 'namespace names are DNS labels')
  t.same(lines(info('v1', 'Namespace'), { metadata: { name: 'ns', namespace: 'x' } }), ['metadata.namespace: Forbidden: not allowed on this type'])
  t.match(lines(svcInfo, service((s) => (s.metadata.name = '1web')))[0], /^metadata\.name: Invalid value: "1web": a DNS-1035 label/)
  t.same(lines(podInfo, pod((p) => (p.metadata.labels = { 'bad key!': 'v', ok: '-bad' }))).map((l) => l.slice(0, 45)), [
    'metadata.labels: Invalid value: "bad key!": n',
    'metadata.labels: Invalid value: "-bad": a val',
  ])
  t.same(lines(podInfo, pod((p) => (p.metadata.annotations = { 'Example.COM/x': 'ok' }))), [], 'annotation keys are checked lower-cased')
  t.same(lines(podInfo, pod((p) => (p.metadata.annotations = { a: 'x'.repeat(256 * 1024) }))), [
    'metadata.annotations: Too long: may not be more than 262144 bytes',
  ])
  t.match(lines(podInfo, pod((p) => (p.metadata.annotations = { 'a/b/c': '' })))[0], /^metadata\.annotations: Invalid value: "a\/b\/c": a qualified name/)
  t.same(lines(podInfo, pod((p) => (p.metadata.finalizers = ['example.com/cleanup']))), [])
})

t.test('metadata is immutable where Kubernetes says so', async (t) => {
  const old = pod()
  t.same(lines(podInfo, pod(), old), [])
  t.same(lines(podInfo, pod((p) => (p.metadata.name = 'other')), old), ['metadata.name: Invalid value: "other": field is immutable'])
  t.same(lines(podInfo, pod((p) => (p.metadata.namespace = 'kube-system')), old), ['metadata.namespace: Invalid value: "kube-system": field is immutable'])
  t.same(lines(podInfo, pod((p) => (p.metadata.uid = 'u2')), old), ['metadata.uid: Invalid value: "u2": field is immutable'])
  t.same(lines(podInfo, pod((p) => (p.metadata.creationTimestamp = '2025-01-01T00:00:00Z')), old), [
    'metadata.creationTimestamp: Invalid value: "2025-01-01T00:00:00Z": field is immutable',
  ])
  t.same(lines(podInfo, pod((p) => (p.metadata.labels = { a: 'b' })), old), [], 'labels may change')
})

t.test('pod spec', async (t) => {
  const cases: [string, (p: Obj) => void, string[]][] = [
    ['no containers', (p) => (p.spec.containers = []), ['spec.containers: Required value']],
    ['container without name or image', (p) => (p.spec.containers[0] = {}), ['spec.containers[0].name: Required value', 'spec.containers[0].image: Required value']],
    ['duplicate container names', (p) => p.spec.containers.push({ name: 'web', image: 'x' }), ['spec.containers[1].name: Duplicate value: "web"']],
    ['init container name clash', (p) => (p.spec.initContainers = [{ name: 'web', image: 'x' }]), ['spec.initContainers[0].name: Duplicate value: "web"']],
    ['bad container name', (p) => (p.spec.containers[0].name = 'Web_1'), [
      `spec.containers[0].name: Invalid value: "Web_1": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')`,
    ]],
    ['port 0', (p) => (p.spec.containers[0].ports[0].containerPort = 0), ['spec.containers[0].ports[0].containerPort: Invalid value: 0: must be between 1 and 65535, inclusive']],
    ['port too big', (p) => (p.spec.containers[0].ports[0].containerPort = 70000), ['spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive']],
    ['bad protocol', (p) => (p.spec.containers[0].ports[0].protocol = 'SCTPX'), ['spec.containers[0].ports[0].protocol: Unsupported value: "SCTPX": supported values: "SCTP", "TCP", "UDP"']],
    ['bad port name', (p) => (p.spec.containers[0].ports[0].name = 'a--b'), ['spec.containers[0].ports[0].name: Invalid value: "a--b": must not contain consecutive hyphens']],
    ['env name', (p) => (p.spec.containers[0].env = [{ name: 'A=B' }, { value: 'x' }]), [
      `spec.containers[0].env[0].name: Invalid value: "A=B": a valid environment variable name must consist only of printable ASCII characters other than '='`,
      'spec.containers[0].env[1].name: Required value',
    ]],
    ['duplicate volumes', (p) => p.spec.volumes.push({ name: 'data', emptyDir: {} }), ['spec.volumes[1].name: Duplicate value: "data"']],
    ['volume with no source', (p) => (p.spec.volumes[0] = { name: 'data' }), ['spec.volumes[0]: Required value: must specify a volume type']],
    ['volume with two sources', (p) => (p.spec.volumes[0] = { name: 'data', emptyDir: {}, hostPath: { path: '/' } }), ['spec.volumes[0].hostPath: Forbidden: may not specify more than 1 volume type']],
    ['mount of a missing volume', (p) => (p.spec.containers[0].volumeMounts[0].name = 'nope'), ['spec.containers[0].volumeMounts[0].name: Not found: "nope"']],
    ['restartPolicy', (p) => (p.spec.restartPolicy = 'Sometimes'), ['spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "Never", "OnFailure"']],
    ['dnsPolicy', (p) => (p.spec.dnsPolicy = 'Cluster'), ['spec.dnsPolicy: Unsupported value: "Cluster": supported values: "ClusterFirst", "ClusterFirstWithHostNet", "Default", "None"']],
    ['dnsPolicy None needs dnsConfig', (p) => (p.spec.dnsPolicy = 'None'), ['spec.dnsConfig: Required value: must provide `dnsConfig` when `dnsPolicy` is None']],
    ['imagePullPolicy', (p) => (p.spec.containers[0].imagePullPolicy = 'Sometimes'), ['spec.containers[0].imagePullPolicy: Unsupported value: "Sometimes": supported values: "Always", "IfNotPresent", "Never"']],
    ['nodeSelector', (p) => (p.spec.nodeSelector = { 'a b': 'c' }), [`spec.nodeSelector: Invalid value: "a b": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')`]],
    ['activeDeadlineSeconds', (p) => (p.spec.activeDeadlineSeconds = 0), ['spec.activeDeadlineSeconds: Invalid value: 0: must be between 1 and 2147483647, inclusive']],
    ['toleration operator', (p) => (p.spec.tolerations = [{ key: 'k', operator: 'Maybe' }]), ['spec.tolerations[0].operator: Unsupported value: "Maybe": supported values: "Equal", "Exists"']],
  ]
  for (const [name, mutate, want] of cases) t.same(lines(podInfo, pod(mutate)), want, name)
})

t.test('pod updates', async (t) => {
  const old = pod((p) => {
    p.spec.tolerations = [{ key: 'a', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 60 }]
    p.spec.activeDeadlineSeconds = 100
  })
  const upd = (m: (p: Obj) => void): Obj => {
    const p = structuredClone(old)
    m(p)
    return p
  }
  t.same(lines(podInfo, upd((p) => (p.spec.containers[0].image = 'nginx:2')), old), [], 'image may change')
  t.same(lines(podInfo, upd((p) => (p.spec.activeDeadlineSeconds = 50)), old), [], 'deadline may shrink')
  t.same(lines(podInfo, upd((p) => (p.spec.activeDeadlineSeconds = 500)), old), ['spec.activeDeadlineSeconds: Invalid value: 500: must be less than or equal to previous value'])
  t.same(lines(podInfo, upd((p) => p.spec.tolerations.push({ key: 'b', operator: 'Exists' })), old), [], 'tolerations may be added')
  t.same(lines(podInfo, upd((p) => (p.spec.tolerations[0].tolerationSeconds = 30)), old), [], 'tolerationSeconds may change')
  t.same(lines(podInfo, upd((p) => (p.spec.tolerations = [])), old), ['spec.tolerations: Forbidden: existing toleration can not be modified except its tolerationSeconds'])
  const changed = lines(podInfo, upd((p) => (p.spec.containers[0].ports[0].containerPort = 81)), old)
  t.equal(changed.length, 1)
  t.match(changed[0], /^spec: Forbidden: pod updates may not change fields other than `spec\.containers\[\*\]\.image`,`spec\.initContainers\[\*\]\.image`,`spec\.activeDeadlineSeconds`,`spec\.tolerations` \(only additions to existing tolerations\)/)
  t.match(changed[0], /changed: spec\.containers/)
  t.same(lines(podInfo, upd((p) => (p.spec.nodeName = 'node-1')), old), [], 'nodeName may be set once')
  const bound = upd((p) => (p.spec.nodeName = 'node-1'))
  t.same(lines(podInfo, upd((p) => (p.spec.nodeName = 'node-2')), bound), ['spec.nodeName: Forbidden: field is immutable once set'])
  t.same(lines(podInfo, upd((p) => (p.status = { phase: 'Running' })), old), [], 'status is not spec')
})

t.test('service', async (t) => {
  const cases: [string, (s: Obj) => void, string[]][] = [
    ['type', (s) => (s.spec.type = 'Internal'), ['spec.type: Unsupported value: "Internal": supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"']],
    ['ports required', (s) => (s.spec.ports = []), ['spec.ports: Required value']],
    ['headless needs no ports', (s) => {
      s.spec.ports = []
      s.spec.clusterIP = 'None'
    }, []],
    ['ExternalName needs no ports but a name', (s) => {
      s.spec = { type: 'ExternalName' }
    }, ['spec.externalName: Required value']],
    ['ExternalName ok with trailing dot', (s) => (s.spec = { type: 'ExternalName', externalName: 'example.com.' }), []],
    ['ExternalName with clusterIP', (s) => (s.spec = { type: 'ExternalName', externalName: 'example.com', clusterIP: '10.0.0.1' }), ['spec.clusterIPs: Forbidden: may not be set for ExternalName services']],
    ['port range', (s) => (s.spec.ports[0].port = 0), ['spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive']],
    ['names required when many', (s) => s.spec.ports.push({ port: 443, name: 'https' }), ['spec.ports[0].name: Required value']],
    ['names unique', (s) => (s.spec.ports = [{ port: 80, name: 'a' }, { port: 81, name: 'a' }]), ['spec.ports[1].name: Duplicate value: "a"']],
    ['protocol', (s) => (s.spec.ports[0].protocol = 'ICMP'), ['spec.ports[0].protocol: Unsupported value: "ICMP": supported values: "SCTP", "TCP", "UDP"']],
    ['targetPort number', (s) => (s.spec.ports[0].targetPort = 70000), ['spec.ports[0].targetPort: Invalid value: 70000: must be between 1 and 65535, inclusive']],
    ['targetPort name', (s) => (s.spec.ports[0].targetPort = 'Http'), [
      'spec.ports[0].targetPort: Invalid value: "Http": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)',
    ]],
    ['targetPort good name', (s) => (s.spec.ports[0].targetPort = 'http'), []],
    ['nodePort on ClusterIP', (s) => (s.spec.ports[0].nodePort = 30080), ["spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"]],
    ['nodePort on NodePort', (s) => {
      s.spec.type = 'NodePort'
      s.spec.ports[0].nodePort = 30080
    }, []],
    ['sessionAffinity', (s) => (s.spec.sessionAffinity = 'Sticky'), ['spec.sessionAffinity: Unsupported value: "Sticky": supported values: "ClientIP", "None"']],
    ['externalTrafficPolicy on ClusterIP', (s) => (s.spec.externalTrafficPolicy = 'Local'), ["spec.externalTrafficPolicy: Invalid value: \"Local\": may only be set when `type` is 'NodePort' or 'LoadBalancer'"]],
    ['externalTrafficPolicy value', (s) => {
      s.spec.type = 'LoadBalancer'
      s.spec.externalTrafficPolicy = 'Global'
    }, ['spec.externalTrafficPolicy: Unsupported value: "Global": supported values: "Cluster", "Local"']],
    ['ipFamilies', (s) => (s.spec.ipFamilies = ['IPv5']), ['spec.ipFamilies[0]: Unsupported value: "IPv5": supported values: "IPv4", "IPv6"']],
    ['ipFamilyPolicy', (s) => (s.spec.ipFamilyPolicy = 'DualStack'), ['spec.ipFamilyPolicy: Unsupported value: "DualStack": supported values: "PreferDualStack", "RequireDualStack", "SingleStack"']],
    ['clusterIP syntax', (s) => (s.spec.clusterIP = '10.0.0.300'), ['spec.clusterIPs[0]: Invalid value: "10.0.0.300": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)']],
    ['selector syntax', (s) => (s.spec.selector = { app: 'a b' }), [
      `spec.selector: Invalid value: "a b": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')`,
    ]],
  ]
  for (const [name, mutate, want] of cases) t.same(lines(svcInfo, service(mutate)), want, name)
})

t.test('service updates keep the cluster IP', async (t) => {
  const old = service((s) => {
    s.spec.clusterIP = '10.96.0.10'
    s.spec.clusterIPs = ['10.96.0.10']
  })
  t.same(lines(svcInfo, structuredClone(old), old), [])
  t.same(lines(svcInfo, service(), old), [], 'leaving the IP out keeps it')
  t.same(lines(svcInfo, service((s) => {
    s.spec.clusterIP = '10.96.0.11'
    s.spec.clusterIPs = ['10.96.0.11']
  }), old), ['spec.clusterIPs[0]: Invalid value: []string{"10.96.0.11"}: may not change once set'])
  t.same(lines(svcInfo, service((s) => (s.spec = { type: 'ExternalName', externalName: 'example.com' })), old), [], 'to ExternalName drops the IP')
  const ext = service((s) => (s.spec = { type: 'ExternalName', externalName: 'example.com' }))
  t.same(lines(svcInfo, service((s) => (s.spec.clusterIP = '10.96.0.12')), ext), [], 'from ExternalName allocates anew')
})

t.test('deployments, replicasets, daemonsets', async (t) => {
  const cases: [string, (d: Obj) => void, string[]][] = [
    ['selector required', (d) => delete d.spec.selector, ['spec.selector: Required value']],
    ['selector must match', (d) => (d.spec.template.metadata.labels = { app: 'api' }), [
      'spec.template.metadata.labels: Invalid value: map[string]string{"app":"api"}: `selector` does not match template `labels`',
    ]],
    ['empty selector', (d) => (d.spec.selector = {}), ['spec.selector: Invalid value: map[string]string{}: empty selector is invalid for deployment']],
    ['match expressions', (d) => (d.spec.selector = { matchExpressions: [{ key: 'app', operator: 'In', values: ['web', 'api'] }] }), []],
    ['bad operator', (d) => (d.spec.selector = { matchLabels: { app: 'web' }, matchExpressions: [{ key: 'x', operator: 'Has' }] }), [
      'spec.selector.matchExpressions[0].operator: Unsupported value: "Has": supported values: "DoesNotExist", "Exists", "In", "NotIn"',
    ]],
    ['replicas', (d) => (d.spec.replicas = -1), ['spec.replicas: Invalid value: -1: must be greater than or equal to 0']],
    ['strategy type', (d) => (d.spec.strategy = { type: 'BlueGreen' }), ['spec.strategy.type: Unsupported value: "BlueGreen": supported values: "Recreate", "RollingUpdate"']],
    ['recreate with rollingUpdate', (d) => (d.spec.strategy.type = 'Recreate'), ["spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is 'Recreate'"]],
    ['both zero', (d) => (d.spec.strategy.rollingUpdate = { maxSurge: 0, maxUnavailable: 0 }), ['spec.strategy.rollingUpdate.maxUnavailable: Invalid value: 0: may not be 0 when `maxSurge` is 0']],
    ['percent syntax', (d) => (d.spec.strategy.rollingUpdate.maxSurge = 'lots'), [
      `spec.strategy.rollingUpdate.maxSurge: Invalid value: "lots": a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')`,
    ]],
    ['maxUnavailable over 100%', (d) => (d.spec.strategy.rollingUpdate.maxUnavailable = '150%'), ['spec.strategy.rollingUpdate.maxUnavailable: Invalid value: "150%": must not be greater than 100%']],
    ['template restartPolicy', (d) => (d.spec.template.spec.restartPolicy = 'Never'), ['spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"']],
    ['template pod spec', (d) => (d.spec.template.spec.containers[0].image = ''), ['spec.template.spec.containers[0].image: Required value']],
    ['progress deadline', (d) => {
      d.spec.minReadySeconds = 10
      d.spec.progressDeadlineSeconds = 10
    }, ['spec.progressDeadlineSeconds: Invalid value: 10: must be greater than minReadySeconds']],
  ]
  for (const [name, mutate, want] of cases) t.same(lines(deployInfo, deployment(mutate)), want, name)

  const old = deployment()
  t.same(lines(deployInfo, deployment((d) => (d.spec.replicas = 5)), old), [])
  const moved = lines(deployInfo, deployment((d) => {
    d.spec.selector = { matchLabels: { app: 'web', v: '2' } }
    d.spec.template.metadata.labels = { app: 'web', v: '2' }
  }), old)
  t.equal(moved.length, 1)
  t.match(moved[0], /^spec\.selector: Invalid value: .*: field is immutable$/)

  const rs = info('apps/v1', 'ReplicaSet')
  const rsObj = { metadata: { name: 'r', namespace: 'd' }, spec: { selector: { matchLabels: { a: 'b' } }, template: { metadata: { labels: { a: 'c' } }, spec: { containers: [{ name: 'c', image: 'i' }] } } } }
  t.same(lines(rs, rsObj), ['spec.template.metadata.labels: Invalid value: map[string]string{"a":"c"}: `selector` does not match template `labels`'])
  const rc = info('v1', 'ReplicationController')
  const rcObj: Obj = { metadata: { name: 'legacy', namespace: 'd' }, spec: { selector: { a: 'b' }, template: { metadata: { labels: { a: 'c' } }, spec: { containers: [{ name: 'c', image: 'i' }] } } } }
  t.same(lines(rc, rcObj), ['spec.template.metadata.labels: Invalid value: map[string]string{"a":"c"}: `selector` does not match template `labels`'], 'a ReplicationController\'s label-map selector must match the template')
  rcObj.spec.selector = { 'bad key!': 'b' }
  t.match(lines(rc, rcObj), [/^spec\.selector: Invalid value: "bad key!"/])
  t.same(lines(rc, { metadata: { name: 'r', namespace: 'd' }, spec: { replicas: -1, template: { metadata: { labels: { a: 'b' } }, spec: { containers: [{ name: 'c', image: 'i' }] } } } }).sort(), [
    'spec.replicas: Invalid value: -1: must be greater than or equal to 0',
    'spec.selector: Required value',
  ])
  const ds = info('apps/v1', 'DaemonSet')
  const dsObj: Obj = { metadata: { name: 'd', namespace: 'd' }, spec: { selector: { matchLabels: { a: 'b' } }, template: { metadata: { labels: { a: 'b' } }, spec: { containers: [{ name: 'c', image: 'i' }] } } } }
  t.same(lines(ds, dsObj), [])
  dsObj.spec.updateStrategy = { type: 'Rolling' }
  t.same(lines(ds, dsObj), ['spec.updateStrategy.type: Unsupported value: "Rolling": supported values: "OnDelete", "RollingUpdate"'])
  dsObj.spec.updateStrategy = { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0 } }
  t.same(lines(ds, dsObj), ['spec.updateStrategy.rollingUpdate.maxUnavailable: Required value: cannot be 0 when maxSurge is 0'])
  dsObj.spec.updateStrategy = { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: '0%' } }
  t.same(lines(ds, dsObj), ['spec.updateStrategy.rollingUpdate.maxUnavailable: Required value: cannot be 0 when maxSurge is 0'])
  dsObj.spec.updateStrategy = { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1, maxSurge: 1 } }
  t.same(lines(ds, dsObj), ['spec.updateStrategy.rollingUpdate.maxSurge: Invalid value: 1: may not be set when maxUnavailable is non-zero'])
  dsObj.spec.updateStrategy = { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: '150%' } }
  t.same(lines(ds, dsObj), ['spec.updateStrategy.rollingUpdate.maxSurge: Invalid value: "150%": must not be greater than 100%'])
  dsObj.spec.updateStrategy = { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: '20%' } }
  t.same(lines(ds, dsObj), [], 'surge without unavailability')
  dsObj.spec.updateStrategy = { type: 'RollingUpdate' }
  t.same(lines(ds, dsObj), ['spec.updateStrategy.rollingUpdate: Required value'])
})

t.test('ingress', async (t) => {
  const ing = info('networking.k8s.io/v1', 'Ingress')
  const make = (m: (i: Obj) => void = () => {}): Obj => {
    const i: Obj = {
      metadata: { name: 'web', namespace: 'default' },
      spec: {
        ingressClassName: 'weft',
        tls: [{ hosts: ['example.com', '*.example.com'], secretName: 'tls' }],
        rules: [{ host: 'example.com', http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'web', port: { number: 80 } } } }] } }],
      },
    }
    m(i)
    return i
  }
  const path0 = (i: Obj): Obj => i.spec.rules[0].http.paths[0]
  const cases: [string, (i: Obj) => void, string[]][] = [
    ['wildcard host', (i) => (i.spec.rules[0].host = '*.example.com'), []],
    ['bad host', (i) => (i.spec.rules[0].host = 'Example.com'), [
      `spec.rules[0].host: Invalid value: "Example.com": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`,
    ]],
    ['bad wildcard', (i) => (i.spec.rules[0].host = 'foo.*.com'), [
      `spec.rules[0].host: Invalid value: "foo.*.com": a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS subdomain, which must consist of lower case alphanumeric characters, '-' or '.' and end with an alphanumeric character (e.g. '*.example.com', regex used for validation is '\\*\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`,
    ]],
    ['IP host', (i) => (i.spec.rules[0].host = '10.0.0.1'), ['spec.rules[0].host: Invalid value: "10.0.0.1": must be a DNS name, not an IP address']],
    ['relative path', (i) => (path0(i).path = 'api'), ['spec.rules[0].http.paths[0].path: Invalid value: "api": must be an absolute path']],
    ['double slash', (i) => (path0(i).path = '/a//b'), ["spec.rules[0].http.paths[0].path: Invalid value: \"/a//b\": must not contain '//'"]],
    ['pathType required', (i) => delete path0(i).pathType, ['spec.rules[0].http.paths[0].pathType: Required value: pathType must be specified']],
    ['pathType value', (i) => (path0(i).pathType = 'Regex'), ['spec.rules[0].http.paths[0].pathType: Unsupported value: "Regex": supported values: "Exact", "ImplementationSpecific", "Prefix"']],
    ['ImplementationSpecific may be relative-free', (i) => {
      path0(i).pathType = 'ImplementationSpecific'
      path0(i).path = ''
    }, []],
    ['no paths', (i) => (i.spec.rules[0].http.paths = []), ['spec.rules[0].http.paths: Required value']],
    ['backend missing', (i) => (path0(i).backend = {}), ['spec.rules[0].http.paths[0].backend: Required value: one of `resource` or `service` must be specified']],
    ['both backends', (i) => (path0(i).backend.resource = { kind: 'Bucket', name: 'b' }), ['spec.rules[0].http.paths[0].backend: Invalid value: "": cannot set both resource and service backends']],
    ['port name and number', (i) => (path0(i).backend.service.port = { number: 80, name: 'http' }), [
      'spec.rules[0].http.paths[0].backend.service.port: Invalid value: {"number":80,"name":"http"}: cannot set both port name & port number',
    ]],
    ['no port', (i) => (path0(i).backend.service.port = {}), ['spec.rules[0].http.paths[0].backend.service.port: Required value: port name or number is required']],
    ['port range', (i) => (path0(i).backend.service.port = { number: 0x10000 }), ['spec.rules[0].http.paths[0].backend.service.port.number: Invalid value: 65536: must be between 1 and 65535, inclusive']],
    ['service name', (i) => (path0(i).backend.service.name = ''), ['spec.rules[0].http.paths[0].backend.service.name: Required value']],
    ['resource backend', (i) => (path0(i).backend = { resource: { apiGroup: 'x.io', kind: 'Bucket', name: 'b' } }), []],
    ['tls host', (i) => (i.spec.tls[0].hosts = ['bad_host']), [`spec.tls[0].hosts[0]: Invalid value: "bad_host": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`]],
    ['nothing to route', (i) => (i.spec = {}), ['spec.rules: Invalid value: []string{}: either `defaultBackend` or `rules` must be specified']],
    ['defaultBackend only', (i) => (i.spec = { defaultBackend: { service: { name: 'web', port: { name: 'http' } } } }), []],
    ['defaultBackend checked', (i) => (i.spec = { defaultBackend: { service: { name: 'web' } } }), ['spec.defaultBackend.service.port: Required value: port name or number is required']],
  ]
  t.same(lines(ing, make()), [])
  for (const [name, mutate, want] of cases) t.same(lines(ing, make(mutate)), want, name)

  const ic = info('networking.k8s.io/v1', 'IngressClass')
  const cls = { metadata: { name: 'weft' }, spec: { controller: 'weft.dev/ingress' } }
  t.same(lines(ic, cls), [])
  t.same(lines(ic, { metadata: { name: 'weft' }, spec: {} }), ['spec.controller: Required value'])
  t.same(lines(ic, { metadata: { name: 'weft' }, spec: { controller: 'nginx' } }), ['spec.controller: Invalid value: "nginx": must be a domain-prefixed path (such as "acme.io/foo")'])
  t.same(lines(ic, { metadata: { name: 'weft' }, spec: { controller: 'other.dev/x' } }, cls), ['spec.controller: Invalid value: "other.dev/x": field is immutable'])
})

t.test('endpointslices and endpoints', async (t) => {
  const es = info('discovery.k8s.io/v1', 'EndpointSlice')
  const slice = (m: (s: Obj) => void = () => {}): Obj => {
    const s: Obj = {
      metadata: { name: 'web-abc', namespace: 'default' },
      addressType: 'IPv4',
      endpoints: [{ addresses: ['10.0.0.5'], conditions: { ready: true }, hostname: 'web-0' }],
      ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
    }
    m(s)
    return s
  }
  t.same(lines(es, slice()), [])
  t.same(lines(es, slice((s) => delete s.addressType)), ['addressType: Required value'])
  t.same(lines(es, slice((s) => (s.addressType = 'IPX'))), ['addressType: Unsupported value: "IPX": supported values: "FQDN", "IPv4", "IPv6"'])
  t.same(lines(es, slice((s) => (s.endpoints[0].addresses = ['fd00::1']))), ['endpoints[0].addresses[0]: Invalid value: "fd00::1": must be a valid IPv4 address'])
  t.same(lines(es, slice((s) => (s.endpoints[0].addresses = ['010.0.0.5']))), ['endpoints[0].addresses[0]: Invalid value: "010.0.0.5": must be a valid IPv4 address'])
  t.same(lines(es, slice((s) => ((s.addressType = 'IPv6'), (s.endpoints[0].addresses = ['fe80::1%eth0'])))), ['endpoints[0].addresses[0]: Invalid value: "fe80::1%eth0": must be a valid IPv6 address'], 'no zone: it would reach the proxy')
  t.same(lines(es, slice((s) => ((s.addressType = 'IPv6'), (s.endpoints[0].addresses = ['fd00::5'])))), [])
  t.same(lines(es, slice((s) => (s.endpoints[0].addresses = []))), ['endpoints[0].addresses: Required value: must contain at least 1 address'])
  t.same(lines(es, slice((s) => (s.ports[0].port = 0x10000))), ['ports[0].port: Invalid value: 65536: must be between 1 and 65535, inclusive'])
  t.same(lines(es, slice((s) => s.ports.push({ name: 'http', port: 1 }))), ['ports[1].name: Duplicate value: "http"'])
  t.same(lines(es, slice((s) => {
    s.addressType = 'FQDN'
    s.endpoints[0].addresses = ['db.example.com']
  })), [])
  t.same(lines(es, slice((s) => (s.addressType = 'IPv6')), slice()).filter((l) => l.startsWith('addressType')), ['addressType: Invalid value: "IPv6": field is immutable'])

  const ep = info('v1', 'Endpoints')
  t.same(lines(ep, { metadata: { name: 'web', namespace: 'd' }, subsets: [{ addresses: [{ ip: '10.0.0.5' }], ports: [{ port: 80 }] }] }), [])
  t.same(lines(ep, { metadata: { name: 'web', namespace: 'd' }, subsets: [{ addresses: [{ ip: 'nope' }], ports: [{ port: 0 }] }] }), [
    'subsets[0].addresses[0].ip: Invalid value: "nope": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)',
    'subsets[0].ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive',
  ])
})

t.test('secrets and configmaps', async (t) => {
  const sec = info('v1', 'Secret')
  const meta = { name: 's', namespace: 'd' }
  t.same(lines(sec, { metadata: meta, data: { 'tls.crt': 'YQ==', 'tls.key': 'Yg==' }, type: 'kubernetes.io/tls' }), [])
  t.same(lines(sec, { metadata: meta, data: { 'tls.crt': 'YQ==' }, type: 'kubernetes.io/tls' }), ['data[tls.key]: Required value'])
  t.same(lines(sec, { metadata: meta, stringData: { 'tls.crt': 'a', 'tls.key': 'b' }, type: 'kubernetes.io/tls' }), [])
  t.match(lines(sec, { metadata: meta, data: { 'a/b': 'YQ==' } })[0], /^data\[a\/b\]: Invalid value: "a\/b": a valid config key must consist of alphanumeric characters/)
  t.same(lines(sec, { metadata: meta, type: 'Opaque' }, { metadata: meta, type: 'kubernetes.io/tls' }), ['type: Invalid value: "Opaque": field is immutable'])
  t.same(lines(sec, { metadata: meta, immutable: true, data: { a: 'Yg==' } }, { metadata: meta, immutable: true, data: { a: 'YQ==' } }), [
    'data: Forbidden: field is immutable when `immutable` is set',
  ])
  const cm = info('v1', 'ConfigMap')
  t.same(lines(cm, { metadata: meta, data: { 'app.conf': 'x' }, binaryData: { 'blob.bin': 'AA==' } }), [])
  t.same(lines(cm, { metadata: meta, data: { '..x': 'x' } }), [`data[..x]: Invalid value: "..x": must not start with '..'`])
  t.same(lines(cm, { metadata: meta, data: { a: 'x' }, binaryData: { a: 'AA==' } }), ['data[a]: Invalid value: "a": duplicate of key present in binaryData'])
})

t.test('lease, node, namespace, event', async (t) => {
  const lease = info('coordination.k8s.io/v1', 'Lease')
  t.same(lines(lease, { metadata: { name: 'l', namespace: 'kube-node-lease' }, spec: { holderIdentity: 'n1', leaseDurationSeconds: 40 } }), [])
  t.same(lines(lease, { metadata: { name: 'l', namespace: 'kube-node-lease' }, spec: { leaseDurationSeconds: 0 } }), ['spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0'])
  const node = info('v1', 'Node')
  t.same(lines(node, { metadata: { name: 'node-1' }, spec: { podCIDR: '10.244.1.0/24', podCIDRs: ['10.244.1.0/24'] } }), [])
  t.same(lines(node, { metadata: { name: 'node-1' }, spec: { podCIDRs: ['10.244.1.0'] } }), ['spec.podCIDRs[0]: Invalid value: "10.244.1.0": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)'])
  t.same(lines(node, { metadata: { name: 'node-1' }, spec: { taints: [{ key: 'k', effect: 'Sometimes' }] } }), [
    'spec.taints[0].effect: Unsupported value: "Sometimes": supported values: "NoExecute", "NoSchedule", "PreferNoSchedule"',
  ])
  t.same(lines(node, { metadata: { name: 'node-1' }, spec: { podCIDRs: ['10.244.2.0/24'] } }, { metadata: { name: 'node-1' }, spec: { podCIDRs: ['10.244.1.0/24'] } }), [
    'spec.podCIDRs: Forbidden: node updates may not change podCIDR except from "" to valid',
  ])
  const ns = info('v1', 'Namespace')
  t.same(lines(ns, { metadata: { name: 'team-a' }, spec: { finalizers: ['kubernetes'] } }), [])
  const ev = info('v1', 'Event')
  const evObj = { metadata: { name: 'web.17a', namespace: 'default' }, involvedObject: { kind: 'Pod', name: 'web', namespace: 'default' }, reason: 'Started', type: 'Normal' }
  t.same(lines(ev, evObj), [])
  t.same(lines(ev, { ...evObj, involvedObject: { kind: 'Pod', name: 'web', namespace: 'other' } }), ['involvedObject.namespace: Invalid value: "other": does not match event.namespace'])
  t.same(lines(ev, { ...evObj, type: 'Info' }), ['type: Unsupported value: "Info": supported values: "Normal", "Warning"'])
})

t.test('causes carry the reasons the API reports', async (t) => {
  const causes = validateObject(podInfo, pod((p) => {
    delete p.metadata.name
    p.spec.containers[0].ports[0].protocol = 'X'
    p.spec.volumes.push({ name: 'data', emptyDir: {} })
  }))
  t.same(causes.map((c) => c.reason).sort(), ['FieldValueDuplicate', 'FieldValueNotSupported', 'FieldValueRequired'])
})

t.test('service: addresses and ranges that reach the data plane', async (t) => {
  const lb = (mutate: (s: Obj) => void) => service((s) => {
    s.spec.type = 'LoadBalancer'
    mutate(s)
  })
  const cidrMsg = 'must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)'
  const annotation = 'service.beta.kubernetes.io/load-balancer-source-ranges'
  const cases: [string, Obj, string[]][] = [
    ['source ranges', lb((s) => (s.spec.loadBalancerSourceRanges = ['10.0.0.0/8', ' 192.168.0.0/16 ', '2001:db8::/64'])), []],
    ['a source range with a newline', lb((s) => (s.spec.loadBalancerSourceRanges = ['10.0.0.0/8', '10.0.0.0/8\nflush ruleset'])), [
      `spec.LoadBalancerSourceRanges[1]: Invalid value: "10.0.0.0/8\\nflush ruleset": ${cidrMsg}`,
    ]],
    ['a source range that is an address', lb((s) => (s.spec.loadBalancerSourceRanges = ['10.0.0.1'])), [`spec.LoadBalancerSourceRanges[0]: Invalid value: "10.0.0.1": ${cidrMsg}`]],
    ['a source range with a zone', lb((s) => (s.spec.loadBalancerSourceRanges = ['fe80::%eth0/64'])), [`spec.LoadBalancerSourceRanges[0]: Invalid value: "fe80::%eth0/64": ${cidrMsg}`]],
    ['source ranges need a LoadBalancer', service((s) => (s.spec.loadBalancerSourceRanges = ['10.0.0.0/8'])), ["spec.LoadBalancerSourceRanges: Forbidden: may only be used when `type` is 'LoadBalancer'"]],
    ['the annotation', lb((s) => (s.metadata.annotations = { [annotation]: ' 10.0.0.0/8, 192.168.0.0/16 ' })), []],
    ['an empty annotation', lb((s) => (s.metadata.annotations = { [annotation]: ' ' })), []],
    ['a bad annotation', lb((s) => (s.metadata.annotations = { [annotation]: '10.0.0.0/8,10.0.0.1; flush ruleset' })), [
      `metadata.annotations[${annotation}]: Invalid value: "10.0.0.1; flush ruleset": ${cidrMsg}`,
    ]],
    ['the annotation needs a LoadBalancer', service((s) => (s.metadata.annotations = { [annotation]: '10.0.0.0/8' })), [
      `metadata.annotations[${annotation}]: Forbidden: may only be used when \`type\` is 'LoadBalancer'`,
    ]],
    ['the field wins over the annotation', lb((s) => {
      s.spec.loadBalancerSourceRanges = ['10.0.0.0/8']
      s.metadata.annotations = { [annotation]: 'bogus' }
    }), []],
    ['externalIPs', service((s) => (s.spec.externalIPs = ['192.0.2.1', '2001:db8::1'])), []],
    ['an externalIP with a zone', service((s) => (s.spec.externalIPs = ['fe80::1%eth0'])), ['spec.externalIPs[0]: Invalid value: "fe80::1%eth0": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)']],
    ['an externalIP with a newline', service((s) => (s.spec.externalIPs = ['192.0.2.1\nflush ruleset'])), ['spec.externalIPs[0]: Invalid value: "192.0.2.1\\nflush ruleset": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)']],
    ['special externalIPs', service((s) => (s.spec.externalIPs = ['0.0.0.0', '127.0.0.1', '169.254.169.254', '224.0.0.1', '::1', 'fe80::1', 'ff02::1'])), [
      'spec.externalIPs[0]: Invalid value: "0.0.0.0": may not be unspecified (0.0.0.0)',
      'spec.externalIPs[1]: Invalid value: "127.0.0.1": may not be in the loopback range (127.0.0.0/8, ::1/128)',
      'spec.externalIPs[2]: Invalid value: "169.254.169.254": may not be in the link-local range (169.254.0.0/16, fe80::/10)',
      'spec.externalIPs[3]: Invalid value: "224.0.0.1": may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)',
      'spec.externalIPs[4]: Invalid value: "::1": may not be in the loopback range (127.0.0.0/8, ::1/128)',
      'spec.externalIPs[5]: Invalid value: "fe80::1": may not be in the link-local range (169.254.0.0/16, fe80::/10)',
      'spec.externalIPs[6]: Invalid value: "ff02::1": may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)',
    ]],
    ['a cluster IP with a zone', service((s) => (s.spec.clusterIP = 'fd00::1%lo')), ['spec.clusterIPs[0]: Invalid value: "fd00::1%lo": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)']],
  ]
  for (const [name, o, want] of cases) t.same(lines(svcInfo, o), want, name)
})

t.test('service status: load-balancer ingress, on the status subresource only', async (t) => {
  const old = service((s) => {
    s.spec.type = 'LoadBalancer'
    s.spec.clusterIP = '10.96.0.10'
  })
  const withStatus = (ingress: Obj[], mutate: (s: Obj) => void = () => {}) => {
    const s = structuredClone(old)
    s.status = { loadBalancer: { ingress } }
    mutate(s)
    return s
  }
  const status = (o: Obj) => validateObject(svcInfo, o, old, 'status').map((c) => `${c.field}: ${c.message}`)
  t.same(status(withStatus([{ ip: '192.0.2.10', ipMode: 'VIP' }, { hostname: 'lb.example.com' }, { ip: '2001:db8::10', ipMode: 'Proxy' }])), [])
  t.same(status(withStatus([{ ip: '192.0.2.10\nflush ruleset', ipMode: 'VIP' }])), [
    'status.loadBalancer.ingress[0].ip: Invalid value: "192.0.2.10\\nflush ruleset": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)',
  ])
  t.same(status(withStatus([{ ip: 'fe80::1%eth0', ipMode: 'VIP' }])), [
    'status.loadBalancer.ingress[0].ip: Invalid value: "fe80::1%eth0": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)',
  ])
  t.same(status(withStatus([{ ip: '192.0.2.10' }])), ['status.loadBalancer.ingress[0].ipMode: Required value: must be specified when `ip` is set'])
  t.same(status(withStatus([{ hostname: 'lb.example.com', ipMode: 'VIP' }])), ['status.loadBalancer.ingress[0].ipMode: Forbidden: may not be specified when `ip` is not set'])
  t.same(status(withStatus([{ ip: '192.0.2.10', ipMode: 'Tunnel' }])), ['status.loadBalancer.ingress[0].ipMode: Unsupported value: "Tunnel": supported values: "Proxy", "VIP"'])
  t.same(status(withStatus([{ hostname: '192.0.2.10' }])), ['status.loadBalancer.ingress[0].hostname: Invalid value: "192.0.2.10": must be a DNS name, not an IP address'])
  t.match(status(withStatus([{ hostname: 'LB_1' }]))[0], /^status\.loadBalancer\.ingress\[0\]\.hostname: Invalid value: "LB_1": a lowercase RFC 1123 subdomain/)
  t.same(status(withStatus([{ ip: '192.0.2.10', ipMode: 'VIP' }], (s) => (s.spec.type = 'ClusterIP'))), [
    "status.loadBalancer.ingress: Forbidden: may only be used when `spec.type` is 'LoadBalancer'",
  ])
  const legacy = structuredClone(old)
  legacy.spec.externalIPs = ['not an address']
  const legacyStatus = structuredClone(legacy)
  legacyStatus.status = { loadBalancer: { ingress: [{ ip: '192.0.2.10', ipMode: 'VIP' }] } }
  t.same(validateObject(svcInfo, legacyStatus, legacy, 'status'), [], 'a status update does not answer for the spec it cannot change')
  const specUpdate = structuredClone(old)
  specUpdate.status = { loadBalancer: { ingress: [{ ip: 'not an address' }] } }
  t.same(lines(svcInfo, specUpdate, old), [], 'a spec update does not answer for the status it cannot change')
})

t.test('node status addresses: no duplicates on update (as upstream), any syntax', async (t) => {
  const node = info('v1', 'Node')
  const old = { metadata: { name: 'node-1' }, status: { addresses: [{ type: 'InternalIP', address: '10.0.0.1' }] } }
  const dup = { metadata: { name: 'node-1' }, status: { addresses: [{ type: 'InternalIP', address: '10.0.0.1' }, { type: 'Hostname', address: 'node-1' }, { type: 'InternalIP', address: '10.0.0.1' }] } }
  t.same(lines(node, dup, old), ['status.addresses[2]: Duplicate value: core.NodeAddress{Type:"InternalIP", Address:"10.0.0.1"}'])
  t.same(lines(node, { metadata: { name: 'node-1' }, status: { addresses: [{ type: 'InternalIP', address: 'not an IP' }] } }, old), [], 'upstream does not check address syntax: the proxy drops what does not parse')
})
