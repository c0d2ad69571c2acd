// Fake CNI plugins for runtime tests: one script, installed under several names, that
// logs every invocation and behaves as its stdin config's `fake` section says.
import { chmod, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

// Without the test runner's NODE_OPTIONS (its loader hooks make each start slow).
const SCRIPT = `#!/usr/bin/env -S -u NODE_OPTIONS ${process.execPath}
const fs = require('node:fs')
const stdin = fs.readFileSync(0, 'utf8')
const conf = JSON.parse(stdin)
const cmd = process.env.CNI_COMMAND
const env = {}
for (const k of Object.keys(process.env)) if (k.startsWith('CNI_') || k === 'PATH') env[k] = process.env[k]
const fake = conf.fake || {}
if (conf.log) fs.appendFileSync(conf.log, JSON.stringify({ type: conf.type, command: cmd, env, conf }) + '\\n')
// sleepOnceFile: sleep only while that file does not exist yet (it is created first).
const sleepNow = fake.sleepOn === cmd && !(fake.sleepOnceFile && fs.existsSync(fake.sleepOnceFile))
if (sleepNow) {
  if (fake.sleepOnceFile) fs.writeFileSync(fake.sleepOnceFile, String(process.pid))
  const sub = require('node:child_process').spawn('sleep', ['600'], { stdio: 'inherit' })
  if (fake.pidFile) fs.writeFileSync(fake.pidFile, process.pid + ' ' + sub.pid)
  setTimeout(() => {}, 600000)
  return
}
if (fake.failOn === cmd) {
  if (fake.stderr) process.stderr.write(fake.stderr)
  if (fake.stdout !== undefined) process.stdout.write(fake.stdout)
  else process.stdout.write(JSON.stringify({ cniVersion: conf.cniVersion, code: fake.code ?? 7, msg: fake.msg ?? 'fake failure', details: fake.details }))
  process.exit(fake.exitCode ?? 1)
}
if (fake.garbageOn === cmd) {
  process.stdout.write(fake.stdout ?? 'this is not json')
  process.exit(0)
}
if (cmd === 'ADD') {
  const res = conf.prevResult ? JSON.parse(JSON.stringify(conf.prevResult)) : { cniVersion: conf.cniVersion, interfaces: [], ips: [] }
  res.cniVersion = fake.resultVersion ?? conf.cniVersion
  res.interfaces = res.interfaces || []
  res.interfaces.push({ name: conf.type, sandbox: process.env.CNI_NETNS })
  if (fake.ip) { res.ips = res.ips || []; res.ips.push({ address: fake.ip, interface: res.interfaces.length - 1 }) }
  process.stdout.write(JSON.stringify(res))
}
`

export interface FakeBin {
  dir: string
  log: string
  /** The logged invocations, in order. */
  calls(): Promise<{ type: string; command: string; env: Record<string, string>; conf: Record<string, unknown> }[]>
}

interface Teardown {
  teardown(fn: () => unknown): void
}

export async function fakeBin(t: Teardown, names: readonly string[]): Promise<FakeBin> {
  const dir = await mkdtemp(join(tmpdir(), 'weft-cni-fake-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const script = join(dir, '.fake-plugin')
  await writeFile(script, SCRIPT)
  await chmod(script, 0o755)
  for (const n of names) await symlink(script, join(dir, n))
  const log = join(dir, 'calls.log')
  return {
    dir,
    log,
    async calls() {
      let text = ''
      try {
        text = await readFile(log, 'utf8')
      } catch {
        return []
      }
      return text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l))
    },
  }
}
