// Shared plumbing for the DNS tests: a fake upstream resolver on loopback, a clock to inject,
// and a reader of framed TCP replies.
import { createSocket, type Socket as UdpSocket } from 'node:dgram'
import { createServer, type Server, type Socket } from 'node:net'
import type { Test } from 'tap'
import { Rcode, type Message } from '../../dns/records.ts'
import { frame, FrameReader } from '../../dns/tcp-frames.ts'
import { encodeMessage, parseQuery, type ParsedQuery } from '../../dns/wire.ts'

export type Transport = 'udp' | 'tcp'

/** One query the fake upstream received. */
export interface Asked {
  id: number
  /** As sent (case kept); '' for the root (the forwarder's `. NS` health probe). */
  name: string
  type: number
  rd: boolean
  transport: Transport
  /** The sender's port. */
  port: number
}

/** What the fake sends back to one query: messages in order (none: silence), now or later. */
export type UpstreamBehaviour = (q: ParsedQuery, transport: Transport) => Buffer[] | Promise<Buffer[]>

export interface FakeUpstream {
  port: number
  /** `127.0.0.1:PORT`, as the forwarder's upstreams take it. */
  address: string
  /** Every query received, in order of arrival (recorded before the behaviour runs). */
  asked: Asked[]
  /** May be swapped during a test. */
  behaviour: UpstreamBehaviour
  udp: UdpSocket
  /** The names asked, lower case, in order, without the health probe. */
  names(): string[]
}

/**
 * A fake DNS server on 127.0.0.1, UDP and TCP on one free port (if the UDP port picked is taken
 * for TCP, another). Bytes that are not a query get no reply and are not recorded. Closed at
 * the end of `t`.
 */
export async function fakeUpstream(t: Test, behaviour: UpstreamBehaviour): Promise<FakeUpstream> {
  let udp: UdpSocket
  let tcp: Server
  for (;;) {
    udp = createSocket('udp4')
    await new Promise<void>((resolve) => udp.bind(0, '127.0.0.1', resolve))
    tcp = createServer()
    const port = udp.address().port
    const ok = await new Promise<boolean>((resolve) => {
      tcp.once('error', () => resolve(false))
      tcp.listen(port, '127.0.0.1', () => resolve(true))
    })
    if (ok) break
    udp.close()
  }
  const port = udp.address().port
  // A test that puts a thousand queries in flight must not lose some to the default receive
  // buffer while its process waits for a core (3 test files on 2 cores dropped 16 of 1,000).
  try {
    udp.setRecvBufferSize(4 * 1024 * 1024)
  } catch {
    // the kernel's default stays
  }
  const asked: Asked[] = []
  const up: FakeUpstream = {
    port,
    address: `127.0.0.1:${port}`,
    asked,
    behaviour,
    udp,
    names: () => asked.filter((a) => a.name !== '').map((a) => a.name.toLowerCase()),
  }
  let closed = false
  /** The behaviour runs in the same turn the query arrived in (seeded suites rely on that order). */
  const handle = (raw: Buffer, transport: Transport, from: number): Buffer[] | Promise<Buffer[]> => {
    let q: ParsedQuery
    try {
      q = parseQuery(raw)
    } catch {
      return []
    }
    asked.push({ id: q.id, name: q.name, type: q.type, rd: q.rd, transport, port: from })
    return up.behaviour(q, transport)
  }
  udp.on('message', async (raw, rinfo) => {
    for (const out of await handle(raw, 'udp', rinfo.port)) if (!closed) udp.send(out, rinfo.port, rinfo.address)
  })
  const conns = new Set<Socket>()
  tcp.on('connection', (conn) => {
    conns.add(conn)
    conn.on('close', () => conns.delete(conn))
    conn.on('error', () => {})
    const reader = new FrameReader()
    conn.on('data', (chunk: Buffer) => {
      reader.push(chunk)
      for (let m = reader.next(); m !== undefined; m = reader.next()) {
        void Promise.resolve(handle(Buffer.from(m), 'tcp', conn.remotePort ?? 0)).then((out) => {
          for (const r of out) if (!conn.destroyed) conn.write(frame(r))
        })
      }
    })
  })
  t.teardown(() => {
    closed = true
    udp.close()
    for (const c of conns) c.destroy()
    tcp.close()
  })
  return up
}

/** A reply to `q`: its id (unless `id`), question (its name unless `name`), RD and CD; NOERROR and no records unless said. */
export function replyTo(q: ParsedQuery, rest: Partial<Message> & { rcode?: number; tc?: boolean; name?: string; id?: number } = {}): Buffer {
  return encodeMessage({
    id: rest.id ?? q.id,
    flags: { qr: true, opcode: 0, aa: false, tc: rest.tc ?? false, rd: q.rd, ra: true, ad: false, cd: q.cd, rcode: rest.rcode ?? Rcode.NOERROR },
    questions: rest.questions ?? [{ name: rest.name ?? q.name, type: q.type, class: q.class }],
    answers: rest.answers ?? [],
    authority: rest.authority ?? [],
    additional: rest.additional ?? [],
    edns: rest.edns,
  })
}

/** A clock to inject where code takes `now: () => number`; moves only when told. */
export function clock(start = 1_000_000): { now: () => number; advance: (ms: number) => void } {
  let now = start
  return { now: () => now, advance: (ms) => (now += ms) }
}

/** Collects framed replies from `c` until `count` arrived or the connection closed; bounded by `ms`. */
export function replies(c: Socket, count: number, ms = 5000): Promise<Buffer[]> {
  return new Promise((resolve) => {
    const out: Buffer[] = []
    const reader = new FrameReader()
    const finish = () => {
      clearTimeout(timer)
      c.off('data', onData)
      c.off('close', finish)
      resolve(out)
    }
    const timer = setTimeout(finish, ms)
    const onData = (chunk: Buffer) => {
      reader.push(chunk)
      for (let m = reader.next(); m !== undefined; m = reader.next()) out.push(m)
      if (out.length >= count) finish()
    }
    c.on('data', onData)
    c.once('close', finish)
  })
}
