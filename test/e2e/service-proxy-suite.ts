// The service proxy's behaviour suite, run against each mode (service-proxy-*.test.ts): a
// real API server and control plane, two nodes as network namespaces with `weft agent`
// (kubelet + proxy) in each, an "outside" client in the underlay namespace, and pods of
// agnhost netexec behind Services of every kind.
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { join, resolve } from 'node:path'
import { resources } from '../../src/api/registry.ts'
import { ipBatch } from '../../src/netlink/index.ts'
import { nodeInfo, podInfo, startCluster, until } from '../helpers/control-plane.ts'
import { execIn, startUnderlay, type TestNode } from '../helpers/nodes.ts'

const serviceInfo = resources.find((r) => r.kind === 'Service')!
const deploymentInfo = resources.find((r) => r.kind === 'Deployment')!
const sliceInfo = resources.find((r) => r.kind === 'EndpointSlice')!
const eventInfo = resources.find((r) => r.kind === 'Event')!
const nodeBin = resolve(import.meta.dirname, '../../node_modules/.bin/node')
const programs = resolve(import.meta.dirname, '../helpers/programs')
const agnhost = 'registry.k8s.io/e2e-test-images/agnhost:2.53'

type Test = import('tap').Test
type Mode = 'nftables' | 'userspace'

interface Curl {
  code: number
  out: string
}

/** curl inside `netns`: its exit code (0 answered, 7 refused, 28 timed out) and output. */
function curl(netns: string, url: string, maxTime = 3): Promise<Curl> {
  return new Promise((done) => {
    const child = spawn('ip', ['netns', 'exec', netns, 'curl', '-s', '--max-time', String(maxTime), url], { stdio: ['ignore', 'pipe', 'ignore'] })
    let out = ''
    child.stdout.on('data', (b: Buffer) => (out += b))
    child.on('close', (code) => done({ code: code ?? -1, out }))
  })
}

/** An HTTP GET from inside `netns`: the status code (0: no answer) and the body. */
function httpStatus(netns: string, url: string): Promise<{ status: number; body: string }> {
  return new Promise((done) => {
    const child = spawn('ip', ['netns', 'exec', netns, 'curl', '-s', '--max-time', '2', '-w', '\n%{http_code}', url], { stdio: ['ignore', 'pipe', 'ignore'] })
    let out = ''
    child.stdout.on('data', (b: Buffer) => (out += b))
    child.on('close', () => {
      const i = out.lastIndexOf('\n')
      done({ status: Number(out.slice(i + 1)) || 0, body: out.slice(0, Math.max(0, i)) })
    })
  })
}

/** One UDP datagram to `ip:port` from inside `netns`, and the first reply line. */
async function udpAsk(netns: string, ip: string, port: number, message: string): Promise<string> {
  // One read of a whole datagram: dd with a block size, not bash's byte-wise `read`.
  const script = `exec 3<>/dev/udp/${ip}/${port}; printf '%s' '${message}' >&3; timeout 2 dd bs=512 count=1 status=none <&3`
  return execIn(netns, 'bash', ['-c', script]).catch(() => '')
}

export async function serviceProxySuite(t: Test, mode: Mode): Promise<void> {
  t.setTimeout(300_000)
  const cluster = await startCluster(t, { loadBalancerPool: ['172.31.1.10-172.31.1.20'] }, { socket: true, kubeletSocketsInDir: true })
  const underlay = await startUnderlay(t, { socketPath: cluster.socketPath!, dir: cluster.dir, agentArgs: ['--proxy-mode', mode, '--healthz-bind-address', '0.0.0.0:10256'] })
  const client = cluster.client
  const nodeOne = await underlay.addNode('node-1')
  const nodeTwo = await underlay.addNode('node-2')
  // The outside world is the underlay namespace (172.31.0.1); load-balancer IPs are routed to node-1.
  await ipBatch([`route add 172.31.1.0/24 via ${nodeOne.ip}`], underlay.netns)
  for (const n of ['node-1', 'node-2'])
    await until(`${n} Ready`, async () => {
      const node = await client.get<any>(nodeInfo, n).catch(() => undefined)
      return node?.status?.conditions?.some((c: any) => c.type === 'Ready' && c.status === 'True') === true
    }, 60_000)

  const pods = new Map<string, { uid: string; ip: string; node: TestNode }>()
  async function startPod(name: string, node: TestNode, labels: Record<string, string>, args: string[] = []): Promise<void> {
    await client.create(podInfo, {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, namespace: 'default', labels },
      spec: { nodeName: node.name, terminationGracePeriodSeconds: 10, containers: [{ name: 'c', image: agnhost, args: ['netexec', '--http-port=8080', '--udp-port=8081', ...args], ports: [{ name: 'http', containerPort: 8080 }, { name: 'udp', containerPort: 8081, protocol: 'UDP' }], readinessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 1 } }] },
    } as never)
  }
  async function readyPod(name: string): Promise<void> {
    let pod: any
    await until(`${name} Ready`, async () => {
      pod = await client.get<any>(podInfo, name, 'default').catch(() => undefined)
      return pod?.status?.conditions?.some((c: any) => c.type === 'Ready' && c.status === 'True') === true
    }, 60_000)
    pods.set(name, { uid: pod.metadata.uid, ip: pod.status.podIP, node: pod.spec.nodeName === 'node-1' ? nodeOne : nodeTwo })
  }
  const podNetns = (name: string) => {
    const p = pods.get(name)!
    return `${p.node.netns}-pod-${p.uid}`
  }
  await startPod('web-1', nodeOne, { app: 'web' })
  await startPod('web-2', nodeOne, { app: 'web' })
  await startPod('web-3', nodeTwo, { app: 'web', solo: 'yes' })
  for (const name of ['web-1', 'web-2', 'web-3']) await readyPod(name)

  async function createService(name: string, spec: object): Promise<any> {
    await client.create(serviceInfo, { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'default' }, spec } as never)
    return client.get<any>(serviceInfo, name, 'default')
  }
  const httpPort = { name: 'http', port: 80, targetPort: 'http' }
  const web = await createService('web', { type: 'LoadBalancer', selector: { app: 'web' }, ports: [httpPort, { name: 'udp', port: 81, protocol: 'UDP', targetPort: 'udp' }] })
  const empty = await createService('empty', { selector: { app: 'nothing' }, ports: [httpPort] })
  const sticky = await createService('sticky', { selector: { app: 'web' }, sessionAffinity: 'ClientIP', ports: [httpPort] })
  const local = await createService('local', { type: 'NodePort', externalTrafficPolicy: 'Local', selector: { app: 'web' }, ports: [httpPort] })
  const internalLocal = await createService('internal-local', { internalTrafficPolicy: 'Local', selector: { app: 'web' }, ports: [httpPort] })
  const solo = await createService('solo', { selector: { solo: 'yes' }, ports: [httpPort] })
  const webIP: string = web.spec.clusterIP
  const webNodePort: number = web.spec.ports[0].nodePort
  const hostname = (ip: string, port = 80) => `http://${ip}:${port}/hostname`
  const backends = new Set(['web-1', 'web-2', 'web-3'])

  // Each node's proxy programs its rules on its own time: wait for both (a loaded machine
  // once had node-2 a moment behind node-1).
  const answersOn = async (netns: string) => backends.has((await curl(netns, hostname(webIP), 1)).out)
  const up = await until('the web Service answers on node-1 and node-2', async () => (await answersOn(nodeOne.netns)) && (await answersOn(nodeTwo.netns)), 30_000).then(
    () => true,
    (err: Error) => t.fail(err.message),
  )
  if (!up) return

  await t.test('ClusterIP from a pod and from the node, spread over the endpoints', async (t) => {
    const fromPod = await curl(podNetns('web-3'), hostname(webIP))
    t.ok(backends.has(fromPod.out), `a pod on node-2 is answered (${fromPod.out})`)
    const seen = new Set<string>()
    for (let i = 0; i < 15; i++) seen.add((await curl(nodeOne.netns, hostname(webIP))).out)
    t.ok([...seen].every((b) => backends.has(b)), `every answer is an endpoint's (${[...seen]})`)
    t.ok(seen.size >= 2, 'more than one endpoint answers')
  })

  await t.test('NodePort from another node and from outside', async (t) => {
    t.ok(backends.has((await curl(nodeTwo.netns, hostname(nodeOne.ip, webNodePort))).out), 'node-2 → node-1:NodePort')
    t.ok(backends.has((await curl(underlay.netns, hostname(nodeTwo.ip, webNodePort))).out), 'outside → node-2:NodePort')
  })

  await t.test('LoadBalancer IP from outside', async (t) => {
    let lbIP = ''
    await until('the load-balancer IP', async () => {
      lbIP = (await client.get<any>(serviceInfo, 'web', 'default')).status?.loadBalancer?.ingress?.[0]?.ip ?? ''
      return lbIP !== ''
    }, 20_000)
    await until('the LB IP answers', async () => backends.has((await curl(underlay.netns, hostname(lbIP), 1)).out), 20_000)
    t.pass(`outside → ${lbIP}:80 answered`)
  })

  await t.test('loadBalancerSourceRanges: only sources in the ranges reach the LB IP', async (t) => {
    // Refused is dropped in nftables mode (curl times out) and reset in userspace mode; either way no answer.
    const ranged = await createService('ranged', { type: 'LoadBalancer', selector: { app: 'web' }, loadBalancerSourceRanges: ['172.31.0.1/32'], ports: [httpPort] })
    const setRanges = (ranges: string[]) => client.patch(serviceInfo, 'ranged', 'default', { spec: { loadBalancerSourceRanges: ranges } }, 'merge')
    let lbIP = ''
    await until('the load-balancer IP', async () => {
      lbIP = (await client.get<any>(serviceInfo, 'ranged', 'default')).status?.loadBalancer?.ingress?.[0]?.ip ?? ''
      return lbIP !== ''
    }, 20_000)
    await until('outside, in the ranges, is answered', async () => backends.has((await curl(underlay.netns, hostname(lbIP), 1)).out), 20_000)
    t.not((await curl(nodeTwo.netns, hostname(lbIP), 2)).code, 0, 'a node outside the ranges: no answer')
    t.ok(backends.has((await curl(nodeTwo.netns, hostname(ranged.spec.clusterIP))).out), 'its ClusterIP is not filtered')
    t.ok(backends.has((await curl(nodeTwo.netns, hostname(nodeOne.ip, ranged.spec.ports[0].nodePort))).out), 'nor its NodePort')
    await setRanges(['192.0.2.0/24'])
    await until('outside, no longer in the ranges, is refused', async () => (await curl(underlay.netns, hostname(lbIP), 1)).code !== 0, 20_000)
    t.not((await curl(underlay.netns, hostname(lbIP), 2)).code, 0, 'and stays refused')
    await setRanges(['172.31.0.0/24'])
    await until('a node in the ranges reaches the LB IP', async () => backends.has((await curl(nodeTwo.netns, hostname(lbIP), 1)).out), 20_000)
    t.pass('the node is answered once its address is in the ranges')
    await client.delete(serviceInfo, 'ranged', 'default')
  })

  await t.test('a Service without endpoints refuses connections at once', async (t) => {
    const r = await curl(nodeOne.netns, hostname(empty.spec.clusterIP), 5)
    t.equal(r.code, 7, 'curl: connection refused (7), not a timeout (28)')
    const fromPod = await curl(podNetns('web-1'), hostname(empty.spec.clusterIP), 5)
    t.equal(fromPod.code, 7, 'refused for pods too')
  })

  if (mode === 'nftables')
    await t.test('nftables: an unserved port of a ClusterIP is refused, an unallocated service address dropped', async (t) => {
      t.equal((await curl(podNetns('web-1'), `http://${webIP}:8081/`, 3)).code, 7, 'a port the Service does not have: refused')
      t.equal((await curl(podNetns('web-1'), 'http://10.111.222.111/', 2)).code, 28, 'an address no Service has: dropped (timeout)')
    })

  await t.test('ClientIP affinity sticks', async (t) => {
    const answers = new Set<string>()
    for (let i = 0; i < 8; i++) answers.add((await curl(nodeOne.netns, hostname(sticky.spec.clusterIP))).out)
    t.equal(answers.size, 1, `one endpoint answered every request (${[...answers]})`)
    t.ok(backends.has([...answers][0]!))
  })

  await t.test('Local traffic policies keep traffic on the node', async (t) => {
    const fromOutside = new Set<string>()
    for (let i = 0; i < 8; i++) fromOutside.add((await curl(underlay.netns, hostname(nodeTwo.ip, local.spec.ports[0].nodePort))).out)
    t.same([...fromOutside], ['web-3'], 'externalTrafficPolicy Local: node-2 sends outside traffic only to its own endpoint')
    const viaOne = new Set<string>()
    for (let i = 0; i < 8; i++) viaOne.add((await curl(underlay.netns, hostname(nodeOne.ip, local.spec.ports[0].nodePort))).out)
    t.ok([...viaOne].every((b) => b === 'web-1' || b === 'web-2'), `node-1 only to its own (${[...viaOne]})`)
    const internal = new Set<string>()
    for (let i = 0; i < 8; i++) internal.add((await curl(podNetns('web-3'), hostname(internalLocal.spec.clusterIP))).out)
    t.same([...internal], ['web-3'], 'internalTrafficPolicy Local: a pod on node-2 reaches only node-2 endpoints')
  })

  await t.test('healthCheckNodePort from outside: 200 on the node with a ready endpoint, 503 on the other', async (t) => {
    const hc = await createService('hc', { type: 'LoadBalancer', externalTrafficPolicy: 'Local', selector: { solo: 'yes' }, ports: [httpPort] })
    const port: number = hc.spec.healthCheckNodePort
    t.ok(port >= 30000 && port <= 32767, `the API server allocated it (${port})`)
    const url = (ip: string) => `http://${ip}:${port}/healthz`
    let two = { status: 0, body: '' }
    await until('node-2 answers 200', async () => (two = await httpStatus(underlay.netns, url(nodeTwo.ip))).status === 200, 30_000)
    t.same(JSON.parse(two.body), { service: { namespace: 'default', name: 'hc' }, localEndpoints: 1, serviceProxyHealthy: true }, 'node-2 runs web-3')
    let one = { status: 0, body: '' }
    await until('node-1 answers', async () => (one = await httpStatus(underlay.netns, url(nodeOne.ip))).status !== 0, 30_000)
    t.equal(one.status, 503, 'node-1 has no endpoint of it: the load balancer should skip it')
    t.same(JSON.parse(one.body).localEndpoints, 0)
    await client.delete(serviceInfo, 'hc', 'default')
    await until('the listeners close', async () => (await httpStatus(underlay.netns, url(nodeTwo.ip))).status === 0, 30_000)
    t.pass('deleting the Service closes its health check')
  })

  await t.test('hairpin: a pod reaches itself through its Service', async (t) => {
    const r = await curl(podNetns('web-3'), hostname(solo.spec.clusterIP))
    t.equal(r.out, 'web-3')
  })

  await t.test('NetworkPolicy judges Service traffic with the backend pod, from pods on either node', async (t) => {
    // web-3 (node-2, behind `solo`) admits only pods labelled role=caller on its http port.
    const policyInfo = resources.find((r) => r.kind === 'NetworkPolicy')!
    await client.create(policyInfo, { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'solo-in', namespace: 'default' }, spec: { podSelector: { matchLabels: { solo: 'yes' } }, ingress: [{ from: [{ podSelector: { matchLabels: { role: 'caller' } } }], ports: [{ port: 'http' }] }] } } as never)
    const label = (name: string, value: string | null) => client.patch(podInfo, name, 'default', { metadata: { labels: { role: value } } }, 'merge')
    const soloURL = hostname(solo.spec.clusterIP)
    await until('web-1 (node-1) is refused through the Service', async () => (await curl(podNetns('web-1'), soloURL, 1)).code !== 0, 20_000)
    t.not((await curl(podNetns('web-2'), soloURL, 2)).code, 0, 'so is web-2')
    // Straight to the pod is judged by node-2's own rules, which may be written after node-1 (its relay judges the Service path in userspace mode) started refusing.
    await until('web-1 is refused straight to the pod too', async () => (await curl(podNetns('web-1'), hostname(pods.get('web-3')!.ip, 8080), 1)).code !== 0, 20_000)
    t.equal((await curl(nodeTwo.netns, soloURL)).out, 'web-3', "web-3's own node is answered (node traffic is allowed)")
    await label('web-1', 'caller')
    await until('web-1, now a caller, is answered through the Service', async () => (await curl(podNetns('web-1'), soloURL, 1)).out === 'web-3', 20_000)
    t.not((await curl(podNetns('web-2'), soloURL, 2)).code, 0, 'web-2 still is not')
    t.equal((await curl(podNetns('web-1'), hostname(pods.get('web-3')!.ip, 8080))).out, 'web-3', 'web-1 straight to the pod too')
    await client.delete(policyInfo, 'solo-in', 'default')
    await label('web-1', null)
    await until('without the policy web-2 is answered again', async () => (await curl(podNetns('web-2'), soloURL, 1)).out === 'web-3', 20_000)
    t.pass('web-2 is answered once the policy is gone')
  })

  await t.test('UDP Service', async (t) => {
    const answer = await udpAsk(podNetns('web-1'), webIP, 81, 'hostname')
    t.ok(backends.has(answer), `a UDP request through the ClusterIP is answered (${answer})`)
  })

  await t.test('a UDP client whose endpoint goes away moves on to another', async (t) => {
    const podInfoPatch = (name: string, value: string | null) => client.patch(podInfo, name, 'default', { metadata: { labels: { udp: value } } }, 'merge')
    const svc = await createService('udp-one', { selector: { udp: 'yes' }, ports: [{ name: 'udp', port: 53, protocol: 'UDP', targetPort: 'udp' }] })
    // The same source port every time: the conntrack entry (or userspace session) of the
    // first endpoint would catch every later datagram if nobody cleaned it up.
    const ask = () => execIn(nodeOne.netns, nodeBin, [join(programs, 'udp-ask.ts'), svc.spec.clusterIP, '53', 'hostname', '40053']).catch(() => '')
    await podInfoPatch('web-2', 'yes')
    await until('web-2 answers', async () => (await ask()) === 'web-2', 20_000)
    await podInfoPatch('web-1', 'yes')
    await podInfoPatch('web-2', null)
    await until('web-1 answers the same client', async () => (await ask()) === 'web-1', 20_000)
    t.pass('after the endpoint change the same client socket is answered by the new endpoint')
  })

  await t.test('scaling endpoints under load loses no request', async (t) => {
    // Pods drain for 8 s after SIGTERM, as a real app behind a Service would: the proxies
    // have that long to drop them, even on a machine busy with other suites.
    const labels = { app: 'scale' }
    const template = { metadata: { labels }, spec: { terminationGracePeriodSeconds: 15, containers: [{ name: 'c', image: agnhost, args: ['netexec', '--http-port=8080', '--udp-port=-1', '--delay-shutdown=8'], ports: [{ name: 'http', containerPort: 8080 }], readinessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 1 } }] } }
    await client.create(deploymentInfo, { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'scale', namespace: 'default' }, spec: { replicas: 2, selector: { matchLabels: labels }, template } } as never)
    const svc = await createService('scale', { selector: labels, ports: [httpPort] })
    const readyEndpoints = async () => {
      const slices = await client.list<any>(sliceInfo, { namespace: 'default', labelSelector: 'kubernetes.io/service-name=scale' })
      return slices.items.flatMap((s: any) => s.endpoints ?? []).filter((e: any) => e.conditions?.ready).length
    }
    await until('2 ready endpoints', async () => (await readyEndpoints()) === 2, 60_000).catch(async (err) => {
      // Say why, should it ever happen again: where the pods are and what was said about them.
      const pods = await client.list<any>(podInfo, { namespace: 'default', labelSelector: 'app=scale' })
      const events = await client.list<any>(eventInfo, { namespace: 'default' })
      t.comment(JSON.stringify(pods.items.map((p: any) => ({ name: p.metadata.name, node: p.spec.nodeName, phase: p.status?.phase, conditions: p.status?.conditions?.map((c: any) => `${c.type}=${c.status}${c.reason ? `(${c.reason})` : ''}`) }))))
      t.comment(JSON.stringify(events.items.filter((e: any) => /scale/.test(e.involvedObject?.name ?? '')).slice(-15).map((e: any) => `${e.involvedObject.kind}/${e.involvedObject.name} ${e.reason}: ${e.message}`)))
      throw err
    })
    await until('the Service answers', async () => (await curl(nodeOne.netns, hostname(svc.spec.clusterIP), 1)).code === 0, 20_000)
    const load = spawn('nsenter', [`--net=/run/netns/${nodeOne.netns}`, '--', nodeBin, join(programs, 'http-load.ts'), hostname(svc.spec.clusterIP)], { stdio: ['pipe', 'pipe', 'inherit'] })
    t.teardown(() => void load.kill())
    const result = new Promise<any>((done) => createInterface({ input: load.stdout! }).once('line', (l) => done(JSON.parse(l))))
    const scale = (replicas: number) => client.patch(deploymentInfo, 'scale', 'default', { spec: { replicas } }, 'merge')
    await scale(4)
    await until('4 ready endpoints', async () => (await readyEndpoints()) === 4, 60_000)
    await scale(1)
    await until('1 endpoint left', async () => {
      const slices = await client.list<any>(sliceInfo, { namespace: 'default', labelSelector: 'kubernetes.io/service-name=scale' })
      return slices.items.flatMap((s: any) => s.endpoints ?? []).length === 1
    }, 60_000)
    load.stdin!.end()
    const { ok, failed, errors } = await result
    t.ok(ok > 20, `requests were served during scaling (${ok})`)
    t.equal(failed, 0, `no request failed (${JSON.stringify(errors)})`)
  })

  await t.test(mode === 'nftables' ? 'a proxy restart keeps established connections' : 'after a proxy restart the Service answers again', async (t) => {
    const kept = spawn('nsenter', [`--net=/run/netns/${nodeOne.netns}`, '--', nodeBin, join(programs, 'keepalive-client.ts'), hostname(webIP)], { stdio: ['pipe', 'pipe', 'inherit'] })
    t.teardown(() => void kept.kill())
    const lines = createInterface({ input: kept.stdout! })[Symbol.asyncIterator]()
    const first = JSON.parse(String((await lines.next()).value))
    t.equal(first.status, 200, 'the first request on the connection')
    await nodeOne.stop()
    nodeOne.start()
    await until('the restarted proxy is healthy', async () => (await curl(nodeOne.netns, 'http://127.0.0.1:10256/healthz', 1)).out.includes('"healthy":true'), 60_000)
    await new Promise((done) => setTimeout(done, 1500))
    kept.stdin!.end()
    const summary = JSON.parse(String((await lines.next()).value))
    if (mode === 'nftables') {
      t.equal(summary.failed, 0, `every request during and after the restart was answered (${summary.ok}; ${JSON.stringify(summary.errors)})`)
      t.same(summary.localPorts, [first.localPort], 'all on the one connection')
    } else {
      // The userspace proxy holds both halves of each connection: they end with its process.
      t.ok(backends.has((await curl(nodeOne.netns, hostname(webIP))).out), 'new connections are answered')
    }
  })
}
