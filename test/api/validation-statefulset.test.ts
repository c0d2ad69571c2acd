import t from 'tap'
import { validateObject } from '../../src/api/validation/index.ts'
import { applyDefaults } from '../../src/api/defaults.ts'
import { findByKind } from '../../src/api/registry.ts'

type Obj = Record<string, any>

const sts = findByKind('apps/v1', 'StatefulSet')!
const revision = findByKind('apps/v1', 'ControllerRevision')!

function statefulSet(mutate: (s: Obj) => void = () => {}): Obj {
  const s: Obj = {
    metadata: { name: 'db', namespace: 'default' },
    spec: {
      serviceName: 'db',
      selector: { matchLabels: { app: 'db' } },
      template: { metadata: { labels: { app: 'db' } }, spec: { containers: [{ name: 'c', image: 'i' }] } },
      volumeClaimTemplates: [{ metadata: { name: 'data' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } }],
    },
  }
  applyDefaults(sts, s)
  mutate(s)
  return s
}

const lines = (o: Obj, old?: Obj, subresource?: string): string[] => validateObject(sts, o, old, subresource).map((c) => `${c.field}: ${c.message}`)

t.test('a defaulted StatefulSet is valid; serviceName is optional', async (t) => {
  t.same(lines(statefulSet()), [])
  t.same(lines(statefulSet((s) => delete s.spec.serviceName)), [])
})

t.test('spec rules and messages as upstream', async (t) => {
  const cases: Array<[string, (s: Obj) => void, string[]]> = [
    ['name must be a DNS label', (s) => (s.metadata.name = 'db.v1'), ["metadata.name: Invalid value: \"db.v1\": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"]],
    ['podManagementPolicy', (s) => (s.spec.podManagementPolicy = 'Burst'), ['spec.podManagementPolicy: Invalid value: "Burst": must be \'OrderedReady\' or \'Parallel\'']],
    ['podManagementPolicy required', (s) => (s.spec.podManagementPolicy = ''), ['spec.podManagementPolicy: Required value']],
    ['update strategy type', (s) => (s.spec.updateStrategy = { type: 'Rolling' }), ['spec.updateStrategy: Invalid value: map[string]string{"type":"Rolling"}: must be \'RollingUpdate\' or \'OnDelete\'']],
    ['OnDelete takes no rollingUpdate', (s) => (s.spec.updateStrategy = { type: 'OnDelete', rollingUpdate: { partition: 1 } }), ['spec.updateStrategy.rollingUpdate: Invalid value: {"partition":1}: only allowed for updateStrategy \'RollingUpdate\'']],
    ['negative partition', (s) => (s.spec.updateStrategy.rollingUpdate.partition = -1), ['spec.updateStrategy.rollingUpdate.partition: Invalid value: -1: must be greater than or equal to 0']],
    ['maxUnavailable 0', (s) => (s.spec.updateStrategy.rollingUpdate.maxUnavailable = 0), ['spec.updateStrategy.rollingUpdate.maxUnavailable: Invalid value: 0: cannot be 0']],
    ['maxUnavailable 0%', (s) => (s.spec.updateStrategy.rollingUpdate.maxUnavailable = '0%'), ['spec.updateStrategy.rollingUpdate.maxUnavailable: Invalid value: "0%": cannot be 0']],
    ['maxUnavailable over 100%', (s) => (s.spec.updateStrategy.rollingUpdate.maxUnavailable = '120%'), ['spec.updateStrategy.rollingUpdate.maxUnavailable: Invalid value: "120%": must not be greater than 100%']],
    ['retention policy', (s) => (s.spec.persistentVolumeClaimRetentionPolicy = { whenDeleted: 'Keep', whenScaled: 'Delete' }), ['spec.persistentVolumeClaimRetentionPolicy.whenDeleted: Unsupported value: "Keep": supported values: "Retain", "Delete"']],
    ['negative replicas', (s) => (s.spec.replicas = -1), ['spec.replicas: Invalid value: -1: must be greater than or equal to 0']],
    ['negative minReadySeconds', (s) => (s.spec.minReadySeconds = -5), ['spec.minReadySeconds: Invalid value: -5: must be greater than or equal to 0']],
    ['negative ordinals.start', (s) => (s.spec.ordinals = { start: -1 }), ['spec.ordinals.start: Invalid value: -1: must be greater than or equal to 0']],
    ['selector required', (s) => delete s.spec.selector, ['spec.selector: Required value']],
    ['empty selector', (s) => (s.spec.selector = {}), ['spec.selector: Invalid value: map[string]string{}: empty selector is invalid for statefulset']],
    ['selector must match the template', (s) => (s.spec.template.metadata.labels = { app: 'web' }), ['spec.template.metadata.labels: Invalid value: map[string]string{"app":"web"}: `selector` does not match template `labels`']],
    ['restartPolicy Always only', (s) => (s.spec.template.spec.restartPolicy = 'OnFailure'), ['spec.template.spec.restartPolicy: Unsupported value: "OnFailure": supported values: "Always"']],
    ['no activeDeadlineSeconds', (s) => (s.spec.template.spec.activeDeadlineSeconds = 30), ['spec.template.spec.activeDeadlineSeconds: Forbidden: activeDeadlineSeconds in StatefulSet is not Supported']],
  ]
  for (const [name, mutate, want] of cases) t.same(lines(statefulSet(mutate)), want, name)
})

t.test('updates: only the fields upstream lets change', async (t) => {
  const old = statefulSet()
  const forbidden = "spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"
  const allowed: Array<[string, (s: Obj) => void]> = [
    ['replicas', (s) => (s.spec.replicas = 5)],
    ['template', (s) => (s.spec.template.spec.containers[0].image = 'i:2')],
    ['updateStrategy', (s) => (s.spec.updateStrategy = { type: 'OnDelete' })],
    ['minReadySeconds', (s) => (s.spec.minReadySeconds = 10)],
    ['ordinals', (s) => (s.spec.ordinals = { start: 3 })],
    ['retention policy', (s) => (s.spec.persistentVolumeClaimRetentionPolicy.whenScaled = 'Delete')],
  ]
  for (const [name, mutate] of allowed) t.same(lines(statefulSet(mutate), old), [], name)
  const refused: Array<[string, (s: Obj) => void]> = [
    ['serviceName', (s) => (s.spec.serviceName = 'other')],
    ['podManagementPolicy', (s) => (s.spec.podManagementPolicy = 'Parallel')],
    ['volumeClaimTemplates', (s) => (s.spec.volumeClaimTemplates[0].spec.resources.requests.storage = '2Gi')],
    ['selector', (s) => ((s.spec.selector = { matchLabels: { app: 'db', tier: 'x' } }), (s.spec.template.metadata.labels.tier = 'x'))],
    ['revisionHistoryLimit', (s) => (s.spec.revisionHistoryLimit = 3)],
  ]
  for (const [name, mutate] of refused) t.same(lines(statefulSet(mutate), old), [forbidden], name)
})

t.test('status writes', async (t) => {
  const old = statefulSet((s) => (s.status = { replicas: 2, collisionCount: 2 }))
  const status = (st: Obj) => statefulSet((s) => (s.status = st))
  t.same(lines(status({ replicas: 3, readyReplicas: 3, availableReplicas: 2, currentReplicas: 3, updatedReplicas: 0, collisionCount: 2 }), old, 'status'), [])
  t.same(lines(status({ replicas: 1, readyReplicas: 2, availableReplicas: 2, collisionCount: 2 }), old, 'status'), [
    'status.readyReplicas: Invalid value: 2: cannot be greater than status.replicas',
    'status.availableReplicas: Invalid value: 2: cannot be greater than status.replicas',
  ])
  t.same(lines(status({ replicas: 2, readyReplicas: 1, availableReplicas: 2, collisionCount: 2 }), old, 'status'), ['status.availableReplicas: Invalid value: 2: cannot be greater than status.readyReplicas'])
  t.same(lines(status({ replicas: -1, readyReplicas: -1, currentReplicas: -1, updatedReplicas: -1, availableReplicas: -1, collisionCount: 1 }), old, 'status'), [
    'status.replicas: Invalid value: -1: must be greater than or equal to 0',
    'status.readyReplicas: Invalid value: -1: must be greater than or equal to 0',
    'status.currentReplicas: Invalid value: -1: must be greater than or equal to 0',
    'status.updatedReplicas: Invalid value: -1: must be greater than or equal to 0',
    'status.availableReplicas: Invalid value: -1: must be greater than or equal to 0',
    'status.collisionCount: Invalid value: 1: cannot be decremented',
  ])
})

t.test('ControllerRevision: data required and immutable, revision non-negative', async (t) => {
  const rev = (o: Obj): Obj => ({ metadata: { name: 'db-7b9c', namespace: 'default' }, ...o })
  const check = (o: Obj, old?: Obj) => validateObject(revision, o, old).map((c) => `${c.field}: ${c.message}`)
  t.same(check(rev({ data: { spec: {} }, revision: 1 })), [])
  t.same(check(rev({ revision: 1 })), ['data: Required value: data is mandatory'])
  t.same(check(rev({ data: {}, revision: -2 })), ['revision: Invalid value: -2: must be greater than or equal to 0'])
  const old = rev({ data: { spec: { a: 1 } }, revision: 1 })
  t.same(check(rev({ data: { spec: { a: 1 } }, revision: 4 }), old), [], 'the revision number may move')
  t.same(check(rev({ data: { spec: { a: 2 } }, revision: 1 }), old), ['data: Invalid value: {"spec":{"a":2}}: field is immutable'])
})
