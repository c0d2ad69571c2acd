// Cluster DNS end to end: the API server's bootstrap manifests run `weft/dns` as a pod behind
// kube-dns (10.96.0.10); a client pod asks with dig and getent through its own resolv.conf
// (ClusterFirst), through the service proxy. The "outside" DNS is a fake upstream in the
// underlay namespace (172.31.0.1), named by the nodes' resolv.conf.
import { spawn, execFile } from 'node:child_process'
import { readFile, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { createInterface } from 'node:readline'
import t from 'tap'
import { resources } from '../../src/api/registry.ts'
import { podInfo, startCluster, until } from '../helpers/control-plane.ts'
import { startUnderlay } from '../helpers/nodes.ts'

const serviceInfo = resources.find((r) => r.kind === 'Service')!
const nodeBin = resolve(import.meta.dirname, '../../node_modules/.bin/node')
const programs = resolve(import.meta.dirname, '../helpers/programs')

t.setTimeout(300_000)
const cluster = await startCluster(t, {}, { socket: true, kubeletSocketsInDir: true, dnsReplicas: 1 })
const client = cluster.client
const hostResolv = join(cluster.dir, 'host-resolv.conf')
await writeFile(hostResolv, 'nameserver 172.31.0.1\nsearch corp.test\n')
const underlay = await startUnderlay(t, { socketPath: cluster.socketPath!, dir: cluster.dir, agentArgs: ['--resolv-conf', hostResolv, '--healthz-bind-address', ''] })

const upstreamQueries: string[] = []
const upstream = spawn('nsenter', [`--net=/run/netns/${underlay.netns}`, '--', nodeBin, join(programs, 'fake-upstream.ts'), '172.31.0.1', '53'], { stdio: ['ignore', 'pipe', 'inherit'] })
t.teardown(() => {
  upstream.kill()
})
await new Promise<void>((done, fail) => {
  upstream.once('exit', (code) => fail(new Error(`fake upstream exited with ${code}`)))
  createInterface({ input: upstream.stdout! }).on('line', (line) => (line === 'listening' ? done() : upstreamQueries.push(line)))
})

const node = await underlay.addNode('node-1')
await until('node-1 Ready', async () => {
  const n = await client.get<any>(resources.find((r) => r.kind === 'Node')!, 'node-1').catch(() => undefined)
  return n?.status?.conditions?.some((c: any) => c.type === 'Ready' && c.status === 'True') === true
}, 60_000)

async function createPod(name: string, spec: object, labels: Record<string, string> = {}): Promise<void> {
  await client.create(podInfo, { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'default', labels }, spec: { nodeName: 'node-1', terminationGracePeriodSeconds: 1, ...spec } } as never)
}
async function readyPod(name: string, namespace = 'default'): Promise<any> {
  let pod: any
  await until(`${namespace}/${name} Ready`, async () => {
    pod = await client.get<any>(podInfo, name, namespace).catch(() => undefined)
    return pod?.status?.conditions?.some((c: any) => c.type === 'Ready' && c.status === 'True') === true
  }, 90_000)
  return pod
}
async function createService(name: string, spec: object): Promise<any> {
  return client.create(serviceInfo, { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'default' }, spec } as never)
}

const echo = (name: string, extra: object = {}) =>
  createPod(name, { ...extra, containers: [{ name: 'c', image: 'weft/echo', ports: [{ name: 'http', containerPort: 8080 }], readinessProbe: { httpGet: { path: '/healthz', port: 8080 }, periodSeconds: 1 } }] }, { app: 'web' })
await echo('web-1')
await echo('named', { hostname: 'h1', subdomain: 'hl' })
await createPod('client', { containers: [{ name: 'c', image: 'debian', command: ['sleep', 'infinity'] }] })
const web = await createService('web', { selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] })
await createService('hl', { clusterIP: 'None', selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] })
await createService('empty-hl', { clusterIP: 'None', selector: { app: 'nothing' }, ports: [{ name: 'http', port: 80 }] })
await createService('ext', { type: 'ExternalName', externalName: 'www.example.test' })

const dnsPods = await until('a coredns pod', async () => (await client.list<any>(podInfo, { namespace: 'kube-system', labelSelector: 'k8s-app=kube-dns' })).items.length > 0, 30_000).then(() =>
  client.list<any>(podInfo, { namespace: 'kube-system', labelSelector: 'k8s-app=kube-dns' }),
)
await readyPod(dnsPods.items[0].metadata.name, 'kube-system')
const webPod1 = await readyPod('web-1')
const named = await readyPod('named')
const clientPod = await readyPod('client')
const clientPid: number = JSON.parse(await readFile(join(node.dataDir, 'pods', clientPod.metadata.uid, 'containers', 'c.json'), 'utf8')).process.pid

/** A command inside the client pod: its network namespace and its mount namespace (its /etc/resolv.conf). */
function inPod(cmd: string, args: string[], timeoutMs = 20_000): Promise<{ code: number; out: string }> {
  return new Promise((done) => {
    execFile('nsenter', ['-t', String(clientPid), '-m', '-r', '-n', '--', cmd, ...args], { timeout: timeoutMs }, (err, stdout) => done({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: String(stdout) }))
  })
}

interface Dig {
  status: string
  flags: string[]
  answer: string[][]
  authority: string[][]
}

async function dig(...args: string[]): Promise<Dig> {
  const { out } = await inPod('dig', ['+tries=1', '+timeout=8', '+nocookie', ...args])
  const status = /status: (\w+)/.exec(out)?.[1] ?? `no answer: ${out}`
  const flags = /;; flags: ([a-z ]+);/.exec(out)?.[1].trim().split(/\s+/) ?? []
  const section = (name: string) => {
    const m = new RegExp(`;; ${name} SECTION:\\n([\\s\\S]*?)(?:\\n\\n|$)`).exec(out)
    return m ? m[1].split('\n').filter(Boolean).map((l) => l.split(/\s+/)) : []
  }
  return { status, flags, answer: section('ANSWER'), authority: section('AUTHORITY') }
}

const data = (d: Dig, type: string) => d.answer.filter((r) => r[3] === type).map((r) => r.slice(4).join(' '))

await until('the cluster DNS answers through kube-dns', async () => (await dig('web.default.svc.cluster.local')).status === 'NOERROR', 60_000)

t.test('the pod resolv.conf points at kube-dns', async (t) => {
  const { out } = await inPod('cat', ['/etc/resolv.conf'])
  t.match(out, /nameserver 10\.96\.0\.10/)
  t.match(out, /search default\.svc\.cluster\.local svc\.cluster\.local cluster\.local corp\.test/)
})

t.test('a ClusterIP Service: A, authoritative, over UDP and TCP; AAAA is NODATA with the SOA', async (t) => {
  for (const transport of ['+notcp', '+tcp']) {
    const a = await dig(transport, 'WEB.Default.svc.cluster.local')
    t.equal(a.status, 'NOERROR')
    t.ok(a.flags.includes('aa'), 'authoritative')
    t.same(data(a, 'A'), [web.spec.clusterIP], transport)
    t.equal(a.answer[0][1], '5', 'TTL 5')
  }
  const aaaa = await dig('AAAA', 'web.default.svc.cluster.local')
  t.equal(aaaa.status, 'NOERROR')
  t.same(aaaa.answer, [])
  t.equal(aaaa.authority[0]?.[3], 'SOA')
})

t.test('SRV for a named port and PTR for the ClusterIP', async (t) => {
  const srv = await dig('SRV', '_http._tcp.web.default.svc.cluster.local')
  t.same(data(srv, 'SRV'), ['0 100 80 web.default.svc.cluster.local.'])
  const ptr = await dig('-x', web.spec.clusterIP)
  t.same(data(ptr, 'PTR'), ['web.default.svc.cluster.local.'])
})

t.test('a headless Service: every ready endpoint, hostnames, SRV per endpoint; NXDOMAIN with none ready', async (t) => {
  const a = await dig('hl.default.svc.cluster.local')
  t.same(data(a, 'A').sort(), [webPod1.status.podIP, named.status.podIP].sort())
  const host = await dig('h1.hl.default.svc.cluster.local')
  t.same(data(host, 'A'), [named.status.podIP])
  const srv = await dig('SRV', '_http._tcp.hl.default.svc.cluster.local')
  t.equal(data(srv, 'SRV').length, 2)
  t.ok(data(srv, 'SRV').some((s) => s.endsWith(' 8080 h1.hl.default.svc.cluster.local.')), `the named pod by its hostname, at the endpoint's port: ${data(srv, 'SRV').join(', ')}`)
  const ptr = await dig('-x', named.status.podIP)
  t.same(data(ptr, 'PTR'), ['h1.hl.default.svc.cluster.local.'])
  const empty = await dig('empty-hl.default.svc.cluster.local')
  t.equal(empty.status, 'NXDOMAIN')
  t.equal(empty.authority[0]?.[3], 'SOA')
})

t.test('ExternalName, dns-version and pod records', async (t) => {
  const ext = await dig('ext.default.svc.cluster.local')
  t.same(data(ext, 'CNAME'), ['www.example.test.'])
  t.same(data(ext, 'A'), ['192.0.2.10'], 'the CNAME target is followed upstream')
  t.match((await inPod('getent', ['hosts', 'ext'])).out, /^192\.0\.2\.10\s/)
  const version = await dig('TXT', 'dns-version.cluster.local')
  t.same(data(version, 'TXT'), ['"1.1.0"'])
  const dashed = clientPod.status.podIP.replaceAll('.', '-')
  t.same(data(await dig(`${dashed}.default.pod.cluster.local`), 'A'), [clientPod.status.podIP], 'verified: an existing pod')
  t.equal((await dig('10-99-99-99.default.pod.cluster.local')).status, 'NXDOMAIN', 'verified: no such pod')
})

t.test('NXDOMAIN inside the zone carries the SOA', async (t) => {
  const nx = await dig('nope.default.svc.cluster.local')
  t.equal(nx.status, 'NXDOMAIN')
  t.same(nx.authority[0]?.slice(3, 5), ['SOA', 'ns.dns.cluster.local.'])
})

t.test('getent resolves through the search path', async (t) => {
  const { out, code } = await inPod('getent', ['hosts', 'web'])
  t.equal(code, 0)
  t.match(out, new RegExp(`^${web.spec.clusterIP.replaceAll('.', '\\.')}\\s+web\\.default\\.svc\\.cluster\\.local`))
  const other = await inPod('getent', ['hosts', 'web.default'])
  t.match(other.out, web.spec.clusterIP)
})

t.test('autopath: an outside name is found with one query, behind a CNAME', async (t) => {
  upstreamQueries.length = 0
  const d = await dig('+search', 'host1.example.test')
  t.equal(d.status, 'NOERROR')
  t.same(data(d, 'CNAME'), ['host1.example.test.'], 'the first search-path name points at the hit')
  t.same(data(d, 'A'), ['192.0.2.10'])
  t.equal(d.answer[0][0], 'host1.example.test.default.svc.cluster.local.')
  t.ok(upstreamQueries.includes('host1.example.test.corp.test 1') && upstreamQueries.includes('host1.example.test 1'), `the server walked the host search domains itself: ${upstreamQueries.join(', ')}`)
  const { out } = await inPod('getent', ['hosts', 'host2.example.test'])
  t.match(out, /^192\.0\.2\.10\s/)
})

t.test('forwarding: answers, NXDOMAIN cached no longer than the denial cap, SERVFAIL for a silent upstream', async (t) => {
  t.same(data(await dig('www.example.test'), 'A'), ['192.0.2.10'])
  upstreamQueries.length = 0
  const first = await dig('gone.test')
  t.equal(first.status, 'NXDOMAIN')
  const second = await dig('gone.test')
  t.equal(second.status, 'NXDOMAIN')
  t.ok(Number(second.authority[0]?.[1]) <= 30, `the cached SOA TTL ${second.authority[0]?.[1]} is within the 30 s denial cap, not the upstream's 3600`)
  t.equal(upstreamQueries.filter((q) => q === 'gone.test 1').length, 1, 'the second answer came from the cache')
  const started = Date.now()
  const silent = await dig('a.silent.test')
  t.equal(silent.status, 'SERVFAIL', JSON.stringify(silent))
  t.ok(Date.now() - started < 8000, 'answered before dig gave up')
})

t.test('a new Service resolves within 1 s of its creation, even right after an NXDOMAIN', async (t) => {
  t.equal((await dig('fresh.default.svc.cluster.local')).status, 'NXDOMAIN')
  const fresh = await createService('fresh', { selector: { app: 'web' }, ports: [{ port: 81, targetPort: 8080 }] })
  await new Promise((r) => setTimeout(r, 1000))
  t.same(data(await dig('fresh.default.svc.cluster.local'), 'A'), [fresh.spec.clusterIP])
})

t.test('a StatefulSet\'s pods have stable names: <pod>.<service>.<namespace>.svc', async (t) => {
  await createService('db', { clusterIP: 'None', selector: { app: 'db' }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] })
  await client.create(resources.find((r) => r.kind === 'StatefulSet')!, {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name: 'db', namespace: 'default' },
    spec: {
      serviceName: 'db',
      replicas: 2,
      selector: { matchLabels: { app: 'db' } },
      template: {
        metadata: { labels: { app: 'db' } },
        spec: { terminationGracePeriodSeconds: 1, containers: [{ name: 'c', image: 'weft/echo', ports: [{ containerPort: 8080 }], readinessProbe: { httpGet: { path: '/healthz', port: 8080 }, periodSeconds: 1 } }] },
      },
    },
  } as never)
  const db0 = await readyPod('db-0')
  const db1 = await readyPod('db-1')
  t.equal(db0.spec.hostname, 'db-0')
  t.equal(db0.spec.subdomain, 'db')
  await until('db-1 answers by name', async () => data(await dig('db-1.db.default.svc.cluster.local'), 'A')[0] === db1.status.podIP, 20_000)
  t.same(data(await dig('db-0.db.default.svc.cluster.local'), 'A'), [db0.status.podIP])
  t.same(data(await dig('db.default.svc.cluster.local'), 'A').sort(), [db0.status.podIP, db1.status.podIP].sort())
  const ptr = await dig('-x', db0.status.podIP)
  t.same(data(ptr, 'PTR'), ['db-0.db.default.svc.cluster.local.'])
})
