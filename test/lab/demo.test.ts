import t from 'tap'
import type { V1Deployment, V1Pod } from '@kubernetes/client-node'
import { findByKind } from '../../src/api/registry.ts'
import { RestClient } from '../../src/client/index.ts'
import { applyManifests, loadManifests, waitForDeployments } from '../../src/lab/demo.ts'
import { DEMO_DIR } from '../../src/lab/up.ts'
import { startTestServer } from '../helpers/apiserver.ts'

const podInfo = findByKind('v1', 'Pod')!
const deploymentInfo = findByKind('apps/v1', 'Deployment')!

t.test('the demo manifests apply, and up waits for their pods to run', async (t) => {
  const objects = await loadManifests(DEMO_DIR)
  const echo = objects.find((o) => o.kind === 'Deployment' && o.metadata?.name === 'echo') as V1Deployment | undefined
  t.ok(echo, 'demo/ has the echo Deployment')
  t.equal(echo?.spec?.replicas, 2)
  t.equal(echo?.spec?.template.spec?.containers[0]?.image, 'weft/echo')

  const { address } = await startTestServer(t)
  const client = new RestClient(address)
  t.teardown(() => client.destroy())
  await applyManifests(client, objects)
  await applyManifests(client, objects) // applying again changes nothing and fails nothing
  const stored = await client.get<V1Deployment>(deploymentInfo, 'echo', 'default')
  t.same(stored.spec?.selector.matchLabels, { app: 'echo' })
  t.equal(stored.metadata?.managedFields?.[0]?.manager, 'weft-lab')

  // No controllers run here: make the pods by hand, then mark them Running one by one.
  const made: V1Pod[] = []
  for (const n of [1, 2]) {
    made.push(
      await client.create<V1Pod>(podInfo, {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: `echo-${n}`, namespace: 'default', labels: { app: 'echo' } },
        spec: { containers: [{ name: 'echo', image: 'weft/echo' }] },
      }),
    )
  }
  const waiting = waitForDeployments(client, objects, { timeoutMs: 30_000, intervalMs: 20 })
  let settled = false
  void waiting.then(() => (settled = true), () => (settled = true))
  for (const [i, pod] of made.entries()) {
    await new Promise((r) => setTimeout(r, 100))
    t.notOk(settled, `still waiting with ${i} of 2 running`)
    await client.updateStatus<V1Pod>(podInfo, { ...pod, status: { phase: 'Running', podIP: `10.244.1.${i + 2}` } })
  }
  const pods = await waiting
  t.same(pods.map((p) => p.status?.podIP).sort(), ['10.244.1.2', '10.244.1.3'])
})

t.test('a demo timeout names what it waited for', async (t) => {
  const { address } = await startTestServer(t)
  const client = new RestClient(address)
  t.teardown(() => client.destroy())
  const objects = await loadManifests(DEMO_DIR)
  await t.rejects(waitForDeployments(client, objects, { timeoutMs: 200, intervalMs: 20 }), /timed out .* 2 Running pod\(s\) of Deployment default\/echo/)
})
