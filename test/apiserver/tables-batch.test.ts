import t from 'tap'
import { toTable } from '../../src/apiserver/tables.ts'
import { resources } from '../../src/api/registry.ts'

const now = new Date('2026-12-07T12:00:00Z')
const ago = (s: number) => new Date(now.getTime() - s * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z')
const info = (kind: string) => resources.find((r) => r.kind === kind)!

function rows(kind: string, objects: object[]): Record<string, unknown>[] {
  const table = toTable(info(kind), objects, { includeObject: 'None', now })
  return table.rows.map((r) => Object.fromEntries(table.columnDefinitions.map((c, i) => [c.name, r.cells[i]])))
}

const template = { spec: { containers: [{ name: 'pi', image: 'perl:5.34' }, { name: 'side', image: 'busybox' }] } }
const selector = { matchLabels: { 'batch.kubernetes.io/controller-uid': 'u1' } }

function job(name: string, extra: { spec?: object; status?: object; deleting?: boolean } = {}) {
  return {
    metadata: { name, creationTimestamp: ago(3600), ...(extra.deleting ? { deletionTimestamp: ago(1) } : {}) },
    spec: { completions: 3, parallelism: 1, selector, template, ...extra.spec },
    status: extra.status ?? {},
  }
}

t.test('kubectl get jobs', async (t) => {
  const table = toTable(info('Job'), [], { includeObject: 'None', now })
  t.same(table.columnDefinitions.map((c) => [c.name, c.priority]), [['Name', 0], ['Status', 0], ['Completions', 0], ['Duration', 0], ['Age', 0], ['Containers', 1], ['Images', 1], ['Selector', 1]])
  const cond = (type: string) => ({ conditions: [{ type, status: 'True' }] })
  t.same(
    rows('Job', [
      job('new'),
      job('running', { status: { startTime: ago(125), succeeded: 1 } }),
      job('done', { status: { startTime: ago(600), completionTime: ago(540), succeeded: 3, ...cond('Complete') } }),
      job('failed', { status: { startTime: ago(60), ...cond('Failed') } }),
      job('going', { deleting: true, status: { startTime: ago(60) } }),
      job('paused', { status: cond('Suspended') }),
      job('failing', { status: { startTime: ago(30), ...cond('FailureTarget') } }),
      job('queue', { spec: { completions: undefined, parallelism: 4 }, status: { succeeded: 1 } }),
      job('single', { spec: { completions: undefined, parallelism: 1 } }),
    ]).map((r) => [r.Name, r.Status, r.Completions, r.Duration, r.Age]),
    [
      ['new', 'Running', '0/3', '', '60m'],
      ['running', 'Running', '1/3', '2m5s', '60m'],
      ['done', 'Complete', '3/3', '60s', '60m'],
      ['failed', 'Failed', '0/3', '60s', '60m'],
      ['going', 'Terminating', '0/3', '60s', '60m'],
      ['paused', 'Suspended', '0/3', '', '60m'],
      ['failing', 'FailureTarget', '0/3', '30s', '60m'],
      ['queue', 'Running', '1/1 of 4', '', '60m'],
      ['single', 'Running', '0/1', '', '60m'],
    ],
  )
  const [wide] = rows('Job', [job('w')])
  t.same([wide!.Containers, wide!.Images, wide!.Selector], ['pi,side', 'perl:5.34,busybox', 'batch.kubernetes.io/controller-uid=u1'])
})

t.test('kubectl get cronjobs', async (t) => {
  const table = toTable(info('CronJob'), [], { includeObject: 'None', now })
  t.same(table.columnDefinitions.map((c) => [c.name, c.type, c.priority]), [
    ['Name', 'string', 0],
    ['Schedule', 'string', 0],
    ['Timezone', 'string', 0],
    ['Suspend', 'boolean', 0],
    ['Active', 'integer', 0],
    ['Last Schedule', 'string', 0],
    ['Age', 'string', 0],
    ['Containers', 'string', 1],
    ['Images', 'string', 1],
    ['Selector', 'string', 1],
  ])
  const cj = (name: string, spec: object, status: object) => ({ metadata: { name, creationTimestamp: ago(86400 * 3) }, spec: { schedule: '*/5 * * * *', jobTemplate: { spec: { template } }, ...spec }, status })
  t.same(
    rows('CronJob', [
      cj('fresh', { suspend: false }, {}),
      cj('busy', { suspend: true, timeZone: 'Europe/Berlin' }, { active: [{ name: 'busy-1' }, { name: 'busy-2' }], lastScheduleTime: ago(90) }),
      cj('unset', {}, {}),
    ]),
    [
      { Name: 'fresh', Schedule: '*/5 * * * *', Timezone: '<none>', Suspend: 'False', Active: 0, 'Last Schedule': '<none>', Age: '3d', Containers: 'pi,side', Images: 'perl:5.34,busybox', Selector: '<none>' },
      { Name: 'busy', Schedule: '*/5 * * * *', Timezone: 'Europe/Berlin', Suspend: 'True', Active: 2, 'Last Schedule': '90s', Age: '3d', Containers: 'pi,side', Images: 'perl:5.34,busybox', Selector: '<none>' },
      { Name: 'unset', Schedule: '*/5 * * * *', Timezone: '<none>', Suspend: '<unset>', Active: 0, 'Last Schedule': '<none>', Age: '3d', Containers: 'pi,side', Images: 'perl:5.34,busybox', Selector: '<none>' },
    ],
  )
})
