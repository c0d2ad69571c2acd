import t from 'tap'
import { execCommand, parseTarget } from '../../src/lab/exec.ts'
import { isAlive, procStarttime } from '../../src/lab/processes.ts'
import {
  isLabNetns,
  labId,
  labNetnsCommands,
  labNetnsName,
  nodeNetnsCommands,
  nodeNetnsName,
  planLab,
  podNetnsPrefix,
  socketPaths,
  underlayAddress,
} from '../../src/lab/topology.ts'

t.test('the lab id is a short hash of the data dir', async (t) => {
  t.match(labId('/srv/lab'), /^[0-9a-f]{8}$/)
  t.equal(labId('/srv/lab'), labId('/srv/lab'), 'stable')
  t.not(labId('/srv/lab'), labId('/srv/lab2'))
})

t.test('names and addresses', async (t) => {
  t.equal(labNetnsName('0123abcd'), 'wl-0123abcd')
  t.equal(nodeNetnsName('0123abcd', 3), 'wl-0123abcd-3')
  t.equal(podNetnsPrefix('0123abcd', 3), 'wl-0123abcd-3-pod')
  t.equal(underlayAddress(1), '172.31.0.2')
  t.equal(underlayAddress(100), '172.31.0.101')
  t.throws(() => underlayAddress(0), RangeError)
  t.throws(() => underlayAddress(101), RangeError)
  t.ok(isLabNetns('0123abcd', 'wl-0123abcd'))
  t.ok(isLabNetns('0123abcd', 'wl-0123abcd-2'))
  t.ok(isLabNetns('0123abcd', 'wl-0123abcd-2-pod-6f1c0c1e-7f6b-4a55-a3a2-1d8a6a1b2c3d'))
  t.notOk(isLabNetns('0123abcd', 'wl-0123abcde'), 'another id sharing a prefix')
  t.notOk(isLabNetns('0123abcd', 'wl-0123abc'))
  t.notOk(isLabNetns('0123abcd', 'cni-0123abcd'))
})

t.test('planLab', async (t) => {
  const plan = planLab('/srv/lab', 2)
  const id = labId('/srv/lab')
  t.equal(plan.id, id)
  t.equal(plan.socket, '/srv/lab/apiserver.sock')
  t.equal(plan.kubeconfig, '/srv/lab/kubeconfig')
  t.equal(plan.statePath, '/srv/lab/lab.json')
  t.same(
    plan.nodes.map((n) => [n.name, n.netns, n.ip, n.podNetnsPrefix, n.labLink, n.dataDir, n.log]),
    [
      ['node-1', `wl-${id}-1`, '172.31.0.2', `wl-${id}-1-pod`, 'n1', '/srv/lab/nodes/node-1', '/srv/lab/logs/node-1.log'],
      ['node-2', `wl-${id}-2`, '172.31.0.3', `wl-${id}-2-pod`, 'n2', '/srv/lab/nodes/node-2', '/srv/lab/logs/node-2.log'],
    ],
  )
  t.same(socketPaths(plan), ['/srv/lab/apiserver.sock', '/srv/lab/nodes/node-1/kubelet.sock', '/srv/lab/nodes/node-2/kubelet.sock'])
  t.throws(() => planLab('/srv/lab', 0), RangeError)
  t.throws(() => planLab('/srv/lab', 1.5), RangeError)
})

t.test('namespace commands', async (t) => {
  const plan = planLab('/srv/lab', 2)
  t.same(labNetnsCommands(plan), [
    'link add underlay type bridge',
    'addr add 172.31.0.1/24 dev underlay',
    'link set underlay up',
    `link add n1 type veth peer name eth0 netns ${plan.nodes[0]!.netns}`,
    'link set n1 master underlay',
    'link set n1 up',
    `link add n2 type veth peer name eth0 netns ${plan.nodes[1]!.netns}`,
    'link set n2 master underlay',
    'link set n2 up',
  ])
  t.same(nodeNetnsCommands(plan.nodes[1]!), ['addr add 172.31.0.3/24 dev eth0', 'link set eth0 up', 'link set lo up', 'route add default via 172.31.0.1'])
})

t.test('exec targets', async (t) => {
  t.same(parseTarget('node-1'), { name: 'node-1' })
  t.same(parseTarget('kube-system/dns-0'), { namespace: 'kube-system', name: 'dns-0' })
  t.throws(() => parseTarget('a/b/c'))
  t.throws(() => parseTarget('/b'))
  t.same(execCommand({ netns: 'wl-x-1', description: '' }, ['curl', '-s', 'http://10.0.0.1/']), ['ip', ['netns', 'exec', 'wl-x-1', 'curl', '-s', 'http://10.0.0.1/']])
  t.same(execCommand({ netns: 'wl-x-1-pod-u', uts: '/d/uts', description: '' }, ['hostname']), ['nsenter', ['--uts=/d/uts', '--', 'ip', 'netns', 'exec', 'wl-x-1-pod-u', 'hostname']])
  t.same(execCommand({ netns: 'wl-x-1-pod-u', etc: { resolvConf: '/d/resolv.conf', hosts: '/d/hosts' }, description: '' }, ['getent', 'hosts', 'echo']), [
    'ip',
    ['netns', 'exec', 'wl-x-1-pod-u', 'sh', '-c', 'mount --bind "$1" /etc/resolv.conf && mount --bind "$2" /etc/hosts && shift 2 && exec "$@"', 'sh', '/d/resolv.conf', '/d/hosts', 'getent', 'hosts', 'echo'],
  ])
})

t.test('processes are known by pid and start time', async (t) => {
  const mine = procStarttime(process.pid)
  t.match(mine, /^\d+$/)
  t.ok(isAlive(process.pid, mine!))
  t.notOk(isAlive(process.pid, `${mine}1`), 'a recycled pid has another start time')
  t.equal(procStarttime(2 ** 22 + 1), undefined)
})
