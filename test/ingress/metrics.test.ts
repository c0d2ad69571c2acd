import t from 'tap'
import { IngressMetrics } from '../../ingress/metrics.ts'

t.test('the series of Ingresses no longer served are removed', async (t) => {
  const m = new IngressMetrics()
  m.request('default/a', 'default/web', 200, 0.01, 0.005)
  m.request('default/a', 'default/web', 502, 0.01, undefined)
  m.request('team/b', 'team/api', 200, 0.02, 0.01)
  m.request('', '', 404, 0.001, undefined)
  const before = await m.registry.metrics()
  t.match(before, /weft_ingress_requests_total\{ingress="default\/a",service="default\/web",status="502"\} 1/)
  m.forget(new Set(['team/b']))
  const after = await m.registry.metrics()
  t.notMatch(after, /ingress="default\/a"/, 'every series of default/a is gone')
  t.match(after, /weft_ingress_requests_total\{ingress="team\/b",service="team\/api",status="200"\} 1/, 'a served one stays')
  t.match(after, /weft_ingress_upstream_response_seconds_count\{ingress="team\/b",service="team\/api"\} 1/)
  t.match(after, /weft_ingress_requests_total\{ingress="",service="",status="404"\} 1/, 'requests no Ingress matched stay')
  m.request('default/a', 'default/web', 200, 0.01, 0.005)
  t.match(await m.registry.metrics(), /weft_ingress_requests_total\{ingress="default\/a",service="default\/web",status="200"\} 1/, 'counted afresh if it comes back')
})
