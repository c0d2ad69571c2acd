// A real lab without agents: weft up (2 nodes: control plane and namespaces), weft lab
// exec into nodes and into a pod sandbox made by hand, weft down; and up's own cleanup.
import { execFileSync, spawn } from 'node:child_process'
import { readFileSync, statSync } from 'node:fs'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import type { V1EndpointSlice, V1Pod } from '@kubernetes/client-node'
import { findByKind } from '../../src/api/registry.ts'
import { RestClient } from '../../src/client/index.ts'
import { loadKubeconfig } from '../../src/client/kubeconfig.ts'
import { labClient } from '../../src/lab/client.ts'
import { listMountsUnder } from '../../src/netlink/mounts.ts'
import { isAlive, procStarttime } from '../../src/lab/processes.ts'
import type { LabState } from '../../src/lab/state.ts'
import { labId } from '../../src/lab/topology.ts'
import { weft } from './cli.ts'
import { assertGone, labDir, labNamespaces } from './lab-helpers.ts'

if (process.getuid?.() !== 0) t.plan(0, 'the lab needs root')

t.test('up --no-agents, exec, down', async (t) => {
  const dir = await labDir(t)
  const id = labId(dir)
  const up = await weft(['up', '--nodes', '2', '--data-dir', dir, '--no-agents'])
  t.equal(up.code, 0, up.stderr)
  t.match(up.stdout, `export KUBECONFIG=${dir}/kubeconfig`)
  t.match(up.stdout, `weft down --data-dir ${dir}`)
  const state = JSON.parse(readFileSync(join(dir, 'lab.json'), 'utf8')) as LabState
  t.equal(state.id, id)
  t.same(labNamespaces(dir).sort(), [`wl-${id}`, `wl-${id}-1`, `wl-${id}-2`])
  t.same(state.nodes.map((n) => [n.name, n.ip]), [['node-1', '172.31.0.2'], ['node-2', '172.31.0.3']])
  t.same(state.processes.map((p) => p.role), ['server', 'relay'])
  t.ok(state.processes.every((p) => isAlive(p.pid, p.starttime)), 'the API server runs')
  for (const d of [dir, join(dir, 'server'), join(dir, 'logs')]) t.equal(statSync(d).mode & 0o777, 0o700, `${d} is private`)
  for (const f of [join(dir, 'server', 'weft.db'), join(dir, 'server', 'kubeconfig'), join(dir, 'kubeconfig'), join(dir, 'logs', 'server.log')]) t.equal(statSync(f).mode & 0o777, 0o600, `${f} is 0600`)

  // The API answers HTTPS on the socket (mode 0600) and on loopback, to the admin kubeconfig.
  t.equal(statSync(join(dir, 'apiserver.sock')).mode & 0o777, 0o600, 'only root opens the socket')
  const client = labClient(join(dir, 'apiserver.sock'), join(dir, 'kubeconfig'))
  t.teardown(() => client.destroy())
  t.equal(await client.request('GET', '/readyz'), 'ok')
  t.match(state.url, /^https:\/\/127\.0\.0\.1:\d+$/)
  t.match(readFileSync(join(dir, 'kubeconfig'), 'utf8'), `server: ${state.url}`)
  const overTcp = new RestClient({ server: state.url!, credentials: loadKubeconfig(join(dir, 'kubeconfig')).credentials })
  t.teardown(() => overTcp.destroy())
  t.equal(await overTcp.request('GET', '/readyz'), 'ok')
  t.equal((await overTcp.request<{ kind: string }>('GET', '/api')).kind, 'APIVersions')
  // Pods reach the API through the kubernetes Service: its endpoint is the relay on the lab's gateway.
  const slice = await client.get<V1EndpointSlice>(findByKind('discovery.k8s.io/v1', 'EndpointSlice')!, 'kubernetes', 'default')
  t.same([slice.endpoints[0]!.addresses[0], slice.ports![0]!.port], ['172.31.0.1', 6443])
  const viaRelay = await weft(['lab', 'exec', '--data-dir', dir, 'node-1', '--', 'curl', '-s', '--cacert', join(dir, 'server', 'pki', 'ca.crt'), 'https://172.31.0.1:6443/version'])
  t.match(viaRelay.stdout, /"gitVersion"/, 'a node reaches the API server through the relay, and its certificate names that address')

  // node-1 reaches node-2 over the underlay; nothing of it is in the root namespace.
  const ping = await weft(['lab', 'exec', '--data-dir', dir, 'node-1', '--', 'ping', '-c', '1', '-W', '5', '172.31.0.3'])
  t.equal(ping.code, 0, ping.stderr)
  const fwd = await weft(['lab', 'exec', '--data-dir', dir, 'node-2', '--', 'cat', '/proc/sys/net/ipv4/ip_forward'])
  t.equal(fwd.stdout.trim(), '1', 'nodes forward')
  const exit = await weft(['lab', 'exec', '--data-dir', dir, 'node-2', '--', 'sh', '-c', 'exit 7'])
  t.equal(exit.code, 7, 'the exit code comes through')
  const unknown = await weft(['lab', 'exec', '--data-dir', dir, 'node-9', '--', 'true'])
  t.equal(unknown.code, 1)
  t.match(unknown.stderr, 'no node of this lab')

  const again = await weft(['up', '--data-dir', dir, '--no-agents'])
  t.not(again.code, 0, 'a second up on the same dir fails')
  t.match(again.stderr, 'already running')

  // What an agent makes for a pod: a sandbox namespace with a process in it, and the pod's
  // UTS namespace bind-mounted under its data dir.
  const pod = await client.create<V1Pod>(findByKind('v1', 'Pod')!, {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'fake-pod', namespace: 'default' },
    spec: { nodeName: 'node-1', containers: [{ name: 'c', image: 'weft/echo' }] },
  })
  const uid = pod.metadata!.uid!
  const podNetns = `${state.nodes[0]!.podNetnsPrefix}-${uid}`
  const notYet = await weft(['lab', 'exec', '--data-dir', dir, 'fake-pod', '--', 'true'])
  t.match(notYet.stderr, 'no sandbox on node-1 yet')
  execFileSync('ip', ['netns', 'add', podNetns])
  const uts = join(state.nodes[0]!.dataDir, 'pods', uid, 'uts')
  await mkdir(join(uts, '..'), { recursive: true })
  await writeFile(uts, '')
  execFileSync('unshare', [`--uts=${uts}`, 'hostname', 'fake-pod'])
  t.same(listMountsUnder(dir), [uts])
  const podProcess = spawn('ip', ['netns', 'exec', podNetns, 'sleep', '600'], { stdio: 'ignore', detached: true })
  t.teardown(() => podProcess.kill('SIGKILL'))
  await sleep(300)
  const pods = [{ pid: podProcess.pid!, starttime: procStarttime(podProcess.pid!)! }]
  const hostname = await weft(['lab', 'exec', '--data-dir', dir, 'default/fake-pod', '--', 'hostname'])
  t.equal(hostname.stdout.trim(), 'fake-pod', "exec into a pod takes the pod's UTS namespace")
  const links = await weft(['lab', 'exec', '--data-dir', dir, 'fake-pod', '--', 'ip', '-o', 'link'])
  t.match(links.stdout, /^1: lo:/, "and its network namespace")
  t.notMatch(links.stdout, 'eth0')

  const down = await weft(['down', '--data-dir', dir])
  t.equal(down.code, 0, down.stderr)
  t.match(down.stdout, 'Lab removed')
  await assertGone(t, dir, [...state.processes, ...pods])
  const twice = await weft(['down', '--data-dir', dir])
  t.equal(twice.code, 0, 'down is idempotent')
  t.match(twice.stdout, 'nothing to remove')
})

t.test('a failing up removes what it made', async (t) => {
  const dir = await labDir(t)
  const up = await weft(['up', '--nodes', '2', '--data-dir', dir, '--no-agents', '--timeout', '0.001'])
  t.equal(up.code, 1)
  t.match(up.stderr, 'timed out')
  await assertGone(t, dir, [])
})

t.test('Ctrl-C during up removes what it made', async (t) => {
  const dir = await labDir(t)
  let upPid = 0
  const running = weft(['up', '--nodes', '1', '--data-dir', dir, '--no-agents'], { onSpawn: (pid) => (upPid = pid) })
  // Interrupt once the API server has started.
  let server: { pid: number; starttime: string } | undefined
  for (let i = 0; i < 600 && !server; i++) {
    await sleep(50)
    try {
      server = (JSON.parse(readFileSync(join(dir, 'lab.json'), 'utf8')) as LabState).processes[0]
    } catch {}
  }
  t.ok(server, 'the API server started')
  process.kill(upPid, 'SIGINT')
  const up = await running
  t.equal(up.code, 130, up.stderr)
  t.match(up.stderr, 'the lab was removed')
  await assertGone(t, dir, server ? [server] : [])
})
