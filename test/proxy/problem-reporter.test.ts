import t from 'tap'
import type { V1Service } from '@kubernetes/client-node'
import { ProblemReporter } from '../../proxy/problem-reporter.ts'
import type { RestClient } from '../../src/client/index.ts'
import { logger } from '../../src/util/log.ts'

t.test('each distinct problem once per Service and source; again after it went away; Events name the node', async (t) => {
  const posted: any[] = []
  let fail = false
  const client = { create: async (_info: unknown, obj: any) => {
    if (fail) throw new Error('API down')
    posted.push(obj)
    return obj
  } } as unknown as RestClient
  const r = new ProblemReporter({ client, nodeName: 'node-7', log: logger('test') })
  const svc: V1Service = { metadata: { namespace: 'ns', name: 'web', uid: 'u1' } }
  const a = { reason: 'InvalidServiceField', message: 'a is bad' }
  const b = { reason: 'InvalidServiceField', message: 'b is bad' }
  t.same(r.set('ns/web', 'fields', svc, [a, a]), [a], 'duplicates in one report count once')
  t.same(r.set('ns/web', 'fields', svc, [a, b]), [b], 'only the new one')
  t.same(r.set('ns/web', 'rules/IPv4', svc, [a]), [a], 'another source is reported on its own')
  t.same(r.set('ns/web', 'fields', svc, [b]), [])
  t.same(r.set('ns/web', 'fields', svc, [a, b]), [a], 'a problem that went away and came back is reported again')
  r.forget('ns/web')
  t.same(r.set('ns/web', 'fields', svc, [b]), [b], 'a Service deleted and created again starts afresh')
  await r.flush()
  t.equal(posted.length, 5)
  t.match(posted[0], { type: 'Warning', reason: 'InvalidServiceField', message: 'a is bad', involvedObject: { kind: 'Service', name: 'web', namespace: 'ns', uid: 'u1' }, source: { component: 'weft-proxy', host: 'node-7' }, reportingInstance: 'weft-proxy-node-7' })
  fail = true
  r.set('ns/other', 'fields', { metadata: { namespace: 'ns', name: 'other' } }, [a])
  await r.flush()
  t.equal(posted.length, 5, 'an Event that cannot be posted is only logged; nothing throws')
})
