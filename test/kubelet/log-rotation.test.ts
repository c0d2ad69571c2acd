// Log rotation with the real writers: a container logs for a few seconds while its log is
// rotated with a small size limit; nothing is lost or doubled, a follower sees every line,
// and the files are private.
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import t from 'tap'
import { createSandbox, followLog, readLog, removeSandbox, startContainer, stopContainer, watchExit } from '../../src/kubelet/runtime/index.ts'
import { rotatedLogs, rotateLog } from '../../src/kubelet/runtime/log-rotation.ts'

const dataDir = mkdtempSync(join(tmpdir(), 'weft-logrot-'))
t.teardown(() => rmSync(dataDir, { recursive: true, force: true }))

t.test('a log rotated while the container writes loses and repeats nothing', async (t) => {
  // hostNetwork: no namespaces to make; the container only writes.
  const sb = await createSandbox({ dataDir, uid: `uid-${process.pid}`, namespace: 'default', name: 'chatty', hostname: 'chatty' })
  t.teardown(() => removeSandbox(sb))
  const n = 3000
  const script = `i=0; while [ $i -lt ${n} ]; do echo "out $i ${'o'.repeat(60)}"; echo "err $i" >&2; i=$((i+1)); [ $((i % 150)) = 0 ] && sleep 0.2; done; true`
  const proc = await startContainer(sb, { name: 'c', argv: ['sh', '-c', script], env: [], restartCount: 0 })
  t.teardown(() => stopContainer(proc, 0))
  t.equal(proc.logReopens, true)
  const followed: Promise<string> = (async () => {
    let text = ''
    for await (const chunk of followLog(proc.logPath, { pollMs: 50, until: watchExit(proc) })) text += chunk.toString()
    return text
  })()
  let rotations = 0
  const exited = watchExit(proc)
  let running = true
  void exited.then(() => (running = false))
  while (running) {
    if (await rotateLog(proc.logPath, { maxSize: 16 * 1024, maxFiles: 1000 })) rotations++
    await new Promise((r) => setTimeout(r, 100))
  }
  t.equal((await exited).exitCode, 0)
  t.ok(rotations >= 2, `rotated ${rotations} times`)
  const expect = (text: string, stream: 'out' | 'err') => {
    const got = text.split('\n').filter((l) => l.startsWith(`${stream} `)).map((l) => Number(l.split(' ')[1]))
    if (process.env.DEBUG_LOGROT) console.error(stream, got.length, got.filter((v, i) => v !== i).slice(0, 5), got.findIndex((v, i) => v !== i))
    t.same(got, Array.from({ length: n }, (_, i) => i), `every ${stream} line once, in order`)
  }
  const all = await readLog(proc.logPath)
  expect(all, 'out')
  expect(all, 'err')
  const followedText = await followed
  expect(followedText, 'out')
  expect(followedText, 'err')
  t.equal((await readLog(proc.logPath, { tailLines: 2 })).split('\n').length, 3, 'tail across the files')

  const files = [...rotatedLogs(proc.logPath), proc.logPath]
  t.ok(files.length >= 3)
  for (const f of files.filter((f) => existsSync(f))) t.equal(statSync(f).mode & 0o777, 0o600, `${f} is 0600`)
  t.equal(statSync(dirname(proc.logPath)).mode & 0o777, 0o700, 'the log directory is 0700')
})
