// The IPAM lock between processes: taken whole, released by its owner only, and broken only
// when its owner is verifiably gone (pid + start time), never because it is old.
import t from 'tap'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { allocate } from '../../cni/ipam/allocator.ts'
import { parseIpamConfig, type IpamConfig } from '../../cni/ipam/config.ts'
import { CniError } from '../../cni/ipam/errors.ts'
import { ReservationStore } from '../../cni/ipam/store.ts'
import { processStartTime } from '../../src/util/proc.ts'

async function tempDir(test: { teardown: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'weft-ipam-lock-'))
  test.teardown(() => rm(dir, { recursive: true, force: true }))
  return dir
}

const conf = (dataDir: string): IpamConfig => parseIpamConfig({ cniVersion: '1.1.0', name: 'locknet', type: 'bridge', ipam: { dataDir, subnet: '10.0.0.0/24' } })

function sleeper(t: { teardown: (fn: () => void) => void }): ChildProcess {
  const child = spawn('sleep', ['60'], { stdio: 'ignore' })
  t.teardown(() => child.kill('SIGKILL'))
  return child
}

const anHourAgo = () => new Date(Date.now() - 3600_000)

t.test('a lock whose owner is alive is never taken, however old it is', async (t) => {
  const dir = await tempDir(t)
  const owner = sleeper(t)
  await new Promise((r) => setTimeout(r, 50))
  const lock = join(dir, 'locknet.weft-lock')
  await writeFile(lock, `${owner.pid} ${processStartTime(owner.pid!)} 0123456789abcdef\n`)
  await utimes(lock, anHourAgo(), anHourAgo())
  const started = Date.now()
  const err = await allocate({ config: conf(dir), containerID: 'c1', ifname: 'eth0', lock: { timeoutMs: 1500, staleMs: 100 } }).then(
    () => undefined,
    (e: unknown) => e,
  )
  t.ok(err instanceof CniError, 'the allocation gave up')
  t.equal((err as CniError).code, 11, 'try again later')
  t.match((err as CniError).message, `held by pid ${owner.pid}`, 'the error names the holder')
  t.ok(Date.now() - started >= 1400, 'after waiting for the lock')
  t.equal(await readFile(lock, 'utf8'), `${owner.pid} ${processStartTime(owner.pid!)} 0123456789abcdef\n`, 'the lock is untouched')
  t.notOk((await readdir(dir)).includes('locknet') && (await readdir(join(dir, 'locknet'))).some((n) => n.startsWith('10.')), 'nothing was reserved')
})

t.test('a lock whose pid now belongs to another process is broken', async (t) => {
  const dir = await tempDir(t)
  const other = sleeper(t)
  await new Promise((r) => setTimeout(r, 50))
  const lock = join(dir, 'locknet.weft-lock')
  // Same pid, another start time: the owner is gone and the pid was handed out again.
  await writeFile(lock, `${other.pid} ${processStartTime(other.pid!)! - 1} 0123456789abcdef\n`)
  const r = await allocate({ config: conf(dir), containerID: 'c1', ifname: 'eth0', lock: { timeoutMs: 3000 } })
  t.same(r.ips.map((i) => i.address), ['10.0.0.2/24'])
  t.notOk((await readdir(dir)).some((n) => n.includes('weft-lock')), 'the stale lock and the break lock are gone')
})

t.test('a lock of a process that exited is broken; so is one in the old "pid" format', async (t) => {
  const dir = await tempDir(t)
  const gone = spawn('true', { stdio: 'ignore' })
  await new Promise((r) => gone.once('exit', r))
  const lock = join(dir, 'locknet.weft-lock')
  await writeFile(lock, `${gone.pid} 12345 0123456789abcdef\n`)
  t.same((await allocate({ config: conf(dir), containerID: 'c1', ifname: 'eth0', lock: { timeoutMs: 3000 } })).ips.map((i) => i.address), ['10.0.0.2/24'])
  await writeFile(lock, `${gone.pid}\n`)
  t.same((await allocate({ config: conf(dir), containerID: 'c2', ifname: 'eth0', lock: { timeoutMs: 3000 } })).ips.map((i) => i.address), ['10.0.0.3/24'])
})

t.test('an old-format lock of a live pid is kept (its owner cannot be told apart)', async (t) => {
  const dir = await tempDir(t)
  const owner = sleeper(t)
  const lock = join(dir, 'locknet.weft-lock')
  await writeFile(lock, `${owner.pid}\n`)
  await utimes(lock, anHourAgo(), anHourAgo())
  await t.rejects(allocate({ config: conf(dir), containerID: 'c1', ifname: 'eth0', lock: { timeoutMs: 800, staleMs: 100 } }), { code: 11 })
  t.ok((await stat(lock)).isFile())
})

t.test('an empty or unreadable lock is broken once it is older than staleMs', async (t) => {
  const dir = await tempDir(t)
  const lock = join(dir, 'locknet.weft-lock')
  await writeFile(lock, '')
  await utimes(lock, anHourAgo(), anHourAgo())
  t.same((await allocate({ config: conf(dir), containerID: 'c1', ifname: 'eth0', lock: { timeoutMs: 3000, staleMs: 1000 } })).ips.map((i) => i.address), ['10.0.0.2/24'])
  await writeFile(lock, 'garbage')
  await t.rejects(allocate({ config: conf(dir), containerID: 'c2', ifname: 'eth0', lock: { timeoutMs: 500, staleMs: 60_000 } }), { code: 11 }, 'a fresh one is waited for')
})

t.test('the held lock names its owner: pid, start time and a nonce, mode 0600', async (t) => {
  const dir = await tempDir(t)
  const store = new ReservationStore(dir, 'locknet')
  const seen = await store.withLock(async () => ({ text: await readFile(store.lockPath, 'utf8'), mode: (await stat(store.lockPath)).mode & 0o777 }))
  t.match(seen.text, new RegExp(`^${process.pid} ${processStartTime(process.pid)} [0-9a-f]{16}\n$`))
  t.equal(seen.mode, 0o600)
  t.notOk((await readdir(dir)).some((n) => n.includes('weft-lock')), 'released')
  // Two holds in a row carry different nonces: a release never removes a later lock.
  const again = await store.withLock(async () => readFile(store.lockPath, 'utf8'))
  t.not(again, seen.text)
})

t.test('a release does not remove a lock it no longer owns', async (t) => {
  const dir = await tempDir(t)
  const store = new ReservationStore(dir, 'locknet')
  const other = sleeper(t)
  await new Promise((r) => setTimeout(r, 50))
  const foreign = `${other.pid} ${processStartTime(other.pid!)} fedcba9876543210\n`
  await store.withLock(async () => {
    // Something replaced our lock behind our back (an operator, say): leave theirs alone.
    await writeFile(store.lockPath, foreign)
  })
  t.equal(await readFile(store.lockPath, 'utf8'), foreign)
})

t.test('processes racing to break one stale lock still exclude each other', async (t) => {
  const dir = await tempDir(t)
  const gone = spawn('true', { stdio: 'ignore' })
  await new Promise((r) => gone.once('exit', r))
  await writeFile(join(dir, 'locknet.weft-lock'), `${gone.pid} 1 0123456789abcdef\n`)
  const script = join(dir, 'alloc.ts')
  const url = (p: string) => JSON.stringify(new URL(p, import.meta.url).href)
  await writeFile(script, [
    `import { allocate } from ${url('../../cni/ipam/allocator.ts')}`,
    `import { parseIpamConfig } from ${url('../../cni/ipam/config.ts')}`,
    'const config = parseIpamConfig(process.argv[2])',
    'const rs = await Promise.all(Array.from({ length: 8 }, (_, j) => allocate({ config, containerID: `${process.argv[3]}-${j}`, ifname: "eth0", lock: { timeoutMs: 30000 } })))',
    'process.stdout.write(rs.map((r) => r.ips[0].address).join(","))',
  ].join('\n'))
  const run = (i: number) => new Promise<string>((resolve, reject) => {
    const child = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', script, JSON.stringify({ name: 'locknet', ipam: { dataDir: dir, subnet: '10.0.0.0/24' } }), `p${i}`], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_OPTIONS: '' } })
    t.teardown(() => child.kill('SIGKILL'))
    let out = ''
    let errText = ''
    child.stdout.on('data', (d: Buffer) => (out += d))
    child.stderr.on('data', (d: Buffer) => (errText += d))
    child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`child ${i} exited ${code}: ${errText}`))))
  })
  const ips = (await Promise.all([0, 1, 2, 3].map(run))).flatMap((o) => o.split(','))
  t.equal(ips.length, 32)
  t.equal(new Set(ips).size, 32, 'all distinct')
  t.same((await readdir(dir)).filter((n) => n.includes('weft-lock')), [], 'no lock, break lock or temporary file is left')
})
