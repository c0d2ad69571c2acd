// The UDP listener that reads and answers queries in batches through the native addon
// (dns/native/udp-batch.c: recvmmsg/sendmmsg, one call into JavaScript per batch), built on
// `npm install` when a C compiler and node-gyp are there. Without it DnsServer uses Node's
// dgram (one Buffer, rinfo object, event and send request per packet: measured at about
// 14 µs of CPU per query on loopback against dnsmasq's 6, so the JS path alone cannot
// reach dnsmasq's rate; see bench/dns/README.md).
//
// Memory shared with the addon, per socket: `in` and `out`, BATCH slots of SLOT bytes each,
// and `meta` (Int32): for received message i, meta[i*8 .. i*8+7] = length, truncated (the
// datagram was longer than SLOT), family (4 or 6), port, address (4 or 16 bytes); after
// them, for reply j, meta[BATCH*8 + j*2] = its length, and + 1 = the message it answers.
// Replies are written into `out` and sent before the next batch is read, so one buffer
// serves every reply of the thread.
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import type { QueryHandler } from './handler.ts'

const SLOT = 4096
const BATCH = 64
const META = 8
/** SO_RCVBUF asked for (the kernel caps it at net.core.rmem_max): a burst of queries waits there. */
export const RECEIVE_BUFFER = 4 << 20

interface Binding {
  open(host: string, port: number, ipv6: boolean, v6only: boolean, reusePort: boolean, receiveBuffer: number, inBuf: Uint8Array, outBuf: Uint8Array, meta: Int32Array, slot: number, batch: number, onBatch: (count: number) => number): object
  port(handle: object): number
  sendTo(handle: object, bytes: Uint8Array, family: number, address: Uint8Array, port: number): boolean
  close(handle: object): void
}

const addonPath = new URL('./native/build/Release/udp_batch.node', import.meta.url).pathname
let binding: Binding | null | undefined

/** The addon, or undefined when it was not built (or does not load). */
export function udpBatchAddon(): Binding | undefined {
  if (binding === undefined) {
    binding = null
    if (existsSync(addonPath)) {
      try {
        binding = createRequire(import.meta.url)(addonPath) as Binding
      } catch (err) {
        process.emitWarning(`dns: the UDP batch addon ${addonPath} does not load (${(err as Error).message}); answering UDP through node:dgram`)
      }
    }
  }
  return binding ?? undefined
}

/** The client's address as Node's dgram gives it (IPv4-mapped IPv6 as ::ffff:a.b.c.d). */
function addressText(bytes: Uint8Array, at: number, family: number): string {
  if (family === 4) return `${bytes[at]}.${bytes[at + 1]}.${bytes[at + 2]}.${bytes[at + 3]}`
  let mapped = bytes[at + 10] === 0xff && bytes[at + 11] === 0xff
  for (let i = 0; i < 10 && mapped; i++) mapped = bytes[at + i] === 0
  if (mapped) return `::ffff:${bytes[at + 12]}.${bytes[at + 13]}.${bytes[at + 14]}.${bytes[at + 15]}`
  const groups: string[] = []
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[at + i] << 8) | bytes[at + i + 1]).toString(16))
  return groups.join(':')
}

export class BatchUdpSocket {
  readonly port: number
  #addon: Binding
  #handle: object
  #closed = false

  /** Binds HOST:PORT (throws an Error with `code` EADDRINUSE and the like when it cannot). */
  constructor(addon: Binding, handler: QueryHandler, host: string, port: number, reusePort: boolean) {
    this.#addon = addon
    const ipv6 = host.includes(':')
    const inBuf = Buffer.alloc(SLOT * BATCH)
    const outBuf = Buffer.alloc(SLOT * BATCH)
    const meta = new Int32Array(BATCH * (META + 2))
    const metaBytes = new Uint8Array(meta.buffer)
    const inViews = Array.from({ length: BATCH }, (_, i) => inBuf.subarray(i * SLOT, (i + 1) * SLOT))
    const outViews = Array.from({ length: BATCH }, (_, i) => outBuf.subarray(i * SLOT, (i + 1) * SLOT))
    const replies = BATCH * META
    const onBatch = (count: number): number => {
      let sent = 0
      for (let i = 0; i < count; i++) {
        const m = i * META
        // Longer than a slot: the kernel cut it, and no DNS client sends such a query over UDP.
        if (meta[m + 1] !== 0) continue
        const length = meta[m]
        const family = meta[m + 2]
        const out = outViews[sent]
        let size = handler.answerUdp(inViews[i], length, out, family === 6)
        if (size < 0) {
          // The slow path may answer later, when this slot holds another query: it gets a copy.
          const reply = handler.handle(Buffer.from(inBuf.subarray(i * SLOT, i * SLOT + length)), addressText(metaBytes, (m + 4) * 4, family), 'udp')
          if (reply === undefined) continue
          if (reply instanceof Promise) {
            const address = metaBytes.slice((m + 4) * 4, (m + 4) * 4 + (family === 4 ? 4 : 16))
            const clientPort = meta[m + 3]
            void reply.then((r) => {
              if (r && !this.#closed) this.#addon.sendTo(this.#handle, r, family, address, clientPort)
            })
            continue
          }
          if (reply.length > SLOT) {
            this.#addon.sendTo(this.#handle, reply, family, metaBytes.subarray((m + 4) * 4, (m + 8) * 4), meta[m + 3])
            continue
          }
          out.set(reply)
          size = reply.length
        }
        meta[replies + sent * 2] = size
        meta[replies + sent * 2 + 1] = i
        sent++
      }
      return sent
    }
    this.#handle = addon.open(host, port, ipv6, ipv6 && host !== '::', reusePort, RECEIVE_BUFFER, inBuf, outBuf, meta, SLOT, BATCH, onBatch)
    this.port = addon.port(this.#handle)
  }

  close(): void {
    if (this.#closed) return
    this.#closed = true
    this.#addon.close(this.#handle)
  }
}
