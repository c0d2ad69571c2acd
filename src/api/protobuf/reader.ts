// A bounds-checked reader of the protobuf wire format: varints, fixed 32/64-bit values and
// length-delimited runs. Every malformed input ends in a ProtobufError, never a RangeError.

/** Kubernetes' request body limit; no protobuf length may claim more. */
export const maxProtobufBytes = 3 * 1024 * 1024

export const WireType = {
  varint: 0,
  fixed64: 1,
  bytes: 2,
  startGroup: 3,
  endGroup: 4,
  fixed32: 5,
} as const

export class ProtobufError extends Error {
  /** Where in the object the bad bytes were (`spec.resourceAttributes.verb`), when known. */
  path: string | undefined

  constructor(message: string, path?: string) {
    super(message)
    this.name = 'ProtobufError'
    this.path = path
  }

  /** Names where the error happened, once: the innermost field wins. */
  at(path: string): this {
    if (this.path === undefined && path !== '') {
      this.path = path
      this.message = `${this.message} (at ${path})`
    }
    return this
  }
}

export interface Tag {
  field: number
  wireType: number
}

export class ProtoReader {
  readonly #buf: Uint8Array
  #pos: number
  readonly #end: number

  constructor(buf: Uint8Array, start = 0, end = buf.length) {
    if (buf.length > maxProtobufBytes) throw new ProtobufError(`the protobuf data is ${buf.length} bytes, more than the ${maxProtobufBytes}-byte limit`)
    this.#buf = buf
    this.#pos = start
    this.#end = end
  }

  get done(): boolean {
    return this.#pos >= this.#end
  }

  get offset(): number {
    return this.#pos
  }

  /** A varint of up to 64 bits, as an unsigned bigint. */
  varint(): bigint {
    let lo = 0
    let hi = 0
    for (let i = 0; i < 10; i++) {
      if (this.#pos >= this.#end) throw new ProtobufError(`truncated varint at byte ${this.#pos}`)
      const b = this.#buf[this.#pos++]
      if (i < 4) lo |= (b & 0x7f) << (7 * i)
      else if (i === 4) {
        lo |= (b & 0x0f) << 28
        hi = (b & 0x7f) >> 4
      } else if (i < 9) hi |= (b & 0x7f) << (7 * i - 32)
      else if (b & 0x80) break
      else if (b > 1) throw new ProtobufError(`varint at byte ${this.#pos - 10} overflows 64 bits`)
      else hi |= b << 31
      if ((b & 0x80) === 0) return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0)
    }
    throw new ProtobufError(`over-long varint at byte ${this.#pos - 10}: more than 10 bytes`)
  }

  /** A varint used as a length or count: it must fit the body limit. */
  length(): number {
    const at = this.#pos
    const n = this.varint()
    if (n > BigInt(maxProtobufBytes)) throw new ProtobufError(`length ${n} at byte ${at} is beyond the ${maxProtobufBytes}-byte limit`)
    return Number(n)
  }

  tag(): Tag {
    const at = this.#pos
    const v = this.varint()
    if (v > 0xffffffffn) throw new ProtobufError(`field tag at byte ${at} is out of range`)
    const n = Number(v)
    const field = Math.floor(n / 8)
    if (field === 0) throw new ProtobufError(`field number 0 at byte ${at} is not valid protobuf`)
    return { field, wireType: n & 7 }
  }

  /** A length-delimited run, as a view into the input (no copy). */
  bytes(): Uint8Array {
    const at = this.#pos
    const n = this.length()
    if (n > this.#end - this.#pos) throw new ProtobufError(`length ${n} at byte ${at} runs past the end of its data (${this.#end - this.#pos} bytes left)`)
    const out = this.#buf.subarray(this.#pos, this.#pos + n)
    this.#pos += n
    return out
  }

  /** A length-delimited run read as a nested message: a reader over it that shares the input (byte offsets stay absolute). */
  message(): ProtoReader {
    const run = this.bytes()
    return new ProtoReader(this.#buf, run.byteOffset - this.#buf.byteOffset, run.byteOffset - this.#buf.byteOffset + run.length)
  }

  fixed(size: 4 | 8): Uint8Array {
    if (size > this.#end - this.#pos) throw new ProtobufError(`truncated ${size * 8}-bit value at byte ${this.#pos}`)
    const out = this.#buf.subarray(this.#pos, this.#pos + size)
    this.#pos += size
    return out
  }

  /** Skips a field this reader has no schema for. */
  skip(wireType: number): void {
    switch (wireType) {
      case WireType.varint:
        this.varint()
        return
      case WireType.fixed64:
        this.fixed(8)
        return
      case WireType.bytes:
        this.bytes()
        return
      case WireType.fixed32:
        this.fixed(4)
        return
      case WireType.startGroup:
      case WireType.endGroup:
        throw new ProtobufError(`protobuf groups (wire type ${wireType}) at byte ${this.#pos} are not used by Kubernetes and are refused`)
      default:
        throw new ProtobufError(`invalid wire type ${wireType} before byte ${this.#pos}`)
    }
  }
}
