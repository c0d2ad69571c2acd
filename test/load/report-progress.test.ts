import t from 'tap'
import { formatProgress, ProgressPrinter, type ProgressOutput } from '../../load/report/progress.ts'
import type { ActionRecord, Progress } from '../../load/types.ts'
import { hostileText, rolloutActions } from './fixtures/results.ts'

const progress: Progress = { elapsedMs: 23_400, totalMs: 60_000, sent: 11_700, done: 11_690, errors: 3, rate: 499.6, p50: 5.012, p99: 6.2 }
const rolloutRunning: ActionRecord = { ...rolloutActions[0], completedSecond: undefined }
const tty = { tty: true, color: false, columns: 200 }

class Capture implements ProgressOutput {
  text = ''
  isTTY: boolean
  columns: number
  constructor(isTTY: boolean, columns = 120) {
    this.isTTY = isTTY
    this.columns = columns
  }
  write(chunk: string): boolean {
    this.text += chunk
    return true
  }
}

/** What the marks look like at `second` of the rollout fixture's run. */
function marksAt(second: number): ActionRecord[] {
  return rolloutActions
    .filter((action) => action.atSecond <= second)
    .map((action) => (action.completedSecond! <= second ? action : { ...action, completedSecond: undefined }))
}

t.test('plain line: every number spelled out, no bar, no escapes', async (t) => {
  t.equal(
    formatProgress(progress, [rolloutRunning]),
    '23.4 s / 60 s, 36.6 s left (39%), sent 11,700, done 11,690, 500/s, 3 errors, p50 5.01 ms, p99 6.20 ms, ▸ rollout deployment/web (started 20 s)',
  )
  t.equal(formatProgress({ ...progress, totalMs: undefined, errors: 1 }), '23.4 s elapsed, sent 11,700, done 11,690, 500/s, 1 error, p50 5.01 ms, p99 6.20 ms')
  t.equal(formatProgress({ ...progress, rate: 0, done: 0 }), '23.4 s / 60 s, 36.6 s left (39%), sent 11,700, done 0, 0/s, 3 errors, p50 –, p99 –')
})

t.test('terminal line: a bar, and the latest action mark', async (t) => {
  t.equal(
    formatProgress(progress, [rolloutRunning], tty),
    '▕███████▊            ▏  23.4 s / 60 s, 36.6 s left  500/s  3 errors  p50 5.01 ms  p99 6.20 ms  ▸ rollout deployment/web (started 20 s)',
  )
  t.match(formatProgress(progress, rolloutActions.slice(0, 1), tty), /  ✓ rollout deployment\/web \(20 s → 41 s\)$/)
  t.match(formatProgress(progress, [{ ...rolloutActions[0], ok: false }], tty), /  ✗ rollout deployment\/web failed \(20 s → 41 s\)$/)
  t.match(formatProgress(progress, rolloutActions, tty), /✓ delete pod web-7c9f-8x2kq \(50\.2 s → 50\.4 s\)$/, 'the latest event wins')
  t.match(formatProgress({ ...progress, elapsedMs: 60_000 }, [], tty), /^▕████████████████████▏  60 s \/ 60 s, 0 s left/)
})

t.test('terminal line: colours only when asked, and it never outgrows the terminal', async (t) => {
  const coloured = formatProgress(progress, [rolloutRunning], { ...tty, color: true })
  t.match(coloured, '\u001b[31m3 errors\u001b[0m')
  t.match(coloured, '\u001b[33m▸ rollout deployment/web (started 20 s)\u001b[0m')
  t.notMatch(formatProgress({ ...progress, errors: 0 }, [], { ...tty, color: true }), '\u001b[31m', 'no red without errors')
  for (const columns of [20, 40, 79, 100]) {
    const line = formatProgress(progress, [rolloutRunning], { ...tty, columns })
    t.ok(Array.from(line).length <= columns, `fits in ${columns} columns: ${line}`)
    const colouredLine = formatProgress(progress, [rolloutRunning], { ...tty, color: true, columns })
    t.equal(colouredLine.replace(/\u001b\[\d+m/g, ''), line, 'colour does not change what fits')
  }
  t.match(formatProgress(progress, [rolloutRunning], { ...tty, columns: 79 }), /…$/)
})

t.test('hostile action names are shown as text', async (t) => {
  const line = formatProgress(progress, [{ ...rolloutRunning, name: hostileText }], tty)
  t.notMatch(line, /[\u001b\u2028\u202e\n\r]/)
})

t.test('printer on a terminal: one line rewritten in place, actions kept above it, a newline at the end', async (t) => {
  const out = new Capture(true, 200)
  const printer = new ProgressPrinter(out, { env: {} })
  for (let second = 1; second <= 60; second++) printer.update({ ...progress, elapsedMs: second * 1000 }, marksAt(second))
  printer.end()
  printer.end()
  const writes = out.text.split('\r\u001b[2K')
  t.equal(writes[0], '', 'every write starts by clearing the line')
  t.equal(writes.length - 1, 60, 'one rewrite per update')
  t.ok(out.text.endsWith('\n') && !out.text.endsWith('\n\n'), 'ends with exactly one newline')
  const permanent = out.text
    .replace(/\u001b\[\d+m/g, '')
    .split('\n')
    .map((line) => line.split('\r\u001b[2K').at(-1)!)
  t.same(
    permanent.filter((line) => /^[▸✓✗] /.test(line)),
    [
      '▸ 20 s  rollout deployment/web started',
      '✓ 41 s  rollout deployment/web completed in 21 s  deployment/web rolled out: 4 of 4 replicas updated',
      '▸ 50.2 s  delete pod web-7c9f-8x2kq started',
      '✓ 50.4 s  delete pod web-7c9f-8x2kq completed in 0.2 s  1 pod deleted',
    ],
  )
  t.match(out.text, '\u001b[31m', 'coloured on a terminal')
  t.match(writes.at(-1)!, /^▕████████████████████▏  60 s \/ 60 s, 0 s left .*✓ delete pod web-7c9f-8x2kq \(50\.2 s → 50\.4 s\)\u001b\[0m\n$/)
})

t.test('printer on a terminal honours NO_COLOR and TERM=dumb', async (t) => {
  const noColor = new Capture(true)
  const printer = new ProgressPrinter(noColor, { env: { NO_COLOR: '1' } })
  printer.update(progress, [rolloutRunning])
  printer.end()
  t.notMatch(noColor.text, /\u001b\[\d+m/)
  t.match(noColor.text, /^\r\u001b\[2K▸ 20 s  rollout deployment\/web started\n▕/, 'still rewritten in place')

  const dumb = new Capture(true)
  const dumbPrinter = new ProgressPrinter(dumb, { env: { TERM: 'dumb' } })
  dumbPrinter.update({ ...progress, elapsedMs: 5000 })
  dumbPrinter.end()
  t.notMatch(dumb.text, /\u001b/)
  t.match(dumb.text, /^5 s \/ 60 s/)

  const narrow = new Capture(true, 30)
  const narrowPrinter = new ProgressPrinter(narrow, { env: {} })
  narrowPrinter.update(progress, [rolloutRunning])
  const lines = narrow.text.replace('\r\u001b[2K', '').replace(/\u001b\[\d+m/g, '').split('\n')
  t.equal(lines.length, 2)
  t.ok(lines.every((line) => Array.from(line).length < 30), 'cut to the terminal width, one column to spare')
})

t.test('printer elsewhere: a plain line every 5 s, one per action event, the last one at the end', async (t) => {
  const out = new Capture(false)
  const printer = new ProgressPrinter(out, { env: {} })
  for (let second = 1; second <= 58; second++) printer.update({ ...progress, elapsedMs: second * 1000 }, marksAt(second))
  printer.end()
  t.notMatch(out.text, /[\u001b\r]/)
  const lines = out.text.split('\n')
  t.equal(lines.pop(), '', 'ends with a newline')
  t.same(
    lines.map((line) => line.replace(/, sent .*/, '')),
    [
      '5 s / 60 s, 55 s left (8%)',
      '10 s / 60 s, 50 s left (16%)',
      '15 s / 60 s, 45 s left (25%)',
      '▸ 20 s  rollout deployment/web started',
      '20 s / 60 s, 40 s left (33%)',
      '25 s / 60 s, 35 s left (41%)',
      '30 s / 60 s, 30 s left (50%)',
      '35 s / 60 s, 25 s left (58%)',
      '40 s / 60 s, 20 s left (66%)',
      '✓ 41 s  rollout deployment/web completed in 21 s  deployment/web rolled out: 4 of 4 replicas updated',
      '45 s / 60 s, 15 s left (75%)',
      '50 s / 60 s, 10 s left (83%)',
      '▸ 50.2 s  delete pod web-7c9f-8x2kq started',
      '✓ 50.4 s  delete pod web-7c9f-8x2kq completed in 0.2 s  1 pod deleted',
      '55 s / 60 s, 5 s left (91%)',
      '58 s / 60 s, 2 s left (96%)',
    ],
  )
  const after = out.text
  printer.update({ ...progress, elapsedMs: 70_000 })
  t.equal(out.text, after, 'nothing after end()')
})

t.test('a failed action gets its own line with the reason', async (t) => {
  const out = new Capture(false)
  const printer = new ProgressPrinter(out, { env: {} })
  const failed: ActionRecord = { name: 'drain node-2', kind: 'drain', atSecond: 3, completedSecond: 33, ok: false, message: 'timed out waiting for eviction' }
  printer.update({ ...progress, elapsedMs: 34_000 }, [failed])
  printer.end()
  t.match(out.text, '▸ 3 s  drain node-2 started\n✗ 33 s  drain node-2 failed after 30 s  timed out waiting for eviction\n')
})
