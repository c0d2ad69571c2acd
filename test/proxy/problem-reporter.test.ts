import t from 'tap'
import type { V1Service } from '@kubernetes/client-node'
import { MAX_QUEUED, ProblemReporter } from '../../proxy/problem-reporter.ts'
import type { RestClient } from '../../src/client/index.ts'
import { logger, type Logger } from '../../src/util/log.ts'

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

t.test(`at most ${MAX_QUEUED} Events wait to be posted; past that they are only logged`, async (t) => {
  const warnings: string[] = []
  const log = { warn: (_fields: unknown, message: string) => void warnings.push(message) } as unknown as Logger
  const posted: any[] = []
  // An API server that does not answer until the gate opens.
  let open!: () => void
  const gate = new Promise<void>((resolve) => (open = resolve))
  const client = { create: async (_info: unknown, obj: any) => {
    await gate
    posted.push(obj)
    return obj
  } } as unknown as RestClient
  const r = new ProblemReporter({ client, nodeName: 'node-7', log })
  const svc: V1Service = { metadata: { namespace: 'ns', name: 'web' } }
  const problems = Array.from({ length: MAX_QUEUED + 5 }, (_, i) => ({ reason: 'InvalidServiceField', message: `problem ${i}` }))
  t.equal(r.set('ns/web', 'fields', svc, problems).length, MAX_QUEUED + 5, 'every one is new, and logged')
  t.equal(warnings.filter((w) => /too many Events waiting/.test(w)).length, 5, 'the ones past the cap are only logged')
  open()
  await r.flush()
  t.equal(posted.length, MAX_QUEUED, 'the queued ones are posted once the API answers')
  t.match(posted.at(-1), { message: `problem ${MAX_QUEUED - 1}` })
  r.set('ns/web', 'fields', svc, [{ reason: 'InvalidServiceField', message: 'later' }])
  await r.flush()
  t.equal(posted.length, MAX_QUEUED + 1, 'with the queue drained, Events are posted again')
})

t.test('Nodes: the kind, the log field and the component are the reporter\'s', async (t) => {
  const posted: any[] = []
  const client = { create: async (_info: unknown, obj: any) => (posted.push(obj), obj) } as unknown as RestClient
  const fields: unknown[] = []
  const log = { warn: (f: unknown) => void fields.push(f) } as unknown as Logger
  const r = new ProblemReporter({ client, nodeName: 'node-1', log, kind: 'Node', component: 'weft-agent' })
  r.set('usurper', 'networks', { metadata: { name: 'usurper', uid: 'u9' } }, [{ reason: 'InvalidNodeNetwork', message: 'overlaps' }])
  await r.flush()
  t.match(posted[0], { reason: 'InvalidNodeNetwork', involvedObject: { kind: 'Node', name: 'usurper', uid: 'u9' }, source: { component: 'weft-agent', host: 'node-1' }, reportingInstance: 'weft-agent-node-1' })
  t.same(fields, [{ node: 'usurper', reason: 'InvalidNodeNetwork' }])
})
