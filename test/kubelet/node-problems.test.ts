// Bad values of Nodes' network fields: a warning and a Warning Event on the Node, each once
// while it lasts, and weft_agent_invalid_node_networks_total by field.
import t from 'tap'
import type { V1Node } from '@kubernetes/client-node'
import { Registry } from 'prom-client'
import type { RestClient } from '../../src/client/index.ts'
import { nodeNetworks } from '../../src/kubelet/node-networks.ts'
import { NodeProblemReporter } from '../../src/kubelet/node-problems.ts'
import type { Logger } from '../../src/util/log.ts'

function node(name: string, cidrs: string[], ips: string[]): V1Node {
  return { metadata: { name, uid: `uid-${name}` }, spec: { podCIDRs: cidrs }, status: { addresses: ips.map((address) => ({ type: 'InternalIP', address })) } }
}

t.test('each problem once while it lasts: a warning, an Event on its Node, the metric by field', async (t) => {
  const posted: any[] = []
  const client = { create: async (_info: unknown, obj: any) => (posted.push(obj), obj) } as unknown as RestClient
  const warnings: unknown[] = []
  const log = { warn: (fields: unknown, message: string) => void warnings.push([fields, message]) } as unknown as Logger
  const r = new NodeProblemReporter({ client, nodeName: 'self', log })
  const registry = new Registry()
  registry.registerMetric(r.invalid)
  const count = async (field: string) => Number((await registry.metrics()).split('\n').find((l) => l.startsWith(`weft_agent_invalid_node_networks_total{field="${field}"} `))?.split(' ')[1] ?? 0)

  const self = node('self', ['10.244.0.0/24'], ['172.31.0.2'])
  const bad = node('bad', ['10.244.0.128/25', 'nope'], ['172.31.0.3 x'])
  const report = (nodes: V1Node[]) => r.report(nodes, nodeNetworks(nodes, 'self').problems)
  report([self, bad])
  report([self, bad])
  await r.flush()
  t.equal(posted.length, 3, 'three problems, each posted once over two syncs')
  t.equal(warnings.length, 3)
  t.ok(posted.every((e) => e.type === 'Warning' && e.reason === 'InvalidNodeNetwork' && e.involvedObject.kind === 'Node' && e.involvedObject.name === 'bad' && e.involvedObject.uid === 'uid-bad'))
  t.ok(posted.every((e) => / \(seen by the agent of self\)$/.test(e.message) && e.source.component === 'weft-agent' && e.source.host === 'self'))
  t.match(posted.map((e) => e.message).join('\n'), /overlaps this node's pod CIDR 10\.244\.0\.0\/24/)
  t.equal(await count('spec.podCIDRs'), 2)
  t.equal(await count('status.addresses'), 1)

  report([self, node('bad', ['10.244.9.0/24'], ['172.31.0.3'])])
  report([self, bad])
  await r.flush()
  t.equal(posted.length, 6, 'fixed, then broken again: reported again')
  t.equal(await count('spec.podCIDRs'), 4)
  report([self])
  report([self, bad])
  await r.flush()
  t.equal(posted.length, 9, 'a Node deleted and created again starts afresh')
})
