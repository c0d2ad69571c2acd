// weft load's DNS client: UDP queries for target.dns (a name and a type) to the target's
// endpoints (the cluster DNS), many in flight per socket. The query is encoded once with the
// project's codec (dns/wire.ts: RD set, EDNS0 with a 1232-byte UDP size) and only its id is
// patched per query. An answer ends the query with the same id on the same socket when it is
// a response that decodes (else 'protocol') and repeats the question (else 'dns-other');
// then its RCODE decides: NOERROR is a success (with or without records), SERVFAIL, NXDOMAIN
// and REFUSED have their classes, any other RCODE is 'dns-other'. A truncated answer (TC) is
// 'dns-other' too: a real resolver would have to ask again over TCP, which this client does not.
//
// An ICMP port unreachable ends every query in flight on that socket as 'refused' (see
// udp.ts); no answer within the timeout: 'timeout'. DNS answers do not say which server
// instance answered, so this client reports no endpoint.
import type { ClientFactory, ClientOptions, ErrorClass, LoadClient, RequestSink } from '../types.ts'
import { Rcode, RRClass, RRType } from '../../dns/records.ts'
import { decodeMessage, encodeMessage, nameLabels, parseQuery, WireError } from '../../dns/wire.ts'
import { checkClientOptions } from './check-options.ts'
import { Deadlines, sweepIntervalMs, type Timed } from './deadlines.ts'
import { QueryIds } from './dns-ids.ts'
import { errnoClass } from './errno-class.ts'
import { Fifo } from './fifo.ts'
import { UdpSockets, type UdpSlot } from './udp-sockets.ts'

/** The UDP payload size the queries advertise (EDNS0): the DNS flag day 2020 value. */
export const EDNS_UDP_SIZE = 1232

const notAskable = new Set(['OPT', 'IXFR', 'AXFR'])

/** The number of a question type: a mnemonic (A, AAAA, SRV, TXT, PTR, CNAME, NS, SOA, MX, ANY) or TYPEnnn (RFC 3597). */
export function questionType(text: string): number {
  if (typeof text !== 'string') throw new Error('the DNS question type must be a string')
  const upper = text.toUpperCase()
  if (notAskable.has(upper)) throw new Error(`DNS question type ${text} cannot be asked over UDP by a load test`)
  if (Object.hasOwn(RRType, upper)) return RRType[upper as keyof typeof RRType]
  const generic = /^TYPE(\d{1,5})$/.exec(upper)
  if (generic !== null && Number(generic[1]) >= 1 && Number(generic[1]) <= 65535) {
    const type = Number(generic[1])
    if (type === RRType.OPT || type === RRType.AXFR || type === RRType.IXFR) throw new Error(`DNS question type ${text} cannot be asked over UDP by a load test`)
    return type
  }
  throw new Error(`DNS question type ${JSON.stringify(text)} is not known; use A, AAAA, SRV, TXT, PTR, CNAME, NS, SOA, MX, ANY or TYPEnnn`)
}

/** The query for `name`/`type` with id 0, and the question as it will read when decoded. */
export function encodeQuery(name: string, type: string): { bytes: Buffer; name: string; type: number } {
  if (typeof name !== 'string' || name === '' || name === '.') throw new Error(`DNS question name ${JSON.stringify(name)} must be a domain name`)
  try {
    nameLabels(name)
  } catch (err) {
    throw new Error(`DNS question name: ${(err as WireError).message}`)
  }
  const typeNumber = questionType(type)
  const bytes = encodeMessage({
    id: 0,
    flags: { qr: false, opcode: 0, aa: false, tc: false, rd: true, ra: false, ad: false, cd: false, rcode: 0 },
    questions: [{ name, type: typeNumber, class: RRClass.IN }],
    answers: [],
    authority: [],
    additional: [],
    edns: { udpSize: EDNS_UDP_SIZE, version: 0, dnssecOk: false, extendedRcode: 0, options: [] },
  })
  return { bytes, name: parseQuery(bytes).lowerName, type: typeNumber }
}

interface DnsQuery extends Timed {
  token: number
  slot: DnsSlot | undefined
  id: number
}

interface DnsSlot extends UdpSlot {
  ids: QueryIds<DnsQuery>
}

/** What an answer's RCODE (and TC bit) make of a query. */
function rcodeClass(rcode: number, truncated: boolean): ErrorClass | undefined {
  switch (rcode) {
    case Rcode.NOERROR:
      return truncated ? 'dns-other' : undefined
    case Rcode.SERVFAIL:
      return 'dns-servfail'
    case Rcode.NXDOMAIN:
      return 'dns-nxdomain'
    case Rcode.REFUSED:
      return 'dns-refused'
    default:
      return 'dns-other'
  }
}

class DnsClient implements LoadClient {
  readonly #sink: RequestSink
  readonly #query: Buffer
  readonly #name: string
  readonly #type: number
  readonly #timeoutMs: number
  readonly #sockets: UdpSockets<DnsSlot>
  readonly #queue = new Fifo<DnsQuery>()
  readonly #deadlines: Deadlines<DnsQuery>
  readonly #timer: NodeJS.Timeout
  #inFlight = 0
  #closed = false

  constructor(options: ClientOptions, query: { bytes: Buffer; name: string; type: number }) {
    this.#sink = options.sink
    this.#query = query.bytes
    this.#name = query.name
    this.#type = query.type
    this.#timeoutMs = options.timeoutMs
    this.#deadlines = new Deadlines(options.timeoutMs)
    this.#sockets = new UdpSockets<DnsSlot>(
      options.target.endpoints,
      options.connections,
      (index, endpoint) => ({ index, endpoint, socket: undefined, opening: false, ready: false, retryAtMs: 0, ids: new QueryIds() }),
      {
        ready: () => this.#pump(),
        message: (slot, message) => this.#answer(slot, message),
        error: (slot, err) => this.#failSocket(slot, errnoClass(err)),
        openFailed: (_slot, error, othersOpen) => {
          if (othersOpen) return
          for (const query of this.#queue.drain()) if (!query.done) this.#finish(query, error)
        },
      },
    )
    this.#timer = setInterval(() => this.#tick(), sweepIntervalMs(options.timeoutMs))
    this.#timer.unref()
  }

  get inFlight(): number {
    return this.#inFlight
  }

  send(token: number): void {
    if (this.#closed) return
    const query: DnsQuery = { token, startMs: performance.now(), done: false, slot: undefined, id: -1 }
    this.#inFlight++
    this.#deadlines.add(query)
    if (this.#queue.length === 0 && this.#start(query)) return
    this.#queue.push(query)
    this.#sockets.openMissing(query.startMs)
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    clearInterval(this.#timer)
    this.#queue.drain()
    this.#deadlines.clear()
    for (const slot of this.#sockets.slots) slot.ids.clear()
    this.#inFlight = 0
    await this.#sockets.close()
  }

  #start(query: DnsQuery): boolean {
    const slot = this.#sockets.pick((s) => !s.ids.full)
    if (slot === undefined) return false
    const id = slot.ids.take(query)
    query.slot = slot
    query.id = id
    const datagram = Buffer.allocUnsafe(this.#query.length)
    this.#query.copy(datagram)
    datagram[0] = id >> 8
    datagram[1] = id & 0xff
    this.#sockets.send(slot, datagram)
    return true
  }

  #pump(): void {
    const queue = this.#queue
    // Requests that already ended (timed out while queued) leave without starting.
    queue.shiftWhile((query) => query.done || this.#start(query))
    if (queue.length > 0) this.#sockets.openMissing(performance.now())
  }

  #finish(query: DnsQuery, error: ErrorClass | undefined): void {
    query.done = true
    this.#inFlight--
    this.#sink.done(query.token, error, undefined)
  }

  /** The class of an answer to one of this client's queries. */
  #judge(message: Buffer): ErrorClass | undefined {
    let decoded
    try {
      decoded = decodeMessage(message)
    } catch {
      return 'protocol'
    }
    const { flags, questions } = decoded
    if (questions.length === 0 && flags.rcode !== Rcode.NOERROR) return rcodeClass(flags.rcode, flags.tc)
    if (questions.length !== 1) return 'dns-other'
    const [question] = questions
    if (question.type !== this.#type || question.class !== RRClass.IN || question.name.toLowerCase() !== this.#name) return 'dns-other'
    if (flags.opcode !== 0) return 'dns-other'
    return rcodeClass(flags.rcode, flags.tc)
  }

  #answer(slot: DnsSlot, message: Buffer): void {
    if (this.#closed || message.length < 12 || (message[2] & 0x80) === 0) return
    const id = (message[0] << 8) | message[1]
    const query = slot.ids.get(id)
    if (query === undefined || query.done) return
    slot.ids.release(id)
    this.#finish(query, this.#judge(message))
    if (this.#queue.length > 0) this.#pump()
  }

  /** Ends every query in flight on `slot`: the socket reported an error for datagrams it cannot name. */
  #failSocket(slot: DnsSlot, error: ErrorClass): void {
    if (this.#closed) return
    const failed: DnsQuery[] = []
    for (const query of slot.ids.items()) if (!query.done) failed.push(query)
    for (const query of failed) {
      slot.ids.release(query.id)
      this.#finish(query, error)
    }
    if (this.#queue.length > 0) this.#pump()
  }

  #tick(): void {
    if (this.#closed) return
    const now = performance.now()
    this.#deadlines.sweep(now, (query) => {
      query.slot?.ids.quarantine(query.id, now + this.#timeoutMs)
      this.#finish(query, 'timeout')
    })
    for (const slot of this.#sockets.slots) slot.ids.expire(now)
    if (this.#queue.length > 0) this.#pump()
  }
}

export const createDnsClient: ClientFactory = (options) => {
  checkClientOptions(options, 'dns')
  const question = options.target.dns
  if (typeof question !== 'object' || question === null) throw new Error('a DNS target needs a question: dns.name and dns.type')
  return new DnsClient(options, encodeQuery(question.name, question.type))
}
