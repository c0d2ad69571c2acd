// A controller paused (its leader lost the Lease) stops reconciling but keeps what was
// queued meanwhile, and resumes with it.
import t from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { RestClient } from '../../src/client/index.ts'
import { Controller } from '../../src/controllers/controller.ts'
import { logger } from '../../src/util/log.ts'

t.test('pause, enqueue, resume', async (t) => {
  const seen: string[] = []
  let release: (() => void) | undefined
  const client = new RestClient({ server: 'https://127.0.0.1:1' })
  const c = new Controller({
    name: 'test',
    client,
    log: logger('test'),
    workers: 1,
    reconcile: async (key) => {
      seen.push(key)
      if (key === 'slow') await new Promise<void>((r) => (release = r))
      return { actions: [] }
    },
  })
  t.teardown(() => c.stop())
  c.start()
  c.enqueue('slow')
  await sleep(10)
  const paused = c.pause()
  let done = false
  void paused.then(() => (done = true))
  await sleep(10)
  t.notOk(done, 'pause waits for the reconcile in flight')
  release!()
  await paused
  c.enqueue('x')
  await sleep(30)
  t.same(seen, ['slow'], 'nothing is reconciled while paused')
  c.start()
  await sleep(30)
  t.same(seen, ['slow', 'x'], 'the key queued meanwhile is reconciled on resume')
  await c.stop()
  c.start()
  c.enqueue('y')
  await sleep(30)
  t.same(seen, ['slow', 'x'], 'a stopped controller does not start again')
  await client.close()
})
