import t from 'tap'
import type { Action } from '../../../src/controllers/actions.ts'
import { RecentEvents } from '../../../src/controllers/persistentvolume/recent-events.ts'

const event = (uid: string, reason: string, message: string): Action => ({ verb: 'event', event: { involved: { metadata: { uid } }, type: 'Normal', reason, message } })
const other: Action = { verb: 'delete', info: { kind: 'PersistentVolume' } as never, namespace: undefined, name: 'pv1' }

t.test('an event said once is not said again within the ttl; other actions always pass', async (t) => {
  const recent = new RecentEvents(1000)
  t.same(recent.filter([event('a', 'Wait', 'm'), other], 0), [event('a', 'Wait', 'm'), other])
  t.same(recent.filter([event('a', 'Wait', 'm'), other], 500), [other], 'a repeat')
  t.same(recent.filter([event('b', 'Wait', 'm'), event('a', 'Wait', 'other message')], 600).length, 2, 'another object, another message')
  t.same(recent.filter([event('a', 'Wait', 'm')], 1500), [event('a', 'Wait', 'm')], 'said again once the ttl passed')
})
