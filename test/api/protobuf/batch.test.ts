import t from 'tap'
import { decodeProtobufObject, encodeProtobufObject } from '../../../src/api/protobuf/index.ts'

// What `kubectl create job pi --image=perl` and `kubectl create cronjob nightly --image=busybox
// --schedule='0 3 * * *'` send (protobuf, as kubectl's generators do), and
// `kubectl create job run --from=cronjob/nightly`, which carries the owner and an annotation.
const job = {
  apiVersion: 'batch/v1',
  kind: 'Job',
  metadata: { name: 'pi', namespace: 'default', creationTimestamp: null },
  spec: { template: { metadata: { creationTimestamp: null }, spec: { containers: [{ name: 'pi', image: 'perl', resources: {} }], restartPolicy: 'Never' } } },
  status: {},
}
const cronJob = {
  apiVersion: 'batch/v1',
  kind: 'CronJob',
  metadata: { name: 'nightly', namespace: 'default', creationTimestamp: null },
  spec: {
    schedule: '0 3 * * *',
    timeZone: 'Europe/Berlin',
    jobTemplate: { metadata: { name: 'nightly', creationTimestamp: null }, spec: { template: { metadata: { creationTimestamp: null }, spec: { containers: [{ name: 'nightly', image: 'busybox', resources: {} }], restartPolicy: 'OnFailure' } } } },
  },
  status: {},
}
const fromCronJob = {
  apiVersion: 'batch/v1',
  kind: 'Job',
  metadata: {
    name: 'run',
    namespace: 'default',
    annotations: { 'cronjob.kubernetes.io/instantiate': 'manual' },
    ownerReferences: [{ apiVersion: 'batch/v1', kind: 'CronJob', name: 'nightly', uid: '0b1c2d3e-0000-4000-8000-000000000002', controller: true }],
  },
  spec: { backoffLimit: 6, completions: 1, parallelism: 1, suspend: false, podFailurePolicy: { rules: [{ action: 'Ignore', onExitCodes: { operator: 'In', values: [3, 5] } }] }, template: { spec: { containers: [{ name: 'c', image: 'busybox' }], restartPolicy: 'Never' } } },
}

t.test('Jobs and CronJobs cross protobuf as kubectl sends them', async (t) => {
  for (const obj of [job, cronJob, fromCronJob]) {
    const back = decodeProtobufObject(encodeProtobufObject(obj), { apiVersion: 'batch/v1', kind: obj.kind })
    t.match(back, { apiVersion: 'batch/v1', kind: obj.kind, metadata: { name: obj.metadata.name } }, `${obj.kind} ${obj.metadata.name}`)
    t.same((back as any).spec, JSON.parse(JSON.stringify(obj.spec, (_k, v) => (v === null ? undefined : v))), 'the spec comes back whole')
  }
  const decoded = decodeProtobufObject(encodeProtobufObject(fromCronJob), { apiVersion: 'batch/v1', kind: 'Job' }) as any
  t.same(decoded.metadata.ownerReferences[0], fromCronJob.metadata.ownerReferences[0])
  t.equal(decoded.spec.suspend, false, 'a false bool survives')
})
