// A minimal, strict HTTP/1.x response parser for the load client's hot path. It scans bytes in
// place (no strings, no header objects), looks only at what framing needs (status, Content-Length,
// Transfer-Encoding: chunked, Connection), reads every body to its end, and calls anything it
// does not expect a protocol error: the client then closes the connection.

const CR = 13
const LF = 10
const maxHeadBytes = 16 * 1024
const maxHeaders = 200
const maxChunkSizeDigits = 12
const maxChunkExtensionBytes = 1024
const maxTrailerBytes = 16 * 1024
export const maxCaptureBytes = 4096

// Where the parser is.
const HEAD = 0
const BODY_LENGTH = 1
const BODY_UNTIL_CLOSE = 2
const CHUNK_SIZE = 3
const CHUNK_EXTENSION = 4
const CHUNK_SIZE_LF = 5
const CHUNK_DATA = 6
const CHUNK_DATA_CR = 7
const CHUNK_DATA_LF = 8
const TRAILER_LINE_START = 9
const TRAILER_LINE = 10
const TRAILER_LINE_LF = 11
const TRAILER_END_LF = 12
const DONE = 13

/** feed(): more bytes are needed. */
export const needMore = -1
/** feed(): the response is malformed (see `problem`). */
export const malformed = -2

const tokenChar = new Uint8Array(256)
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") tokenChar[c.charCodeAt(0)] = 1
const hexValue = new Int8Array(256).fill(-1)
for (let i = 0; i < 16; i++) {
  hexValue['0123456789abcdef'.charCodeAt(i)] = i
  hexValue['0123456789ABCDEF'.charCodeAt(i)] = i
}

/** Whether buf[at..at+name.length) equals `name` (lower case ASCII) ignoring case. */
function equalsLower(buf: Uint8Array, at: number, name: Uint8Array): boolean {
  for (let i = 0; i < name.length; i++) if ((buf[at + i] | 0x20) !== name[i]) return false
  return true
}
const ascii = (text: string) => Uint8Array.from(text, (c) => c.charCodeAt(0))
const contentLength = ascii('content-length')
const transferEncoding = ascii('transfer-encoding')
const connection = ascii('connection')
const chunked = ascii('chunked')
const close = ascii('close')
const keepAlive = ascii('keep-alive')

export class ResponseParser {
  status = 0
  /** The connection cannot carry another request after this response. */
  closeAfter = false
  /** What was wrong, after `malformed`. */
  problem = ''
  /** Body bytes kept (up to maxCaptureBytes) when capturing. */
  captured = 0
  readonly capture: Buffer | undefined

  private state = HEAD
  private noBody = false
  private remaining = 0
  private digits = 0
  private extensionBytes = 0
  private trailerBytes = 0
  /** A head split over several reads, gathered here. */
  private partialHead: Buffer | undefined
  private partialLength = 0

  constructor(captureBodies: boolean) {
    this.capture = captureBodies ? Buffer.allocUnsafe(maxCaptureBytes) : undefined
  }

  /** Ready for the response to a new request; HEAD requests get no body. */
  reset(headRequest: boolean): void {
    this.state = HEAD
    this.noBody = headRequest
    this.status = 0
    this.closeAfter = false
    this.problem = ''
    this.captured = 0
    this.partialLength = 0
  }

  /** Nothing of the response has arrived yet. */
  get untouched(): boolean {
    return this.state === HEAD && this.partialLength === 0
  }

  /**
   * Parses buf[start..end). Returns the position just after the response once it is complete,
   * `needMore`, or `malformed`.
   */
  feed(buf: Buffer, start: number, end: number): number {
    let at = start
    if (this.state === HEAD) {
      at = this.feedHead(buf, start, end)
      if (at < 0) return at
    }
    while (at < end || this.state === DONE) {
      switch (this.state) {
        case DONE:
          return at
        case BODY_LENGTH: {
          const take = Math.min(this.remaining, end - at)
          this.keep(buf, at, take)
          at += take
          this.remaining -= take
          if (this.remaining === 0) this.state = DONE
          break
        }
        case BODY_UNTIL_CLOSE:
          this.keep(buf, at, end - at)
          return needMore
        case CHUNK_SIZE: {
          const c = buf[at]
          const value = hexValue[c]
          if (value >= 0) {
            if (++this.digits > maxChunkSizeDigits) return this.fail('chunk size too large')
            this.remaining = this.remaining * 16 + value
          } else if (this.digits === 0) {
            return this.fail('chunk size missing')
          } else if (c === CR) {
            this.state = CHUNK_SIZE_LF
          } else if (c === 0x3b) {
            this.state = CHUNK_EXTENSION
            this.extensionBytes = 0
          } else {
            return this.fail('bad chunk size')
          }
          at++
          break
        }
        case CHUNK_EXTENSION: {
          const c = buf[at++]
          if (c === CR) this.state = CHUNK_SIZE_LF
          else if (c === LF || ++this.extensionBytes > maxChunkExtensionBytes) return this.fail('bad chunk extension')
          break
        }
        case CHUNK_SIZE_LF:
          if (buf[at++] !== LF) return this.fail('chunk size line not ended by CRLF')
          if (this.remaining === 0) {
            this.state = TRAILER_LINE_START
            this.trailerBytes = 0
          } else {
            this.state = CHUNK_DATA
          }
          break
        case CHUNK_DATA: {
          const take = Math.min(this.remaining, end - at)
          this.keep(buf, at, take)
          at += take
          this.remaining -= take
          if (this.remaining === 0) this.state = CHUNK_DATA_CR
          break
        }
        case CHUNK_DATA_CR:
          if (buf[at++] !== CR) return this.fail('chunk data not followed by CRLF')
          this.state = CHUNK_DATA_LF
          break
        case CHUNK_DATA_LF:
          if (buf[at++] !== LF) return this.fail('chunk data not followed by CRLF')
          this.state = CHUNK_SIZE
          this.digits = 0
          break
        case TRAILER_LINE_START: {
          const c = buf[at++]
          if (c === CR) this.state = TRAILER_END_LF
          else if (c === LF) return this.fail('bare LF in trailers')
          else this.state = TRAILER_LINE
          break
        }
        case TRAILER_LINE: {
          const c = buf[at++]
          if (++this.trailerBytes > maxTrailerBytes) return this.fail('trailers too large')
          if (c === CR) this.state = TRAILER_LINE_LF
          else if (c === LF) return this.fail('bare LF in trailers')
          break
        }
        case TRAILER_LINE_LF:
          if (buf[at++] !== LF) return this.fail('trailer not ended by CRLF')
          this.state = TRAILER_LINE_START
          break
        case TRAILER_END_LF:
          if (buf[at++] !== LF) return this.fail('trailers not ended by CRLF')
          this.state = DONE
          break
        default:
          return this.fail('parser state')
      }
    }
    return this.state === DONE ? at : needMore
  }

  /** The peer closed the connection: true if that completes the response (a body read until close). */
  endOfStream(): boolean {
    if (this.state === BODY_UNTIL_CLOSE) {
      this.state = DONE
      return true
    }
    return false
  }

  private fail(problem: string): number {
    this.problem = problem
    return malformed
  }

  private keep(buf: Buffer, at: number, length: number): void {
    const capture = this.capture
    if (capture === undefined || this.captured >= maxCaptureBytes || length === 0) return
    const n = Math.min(length, maxCaptureBytes - this.captured)
    buf.copy(capture, this.captured, at, at + n)
    this.captured += n
  }

  /** Returns the position after the head (and after any interim 1xx responses), needMore or malformed. */
  private feedHead(buf: Buffer, start: number, end: number): number {
    if (this.partialLength > 0) {
      const n = end - start
      if (this.partialLength + n > maxHeadBytes + 4) return this.fail('response head too large')
      this.partialHead ??= Buffer.allocUnsafe(maxHeadBytes + 4)
      buf.copy(this.partialHead, this.partialLength, start, end)
      const gathered = this.partialLength + n
      const after = this.parseHead(this.partialHead, 0, gathered)
      if (after === needMore) {
        this.partialLength = gathered
        return needMore
      }
      this.partialLength = 0
      if (after < 0) return after
      // The head ended inside this read: continue in `buf` where it did.
      return this.afterHead(buf, end - (gathered - after), end)
    }
    const after = this.parseHead(buf, start, end)
    if (after === needMore) {
      if (end - start > maxHeadBytes) return this.fail('response head too large')
      this.partialHead ??= Buffer.allocUnsafe(maxHeadBytes + 4)
      buf.copy(this.partialHead, 0, start, end)
      this.partialLength = end - start
      return needMore
    }
    if (after < 0) return after
    return this.afterHead(buf, after, end)
  }

  /** After a head: an interim (1xx) response is followed by the real one. */
  private afterHead(buf: Buffer, at: number, end: number): number {
    if (this.state !== HEAD) return at
    if (at === end) return needMore
    return this.feedHead(buf, at, end)
  }

  /** Parses one complete head at buf[start..]; returns the position after it, needMore or malformed. */
  private parseHead(buf: Buffer, start: number, end: number): number {
    // Status line: HTTP/1.x SP 3DIGIT [SP reason] CRLF
    if (end - start < 14) {
      if (end - start >= 2 && buf[start] !== 0x48) return this.fail('not an HTTP response')
      return needMore
    }
    if (
      buf[start] !== 0x48 || buf[start + 1] !== 0x54 || buf[start + 2] !== 0x54 || buf[start + 3] !== 0x50 ||
      buf[start + 4] !== 0x2f || buf[start + 5] !== 0x31 || buf[start + 6] !== 0x2e || (buf[start + 7] !== 0x31 && buf[start + 7] !== 0x30) || buf[start + 8] !== 0x20
    ) {
      return this.fail('not an HTTP/1.x status line')
    }
    const http10 = buf[start + 7] === 0x30
    const d1 = buf[start + 9] - 0x30
    const d2 = buf[start + 10] - 0x30
    const d3 = buf[start + 11] - 0x30
    if (d1 < 1 || d1 > 5 || d2 < 0 || d2 > 9 || d3 < 0 || d3 > 9) return this.fail('bad status code')
    const status = d1 * 100 + d2 * 10 + d3
    let at = start + 12
    if (buf[at] !== CR && buf[at] !== 0x20) return this.fail('bad status line')
    // The reason phrase: anything but control characters (HTAB allowed).
    while (at < end && buf[at] !== CR) {
      const c = buf[at]
      if ((c < 0x20 && c !== 9) || c === 0x7f) return this.fail('control character in the status line')
      at++
    }
    if (at + 1 >= end) return needMore
    if (buf[at + 1] !== LF) return this.fail('status line not ended by CRLF')
    at += 2

    let length = -1
    let isChunked = false
    let closing = http10
    let headers = 0
    for (;;) {
      if (at + 1 >= end) return needMore
      if (buf[at] === CR) {
        if (buf[at + 1] !== LF) return this.fail('head not ended by CRLF')
        at += 2
        break
      }
      if (++headers > maxHeaders) return this.fail('too many headers')
      const nameStart = at
      while (at < end && tokenChar[buf[at]] === 1) at++
      if (at >= end) return needMore
      if (buf[at] !== 0x3a || at === nameStart) return this.fail('bad header name')
      const nameLength = at - nameStart
      at++
      while (at < end && (buf[at] === 0x20 || buf[at] === 9)) at++
      const valueStart = at
      while (at < end && buf[at] !== CR) {
        const c = buf[at]
        if ((c < 0x20 && c !== 9) || c === 0x7f) return this.fail('control character in a header value')
        at++
      }
      if (at + 1 >= end) return needMore
      if (buf[at + 1] !== LF) return this.fail('header not ended by CRLF')
      let valueEnd = at
      while (valueEnd > valueStart && (buf[valueEnd - 1] === 0x20 || buf[valueEnd - 1] === 9)) valueEnd--
      at += 2
      if (nameLength === 14 && equalsLower(buf, nameStart, contentLength)) {
        const value = parseLength(buf, valueStart, valueEnd)
        if (value < 0 || (length >= 0 && value !== length)) return this.fail('bad Content-Length')
        length = value
      } else if (nameLength === 17 && equalsLower(buf, nameStart, transferEncoding)) {
        if (isChunked || valueEnd - valueStart !== 7 || !equalsLower(buf, valueStart, chunked)) return this.fail('unsupported Transfer-Encoding')
        isChunked = true
      } else if (nameLength === 10 && equalsLower(buf, nameStart, connection)) {
        const option = connectionOption(buf, valueStart, valueEnd)
        if (option === 1) closing = true
        else if (option === 2 && http10) closing = false
      }
      if (at - start > maxHeadBytes) return this.fail('response head too large')
    }
    if (at - start > maxHeadBytes) return this.fail('response head too large')

    if (status < 200) {
      if (status === 101) return this.fail('unexpected 101 Switching Protocols')
      return at // an interim response: the state stays HEAD
    }
    if (isChunked && length >= 0) return this.fail('both Content-Length and chunked')
    this.status = status
    this.closeAfter = closing
    if (this.noBody || status === 204 || status === 304) {
      this.state = DONE
    } else if (isChunked) {
      if (http10) return this.fail('chunked in HTTP/1.0')
      this.state = CHUNK_SIZE
      this.remaining = 0
      this.digits = 0
    } else if (length >= 0) {
      this.remaining = length
      this.state = length === 0 ? DONE : BODY_LENGTH
    } else {
      this.state = BODY_UNTIL_CLOSE
      this.closeAfter = true
    }
    return at
  }
}

/** Content-Length digits as a number; -1 if not digits or beyond 2^53. */
function parseLength(buf: Buffer, start: number, end: number): number {
  if (end === start || end - start > 15) return -1
  let value = 0
  for (let i = start; i < end; i++) {
    const d = buf[i] - 0x30
    if (d < 0 || d > 9) return -1
    value = value * 10 + d
  }
  return value
}

/** 1 if a Connection header lists `close`, 2 if it lists `keep-alive`, else 0. */
function connectionOption(buf: Buffer, start: number, end: number): number {
  let result = 0
  let at = start
  while (at < end) {
    while (at < end && (buf[at] === 0x20 || buf[at] === 9 || buf[at] === 0x2c)) at++
    const tokenStart = at
    while (at < end && buf[at] !== 0x2c && buf[at] !== 0x20 && buf[at] !== 9) at++
    const length = at - tokenStart
    if (length === 5 && equalsLower(buf, tokenStart, close)) return 1
    if (length === 10 && equalsLower(buf, tokenStart, keepAlive)) result = 2
  }
  return result
}
