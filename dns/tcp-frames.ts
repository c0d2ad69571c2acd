// DNS over TCP (RFC 1035 §4.2.2): each message behind a two-byte length.

export function frame(message: Uint8Array): Buffer {
  const framed = Buffer.allocUnsafe(message.length + 2)
  framed.writeUInt16BE(message.length, 0)
  framed.set(message, 2)
  return framed
}

/**
 * Collects stream chunks and hands out whole messages one at a time (the reader decides when
 * to take the next, so it can stop while its peer is not reading the replies). A message that
 * arrives within one chunk is handed out without a copy; one that arrives in pieces is copied
 * once into a buffer of its announced size, so a peer trickling bytes costs linear work.
 */
export class FrameReader {
  /** Chunks (or their unread tails) not consumed yet. */
  #queue: Buffer[] = []
  /** The first length byte, when a chunk ended between the two. */
  #head = -1
  /** The message being filled, and how much of it is. */
  #body: Buffer | undefined
  #filled = 0

  push(chunk: Buffer): void {
    if (chunk.length > 0) this.#queue.push(chunk)
  }

  /** The next whole message, or undefined until one has arrived. */
  next(): Buffer | undefined {
    for (;;) {
      if (this.#body && this.#filled === this.#body.length) {
        const message = this.#body
        this.#body = undefined
        return message
      }
      const chunk = this.#queue[0]
      if (!chunk) return undefined
      let at = 0
      if (!this.#body) {
        if (this.#head >= 0) {
          this.#body = Buffer.allocUnsafe((this.#head << 8) | chunk[0])
          this.#head = -1
          at = 1
        } else if (chunk.length === 1) {
          this.#head = chunk[0]
          this.#consume(1)
          continue
        } else {
          const size = chunk.readUInt16BE(0)
          if (chunk.length >= 2 + size) {
            this.#consume(2 + size)
            return chunk.subarray(2, 2 + size)
          }
          this.#body = Buffer.allocUnsafe(size)
          at = 2
        }
        this.#filled = 0
      }
      const n = Math.min(this.#body.length - this.#filled, chunk.length - at)
      chunk.copy(this.#body, this.#filled, at, at + n)
      this.#filled += n
      this.#consume(at + n)
    }
  }

  #consume(n: number): void {
    const chunk = this.#queue[0]
    if (n >= chunk.length) this.#queue.shift()
    else this.#queue[0] = chunk.subarray(n)
  }
}
