// The mesh end to end on two lab nodes: meshed pods on different nodes talk through the node
// proxies' mTLS tunnel, and the underlay carries no plaintext of what they say; the
// destination's proxy reports the source's SPIFFE identity; a MeshAuthorization deny stops one
// service account only; STRICT refuses a client outside the mesh; certificates rotate (20 s
// lifetime) under a long-lived connection that keeps working; a node cannot obtain another
// node's pods' identities.
import t from 'tap'
import { spawn } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { X509Certificate } from 'node:crypto'
import { resources } from '../../src/api/registry.ts'
import { loadKubeconfig } from '../../src/client/kubeconfig.ts'
import { RestClient } from '../../src/client/index.ts'
import { exchangeCertificate } from '../../src/kubelet/join.ts'
import { testPki } from '../helpers/apiserver.ts'
import { podInfo, startCluster, until } from '../helpers/control-plane.ts'
import { execIn, startUnderlay, type TestNode } from '../helpers/nodes.ts'
import { authorizationInfo } from '../../mesh/run.ts'

t.setTimeout(240_000)
const kind = (k: string) => resources.find((r) => r.kind === k)!
const programs = resolve(import.meta.dirname, '../mesh/programs')
const node = process.execPath
const PAYLOAD = 'WEFT-MESH-SECRET-7f3a9c'
const CONTROL = 'WEFT-PLAINTEXT-CONTROL-51e0'

const pki = await testPki()
const cluster = await startCluster(t, { meshCa: pki.meshCa, meshTrustDomain: 'cluster.local', meshCertificateSeconds: 20 }, { socket: true, kubeletSocketsInDir: true })
const underlay = await startUnderlay(t, { socketPath: cluster.socketPath!, dir: cluster.dir })
const [node1, node2] = [await underlay.addNode('node-1'), await underlay.addNode('node-2')]
const client = cluster.client

for (const [name, labels] of [['shop', { 'weft.dev/mesh': 'enabled' }], ['plain', {}]] as const) await client.create(kind('Namespace'), { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } })
for (const sa of ['web', 'batch', 'db', 'near']) await client.create(kind('ServiceAccount'), { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: sa, namespace: 'shop' } })
const idle = [node, '-e', 'setInterval(() => {}, 1e9)']
const pod = (ns: string, name: string, sa: string | undefined, on: TestNode, command: string[], labels: Record<string, string> = {}) =>
  client.create(podInfo, { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: ns, labels: { app: name, ...labels } }, spec: { nodeName: on.name, ...(sa ? { serviceAccountName: sa } : {}), terminationGracePeriodSeconds: 1, containers: [{ name: 'c', image: 'node', command }] } })
await pod('shop', 'db', 'db', node2, [node, '--disable-warning=ExperimentalWarning', join(programs, 'echo-server.ts'), '8080', 'db'])
await pod('shop', 'web', 'web', node1, idle)
await pod('shop', 'batch', 'batch', node1, idle)
await pod('plain', 'legacy', undefined, node1, idle)
await pod('shop', 'near', 'near', node1, [node, '--disable-warning=ExperimentalWarning', join(programs, 'echo-server.ts'), '8080', 'near'])
await client.create(kind('Service'), { apiVersion: 'v1', kind: 'Service', metadata: { name: 'db', namespace: 'shop' }, spec: { selector: { app: 'db' }, ports: [{ port: 80, targetPort: 8080 }] } })

const running: Record<string, { ip: string; netns: string }> = {}
for (const [ns, name, on] of [['shop', 'db', node2], ['shop', 'web', node1], ['shop', 'batch', node1], ['plain', 'legacy', node1], ['shop', 'near', node1]] as const) {
  await until(`${ns}/${name} running`, async () => {
    const p = await client.get<any>(podInfo, name, ns)
    if (p.status?.phase !== 'Running' || !p.status.podIP) return false
    running[name] = { ip: p.status.podIP, netns: `${on.netns}-pod-${p.metadata.uid}` }
    return true
  }, 90_000)
}
const service = await client.get<any>(kind('Service'), 'db', 'shop')
await until('the db endpoint is ready', async () => (await client.list<any>(kind('EndpointSlice'), { namespace: 'shop' })).items.some((s) => s.endpoints?.some((e: any) => e.conditions?.ready)), 30_000)

/** One exchange (or a held connection) from a pod, as the mesh-client program reports it. */
async function from(podName: string, host: string, port: number, payload = PAYLOAD, holdMs = 0): Promise<{ ok: boolean; reply?: string; error?: string; rounds?: number }> {
  const out = await execIn(running[podName]!.netns, node, ['--disable-warning=ExperimentalWarning', join(programs, 'mesh-client.ts'), host, String(port), payload, ...(holdMs ? ['--hold', String(holdMs)] : [])], holdMs + 20_000)
  return JSON.parse(out.trim().split('\n').at(-1)!)
}

const metrics = (n: TestNode) => execIn(n.netns, 'curl', ['-s', 'http://127.0.0.1:10249/metrics'])

t.test('the node proxies hold the identities of their meshed pods', async (t) => {
  const certs = async (n: TestNode) => {
    let text = ''
    await import('../../mesh/cli.ts').then((m) => m.runMesh(['certs', '--data-dir', n.dataDir], { write: (s: string) => (text += s) }))
    return text
  }
  await until('node-1 holds batch, near and web', async () => /sa\/batch.*valid[\s\S]*sa\/near.*valid[\s\S]*sa\/web.*valid/.test(await certs(node1)), 60_000)
  await until('node-2 holds db', async () => /spiffe:\/\/cluster\.local\/ns\/shop\/sa\/db .* valid/.test(await certs(node2)), 60_000)
  t.notMatch(await certs(node1), /legacy|default|sa\/db/, 'nothing for pods outside the mesh or of other nodes')
  t.notMatch(await certs(node2), /sa\/web|sa\/batch/, 'nor for pods of other nodes')
})

t.test('meshed pods on different nodes talk through the tunnel; the underlay sees no plaintext', async (t) => {
  const capture = join(cluster.dir, 'underlay.pcap')
  // On the bridge's ports (frames forwarded between them never reach br0 itself); immediate
  // mode, or packets still in the kernel's capture ring when tcpdump is stopped are lost.
  const tcpdump = spawn('ip', ['netns', 'exec', underlay.netns, 'tcpdump', '-Z', 'root', '-i', 'any', '--immediate-mode', '-U', '-w', capture, 'tcp'], { stdio: ['ignore', 'ignore', 'pipe'] })
  t.teardown(() => {
    if (tcpdump.exitCode === null) tcpdump.kill('SIGTERM')
  })
  let said = ''
  await until('tcpdump is listening', () => {
    said += tcpdump.stderr!.read()?.toString() ?? ''
    return said.includes('listening on')
  }, 10_000)
  const direct = await until('web reaches db', async () => (await from('web', running.db!.ip, 8080)).ok, 30_000).then(() => from('web', running.db!.ip, 8080))
  t.same(direct, { ok: true, reply: `${PAYLOAD}<bye from db>`.replace(PAYLOAD, PAYLOAD.toUpperCase()), rounds: 0 }, 'by pod IP')
  const viaService = await from('web', service.spec.clusterIP, 80)
  t.equal(viaService.reply, `${PAYLOAD.toUpperCase()}<bye from db>`, 'by Service ClusterIP')
  // The control: a client outside the mesh sends in plaintext, and the capture must show it.
  t.ok((await from('legacy', running.db!.ip, 8080, CONTROL)).ok, 'a plaintext client, for the control')
  await new Promise((r) => setTimeout(r, 500))
  tcpdump.kill('SIGTERM')
  await new Promise((r) => tcpdump.once('exit', r))
  const seen = await readFile(capture)
  t.ok(seen.length > 1000, `the capture saw the traffic (${seen.length} bytes)`)
  t.equal(seen.indexOf(PAYLOAD), -1, 'the payload never crossed the underlay in plaintext')
  t.equal(seen.indexOf(PAYLOAD.toUpperCase()), -1, 'nor the reply')
  t.not(seen.indexOf(CONTROL), -1, "while the plaintext client's payload is there to see")
  const tunnel = await execIn(underlay.netns, 'tcpdump', ['-r', capture, '-nn', `tcp port 15008 and host ${node1.ip} and host ${node2.ip}`])
  t.ok(tunnel.split('\n').filter(Boolean).length > 10, 'what crossed was the tunnel between the two nodes (port 15008)')
  const direct8080 = await execIn(underlay.netns, 'tcpdump', ['-r', capture, '-nn', `tcp port 8080 and host ${running.web!.ip}`])
  t.equal(direct8080.trim(), '', 'and nothing went from web to the pod port directly')
})

t.test('meshed pods on the same node talk through the tunnel too', async (t) => {
  t.equal((await from('web', running.near!.ip, 8080)).reply, `${PAYLOAD.toUpperCase()}<bye from near>`)
  t.match(await metrics(node1), /weft_mesh_tcp_connections_opened_total\{reporter="destination",source_workload="web",[^}]*destination_workload="near"[^}]*connection_security_policy="mutual_tls"\} [1-9]/, "node-1's proxy took it as the destination")
})

t.test("the destination's proxy reports the source's SPIFFE identity", async (t) => {
  const text = await metrics(node2)
  t.match(text, /weft_mesh_tcp_connections_opened_total\{reporter="destination",source_workload="web",source_workload_namespace="shop",source_principal="spiffe:\/\/cluster\.local\/ns\/shop\/sa\/web",destination_workload="db",destination_workload_namespace="shop",destination_principal="spiffe:\/\/cluster\.local\/ns\/shop\/sa\/db",destination_service="",connection_security_policy="mutual_tls"\} [1-9]/)
  t.match(await metrics(node1), /weft_mesh_tcp_connections_opened_total\{reporter="source",[^}]*destination_service="shop\/db"[^}]*\} [1-9]/, 'the source proxy reports the Service')
  t.match(await metrics(node1), /^weft_mesh_identities 3$/m, 'node-1 holds three identities (batch, near, web)')
})

t.test('a MeshAuthorization deny stops new connections from one service account only', async (t) => {
  t.ok((await from('batch', running.db!.ip, 8080)).ok, 'batch gets through before')
  await client.create(authorizationInfo, {
    apiVersion: 'mesh.weft.dev/v1alpha1',
    kind: 'MeshAuthorization',
    metadata: { name: 'no-batch', namespace: 'shop' },
    spec: { action: 'DENY', rules: [{ from: [{ serviceAccounts: ['shop/batch'] }] }] },
  } as never)
  await until('batch is refused', async () => !(await from('batch', running.db!.ip, 8080)).ok, 30_000)
  t.ok((await from('web', running.db!.ip, 8080)).ok, 'web still gets through')
  t.match(await metrics(node2), /weft_mesh_policy_denials_total\{reason="policy",source_workload_namespace="shop",source_principal="spiffe:\/\/cluster\.local\/ns\/shop\/sa\/batch"/)
})

t.test('STRICT refuses a client outside the mesh; PERMISSIVE lets it in', async (t) => {
  t.ok((await from('legacy', running.db!.ip, 8080)).ok, 'PERMISSIVE: plaintext from outside the mesh')
  await client.patch(kind('Namespace'), 'shop', undefined, { metadata: { labels: { 'weft.dev/mesh-mode': 'STRICT' } } }, 'merge')
  await until('legacy is refused', async () => !(await from('legacy', running.db!.ip, 8080)).ok, 30_000)
  t.ok((await from('web', running.db!.ip, 8080)).ok, 'meshed clients still get through')
})

t.test('certificates rotate under a long-lived connection, which keeps working', async (t) => {
  const certFile = join(node1.dataDir, 'mesh', 'identities', 'shop', 'web.crt')
  const serial = async () => new X509Certificate(await readFile(certFile, 'utf8')).serialNumber
  const before = await serial()
  const held = await from('web', running.db!.ip, 8080, 'long-lived', 16_000)
  t.ok(held.ok, `the connection lasted (${held.rounds} round trips): ${held.error ?? ''}`)
  t.ok((held.rounds ?? 0) >= 30, 'round trips all along')
  t.not(await serial(), before, 'the certificate was renewed meanwhile (20 s lifetime, renewed at half-life)')
  t.ok((await from('web', running.db!.ip, 8080)).ok, 'new connections use the new one')
})

t.test("a node cannot obtain another node's pods' identities", async (t) => {
  const config = await loadKubeconfig(join(node1.dataDir, 'kubeconfig'))
  const asNode1 = new RestClient({ socketPath: cluster.socketPath!, credentials: config.credentials })
  t.teardown(() => asNode1.close())
  const ask = exchangeCertificate(asNode1, { signerName: 'weft.dev/mesh', usages: ['client auth', 'server auth'], subject: { commonName: 'db', organizations: ['shop'] }, uris: ['spiffe://cluster.local/ns/shop/sa/db'], namePrefix: 'mesh-', timeoutMs: 10_000 })
  await t.rejects(ask, /may only request the mesh identity of a service account one of its pods runs as/)
})

t.test('a MeshAuthorization that does not parse gets a Warning Event', async (t) => {
  await client.create(authorizationInfo, { apiVersion: 'mesh.weft.dev/v1alpha1', kind: 'MeshAuthorization', metadata: { name: 'broken', namespace: 'plain' }, spec: { selector: { matchLabels: { 'not a label key!': 'x' } } } } as never)
  await until('the Event', async () => (await client.list<any>(kind('Event'), { namespace: 'plain' })).items.some((e) => e.reason === 'InvalidMeshAuthorization' && e.involvedObject?.name === 'broken' && e.involvedObject?.kind === 'MeshAuthorization' && /spec\.selector/.test(e.message)), 30_000)
  t.pass('reported on the object, with the reason')
})
