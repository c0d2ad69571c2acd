// Ingress churn end to end: 1,000 Ingresses (one host each, one Service), then GETs to 20 of
// those hosts for ~10 s while one Ingress changes every 100 ms (an annotation toggled on a
// loaded one, or a delete + recreate of one not under load): no request may fail, and an
// Ingress created during the churn becomes routable.
import t from 'tap'
import type { V1Ingress } from '@kubernetes/client-node'
import { createWeftClass, ingressLab, kind, path as p, until } from '../helpers/ingress-e2e.ts'

t.setTimeout(240_000)
const lab = await ingressLab(t)
await createWeftClass(lab.client)
await lab.backend(['10.77.0.2:8080', '10.77.0.3:8080', '10.77.0.4:8080'])
await lab.backendService('web', ['10.77.0.2:8080', '10.77.0.3:8080', '10.77.0.4:8080'])
await lab.startIngress()

const N = 1000
const spec = (i: number) => ({ rules: [{ host: `h${i}.churn.test`, http: { paths: [p('/', 'web')] } }] })
let next = 0
await Promise.all(Array.from({ length: 20 }, async () => {
  while (next < N) {
    const i = next++
    await lab.ingress(`ing-${i}`, spec(i))
  }
}))
await until(`h${N - 1}.churn.test routed`, async () => (await lab.http(`h${N - 1}.churn.test`, '/')).status === 200, 60_000)

t.test('updates every 100 ms under load: no failed request; a new Ingress becomes routable', async (t) => {
  const loaded = Array.from({ length: 20 }, (_, i) => `h${i}.churn.test`)
  // A failed request: no 200 from a backend (see programs/ingress-load.ts).
  const run = await lab.load({ hosts: loaded, rate: 100, durationMs: 10_000 })
  const started = Date.now()
  let op = 0
  let created = false
  while (Date.now() - started < 9_500) {
    const tick = Date.now()
    if (op % 5 === 4) {
      const i = 20 + ((op * 37) % (N - 20))
      await lab.deleteIngress(`ing-${i}`)
      await lab.ingress(`ing-${i}`, spec(i))
    } else {
      const i = op % 20
      const ing = await lab.client.get<V1Ingress>(kind('Ingress'), `ing-${i}`, 'default')
      ing.metadata!.annotations = { 'weft.dev/proxy-read-timeout': op % 2 === 0 ? '30s' : '31s' }
      ing.spec!.rules![0].http!.paths = op % 3 === 0 ? [p('/', 'web'), p('/extra', 'web')] : [p('/', 'web')]
      await lab.client.update(kind('Ingress'), ing)
    }
    if (op === 30) {
      await lab.ingress('fresh', { rules: [{ host: 'fresh.churn.test', http: { paths: [p('/', 'web')] } }] })
      created = true
    }
    op++
    await new Promise((r) => setTimeout(r, Math.max(0, 100 - (Date.now() - tick))))
  }
  t.ok(created)
  await until('fresh.churn.test routed', async () => (await lab.http('fresh.churn.test', '/')).status === 200, 20_000)
  const summary = await run.done
  t.equal(summary.failed, 0, `no failed request: ${JSON.stringify(summary.errors)}`)
  t.ok(summary.done > 500, `requests answered: ${summary.done}`)
  t.equal(Object.keys(summary.byHost).length, 20, 'every loaded host served')
  t.ok(op >= 50, `updates made: ${op}`)
})
