import { mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs'
import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import t from 'tap'
import { defaultLabels, readResultFile, writeCompareReport, writeReportFiles } from '../../load/report/files.ts'
import { temporaryDirectory } from './fixtures/chromium.ts'
import { closedDnsResult, rolloutResult } from './fixtures/results.ts'

const directory = temporaryDirectory('weft-report-files-')
t.teardown(() => directory.remove())

t.test('--out DIR writes result.json and report.html, and they read back', async (t) => {
  const out = join(directory.path, 'run-1', 'nested')
  const result = rolloutResult()
  const { resultFile, reportFile } = await writeReportFiles(out, result)
  t.same(readdirSync(out).sort(), ['report.html', 'result.json'], 'no partial files left')
  t.equal(readFileSync(resultFile, 'utf8'), JSON.stringify(result, null, 2) + '\n')
  t.match(readFileSync(reportFile, 'utf8'), /^<!doctype html>/)
  t.same(await readResultFile(resultFile), result)
  t.same(await readResultFile(out), result, 'a --out directory stands for its result.json')
  await writeReportFiles(out, closedDnsResult())
  t.same(await readResultFile(out), closedDnsResult(), 'a second run replaces the files')
})

t.test('reading refuses what is not a result, naming the file', async (t) => {
  const missing = join(directory.path, 'nope.json')
  await t.rejects(readResultFile(missing), { message: `${missing}: no such file` })
  const empty = join(directory.path, 'empty-dir')
  mkdirSync(empty)
  await t.rejects(readResultFile(empty), { message: `${empty}: a directory without result.json` })
  const big = join(directory.path, 'big.json')
  writeFileSync(big, JSON.stringify(rolloutResult()))
  await t.rejects(readResultFile(big, 1000), { message: /big\.json: \d+ bytes, more than the 1000 a weft load result may have$/ })
  const bad = join(directory.path, 'bad.json')
  writeFileSync(bad, JSON.stringify({ ...rolloutResult(), durationSeconds: 'long' }))
  await t.rejects(readResultFile(bad), { message: `${bad}: durationSeconds: expected a number (got the string "long")` })
  const link = join(directory.path, 'null.json')
  symlinkSync('/dev/null', link)
  await t.rejects(readResultFile(link), { message: `${link}: not a regular file` })
  const fifo = join(directory.path, 'fifo.json')
  execFileSync('mkfifo', [fifo])
  await t.rejects(readResultFile(fifo), { message: `${fifo}: not a regular file` }, 'a FIFO is refused, not waited on')
})

t.test('compare labels and page', async (t) => {
  t.same(defaultLabels('runs/nft/result.json', 'runs/userspace/result.json'), ['nft', 'userspace'])
  t.same(defaultLabels('a.json', 'out/b.json'), ['a.json', 'b.json'])
  t.same(defaultLabels('x/a.json', 'y/a.json'), ['x/a.json', 'y/a.json'])
  t.same(defaultLabels('runs/nft', 'runs/userspace'), ['nft', 'userspace'])
  const file = await writeCompareReport(join(directory.path, 'cmp'), rolloutResult(), closedDnsResult(), ['a', 'b'])
  t.match(readFileSync(file, 'utf8'), '<h1>weft load: a vs b</h1>')
})
