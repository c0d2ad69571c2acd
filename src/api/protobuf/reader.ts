// A bounds-checked reader of the protobuf wire format: varints, fixed 32/64-bit values and
// length-delimited runs. Every malformed input ends in a ProtobufError, never a RangeError.

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

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
  readonly #text: string
  readonly #segments: string[] = []

  constructor(message: string, path?: string) {
    super(message)
    this.name = 'ProtobufError'
    this.path = path
    this.#text = message
  }

  /** Names where the error happened, once: the innermost field wins. */
  at(path: string): this {
    if (this.path === undefined && path !== '') {
      this.path = path
      this.message = `${this.message} (at ${path})`
    }
    return this
  }

  /**
   * Adds the field (or `[key]` of a map) the error happened in, as it travels out of the
   * nested messages: the path is only built when something failed.
   */
  within(segment: string): this {
    if (this.path !== undefined && this.#segments.length === 0) return this
    this.#segments.unshift(segment)
    this.path = this.#segments.reduce((path, s) => (path === '' ? s : s.startsWith('[') ? path + s : `${path}.${s}`), '')
    this.message = `${this.#text} (at ${this.path})`
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
  #end: number

  /** A Buffer's own latin1Slice, which reads text without making a view first. */
  readonly #latin1: ((this: Uint8Array, start: number, end: number) => string) | undefined

  constructor(buf: Uint8Array, start = 0, end = buf.length) {
    if (buf.length > maxProtobufBytes) throw new ProtobufError(`the protobuf data is ${buf.length} bytes, more than the ${maxProtobufBytes}-byte limit`)
    this.#buf = buf
    this.#latin1 = Buffer.isBuffer(buf) ? (buf as unknown as { latin1Slice: (this: Uint8Array, start: number, end: number) => string }).latin1Slice : undefined
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

  /**
   * A varint as a number when it is below 2^49 (seven bytes at most: every tag, length and
   * everyday value), else as the unsigned bigint varint() reads.
   */
  varintValue(): number | bigint {
    const start = this.#pos
    let value = 0
    let scale = 1
    for (let i = 0; i < 7 && this.#pos < this.#end; i++) {
      const b = this.#buf[this.#pos++]
      value += (b & 0x7f) * scale
      if ((b & 0x80) === 0) return value
      scale *= 0x80
    }
    this.#pos = start
    return this.varint()
  }

  /** A varint used as a length or count: it must fit the body limit. */
  length(): number {
    const at = this.#pos
    const n = this.varintValue()
    if (n > maxProtobufBytes) throw new ProtobufError(`length ${n} at byte ${at} is beyond the ${maxProtobufBytes}-byte limit`)
    return Number(n)
  }

  /** A field key: field number × 8 + wire type (use `key >>> 3` and `key & 7`). */
  key(): number {
    const at = this.#pos
    const v = this.varintValue()
    if (v > 0xffffffff) throw new ProtobufError(`field tag at byte ${at} is out of range`)
    const n = Number(v)
    if (n < 8) throw new ProtobufError(`field number 0 at byte ${at} is not valid protobuf`)
    return n
  }

  tag(): Tag {
    const n = this.key()
    return { field: n >>> 3, wireType: n & 7 }
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

  /**
   * Narrows this reader to the length-delimited run that starts here (a nested message) and
   * returns where the outer one ends, for `leave`: no new reader for every message.
   */
  enter(): number {
    const at = this.#pos
    const n = this.length()
    if (n > this.#end - this.#pos) throw new ProtobufError(`length ${n} at byte ${at} runs past the end of its data (${this.#end - this.#pos} bytes left)`)
    const outer = this.#end
    this.#end = this.#pos + n
    return outer
  }

  /** Back to the outer run once the nested one is read to its end. */
  leave(outer: number): void {
    this.#pos = this.#end
    this.#end = outer
  }

  /** A length-delimited run as UTF-8 text, refused when it is not valid UTF-8. */
  string(): string {
    const at = this.#pos
    const n = this.length()
    if (n > this.#end - this.#pos) throw new ProtobufError(`length ${n} at byte ${at} runs past the end of its data (${this.#end - this.#pos} bytes left)`)
    const buf = this.#buf
    const start = this.#pos
    this.#pos += n
    // Short ASCII, almost every string of an object, without a decoder.
    if (n <= 64) {
      let i = start
      while (i < start + n && buf[i] < 0x80) i++
      if (i === start + n) return this.#latin1 ? this.#latin1.call(buf, start, start + n) : String.fromCharCode.apply(null, buf.subarray(start, start + n) as unknown as number[])
    }
    try {
      return utf8.decode(buf.subarray(start, start + n))
    } catch {
      throw new ProtobufError('a string is not valid UTF-8')
    }
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
