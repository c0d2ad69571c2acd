// `weft server --ingress MODE`: the default IngressClass and the controller's pods, as objects
// and as a real API server creates them.
import t from 'tap'
import { resources } from '../../src/api/registry.ts'
import { ingressObjects } from '../../src/apiserver/bootstrap-ingress.ts'
import { ingressFlags } from '../../src/cli/server.ts'
import { RestClient } from '../../src/client/index.ts'
import { startTestServer } from '../helpers/apiserver.ts'

const kind = (k: string) => resources.find((r) => r.kind === k)!

t.test('host network: a DaemonSet on every node, ports 80 and 443 of the node', async (t) => {
  const objects = ingressObjects({ mode: 'hostNetwork', replicas: 2, apiSocket: '/run/weft/apiserver.sock' })
  t.same(objects.map((o) => `${o.kind} ${o.namespace ?? ''}/${(o.body.metadata as { name: string }).name}`), ['Namespace /weft-ingress', 'IngressClass /weft', 'DaemonSet weft-ingress/weft-ingress'])
  const cls = objects[1]!.body as any
  t.equal(cls.metadata.annotations['ingressclass.kubernetes.io/is-default-class'], 'true')
  t.equal(cls.spec.controller, 'weft.dev/ingress')
  const pod = (objects[2]!.body as any).spec.template.spec
  t.equal(pod.hostNetwork, true)
  t.equal(pod.dnsPolicy, 'ClusterFirstWithHostNet')
  const c = pod.containers[0]
  t.equal(c.image, 'weft/ingress')
  t.same(c.args, ['--socket', '/run/weft/apiserver.sock'], 'statuses name the Ready pods’ nodes (the default inside a pod)')
  t.same(c.env.map((e: any) => [e.name, e.valueFrom.fieldRef.fieldPath]), [['POD_NAME', 'metadata.name'], ['POD_NAMESPACE', 'metadata.namespace']])
  t.same(c.ports.map((p: any) => p.hostPort), [80, 443, undefined])
  t.same(c.readinessProbe.httpGet, { path: '/readyz', port: 10254 })
})

t.test('load balancer: a Deployment behind the LoadBalancer Service, whose address statuses name', async (t) => {
  const objects = ingressObjects({ mode: 'loadBalancer', replicas: 3 })
  t.same(objects.map((o) => o.kind), ['Namespace', 'IngressClass', 'Service', 'Deployment'])
  const svc = objects[2]!.body as any
  t.equal(svc.spec.type, 'LoadBalancer')
  t.same(svc.spec.ports.map((p: any) => [p.port, p.targetPort]), [[80, 'http'], [443, 'https']])
  const deployment = objects[3]!.body as any
  t.equal(deployment.spec.replicas, 3)
  t.same(deployment.spec.selector.matchLabels, svc.spec.selector)
  t.equal(deployment.spec.template.spec.hostNetwork, undefined)
  t.same(deployment.spec.template.spec.containers[0].args, ['--publish-service', 'weft-ingress/weft-ingress'])
})

t.test('the --ingress flags', async (t) => {
  t.same(ingressFlags('host-network', '2'), { mode: 'hostNetwork', replicas: 2 })
  t.same(ingressFlags('load-balancer', '1'), { mode: 'loadBalancer', replicas: 1 })
  t.equal(ingressFlags('none', '2'), undefined)
  t.throws(() => ingressFlags('hostnet', '2'), /--ingress "hostnet" must be host-network, load-balancer or none/)
  t.throws(() => ingressFlags('load-balancer', '0'), /--ingress-replicas "0" must be a whole number of at least 1/)
})

t.test('the API server creates them at start; without --ingress it creates none', async (t) => {
  const api = await startTestServer(t, { ingress: { mode: 'hostNetwork', replicas: 1 } })
  const client = new RestClient(api.address)
  t.teardown(() => client.destroy())
  const cls = await client.get<any>(kind('IngressClass'), 'weft')
  t.equal(cls.spec.controller, 'weft.dev/ingress')
  const ds = await client.get<any>(kind('DaemonSet'), 'weft-ingress', 'weft-ingress')
  t.equal(ds.spec.template.spec.hostNetwork, true)
  const plain = await startTestServer(t)
  const other = new RestClient(plain.address)
  t.teardown(() => other.destroy())
  t.equal((await other.list(kind('IngressClass'))).items.length, 0, 'no --ingress: no IngressClass')
})

t.test('with an API socket, the controller pods mount it at its own path (a hostPath of type Socket)', async (t) => {
  for (const mode of ['hostNetwork', 'loadBalancer'] as const) {
    const objects = ingressObjects({ mode, replicas: 1, apiSocket: '/run/weft/apiserver.sock' })
    const workload = objects.find((o) => o.kind === 'DaemonSet' || o.kind === 'Deployment')!
    const spec = (workload.body as any).spec.template.spec
    t.same(spec.volumes, [{ name: 'api-socket', hostPath: { path: '/run/weft/apiserver.sock', type: 'Socket' } }], mode)
    t.same(spec.containers[0].volumeMounts, [{ name: 'api-socket', mountPath: '/run/weft/apiserver.sock' }])
    t.match(spec.containers[0].args, ['--socket', '/run/weft/apiserver.sock'])
  }
  const none = ingressObjects({ mode: 'hostNetwork', replicas: 1 }).find((o) => o.kind === 'DaemonSet')!
  t.same((none.body as any).spec.template.spec.volumes, [], 'no socket, no volume')
})
