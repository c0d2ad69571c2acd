// The runtime driving the reference plugins (/usr/lib/cni) against the real kernel. The
// plugins run inside a test "host" namespace; pods are namespaces of their own.
import t from 'tap'
import { existsSync } from 'node:fs'
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CniRuntime, type CniAttachment } from '../../src/kubelet/cni/index.ts'
import { inNetns, ip, listAddrs, run } from '../../src/netlink/index.ts'
import { testNetns } from '../helpers/netns.ts'

const REF = '/usr/lib/cni'
const skip = existsSync(join(REF, 'bridge')) ? false : `reference CNI plugins not installed in ${REF}`

interface Teardown {
  teardown(fn: () => unknown): void
}

async function tempDir(t: Teardown, tag: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `weft-cniref-${tag}-`))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  return dir
}

async function inHost(host: string, file: string, args: string[]): Promise<string> {
  const [f, a] = inNetns(host, file, args)
  return run(f, a)
}

/** What portmap left in the namespace, whichever backend it used. */
async function hostRules(host: string): Promise<string> {
  const nft = await inHost(host, 'nft', ['list', 'ruleset'])
  const ipt = await inHost(host, 'iptables-save', []).catch(() => '')
  return `${nft}\n${ipt}`
}

async function podAddrs(pod: string, dev: string): Promise<string[]> {
  const links = await listAddrs(dev, pod)
  return links.flatMap((l) => l.addr_info.filter((a) => a.family === 'inet').map((a) => `${a.local}/${a.prefixlen}`))
}

async function rig(t: Teardown, plugins: Record<string, unknown>[], cniVersion = '1.0.0') {
  const host = await testNetns(t, 'cnih')
  const confDir = await tempDir(t, 'conf')
  const cacheDir = await tempDir(t, 'cache')
  const ipamDir = await tempDir(t, 'ipam')
  const withIpam = plugins.map((p) => (p.type === 'bridge' ? { ...p, ipam: { ...(p.ipam as object), dataDir: ipamDir } } : p))
  await writeFile(join(confDir, '10-ref.conflist'), JSON.stringify({ cniVersion, name: 'refnet', plugins: withIpam }))
  const runtime = new CniRuntime({ binDirs: [REF], confDir, cacheDir, hostNetns: host })
  return { host, runtime, ipamDir, cacheDir }
}

const bridgePlugin = {
  type: 'bridge',
  bridge: 'cni0',
  isGateway: true,
  ipMasq: true,
  hairpinMode: true,
  ipam: { type: 'host-local', ranges: [[{ subnet: '10.88.7.0/24' }]], routes: [{ dst: '0.0.0.0/0' }] },
}

function attachment(containerID: string, pod: string, extra: Partial<CniAttachment> = {}): CniAttachment {
  return {
    containerID,
    netns: `/run/netns/${pod}`,
    ifName: 'eth0',
    args: { K8S_POD_NAMESPACE: 'default', K8S_POD_NAME: containerID, K8S_POD_INFRA_CONTAINER_ID: containerID, K8S_POD_UID: `uid-${containerID}` },
    ...extra,
  }
}

t.test('VERSION and version negotiation', { skip }, async (t) => {
  const runtime = new CniRuntime({ binDirs: [REF], confDir: '/nonexistent', cacheDir: '/nonexistent' })
  const info = await runtime.pluginVersionInfo('portmap')
  t.ok(info.supportedVersions.includes('1.0.0'))
  // The installed reference plugins stop at 1.0.0, so a chain with them cannot be 1.1.0.
  t.equal(await runtime.negotiateVersion(['bridge', 'host-local', 'portmap', 'bandwidth']), info.supportedVersions.includes('1.1.0') ? '1.1.0' : '1.0.0')
  await t.rejects(runtime.negotiateVersion(['bridge', 'missing-plugin']), { code: 50 })
})

t.test('bridge + host-local: ADD, CHECK, DEL twice', { skip }, async (t) => {
  const { host, runtime, ipamDir } = await rig(t, [bridgePlugin])
  const pod = await testNetns(t, 'cnip')
  const a = attachment('ref-pod-1', pod)
  const result = await runtime.addNetwork(a)
  t.equal(result.cniVersion, '1.0.0')
  const podIp = result.ips?.[0]?.address
  t.match(podIp, /^10\.88\.7\.\d+\/24$/)
  t.equal(result.ips?.[0]?.gateway, '10.88.7.1')
  t.same(await podAddrs(pod, 'eth0'), [podIp], 'the pod namespace has the address')
  t.ok((await ip(['link', 'show', 'cni0'], host)).includes('cni0'), 'the bridge is in the host namespace')
  t.same(await readdir(join(ipamDir, 'refnet')).then((f) => f.includes(podIp!.split('/')[0])), true, 'host-local reserved it')

  await runtime.checkNetwork(a)
  await ip(['addr', 'flush', 'dev', 'eth0'], pod)
  await t.rejects(runtime.checkNetwork(a), { message: /plugin bridge failed \(check\)/ }, 'CHECK notices the missing address')

  await runtime.delNetwork(a)
  t.notOk(await ip(['link', 'show', 'eth0'], pod).then(() => true, () => false), 'eth0 is gone from the pod')
  t.notOk((await readdir(join(ipamDir, 'refnet'))).includes(podIp!.split('/')[0]), 'reservation released')
  await runtime.delNetwork(a)
  t.pass('a second DEL succeeds')
  await t.rejects(runtime.checkNetwork(a), /no cached result/)
})

t.test('bridge → portmap → bandwidth with runtimeConfig', { skip }, async (t) => {
  const { host, runtime } = await rig(t, [
    bridgePlugin,
    { type: 'portmap', capabilities: { portMappings: true }, snat: true },
    { type: 'bandwidth', capabilities: { bandwidth: true } },
  ])
  const pod = await testNetns(t, 'cnip')
  const a = attachment('ref-pod-2', pod, {
    capabilityArgs: {
      portMappings: [{ hostPort: 18080, containerPort: 80, protocol: 'tcp' }],
      bandwidth: { ingressRate: 1_000_000, ingressBurst: 200_000 },
    },
  })
  const result = await runtime.addNetwork(a)
  const podIp = result.ips?.[0]?.address?.split('/')[0]
  t.ok(podIp)
  const hostVeth = result.interfaces?.find((i) => i.sandbox === undefined && i.name !== 'cni0')?.name
  t.ok(hostVeth, 'the result names the host veth')

  const rules = await hostRules(host)
  t.match(rules, /18080/, 'portmap programmed the host port')
  t.match(rules, new RegExp(`${podIp!.replace(/\./g, '\\.')}:80`), 'DNAT to the pod')
  const qdisc = await inHost(host, 'tc', ['-j', 'qdisc', 'show', 'dev', hostVeth!]).then((s) => JSON.parse(s) as { kind: string }[])
  t.ok(qdisc.some((q) => q.kind === 'tbf'), 'bandwidth put a tbf qdisc on the host veth')

  // No CHECK here: the installed portmap fails CHECK for IPv4-only pods by looking for
  // ip6tables chains it never made (containernetworking/plugins#819).

  // DEL without capability args: the cached ones tell portmap what to remove.
  await runtime.delNetwork({ containerID: a.containerID, netns: a.netns, ifName: a.ifName })
  const after = await hostRules(host)
  t.notMatch(after, /18080/, 'portmap rules are gone')
  t.notOk(await ip(['link', 'show', hostVeth!], host).then(() => true, () => false), 'host veth is gone')
  await runtime.delNetwork(a)
  t.pass('a second DEL succeeds')
})

t.test('GC releases the reservation of an attachment not in the valid list', { skip }, async (t) => {
  const { runtime, ipamDir, cacheDir } = await rig(t, [bridgePlugin])
  const podA = await testNetns(t, 'cnip')
  const podB = await testNetns(t, 'cnip')
  const ra = await runtime.addNetwork(attachment('keep-me', podA))
  const rb = await runtime.addNetwork(attachment('stale-one', podB))
  const ipA = ra.ips![0].address.split('/')[0]
  const ipB = rb.ips![0].address.split('/')[0]
  t.not(ipA, ipB)
  let reserved = await readdir(join(ipamDir, 'refnet'))
  t.ok(reserved.includes(ipA) && reserved.includes(ipB))

  await runtime.gcNetwork([{ containerID: 'keep-me', ifname: 'eth0' }])
  reserved = await readdir(join(ipamDir, 'refnet'))
  t.ok(reserved.includes(ipA), 'the valid attachment keeps its address')
  t.notOk(reserved.includes(ipB), 'the stale attachment lost its address')
  t.same(await podAddrs(podB, 'eth0').catch(() => []), [], 'and its interface')
  t.same(await readdir(join(cacheDir, 'results')), ['refnet-keep-me-eth0'])
  t.same(await podAddrs(podA, 'eth0'), [ra.ips![0].address])
})
