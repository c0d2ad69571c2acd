import t from 'tap'
import type { V1Namespace, V1Pod } from '@kubernetes/client-node'
import { identitiesOf, meshMode, podMeshed } from '../../mesh/opt-in.ts'

const ns = (name: string, labels: Record<string, string> = {}): V1Namespace => ({ metadata: { name, labels } })
const pod = (namespace: string, opts: { sa?: string; annotation?: string; hostNetwork?: boolean; phase?: string } = {}): V1Pod => ({
  metadata: { namespace, name: 'p', ...(opts.annotation === undefined ? {} : { annotations: { 'weft.dev/mesh': opts.annotation } }) },
  spec: { containers: [], serviceAccountName: opts.sa, hostNetwork: opts.hostNetwork },
  status: { phase: opts.phase ?? 'Running' },
})

t.test('opt-in by namespace label, by pod annotation; opt-out by annotation', async (t) => {
  const meshed = ns('shop', { 'weft.dev/mesh': 'enabled' })
  const plain = ns('plain')
  t.ok(podMeshed(pod('shop'), meshed), 'the namespace opts its pods in')
  t.notOk(podMeshed(pod('plain'), plain), 'nothing says so')
  t.ok(podMeshed(pod('plain', { annotation: 'enabled' }), plain), 'a pod opts in alone')
  t.notOk(podMeshed(pod('shop', { annotation: 'disabled' }), meshed), 'a pod opts out of its namespace')
  t.ok(podMeshed(pod('shop', { annotation: 'Enabled?' }), meshed), 'an unknown value is no opinion: the namespace decides')
  t.notOk(podMeshed(pod('shop', { annotation: 'yes' }), plain))
  t.notOk(podMeshed(pod('shop', { hostNetwork: true }), meshed), 'hostNetwork pods are the node')
  t.notOk(podMeshed(pod('shop', { phase: 'Failed' }), meshed), 'finished')
  t.notOk(podMeshed(pod('shop'), ns('shop', { 'weft.dev/mesh': 'true' })), 'only "enabled" enables')
  t.notOk(podMeshed(pod('gone'), undefined), 'an unknown namespace is not meshed')
})

t.test('mesh mode: STRICT only when the label says exactly that', async (t) => {
  t.equal(meshMode(ns('a', { 'weft.dev/mesh-mode': 'STRICT' })), 'STRICT')
  t.equal(meshMode(ns('a', { 'weft.dev/mesh-mode': 'strict' })), 'PERMISSIVE')
  t.equal(meshMode(ns('a')), 'PERMISSIVE')
  t.equal(meshMode(undefined), 'PERMISSIVE')
})

t.test('identities: one per service account of the meshed pods, sorted', async (t) => {
  const namespaces: Record<string, V1Namespace> = { shop: ns('shop', { 'weft.dev/mesh': 'enabled' }), plain: ns('plain') }
  const pods = [pod('shop', { sa: 'web' }), pod('shop', { sa: 'web' }), pod('shop'), pod('plain', { sa: 'x' }), pod('plain', { sa: 'y', annotation: 'enabled' }), pod('shop', { sa: 'z', annotation: 'disabled' })]
  t.same(
    identitiesOf(pods, (n) => namespaces[n], 'cluster.local').map((i) => `${i.trustDomain} ${i.namespace}/${i.serviceAccount}`),
    ['cluster.local plain/y', 'cluster.local shop/default', 'cluster.local shop/web'],
  )
})
