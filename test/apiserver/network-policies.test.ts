// networking.k8s.io/v1 NetworkPolicies through the API server: defaults on create, CRUD,
// list, watch and patches, 422 with upstream's causes, a Table, and protobuf both ways.
import t from 'tap'
import { decodeProtobufObject } from '../../src/api/protobuf/index.ts'
import { adminFetch, call, startTestServer } from '../helpers/apiserver.ts'
import { encodeObject } from '../helpers/protobuf.ts'

const { url } = await startTestServer(t)
const base = '/apis/networking.k8s.io/v1/namespaces/default/networkpolicies'
const protobuf = 'application/vnd.kubernetes.protobuf'

// The policy from the Kubernetes documentation's NetworkPolicy page.
const documented = {
  apiVersion: 'networking.k8s.io/v1',
  kind: 'NetworkPolicy',
  metadata: { name: 'test-network-policy' },
  spec: {
    podSelector: { matchLabels: { role: 'db' } },
    policyTypes: ['Ingress', 'Egress'],
    ingress: [
      {
        from: [{ ipBlock: { cidr: '172.17.0.0/16', except: ['172.17.1.0/24'] } }, { namespaceSelector: { matchLabels: { project: 'myproject' } } }, { podSelector: { matchLabels: { role: 'frontend' } } }],
        ports: [{ protocol: 'TCP', port: 6379 }],
      },
    ],
    egress: [{ to: [{ ipBlock: { cidr: '10.0.0.0/24' } }], ports: [{ protocol: 'TCP', port: 5978 }] }],
  },
}

async function watch(path: string, count: number): Promise<{ type: string; object: any }[]> {
  const ac = new AbortController()
  const res = await adminFetch(url + path, { signal: ac.signal })
  const events: { type: string; object: any }[] = []
  let buffer = ''
  const timer = setTimeout(() => ac.abort(), 10_000)
  try {
    for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
      buffer += Buffer.from(chunk).toString()
      let nl: number
      while ((nl = buffer.indexOf('\n')) >= 0) {
        events.push(JSON.parse(buffer.slice(0, nl)))
        buffer = buffer.slice(nl + 1)
      }
      if (events.length >= count) break
    }
  } catch (err) {
    if ((err as Error).name !== 'AbortError') throw err
  } finally {
    clearTimeout(timer)
    ac.abort()
  }
  return events
}

t.test('create, get, list, watch, patch and delete', async (t) => {
  const start = (await call(url, 'GET', base)).body.metadata.resourceVersion
  const seen = watch(`${base}?watch=true&resourceVersion=${start}`, 4)
  const created = await call(url, 'POST', base, documented)
  t.equal(created.status, 201, JSON.stringify(created.body))
  t.same(created.body.spec, documented.spec, 'a complete policy is stored as given')
  t.match(created.body.metadata, { name: 'test-network-policy', namespace: 'default', generation: 1, uid: /./ })
  t.notOk('status' in created.body, 'no status: v1 serves none')

  const deny = await call(url, 'POST', base, { metadata: { name: 'default-deny' }, spec: { podSelector: {}, egress: [{}], ingress: [{ ports: [{ port: 80 }] }] } })
  t.equal(deny.status, 201)
  t.same(deny.body.spec, { podSelector: {}, egress: [{}], ingress: [{ ports: [{ port: 80, protocol: 'TCP' }] }], policyTypes: ['Ingress', 'Egress'] }, 'defaults as upstream: TCP, and policyTypes from the rules')
  const bare = await call(url, 'POST', base, { metadata: { name: 'bare' }, spec: {} })
  t.same(bare.body.spec, { podSelector: {}, policyTypes: ['Ingress'] }, 'podSelector is always written')

  const got = await call(url, 'GET', `${base}/test-network-policy`)
  t.same(got.body, created.body)
  const all = await call(url, 'GET', '/apis/networking.k8s.io/v1/networkpolicies')
  t.equal(all.body.kind, 'NetworkPolicyList')
  t.same(all.body.items.map((i: any) => i.metadata.name).sort(), ['bare', 'default-deny', 'test-network-policy'])
  const selected = await call(url, 'GET', `${base}?fieldSelector=metadata.name%3Dbare`)
  t.same(selected.body.items.map((i: any) => i.metadata.name), ['bare'])

  const merged = await call(url, 'PATCH', `${base}/bare`, { spec: { egress: [{ to: [{ namespaceSelector: {} }] }] } }, { 'content-type': 'application/merge-patch+json' })
  t.equal(merged.status, 200)
  t.same(merged.body.spec.policyTypes, ['Ingress'], 'policyTypes already set stay as they are (defaulting only fills an empty list)')
  t.equal(merged.body.metadata.generation, 2, 'a spec change bumps generation')
  const strategic = await call(url, 'PATCH', `${base}/bare`, { spec: { policyTypes: ['Ingress', 'Egress'] } }, { 'content-type': 'application/strategic-merge-patch+json' })
  t.equal(strategic.status, 200)
  t.same(strategic.body.spec.policyTypes, ['Ingress', 'Egress'])
  const labelled = await call(url, 'PATCH', `${base}/bare`, { metadata: { labels: { a: 'b' } } }, { 'content-type': 'application/merge-patch+json' })
  t.equal(labelled.body.metadata.generation, 3, 'a metadata change does not')

  const events = await seen
  t.same(events.map((e) => `${e.type} ${e.object.metadata.name}`), ['ADDED test-network-policy', 'ADDED default-deny', 'ADDED bare', 'MODIFIED bare'])
  t.equal(events[0].object.kind, 'NetworkPolicy')

  t.equal((await call(url, 'DELETE', `${base}/bare`)).status, 200)
  t.equal((await call(url, 'GET', `${base}/bare`)).status, 404)
})

t.test('invalid policies: 422 with upstream causes, on create and on update', async (t) => {
  const bad = await call(url, 'POST', base, {
    metadata: { name: 'bad' },
    spec: {
      podSelector: {},
      ingress: [{ from: [{ ipBlock: { cidr: '10.0.0.0/8', except: ['192.168.0.0/16'] }, podSelector: {} }, {}], ports: [{ protocol: 'ICMP' }, { port: 'dns', endPort: 60 }] }],
      policyTypes: ['Sideways'],
    },
  })
  t.equal(bad.status, 422)
  t.match(bad.body, { kind: 'Status', status: 'Failure', reason: 'Invalid', details: { name: 'bad', group: 'networking.k8s.io', kind: 'NetworkPolicy' } })
  t.same(bad.body.details.causes, [
    { reason: 'FieldValueNotSupported', message: 'Unsupported value: "ICMP": supported values: "TCP", "UDP", "SCTP"', field: 'spec.ingress[0].ports[0].protocol' },
    { reason: 'FieldValueInvalid', message: 'Invalid value: 60: may not be specified when `port` is non-numeric', field: 'spec.ingress[0].ports[1].endPort' },
    { reason: 'FieldValueInvalid', message: 'Invalid value: "192.168.0.0/16": must be a strict subset of `cidr`', field: 'spec.ingress[0].from[0].ipBlock.except[0]' },
    { reason: 'FieldValueForbidden', message: 'Forbidden: may not specify both ipBlock and another peer', field: 'spec.ingress[0].from[0]' },
    { reason: 'FieldValueRequired', message: 'Required value: must specify a peer', field: 'spec.ingress[0].from[1]' },
    { reason: 'FieldValueNotSupported', message: 'Unsupported value: "Sideways": supported values: "Ingress", "Egress"', field: 'spec.policyTypes[0]' },
  ])
  t.match(bad.body.message, /^NetworkPolicy.networking.k8s.io "bad" is invalid: \[spec.ingress\[0\].ports\[0\].protocol: Unsupported value: "ICMP"/)
  const update = await call(url, 'PATCH', `${base}/default-deny`, { spec: { ingress: [{ ports: [{ port: 70000 }] }] } }, { 'content-type': 'application/merge-patch+json' })
  t.equal(update.status, 422)
  t.same(update.body.details.causes, [{ reason: 'FieldValueInvalid', message: 'Invalid value: 70000: must be between 1 and 65535, inclusive', field: 'spec.ingress[0].ports[0].port' }])
})

t.test('kubectl get netpol: a Table with POD-SELECTOR', async (t) => {
  const table = await call(url, 'GET', base, undefined, { accept: 'application/json;as=Table;v=v1;g=meta.k8s.io' })
  t.equal(table.body.kind, 'Table')
  t.same(table.body.columnDefinitions.map((c: any) => c.name), ['Name', 'Pod-Selector', 'Age'])
  t.same(table.body.rows.map((r: any) => r.cells.slice(0, 2)).sort(), [['default-deny', '<none>'], ['test-network-policy', 'role=db']])
})

t.test('protobuf bodies and answers', async (t) => {
  const body = encodeObject({ ...documented, metadata: { name: 'pb' } })
  const res = await adminFetch(url + base, { method: 'POST', headers: { 'content-type': protobuf, accept: `${protobuf},application/json` }, body })
  const bytes = Buffer.from(await res.arrayBuffer())
  t.equal(res.status, 201, bytes.toString())
  t.equal(res.headers.get('content-type'), protobuf)
  const created = decodeProtobufObject(bytes) as any
  t.equal(created.kind, 'NetworkPolicy')
  t.same(created.spec, documented.spec, 'ipBlock, except, selectors and IntOrString ports survive both ways')
  const json = await call(url, 'GET', `${base}/pb`)
  t.same(json.body, created, 'the JSON answer is the same object')
  const noPolicyTypes = encodeObject({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'pb-named' }, spec: { podSelector: {}, egress: [{ ports: [{ port: 'dns', protocol: 'UDP' }, { port: 1000, endPort: 2000 }] }] } })
  const named = await adminFetch(url + base, { method: 'POST', headers: { 'content-type': protobuf }, body: noPolicyTypes })
  const namedBody = (await named.json()) as any
  t.equal(named.status, 201, JSON.stringify(namedBody))
  t.same(namedBody.spec, { podSelector: {}, egress: [{ ports: [{ port: 'dns', protocol: 'UDP' }, { port: 1000, endPort: 2000, protocol: 'TCP' }] }], policyTypes: ['Ingress', 'Egress'] })
  const list = await adminFetch(url + base, { headers: { accept: protobuf } })
  const decoded = decodeProtobufObject(Buffer.from(await list.arrayBuffer())) as any
  t.equal(decoded.kind, 'NetworkPolicyList')
  t.ok(decoded.items.some((i: any) => i.metadata.name === 'pb' && i.spec.ingress[0].from[0].ipBlock.except[0] === '172.17.1.0/24'))
})
