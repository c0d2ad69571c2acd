import t from 'tap'
import { bandwidthLimits } from '../../src/kubelet/pod-worker.ts'

const pod = (annotations: Record<string, string>) => ({ metadata: { name: 'p', annotations } }) as never

t.test('the kubelet bandwidth annotations become the bandwidth capability', async (t) => {
  t.same(bandwidthLimits(pod({})), {}, 'none: the plugin is skipped')
  t.same(bandwidthLimits(pod({ 'kubernetes.io/ingress-bandwidth': '10M' })), { ingressRate: 10_000_000, ingressBurst: 2 ** 31 - 1 })
  t.same(bandwidthLimits(pod({ 'kubernetes.io/egress-bandwidth': '1Mi', 'kubernetes.io/ingress-bandwidth': '500k' })), {
    ingressRate: 500_000,
    ingressBurst: 2 ** 31 - 1,
    egressRate: 1_048_576,
    egressBurst: 2 ** 31 - 1,
  })
  t.throws(() => bandwidthLimits(pod({ 'kubernetes.io/egress-bandwidth': '-5M' })), /is not a positive quantity/)
})
