import t from 'tap'
import { podQOSClass } from '../../src/api/qos.ts'

const c = (requests?: Record<string, string>, limits?: Record<string, string>) => ({ resources: { requests, limits } })

t.test('QoS classes as upstream computes them', async (t) => {
  t.equal(podQOSClass({ containers: [c()] }), 'BestEffort')
  t.equal(podQOSClass({ containers: [c({ 'ephemeral-storage': '1Gi' })] }), 'BestEffort', 'only cpu and memory count')
  t.equal(podQOSClass({ containers: [c({ cpu: '0' })] }), 'BestEffort', 'zero counts as nothing')
  t.equal(podQOSClass({ containers: [c(undefined, { cpu: '1', memory: '1Gi' })] }), 'Guaranteed', 'requests default to limits')
  t.equal(podQOSClass({ containers: [c({ cpu: '1000m', memory: '1024Mi' }, { cpu: '1', memory: '1Gi' })] }), 'Guaranteed', 'quantities compare by value')
  t.equal(podQOSClass({ containers: [c({ cpu: '500m', memory: '1Gi' }, { cpu: '1', memory: '1Gi' })] }), 'Burstable')
  t.equal(podQOSClass({ containers: [c(undefined, { cpu: '1' })] }), 'Burstable', 'a memory limit is needed too')
  t.equal(podQOSClass({ containers: [c(undefined, { cpu: '1', memory: '1Gi' })], initContainers: [c()] }), 'Burstable', 'every container, init ones included')
  t.equal(podQOSClass({ containers: [c({ memory: '64Mi' })] }), 'Burstable')
  t.equal(podQOSClass(undefined), 'BestEffort')
})
