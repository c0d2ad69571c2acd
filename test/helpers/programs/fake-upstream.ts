// A stand-in for the world's DNS, for end-to-end tests run inside a namespace:
// `fake-upstream.ts HOST PORT` answers UDP queries: `*.example.test` A 192.0.2.10 (other types:
// NODATA), anything under `silent.test` never, everything else NXDOMAIN with an SOA of TTL
// 3600. Prints `QNAME TYPE` per query received.
import { createSocket } from 'node:dgram'
import { Rcode, RRType } from '../../../dns/records.ts'
import { decodeMessage, encodeMessage } from '../../../dns/wire.ts'

const [host, port] = process.argv.slice(2) as [string, string]
const socket = createSocket(host.includes(':') ? 'udp6' : 'udp4')
const soa = { name: 'test', type: RRType.SOA, class: 1, ttl: 3600, data: { mname: 'ns.test', rname: 'hostmaster.test', serial: 1, refresh: 3600, retry: 600, expire: 86400, minimum: 3600 } }
socket.on('message', (bytes, rinfo) => {
  let query
  try {
    query = decodeMessage(bytes)
  } catch {
    return
  }
  const q = query.questions[0]
  if (!q) return
  const name = q.name.toLowerCase()
  process.stdout.write(`${name} ${q.type}\n`)
  if (name === 'silent.test' || name.endsWith('.silent.test')) return
  const known = name.endsWith('.example.test')
  const answers = known && q.type === RRType.A ? [{ name: q.name, type: RRType.A, class: 1, ttl: 60, data: { address: '192.0.2.10' } }] : []
  const reply = encodeMessage({
    id: query.id,
    flags: { qr: true, opcode: 0, aa: true, tc: false, rd: query.flags.rd, ra: true, ad: false, cd: false, rcode: known ? Rcode.NOERROR : Rcode.NXDOMAIN },
    questions: query.questions,
    answers,
    authority: answers.length === 0 ? [soa] : [],
    additional: [],
    edns: query.edns ? { udpSize: 1232, version: 0, dnssecOk: false, extendedRcode: 0, options: [] } : undefined,
  })
  socket.send(reply, rinfo.port, rinfo.address)
})
socket.bind(Number(port), host, () => process.stdout.write('listening\n'))
