// SPDY/3.1 framing (draft-mbelshe-httpbis-spdy-00 §2.2, with the 3.1 flow-control
// changes): a synchronous, incremental frame reader with limits, and frame encoders. Header
// blocks stay compressed here; spdy-headers.ts (de)compresses them, in frame order.
import { ChunkQueue } from './chunks.ts'

export const SPDY_VERSION = 3

export const FrameType = {
  SYN_STREAM: 1,
  SYN_REPLY: 2,
  RST_STREAM: 3,
  SETTINGS: 4,
  PING: 6,
  GOAWAY: 7,
  HEADERS: 8,
  WINDOW_UPDATE: 9,
} as const

export const FLAG_FIN = 0x01
export const FLAG_UNIDIRECTIONAL = 0x02

/** RST_STREAM status codes. */
export const RstStatus = {
  PROTOCOL_ERROR: 1,
  INVALID_STREAM: 2,
  REFUSED_STREAM: 3,
  UNSUPPORTED_VERSION: 4,
  CANCEL: 5,
  INTERNAL_ERROR: 6,
  FLOW_CONTROL_ERROR: 7,
  STREAM_IN_USE: 8,
  STREAM_ALREADY_CLOSED: 9,
  FRAME_TOO_LARGE: 11,
} as const

/** GOAWAY status codes. */
export const GoAwayStatus = { OK: 0, PROTOCOL_ERROR: 1, INTERNAL_ERROR: 2 } as const

export interface SpdyLimits {
  /** Largest data frame payload accepted (the wire allows 2^24 - 1). */
  maxDataFrame: number
  /** Largest control frame payload accepted; bounds a compressed header block. */
  maxControlFrame: number
  /** Largest decompressed header block. */
  maxHeaderBlock: number
  /** Most name/value pairs in one header block. */
  maxHeaders: number
  /** Most streams open at once on one session. */
  maxStreams: number
  /** Most SETTINGS entries in one frame. */
  maxSettings: number
}

export const defaultSpdyLimits: SpdyLimits = {
  maxDataFrame: 8 * 1024 * 1024,
  maxControlFrame: 64 * 1024,
  maxHeaderBlock: 64 * 1024,
  maxHeaders: 128,
  maxStreams: 1024,
  maxSettings: 64,
}

/** The peer broke the protocol; `streamId` set: only that stream (answer RST_STREAM), else the session (GOAWAY). */
export class SpdyProtocolError extends Error {
  readonly code: 'SPDY_PROTOCOL_ERROR' = 'SPDY_PROTOCOL_ERROR'
  readonly streamId: number | undefined
  readonly status: number
  constructor(message: string, streamId?: number, status: number = RstStatus.PROTOCOL_ERROR) {
    super(message)
    this.streamId = streamId
    this.status = status
  }
}

export interface SettingEntry {
  flags: number
  id: number
  value: number
}

/** A frame as read: header blocks still compressed. */
export type RawFrame =
  | { type: 'data'; streamId: number; fin: boolean; data: Buffer }
  | { type: 'syn_stream'; streamId: number; associatedId: number; priority: number; fin: boolean; unidirectional: boolean; block: Buffer }
  | { type: 'syn_reply'; streamId: number; fin: boolean; block: Buffer }
  | { type: 'headers'; streamId: number; fin: boolean; block: Buffer }
  | { type: 'rst_stream'; streamId: number; status: number }
  | { type: 'settings'; clear: boolean; entries: SettingEntry[] }
  | { type: 'ping'; id: number }
  | { type: 'goaway'; lastGoodStreamId: number; status: number }
  | { type: 'window_update'; streamId: number; delta: number }

const HEADER = 8

/** Reads frames from a byte stream in arbitrary chunks. Throws SpdyProtocolError on anything malformed or over a limit. */
export class FrameReader {
  readonly #limits: SpdyLimits
  readonly #queue = new ChunkQueue()

  constructor(limits: SpdyLimits = defaultSpdyLimits) {
    this.#limits = limits
  }

  /** Bytes held waiting for the rest of a frame. */
  get buffered(): number {
    return this.#queue.length
  }

  push(chunk: Buffer): RawFrame[] {
    this.#queue.push(chunk)
    const frames: RawFrame[] = []
    for (;;) {
      if (this.#queue.length < HEADER) break
      const head = this.#queue.peek(HEADER)
      const control = (head[0]! & 0x80) !== 0
      const length = head.readUIntBE(5, 3)
      const flags = head[4]!
      if (control) {
        const version = head.readUInt16BE(0) & 0x7fff
        if (version !== SPDY_VERSION) throw new SpdyProtocolError(`SPDY version ${version} is not supported; this server speaks SPDY/3.1`)
        if (length > this.#limits.maxControlFrame) throw new SpdyProtocolError(`a control frame of ${length} bytes is over the limit of ${this.#limits.maxControlFrame}`)
      } else if (length > this.#limits.maxDataFrame) {
        throw new SpdyProtocolError(`a data frame of ${length} bytes is over the limit of ${this.#limits.maxDataFrame}`)
      }
      if (this.#queue.length < HEADER + length) break
      const frame = this.#queue.take(HEADER + length)
      const payload = frame.subarray(HEADER)
      if (control) {
        const parsed = parseControl(head.readUInt16BE(2), flags, payload, this.#limits)
        if (parsed) frames.push(parsed)
      } else {
        const streamId = head.readUInt32BE(0) & 0x7fffffff
        if (streamId === 0) throw new SpdyProtocolError('a data frame names stream 0')
        if (flags & ~FLAG_FIN) throw new SpdyProtocolError(`a data frame has unknown flags 0x${flags.toString(16)}`, streamId)
        frames.push({ type: 'data', streamId, fin: (flags & FLAG_FIN) !== 0, data: payload })
      }
    }
    return frames
  }

}

function need(payload: Buffer, n: number, what: string, exact = false): void {
  if (payload.length < n || (exact && payload.length !== n)) throw new SpdyProtocolError(`a ${what} frame of ${payload.length} bytes is malformed (${exact ? '' : 'at least '}${n} expected)`)
}

function streamIdAt(payload: Buffer, offset: number, what: string): number {
  const id = payload.readUInt32BE(offset) & 0x7fffffff
  if (id === 0) throw new SpdyProtocolError(`a ${what} frame names stream 0`)
  return id
}

function noFlags(flags: number, what: string): void {
  if (flags !== 0) throw new SpdyProtocolError(`a ${what} frame has unknown flags 0x${flags.toString(16)}`)
}

function parseControl(type: number, flags: number, payload: Buffer, limits: SpdyLimits): RawFrame | undefined {
  switch (type) {
    case FrameType.SYN_STREAM: {
      need(payload, 10, 'SYN_STREAM')
      if (flags & ~(FLAG_FIN | FLAG_UNIDIRECTIONAL)) throw new SpdyProtocolError(`a SYN_STREAM frame has unknown flags 0x${flags.toString(16)}`)
      return {
        type: 'syn_stream',
        streamId: streamIdAt(payload, 0, 'SYN_STREAM'),
        associatedId: payload.readUInt32BE(4) & 0x7fffffff,
        priority: payload[8]! >> 5,
        fin: (flags & FLAG_FIN) !== 0,
        unidirectional: (flags & FLAG_UNIDIRECTIONAL) !== 0,
        block: payload.subarray(10),
      }
    }
    case FrameType.SYN_REPLY:
    case FrameType.HEADERS: {
      const what = type === FrameType.SYN_REPLY ? 'SYN_REPLY' : 'HEADERS'
      need(payload, 4, what)
      if (flags & ~FLAG_FIN) throw new SpdyProtocolError(`a ${what} frame has unknown flags 0x${flags.toString(16)}`)
      return { type: type === FrameType.SYN_REPLY ? 'syn_reply' : 'headers', streamId: streamIdAt(payload, 0, what), fin: (flags & FLAG_FIN) !== 0, block: payload.subarray(4) }
    }
    case FrameType.RST_STREAM: {
      need(payload, 8, 'RST_STREAM', true)
      noFlags(flags, 'RST_STREAM')
      const status = payload.readUInt32BE(4)
      if (status === 0) throw new SpdyProtocolError('a RST_STREAM frame has status 0')
      return { type: 'rst_stream', streamId: streamIdAt(payload, 0, 'RST_STREAM'), status }
    }
    case FrameType.SETTINGS: {
      need(payload, 4, 'SETTINGS')
      if (flags & ~0x01) throw new SpdyProtocolError(`a SETTINGS frame has unknown flags 0x${flags.toString(16)}`)
      const n = payload.readUInt32BE(0)
      if (n > limits.maxSettings) throw new SpdyProtocolError(`a SETTINGS frame with ${n} entries is over the limit of ${limits.maxSettings}`)
      need(payload, 4 + n * 8, 'SETTINGS', true)
      const entries: SettingEntry[] = []
      for (let i = 0; i < n; i++) {
        const word = payload.readUInt32BE(4 + i * 8)
        entries.push({ flags: word >>> 24, id: word & 0xffffff, value: payload.readUInt32BE(8 + i * 8) })
      }
      return { type: 'settings', clear: (flags & 0x01) !== 0, entries }
    }
    case FrameType.PING:
      need(payload, 4, 'PING', true)
      noFlags(flags, 'PING')
      return { type: 'ping', id: payload.readUInt32BE(0) }
    case FrameType.GOAWAY:
      need(payload, 8, 'GOAWAY', true)
      noFlags(flags, 'GOAWAY')
      return { type: 'goaway', lastGoodStreamId: payload.readUInt32BE(0) & 0x7fffffff, status: payload.readUInt32BE(4) }
    case FrameType.WINDOW_UPDATE: {
      need(payload, 8, 'WINDOW_UPDATE', true)
      noFlags(flags, 'WINDOW_UPDATE')
      const delta = payload.readUInt32BE(4) & 0x7fffffff
      if (delta === 0) throw new SpdyProtocolError('a WINDOW_UPDATE frame has a delta of 0')
      return { type: 'window_update', streamId: payload.readUInt32BE(0) & 0x7fffffff, delta }
    }
    default:
      // The draft: a receiver ignores control frame types it does not know (NOOP, CREDENTIAL, later ones).
      return undefined
  }
}

function control(type: number, flags: number, body: Buffer | readonly Buffer[]): Buffer {
  const parts = Buffer.isBuffer(body) ? [body] : body
  const length = parts.reduce((n, b) => n + b.length, 0)
  if (length > 0xffffff) throw new RangeError(`a control frame of ${length} bytes does not fit SPDY's 24-bit length`)
  const head = Buffer.allocUnsafe(HEADER)
  head.writeUInt16BE(0x8000 | SPDY_VERSION, 0)
  head.writeUInt16BE(type, 2)
  head.writeUInt32BE(((flags & 0xff) << 24) >>> 0 | length, 4)
  return Buffer.concat([head, ...parts])
}

function u32s(...values: number[]): Buffer {
  const b = Buffer.allocUnsafe(values.length * 4)
  values.forEach((v, i) => b.writeUInt32BE(v >>> 0, i * 4))
  return b
}

/** The 8-byte header of a data frame; the payload follows it on the wire. */
export function dataFrameHeader(streamId: number, length: number, fin: boolean): Buffer {
  if (length > 0xffffff) throw new RangeError(`a data frame of ${length} bytes does not fit SPDY's 24-bit length`)
  const head = Buffer.allocUnsafe(HEADER)
  head.writeUInt32BE(streamId & 0x7fffffff, 0)
  head.writeUInt32BE((((fin ? FLAG_FIN : 0) << 24) >>> 0) | length, 4)
  return head
}

export function encodeData(streamId: number, data: Buffer, fin: boolean): Buffer {
  return Buffer.concat([dataFrameHeader(streamId, data.length, fin), data])
}

export function encodeSynStream(streamId: number, block: Buffer, opts: { fin?: boolean; unidirectional?: boolean; associatedId?: number; priority?: number } = {}): Buffer {
  const flags = (opts.fin ? FLAG_FIN : 0) | (opts.unidirectional ? FLAG_UNIDIRECTIONAL : 0)
  const fixed = Buffer.alloc(10)
  fixed.writeUInt32BE(streamId & 0x7fffffff, 0)
  fixed.writeUInt32BE((opts.associatedId ?? 0) & 0x7fffffff, 4)
  fixed[8] = ((opts.priority ?? 0) & 0x7) << 5
  return control(FrameType.SYN_STREAM, flags, [fixed, block])
}

export function encodeSynReply(streamId: number, block: Buffer, fin = false): Buffer {
  return control(FrameType.SYN_REPLY, fin ? FLAG_FIN : 0, [u32s(streamId & 0x7fffffff), block])
}

export function encodeHeaders(streamId: number, block: Buffer, fin = false): Buffer {
  return control(FrameType.HEADERS, fin ? FLAG_FIN : 0, [u32s(streamId & 0x7fffffff), block])
}

export function encodeRstStream(streamId: number, status: number): Buffer {
  return control(FrameType.RST_STREAM, 0, u32s(streamId & 0x7fffffff, status))
}

export function encodeSettings(entries: readonly SettingEntry[], clear = false): Buffer {
  const body = Buffer.allocUnsafe(4 + entries.length * 8)
  body.writeUInt32BE(entries.length, 0)
  entries.forEach((e, i) => {
    body.writeUInt32BE((((e.flags & 0xff) << 24) >>> 0) | (e.id & 0xffffff), 4 + i * 8)
    body.writeUInt32BE(e.value >>> 0, 8 + i * 8)
  })
  return control(FrameType.SETTINGS, clear ? 0x01 : 0, body)
}

export function encodePing(id: number): Buffer {
  return control(FrameType.PING, 0, u32s(id))
}

export function encodeGoAway(lastGoodStreamId: number, status: number = GoAwayStatus.OK): Buffer {
  return control(FrameType.GOAWAY, 0, u32s(lastGoodStreamId & 0x7fffffff, status))
}

export function encodeWindowUpdate(streamId: number, delta: number): Buffer {
  return control(FrameType.WINDOW_UPDATE, 0, u32s(streamId & 0x7fffffff, delta & 0x7fffffff))
}
