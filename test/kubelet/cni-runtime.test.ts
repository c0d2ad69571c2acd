import t from 'tap'
import { mkdtemp, readFile, rm, writeFile, mkdir, access } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CniRuntime, CniPluginError, NoNetworkConfigError, cacheFilePath, type CniAttachment } from '../../src/kubelet/cni/index.ts'
import { CniError } from '../../cni/protocol/errors.ts'
import { fakeBin, type FakeBin } from './cni-fake-plugin.ts'

interface Teardown {
  teardown(fn: () => unknown): void
}

interface Rig {
  bin: FakeBin
  confDir: string
  cacheDir: string
  runtime: CniRuntime
  write(plugins: Record<string, unknown>[], extra?: Record<string, unknown>): Promise<void>
}

async function tempDir(t: Teardown, tag: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `weft-cni-${tag}-`))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  return dir
}

async function rig(t: Teardown, opts: { timeoutMs?: number } = {}): Promise<Rig> {
  const bin = await fakeBin(t, ['fake-a', 'fake-b', 'fake-c'])
  const confDir = await tempDir(t, 'conf')
  const cacheDir = await tempDir(t, 'cache')
  const runtime = new CniRuntime({ binDirs: ['/nonexistent-bin', bin.dir], confDir, cacheDir, timeoutMs: opts.timeoutMs })
  return {
    bin,
    confDir,
    cacheDir,
    runtime,
    async write(plugins, extra = {}) {
      const withLog = plugins.map((p) => ({ log: bin.log, ...p }))
      await writeFile(join(confDir, '10-test.conflist'), JSON.stringify({ cniVersion: '1.1.0', name: 'testnet', plugins: withLog, ...extra }))
    },
  }
}

const chain = [
  { type: 'fake-a', fake: { ip: '10.9.0.5/24' } },
  { type: 'fake-b', capabilities: { portMappings: true } },
  { type: 'fake-c', capabilities: { bandwidth: true } },
]

const pod: CniAttachment = {
  containerID: 'c0ffee',
  netns: '/run/netns/pod-x',
  ifName: 'eth0',
  args: { K8S_POD_NAMESPACE: 'default', K8S_POD_NAME: 'web', K8S_POD_INFRA_CONTAINER_ID: 'c0ffee', K8S_POD_UID: 'u-1' },
  capabilityArgs: {
    portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }],
    bandwidth: { ingressRate: 1000000, ingressBurst: 100000 },
    other: 'ignored',
  },
}

t.test('ADD runs the plugins in order, chaining prevResult and filtering runtimeConfig', async (t) => {
  const r = await rig(t)
  await r.write(chain)
  const result = await r.runtime.addNetwork(pod)
  t.equal(result.cniVersion, '1.1.0')
  t.same(result.interfaces?.map((i) => i.name), ['fake-a', 'fake-b', 'fake-c'])
  t.same(result.ips, [{ address: '10.9.0.5/24', interface: 0 }])

  const calls = await r.bin.calls()
  t.same(calls.map((c) => `${c.command} ${c.type}`), ['ADD fake-a', 'ADD fake-b', 'ADD fake-c'])
  const [a, b, c] = calls
  t.match(a.env, {
    CNI_COMMAND: 'ADD',
    CNI_CONTAINERID: 'c0ffee',
    CNI_NETNS: '/run/netns/pod-x',
    CNI_IFNAME: 'eth0',
    CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web;K8S_POD_INFRA_CONTAINER_ID=c0ffee;K8S_POD_UID=u-1',
    CNI_PATH: `/nonexistent-bin:${r.bin.dir}`,
  })
  t.ok(a.env.PATH, 'PATH is passed on')
  t.equal(a.conf.name, 'testnet')
  t.equal(a.conf.cniVersion, '1.1.0')
  t.equal(a.conf.prevResult, undefined, 'the first plugin has no prevResult')
  t.equal(a.conf.runtimeConfig, undefined, 'a plugin without capabilities gets no runtimeConfig')
  t.same((b.conf.prevResult as { interfaces: { name: string }[] }).interfaces.map((i) => i.name), ['fake-a'])
  t.same(b.conf.runtimeConfig, { portMappings: pod.capabilityArgs?.portMappings })
  t.same((c.conf.prevResult as { interfaces: { name: string }[] }).interfaces.map((i) => i.name), ['fake-a', 'fake-b'])
  t.same(c.conf.runtimeConfig, { bandwidth: pod.capabilityArgs?.bandwidth })

  const file = cacheFilePath(r.cacheDir, 'testnet', 'c0ffee', 'eth0')
  t.equal(file, join(r.cacheDir, 'results', 'testnet-c0ffee-eth0'))
  const cached = JSON.parse(await readFile(file, 'utf8'))
  t.equal(cached.kind, 'cniCacheV1')
  t.equal(cached.containerId, 'c0ffee')
  t.equal(cached.networkName, 'testnet')
  t.equal(cached.netns, '/run/netns/pod-x')
  t.same(cached.result, result)
  t.same(cached.cniArgs[0], ['IgnoreUnknown', '1'])
  t.equal(JSON.parse(Buffer.from(cached.config, 'base64').toString()).name, 'testnet')
  t.same(await r.runtime.getCachedResult('c0ffee', 'eth0'), result)
  t.same((await r.runtime.listAttachments()).map((x) => x.containerID), ['c0ffee'])
})

t.test('DEL runs in reverse with the cached result, drops the cache, and can be repeated', async (t) => {
  const r = await rig(t)
  await r.write(chain)
  const result = await r.runtime.addNetwork(pod)
  await writeFile(r.bin.log, '')
  // The kubelet may not know the capability args any more: the cached ones are used.
  await r.runtime.delNetwork({ containerID: pod.containerID, netns: pod.netns, ifName: 'eth0' })
  let calls = await r.bin.calls()
  t.same(calls.map((c) => `${c.command} ${c.type}`), ['DEL fake-c', 'DEL fake-b', 'DEL fake-a'])
  for (const c of calls) t.same(c.conf.prevResult, result, `${c.type} got the cached result`)
  t.same(calls[1].conf.runtimeConfig, { portMappings: pod.capabilityArgs?.portMappings })
  t.match(calls[0].env.CNI_ARGS, /K8S_POD_NAME=web/)
  await t.rejects(access(cacheFilePath(r.cacheDir, 'testnet', 'c0ffee', 'eth0')), 'cache entry removed')

  await writeFile(r.bin.log, '')
  await r.runtime.delNetwork({ containerID: pod.containerID, netns: '', ifName: 'eth0' })
  calls = await r.bin.calls()
  t.same(calls.map((c) => `${c.command} ${c.type}`), ['DEL fake-c', 'DEL fake-b', 'DEL fake-a'], 'second DEL still calls every plugin')
  for (const c of calls) t.equal(c.conf.prevResult, undefined)
  t.equal(calls[0].env.CNI_NETNS, '')
})

t.test('CHECK passes the cached result in order; needs a prior ADD; honours disableCheck', async (t) => {
  const r = await rig(t)
  await r.write(chain)
  await t.rejects(r.runtime.checkNetwork(pod), /no cached result for c0ffee\/eth0/)
  const result = await r.runtime.addNetwork(pod)
  await writeFile(r.bin.log, '')
  await r.runtime.checkNetwork(pod)
  const calls = await r.bin.calls()
  t.same(calls.map((c) => `${c.command} ${c.type}`), ['CHECK fake-a', 'CHECK fake-b', 'CHECK fake-c'])
  for (const c of calls) t.same(c.conf.prevResult, result)

  await r.write([{ type: 'fake-a', fake: { failOn: 'CHECK' } }], { disableCheck: true })
  await writeFile(r.bin.log, '')
  await r.runtime.checkNetwork(pod)
  t.same(await r.bin.calls(), [], 'disableCheck skips every plugin')

  await r.write([{ type: 'fake-a', fake: { failOn: 'CHECK', code: 11, msg: 'not yet' } }])
  await t.rejects(r.runtime.checkNetwork(pod), { code: 11, msg: 'not yet' })
})

t.test('plugin failures become CniErrors', async (t) => {
  const r = await rig(t)
  await r.write([{ type: 'fake-a' }, { type: 'fake-b', fake: { failOn: 'ADD', code: 7, msg: 'bad config', details: 'no bridge' } }, { type: 'fake-c' }])
  const err = await r.runtime.addNetwork(pod).catch((e: unknown) => e)
  t.ok(err instanceof CniPluginError)
  t.ok(err instanceof CniError)
  const e = err as CniPluginError
  t.equal(e.code, 7)
  t.equal(e.msg, 'bad config')
  t.equal(e.details, 'no bridge')
  t.equal(e.plugin, 'fake-b')
  t.equal(e.command, 'ADD')
  t.equal(e.exitCode, 1)
  t.equal(e.message, 'plugin fake-b failed (add): bad config: no bridge')
  t.same((await r.bin.calls()).map((c) => c.type), ['fake-a', 'fake-b'], 'the chain stops at the failure')
  await t.rejects(access(cacheFilePath(r.cacheDir, 'testnet', 'c0ffee', 'eth0')), 'nothing cached for a failed ADD')

  await r.write([{ type: 'fake-a', fake: { failOn: 'ADD', stdout: 'panic: oops', exitCode: 2 } }])
  await t.rejects(r.runtime.addNetwork(pod), { code: 999, message: /exit code 2\) and its error output is not JSON: "panic: oops"/ })

  await r.write([{ type: 'fake-a', fake: { failOn: 'ADD', stdout: '', stderr: 'segfault here', exitCode: 3 } }])
  await t.rejects(r.runtime.addNetwork(pod), { code: 999, details: 'segfault here', exitCode: 3 })

  await r.write([{ type: 'fake-a', fake: { garbageOn: 'ADD' } }])
  await t.rejects(r.runtime.addNetwork(pod), { code: 6, message: /plugin fake-a failed \(add\): plugin printed output that is not JSON/ })

  await r.write([{ type: 'fake-a', fake: { resultVersion: '0.3.1' } }])
  await t.rejects(r.runtime.addNetwork(pod), { code: 1, message: /unsupported version: 0\.3\.1/ })

  await r.write([{ type: 'fake-a', fake: { garbageOn: 'ADD', stdout: '{"cniVersion":"1.1.0","ips":[{"address":"nope"}]}' } }])
  await t.rejects(r.runtime.addNetwork(pod), { code: 6, message: /invalid result: ips\[0\]\.address/ })

  await r.write([{ type: 'no-such-plugin' }])
  await t.rejects(r.runtime.addNetwork(pod), { code: 50, message: `failed to find plugin "no-such-plugin" in path [/nonexistent-bin ${r.bin.dir}]` })

  await t.rejects(r.runtime.addNetwork({ ...pod, containerID: 'bad id!' }), { code: 4 })
  await t.rejects(r.runtime.addNetwork({ ...pod, ifName: 'x'.repeat(16) }), { code: 4 })
  await t.rejects(r.runtime.addNetwork({ ...pod, args: { A: 'x;y' } }), { code: 4 })
})

/** Alive and not a zombie waiting to be reaped. */
async function running(pid: number): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z'
  } catch {
    return false
  }
}

t.test('a plugin that runs too long is killed', async (t) => {
  const r = await rig(t, { timeoutMs: 1500 })
  const pidFile = join(r.bin.dir, 'sleeper.pid')
  await r.write([{ type: 'fake-a', fake: { sleepOn: 'ADD', pidFile } }])
  await t.rejects(r.runtime.addNetwork(pod), { message: /plugin fake-a failed \(add\): plugin timed out after 1500 ms and was killed/ })
  const [pid, sub] = (await readFile(pidFile, 'utf8')).split(' ').map(Number)
  t.ok(pid > 0 && sub > 0)
  t.notOk(await running(pid), 'the plugin process is gone')
  // SIGKILL to the group is delivered at once, but a grandchild may take a moment to be gone (a busy machine).
  for (let i = 0; i < 100 && (await running(sub)); i++) await new Promise((resolve) => setTimeout(resolve, 20))
  t.notOk(await running(sub), 'and so is what it started (it held stdout open)')
})

t.test('GC deletes unlisted cached attachments, then calls GC with the valid list', async (t) => {
  const r = await rig(t)
  await r.write(chain)
  const other: CniAttachment = { containerID: 'dead01', netns: '/run/netns/pod-y', ifName: 'eth0', args: { K8S_POD_NAME: 'gone' } }
  const result = await r.runtime.addNetwork(pod)
  const otherResult = await r.runtime.addNetwork(other)
  t.not(result, otherResult)
  await writeFile(r.bin.log, '')
  await r.runtime.gcNetwork([{ containerID: 'c0ffee', ifname: 'eth0' }])
  const calls = await r.bin.calls()
  t.same(calls.map((c) => `${c.command} ${c.type} ${c.env.CNI_CONTAINERID}`), [
    'DEL fake-c dead01',
    'DEL fake-b dead01',
    'DEL fake-a dead01',
    'GC fake-a ',
    'GC fake-b ',
    'GC fake-c ',
  ])
  t.equal(calls[0].env.CNI_NETNS, '/run/netns/pod-y', 'the stale DEL uses the cached netns')
  t.match(calls[0].env.CNI_ARGS, /K8S_POD_NAME=gone/)
  for (const c of calls.slice(3)) {
    t.same(c.conf['cni.dev/valid-attachments'], [{ containerID: 'c0ffee', ifname: 'eth0' }])
    t.equal(c.env.CNI_IFNAME, '')
  }
  t.same((await r.runtime.listAttachments()).map((a) => a.containerID), ['c0ffee'])

  await r.write(chain, { cniVersion: '1.0.0' })
  await r.runtime.addNetwork(other)
  await writeFile(r.bin.log, '')
  await r.runtime.gcNetwork([])
  t.same((await r.bin.calls()).map((c) => `${c.command} ${c.env.CNI_CONTAINERID}`), ['DEL c0ffee', 'DEL c0ffee', 'DEL c0ffee', 'DEL dead01', 'DEL dead01', 'DEL dead01'], 'a 1.0.0 list gets no GC command')
  t.same(await r.runtime.listAttachments(), [])
})

t.test('GC collects failures and keeps going', async (t) => {
  const r = await rig(t)
  await r.write([{ type: 'fake-a' }])
  await r.runtime.addNetwork({ ...pod, containerID: 'aaa' })
  await r.runtime.addNetwork({ ...pod, containerID: 'bbb' })
  await r.write([{ type: 'fake-a', fake: { failOn: 'DEL', msg: 'busy' } }])
  await t.rejects(r.runtime.gcNetwork([]), { message: /garbage collection of network testnet failed: .*busy.*busy/ })
  t.equal((await r.bin.calls()).filter((c) => c.command === 'GC').length, 1, 'GC still ran')
})

t.test('STATUS', async (t) => {
  const r = await rig(t)
  await t.rejects(r.runtime.status(), NoNetworkConfigError)
  await r.write(chain)
  await r.runtime.status()
  t.same((await r.bin.calls()).map((c) => `${c.command} ${c.type}`), ['STATUS fake-a', 'STATUS fake-b', 'STATUS fake-c'])
  await r.write([{ type: 'fake-a', fake: { failOn: 'STATUS', code: 50, msg: 'no routes yet' } }])
  await t.rejects(r.runtime.status(), { code: 50, msg: 'no routes yet' })
  await r.write([{ type: 'fake-a', fake: { failOn: 'STATUS' } }], { cniVersion: '1.0.0' })
  await r.runtime.status()
})

t.test('loading the network config', async (t) => {
  const r = await rig(t)
  await t.rejects(r.runtime.loadNetwork(), { name: 'NoNetworkConfigError', code: 50, message: /no valid CNI network config found in .*no \*\.conf, \*\.conflist, \*\.json files/ })
  await t.rejects(new CniRuntime({ binDirs: [], confDir: join(r.confDir, 'missing'), cacheDir: r.cacheDir }).loadNetwork(), NoNetworkConfigError)

  await writeFile(join(r.confDir, '20-single.conf'), JSON.stringify({ cniVersion: '1.0.0', name: 'single', type: 'fake-a', log: r.bin.log }))
  let net = await r.runtime.loadNetwork()
  t.equal(net.list.name, 'single')
  t.equal(net.list.plugins.length, 1)
  t.equal(net.list.plugins[0].type, 'fake-a')
  const res = await r.runtime.addNetwork(pod)
  t.equal(res.cniVersion, '1.0.0')

  await writeFile(join(r.confDir, '10-list.conflist'), JSON.stringify({ cniVersion: '1.1.0', name: 'listed', plugins: [{ type: 'fake-b' }] }))
  await writeFile(join(r.confDir, '05-broken.conflist'), '{"cniVersion": "1.1.0", "name": "x"')
  await writeFile(join(r.confDir, '00-ignored.txt'), 'not a config')
  await mkdir(join(r.confDir, '01-dir.conf'))
  net = await r.runtime.loadNetwork()
  t.equal(net.list.name, 'listed', 'first valid file in lexical order, broken ones skipped')
  t.equal(net.file, join(r.confDir, '10-list.conflist'))

  await writeFile(join(r.confDir, '10-list.conflist'), JSON.stringify({ cniVersion: '0.2.0', name: 'listed', plugins: [{ type: 'fake-b' }] }))
  net = await r.runtime.loadNetwork()
  t.equal(net.list.name, 'single')
  await rm(join(r.confDir, '20-single.conf'))
  await t.rejects(r.runtime.loadNetwork(), { message: /05-broken\.conflist: .*; 10-list\.conflist: incompatible CNI versions/ })
})
