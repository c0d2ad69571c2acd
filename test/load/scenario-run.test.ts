// runScenarioActions against an API server without controllers: cordon/uncordon complete at
// once, a Deployment's scale never does (nothing observes it), a missing one fails at once.
import t from 'tap'
import { resources } from '../../src/api/registry.ts'
import { RestClient } from '../../src/client/index.ts'
import { startTestServer } from '../helpers/apiserver.ts'
import { node } from '../helpers/control-plane.ts'
import { newLedger } from '../../load/scenario/context.ts'
import { parseScenario } from '../../load/scenario/parse.ts'
import { runScenarioActions, type ScenarioRunOptions } from '../../load/scenario/run.ts'
import type { ActionRecord } from '../../load/types.ts'

const info = (kind: string) => resources.find((r) => r.kind === kind)!
const server = await startTestServer(t)
const client = new RestClient(server.address)
t.teardown(() => client.close())
for (const name of ['n1', 'n2', 'n3']) await client.create(info('Node'), node(name))
await client.create(info('Deployment'), {
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'stuck', namespace: 'default' },
  spec: { replicas: 1, selector: { matchLabels: { app: 'stuck' } }, template: { metadata: { labels: { app: 'stuck' } }, spec: { containers: [{ name: 'c', image: 'weft/echo' }] } } },
})

function actionsOf(lines: string): ReturnType<typeof parseScenario>['actions'] {
  return parseScenario(`phases:\n  - {rate: 10, duration: 1m}\nactions:\n${lines}`, 'scenario.yaml').actions
}

interface Mark {
  record: ActionRecord
  /** When onMark was called, ms from t0. */
  atMs: number
}

async function run(lines: string, extra: Partial<ScenarioRunOptions> = {}): Promise<{ records: ActionRecord[]; marks: Mark[] }> {
  const t0Ms = Date.now() + 200
  const marks: Mark[] = []
  const records = await runScenarioActions(actionsOf(lines), { client, namespace: 'default', runId: 'r1', t0Ms, pollMs: 50, onMark: (record) => marks.push({ record, atMs: Date.now() - t0Ms }), ...extra, ...(extra.deadlineMs !== undefined ? { deadlineMs: t0Ms + extra.deadlineMs } : {}) })
  return { records, marks }
}

const unschedulable = async (name: string) => Boolean((await client.get<any>(info('Node'), name)).spec?.unschedulable)

t.test('each action starts at t0 + at, never before; starts and completions are marked in order; a failure is recorded and the rest go on', async (t) => {
  const { records, marks } = await run('  - {at: 600ms, uncordon: n1}\n  - {at: 0s, rollout: deployment/nope}\n  - {at: 300ms, cordon: n1, name: cordon the first node}\n')
  t.same(records.map((r) => [r.kind, r.name, r.ok]), [
    ['rollout', 'rollout deployment/nope', false],
    ['cordon', 'cordon the first node', true],
    ['uncordon', 'uncordon n1', true],
  ], 'in time order, with their names')
  t.equal(records[0].message, 'there is no Deployment nope in namespace default')
  t.equal(records[1].message, 'node n1 cordoned')
  t.equal(records[2].message, 'node n1 uncordoned')
  t.notOk(await unschedulable('n1'), 'the uncordon came after the cordon')
  const planned = [0, 0.3, 0.6]
  records.forEach((r, i) => {
    t.ok(r.atSecond >= planned[i] && r.atSecond < planned[i] + 1, `${r.name} started at ${r.atSecond} s (planned ${planned[i]} s)`)
    t.ok(r.completedSecond !== undefined && r.completedSecond >= r.atSecond, `and completed at ${r.completedSecond} s`)
  })

  t.equal(marks.length, 6, 'two marks per action')
  const starts = marks.filter((m) => m.record.completedSecond === undefined)
  t.same(starts.map((m) => [m.record.name, m.record.ok, m.record.message]), [
    ['rollout deployment/nope', true, 'started'],
    ['cordon the first node', true, 'started'],
    ['uncordon n1', true, 'started'],
  ])
  starts.forEach((m, i) => t.ok(m.atMs >= planned[i] * 1000, `${m.record.name} marked at ${m.atMs} ms, not before ${planned[i] * 1000} ms`))
  for (const record of records) {
    const start = marks.findIndex((m) => m.record.name === record.name && m.record.completedSecond === undefined)
    const end = marks.findIndex((m) => m.record.name === record.name && m.record.completedSecond !== undefined)
    t.ok(start >= 0 && end > start, `${record.name}: started, then completed`)
    t.same(marks[end].record, record, 'the completion mark is the record')
  }
  t.same(marks.map((m) => m.atMs), [...marks.map((m) => m.atMs)].sort((a, b) => a - b), 'marks come in time order')
})

t.test('actions run concurrently: one waits for its completion while the next starts and ends; waits end at the timeout', async (t) => {
  const { records } = await run('  - {at: 0s, scale: {deployment: stuck, replicas: 3}, timeout: 1s}\n  - {at: 200ms, cordon: n2}\n')
  t.same(records.map((r) => [r.kind, r.ok]), [['scale', false], ['cordon', true]])
  t.ok(records[1].completedSecond! < records[0].completedSecond!, 'the cordon completed while the scale was still waiting')
  t.equal(records[0].message, "not complete after 1 s: still waiting for the controller to see deployment stuck's new replica count")
  t.ok(records[0].completedSecond! - records[0].atSecond >= 0.99, `it waited its whole timeout (${records[0].atSecond} s to ${records[0].completedSecond} s)`)
})

t.test('the run deadline ends every wait', async (t) => {
  const { records } = await run('  - {at: 0s, scale: {deployment: stuck, replicas: 4}}\n', { deadlineMs: 500 })
  t.equal(records[0].message, "not complete after 0.5 s: still waiting for the controller to see deployment stuck's new replica count")
})

t.test('aborting stops every wait and starts nothing more', async (t) => {
  const abort = new AbortController()
  setTimeout(() => abort.abort(), 700)
  const { records, marks } = await run('  - {at: 0s, scale: {deployment: stuck, replicas: 5}}\n  - {at: 30s, cordon: n3}\n', { signal: abort.signal })
  t.same(records.map((r) => [r.kind, r.ok, r.message]), [['scale', false, "interrupted while waiting for the controller to see deployment stuck's new replica count"]])
  t.equal(marks.length, 2)
  t.notOk(await unschedulable('n3'), 'the later action never ran')
})

t.test('a run id that cannot label Services is refused', async (t) => {
  await t.rejects(runScenarioActions([], { client, namespace: 'default', runId: 'not a label', t0Ms: Date.now() }), { message: /^the run id "not a label" cannot label Services: / })
  t.same(await runScenarioActions([], { client, namespace: 'default', runId: 'ok-1', t0Ms: Date.now(), ledger: newLedger() }), [])
})

t.test('messages reach the timeline without control characters', async (t) => {
  const { records } = await run('  - {at: 0s, restartAgent: n1}\n', { lab: { dataDir: '/nonexistent/\u001b[2J\nlab' } })
  t.equal(records[0].message, 'there is no lab in /nonexistent/ [2J lab (no readable lab.json): restartAgent and restartProxy work in a lab made by weft up')
})
