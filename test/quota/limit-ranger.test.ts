import t from 'tap'
import type { V1LimitRange, V1LimitRangeItem, V1Pod } from '@kubernetes/client-node'
import { aggregateMessage, applyLimitRangeDefaults, claimLimitViolations, LIMIT_RANGER_ANNOTATION, podLimitViolations } from '../../src/quota/limit-ranger.ts'

const lr = (...limits: Array<Record<string, unknown>>): V1LimitRange => ({ metadata: { name: 'lr', namespace: 'n' }, spec: { limits: limits as unknown as V1LimitRangeItem[] } })
const pod = (containers: V1Pod['spec'] extends infer S ? (S extends { containers: infer C } ? C : never) : never, initContainers?: typeof containers): V1Pod => ({ metadata: { name: 'p', namespace: 'n' }, spec: { containers, initContainers } })

t.test('defaults fill what each container leaves out, noted in the annotation', async (t) => {
  const p = pod([{ name: 'a' }, { name: 'b', resources: { requests: { cpu: '1' }, limits: { cpu: '1' } } }], [{ name: 'i' }])
  const changed = applyLimitRangeDefaults(lr({ type: 'Container', default: { memory: '256Mi', cpu: '0.5' }, defaultRequest: { cpu: '100m' } }), p)
  t.ok(changed)
  t.same(p.spec!.containers[0].resources, { limits: { memory: '256Mi', cpu: '500m' }, requests: { cpu: '100m' } }, 'quantities in canonical form')
  t.same(p.spec!.containers[1].resources, { requests: { cpu: '1' }, limits: { cpu: '1', memory: '256Mi' } }, 'what a container states stays')
  t.same(p.spec!.initContainers![0].resources, { limits: { memory: '256Mi', cpu: '500m' }, requests: { cpu: '100m' } })
  t.equal(
    p.metadata!.annotations![LIMIT_RANGER_ANNOTATION],
    'LimitRanger plugin set: cpu request for container a; cpu, memory limit for container a; memory limit for container b; cpu request for init container i; cpu, memory limit for init container i',
  )
})

t.test('nothing to default: no change and no annotation', async (t) => {
  const p = pod([{ name: 'a', resources: { requests: { cpu: '1' }, limits: { cpu: '2' } } }])
  t.notOk(applyLimitRangeDefaults(lr({ type: 'Container', default: { cpu: '1' }, defaultRequest: { cpu: '1' } }), p))
  t.notOk(applyLimitRangeDefaults(lr({ type: 'Pod', max: { cpu: '4' } }), p), 'only Container items default')
  t.notOk(p.metadata!.annotations)
})

t.test("container min, max and ratio, with upstream's messages", async (t) => {
  const limits = lr({ type: 'Container', max: { cpu: '500m' }, min: { memory: '64Mi' }, maxLimitRequestRatio: { cpu: '2' } })
  t.same(podLimitViolations(limits, pod([{ name: 'a', resources: { requests: { cpu: '100m', memory: '64Mi' }, limits: { cpu: '1' } } }])), [
    'maximum cpu usage per Container is 500m, but limit is 1',
    'cpu max limit to request ratio per Container is 2, but provided ratio is 10.000000',
  ])
  t.same(podLimitViolations(limits, pod([{ name: 'a', resources: { requests: { cpu: '200m', memory: '32Mi' }, limits: { cpu: '300m' } } }])), ['minimum memory usage per Container is 64Mi, but request is 32Mi'])
  t.same(podLimitViolations(limits, pod([{ name: 'a' }])), [
    'minimum memory usage per Container is 64Mi.  No request is specified',
    'maximum cpu usage per Container is 500m.  No limit is specified',
    'cpu max limit to request ratio per Container is 2, but no request is specified or request is 0',
  ])
  t.same(podLimitViolations(limits, pod([{ name: 'a', resources: { requests: { cpu: '300m', memory: '1Gi' }, limits: { cpu: '500m' } } }])), [], 'at the bounds is fine')
  t.same(podLimitViolations(limits, pod([{ name: 'ok', resources: { requests: { cpu: '300m', memory: '1Gi' }, limits: { cpu: '500m' } } }], [{ name: 'init', resources: { requests: { cpu: '600m', memory: '1Gi' }, limits: { cpu: '600m' } } }])), [
    'maximum cpu usage per Container is 500m, but limit is 600m',
  ], 'init containers are held to it too')
  t.same(podLimitViolations(limits, pod([{ name: 'a', resources: { requests: { cpu: '600m', memory: '1Gi' }, limits: {} } }])), ['maximum cpu usage per Container is 500m.  No limit is specified', 'cpu max limit to request ratio per Container is 2, but no limit is specified or limit is 0'])
})

t.test('a Pod item holds the sum of the containers (init containers at their peak)', async (t) => {
  const limits = lr({ type: 'Pod', max: { cpu: '1' }, min: { memory: '100Mi' } })
  const c = (name: string, cpu: string, memory: string) => ({ name, resources: { requests: { cpu, memory }, limits: { cpu, memory } } })
  t.same(podLimitViolations(limits, pod([c('a', '600m', '60Mi'), c('b', '600m', '60Mi')])), ['maximum cpu usage per Pod is 1, but limit is 1200m'])
  t.same(podLimitViolations(limits, pod([c('a', '200m', '40Mi')], [c('i', '800m', '120Mi')])), [], 'the init peak counts for the minimum')
})

t.test('claims are held by their storage request', async (t) => {
  const limits = lr({ type: 'PersistentVolumeClaim', min: { storage: '1Gi' }, max: { storage: '10Gi' } })
  const claim = (storage?: string) => ({ metadata: { name: 'c' }, spec: { resources: storage ? { requests: { storage } } : {} } })
  t.same(claimLimitViolations(limits, claim('500Mi')), ['minimum storage usage per PersistentVolumeClaim is 1Gi, but request is 500Mi'])
  t.same(claimLimitViolations(limits, claim('20Gi')), ['maximum storage usage per PersistentVolumeClaim is 10Gi, but request is 20Gi'])
  t.same(claimLimitViolations(limits, claim()), ['minimum storage usage per PersistentVolumeClaim is 1Gi.  No request is specified', 'maximum storage usage per PersistentVolumeClaim is 10Gi.  No request is specified'])
  t.same(claimLimitViolations(limits, claim('5Gi')), [])
})

t.test('errors aggregate as apimachinery prints them', async (t) => {
  t.equal(aggregateMessage(['one']), 'one')
  t.equal(aggregateMessage(['one', 'two', 'one']), '[one, two]')
  t.equal(aggregateMessage(['same', 'same']), 'same')
})

t.test('a LimitRange stored malformed (from before the API checked) sets and refuses nothing', async (t) => {
  const p = pod([{ name: 'a' }])
  const shapes = [{ spec: { limits: 'x' } }, { spec: { limits: [null, 3, 'x'] } }, { spec: { limits: [{ type: 'Container', default: ['1'], max: ['1'] }] } }] as unknown as V1LimitRange[]
  for (const bad of shapes) {
    t.notOk(applyLimitRangeDefaults(bad, p), JSON.stringify(bad.spec))
    t.same(podLimitViolations(bad, p), [])
  }
  t.same(p.spec!.containers[0], { name: 'a' })
})
