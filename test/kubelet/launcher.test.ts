import t from 'tap'
import { LAUNCHER_SCRIPT, launchCommand } from '../../src/kubelet/runtime/launcher.ts'

t.test('the init script is one single-quoted word of the supervisor: no quote inside ends it early', async (t) => {
  const start = LAUNCHER_SCRIPT.indexOf("/bin/sh -c '")
  const end = LAUNCHER_SCRIPT.indexOf(`' "$wd" `)
  t.ok(start > 0 && end > start, 'the init script is where it is expected')
  t.notOk(LAUNCHER_SCRIPT.slice(start + "/bin/sh -c '".length, end).includes("'"), 'no single quote inside')
})

t.test('launch arguments are checked words', async (t) => {
  const spec = { base: '/p/c', log: '/p/l', workingDir: '/', mounts: [], devices: 'private' as const }
  t.throws(() => launchCommand({ ...spec, pidNamespace: '/proc/1/ns/pid; rm -rf /' }), /is not new, host or \/proc\/PID\/ns\/pid/)
  t.throws(() => launchCommand({ ...spec, pidNamespace: 'new', privileges: ['--reuid=0 --x'] }), /not a plain word/)
  const [file, args] = launchCommand({ ...spec, pidNamespace: 'new', root: 'overlay', io: { stdin: 'once', tty: true }, ipcPath: '/p/ipc' })
  t.equal(file, 'nsenter')
  t.same(args.slice(0, 2), ['--ipc=/p/ipc', '--'])
  t.same(args.slice(-7), ['', 'new', 'rw', 'private', 'once:1', 'overlay', '0'])
})
