import t from 'tap'
import { spawn } from 'node:child_process'
import { imagesMain, nodeBinary, resolveImage } from '../../src/images/resolve-image.ts'
import { startContainer } from './program.ts'

t.test('the in-node pause waits for SIGTERM and exits 0', async (t) => {
  const p = await startContainer(t, { name: 'c', image: 'x' , command: [nodeBinary, imagesMain, 'pause'] }, /waiting for SIGTERM/)
  t.equal(p.child.exitCode, null, 'still running')
  t.equal(await p.stop(), 0)
})

t.test('pause images run sleep, which ends on SIGTERM', async (t) => {
  const [file, ...args] = resolveImage({ name: 'c', image: 'registry.k8s.io/pause:3.10' }).command
  const child = spawn(file, args, { stdio: 'ignore' })
  const exited = new Promise<string | number | null>((resolve) => child.once('exit', (code, signal) => resolve(signal ?? code)))
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  })
  child.kill('SIGTERM')
  t.equal(await exited, 'SIGTERM', 'sleep is ended by the signal')
})

t.test('main.ts rejects an unknown program', async (t) => {
  const child = spawn(nodeBinary, ['--disable-warning=ExperimentalWarning', imagesMain, 'nope'], { stdio: ['ignore', 'ignore', 'pipe'] })
  let err = ''
  child.stderr.on('data', (c: Buffer) => (err += c.toString()))
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
  t.equal(code, 2)
  t.match(err, /unknown program "nope"/)
})
