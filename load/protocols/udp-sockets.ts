// The connected UDP sockets of the UDP echo and DNS clients: `connections` slots spread over the
// target's endpoints, each a socket connect()ed to its endpoint (so the kernel filters what
// comes back, and an ICMP port unreachable surfaces as ECONNREFUSED), opened on demand, picked
// round-robin. A host name is resolved once, at its first use. A slot that cannot open (the
// name does not resolve, no route) waits RETRY_DELAY_MS before it tries again.
import { createSocket, type Socket } from 'node:dgram'
import { lookup } from 'node:dns/promises'
import { isIP } from 'node:net'
import type { ErrorClass, TargetEndpoint } from '../types.ts'
import { errnoClass } from './errno-class.ts'

export const RETRY_DELAY_MS = 100
/** Asked of the kernel for each socket (it grants at most net.core.rmem_max): a burst of answers must not be dropped before node reads them. */
const RECEIVE_BUFFER_BYTES = 4 * 1024 * 1024

export interface UdpSlot {
  readonly index: number
  readonly endpoint: TargetEndpoint
  socket: Socket | undefined
  opening: boolean
  /** Connected: datagrams may be sent. */
  ready: boolean
  retryAtMs: number
}

export interface UdpSocketEvents<S extends UdpSlot> {
  ready(slot: S): void
  message(slot: S, message: Buffer): void
  /** An error on an open socket, from a send or a receive (ECONNREFUSED: the endpoint's port is closed). The socket stays open. */
  error(slot: S, err: Error): void
  /** The slot could not open; `othersOpen`: another slot is open or opening. */
  openFailed(slot: S, error: ErrorClass, othersOpen: boolean): void
}

interface Address {
  address: string
  family: 4 | 6
}

export class UdpSockets<S extends UdpSlot> {
  readonly slots: S[]
  readonly #events: UdpSocketEvents<S>
  readonly #addresses = new Map<string, Promise<Address>>()
  readonly #afterSend = new Map<S, (err: Error | null) => void>()
  #cursor = 0
  #closed = false
  /** No closed slot may open before this (0: look at them all). */
  #nextRetryMs = 0

  constructor(endpoints: TargetEndpoint[], count: number, makeSlot: (index: number, endpoint: TargetEndpoint) => S, events: UdpSocketEvents<S>) {
    this.slots = Array.from({ length: count }, (_, i) => makeSlot(i, endpoints[i % endpoints.length]))
    this.#events = events
    for (const slot of this.slots) {
      this.#afterSend.set(slot, (err) => {
        if (err && slot.ready && !this.#closed) this.#events.error(slot, err)
      })
    }
  }

  /** Opens every slot that is neither open nor opening nor waiting to retry. */
  openMissing(now: number): void {
    if (this.#closed || now < this.#nextRetryMs) return
    let nextRetry = Infinity
    for (const slot of this.slots) {
      if (slot.socket !== undefined || slot.opening) continue
      if (slot.retryAtMs > now) nextRetry = Math.min(nextRetry, slot.retryAtMs)
      else this.#open(slot)
    }
    this.#nextRetryMs = nextRetry === Infinity ? 0 : nextRetry
  }

  /**
   * Sends on a ready slot. A send can fail with the error an earlier datagram caused (the
   * kernel reports a pending ICMP error on the next call), which node only passes to a
   * callback: hence one callback per socket.
   */
  send(slot: S, datagram: Buffer): void {
    slot.socket!.send(datagram, this.#afterSend.get(slot))
  }

  /** The next ready slot (round-robin) that `canTake` accepts. */
  pick(canTake: (slot: S) => boolean): S | undefined {
    const slots = this.slots
    for (let i = 0; i < slots.length; i++) {
      const index = (this.#cursor + i) % slots.length
      const slot = slots[index]
      if (slot.ready && canTake(slot)) {
        this.#cursor = index + 1
        return slot
      }
    }
    return undefined
  }

  async close(): Promise<void> {
    this.#closed = true
    const closing: Promise<void>[] = []
    for (const slot of this.slots) {
      const socket = slot.socket
      slot.socket = undefined
      slot.ready = false
      if (socket !== undefined) closing.push(new Promise((resolve) => socket.close(() => resolve())))
    }
    await Promise.all(closing)
  }

  #resolve(host: string): Promise<Address> {
    let address = this.#addresses.get(host)
    if (address === undefined) {
      const family = isIP(host)
      address = family !== 0 ? Promise.resolve({ address: host, family: family as 4 | 6 }) : lookup(host).then((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }))
      this.#addresses.set(host, address)
    }
    return address
  }

  #open(slot: S): void {
    slot.opening = true
    this.#resolve(slot.endpoint.host).then(
      ({ address, family }) => {
        if (this.#closed) return
        const socket = createSocket(family === 6 ? 'udp6' : 'udp4')
        slot.socket = socket
        socket.on('message', (message) => {
          if (slot.socket === socket) this.#events.message(slot, message)
        })
        socket.on('error', (err) => {
          if (slot.socket !== socket) return
          if (slot.ready) this.#events.error(slot, err)
          else this.#openFailed(slot, errnoClass(err) === 'other' ? 'connect' : errnoClass(err))
        })
        socket.connect(slot.endpoint.port, address, (err?: Error) => {
          if (slot.socket !== socket) return
          if (err) return this.#openFailed(slot, errnoClass(err) === 'other' ? 'connect' : errnoClass(err))
          try {
            socket.setRecvBufferSize(RECEIVE_BUFFER_BYTES)
          } catch {
            // The kernel's default stays: answers beyond it are dropped and time out.
          }
          slot.opening = false
          slot.ready = true
          this.#events.ready(slot)
        })
      },
      (err: unknown) => {
        // The next attempt asks the resolver again.
        this.#addresses.delete(slot.endpoint.host)
        if (!this.#closed) this.#openFailed(slot, errnoClass(err) === 'other' ? 'name-resolution' : errnoClass(err))
      },
    )
  }

  #openFailed(slot: S, error: ErrorClass): void {
    const socket = slot.socket
    slot.socket = undefined
    slot.opening = false
    slot.ready = false
    socket?.close()
    slot.retryAtMs = performance.now() + RETRY_DELAY_MS
    this.#nextRetryMs = 0
    const othersOpen = this.slots.some((other) => other !== slot && (other.ready || other.opening))
    this.#events.openFailed(slot, error, othersOpen)
  }
}
