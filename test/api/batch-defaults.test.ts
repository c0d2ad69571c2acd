import t from 'tap'
import { applyDefaults } from '../../src/api/defaults.ts'
import { resources } from '../../src/api/registry.ts'

const info = (kind: string) => resources.find((r) => r.kind === kind)!

t.test('Job defaults (SetDefaults_Job)', async (t) => {
  const job: any = { metadata: { name: 'pi' }, spec: { template: { metadata: { labels: { app: 'pi' } }, spec: { containers: [{ name: 'pi', image: 'perl' }], restartPolicy: 'Never' } } } }
  applyDefaults(info('Job'), job)
  t.match(job.spec, { completions: 1, parallelism: 1, backoffLimit: 6, completionMode: 'NonIndexed', suspend: false, podReplacementPolicy: 'TerminatingOrFailed', manualSelector: false })
  t.same(job.metadata.labels, { app: 'pi' }, 'a Job without labels takes its template\'s')
  t.equal(job.spec.template.spec.dnsPolicy, 'ClusterFirst', 'pod template defaults')
  t.equal(job.spec.template.spec.restartPolicy, 'Never', 'kept')
  t.same(job.status, {})

  const parallel: any = { metadata: { name: 'q', labels: { own: 'x' } }, spec: { parallelism: 3, template: { spec: { containers: [{ name: 'c', image: 'i' }] } } } }
  applyDefaults(info('Job'), parallel)
  t.equal(parallel.spec.completions, undefined, 'a work queue: parallelism without completions leaves completions unset')
  t.equal(parallel.spec.parallelism, 3)
  t.same(parallel.metadata.labels, { own: 'x' }, 'labels of its own are kept')
  t.equal(parallel.spec.template.spec.restartPolicy, 'Always', 'an unset restartPolicy defaults as a pod\'s (and validation refuses it)')

  const perIndex: any = { metadata: { name: 'r' }, spec: { completions: 4, completionMode: 'Indexed', backoffLimitPerIndex: 1, podFailurePolicy: { rules: [{ action: 'Ignore', onPodConditions: [{ type: 'DisruptionTarget' }] }] }, template: { spec: { containers: [{ name: 'c', image: 'i' }] } } } }
  applyDefaults(info('Job'), perIndex)
  t.equal(perIndex.spec.backoffLimit, 2147483647, 'with a per-index limit the global one is unbounded')
  t.equal(perIndex.spec.parallelism, 1)
  t.equal(perIndex.spec.podReplacementPolicy, 'Failed', 'a pod failure policy replaces only failed pods')
  t.equal(perIndex.spec.podFailurePolicy.rules[0].onPodConditions[0].status, 'True')
})

t.test('CronJob defaults (SetDefaults_CronJob)', async (t) => {
  const cj: any = { metadata: { name: 'c' }, spec: { schedule: '@hourly', jobTemplate: { spec: { template: { spec: { containers: [{ name: 'c', image: 'busybox' }], restartPolicy: 'OnFailure' } } } } } }
  applyDefaults(info('CronJob'), cj)
  t.match(cj.spec, { concurrencyPolicy: 'Allow', suspend: false, successfulJobsHistoryLimit: 3, failedJobsHistoryLimit: 1 })
  t.equal(cj.spec.jobTemplate.spec.template.spec.terminationGracePeriodSeconds, 30, 'the pod template is defaulted')
  t.equal(cj.spec.jobTemplate.spec.parallelism, undefined, 'the Job\'s own defaults wait for the Job')
  t.equal(cj.spec.jobTemplate.spec.backoffLimit, undefined)
  const kept: any = { metadata: { name: 'c' }, spec: { schedule: '@hourly', concurrencyPolicy: 'Forbid', successfulJobsHistoryLimit: 0, jobTemplate: { spec: { template: { spec: { containers: [] } } } } } }
  applyDefaults(info('CronJob'), kept)
  t.equal(kept.spec.concurrencyPolicy, 'Forbid')
  t.equal(kept.spec.successfulJobsHistoryLimit, 0, 'zero is a limit, not unset')
})
