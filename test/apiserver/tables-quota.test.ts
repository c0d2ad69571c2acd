import t from 'tap'
import { toTable } from '../../src/apiserver/tables.ts'
import { resources } from '../../src/api/registry.ts'

const now = new Date('2026-12-07T03:00:00Z')
const table = (kind: string, objects: object[]) => toTable(resources.find((r) => r.kind === kind)!, objects, { includeObject: 'None', now })

t.test('kubectl get quota: NAME AGE REQUEST LIMIT with used/hard per resource', async (t) => {
  const quota = {
    metadata: { name: 'compute', namespace: 'n', creationTimestamp: '2026-12-07T02:55:00Z' },
    spec: { hard: { pods: '4', 'requests.cpu': '1', 'limits.cpu': '2', 'count/configmaps': '10' } },
    status: {
      hard: { pods: '4', 'requests.cpu': '1000m', 'limits.cpu': '2', 'requests.memory': '1Gi', 'count/configmaps': '10' },
      used: { pods: '1', 'requests.cpu': '0.25', 'limits.cpu': '500m', 'count/configmaps': '0' },
    },
  }
  const tbl = table('ResourceQuota', [quota])
  t.same(tbl.columnDefinitions.map((c) => c.name), ['Name', 'Age', 'Request', 'Limit'])
  t.same(tbl.rows[0].cells, ['compute', '5m', 'count/configmaps: 0/10, pods: 1/4, requests.cpu: 250m/1, requests.memory: 0/1Gi', 'limits.cpu: 500m/2'])
  t.same(table('ResourceQuota', [{ metadata: { name: 'fresh', creationTimestamp: '2026-12-07T03:00:00Z' }, spec: { hard: { pods: '1' } } }]).rows[0].cells, ['fresh', '0s', '', ''], 'no status yet: nothing to show')
})

t.test('kubectl get limits: NAME CREATED AT', async (t) => {
  const tbl = table('LimitRange', [{ metadata: { name: 'defaults', creationTimestamp: '2026-12-07T02:55:00Z' }, spec: { limits: [] } }])
  t.same(tbl.columnDefinitions.map((c) => [c.name, c.type]), [['Name', 'string'], ['Created At', 'date']])
  t.same(tbl.rows[0].cells, ['defaults', '2026-12-07T02:55:00Z'])
})
