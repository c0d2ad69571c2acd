import { appendFileSync, existsSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import t from 'tap'
import { followLog, parseLogLine, readLog } from '../../src/kubelet/runtime/index.ts'
import { rotatedLogs, rotateLog } from '../../src/kubelet/runtime/log-rotation.ts'
import { timeNanos } from '../../src/kubelet/runtime/logs.ts'

function logFile(t: { teardown(fn: () => unknown): void }, text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'weft-log-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const path = join(dir, '0.log')
  writeFileSync(path, text)
  return path
}

const LOG = [
  '2016-10-06T00:17:09.669794202Z stdout F first',
  '2016-10-06T00:17:10Z stderr F second has  two spaces',
  '2016-10-06T00:17:11.5Z stdout P part one, ',
  '2016-10-06T00:17:11.6Z stdout F part two',
  '2016-10-06T00:17:12Z stdout F ',
  '2016-10-06T00:17:13Z stdout F last',
  '',
].join('\n')

t.test('parsing CRI log lines', async (t) => {
  t.same(parseLogLine('2016-10-06T00:17:09.669794202Z stdout F hello world'), { time: '2016-10-06T00:17:09.669794202Z', stream: 'stdout', partial: false, message: 'hello world' })
  t.same(parseLogLine('2016-10-06T00:17:09Z stderr P x'), { time: '2016-10-06T00:17:09Z', stream: 'stderr', partial: true, message: 'x' })
  t.equal(parseLogLine('garbage'), undefined)
  t.equal(parseLogLine('2016-10-06T00:17:09Z stdin F x'), undefined)
  t.equal(timeNanos('2016-10-06T00:17:09.669794202Z'), 1475713029669794202n)
  t.equal(timeNanos('2016-10-06T02:17:09+02:00'), 1475713029000000000n)
  t.equal(timeNanos('yesterday'), undefined)
})

t.test('readLog: plain, timestamps, tail, since, limit', async (t) => {
  const path = logFile(t, LOG)
  t.equal(await readLog(path), 'first\nsecond has  two spaces\npart one, part two\n\nlast\n')
  t.equal(await readLog(path, { tailLines: 2 }), '\nlast\n')
  t.equal(await readLog(path, { tailLines: 3 }), 'part one, part two\n\nlast\n', 'a partial record belongs to its line')
  t.equal(await readLog(path, { tailLines: 0 }), '')
  t.equal(await readLog(path, { sinceTime: '2016-10-06T00:17:11.55Z' }), 'part two\n\nlast\n')
  t.equal(await readLog(path, { sinceTime: '2016-10-06T00:17:12Z', timestamps: true }), '2016-10-06T00:17:12Z \n2016-10-06T00:17:13Z last\n')
  t.equal(await readLog(path, { limitBytes: 8 }), 'first\nse')
  t.equal(await readLog(join(path, '..', 'missing.log')), '')
  await t.rejects(readLog(path, { sinceTime: 'soon' }), /not an RFC3339 time/)
})

t.test('followLog: existing lines, appended lines, ends when the container exits', async (t) => {
  const path = logFile(t, '2016-10-06T00:17:09Z stdout F one\n2016-10-06T00:17:10Z stdout F two\n')
  let exited!: () => void
  const until = new Promise<void>((resolve) => (exited = resolve))
  const got: string[] = []
  const reader = (async () => {
    for await (const chunk of followLog(path, { tailLines: 1, until, pollMs: 10 })) {
      got.push(chunk.toString())
      if (got.length === 1) {
        appendFileSync(path, '2016-10-06T00:17:11Z stdout F thr')
        appendFileSync(path, 'ee\n2016-10-06T00:17:12Z stderr F four\n')
      }
      if (got.join('').endsWith('four\n')) {
        appendFileSync(path, '2016-10-06T00:17:13Z stdout F five\n')
        exited()
      }
    }
  })()
  await reader
  t.equal(got.join(''), 'two\nthree\nfour\nfive\n')

  const controller = new AbortController()
  const chunks: string[] = []
  for await (const chunk of followLog(path, { signal: controller.signal, pollMs: 10, limitBytes: 100 })) {
    chunks.push(chunk.toString())
    controller.abort()
  }
  t.equal(chunks.join(''), 'one\ntwo\nthree\nfour\nfive\n', 'abort ends it')
  const limited: string[] = []
  for await (const chunk of followLog(path, { pollMs: 10, limitBytes: 6 })) limited.push(chunk.toString())
  t.equal(limited.join(''), 'one\ntw', 'limitBytes ends it')
})

const rec = (i: number, stream = 'stdout', tag = 'F') => `2024-05-01T10:${String(Math.floor(i / 60) % 60).padStart(2, '0')}:${String(i % 60).padStart(2, '0')}Z ${stream} ${tag} line ${i}\n`
const recs = (from: number, to: number) => Array.from({ length: to - from }, (_, k) => rec(from + k)).join('')
const plain = (from: number, to: number) => Array.from({ length: to - from }, (_, k) => `line ${from + k}\n`).join('')

t.test('readLog: --tail reads from the end, never the whole file (a 3 GiB sparse log)', async (t) => {
  const path = logFile(t, '')
  truncateSync(path, 3 * 1024 ** 3)
  appendFileSync(path, `\n${recs(0, 5)}`)
  const rss = process.memoryUsage().rss
  t.equal(await readLog(path, { tailLines: 2 }), 'line 3\nline 4\n')
  t.equal(await readLog(path, { tailLines: 1, timestamps: true }), '2024-05-01T10:00:04Z line 4\n')
  t.ok(process.memoryUsage().rss - rss < 256 * 1024 * 1024, 'memory stays small')
})

t.test('readLog: tail, since and limit across rotated files', async (t) => {
  const path = logFile(t, recs(20, 30))
  writeFileSync(`${path}.20240501-100000`, recs(0, 10))
  writeFileSync(`${path}.20240501-100010`, recs(10, 20))
  writeFileSync(`${path}.not-a-rotation`, recs(90, 99))
  t.equal(await readLog(path), plain(0, 30), 'oldest rotated file first, the live one last')
  t.equal(await readLog(path, { tailLines: 3 }), plain(27, 30))
  t.equal(await readLog(path, { tailLines: 12 }), plain(18, 30), 'into the previous file when the live one has too few')
  t.equal(await readLog(path, { tailLines: 25 }), plain(5, 30))
  t.equal(await readLog(path, { tailLines: 1000 }), plain(0, 30))
  t.equal(await readLog(path, { sinceTime: '2024-05-01T10:00:25Z' }), plain(25, 30))
  t.equal(await readLog(path, { tailLines: 10, sinceTime: '2024-05-01T10:00:25Z' }), plain(25, 30), 'tail, then since (as the kubelet)')
  t.equal(await readLog(path, { limitBytes: 20 }), plain(0, 3).slice(0, 20))
  t.equal(await readLog(path, { tailLines: 12, limitBytes: 15 }), plain(18, 20).slice(0, 15))
  // A line split in partial records across a rotation still counts as one line.
  writeFileSync(`${path}.20240501-100010`, recs(10, 19) + rec(19, 'stdout', 'P'))
  writeFileSync(path, rec(20, 'stdout', 'P') + recs(21, 30))
  t.equal(await readLog(path, { tailLines: 9 }), 'line 19line 20line 21\n' + plain(22, 30))
  t.equal(await readLog(path, { tailLines: 10 }), 'line 18\nline 19line 20line 21\n' + plain(22, 30))
})

t.test('readLog: an unfinished last record and over-long records are left out', async (t) => {
  const path = logFile(t, recs(0, 3) + `2024-05-01T10:00:03Z stdout F ${'x'.repeat(2 * 1024 * 1024)}\n` + recs(4, 6) + '2024-05-01T10:00:06Z stdout F unfini')
  t.equal(await readLog(path), 'line 0\nline 1\nline 2\nline 4\nline 5\n')
  t.equal(await readLog(path, { tailLines: 2 }), 'line 4\nline 5\n')
})

t.test('followLog: survives a rotation, draining the renamed file first', async (t) => {
  const path = logFile(t, recs(0, 3))
  let exited!: () => void
  const until = new Promise<void>((resolve) => (exited = resolve))
  let got = ''
  for await (const chunk of followLog(path, { tailLines: 2, until, pollMs: 10 })) {
    got += chunk.toString()
    if (got === plain(1, 3)) {
      appendFileSync(path, recs(3, 5))
    } else if (got === plain(1, 5)) {
      // Rotation: the file is renamed, the writers start a new one, and one of them still
      // finishes its second in the renamed file.
      const rotated = (await rotateLog(path, { maxSize: 0, maxFiles: 5 }))!
      writeFileSync(path, recs(6, 8))
      setTimeout(() => appendFileSync(rotated, rec(5)), 300)
    } else if (got === plain(1, 8)) {
      appendFileSync(path, recs(8, 10))
    } else if (got === plain(1, 10)) {
      exited()
    }
  }
  t.equal(got, plain(1, 10))
})

t.test('rotateLog: renames a full log and keeps maxFiles files', async (t) => {
  const path = logFile(t, 'x'.repeat(100))
  const at = (s: number) => new Date(Date.UTC(2024, 4, 1, 10, 0, s))
  t.equal(await rotateLog(path, { maxSize: 101, maxFiles: 3 }, at(0)), undefined, 'below the limit')
  t.equal(await rotateLog(path, { maxSize: 100, maxFiles: 3 }, at(0)), `${path}.20240501-100000`)
  t.notOk(existsSync(path))
  t.equal(await rotateLog(path, { maxSize: 100, maxFiles: 3 }, at(1)), undefined, 'no live file')
  for (let s = 1; s <= 4; s++) {
    writeFileSync(path, 'y'.repeat(200))
    t.ok(await rotateLog(path, { maxSize: 100, maxFiles: 3 }, at(s)))
  }
  t.same(rotatedLogs(path).map((p) => basename(p)), ['0.log.20240501-100003', '0.log.20240501-100004'], 'the live file plus two rotated ones at most')
  writeFileSync(path, 'z'.repeat(200))
  t.equal(await rotateLog(path, { maxSize: 100, maxFiles: 3 }, at(4)), undefined, 'once a second at most')
  await t.rejects(rotateLog(path, { maxSize: 100, maxFiles: 1 }), /at least 2/)
})
