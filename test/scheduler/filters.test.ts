import t from 'tap'
import type { V1Node, V1Pod } from '@kubernetes/client-node'
import { filterNode } from '../../src/scheduler/filters.ts'
import { podInfo } from '../../src/scheduler/pod-info.ts'
import { ClusterSnapshot } from '../../src/scheduler/snapshot.ts'
import { node, pod } from './fixtures.ts'

function reasons(p: V1Pod, n: V1Node, bound: V1Pod[] = []): string[] | undefined {
  const snap = new ClusterSnapshot([n], bound)
  return filterNode(podInfo(p), snap.get(n.metadata!.name!)!)
}

const cp = { key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' }
const bound = (name: string, o: Parameters<typeof pod>[1] = {}): V1Pod => pod(name, { nodeName: 'n1', ...o })

t.test('filter pass/fail table', async (t) => {
  const cases: Array<[string, V1Pod, V1Node, V1Pod[], string[] | undefined]> = [
    ['fits an empty node', pod('p', { cpu: '1' }), node('n1'), [], undefined],
    // NodeUnschedulable
    ['cordoned', pod('p'), node('n1', { unschedulable: true }), [], ['node(s) were unschedulable']],
    [
      'cordoned but tolerated',
      pod('p', { tolerations: [{ key: 'node.kubernetes.io/unschedulable', operator: 'Exists', effect: 'NoSchedule' }] }),
      node('n1', { unschedulable: true }),
      [],
      undefined,
    ],
    ['cordoned and tainted: unschedulable wins', pod('p'), node('n1', { unschedulable: true, taints: [cp] }), [], ['node(s) were unschedulable']],
    // readiness
    ['Ready False', pod('p'), node('n1', { ready: 'False' }), [], ['node(s) had untolerated taint {node.kubernetes.io/not-ready: }']],
    ['Ready missing', pod('p'), node('n1', { ready: 'missing' }), [], ['node(s) had untolerated taint {node.kubernetes.io/not-ready: }']],
    ['Ready Unknown', pod('p'), node('n1', { ready: 'Unknown' }), [], ['node(s) had untolerated taint {node.kubernetes.io/unreachable: }']],
    [
      'not ready, tolerated',
      pod('p', { tolerations: [{ key: 'node.kubernetes.io/not-ready', operator: 'Exists' }] }),
      node('n1', { ready: 'False' }),
      [],
      undefined,
    ],
    // TaintToleration
    ['control-plane taint', pod('p'), node('n1', { taints: [cp] }), [], ['node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }']],
    ['NoExecute taint with value', pod('p'), node('n1', { taints: [{ key: 'k', value: 'v', effect: 'NoExecute' }] }), [], ['node(s) had untolerated taint {k: v}']],
    ['PreferNoSchedule does not filter', pod('p'), node('n1', { taints: [{ key: 'k', effect: 'PreferNoSchedule' }] }), [], undefined],
    ['taint tolerated', pod('p', { tolerations: [{ key: cp.key, operator: 'Exists', effect: 'NoSchedule' }] }), node('n1', { taints: [cp] }), [], undefined],
    // NodeAffinity
    ['nodeSelector matches', pod('p', { nodeSelector: { disk: 'ssd' } }), node('n1', { labels: { disk: 'ssd' } }), [], undefined],
    ['nodeSelector mismatch', pod('p', { nodeSelector: { disk: 'ssd' } }), node('n1'), [], ["node(s) didn't match Pod's node affinity/selector"]],
    [
      'required affinity mismatch',
      pod('p', { affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'gen', operator: 'Gt', values: ['3'] }] }] } } } }),
      node('n1', { labels: { gen: '2' } }),
      [],
      ["node(s) didn't match Pod's node affinity/selector"],
    ],
    // NodePorts
    ['free host port', pod('p', { ports: [{ containerPort: 80, hostPort: 8080 }] }), node('n1'), [bound('b', { ports: [{ containerPort: 80, hostPort: 8081 }] })], undefined],
    ['host port conflict', pod('p', { ports: [{ containerPort: 80, hostPort: 8080 }] }), node('n1'), [bound('b', { ports: [{ containerPort: 80, hostPort: 8080 }] })], ["node(s) didn't have free ports for the requested pod ports"]],
    ['different protocol', pod('p', { ports: [{ containerPort: 53, hostPort: 53, protocol: 'UDP' }] }), node('n1'), [bound('b', { ports: [{ containerPort: 53, hostPort: 53 }] })], undefined],
    ['different host IPs', pod('p', { ports: [{ containerPort: 80, hostPort: 80, hostIP: '10.0.0.1' }] }), node('n1'), [bound('b', { ports: [{ containerPort: 80, hostPort: 80, hostIP: '10.0.0.2' }] })], undefined],
    ['0.0.0.0 conflicts with a specific IP', pod('p', { ports: [{ containerPort: 80, hostPort: 80 }] }), node('n1'), [bound('b', { ports: [{ containerPort: 80, hostPort: 80, hostIP: '10.0.0.2' }] })], ["node(s) didn't have free ports for the requested pod ports"]],
    ['specific IP conflicts with 0.0.0.0', pod('p', { ports: [{ containerPort: 80, hostPort: 80, hostIP: '10.0.0.1' }] }), node('n1'), [bound('b', { ports: [{ containerPort: 80, hostPort: 80 }] })], ["node(s) didn't have free ports for the requested pod ports"]],
    ['containerPort only is no host port', pod('p', { ports: [{ containerPort: 80 }] }), node('n1'), [bound('b', { ports: [{ containerPort: 80 }] })], undefined],
    // NodeResourcesFit
    ['insufficient cpu', pod('p', { cpu: '3' }), node('n1', { cpu: '4' }), [bound('b', { cpu: '1500m' })], ['Insufficient cpu']],
    ['exactly fits', pod('p', { cpu: '2500m' }), node('n1', { cpu: '4' }), [bound('b', { cpu: '1500m' })], undefined],
    ['insufficient cpu and memory', pod('p', { cpu: '5', memory: '9Gi' }), node('n1'), [], ['Insufficient cpu', 'Insufficient memory']],
    ['Succeeded and Failed pods do not count', pod('p', { cpu: '3' }), node('n1', { cpu: '4' }), [bound('b', { cpu: '2', phase: 'Succeeded' }), bound('c', { cpu: '2', phase: 'Failed' })], undefined],
    ['Running pods count', pod('p', { cpu: '3' }), node('n1', { cpu: '4' }), [bound('b', { cpu: '2', phase: 'Running' })], ['Insufficient cpu']],
    ['pods on other nodes do not count', pod('p', { cpu: '3' }), node('n1', { cpu: '4' }), [pod('b', { cpu: '2', nodeName: 'n2' })], undefined],
    ['too many pods', pod('p'), node('n1', { pods: '2' }), [bound('a'), bound('b')], ['Too many pods']],
    ['too many pods and insufficient cpu', pod('p', { cpu: '5' }), node('n1', { pods: '1' }), [bound('a')], ['Too many pods', 'Insufficient cpu']],
    [
      'init container request counts',
      pod('p', { cpu: '100m', initContainers: [{ name: 'i', resources: { requests: { cpu: '5' } } }] }),
      node('n1'),
      [],
      ['Insufficient cpu'],
    ],
    [
      'extended resource',
      pod('p', { containers: [{ name: 'c', resources: { requests: { 'example.com/gpu': '1' } } }] }),
      node('n1'),
      [],
      ['Insufficient example.com/gpu'],
    ],
    [
      'extended resource available',
      pod('p', { containers: [{ name: 'c', resources: { requests: { 'example.com/gpu': '1' } } }] }),
      node('n1', { extra: { 'example.com/gpu': '2' } }),
      [],
      undefined,
    ],
    // NodeName
    ['nodeName mismatch', pod('p', { nodeName: 'n2' }), node('n1'), [], ["node(s) didn't match the requested node name"]],
  ]
  for (const [name, p, n, b, want] of cases) t.same(reasons(p, n, b), want, name)
})

t.test('the snapshot follows pod updates and deletions', async (t) => {
  const snap = new ClusterSnapshot([node('n1', { cpu: '4' })])
  const big = pod('p', { cpu: '3' })
  const fits = (): boolean => filterNode(podInfo(big), snap.get('n1')!) === undefined
  const b = pod('b', { cpu: '2', nodeName: 'n1' })
  snap.upsertPod(b)
  t.equal(fits(), false)
  snap.upsertPod({ ...b, status: { phase: 'Succeeded' } })
  t.equal(fits(), true, 'terminal update releases resources')
  snap.upsertPod(b)
  t.equal(snap.get('n1')!.requested.milliCPU, 2000, 'no double counting')
  snap.upsertPod(b)
  t.equal(snap.get('n1')!.requested.milliCPU, 2000, 'idempotent')
  snap.removePod(b)
  t.equal(fits(), true)
  t.equal(snap.get('n1')!.podCount, 0)
})

t.test('pods bound before their node appears are counted', async (t) => {
  const snap = new ClusterSnapshot()
  snap.upsertPod(pod('b', { cpu: '2', nodeName: 'n1' }))
  t.equal(snap.get('n1'), undefined)
  snap.upsertNode(node('n1', { cpu: '4' }))
  t.equal(snap.get('n1')!.requested.milliCPU, 2000)
  snap.removeNode('n1')
  t.equal(snap.nodeCount, 0)
})
