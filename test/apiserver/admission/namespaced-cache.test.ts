import t from 'tap'
import { resources } from '../../../src/api/registry.ts'
import { NamespacedCache } from '../../../src/apiserver/admission/namespaced-cache.ts'
import type { KObject, ObjectStore } from '../../../src/apiserver/objects.ts'
import { logger } from '../../../src/util/log.ts'

const quota = (name: string, rv: number, used: string, uid = `uid-${name}`, namespace = 'n'): KObject => ({ metadata: { name, namespace, uid, resourceVersion: String(rv) }, status: { used: { pods: used } } })

t.test('a held copy never goes back in time; a new object of the same name replaces it', async (t) => {
  // Never started: only what it is told.
  const cache = new NamespacedCache({ store: {} } as ObjectStore, resources.find((r) => r.kind === 'ResourceQuota')!, logger('test'))
  cache.remember(quota('b', 5, '2'))
  cache.remember(quota('a', 4, '1'))
  cache.remember(quota('b', 3, '1'))
  t.same(cache.inNamespace('n').map((q) => [q.metadata.name, q.status.used.pods]), [['a', '1'], ['b', '2']], 'sorted by name; the older b was not taken')
  cache.remember(quota('b', 2, '0', 'uid-b2'))
  t.equal(cache.inNamespace('n')[1].status.used.pods, '0', 'another uid is another object')
  t.same(cache.inNamespace('elsewhere'), [])
})
