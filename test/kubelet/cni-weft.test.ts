// The agent's own conflist (weft-cni with weft-ipam, then the reference portmap and
// bandwidth) driven by the runtime against the real kernel, inside test namespaces.
import t from 'tap'
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { CniRuntime, nodeConflist, writeConflist, type CniAttachment } from '../../src/kubelet/cni/index.ts'
import { inNetns, ip, listAddrs, run } from '../../src/netlink/index.ts'
import { testNetns } from '../helpers/netns.ts'

const BIN = resolve(import.meta.dirname, '../../bin')
const REF = '/usr/lib/cni'
const skip = !existsSync(join(BIN, 'weft-cni')) || !existsSync(join(BIN, 'weft-ipam'))
  ? 'bin/weft-cni or bin/weft-ipam not built yet'
  : !existsSync(join(REF, 'portmap')) ? `reference CNI plugins not installed in ${REF}` : false

// The plugins are node programs: keep the test runner's loader hooks out of them.
delete process.env.NODE_OPTIONS

async function tempDir(t: { teardown(fn: () => unknown): void }, tag: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `weft-cniweft-${tag}-`))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  return dir
}

async function inHost(host: string, file: string, args: string[]): Promise<string> {
  const [f, a] = inNetns(host, file, args)
  return run(f, a)
}

t.test('weft-cni → portmap → bandwidth with weft-ipam', { skip }, async (t) => {
  const host = await testNetns(t, 'cnwh')
  const pod = await testNetns(t, 'cnwp')
  const confDir = await tempDir(t, 'conf')
  const cacheDir = await tempDir(t, 'cache')
  const ipamDir = await tempDir(t, 'ipam')
  const runtime = new CniRuntime({ binDirs: [BIN, REF], confDir, cacheDir, hostNetns: host })
  const cniVersion = await runtime.negotiateVersion(['weft-cni', 'weft-ipam', 'portmap', 'bandwidth'])
  await writeConflist(confDir, nodeConflist({ podCIDRs: ['10.89.3.0/24'], cniVersion, ipamDataDir: ipamDir }))

  const a: CniAttachment = {
    containerID: 'weft-pod-1',
    netns: `/run/netns/${pod}`,
    ifName: 'eth0',
    args: { K8S_POD_NAMESPACE: 'default', K8S_POD_NAME: 'web', K8S_POD_INFRA_CONTAINER_ID: 'weft-pod-1', K8S_POD_UID: 'u1' },
    capabilityArgs: {
      portMappings: [{ hostPort: 18081, containerPort: 8080, protocol: 'tcp' }],
      bandwidth: { ingressRate: 1_000_000, ingressBurst: 200_000 },
    },
  }
  const result = await runtime.addNetwork(a)
  t.equal(result.cniVersion, cniVersion)
  const address = result.ips?.[0]?.address
  t.match(address, /^10\.89\.3\.\d+\/24$/)
  const addrs = (await listAddrs('eth0', pod)).flatMap((l) => l.addr_info.filter((x) => x.family === 'inet').map((x) => `${x.local}/${x.prefixlen}`))
  t.same(addrs, [address], 'the pod has its address')
  const gw = (await listAddrs('cni0', host)).flatMap((l) => l.addr_info.map((x) => x.local))
  t.ok(gw.includes('10.89.3.1'), 'the bridge in the host namespace is the gateway')
  const hostVeth = result.interfaces?.find((i) => i.sandbox === undefined && i.name !== 'cni0')?.name
  t.ok(hostVeth, 'the result names the host veth')

  const rules = `${await inHost(host, 'nft', ['list', 'ruleset'])}\n${await inHost(host, 'iptables-save', []).catch(() => '')}`
  t.match(rules, /18081/, 'portmap programmed the host port')
  const qdisc = JSON.parse(await inHost(host, 'tc', ['-j', 'qdisc', 'show', 'dev', hostVeth!])) as { kind: string }[]
  t.ok(qdisc.some((q) => q.kind === 'tbf'), 'bandwidth shaped the host veth')

  await runtime.delNetwork(a)
  t.notOk(await ip(['link', 'show', 'eth0'], pod).then(() => true, () => false), 'the pod interface is gone')
  const after = `${await inHost(host, 'nft', ['list', 'ruleset'])}\n${await inHost(host, 'iptables-save', []).catch(() => '')}`
  t.notMatch(after, /18081/, 'portmap rules are gone')
  await runtime.delNetwork(a)
  t.pass('a second DEL succeeds')

  // The address is free again: the next pod may get it.
  const again = await runtime.addNetwork({ ...a, containerID: 'weft-pod-2' })
  t.match(again.ips?.[0]?.address, /^10\.89\.3\.\d+\/24$/)
  await runtime.gcNetwork([])
  t.same(await runtime.listAttachments(), [], 'GC removed the unlisted attachment')
  t.notOk(await ip(['link', 'show', 'eth0'], pod).then(() => true, () => false), 'and its interface')
})
