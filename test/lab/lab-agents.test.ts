// A real lab with agents and the demo (runs once the agent and the weft-cni plugin exist).
import { execFile } from 'node:child_process'
import { existsSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import type { LabState } from '../../src/lab/state.ts'
import { weft } from './cli.ts'
import { assertGone, labDir } from './lab-helpers.ts'
import { labCgroupRoot } from '../../src/lab/topology.ts'
import { hostCgroupLayout } from '../helpers/cgroups.ts'

const root = new URL('../../', import.meta.url).pathname
const missing = ['src/kubelet/agent.ts', 'bin/weft-cni'].filter((f) => !existsSync(join(root, f)))

if (process.getuid?.() !== 0) t.plan(0, 'the lab needs root')

function run(cmd: string, args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((done) => execFile(cmd, args, { timeout: 20_000 }, (err, stdout, stderr) => done({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: `${stdout}${err ? stderr : ''}` })))
}

// Two up's worth of process starts and pods on a slow machine.
t.setTimeout(300_000)
const skip = missing.length > 0 ? `${missing.join(' and ')} do(es) not exist yet` : false

t.test('up with agents and the demo', { skip, timeout: 300_000 }, async (t) => {
  const dir = await labDir(t)
  const up = await weft(['up', '--nodes', '2', '--data-dir', dir, '--timeout', '90'])
  t.equal(up.code, 0, up.stderr)
  const state = JSON.parse(readFileSync(join(dir, 'lab.json'), 'utf8')) as LabState
  t.same(state.processes.map((p) => p.role), ['server', 'relay', 'agent', 'agent', 'publisher'])
  // The nodes joined as real hosts do: bootstrap token, CSR approved and issued, key kept private.
  const csrs = await run('kubectl', ['--kubeconfig', join(dir, 'kubeconfig'), 'get', 'csr', '-o', 'jsonpath={range .items[*]}{.spec.signerName} {.spec.username} {.status.conditions[0].type} {.status.certificate}{"\\n"}{end}'])
  const lines = csrs.out.trim().split('\n').filter(Boolean)
  const clients = lines.filter((l) => l.startsWith('kubernetes.io/kube-apiserver-client-kubelet '))
  const serving = lines.filter((l) => l.startsWith('kubernetes.io/kubelet-serving '))
  t.equal(clients.length, 2, `one client CSR per node: ${csrs.out.slice(0, 300)}`)
  for (const line of clients) t.match(line, /^\S+ system:bootstrap:[a-z0-9]{6} Approved \S+$/, 'requested with the bootstrap token, approved and issued')
  t.same(serving.map((l) => l.split(' ')[1]).sort(), ['system:node:node-1', 'system:node:node-2'], 'each node asked for its own serving certificate')
  for (const line of serving) t.match(line, / Approved \S+$/, 'approved (its own names and addresses) and issued')
  for (const node of state.nodes) t.equal(statSync(join(node.dataDir, 'pki', 'kubelet-client.key')).mode & 0o777, 0o600, `${node.name}'s key is private`)
  const nodes = await run('kubectl', ['--kubeconfig', join(dir, 'kubeconfig'), 'get', 'leases', '-n', 'kube-node-lease', '-o', 'jsonpath={.items[*].spec.holderIdentity}'])
  t.equal(nodes.out.trim().split(' ').sort().join(' '), 'node-1 node-2', 'each node renews its own Lease with its own identity')
  const curl = /weft lab exec --data-dir \S+ node-1 -- curl -s (\S+)/.exec(up.stdout)
  t.ok(curl, 'up prints a pod to curl')
  if (curl) {
    const res = await weft(['lab', 'exec', '--data-dir', dir, 'node-2', '--', 'curl', '-s', '--max-time', '5', curl[1]!])
    t.equal(res.code, 0, `node-2 reaches the pod: ${res.stderr}`)
  }
  const pod = /weft lab exec --data-dir \S+ (echo-\S+) -- hostname/.exec(up.stdout)?.[1]
  if (pod) {
    const hostname = await weft(['lab', 'exec', '--data-dir', dir, pod, '--', 'hostname'])
    t.equal(hostname.stdout.trim(), pod, 'exec into a pod uses its hostname')
    const byName = await weft(['lab', 'exec', '--data-dir', dir, pod, '--', 'curl', '-s', '--max-time', '5', 'http://echo/'])
    t.equal(byName.code, 0, `a pod reaches the echo Service by name, through the cluster DNS: ${byName.stderr}`)
    t.match(byName.stdout, /"pod"/)
  }
  const dig = /weft lab exec --data-dir \S+ (node-1 -- dig @\S+ echo\.default\.svc\.cluster\.local)/.exec(up.stdout)?.[1]
  t.ok(dig, 'up prints how to ask the cluster DNS')
  if (dig) {
    const res = await weft(['lab', 'exec', '--data-dir', dir, ...dig.split(' '), '+short'])
    t.match(res.stdout, /^\d+\.\d+\.\d+\.\d+$/m, `kube-dns answers the echo Service: ${res.stdout} ${res.stderr}`)
  }
  const viaIngress = /^ {2}(curl -k --resolve \S+ https:\/\/echo\.weft\.test:\d+\/)/m.exec(up.stdout)?.[1]
  t.ok(viaIngress, 'up prints how to reach the echo app through the Ingress from the host')
  if (viaIngress) {
    const res = await run('curl', ['-s', '--max-time', '5', ...viaIngress.split(' ').slice(1)])
    t.equal(res.code, 0, `the host reaches the Ingress through the port publisher: ${res.out}`)
    const reply = JSON.parse(res.out || '{}')
    t.match(reply.pod, /^echo-/)
    t.equal(reply.headers?.['x-forwarded-proto'], 'https', 'the Ingress terminated TLS and forwarded the request')
  }
  const nodeIPs = state.nodes.map((n) => n.ip).sort().join(' ')
  let address = ''
  for (let i = 0; i < 60 && address !== nodeIPs; i++) {
    const got = await run('kubectl', ['--kubeconfig', join(dir, 'kubeconfig'), 'get', 'ingress', 'echo', '-o', 'jsonpath={.status.loadBalancer.ingress[*].ip}'])
    address = got.out.trim().split(/\s+/).sort().join(' ')
    if (address !== nodeIPs) await new Promise((r) => setTimeout(r, 500))
  }
  t.equal(address, nodeIPs, 'the Ingress status names both nodes (the host-network controller runs on each)')
  // Each node's pods run in a cgroup tree of its own, which weft down removes.
  const memory = hostCgroupLayout()?.mounts.memory
  const trees = memory ? state.nodes.map((n) => join(memory, labCgroupRoot(n.netns))) : []
  t.ok(trees.every((d) => existsSync(d)), 'the nodes\' cgroup trees exist while the lab runs')
  const down = await weft(['down', '--data-dir', dir])
  t.equal(down.code, 0, down.stderr)
  await assertGone(t, dir, state.processes)
  t.same(trees.filter((d) => existsSync(d)), [], 'no cgroup tree of the lab is left')
})
