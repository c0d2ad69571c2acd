// A HorizontalPodAutoscaler against a real API server, scheduler and controller manager:
// the metrics API reads a kubelet's stats summary (a real kubelet API server whose figures
// the test sets), and a Deployment under a CPU hog is scaled up, then back down when the
// hog stops; kubectl autoscale creates one through autoscaling/v1, and kubectl get hpa shows them.
import t from 'tap'
import { resources } from '../../src/api/registry.ts'
import type { RestClient } from '../../src/client/index.ts'
import { call } from '../helpers/apiserver.ts'
import { heartbeat, node, startCluster, until } from '../helpers/control-plane.ts'
import { kubectl } from '../helpers/kubectl.ts'
import { makeSummary, startStatsKubelet } from '../helpers/stats-kubelet.ts'

const podInfo = resources.find((r) => r.kind === 'Pod')!

/** A kubelet for the test's node: pods run and have been ready for ten minutes (past the CPU initialization period). */
function steadyKubelet(client: RestClient, everyMs = 50): () => void {
  let stopped = false
  const long = new Date(Date.now() - 600_000).toISOString().replace(/\.\d{3}Z$/, 'Z')
  void (async () => {
    while (!stopped) {
      const { items } = await client.list<any>(podInfo).catch(() => ({ items: [] as any[] }))
      for (const pod of items) {
        if (!pod.spec?.nodeName) continue
        if (pod.metadata.deletionTimestamp) {
          await client.delete(podInfo, pod.metadata.name, pod.metadata.namespace, { gracePeriodSeconds: 0, preconditions: { uid: pod.metadata.uid } }).catch(() => undefined)
          continue
        }
        if (pod.status?.phase === 'Running') continue
        const conditions = ['Initialized', 'Ready', 'ContainersReady', 'PodScheduled'].map((type) => ({ type, status: 'True', lastTransitionTime: long }))
        await client.patch(podInfo, pod.metadata.name, pod.metadata.namespace, { status: { phase: 'Running', startTime: long, conditions } }, 'merge', { subresource: 'status' }).catch(() => undefined)
      }
      await new Promise((r) => setTimeout(r, everyMs))
    }
  })()
  return () => {
    stopped = true
  }
}

t.test('a Deployment under a CPU hog is scaled up, and down again when it stops', async (t) => {
  const c = await startCluster(t, { hpaSyncPeriodMs: 300 }, { kubeletSocketsInDir: true, metrics: { maxAgeMs: 200 } })
  await c.client.create(resources.find((r) => r.kind === 'Node')!, node('h1'))
  const stopBeat = heartbeat(c.client, 'h1')
  const stopKubelet = steadyKubelet(c.client)
  t.teardown(() => {
    stopKubelet()
    stopBeat()
  })
  // Each pod's container uses `millicores` of CPU.
  let millicores = 300
  const kubelet = await startStatsKubelet(t, c.dir, 'h1')
  kubelet.summary = async () => {
    const { items } = await c.client.list<any>(podInfo, { namespace: 'default' })
    const running = items.filter((p: any) => p.spec?.nodeName === 'h1' && !p.metadata.deletionTimestamp)
    return makeSummary('h1', { nanoCores: 1e9, bytes: 1 << 30 }, running.map((p: any) => ({ namespace: 'default', name: p.metadata.name, uid: p.metadata.uid, containers: [['c', millicores * 1e6, 64 << 20]] as Array<[string, number, number]> })))
  }
  const made = await call(c.url, 'POST', '/apis/apps/v1/namespaces/default/deployments', {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web' },
    spec: { replicas: 1, selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image: 'weft/echo', resources: { requests: { cpu: '100m' } } }] } } },
  })
  t.equal(made.status, 201, JSON.stringify(made.body))
  const hpa = await call(c.url, 'POST', '/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers', {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: { name: 'web' },
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' },
      minReplicas: 1,
      maxReplicas: 5,
      metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 50 } } }],
      behavior: { scaleDown: { stabilizationWindowSeconds: 0 } },
    },
  })
  t.equal(hpa.status, 201, JSON.stringify(hpa.body))
  t.match(hpa.body.spec.behavior.scaleUp, { selectPolicy: 'Max', policies: [{ type: 'Pods', value: 4 }, { type: 'Percent', value: 100 }] }, 'the behavior is filled in')
  const replicas = async () => (await call(c.url, 'GET', '/apis/apps/v1/namespaces/default/deployments/web')).body.spec.replicas
  // 300m used of 100m requested: 300% against 50%, 6 pods wanted; at most 1 + 4 in one go, and 5 is the maximum.
  await until('scaled up to the maximum', async () => (await replicas()) === 5, 20_000)
  const status = (await call(c.url, 'GET', '/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers/web')).body.status
  t.match(status, { currentMetrics: [{ type: 'Resource', resource: { name: 'cpu', current: { averageUtilization: 300 } } }], lastScaleTime: /Z$/ })
  t.match(status.conditions, [{ type: 'AbleToScale', status: 'True' }, { type: 'ScalingActive', status: 'True', reason: 'ValidMetricFound' }, { type: 'ScalingLimited' }])
  const events = await call(c.url, 'GET', '/api/v1/namespaces/default/events?fieldSelector=involvedObject.kind%3DHorizontalPodAutoscaler')
  t.ok(events.body.items.some((e: any) => e.reason === 'SuccessfulRescale' && /^New size: \d; reason: cpu resource utilization \(percentage of request\) above target$/.test(e.message)), 'the rescale is an Event')
  const table = await kubectl(c.kubeconfig, ['get', 'hpa', 'web'])
  t.equal(table.code, 0, table.stderr)
  t.match(table.stdout, /^NAME\s+REFERENCE\s+TARGETS\s+MINPODS\s+MAXPODS\s+REPLICAS\s+AGE\nweb\s+Deployment\/web\s+cpu: \d+%\/50%\s+1\s+5\s+\d\s+/)

  millicores = 10
  // 10% against 50%: the scale-down window is 0 here, so it goes to the minimum at the policy's pace.
  await until('scaled back down', async () => (await replicas()) === 1, 20_000)
  t.pass('down to minReplicas')
})

t.test('kubectl autoscale creates one through autoscaling/v1; it is one object in both versions', async (t) => {
  const c = await startCluster(t, { hpaSyncPeriodMs: 60_000 })
  await call(c.url, 'POST', '/apis/apps/v1/namespaces/default/deployments', {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'api' },
    spec: { replicas: 2, selector: { matchLabels: { app: 'api' } }, template: { metadata: { labels: { app: 'api' } }, spec: { containers: [{ name: 'c', image: 'weft/echo' }] } } },
  })
  const made = await kubectl(c.kubeconfig, ['autoscale', 'deployment', 'api', '--min=2', '--max=6', '--cpu-percent=60'])
  t.equal(made.code, 0, made.stderr)
  t.equal(made.stdout.trim(), 'horizontalpodautoscaler.autoscaling/api autoscaled')
  const v2 = (await call(c.url, 'GET', '/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers/api')).body
  t.match(v2.spec, { scaleTargetRef: { kind: 'Deployment', name: 'api', apiVersion: 'apps/v1' }, minReplicas: 2, maxReplicas: 6, metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 60 } } }] })
  const v1 = (await call(c.url, 'GET', '/apis/autoscaling/v1/namespaces/default/horizontalpodautoscalers/api')).body
  t.match(v1, { apiVersion: 'autoscaling/v1', spec: { minReplicas: 2, maxReplicas: 6, targetCPUUtilizationPercentage: 60 } })
  t.equal(v1.metadata.uid, v2.metadata.uid, 'the same stored object')
  const memory = await call(c.url, 'PATCH', '/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers/api', { spec: { metrics: [...v2.spec.metrics, { type: 'Resource', resource: { name: 'memory', target: { type: 'AverageValue', averageValue: '100Mi' } } }] } }, { 'content-type': 'application/merge-patch+json' })
  t.equal(memory.status, 200, JSON.stringify(memory.body))
  const asV1 = (await call(c.url, 'GET', '/apis/autoscaling/v1/namespaces/default/horizontalpodautoscalers/api')).body
  t.match(JSON.parse(asV1.metadata.annotations['autoscaling.alpha.kubernetes.io/metrics']), [{ type: 'Resource', resource: { name: 'memory' } }], 'what v1 cannot say rides in an annotation')
  const back = await call(c.url, 'PUT', '/apis/autoscaling/v1/namespaces/default/horizontalpodautoscalers/api', { ...asV1, spec: { ...asV1.spec, maxReplicas: 8 } })
  t.equal(back.status, 200, JSON.stringify(back.body))
  const after = (await call(c.url, 'GET', '/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers/api')).body
  t.equal(after.spec.maxReplicas, 8)
  t.equal(after.spec.metrics.length, 2, 'a v1 round trip keeps the memory metric')
  t.equal(after.metadata.annotations, undefined, 'and stores no annotation')
  const bad = await call(c.url, 'POST', '/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers', { apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', metadata: { name: 'bad' }, spec: { scaleTargetRef: { kind: 'Deployment', name: 'api' }, minReplicas: 3, maxReplicas: 2 } })
  t.equal(bad.status, 422)
  t.match(bad.body.message, /spec\.maxReplicas: Invalid value: 2: must be greater than or equal to `minReplicas`/)
  const discovery = (await call(c.url, 'GET', '/apis/autoscaling')).body
  t.same(discovery.versions.map((v: any) => v.version), ['v2', 'v1'])
  t.equal(discovery.preferredVersion.version, 'v2')
})
