// Closing the listeners while forwarded queries are still out (a shutdown, a query thread
// stopping): their answers come back to closed sockets, which must not take the process down.
import { createSocket } from 'node:dgram'
import { connect } from 'node:net'
import t from 'tap'
import { Registry } from 'prom-client'
import { CachedForwarder } from '../../dns/forwarding.ts'
import { defaultForwarderOptions, Forwarder } from '../../dns/forwarder.ts'
import { QueryHandler } from '../../dns/handler.ts'
import { DnsMetrics } from '../../dns/metrics.ts'
import { RRClass, RRType } from '../../dns/records.ts'
import { defaultCacheOptions, ResponseCache } from '../../dns/response-cache.ts'
import { DnsServer } from '../../dns/server.ts'
import { frame } from '../../dns/tcp-frames.ts'
import { encodeMessage } from '../../dns/wire.ts'
import { buildZoneIndex, defaultZoneConfig } from '../../dns/zone-index.ts'
import { openFdCount } from '../helpers/fuzz.ts'

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

t.test('answers that arrive after close() are dropped, nothing crashes, nothing stays open', async (t) => {
  const fds = openFdCount()
  const silent = createSocket('udp4')
  await new Promise<void>((resolve) => silent.bind(0, '127.0.0.1', resolve))
  const forwarding = new CachedForwarder(
    new Forwarder({ ...defaultForwarderOptions, upstreams: [`127.0.0.1:${silent.address().port}`], timeoutMs: 300 }, new Registry()),
    new ResponseCache(defaultCacheOptions),
  )
  const handler = new QueryHandler(buildZoneIndex({ services: [], slices: [], pods: [] }, defaultZoneConfig), {
    metrics: new DnsMetrics('dns://:0', { processMetrics: false }),
    autopath: false,
    hostSearch: [],
    forwarding,
  })
  const server = new DnsServer(handler, { listen: ['127.0.0.1:0'] })
  const [{ port }] = await server.start()
  const query = encodeMessage({
    id: 1,
    flags: { qr: false, opcode: 0, aa: false, tc: false, rd: true, ra: false, ad: false, cd: false, rcode: 0 },
    questions: [{ name: 'example.com', type: RRType.A, class: RRClass.IN }],
    answers: [],
    authority: [],
    additional: [],
  })
  const client = createSocket('udp4')
  client.send(query, port, '127.0.0.1')
  const tcp = connect(port, '127.0.0.1')
  tcp.on('error', () => {})
  await new Promise<void>((resolve) => tcp.once('connect', () => resolve()))
  tcp.write(frame(query))
  await sleep(50)
  await server.close()
  // The forwarder's deadline passes: both queries get their SERVFAIL, with nowhere to go.
  await sleep(500)
  t.pass('still running after the answers came back')
  client.close()
  tcp.destroy()
  silent.close()
  await forwarding.close()
  await sleep(50)
  t.equal(openFdCount(), fds, 'fds back to where they were')
})
