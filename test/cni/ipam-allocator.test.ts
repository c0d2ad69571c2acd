import t from 'tap'
import { spawn } from 'node:child_process'
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { allocate, check, gc, release } from '../../cni/ipam/allocator.ts'
import { parseIpamConfig } from '../../cni/ipam/config.ts'
import type { IpamConfig } from '../../cni/ipam/config.ts'
import { CniError } from '../../cni/ipam/errors.ts'

async function tempDir(test: { teardown: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'weft-ipam-'))
  test.teardown(() => rm(dir, { recursive: true, force: true }))
  return dir
}

const conf = (dataDir: string, ipam: Record<string, unknown>): IpamConfig =>
  parseIpamConfig({ cniVersion: '1.0.0', name: 'testnet', type: 'bridge', ipam: { dataDir, ...ipam } })

const addr = async (config: IpamConfig, containerID: string, ifname = 'eth0'): Promise<string[]> =>
  (await allocate({ config, containerID, ifname })).ips.map((i) => i.address)

async function rejectsWith(p: Promise<unknown>, pred: (e: CniError) => boolean): Promise<string | undefined> {
  try {
    await p
  } catch (err) {
    return err instanceof CniError && pred(err) ? String(err) : undefined
  }
  return undefined
}

const reservedFiles = async (dir: string): Promise<string[]> =>
  (await readdir(join(dir, 'testnet'))).filter((n) => !n.startsWith('last_reserved_ip')).sort()

t.test('host-local on-disk format, order, gateway skipped', async (t) => {
  const dir = await tempDir(t)
  const config = conf(dir, { subnet: '10.0.0.0/29', routes: [{ dst: '0.0.0.0/0' }] })
  const r = await allocate({ config, containerID: 'c1', ifname: 'eth0' })
  t.same(r, { ips: [{ address: '10.0.0.2/29', gateway: '10.0.0.1' }], routes: [{ dst: '0.0.0.0/0' }] })
  t.equal(await readFile(join(dir, 'testnet', '10.0.0.2'), 'utf8'), 'c1\r\neth0')
  t.equal(await readFile(join(dir, 'testnet', 'last_reserved_ip.0'), 'utf8'), '10.0.0.2')
  t.same(await addr(config, 'c2'), ['10.0.0.3/29'])
  t.same(await addr(config, 'c3'), ['10.0.0.4/29'])
  t.notOk((await readdir(dir)).some((n) => n.endsWith('.weft-lock')), 'lock released')
})

t.test('round-robin across releases, wrap-around, idempotent ADD, release by container', async (t) => {
  const dir = await tempDir(t)
  const config = conf(dir, { ranges: [[{ subnet: '10.0.0.0/29' }]] }) // usable .2-.6, .1 is the gateway
  t.same(await addr(config, 'a'), ['10.0.0.2/29'])
  t.same(await addr(config, 'b'), ['10.0.0.3/29'])
  t.same(await addr(config, 'a'), ['10.0.0.2/29'], 'same container+ifname gets its address back')
  t.same(await addr(config, 'a', 'net1'), ['10.0.0.4/29'], 'another interface of the same container is separate')
  t.same(await release({ config, containerID: 'a', ifname: 'eth0' }), ['10.0.0.2'])
  t.same(await release({ config, containerID: 'a', ifname: 'eth0' }), [], 'release again is a no-op')
  t.same(await addr(config, 'c'), ['10.0.0.5/29'], 'continues after the last reserved, not at the freed .2')
  t.same(await addr(config, 'd'), ['10.0.0.6/29'])
  t.same(await addr(config, 'e'), ['10.0.0.2/29'], 'wraps to range start, skipping the gateway')
  t.same(await reservedFiles(dir), ['10.0.0.2', '10.0.0.3', '10.0.0.4', '10.0.0.5', '10.0.0.6'])
})

t.test('old host-local files (ID only) are released by ID', async (t) => {
  const dir = await tempDir(t)
  const config = conf(dir, { subnet: '10.0.0.0/29' })
  await addr(config, 'x')
  await writeFile(join(dir, 'testnet', '10.0.0.5'), 'legacy\n')
  t.same(await release({ config, containerID: 'legacy', ifname: 'eth0' }), ['10.0.0.5'])
  t.same(await reservedFiles(dir), ['10.0.0.2'])
})

t.test('exhaustion: host-local message, libcni internal code; nothing left behind', async (t) => {
  const dir = await tempDir(t)
  const config = conf(dir, { ranges: [[{ subnet: '10.0.0.0/24', rangeStart: '10.0.0.1', rangeEnd: '10.0.0.3' }], [{ subnet: '10.1.0.0/24', rangeStart: '10.1.0.5', rangeEnd: '10.1.0.5' }]] })
  t.same(await addr(config, 'a'), ['10.0.0.2/24', '10.1.0.5/24'])
  t.ok(await rejectsWith(allocate({ config, containerID: 'b', ifname: 'eth0' }), (err) =>
    err.code === 999 && err.msg === 'failed to allocate for range 1: no IP addresses available in range set: 10.1.0.5-10.1.0.5'), 'exhaustion error')
  t.same(await reservedFiles(dir), ['10.0.0.2', '10.1.0.5'], 'the range-0 address taken for b was rolled back')
})

t.test('dual stack: one IPv4 and one IPv6 range set', async (t) => {
  const dir = await tempDir(t)
  const config = conf(dir, { ranges: [[{ subnet: '10.244.0.0/24' }], [{ subnet: 'fd00:10::/120', rangeStart: 'fd00:10::10' }]], routes: [{ dst: '0.0.0.0/0' }, { dst: '::/0' }] })
  const r = await allocate({ config, containerID: 'p', ifname: 'eth0' })
  t.same(r.ips, [{ address: '10.244.0.2/24', gateway: '10.244.0.1' }, { address: 'fd00:10::10/120', gateway: 'fd00:10::1' }])
  t.same(await addr(config, 'q'), ['10.244.0.3/24', 'fd00:10::11/120'])
  t.equal(await readFile(join(dir, 'testnet', 'last_reserved_ip.1'), 'utf8'), 'fd00:10::11')
  t.equal(await readFile(join(dir, 'testnet', 'fd00:10::10'), 'utf8'), 'p\r\neth0')
  t.same((await check({ config, containerID: 'p', ifname: 'eth0' })).ips, r.ips)
})

t.test('gateway inside a custom range is never handed out', async (t) => {
  const dir = await tempDir(t)
  const config = conf(dir, { subnet: '10.0.0.0/24', rangeStart: '10.0.0.10', rangeEnd: '10.0.0.12', gateway: '10.0.0.11' })
  t.same(await addr(config, 'a'), ['10.0.0.10/24'])
  t.same(await addr(config, 'b'), ['10.0.0.12/24'])
  await t.rejects(allocate({ config, containerID: 'c', ifname: 'eth0' }), { code: 999 })
})

t.test('check and gc', async (t) => {
  const dir = await tempDir(t)
  const config = conf(dir, { subnet: '10.0.0.0/24' })
  await addr(config, 'a')
  await addr(config, 'b')
  await addr(config, 'b', 'net1')
  await addr(config, 'c')
  t.ok(await rejectsWith(check({ config, containerID: 'zz', ifname: 'eth0' }), (err) => /failed to find address/.test(err.msg)), 'check fails without a reservation')
  t.same((await check({ config, containerID: 'b', ifname: 'net1' })).ips, [{ address: '10.0.0.4/24', gateway: '10.0.0.1' }])
  const freed = await gc({ config, keep: [{ containerID: 'a', ifname: 'eth0' }, { containerID: 'b', ifname: 'net1' }] })
  t.same(freed.sort(), ['10.0.0.3', '10.0.0.5'])
  t.same(await reservedFiles(dir), ['10.0.0.2', '10.0.0.4'])
  t.same(await gc({ config, keep: [] }), ['10.0.0.2', '10.0.0.4'])
  t.same(await reservedFiles(dir), [])
})

t.test('100 concurrent allocations from 4 processes are all distinct', async (t) => {
  const dir = await tempDir(t)
  const config = { name: 'testnet', type: 'bridge', ipam: { dataDir: dir, subnet: '10.50.0.0/24' } }
  const script = join(dir, 'alloc.ts')
  await writeFile(script, [
    `import { allocate } from ${JSON.stringify(pathToFileURL(join(import.meta.dirname, '../../cni/ipam/allocator.ts')).href)}`,
    `import { parseIpamConfig } from ${JSON.stringify(pathToFileURL(join(import.meta.dirname, '../../cni/ipam/config.ts')).href)}`,
    'const config = parseIpamConfig(process.argv[2])',
    '// 25 ADDs at once in each process: the lock must hold within a process and across them.',
    'const rs = await Promise.all(Array.from({ length: 25 }, (_, j) => allocate({ config, containerID: `${process.argv[3]}-${j}`, ifname: "eth0", lock: { timeoutMs: 60000 } })))',
    'process.stdout.write(rs.map((r) => r.ips[0].address).join(","))',
  ].join('\n'))
  const children = new Set<number>()
  t.teardown(() => { for (const pid of children) try { process.kill(pid) } catch {} })
  const run = (i: number) => new Promise<string>((resolve, reject) => {
    const child = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', script, JSON.stringify(config), `ctr-${i}`], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_OPTIONS: '' } })
    if (child.pid) children.add(child.pid)
    let out = ''
    let errText = ''
    child.stdout.on('data', (d: Buffer) => { out += d })
    child.stderr.on('data', (d: Buffer) => { errText += d })
    child.on('error', reject)
    child.on('exit', (code) => {
      if (child.pid) children.delete(child.pid)
      code === 0 ? resolve(out) : reject(new Error(`child ${i} exited ${code}: ${errText}`))
    })
  })
  const results = (await Promise.all(Array.from({ length: 4 }, (_, i) => run(i)))).flatMap((out) => out.split(','))
  t.equal(results.length, 100)
  t.equal(new Set(results).size, 100, 'all distinct')
  t.notOk(results.includes('10.50.0.1/24'), 'gateway not handed out')
  const files = await reservedFiles(dir)
  t.equal(files.length, 100)
  for (const f of files) t.match(await readFile(join(dir, 'testnet', f), 'utf8'), /^ctr-\d+-\d+\r\neth0$/)
})
