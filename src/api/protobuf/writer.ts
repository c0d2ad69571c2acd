// A protobuf writer into one growing buffer. A length-delimited run (a string, bytes, a
// nested message) is written in place after a one-byte length; a run of 128 bytes or more
// then moves right by the few bytes its longer length needs. Most runs in Kubernetes
// objects are short, so almost nothing moves.
import { WireType } from './reader.ts'

const utf8 = new TextEncoder()

export class ProtoWriter {
  #buf: Uint8Array
  #pos = 0

  constructor(initialSize = 1024) {
    this.#buf = new Uint8Array(initialSize)
  }

  get length(): number {
    return this.#pos
  }

  /** The bytes written: a view of the writer's buffer, valid until the next write. */
  view(): Uint8Array {
    return this.#buf.subarray(0, this.#pos)
  }

  /** A copy of the bytes written, as a Buffer. */
  finish(): Buffer {
    return Buffer.from(this.#buf.subarray(0, this.#pos))
  }

  tag(field: number, wireType: number): void {
    this.varint(field * 8 + wireType)
  }

  /** A non-negative integer up to 2^53. */
  varint(value: number): void {
    this.#reserve(10)
    let v = value
    while (v >= 0x80) {
      this.#buf[this.#pos++] = (v % 0x80) | 0x80
      v = Math.floor(v / 0x80)
    }
    this.#buf[this.#pos++] = v
  }

  /** An int32 or int64 field's varint: negative values take ten bytes, as two's complement in 64 bits. */
  signedVarint(value: number): void {
    if (value >= 0) return this.varint(value)
    let v = BigInt.asUintN(64, BigInt(value))
    this.#reserve(10)
    while (v >= 0x80n) {
      this.#buf[this.#pos++] = Number(v & 0x7fn) | 0x80
      v >>= 7n
    }
    this.#buf[this.#pos++] = Number(v)
  }

  /** A `double` field: wire type 1, eight bytes little-endian. */
  double(field: number, value: number): void {
    this.tag(field, WireType.fixed64)
    this.#reserve(8)
    new DataView(this.#buf.buffer, this.#buf.byteOffset + this.#pos, 8).setFloat64(0, value, true)
    this.#pos += 8
  }

  /** Bytes as they are, with no tag or length. */
  raw(value: Uint8Array): void {
    this.#reserve(value.length)
    this.#buf.set(value, this.#pos)
    this.#pos += value.length
  }

  string(field: number, value: string): void {
    this.tag(field, WireType.bytes)
    const n = value.length
    if (n < 0x80) {
      // Short ASCII, almost every string of an object: byte by byte, its length known.
      this.#reserve(n + 1)
      const buf = this.#buf
      let p = this.#pos + 1
      let i = 0
      for (; i < n; i++) {
        const c = value.charCodeAt(i)
        if (c >= 0x80) break
        buf[p++] = c
      }
      if (i === n) {
        buf[this.#pos] = n
        this.#pos = p
        return
      }
    }
    // Each UTF-16 unit takes at most three UTF-8 bytes.
    this.#reserve(n * 3 + 1)
    const start = this.#pos++
    const { written } = utf8.encodeInto(value, this.#buf.subarray(this.#pos))
    this.#pos += written
    this.#closeRun(start)
  }

  bytes(field: number, value: Uint8Array): void {
    this.tag(field, WireType.bytes)
    this.#reserve(value.length + 1)
    const start = this.#pos++
    this.#buf.set(value, this.#pos)
    this.#pos += value.length
    this.#closeRun(start)
  }

  /** Starts a length-delimited run (a nested message); `end(start)` closes it. */
  begin(field: number): number {
    this.tag(field, WireType.bytes)
    this.#reserve(1)
    return this.#pos++
  }

  end(start: number): void {
    this.#closeRun(start)
  }

  /** Writes the run's length at `start` (one byte was kept for it), moving the run if it needs more. */
  #closeRun(start: number): void {
    const length = this.#pos - start - 1
    if (length < 0x80) {
      this.#buf[start] = length
      return
    }
    let size = 1
    for (let v = length; v >= 0x80; v = Math.floor(v / 0x80)) size++
    this.#reserve(size - 1)
    this.#buf.copyWithin(start + size, start + 1, this.#pos)
    this.#pos += size - 1
    let v = length
    let at = start
    while (v >= 0x80) {
      this.#buf[at++] = (v % 0x80) | 0x80
      v = Math.floor(v / 0x80)
    }
    this.#buf[at] = v
  }

  #reserve(n: number): void {
    if (this.#pos + n <= this.#buf.length) return
    let size = this.#buf.length * 2
    while (size < this.#pos + n) size *= 2
    const next = new Uint8Array(size)
    next.set(this.#buf.subarray(0, this.#pos))
    this.#buf = next
  }
}
