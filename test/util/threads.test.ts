import { Worker } from 'node:worker_threads'
import t from 'tap'
import { stopThread } from '../../src/util/threads.ts'

const polite = `
const { parentPort } = require('node:worker_threads')
parentPort.on('message', (m) => { if (m === 'stop') setTimeout(() => process.exit(7), 20) })
`
const deaf = `
const { parentPort } = require('node:worker_threads')
parentPort.on('message', () => {})
`

t.test('a thread that stops when asked ends on its own, before the grace', async (t) => {
  const worker = new Worker(polite, { eval: true })
  let code: number | undefined
  worker.on('exit', (c) => (code = c))
  const started = Date.now()
  await stopThread(worker, 'stop', 10_000)
  t.equal(code, 7, 'it exited itself')
  t.ok(Date.now() - started < 5_000, 'without waiting for the grace')
})

t.test('a thread that does not stop is terminated after the grace', async (t) => {
  const worker = new Worker(deaf, { eval: true })
  let code: number | undefined
  worker.on('exit', (c) => (code = c))
  const started = Date.now()
  await stopThread(worker, 'stop', 200)
  t.equal(code, 1, 'terminated')
  t.ok(Date.now() - started >= 190, 'after the grace')
})

t.test('a thread that has exited already resolves at once', async (t) => {
  const worker = new Worker(deaf, { eval: true })
  await worker.terminate()
  await stopThread(worker, 'stop', 60_000)
  t.pass('did not wait for an exit that had happened')
})
