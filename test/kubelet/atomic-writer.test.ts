import { spawn } from 'node:child_process'
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { writeAtomic } from '../../src/kubelet/runtime/atomic-writer.ts'

function volume(t: { teardown(fn: () => unknown): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'weft-aw-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

const mode = (p: string) => statSync(p).mode & 0o777

t.test('the ..data layout: a generation, the ..data link, one link per top-level name', async (t) => {
  const dir = volume(t)
  t.equal(await writeAtomic(dir, [{ path: 'app.conf', data: 'a=1\n', mode: 0o644 }, { path: 'tls/key.pem', data: 'KEY', mode: 0o400 }, { path: 'run.sh', data: '#!/bin/sh\n', mode: 0o755 }]), true)
  const gen = readlinkSync(join(dir, '..data'))
  t.match(gen, /^\.\.\d{4}_\d\d_\d\d_\d\d_\d\d_\d\d\.\d{9}$/)
  t.same(readdirSync(dir).sort(), ['..data', gen, 'app.conf', 'run.sh', 'tls'].sort())
  t.equal(readlinkSync(join(dir, 'app.conf')), '..data/app.conf')
  t.equal(readlinkSync(join(dir, 'tls')), '..data/tls')
  t.equal(readFileSync(join(dir, 'tls/key.pem'), 'utf8'), 'KEY')
  t.equal(mode(join(dir, 'app.conf')), 0o644)
  t.equal(mode(join(dir, 'tls/key.pem')), 0o400, 'modes are exact, not masked by the umask')
  t.equal(mode(join(dir, 'run.sh')), 0o755)
  t.equal(mode(join(dir, gen)), 0o755)
  t.equal(mode(join(dir, gen, 'tls')), 0o755, 'directories are 0755 (the files keep their own modes)')

  t.equal(await writeAtomic(dir, [{ path: 'app.conf', data: 'a=1\n', mode: 0o644 }, { path: 'tls/key.pem', data: 'KEY', mode: 0o400 }, { path: 'run.sh', data: '#!/bin/sh\n', mode: 0o755 }]), false, 'the same payload is not rewritten')
  t.equal(readlinkSync(join(dir, '..data')), gen)

  t.equal(await writeAtomic(dir, [{ path: 'app.conf', data: 'a=2\n', mode: 0o600 }, { path: 'new', data: 'n', mode: 0o644 }]), true)
  const gen2 = readlinkSync(join(dir, '..data'))
  t.not(gen2, gen)
  t.same(readdirSync(dir).sort(), ['..data', gen2, 'app.conf', 'new'].sort(), 'names that went are gone, the old generation too')
  t.equal(readFileSync(join(dir, 'app.conf'), 'utf8'), 'a=2\n')
  t.equal(mode(join(dir, 'app.conf')), 0o600, 'a mode change alone is an update')
  t.equal(await writeAtomic(dir, [{ path: 'app.conf', data: 'a=2\n', mode: 0o644 }, { path: 'new', data: 'n', mode: 0o644 }]), true)
  t.equal(await writeAtomic(dir, []), true)
  t.same(readdirSync(dir).filter((n) => !n.startsWith('..')), [], 'an empty payload leaves no names')
})

t.test('an older plain layout and crash leftovers are replaced', async (t) => {
  const dir = volume(t)
  writeFileSync(join(dir, 'app.conf'), 'old')
  mkdirSync(join(dir, 'sub'))
  writeFileSync(join(dir, 'sub', 'x'), 'old')
  mkdirSync(join(dir, '..2020_01_01_00_00_00.000000001'))
  writeFileSync(join(dir, '..data_tmp'), '')
  await writeAtomic(dir, [{ path: 'app.conf', data: 'new', mode: 0o644 }])
  t.ok(lstatSync(join(dir, 'app.conf')).isSymbolicLink())
  t.equal(readFileSync(join(dir, 'app.conf'), 'utf8'), 'new')
  t.same(readdirSync(dir).sort(), ['..data', readlinkSync(join(dir, '..data')), 'app.conf'].sort())
})

t.test('paths the kubelet refuses are refused', async (t) => {
  const dir = volume(t)
  for (const path of ['', '/abs', '../x', 'a/../../x', '..data', '..hidden/x', 'a//b', './a', 'a/.']) {
    await t.rejects(writeAtomic(dir, [{ path, data: '', mode: 0o644 }]), /^volume file ".*": invalid path: must/, JSON.stringify(path))
  }
  await t.rejects(writeAtomic(dir, [{ path: 'a', data: '', mode: 0o644 }, { path: 'a/b', data: '', mode: 0o644 }]), /lies under another file/)
  await t.rejects(writeAtomic(dir, [{ path: 'a', data: '', mode: 0o644 }, { path: 'a', data: '', mode: 0o644 }]), /given twice/)
  t.same(readdirSync(dir), [], 'nothing was written')
})

t.test('a reader never sees a half-written or mixed file while updates go on', async (t) => {
  const dir = volume(t)
  const size = 512 * 1024
  const payload = (c: string) => [{ path: 'big', data: c.repeat(size), mode: 0o644 }, { path: 'nested/big', data: c.repeat(size), mode: 0o644 }]
  await writeAtomic(dir, payload('A'))
  // A reader in another process, reading as fast as it can while this one updates.
  const reader = spawn(process.execPath, ['-e', `
    const fs = require('node:fs')
    const bad = []
    let reads = 0
    const until = Date.now() + 1500
    while (Date.now() < until) {
      for (const p of ['big', 'nested/big']) {
        let text
        try { text = fs.readFileSync(${JSON.stringify(dir)} + '/' + p, 'latin1') } catch (err) { bad.push(p + ': ' + err.code); continue }
        reads++
        if (text.length !== ${size} || !(text === text[0].repeat(${size}))) bad.push(p + ': length ' + text.length)
      }
    }
    process.stdout.write(JSON.stringify({ reads, bad: bad.slice(0, 5), badCount: bad.length }))
  `], { stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  reader.stdout.on('data', (b: Buffer) => (out += b))
  const done = new Promise((r) => reader.on('close', r))
  let updates = 0
  let running = true
  void done.then(() => (running = false))
  while (running) await writeAtomic(dir, payload(updates++ % 2 ? 'A' : 'B'))
  await done
  const result = JSON.parse(out) as { reads: number; bad: string[]; badCount: number }
  t.ok(updates > 5, `${updates} updates`)
  t.ok(result.reads > 10, `${result.reads} reads`)
  t.same(result.bad, [], 'every read got a whole file of one generation')
})
