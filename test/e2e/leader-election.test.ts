// Two `weft server`s on one etcd: exactly one runs the scheduler and the controllers (it
// holds their Leases); when it is killed, the other takes both over within the lease
// duration and the cluster's control loops go on.
import t from 'tap'
import type { V1Lease } from '@kubernetes/client-node'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { call } from '../helpers/apiserver.ts'
import { startEtcd } from '../helpers/etcd.ts'
import { node } from '../helpers/control-plane.ts'
import { kill, startServer, type ServerProcess } from '../helpers/server-process.ts'

const LEASES = ['kube-scheduler', 'kube-controller-manager']

async function holders(s: ServerProcess): Promise<Record<string, V1Lease>> {
  const out: Record<string, V1Lease> = {}
  for (const name of LEASES) out[name] = (await call(s.url, 'GET', `/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/${name}`, undefined, {}, s.as)).body
  return out
}

/** The identities a server logged as having become leader with, by Lease. */
function ledBy(s: ServerProcess): Map<string, string[]> {
  const led = new Map<string, string[]>()
  for (const line of s.log().split('\n')) {
    if (!line.includes('became leader')) continue
    const { lease, identity } = JSON.parse(line) as { lease: string; identity: string }
    led.set(lease, [...(led.get(lease) ?? []), identity])
  }
  return led
}

async function eventually<T>(what: string, fn: () => Promise<T | undefined>, ms: number): Promise<T> {
  const end = Date.now() + ms
  for (;;) {
    const v = await fn().catch(() => undefined)
    if (v !== undefined) return v
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms: ${what}`)
    await sleep(100)
  }
}

const deployment = (name: string) => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name },
  spec: { replicas: 1, selector: { matchLabels: { app: name } }, template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'c', image: 'weft/echo' }] } } },
})

async function replicaSetOf(s: ServerProcess, name: string): Promise<boolean> {
  const rs = await call(s.url, 'GET', `/apis/apps/v1/namespaces/default/replicasets?labelSelector=app%3D${name}`, undefined, {}, s.as)
  return rs.body.items.length > 0 || undefined!
}

t.test('two servers on one etcd: one leader per Lease, taken over when it is killed', async (t) => {
  const etcd = await startEtcd(t)
  const dir = await mkdtemp(join(tmpdir(), 'weft-ha-'))
  const running: ServerProcess[] = []
  t.teardown(async () => {
    for (const s of running) await kill(s.child, 'SIGKILL')
    await rm(dir, { recursive: true, force: true })
  })
  const env = { ...process.env, WEFT_LOG_LEVEL: 'info' }
  // Both share the data dir's PKI (one cluster CA), each its own socket.
  const flags = (n: string) => [
    '--etcd-endpoints', etcd.endpoint, '--etcd-prefix', '/ha', '--socket', join(dir, `${n}.sock`), '--dns-replicas', '0', '--ingress', 'none',
    '--leader-elect-lease-duration', '3s', '--leader-elect-renew-deadline', '2s', '--leader-elect-retry-period', '500ms',
  ]
  const a = await startServer(dir, flags('a'), env)
  running.push(a)
  const first = await eventually('server a leads both Leases', async () => {
    const h = await holders(a)
    return LEASES.every((l) => h[l]?.spec?.holderIdentity) ? h : undefined
  }, 10_000)
  const b = await startServer(dir, flags('b'), env)
  running.push(b)
  await sleep(3000)
  const still = await holders(b)
  for (const l of LEASES) {
    t.equal(still[l]!.spec!.holderIdentity, first[l]!.spec!.holderIdentity, `${l}: the first server keeps its Lease`)
    t.same(ledBy(a).get(`kube-system/${l}`), [first[l]!.spec!.holderIdentity], `${l}: server a became its leader once`)
  }
  t.equal(ledBy(b).size, 0, 'the second server stands by')

  t.equal((await call(b.url, 'POST', '/apis/apps/v1/namespaces/default/deployments', deployment('before'), {}, b.as)).status, 201)
  t.ok(await eventually('a ReplicaSet for "before"', () => replicaSetOf(b, 'before'), 10_000), "the leader's controllers act on writes made through either server")

  const killedAt = Date.now()
  await kill(a.child, 'SIGKILL')
  running.shift()
  const taken = await eventually('server b takes both Leases', async () => (LEASES.every((l) => ledBy(b).has(`kube-system/${l}`)) ? Date.now() : undefined), 15_000)
  t.ok(taken - killedAt <= 3000 + 500 + 1500, `taken over ${taken - killedAt} ms after the kill (lease duration 3 s, retry period 0.5 s)`)
  const after = await holders(b)
  for (const l of LEASES) {
    t.equal(after[l]!.spec!.holderIdentity, ledBy(b).get(`kube-system/${l}`)![0], `${l}: held by the second server`)
    t.equal(after[l]!.spec!.leaseTransitions, 1, `${l}: one transition`)
  }

  t.equal((await call(b.url, 'POST', '/apis/apps/v1/namespaces/default/deployments', deployment('after'), {}, b.as)).status, 201)
  t.ok(await eventually('a ReplicaSet for "after"', () => replicaSetOf(b, 'after'), 10_000), 'the controllers run on the new leader')
  t.equal((await call(b.url, 'POST', '/api/v1/nodes', node('n1'), {}, b.as)).status, 201)
  const pod = { metadata: { name: 'p' }, spec: { containers: [{ name: 'c', image: 'weft/echo' }] } }
  t.equal((await call(b.url, 'POST', '/api/v1/namespaces/default/pods', pod, {}, b.as)).status, 201)
  const bound = await eventually('pod p bound', async () => (await call(b.url, 'GET', '/api/v1/namespaces/default/pods/p', undefined, {}, b.as)).body.spec.nodeName as string | undefined, 10_000)
  t.equal(bound, 'n1', 'the scheduler runs on the new leader')
})
