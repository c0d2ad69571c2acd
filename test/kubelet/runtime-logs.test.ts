import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { followLog, parseLogLine, readLog } from '../../src/kubelet/runtime/index.ts'
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
      got.push(chunk)
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
    chunks.push(chunk)
    controller.abort()
  }
  t.equal(chunks.join(''), 'one\ntwo\nthree\nfour\nfive\n', 'abort ends it')
  const limited: string[] = []
  for await (const chunk of followLog(path, { pollMs: 10, limitBytes: 6 })) limited.push(chunk)
  t.equal(limited.join(''), 'one\ntw', 'limitBytes ends it')
})
