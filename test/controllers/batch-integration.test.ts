// Jobs, CronJobs and TTL-after-finished against a real weft API server, with the test
// acting as the kubelet: it runs each bound pod to completion.
import t from 'tap'
import { resources } from '../../src/api/registry.ts'
import type { RestClient } from '../../src/client/index.ts'
import { call } from '../helpers/apiserver.ts'
import { heartbeat, node, startCluster, until } from '../helpers/control-plane.ts'

const info = (kind: string) => resources.find((r) => r.kind === kind)!
const podInfo = info('Pod')
const isoNow = () => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z')

interface Kubelet {
  stop(): void
  /** The most pods of one Job seen running at once. */
  peak: Map<string, number>
}

/** Runs every bound pod to Succeeded (exit 0) and confirms graceful deletions, as a kubelet would. */
function completingKubelet(client: RestClient): Kubelet {
  let stopped = false
  const peak = new Map<string, number>()
  const loop = async () => {
    while (!stopped) {
      try {
        const { items } = await client.list<any>(podInfo)
        const running = new Map<string, number>()
        for (const pod of items) {
          const job = pod.metadata.labels?.['batch.kubernetes.io/job-name']
          const terminal = pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed'
          if (job && !terminal && !pod.metadata.deletionTimestamp) running.set(job, (running.get(job) ?? 0) + 1)
        }
        for (const [job, n] of running) peak.set(job, Math.max(peak.get(job) ?? 0, n))
        for (const pod of items) {
          if (!pod.spec?.nodeName) continue
          const { name, namespace, uid } = pod.metadata
          if (pod.metadata.deletionTimestamp) {
            await client.delete(podInfo, name, namespace, { gracePeriodSeconds: 0, preconditions: { uid } }).catch(() => undefined)
            continue
          }
          if (pod.status?.phase === 'Succeeded') continue
          const now = isoNow()
          const status = {
            phase: 'Succeeded',
            conditions: [{ type: 'Ready', status: 'False', reason: 'PodCompleted', lastTransitionTime: now }],
            containerStatuses: pod.spec.containers.map((c: any) => ({ name: c.name, image: c.image, imageID: '', ready: false, restartCount: 0, state: { terminated: { exitCode: 0, reason: 'Completed', startedAt: now, finishedAt: now } } })),
          }
          await client.patch(podInfo, name, namespace, { status }, 'merge', { subresource: 'status' }).catch(() => undefined)
        }
      } catch {}
      await new Promise((r) => setTimeout(r, 100))
    }
  }
  void loop()
  return { stop: () => void (stopped = true), peak }
}

const template = { spec: { containers: [{ name: 'work', image: 'weft/echo' }], restartPolicy: 'Never' } }

t.test('a Job of 10 completions, 3 at a time, completes and is counted', async (t) => {
  const c = await startCluster(t)
  await c.client.create(info('Node'), node('a'))
  const stopBeat = heartbeat(c.client, 'a')
  const kubelet = completingKubelet(c.client)
  t.teardown(() => {
    kubelet.stop()
    stopBeat()
  })
  const created = await call(c.url, 'POST', '/apis/batch/v1/namespaces/default/jobs', { metadata: { name: 'tenfold' }, spec: { completions: 10, parallelism: 3, template } })
  t.equal(created.status, 201, created.status === 201 ? 'created' : JSON.stringify(created.body))
  t.match(created.body.spec.selector.matchLabels, { 'batch.kubernetes.io/controller-uid': created.body.metadata.uid }, 'the selector was generated')
  const job = async () => (await call(c.url, 'GET', '/apis/batch/v1/namespaces/default/jobs/tenfold')).body
  await until('the Job to complete', async () => (await job()).status?.conditions?.some((x: any) => x.type === 'Complete' && x.status === 'True'), 60_000)
  const done = await job()
  t.equal(done.status.succeeded, 10)
  t.equal(done.status.failed, undefined)
  t.same(done.status.conditions.map((x: any) => `${x.type}=${x.status}`), ['SuccessCriteriaMet=True', 'Complete=True'])
  t.ok(done.status.completionTime, 'completionTime set')
  t.same(done.status.uncountedTerminatedPods, {})
  t.ok((kubelet.peak.get('tenfold') ?? 0) <= 3, `never more than parallelism pods running (peak ${kubelet.peak.get('tenfold')})`)
  const pods = (await call(c.url, 'GET', '/api/v1/namespaces/default/pods?labelSelector=batch.kubernetes.io%2Fjob-name%3Dtenfold')).body.items
  t.equal(pods.length, 10, 'one pod per completion')
  t.ok(pods.every((p: any) => !(p.metadata.finalizers ?? []).includes('batch.kubernetes.io/job-tracking')), 'every pod was counted and released')
  const table = await call(c.url, 'GET', '/apis/batch/v1/namespaces/default/jobs/tenfold', undefined, { accept: 'application/json;as=Table;v=v1;g=meta.k8s.io' })
  t.same(table.body.rows[0].cells.slice(0, 3), ['tenfold', 'Complete', '10/10'])
  const events = (await call(c.url, 'GET', '/api/v1/namespaces/default/events')).body.items.filter((e: any) => e.involvedObject.name === 'tenfold')
  t.ok(events.some((e: any) => e.reason === 'Completed' && e.source.component === 'job-controller'))
  t.equal(events.filter((e: any) => e.reason === 'SuccessfulCreate').length, 10)

  // Deleted without a propagation policy, a batch/v1 Job orphans its pods, as upstream.
  t.equal((await call(c.url, 'DELETE', '/apis/batch/v1/namespaces/default/jobs/tenfold')).status, 200)
  await until('the Job to go', async () => (await call(c.url, 'GET', '/apis/batch/v1/namespaces/default/jobs/tenfold')).status === 404)
  await until('its pods to be orphaned', async () => {
    const left = (await call(c.url, 'GET', '/api/v1/namespaces/default/pods?labelSelector=batch.kubernetes.io%2Fjob-name%3Dtenfold')).body.items
    return left.length === 10 && left.every((p: any) => !p.metadata.ownerReferences?.length)
  })
  t.pass('its pods stay, orphaned')

  // TTL after finished: a finished Job with ttlSecondsAfterFinished 0 goes, with its pod.
  await call(c.url, 'POST', '/apis/batch/v1/namespaces/default/jobs', { metadata: { name: 'brief' }, spec: { ttlSecondsAfterFinished: 0, template } })
  await until('the finished Job to be deleted', async () => (await call(c.url, 'GET', '/apis/batch/v1/namespaces/default/jobs/brief')).status === 404, 60_000)
  await until('its pod to go too', async () => (await call(c.url, 'GET', '/api/v1/namespaces/default/pods?labelSelector=batch.kubernetes.io%2Fjob-name%3Dbrief')).body.items.length === 0)
  t.pass('deleted after its TTL, pods first')
})

t.test('a CronJob starts a Job at its scheduled time, and notices it finish', async (t) => {
  const c = await startCluster(t)
  await c.client.create(info('Node'), node('a'))
  const stopBeat = heartbeat(c.client, 'a')
  const kubelet = completingKubelet(c.client)
  t.teardown(() => {
    kubelet.stop()
    stopBeat()
  })
  const cj = await call(c.url, 'POST', '/apis/batch/v1/namespaces/default/cronjobs', { metadata: { name: 'minutely' }, spec: { schedule: '* * * * *', jobTemplate: { spec: { template } } } })
  t.equal(cj.status, 201, cj.status === 201 ? 'created' : JSON.stringify(cj.body))
  t.match(cj.body.spec, { concurrencyPolicy: 'Allow', suspend: false, successfulJobsHistoryLimit: 3, failedJobsHistoryLimit: 1 })
  // As if the last run had been two minutes ago: a start is due now, without waiting for the clock.
  const twoMinutesAgo = new Date(Date.now() - 120_000).toISOString().replace(/\.\d{3}Z$/, 'Z')
  const current = (await call(c.url, 'GET', '/apis/batch/v1/namespaces/default/cronjobs/minutely')).body
  const statusWrite = await call(c.url, 'PUT', '/apis/batch/v1/namespaces/default/cronjobs/minutely/status', { ...current, status: { lastScheduleTime: twoMinutesAgo } })
  t.equal(statusWrite.status, 200, statusWrite.status === 200 ? 'status written' : JSON.stringify(statusWrite.body))
  const jobs = async () => (await call(c.url, 'GET', '/apis/batch/v1/namespaces/default/jobs')).body.items.filter((j: any) => j.metadata.ownerReferences?.[0]?.name === 'minutely')
  await until('a Job of the CronJob', async () => (await jobs()).length > 0, 30_000)
  const [first] = await jobs()
  const scheduled = Math.floor(Date.now() / 60_000) * 60_000
  t.ok([scheduled, scheduled - 60_000].includes(Number(first.metadata.name.slice('minutely-'.length)) * 60_000), `named after the minute it was due: ${first.metadata.name}`)
  t.match(first.metadata.annotations['batch.kubernetes.io/cronjob-scheduled-timestamp'], /^\d{4}-\d\d-\d\dT\d\d:\d\d:00Z$/)
  t.match(first.metadata.ownerReferences[0], { apiVersion: 'batch/v1', kind: 'CronJob', name: 'minutely', controller: true })
  const cronJob = async () => (await call(c.url, 'GET', '/apis/batch/v1/namespaces/default/cronjobs/minutely')).body
  await until('its run to be remembered as a success', async () => {
    const s = (await cronJob()).status
    return Boolean(s?.lastSuccessfulTime) && !(s.active ?? []).some((r: any) => r.name === first.metadata.name)
  }, 60_000)
  const events = (await call(c.url, 'GET', '/api/v1/namespaces/default/events')).body.items.filter((e: any) => e.involvedObject.name === 'minutely')
  t.ok(events.some((e: any) => e.reason === 'SuccessfulCreate' && e.message === `Created job ${first.metadata.name}`))
  t.ok(events.some((e: any) => e.reason === 'SawCompletedJob'))
  t.notOk(events.some((e: any) => e.reason === 'UnexpectedJob' || e.reason === 'MissingJob'), 'its own Job was never taken for someone else\'s')
  const table = await call(c.url, 'GET', '/apis/batch/v1/namespaces/default/cronjobs', undefined, { accept: 'application/json;as=Table;v=v1;g=meta.k8s.io' })
  t.same(table.body.rows[0].cells.slice(0, 4), ['minutely', '* * * * *', '<none>', 'False'])
})
