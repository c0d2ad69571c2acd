import t from 'tap'
import { endpointFromReply } from '../../load/protocols/identify.ts'

t.test('weft/echo JSON names the pod', async (t) => {
  t.equal(endpointFromReply(Buffer.from('{"pod":"web-7c9f-abcde","namespace":"default"}\n')), 'web-7c9f-abcde')
  t.equal(endpointFromReply('{"namespace":"x","pod":"a"}'), 'a')
})

t.test('a bare hostname (agnhost /hostname, serve-hostname)', async (t) => {
  t.equal(endpointFromReply(Buffer.from('web-0')), 'web-0')
  t.equal(endpointFromReply('web-0\n'), 'web-0')
})

t.test('anything else names no endpoint', async (t) => {
  t.equal(endpointFromReply(Buffer.alloc(0)), undefined)
  t.equal(endpointFromReply('hello world'), undefined)
  t.equal(endpointFromReply('<html>'), undefined)
  t.equal(endpointFromReply('{"pod":"bad name"}'), undefined)
  t.equal(endpointFromReply('{"pod":"' + 'a'.repeat(300) + '"}'), undefined)
  t.equal(endpointFromReply('x'.repeat(300)), undefined)
  t.equal(endpointFromReply('{"other":1}'), undefined)
})
