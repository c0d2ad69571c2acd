import t from 'tap'
import {
  fieldRequiresExactMatch,
  fieldSelectorToString,
  fieldValue,
  matchesFields,
  parseFieldSelector,
  supportedFields,
} from '../../src/api/field-selectors.ts'
import { resources } from '../../src/api/registry.ts'
import type { ResourceInfo } from '../../src/api/registry.ts'

function info(kind: string): ResourceInfo {
  const found = resources.find((r) => r.kind === kind)
  if (!found) throw new Error(`no kind ${kind}`)
  return found
}

const pod = {
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'web-1', namespace: 'default' },
  spec: { nodeName: 'node-a', restartPolicy: 'Always', schedulerName: 'default-scheduler', serviceAccountName: 'default', containers: [] },
  status: { phase: 'Running', podIP: '10.0.0.5', podIPs: [{ ip: '10.0.0.5' }, { ip: 'fd00::5' }] },
}

t.test('parses terms, sorted, with = == != and escapes', async (t) => {
  const sel = parseFieldSelector('status.phase!=Failed,metadata.name==web-1,spec.nodeName=node-a', info('Pod'))
  t.same(sel.requirements, [
    { field: 'metadata.name', operator: 'Equals', value: 'web-1' },
    { field: 'spec.nodeName', operator: 'Equals', value: 'node-a' },
    { field: 'status.phase', operator: 'NotEquals', value: 'Failed' },
  ])
  t.equal(fieldSelectorToString(sel), 'metadata.name=web-1,spec.nodeName=node-a,status.phase!=Failed')
  t.equal(fieldRequiresExactMatch(sel, 'spec.nodeName'), 'node-a')
  t.equal(fieldRequiresExactMatch(sel, 'status.phase'), undefined)
  const escaped = parseFieldSelector('metadata.name=a\\,b\\=c\\\\', info('ConfigMap'))
  t.same(escaped.requirements, [{ field: 'metadata.name', operator: 'Equals', value: 'a,b=c\\' }])
  t.equal(fieldSelectorToString(escaped), 'metadata.name=a\\,b\\=c\\\\')
  t.same(parseFieldSelector('', info('Pod')).requirements, [])
  t.same(parseFieldSelector('spec.nodeName=', info('Pod')).requirements, [{ field: 'spec.nodeName', operator: 'Equals', value: '' }])
})

t.test('syntax errors', async (t) => {
  t.throws(() => parseFieldSelector('metadata.name', info('Pod')), {
    code: 400,
    message: "invalid selector: 'metadata.name'; can't understand 'metadata.name'",
  })
  t.throws(() => parseFieldSelector('metadata.name=a=b', info('Pod')), {
    message: 'invalid field selector: unescaped character in value: 61',
  })
  t.throws(() => parseFieldSelector('metadata.name=a\\x', info('Pod')), {
    message: 'invalid field selector: invalid escape sequence: \\x',
  })
})

t.test('unsupported fields say so as upstream does', async (t) => {
  t.throws(() => parseFieldSelector('spec.foo=bar', info('Pod')), { code: 400, reason: 'BadRequest', message: 'field label not supported: spec.foo' })
  t.throws(() => parseFieldSelector('status.hostIP=1.2.3.4', info('Pod')), { message: 'field label not supported: status.hostIP' })
  t.throws(() => parseFieldSelector('metadata.namespace=x', info('Node')), { message: 'field label not supported: metadata.namespace' })
  t.throws(() => parseFieldSelector('spec.type=ClusterIP', info('Secret')), { message: 'field label not supported: spec.type' })
  t.throws(() => parseFieldSelector('spec.selector=x', info('Service')), { message: 'field label not supported: spec.selector' })
  t.throws(() => parseFieldSelector('foo.bar=baz', info('Ingress')), {
    message: '"foo.bar" is not a known field selector: only "metadata.name", "metadata.namespace"',
  })
  t.throws(() => parseFieldSelector('spec.replicas=1', info('Deployment')), { message: /is not a known field selector/ })
})

t.test('supported fields per kind', async (t) => {
  const accept: [string, string][] = [
    ['Pod', 'spec.nodeName=a,spec.restartPolicy=Always,spec.schedulerName=s,spec.serviceAccountName=d,spec.hostNetwork=true'],
    ['Pod', 'status.phase=Running,status.podIP=1.2.3.4,status.nominatedNodeName=n,metadata.name=x,metadata.namespace=y'],
    ['Node', 'metadata.name=n,spec.unschedulable=true'],
    ['Namespace', 'metadata.name=n,status.phase=Active'],
    ['Secret', 'type=Opaque,metadata.name=s,metadata.namespace=d'],
    ['Service', 'spec.clusterIP=None,spec.type=ClusterIP,metadata.name=s'],
    [
      'Event',
      'involvedObject.kind=Pod,involvedObject.namespace=d,involvedObject.name=p,involvedObject.uid=u,involvedObject.apiVersion=v1,involvedObject.resourceVersion=1,involvedObject.fieldPath=f,reason=r,reportingComponent=c,source=s,type=Normal',
    ],
    ['ReplicaSet', 'status.replicas=3,metadata.name=r'],
    ['ConfigMap', 'metadata.name=c,metadata.namespace=d'],
    ['Lease', 'metadata.name=c'],
  ]
  for (const [kind, text] of accept) t.doesNotThrow(() => parseFieldSelector(text, info(kind)), `${kind}: ${text}`)
  t.same(supportedFields('Node'), ['metadata.name', 'spec.unschedulable'])
})

t.test('pod fields', async (t) => {
  const match = (text: string) => matchesFields(parseFieldSelector(text, info('Pod')), pod)
  t.ok(match('spec.nodeName=node-a'))
  t.notOk(match('spec.nodeName=node-b'))
  t.ok(match('spec.nodeName!=node-b'))
  t.ok(match('status.phase=Running,metadata.namespace=default'))
  t.notOk(match('status.phase=Running,metadata.namespace=kube-system'))
  t.ok(match('status.podIP=10.0.0.5'))
  t.ok(match('spec.hostNetwork=false'), 'missing hostNetwork reads false')
  t.notOk(match('spec.hostNetwork=true'))
  t.ok(match('spec.host=node-a'), 'spec.host is the old name of spec.nodeName')
  t.ok(match('status.nominatedNodeName='), 'missing field reads empty')
  t.ok(match('metadata.name=web-1'))
  const hostNet = { ...pod, spec: { ...pod.spec, hostNetwork: true } }
  t.ok(matchesFields(parseFieldSelector('spec.hostNetwork=true', info('Pod')), hostNet))
  const unscheduled = { metadata: { name: 'p' }, spec: { containers: [] }, status: { phase: 'Pending' } }
  t.ok(matchesFields(parseFieldSelector('spec.nodeName=', info('Pod')), unscheduled))
  t.ok(matchesFields(parseFieldSelector('status.podIP=', info('Pod')), unscheduled))
})

t.test('other kinds', async (t) => {
  const node = { metadata: { name: 'n1' }, spec: { unschedulable: true } }
  t.ok(matchesFields(parseFieldSelector('spec.unschedulable=true', info('Node')), node))
  t.ok(matchesFields(parseFieldSelector('spec.unschedulable=false', info('Node')), { metadata: { name: 'n2' }, spec: {} }))
  const secret = { metadata: { name: 's', namespace: 'd' }, type: 'kubernetes.io/tls' }
  t.ok(matchesFields(parseFieldSelector('type=kubernetes.io/tls', info('Secret')), secret))
  t.notOk(matchesFields(parseFieldSelector('type=Opaque', info('Secret')), secret))
  const event = {
    metadata: { name: 'e', namespace: 'd' },
    involvedObject: { kind: 'Pod', name: 'web-1', namespace: 'd', uid: 'u-1' },
    reason: 'Scheduled',
    type: 'Normal',
    reportingComponent: 'default-scheduler',
  }
  const ev = (text: string) => matchesFields(parseFieldSelector(text, info('Event')), event)
  t.ok(ev('involvedObject.kind=Pod,involvedObject.name=web-1,involvedObject.uid=u-1'))
  t.ok(ev('source=default-scheduler'), 'source falls back to reportingComponent')
  t.ok(ev('reportingComponent=default-scheduler'))
  t.ok(ev('type!=Warning,reason=Scheduled'))
  t.ok(matchesFields(parseFieldSelector('source=kubelet', info('Event')), { ...event, source: { component: 'kubelet' } }))
  const rs = { metadata: { name: 'r', namespace: 'd' }, spec: {}, status: {} }
  t.ok(matchesFields(parseFieldSelector('status.replicas=0', info('ReplicaSet')), rs), 'missing count reads 0')
  t.ok(matchesFields(parseFieldSelector('status.replicas=2', info('ReplicaSet')), { ...rs, status: { replicas: 2 } }))
  const job = { metadata: { name: 'j', namespace: 'd' }, spec: {}, status: { succeeded: 3 } }
  t.ok(matchesFields(parseFieldSelector('status.successful=3', info('Job')), job), 'a Job\'s succeeded count is status.successful')
  t.notOk(matchesFields(parseFieldSelector('status.successful=0', info('Job')), job))
  t.throws(() => parseFieldSelector('status.succeeded=3', info('Job')), /field label not supported: status.succeeded/)
  const svc = { metadata: { name: 's', namespace: 'd' }, spec: { type: 'NodePort', clusterIP: '10.96.0.10' } }
  t.ok(matchesFields(parseFieldSelector('spec.type=NodePort,spec.clusterIP=10.96.0.10', info('Service')), svc))
  const ns = { metadata: { name: 'kube-system' }, status: { phase: 'Active' } }
  t.ok(matchesFields(parseFieldSelector('status.phase=Active,metadata.name=kube-system', info('Namespace')), ns))
  t.ok(matchesFields(parseFieldSelector('metadata.namespace=', info('ConfigMap')), { metadata: { name: 'x' } }))
})

t.test('fieldValue', async (t) => {
  const obj = { a: { s: 'x', b: true, f: false, n: 3 }, list: [{ ip: '1' }] }
  t.equal(fieldValue(obj, 'a.s'), 'x')
  t.equal(fieldValue(obj, 'a.b'), 'true')
  t.equal(fieldValue(obj, 'a.f'), 'false')
  t.equal(fieldValue(obj, 'a.n'), '3')
  t.equal(fieldValue(obj, 'a.missing'), '')
  t.equal(fieldValue(obj, 'nope.deeper'), '')
  t.equal(fieldValue(obj, 'a'), '', 'objects are not values')
  t.equal(fieldValue(pod, 'status.podIP', 'Pod'), '10.0.0.5')
  t.equal(fieldValue({ spec: {} }, 'spec.hostNetwork', 'Pod'), 'false')
  t.equal(fieldValue({ spec: {} }, 'spec.hostNetwork'), '')
})
