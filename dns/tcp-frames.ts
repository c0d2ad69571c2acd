// DNS over TCP (RFC 1035 §4.2.2): each message behind a two-byte length.

export function frame(message: Uint8Array): Buffer {
  const framed = Buffer.allocUnsafe(message.length + 2)
  framed.writeUInt16BE(message.length, 0)
  framed.set(message, 2)
  return framed
}

/** Collects stream chunks and hands out the whole messages in them. */
export class FrameReader {
  #pending: Buffer = Buffer.alloc(0)

  push(chunk: Buffer): Buffer[] {
    this.#pending = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk])
    const messages: Buffer[] = []
    while (this.#pending.length >= 2) {
      const length = this.#pending.readUInt16BE(0)
      if (this.#pending.length < 2 + length) break
      messages.push(this.#pending.subarray(2, 2 + length))
      this.#pending = this.#pending.subarray(2 + length)
    }
    return messages
  }
}
