import t from 'tap'
import { humanDuration, toTable } from '../../src/apiserver/tables.ts'
import type { Table } from '../../src/apiserver/tables.ts'
import { resources } from '../../src/api/registry.ts'
import type { ResourceInfo } from '../../src/api/registry.ts'

const now = new Date('2024-06-01T12:00:00Z')
const ago = (ms: number) => new Date(now.getTime() - ms).toISOString().replace(/\.\d{3}Z$/, 'Z')
const S = 1000
const M = 60 * S
const H = 60 * M
const D = 24 * H

function info(kind: string): ResourceInfo {
  const found = resources.find((r) => r.kind === kind)
  if (!found) throw new Error(`no kind ${kind}`)
  return found
}

function table(kind: string, objects: object[]): Table {
  return toTable(info(kind), objects, { includeObject: 'None', now })
}

/** Each row as a column-name → cell record, for readable assertions. */
function rows(kind: string, objects: object[]): Record<string, unknown>[] {
  const tbl = table(kind, objects)
  return tbl.rows.map((r) => {
    t.equal(r.cells.length, tbl.columnDefinitions.length, `${kind}: one cell per column`)
    return Object.fromEntries(tbl.columnDefinitions.map((c, i) => [c.name, r.cells[i]]))
  })
}

function row(kind: string, obj: object): Record<string, unknown> {
  return rows(kind, [obj])[0]
}

function columns(kind: string): string[] {
  return table(kind, []).columnDefinitions.map((c) => (c.priority ? `${c.name}*` : c.name))
}

t.test('humanDuration matches duration.HumanDuration at its boundaries', async (t) => {
  const cases: [number, string][] = [
    [-3 * S, '<invalid>'],
    [-2500, '<invalid>'],
    [-1500, '0s'],
    [-999, '0s'],
    [0, '0s'],
    [999, '0s'],
    [5 * S, '5s'],
    [119 * S + 999, '119s'],
    [2 * M, '2m'],
    [3 * M + 20 * S, '3m20s'],
    [9 * M + 59 * S, '9m59s'],
    [10 * M, '10m'],
    [10 * M + 30 * S, '10m'],
    [45 * M, '45m'],
    [179 * M + 59 * S, '179m'],
    [3 * H, '3h'],
    [3 * H + 5 * M, '3h5m'],
    [7 * H + 59 * M, '7h59m'],
    [8 * H, '8h'],
    [8 * H + 30 * M, '8h'],
    [47 * H + 59 * M, '47h'],
    [2 * D, '2d'],
    [2 * D + 3 * H, '2d3h'],
    [7 * D + 23 * H, '7d23h'],
    [8 * D, '8d'],
    [8 * D + 5 * H, '8d'],
    [729 * D, '729d'],
    [730 * D, '2y'],
    [730 * D + 20 * D, '2y20d'],
    [365 * 8 * D - D, '7y364d'],
    [365 * 8 * D, '8y'],
    [365 * 10 * D + 100 * D, '10y'],
  ]
  for (const [ms, want] of cases) t.equal(humanDuration(ms), want, `${ms}ms`)
})

t.test('table envelope and includeObject', async (t) => {
  const cm = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'settings', namespace: 'default', uid: 'u1', resourceVersion: '7', creationTimestamp: ago(5 * M) },
    data: { a: '1', b: '2' },
    binaryData: { c: 'AA==' },
  }
  const none = toTable(info('ConfigMap'), [cm], { includeObject: 'None', now })
  t.equal(none.kind, 'Table')
  t.equal(none.apiVersion, 'meta.k8s.io/v1')
  t.same(none.metadata, {})
  t.same(none.rows, [{ cells: ['settings', 3, '5m'] }])
  t.notOk('object' in none.rows[0])
  t.same(none.columnDefinitions[0], {
    name: 'Name',
    type: 'string',
    format: 'name',
    description: none.columnDefinitions[0].description,
    priority: 0,
  })
  t.match(none.columnDefinitions[0].description, /^Name must be unique within a namespace/)

  const meta = toTable(info('ConfigMap'), [cm], { includeObject: 'Metadata', now })
  t.same(meta.rows[0].object, { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: cm.metadata })
  const full = toTable(info('ConfigMap'), [cm], { includeObject: 'Object', now })
  t.same(full.rows[0].object, cm)

  const a = table('ConfigMap', [])
  a.columnDefinitions[0].name = 'changed'
  t.equal(table('ConfigMap', []).columnDefinitions[0].name, 'Name', 'column definitions are not shared')
  t.same(row('ConfigMap', { metadata: { name: 'x' } }), { Name: 'x', Data: 0, Age: '<unknown>' })
})

function container(name: string) {
  return { name, image: `example/${name}:1` }
}

function pod(name: string, spec: object, status: object, meta: object = {}) {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default', creationTimestamp: ago(4 * H), ...meta },
    spec: { containers: [container('app')], nodeName: 'node-a', ...spec },
    status,
  }
}

const running = (restartCount = 0, extra: object = {}) => ({
  name: 'app',
  ready: true,
  restartCount,
  started: true,
  state: { running: { startedAt: ago(H) } },
  ...extra,
})

t.test('pod columns and status reasons', async (t) => {
  t.same(columns('Pod'), ['Name', 'Ready', 'Status', 'Restarts', 'Age', 'IP*', 'Node*', 'Nominated Node*', 'Readiness Gates*'])

  const runningPod = pod('web', {}, {
    phase: 'Running',
    podIP: '10.244.1.5',
    podIPs: [{ ip: '10.244.1.5' }],
    conditions: [{ type: 'Ready', status: 'True' }],
    containerStatuses: [running()],
  })
  t.same(row('Pod', runningPod), {
    Name: 'web',
    Ready: '1/1',
    Status: 'Running',
    Restarts: '0',
    Age: '4h',
    IP: '10.244.1.5',
    Node: 'node-a',
    'Nominated Node': '<none>',
    'Readiness Gates': '<none>',
  })

  const pending = pod('pending', { nodeName: undefined }, { phase: 'Pending' })
  t.match(row('Pod', pending), { Ready: '0/1', Status: 'Pending', Restarts: '0', IP: '<none>', Node: '<none>' })

  const creating = pod('creating', { containers: [container('app'), container('sidecar')] }, {
    phase: 'Pending',
    containerStatuses: [
      { name: 'app', ready: false, restartCount: 0, state: { waiting: { reason: 'ContainerCreating' } } },
      { name: 'sidecar', ready: false, restartCount: 0, state: { waiting: { reason: 'ContainerCreating' } } },
    ],
  })
  t.match(row('Pod', creating), { Ready: '0/2', Status: 'ContainerCreating' })

  const crashing = pod('crash', {}, {
    phase: 'Running',
    containerStatuses: [
      {
        name: 'app',
        ready: false,
        restartCount: 5,
        state: { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 5m0s' } },
        lastState: { terminated: { exitCode: 1, reason: 'Error', finishedAt: ago(5 * M) } },
      },
    ],
  })
  t.match(row('Pod', crashing), { Ready: '0/1', Status: 'CrashLoopBackOff', Restarts: '5 (5m ago)' })

  const completed = pod('job-x', { restartPolicy: 'Never' }, {
    phase: 'Succeeded',
    containerStatuses: [
      { name: 'app', ready: false, restartCount: 0, state: { terminated: { exitCode: 0, reason: 'Completed', finishedAt: ago(M) } } },
    ],
  })
  t.match(row('Pod', completed), { Ready: '0/1', Status: 'Completed' })
  t.same(table('Pod', [completed]).rows[0].conditions, [
    { type: 'Completed', status: 'True', reason: 'Succeeded', message: 'The pod has completed successfully.' },
  ])

  const errored = pod('bad', {}, {
    phase: 'Failed',
    containerStatuses: [{ name: 'app', ready: false, restartCount: 0, state: { terminated: { exitCode: 137 } } }],
  })
  t.match(row('Pod', errored), { Status: 'ExitCode:137' })
  t.equal(table('Pod', [errored]).rows[0].conditions?.[0].reason, 'Failed')

  const terminating = pod('going', {}, {
    phase: 'Running',
    conditions: [{ type: 'Ready', status: 'True' }],
    containerStatuses: [running()],
  }, { deletionTimestamp: ago(10 * S) })
  t.match(row('Pod', terminating), { Ready: '1/1', Status: 'Terminating' })

  const lost = pod('lost', {}, { phase: 'Running', reason: 'NodeLost', containerStatuses: [running()] }, { deletionTimestamp: ago(S) })
  t.match(row('Pod', lost), { Status: 'Unknown' })

  const initializing = pod('init', { initContainers: [container('migrate'), container('seed')] }, {
    phase: 'Pending',
    conditions: [{ type: 'Initialized', status: 'False' }],
    initContainerStatuses: [
      { name: 'migrate', ready: false, restartCount: 0, state: { running: { startedAt: ago(S) } } },
      { name: 'seed', ready: false, restartCount: 0, state: { waiting: { reason: 'PodInitializing' } } },
    ],
    containerStatuses: [{ name: 'app', ready: false, restartCount: 0, state: { waiting: { reason: 'PodInitializing' } } }],
  })
  t.match(row('Pod', initializing), { Ready: '0/1', Status: 'Init:0/2' })

  const secondInit = pod('init2', { initContainers: [container('migrate'), container('seed')] }, {
    phase: 'Pending',
    initContainerStatuses: [
      { name: 'migrate', ready: false, restartCount: 0, state: { terminated: { exitCode: 0, reason: 'Completed' } } },
      { name: 'seed', ready: false, restartCount: 0, state: { running: {} } },
    ],
  })
  t.match(row('Pod', secondInit), { Status: 'Init:1/2' })

  const initCrash = pod('init3', { initContainers: [container('migrate')] }, {
    phase: 'Pending',
    initContainerStatuses: [
      { name: 'migrate', ready: false, restartCount: 3, state: { waiting: { reason: 'CrashLoopBackOff' } }, lastState: { terminated: { exitCode: 1, finishedAt: ago(30 * S) } } },
    ],
  })
  t.match(row('Pod', initCrash), { Status: 'Init:CrashLoopBackOff', Restarts: '3 (30s ago)' })

  const initFailed = pod('init4', { initContainers: [container('migrate')] }, {
    phase: 'Failed',
    initContainerStatuses: [{ name: 'migrate', ready: false, restartCount: 0, state: { terminated: { exitCode: 2 } } }],
  })
  t.match(row('Pod', initFailed), { Status: 'Init:ExitCode:2' })

  const sidecar = pod('sidecar', { initContainers: [{ ...container('proxy'), restartPolicy: 'Always' }] }, {
    phase: 'Running',
    conditions: [{ type: 'Initialized', status: 'True' }, { type: 'Ready', status: 'True' }],
    initContainerStatuses: [{ name: 'proxy', ready: true, started: true, restartCount: 1, state: { running: {} }, lastState: { terminated: { exitCode: 1, finishedAt: ago(2 * H) } } }],
    containerStatuses: [running(2, { lastState: { terminated: { exitCode: 1, finishedAt: ago(3 * M) } } })],
  })
  t.match(row('Pod', sidecar), { Ready: '2/2', Status: 'Running', Restarts: '3 (3m ago)' })

  const notReady = pod('partial', { containers: [container('app'), container('job')] }, {
    phase: 'Running',
    conditions: [{ type: 'Ready', status: 'False' }],
    containerStatuses: [
      running(),
      { name: 'job', ready: false, restartCount: 0, state: { terminated: { exitCode: 0, reason: 'Completed' } } },
    ],
  })
  t.match(row('Pod', notReady), { Ready: '1/2', Status: 'NotReady' })

  const gated = pod('gated', { nodeName: undefined, readinessGates: [{ conditionType: 'example.com/lb' }, { conditionType: 'example.com/x' }] }, {
    phase: 'Pending',
    nominatedNodeName: 'node-b',
    conditions: [{ type: 'PodScheduled', status: 'False', reason: 'SchedulingGated' }, { type: 'example.com/lb', status: 'True' }],
  })
  t.match(row('Pod', gated), { Status: 'SchedulingGated', 'Nominated Node': 'node-b', 'Readiness Gates': '1/2' })

  const evicted = pod('evicted', {}, { phase: 'Failed', reason: 'Evicted' })
  t.match(row('Pod', evicted), { Status: 'Evicted' })
})

function service(name: string, spec: object, status: object = {}) {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'default', creationTimestamp: ago(3 * D) }, spec, status }
}

t.test('service columns', async (t) => {
  t.same(columns('Service'), ['Name', 'Type', 'Cluster-IP', 'External-IP', 'Port(s)', 'Age', 'Selector*'])
  t.same(
    row('Service', service('web', {
      type: 'ClusterIP',
      clusterIP: '10.96.0.20',
      clusterIPs: ['10.96.0.20'],
      selector: { tier: 'web', app: 'shop' },
      ports: [{ port: 80, protocol: 'TCP', targetPort: 8080 }, { port: 53, protocol: 'UDP' }],
    })),
    { Name: 'web', Type: 'ClusterIP', 'Cluster-IP': '10.96.0.20', 'External-IP': '<none>', 'Port(s)': '80/TCP,53/UDP', Age: '3d', Selector: 'app=shop,tier=web' },
  )
  t.match(
    row('Service', service('np', {
      type: 'NodePort',
      clusterIPs: ['10.96.0.21'],
      ports: [{ port: 80, nodePort: 30080, protocol: 'TCP' }, { port: 443, protocol: 'TCP' }],
      externalIPs: ['192.0.2.1', '192.0.2.2'],
    })),
    { 'Port(s)': '80:30080/TCP,443/TCP', 'External-IP': '192.0.2.1,192.0.2.2', Selector: '<none>' },
  )
  t.match(
    row('Service', service('lb', { type: 'LoadBalancer', clusterIPs: ['10.96.0.22'], ports: [{ port: 443, nodePort: 31443, protocol: 'TCP' }] })),
    { Type: 'LoadBalancer', 'External-IP': '<pending>', 'Port(s)': '443:31443/TCP' },
  )
  t.match(
    row('Service', service('lb2', { type: 'LoadBalancer', clusterIPs: ['10.96.0.23'], ports: [{ port: 80, nodePort: 30001 }] }, {
      loadBalancer: { ingress: [{ ip: '203.0.113.9' }, { hostname: 'lb.example.com' }, { ip: '203.0.113.9' }] },
    })),
    { 'External-IP': '203.0.113.9,lb.example.com', 'Port(s)': '80:30001/TCP' },
  )
  t.match(
    row('Service', service('lb3', { type: 'LoadBalancer', clusterIPs: ['10.96.0.24'], externalIPs: ['192.0.2.7'] }, {
      loadBalancer: { ingress: [{ ip: '203.0.113.10' }] },
    })),
    { 'External-IP': '203.0.113.10,192.0.2.7', 'Port(s)': '<none>' },
  )
  t.match(row('Service', service('ext', { type: 'ExternalName', externalName: 'db.example.com' })), {
    'Cluster-IP': '<none>',
    'External-IP': 'db.example.com',
  })
  t.match(row('Service', service('headless', { type: 'ClusterIP', clusterIP: 'None', clusterIPs: ['None'], ports: [{ port: 80 }] })), {
    'Cluster-IP': 'None',
    'Port(s)': '80/TCP',
  })
})

t.test('endpoints and endpoint slices', async (t) => {
  t.same(columns('Endpoints'), ['Name', 'Endpoints', 'Age'])
  const ep = (subsets: object[] | undefined) => ({ metadata: { name: 'web', creationTimestamp: ago(90 * S) }, subsets })
  t.same(row('Endpoints', ep(undefined)), { Name: 'web', Endpoints: '<none>', Age: '90s' })
  t.equal(row('Endpoints', ep([{ addresses: [{ ip: '10.0.0.1' }, { ip: '10.0.0.2' }], ports: [{ port: 80 }] }])).Endpoints, '10.0.0.1:80,10.0.0.2:80')
  t.equal(
    row('Endpoints', ep([{ addresses: [{ ip: '10.0.0.1' }, { ip: '10.0.0.2' }, { ip: '10.0.0.3' }, { ip: '10.0.0.4' }], ports: [{ port: 80 }] }])).Endpoints,
    '10.0.0.1:80,10.0.0.2:80,10.0.0.3:80 + 1 more...',
  )
  t.equal(
    row('Endpoints', ep([{ addresses: [{ ip: '10.0.0.1' }, { ip: '10.0.0.2' }], ports: [{ name: 'http', port: 80 }, { name: 'https', port: 443 }] }])).Endpoints,
    '10.0.0.1:80,10.0.0.2:80,10.0.0.1:443 + 1 more...',
  )
  t.equal(row('Endpoints', ep([{ addresses: [{ ip: 'fd00::1' }], ports: [{ port: 8080 }] }])).Endpoints, '[fd00::1]:8080')
  t.equal(row('Endpoints', ep([{ addresses: [{ ip: '10.0.0.9' }] }])).Endpoints, '10.0.0.9', 'headless without ports')

  t.same(columns('EndpointSlice'), ['Name', 'AddressType', 'Ports', 'Endpoints', 'Age'])
  const slice = {
    metadata: { name: 'web-abcde', creationTimestamp: ago(4 * M) },
    addressType: 'IPv4',
    ports: [{ name: 'http', port: 80, protocol: 'TCP' }, { name: 'named' }],
    endpoints: [
      { addresses: ['10.0.0.1'] },
      { addresses: ['10.0.0.2'] },
      { addresses: ['10.0.0.3'] },
      { addresses: ['10.0.0.4'] },
      { addresses: ['10.0.0.5'] },
    ],
  }
  t.same(row('EndpointSlice', slice), {
    Name: 'web-abcde',
    AddressType: 'IPv4',
    Ports: '80,named',
    Endpoints: '10.0.0.1,10.0.0.2,10.0.0.3 + 2 more...',
    Age: '4m',
  })
  t.match(row('EndpointSlice', { metadata: { name: 'empty' }, addressType: 'IPv4', ports: [{}], endpoints: [] }), { Ports: '*', Endpoints: '<unset>' })
  t.match(row('EndpointSlice', { metadata: { name: 'empty' }, addressType: 'IPv4' }), { Ports: '<unset>' })
})

t.test('node columns', async (t) => {
  t.same(columns('Node'), ['Name', 'Status', 'Roles', 'Age', 'Version', 'Internal-IP*', 'External-IP*', 'OS-Image*', 'Kernel-Version*', 'Container-Runtime*'])
  const node = {
    metadata: {
      name: 'node-a',
      creationTimestamp: ago(10 * D),
      labels: { 'node-role.kubernetes.io/control-plane': '', 'node-role.kubernetes.io/worker': '', 'kubernetes.io/role': 'edge', 'node-role.kubernetes.io/': '' },
    },
    spec: {},
    status: {
      conditions: [{ type: 'MemoryPressure', status: 'False' }, { type: 'Ready', status: 'True' }],
      addresses: [{ type: 'Hostname', address: 'node-a' }, { type: 'InternalIP', address: '192.168.1.10' }],
      nodeInfo: { kubeletVersion: 'v1.30.0', osImage: 'Debian GNU/Linux 12', kernelVersion: '6.1.0', containerRuntimeVersion: '' },
    },
  }
  t.same(row('Node', node), {
    Name: 'node-a',
    Status: 'Ready',
    Roles: 'control-plane,edge,worker',
    Age: '10d',
    Version: 'v1.30.0',
    'Internal-IP': '192.168.1.10',
    'External-IP': '<none>',
    'OS-Image': 'Debian GNU/Linux 12',
    'Kernel-Version': '6.1.0',
    'Container-Runtime': '<unknown>',
  })
  const cordoned = { ...node, spec: { unschedulable: true }, status: { ...node.status, conditions: [{ type: 'Ready', status: 'Unknown' }] } }
  t.equal(row('Node', cordoned).Status, 'NotReady,SchedulingDisabled')
  t.match(row('Node', { metadata: { name: 'new' } }), { Status: 'Unknown', Roles: '<none>', Version: '', 'OS-Image': '<unknown>' })
})

t.test('namespace, secret, configmap, lease', async (t) => {
  t.same(row('Namespace', { metadata: { name: 'default', creationTimestamp: ago(400 * D) }, status: { phase: 'Active' } }), {
    Name: 'default',
    Status: 'Active',
    Age: '400d',
  })
  t.same(columns('Secret'), ['Name', 'Type', 'Data', 'Age'])
  t.same(row('Secret', { metadata: { name: 'tls', creationTimestamp: ago(25 * H) }, type: 'kubernetes.io/tls', data: { 'tls.crt': 'x', 'tls.key': 'y' } }), {
    Name: 'tls',
    Type: 'kubernetes.io/tls',
    Data: 2,
    Age: '25h',
  })
  t.same(columns('Lease'), ['Name', 'Holder', 'Age'])
  t.same(row('Lease', { metadata: { name: 'kube-scheduler', creationTimestamp: ago(5 * H + 3 * M) }, spec: { holderIdentity: 'server-1_abc' } }), {
    Name: 'kube-scheduler',
    Holder: 'server-1_abc',
    Age: '5h3m',
  })
  t.equal(row('Lease', { metadata: { name: 'free' }, spec: {} }).Holder, '')
})

t.test('event columns', async (t) => {
  t.same(columns('Event'), ['Last Seen', 'Type', 'Reason', 'Object', 'Subobject*', 'Source*', 'Message', 'First Seen*', 'Count*', 'Name*'])
  const nameColumn = table('Event', []).columnDefinitions.find((c) => c.name === 'Name')
  t.equal(nameColumn?.format, 'name')
  const ev = {
    metadata: { name: 'web.17d', namespace: 'default' },
    involvedObject: { kind: 'Pod', name: 'web', namespace: 'default', fieldPath: 'spec.containers{app}' },
    reason: 'Pulled',
    message: '  Container image already present on machine\n',
    type: 'Normal',
    source: { component: 'kubelet', host: 'node-a' },
    firstTimestamp: ago(10 * M),
    lastTimestamp: ago(2 * M),
    count: 4,
  }
  t.same(row('Event', ev), {
    'Last Seen': '2m',
    Type: 'Normal',
    Reason: 'Pulled',
    Object: 'pod/web',
    Subobject: 'spec.containers{app}',
    Source: 'kubelet, node-a',
    Message: 'Container image already present on machine',
    'First Seen': '10m',
    Count: 4,
    Name: 'web.17d',
  })
  const newApi = {
    metadata: { name: 'x' },
    involvedObject: { kind: 'Node' },
    reason: 'Starting',
    type: 'Normal',
    eventTime: new Date(now.getTime() - 30 * S).toISOString(),
    reportingComponent: 'weft-proxy',
    reportingInstance: 'node-b',
  }
  t.match(row('Event', newApi), { 'Last Seen': '30s', 'First Seen': '30s', Object: 'node', Count: 1, Source: 'weft-proxy, node-b' })
  const series = { ...newApi, series: { count: 9, lastObservedTime: new Date(now.getTime() - 5 * S).toISOString() } }
  t.match(row('Event', series), { 'Last Seen': '5s', Count: 9 })
})

t.test('ingress and ingress class', async (t) => {
  t.same(columns('Ingress'), ['Name', 'Class', 'Hosts', 'Address', 'Ports', 'Age'])
  const ing = {
    metadata: { name: 'shop', creationTimestamp: ago(M) },
    spec: {
      ingressClassName: 'weft',
      rules: [{ host: 'a.example.com' }, { host: 'b.example.com' }, {}, { host: 'c.example.com' }, { host: 'd.example.com' }],
      tls: [{ hosts: ['a.example.com'], secretName: 'tls' }],
    },
    status: { loadBalancer: { ingress: [{ ip: '192.0.2.20' }, { ip: '192.0.2.10' }] } },
  }
  t.same(row('Ingress', ing), {
    Name: 'shop',
    Class: 'weft',
    Hosts: 'a.example.com,b.example.com,c.example.com + 2 more...',
    Address: '192.0.2.10,192.0.2.20',
    Ports: '80, 443',
    Age: '60s',
  })
  t.match(row('Ingress', { metadata: { name: 'default' }, spec: { defaultBackend: {} } }), { Class: '<none>', Hosts: '*', Address: '', Ports: '80' })

  t.same(columns('IngressClass'), ['Name', 'Controller', 'Parameters', 'Age'])
  t.match(row('IngressClass', { metadata: { name: 'weft' }, spec: { controller: 'weft.dev/ingress' } }), { Controller: 'weft.dev/ingress', Parameters: '<none>' })
  t.match(
    row('IngressClass', { metadata: { name: 'x' }, spec: { controller: 'c', parameters: { apiGroup: 'k8s.example.com', kind: 'Params', name: 'p' } } }),
    { Parameters: 'Params.k8s.example.com/p' },
  )
})

t.test('workloads', async (t) => {
  t.same(columns('Deployment'), ['Name', 'Ready', 'Up-to-date', 'Available', 'Age', 'Containers*', 'Images*', 'Selector*'])
  const template = { spec: { containers: [container('app'), container('sidecar')] } }
  const deploy = {
    metadata: { name: 'web', creationTimestamp: ago(6 * M) },
    spec: { replicas: 3, selector: { matchLabels: { app: 'web' } }, template },
    status: { readyReplicas: 2, updatedReplicas: 3, availableReplicas: 2 },
  }
  t.same(row('Deployment', deploy), {
    Name: 'web',
    Ready: '2/3',
    'Up-to-date': 3,
    Available: 2,
    Age: '6m',
    Containers: 'app,sidecar',
    Images: 'example/app:1,example/sidecar:1',
    Selector: 'app=web',
  })
  t.match(row('Deployment', { metadata: { name: 'new' }, spec: { template: { spec: { containers: [] } } } }), { Ready: '0/1', 'Up-to-date': 0, Selector: '' })

  t.same(columns('ReplicaSet'), ['Name', 'Desired', 'Current', 'Ready', 'Age', 'Containers*', 'Images*', 'Selector*'])
  const rs = {
    metadata: { name: 'web-5d8f', creationTimestamp: ago(6 * M) },
    spec: { replicas: 3, selector: { matchLabels: { app: 'web', 'pod-template-hash': '5d8f' } }, template },
    status: { replicas: 3, readyReplicas: 1 },
  }
  t.same(row('ReplicaSet', rs), {
    Name: 'web-5d8f',
    Desired: 3,
    Current: 3,
    Ready: 1,
    Age: '6m',
    Containers: 'app,sidecar',
    Images: 'example/app:1,example/sidecar:1',
    Selector: 'app=web,pod-template-hash=5d8f',
  })
  t.equal(row('ReplicaSet', { ...rs, spec: { ...rs.spec, selector: undefined } }).Selector, '<none>')

  t.same(columns('DaemonSet'), ['Name', 'Desired', 'Current', 'Ready', 'Up-to-date', 'Available', 'Node Selector', 'Age', 'Containers*', 'Images*', 'Selector*'])
  const ds = {
    metadata: { name: 'weft-agent', creationTimestamp: ago(D) },
    spec: {
      selector: { matchExpressions: [{ key: 'app', operator: 'In', values: ['agent'] }] },
      template: { spec: { containers: [container('agent')], nodeSelector: { 'kubernetes.io/os': 'linux' } } },
    },
    status: { desiredNumberScheduled: 3, currentNumberScheduled: 3, numberReady: 2, updatedNumberScheduled: 3, numberAvailable: 2 },
  }
  t.same(row('DaemonSet', ds), {
    Name: 'weft-agent',
    Desired: 3,
    Current: 3,
    Ready: 2,
    'Up-to-date': 3,
    Available: 2,
    'Node Selector': 'kubernetes.io/os=linux',
    Age: '24h',
    Containers: 'agent',
    Images: 'example/agent:1',
    Selector: 'app in (agent)',
  })
})

t.test('StatefulSet and ControllerRevision columns', async (t) => {
  t.same(columns('StatefulSet'), ['Name', 'Ready', 'Age', 'Containers*', 'Images*'])
  const sts = {
    metadata: { name: 'db', creationTimestamp: ago(2 * H) },
    spec: { replicas: 3, template: { spec: { containers: [{ name: 'db', image: 'example/db:2' }, { name: 'exporter', image: 'example/exp:1' }] } } },
    status: { replicas: 3, readyReplicas: 2 },
  }
  t.same(row('StatefulSet', sts), { Name: 'db', Ready: '2/3', Age: '120m', Containers: 'db,exporter', Images: 'example/db:2,example/exp:1' })
  t.equal(row('StatefulSet', { ...sts, status: {} }).Ready, '0/3', 'no ready count yet')

  t.same(columns('ControllerRevision'), ['Name', 'Controller', 'Revision', 'Age'])
  const ref = { apiVersion: 'apps/v1', kind: 'DaemonSet', name: 'agent', uid: 'u', controller: true }
  const rev = { metadata: { name: 'agent-6d4b5c7f9', creationTimestamp: ago(5 * M), ownerReferences: [ref] }, data: {}, revision: 3 }
  t.same(row('ControllerRevision', rev), { Name: 'agent-6d4b5c7f9', Controller: 'daemonset.apps/agent', Revision: 3, Age: '5m' })
  const orphan = { ...rev, metadata: { ...rev.metadata, ownerReferences: [{ ...ref, controller: false }] } }
  t.equal(row('ControllerRevision', orphan).Controller, '<none>', 'an owner that is not the controller does not count')
  const core = { ...rev, metadata: { ...rev.metadata, ownerReferences: [{ ...ref, apiVersion: 'v1', kind: 'Pod' }] } }
  t.equal(row('ControllerRevision', core).Controller, 'pod/agent', 'the core group has no suffix')
})

t.test('pod disruption budgets', async (t) => {
  const tbl = table('PodDisruptionBudget', [])
  t.same(tbl.columnDefinitions.map((c) => [c.name, c.type]), [['Name', 'string'], ['Min Available', 'string'], ['Max Unavailable', 'string'], ['Allowed Disruptions', 'integer'], ['Age', 'string']])
  const budget = (name: string, spec: object, disruptionsAllowed?: number) => ({
    metadata: { name, creationTimestamp: ago(3 * H) },
    spec: { selector: { matchLabels: { app: 'web' } }, ...spec },
    ...(disruptionsAllowed === undefined ? {} : { status: { disruptionsAllowed, currentHealthy: 3, desiredHealthy: 2, expectedPods: 3 } }),
  })
  t.strictSame(rows('PodDisruptionBudget', [budget('min', { minAvailable: 2 }, 1), budget('max', { maxUnavailable: '25%' }, 0), budget('new', {})]), [
    { Name: 'min', 'Min Available': '2', 'Max Unavailable': 'N/A', 'Allowed Disruptions': 1, Age: '3h' },
    { Name: 'max', 'Min Available': 'N/A', 'Max Unavailable': '25%', 'Allowed Disruptions': 0, Age: '3h' },
    { Name: 'new', 'Min Available': 'N/A', 'Max Unavailable': 'N/A', 'Allowed Disruptions': 0, Age: '3h' },
  ])
})

t.test('network policies', async (t) => {
  const tbl = table('NetworkPolicy', [])
  t.same(tbl.columnDefinitions.map((c) => [c.name, c.type]), [['Name', 'string'], ['Pod-Selector', 'string'], ['Age', 'string']])
  const np = (name: string, podSelector: object) => ({ metadata: { name, creationTimestamp: ago(3 * H) }, spec: { podSelector, policyTypes: ['Ingress'] } })
  t.strictSame(
    rows('NetworkPolicy', [
      np('default-deny', {}),
      np('db', { matchLabels: { role: 'db', app: 'x' } }),
      np('expr', { matchLabels: { a: 'b' }, matchExpressions: [{ key: 'tier', operator: 'In', values: ['web', 'api'] }, { key: 'legacy', operator: 'DoesNotExist' }] }),
    ]),
    [
      { Name: 'default-deny', 'Pod-Selector': '<none>', Age: '3h' },
      { Name: 'db', 'Pod-Selector': 'app=x,role=db', Age: '3h' },
      { Name: 'expr', 'Pod-Selector': 'a=b,!legacy,tier in (api,web)', Age: '3h' },
    ],
  )
})

t.test('kinds without a printer get name and creation time', async (t) => {
  const custom: ResourceInfo = { ...info('ConfigMap'), kind: 'Widget', plural: 'widgets' }
  const tbl = toTable(custom, [{ metadata: { name: 'w', creationTimestamp: '2024-05-01T00:00:00Z' } }], { includeObject: 'None', now })
  t.same(tbl.columnDefinitions.map((c) => [c.name, c.type, c.format]), [['Name', 'string', 'name'], ['Created At', 'date', '']])
  t.same(tbl.rows[0].cells, ['w', '2024-05-01T00:00:00Z'])
})
