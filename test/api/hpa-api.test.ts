// autoscaling/v2 HorizontalPodAutoscaler: the v1 view's conversion, validation and the table row.
import t from 'tap'
import { hpaToV1, hpaToV2 } from '../../src/api/conversion/hpa.ts'
import { resources } from '../../src/api/registry.ts'
import { validateObject } from '../../src/api/validation/index.ts'
import { horizontalPodAutoscalerPrinter } from '../../src/apiserver/tables/autoscaling.ts'

const v2 = {
  apiVersion: 'autoscaling/v2',
  kind: 'HorizontalPodAutoscaler',
  metadata: { name: 'web', namespace: 'ns', annotations: { team: 'a' } },
  spec: {
    scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' },
    minReplicas: 2,
    maxReplicas: 9,
    metrics: [
      { type: 'Resource', resource: { name: 'memory', target: { type: 'AverageValue', averageValue: '100Mi' } } },
      { type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } } },
    ],
    behavior: { scaleDown: { stabilizationWindowSeconds: 60, selectPolicy: 'Max', policies: [{ type: 'Pods', value: 1, periodSeconds: 60 }] } },
  },
  status: {
    observedGeneration: 4,
    currentReplicas: 3,
    desiredReplicas: 4,
    currentMetrics: [
      { type: 'Resource', resource: { name: 'cpu', current: { averageUtilization: 88, averageValue: '88m' } } },
      { type: 'Resource', resource: { name: 'memory', current: { averageValue: '120Mi' } } },
    ],
    conditions: [{ type: 'AbleToScale', status: 'True', reason: 'SucceededRescale', message: 'm', lastTransitionTime: '2026-12-07T00:00:00Z' }],
  },
}

t.test('v1 says the CPU target and keeps the rest in annotations; back in v2 nothing is lost', async (t) => {
  const v1 = hpaToV1(v2)
  t.match(v1, { apiVersion: 'autoscaling/v1', spec: { minReplicas: 2, maxReplicas: 9, targetCPUUtilizationPercentage: 70 }, status: { currentCPUUtilizationPercentage: 88, currentReplicas: 3, desiredReplicas: 4 } })
  t.same(Object.keys(v1.metadata.annotations).sort(), ['autoscaling.alpha.kubernetes.io/behavior', 'autoscaling.alpha.kubernetes.io/conditions', 'autoscaling.alpha.kubernetes.io/current-metrics', 'autoscaling.alpha.kubernetes.io/metrics', 'team'])
  const back = hpaToV2(v1)
  t.same(back.metadata, v2.metadata)
  t.same(back.spec.behavior, v2.spec.behavior)
  t.same(new Set(back.spec.metrics.map((m: any) => JSON.stringify(m))), new Set(v2.spec.metrics.map((m) => JSON.stringify(m))))
  t.same(back.status.conditions, v2.status.conditions)
  t.equal(back.status.currentMetrics.length, 2)
  const plain = hpaToV2({ apiVersion: 'autoscaling/v1', kind: 'HorizontalPodAutoscaler', metadata: { name: 'x', annotations: { 'autoscaling.alpha.kubernetes.io/metrics': 'not json' } }, spec: { scaleTargetRef: { kind: 'Deployment', name: 'x' }, maxReplicas: 3 } })
  t.equal(plain.spec.metrics, undefined, 'a v1 object without a CPU target leaves the default to v2 (80%)')
  t.equal(plain.metadata.annotations, undefined, 'an unreadable annotation is dropped')
})

t.test('validation as upstream', async (t) => {
  const info = resources.find((r) => r.kind === 'HorizontalPodAutoscaler' && r.version === 'v2')!
  const lines = (spec: object) => validateObject(info, { metadata: { name: 'h', namespace: 'ns' }, spec }).map((c) => `${c.field}: ${c.message}`)
  t.same(lines(v2.spec), [])
  t.same(lines({ scaleTargetRef: {}, minReplicas: 0, maxReplicas: 0 }), [
    'spec.scaleTargetRef.kind: Required value',
    'spec.scaleTargetRef.name: Required value',
    'spec.minReplicas: Invalid value: 0: must be greater than or equal to 1',
    'spec.maxReplicas: Invalid value: 0: must be greater than 0',
  ])
  t.same(lines({ scaleTargetRef: { kind: 'Deployment', name: 'w' }, maxReplicas: 3, metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Value', value: '1' } } }, { type: 'Gauge' }, { type: 'Pods', resource: {} }] }), [
    'spec.metrics[0].resource.target.type: Unsupported value: "Value": supported values: "AverageValue", "Utilization"',
    'spec.metrics[1].type: Unsupported value: "Gauge": supported values: "ContainerResource", "External", "Object", "Pods", "Resource"',
    'spec.metrics[2].pods: Required value: must populate information for the given metric source',
  ])
  t.same(lines({ scaleTargetRef: { kind: 'Deployment', name: 'w' }, maxReplicas: 3, behavior: { scaleUp: { stabilizationWindowSeconds: 4000, policies: [{ type: 'Pods', value: 0, periodSeconds: 3600 }] } } }), [
    'spec.behavior.scaleUp.stabilizationWindowSeconds: Invalid value: 4000: must be less than or equal to 3600 and greater than or equal to 0',
    'spec.behavior.scaleUp.policies[0].value: Invalid value: 0: must be greater than zero',
    'spec.behavior.scaleUp.policies[0].periodSeconds: Invalid value: 3600: must be greater than zero and less than or equal to 1800',
  ])
})

t.test('kubectl get hpa\'s row', async (t) => {
  const row = horizontalPodAutoscalerPrinter.row(v2, Date.parse('2026-12-07T01:00:00Z')).cells
  t.same(row.slice(0, 6), ['web', 'Deployment/web', 'memory: 120Mi/100Mi, cpu: 88%/70%', '2', 9, 3])
  const fresh = horizontalPodAutoscalerPrinter.row({ ...v2, status: undefined }, 0).cells
  t.equal(fresh[2], 'memory: <unknown>/100Mi, cpu: <unknown>/70%')
})
