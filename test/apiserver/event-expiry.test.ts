// Events expire a TTL after they were last seen; one written again meanwhile stays.
import t from 'tap'
import { EventExpiry, lastSeen } from '../../src/apiserver/event-expiry.ts'
import { logger } from '../../src/util/log.ts'
import { call, startTestServer } from '../helpers/apiserver.ts'

t.test('lastSeen takes the latest time the Event names', async (t) => {
  t.equal(lastSeen({ metadata: { creationTimestamp: '2026-01-01T00:00:00Z' } }), Date.parse('2026-01-01T00:00:00Z'))
  t.equal(lastSeen({ metadata: { creationTimestamp: '2026-01-01T00:00:00Z' }, lastTimestamp: '2026-01-01T01:00:00Z', series: { lastObservedTime: '2026-01-01T02:00:00.000000Z' } }), Date.parse('2026-01-01T02:00:00Z'))
  t.equal(lastSeen({ metadata: { creationTimestamp: 'garbage' }, eventTime: '2026-01-01T03:00:00.000000Z' }), Date.parse('2026-01-01T03:00:00Z'))
})

t.test('a sweep deletes what is older than the TTL, across namespaces and pages', async (t) => {
  const s = await startTestServer(t)
  const start = Date.now()
  const at = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z')
  const now = at(start)
  const later = at(start + 2 * 3_600_000)
  const event = (name: string, namespace: string, lastTimestamp: string) => ({
    metadata: { name, namespace },
    involvedObject: { kind: 'Pod', name: 'p', namespace },
    reason: 'Test',
    message: name,
    type: 'Normal',
    firstTimestamp: lastTimestamp,
    lastTimestamp,
  })
  for (let i = 0; i < 520; i++) t.equal((await call(s.url, 'POST', '/api/v1/namespaces/default/events', event(`old-${i}`, 'default', now))).status, 201)
  t.equal((await call(s.url, 'POST', '/api/v1/namespaces/kube-system/events', event('old-system', 'kube-system', now))).status, 201)
  t.equal((await call(s.url, 'POST', '/api/v1/namespaces/default/events', event('new', 'default', later))).status, 201)
  // An old Event seen again: its lastTimestamp moves on and it is kept.
  const again = await call(s.url, 'GET', '/api/v1/namespaces/default/events/old-7')
  t.equal((await call(s.url, 'PUT', '/api/v1/namespaces/default/events/old-7', { ...again.body, count: 2, lastTimestamp: later })).status, 200)

  const expiry = new EventExpiry(s.server['objects' as keyof typeof s.server] as never, logger('test'), 3_600_000)
  let others = 0
  const sweep = expiry.runOnce(start + 3_600_000 - 60_000)
  setImmediate(() => others++)
  t.equal(await sweep, 0, 'nothing before its time')
  t.equal(others, 1, 'and the sweep let other work run between its pages')
  t.equal(await expiry.runOnce(start + 3_600_000 + 60_000), 520, 'an hour on: 519 old ones in default, one in kube-system')
  const left = (await call(s.url, 'GET', '/api/v1/events')).body.items.map((e: any) => e.metadata.name).sort()
  t.same(left, ['new', 'old-7'])
  t.equal(await expiry.runOnce(start + 4 * 3_600_000), 2, 'the rest expire in their time')
})
