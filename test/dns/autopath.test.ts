import t from 'tap'
import { autopathAnswer, autopathCandidates, podSearchPath } from '../../dns/autopath.ts'
import { answer } from '../../dns/answer.ts'
import { RRClass, RRType, Rcode, type Answer } from '../../dns/records.ts'
import { buildZoneIndex, defaultZoneConfig } from '../../dns/zone-index.ts'

t.test('podSearchPath: the pod resolv.conf search list, host domains deduplicated', async (t) => {
  t.same(podSearchPath('ns', 'cluster.local', ['corp.example.', 'Cluster.Local', '']), ['ns.svc.cluster.local', 'svc.cluster.local', 'cluster.local', 'corp.example'])
})

t.test('autopathCandidates', async (t) => {
  const table: [string, string, string[], string[] | undefined][] = [
    ['web.ns.svc.cluster.local', 'ns', [], ['web.ns.svc.cluster.local', 'web.svc.cluster.local', 'web.cluster.local', 'web']],
    [
      'example.com.ns.svc.cluster.local',
      'ns',
      ['corp.example'],
      ['example.com.ns.svc.cluster.local', 'example.com.svc.cluster.local', 'example.com.cluster.local', 'example.com.corp.example', 'example.com'],
    ],
    ['Web.NS.svc.Cluster.Local.', 'ns', [], ['web.ns.svc.cluster.local', 'web.svc.cluster.local', 'web.cluster.local', 'web']],
    ['ns.svc.cluster.local', 'ns', [], undefined],
    ['web.other.svc.cluster.local', 'ns', [], undefined],
    ['web.xns.svc.cluster.local', 'ns', [], undefined],
    ['example.com', 'ns', [], undefined],
  ]
  for (const [qname, ns, host, want] of table) t.same(autopathCandidates(qname, ns, 'cluster.local', host), want, qname)
})

t.test('autopathAnswer', async (t) => {
  const hit: Answer = {
    rcode: Rcode.NOERROR,
    authoritative: true,
    answers: [{ name: 'web.svc.cluster.local', type: RRType.A, class: RRClass.IN, ttl: 5, data: { address: '10.0.0.1' } }],
    authority: [],
    additional: [],
  }
  const got = autopathAnswer('Web.NS.svc.cluster.local', 'web.svc.cluster.local', hit, 5)
  t.same(got, {
    ...hit,
    answers: [{ name: 'Web.NS.svc.cluster.local', type: RRType.CNAME, class: RRClass.IN, ttl: 5, data: { target: 'web.svc.cluster.local' } }, ...hit.answers],
  })
  t.equal(hit.answers.length, 1, 'the hit is not modified')
  t.equal(autopathAnswer('WEB.svc.cluster.local', 'web.svc.cluster.local', hit, 5), hit, 'the asked name itself: unchanged')
})

t.test('walking the candidates against a zone: first non-NXDOMAIN wins', async (t) => {
  const index = buildZoneIndex(
    { services: [{ metadata: { namespace: 'default', name: 'kubernetes' }, spec: { clusterIP: '10.96.0.1' } }], slices: [], pods: [] },
    defaultZoneConfig,
  )
  const asked = 'kubernetes.default.svc.cluster.local.team.svc.cluster.local'
  const candidates = autopathCandidates(asked, 'team', 'cluster.local', [])!
  let reply: Answer | undefined
  for (const name of candidates) {
    const result = answer(index, { name, type: RRType.A, class: RRClass.IN })
    if (result && result.rcode !== Rcode.NXDOMAIN) {
      reply = autopathAnswer(asked, name, result, 5)
      break
    }
  }
  t.same(reply?.answers.map((r) => [r.name, r.type, r.data]), [
    [asked, RRType.CNAME, { target: 'kubernetes.default.svc.cluster.local' }],
    ['kubernetes.default.svc.cluster.local', RRType.A, { address: '10.96.0.1' }],
  ])
})
