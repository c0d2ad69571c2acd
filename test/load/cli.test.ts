// The real `weft load` command (bin/weft) against a loopback HTTP server: a run with its files,
// --json, a scenario of phases alone (no cluster needed), Ctrl-C (the results so far), compare,
// and bad input.
import t from 'tap'
import { spawn } from 'node:child_process'
import { createServer } from 'node:http'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { parseResult } from '../../load/report/schema.ts'

const weft = resolve(import.meta.dirname, '../../bin/weft')
const dir = mkdtempSync(join(tmpdir(), 'weft-load-cli-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))

let served = 0
const server = createServer((req, res) => {
  served++
  res.writeHead(req.url === '/missing' ? 404 : 200, { 'content-type': 'application/json' }).end('{"pod":"web-1"}\n')
})
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
t.teardown(() => server.close())
const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/`

interface Ran {
  code: number | null
  stdout: string
  stderr: string
}

/** `interruptWhen`: polled every 50 ms; SIGINT once it holds. */
function weftLoad(args: string[], interruptWhen?: () => boolean): Promise<Ran> {
  return new Promise((resolveRun) => {
    const child = spawn(weft, ['load', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, KUBECONFIG: join(dir, 'none'), HOME: dir, TAP: undefined } })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (b: Buffer) => (stdout += b))
    child.stderr.on('data', (b: Buffer) => (stderr += b))
    const poll = interruptWhen && setInterval(() => {
      if (!interruptWhen()) return
      clearInterval(poll)
      child.kill('SIGINT')
    }, 50)
    child.once('exit', (code) => {
      clearInterval(poll)
      resolveRun({ code, stdout, stderr })
    })
  })
}

t.test('a closed-loop run: the summary, result.json and report.html', async (t) => {
  const out = join(dir, 'a')
  const r = await weftLoad([url, '-c', '4', '-d', '1s', '--out', out, '--progress', 'plain'])
  t.equal(r.code, 0, r.stderr)
  t.match(r.stdout, /Requests\s+sent [\d,]+\s+ok [\d,]+\s+errors 0/)
  t.match(r.stdout, /web-1/, 'the endpoint that answered')
  const result = parseResult(readFileSync(join(out, 'result.json'), 'utf8'), 'result.json')
  t.equal(result.options.mode, 'closed-loop')
  t.equal(result.options.connections, 4)
  t.equal(result.totals.errors, 0)
  t.ok(result.totals.ok > 0)
  t.same(result.endpoints.map((e) => e.name), ['web-1'])
  t.ok(existsSync(join(out, 'report.html')))
  t.match(r.stderr, /wrote .*result.json and .*report.html/)
})

t.test('--json, an open loop with a request limit, and 4xx counted as errors', async (t) => {
  const missing = `${url}missing`
  const r = await weftLoad([missing, '--rate', '200', '--requests', '50', '--json', '--progress', 'none'])
  t.equal(r.code, 0, r.stderr)
  const result = parseResult(r.stdout, 'stdout')
  t.equal(result.options.mode, 'open-loop')
  t.equal(result.options.rate, 200)
  t.equal(result.options.connections, 64, 'an open loop opens up to 64 connections by default')
  t.equal(result.totals.sent, 50)
  t.same(result.errors, [{ class: 'http-4xx', count: 50 }])
})

t.test('a scenario of phases alone needs no cluster', async (t) => {
  const file = join(dir, 'ramp.yaml')
  writeFileSync(file, `target: ${url}\nphases:\n  - {name: low, rate: 100, duration: 1s}\n  - {name: ramp, rate: 100, rateTo: 300, duration: 1s}\n`)
  const r = await weftLoad(['-f', file, '--json', '--progress', 'none'])
  t.equal(r.code, 0, r.stderr)
  const result = parseResult(r.stdout, 'stdout')
  t.same(result.phases.map((p) => [p.name, p.startSecond, p.rate, p.rateTo]), [['low', 0, 100, undefined], ['ramp', 1, 100, 300]])
  t.ok(Math.abs(result.totals.sent - 300) <= 3, `100 + 200 requests: ${result.totals.sent}`)
})

t.test('Ctrl-C stops the run and reports what was recorded', async (t) => {
  // Once requests flow (the command is running, its handlers in place), and a little after.
  const before = served
  const r = await weftLoad([url, '-c', '2', '-d', '30s', '--json', '--progress', 'none'], () => served > before + 500)
  t.equal(r.code, 0, r.stderr)
  t.match(r.stderr, /stopping: the results so far follow/)
  const result = parseResult(r.stdout, 'stdout')
  t.ok(result.durationSeconds < 10, `cut short: ${result.durationSeconds} s`)
  t.ok(result.totals.ok > 0)
})

t.test('compare: two results side by side, and its page', async (t) => {
  const b = join(dir, 'b')
  t.equal((await weftLoad([url, '-c', '8', '-d', '1s', '--out', b, '--progress', 'none'])).code, 0)
  const r = await weftLoad(['compare', join(dir, 'a'), join(b, 'result.json'), '--labels', 'four,eight', '--out', join(dir, 'cmp')])
  t.equal(r.code, 0, r.stderr)
  t.match(r.stdout, /four/)
  t.match(r.stdout, /eight/)
  t.ok(existsSync(join(dir, 'cmp', 'compare.html')))
  const bad = await weftLoad(['compare', join(dir, 'a'), join(dir, 'nothing-here')])
  t.equal(bad.code, 1)
  t.match(bad.stderr, /nothing-here/)
})

t.test('bad input: a clear error and exit 1, nothing sent', async (t) => {
  const before = served
  const cases: [string[], RegExp][] = [
    [[url, '--rate', 'fast'], /--rate "fast"/],
    [[url, '--bogus'], /Unknown option '--bogus'/],
    [['svc/web'], /\$KUBECONFIG names .*none, and no such file exists/],
    [['ftp://x/'], /ftp/],
    [['-f', join(dir, 'missing.yaml')], /missing.yaml/],
    [[url, '--out', join(dir, 'a', 'result.json', 'sub')], /ENOTDIR|not a directory/],
    [[url, '--out', '/proc/weft-load-test/out'], /--out \/proc\/weft-load-test/],
  ]
  for (const [args, message] of cases) {
    const r = await weftLoad(args)
    t.equal(r.code, 1, args.join(' '))
    t.match(r.stderr, message)
  }
  t.equal(served, before, 'no request reached the server')
})
