// SPDY/3 header blocks: a 32-bit count, then 32-bit-length-prefixed name and value per
// pair (several values of one name joined by NUL), zlib-compressed with the SPDY/3
// dictionary. Each direction of a session has ONE compression context; every block ends
// in a sync flush, so blocks must be (de)compressed in frame order.
import { constants, createDeflate, createInflate, type Deflate, type Inflate } from 'node:zlib'
import { SPDY3_DICTIONARY } from './spdy-dictionary.ts'
import { defaultSpdyLimits, SpdyProtocolError, type SpdyLimits } from './spdy-frames.ts'

/** Lower-case names to their values (several values of one name in order). */
export type SpdyHeaders = Record<string, string[]>

export function emptyHeaders(): SpdyHeaders {
  return Object.create(null) as SpdyHeaders
}

/** The first value of `name` (names are lower case on the wire). */
export function headerValue(headers: SpdyHeaders, name: string): string | undefined {
  return headers[name.toLowerCase()]?.[0]
}

export function encodeHeaderBlock(headers: Readonly<Record<string, string | readonly string[]>>): Buffer {
  const parts: Buffer[] = []
  let count = 0
  const len = (n: number) => {
    const b = Buffer.allocUnsafe(4)
    b.writeUInt32BE(n)
    return b
  }
  for (const [rawName, raw] of Object.entries(headers)) {
    const name = Buffer.from(rawName.toLowerCase(), 'utf8')
    const value = Buffer.from(typeof raw === 'string' ? raw : raw.join('\0'), 'utf8')
    if (name.length === 0) throw new RangeError('a SPDY header name may not be empty')
    parts.push(len(name.length), name, len(value.length), value)
    count++
  }
  return Buffer.concat([len(count), ...parts])
}

/** Parses a decompressed header block; `streamId` is the stream an error is reported on. */
export function parseHeaderBlock(block: Buffer, streamId: number, limits: SpdyLimits = defaultSpdyLimits): SpdyHeaders {
  const bad = (why: string) => new SpdyProtocolError(`the header block of stream ${streamId} ${why}`, streamId)
  if (block.length < 4) throw bad('is shorter than its count')
  const count = block.readUInt32BE(0)
  if (count > limits.maxHeaders) throw bad(`has ${count} headers, over the limit of ${limits.maxHeaders}`)
  const headers = emptyHeaders()
  let at = 4
  const field = (what: string): string => {
    if (at + 4 > block.length) throw bad(`ends inside a ${what} length`)
    const n = block.readUInt32BE(at)
    at += 4
    if (at + n > block.length) throw bad(`has a ${what} longer than the block`)
    const s = block.toString('utf8', at, at + n)
    at += n
    return s
  }
  for (let i = 0; i < count; i++) {
    const name = field('name')
    if (name.length === 0) throw bad('has an empty header name')
    if (name !== name.toLowerCase()) throw bad(`has the header name ${JSON.stringify(name.slice(0, 64))}, which is not lower case`)
    if (name in headers) throw bad(`repeats the header ${JSON.stringify(name.slice(0, 64))}`)
    headers[name] = field('value').split('\0')
  }
  if (at !== block.length) throw bad(`has ${block.length - at} bytes after its last header`)
  return headers
}

/** Runs one zlib operation at a time, in call order, each ending in a sync flush. */
class FlushSerializer {
  readonly #z: Deflate | Inflate
  readonly #max: number
  #tail: Promise<unknown> = Promise.resolve()
  #out: Buffer[] = []
  #outBytes = 0
  #overflow = false
  #failed: Error | undefined

  constructor(z: Deflate | Inflate, max: number) {
    this.#z = z
    this.#max = max
    z.on('data', (chunk: Buffer) => {
      this.#outBytes += chunk.length
      if (this.#outBytes > this.#max) {
        this.#overflow = true
        this.#z.destroy()
        return
      }
      this.#out.push(chunk)
    })
    z.on('error', (err) => {
      this.#failed ??= err
    })
  }

  run(input: Buffer): Promise<Buffer> {
    const result = this.#tail.then(
      () =>
        new Promise<Buffer>((resolve, reject) => {
          const closed = () => new Error(this.#overflow ? `over ${this.#max} bytes` : (this.#failed?.message ?? 'the zlib context is closed'))
          if (this.#failed || this.#z.destroyed) return reject(closed())
          this.#out = []
          this.#outBytes = 0
          const onClose = () => reject(closed())
          this.#z.once('close', onClose)
          this.#z.write(input)
          this.#z.flush(constants.Z_SYNC_FLUSH, () => {
            this.#z.off('close', onClose)
            if (this.#overflow || this.#failed) return reject(closed())
            resolve(Buffer.concat(this.#out, this.#outBytes))
          })
        }),
    )
    this.#tail = result.catch(() => undefined)
    return result
  }

  close(): void {
    this.#z.destroy()
  }
}

/** The compressing side of one direction. */
export class HeaderCompressor {
  readonly #z = new FlushSerializer(createDeflate({ dictionary: SPDY3_DICTIONARY, level: constants.Z_BEST_COMPRESSION }), 0xffffff)

  compress(headers: Readonly<Record<string, string | readonly string[]>>): Promise<Buffer> {
    return this.#z.run(encodeHeaderBlock(headers))
  }

  close(): void {
    this.#z.close()
  }
}

/** The decompressing side of one direction; a block that fails or is too big fails the session. */
export class HeaderDecompressor {
  readonly #limits: SpdyLimits
  readonly #z: FlushSerializer

  constructor(limits: SpdyLimits = defaultSpdyLimits) {
    this.#limits = limits
    this.#z = new FlushSerializer(createInflate({ dictionary: SPDY3_DICTIONARY }), limits.maxHeaderBlock)
  }

  async decompress(block: Buffer, streamId: number): Promise<SpdyHeaders> {
    let plain: Buffer
    try {
      plain = await this.#z.run(block)
    } catch (err) {
      throw new SpdyProtocolError(`the header block of stream ${streamId} does not decompress: ${err instanceof Error ? err.message : String(err)}`)
    }
    try {
      return parseHeaderBlock(plain, streamId, this.#limits)
    } catch (err) {
      // The shared context stays in step, but a malformed block is a session error as in Go's framer.
      throw new SpdyProtocolError(err instanceof Error ? err.message : String(err))
    }
  }

  close(): void {
    this.#z.close()
  }
}
