// The DNS wire format (RFC 1035, EDNS0 per RFC 6891): decoding and encoding whole messages,
// and a fast path that reads only what answering a query needs. Names are text with labels
// joined by '.', without the trailing dot; a '.' or '\' inside a label and bytes outside
// printable ASCII are escaped as in zone files (`\.`, `\\`, `\DDD`).
import { formatIPv6, parseIPv4, parseIPv6 } from './names.ts'
import { RRType, type Edns, type Flags, type Message, type Question, type RecordData, type ResourceRecord, type Soa, type Srv } from './records.ts'

export const HEADER_SIZE = 12
export const MAX_NAME_LENGTH = 255
/** The classic UDP payload limit, and the least a server may assume with EDNS. */
export const MIN_UDP_SIZE = 512

/** A message that cannot be read. `id` is set when the header could be, so a FORMERR can name it. */
export class WireError extends Error {
  readonly id: number | undefined
  constructor(message: string, id?: number) {
    super(message)
    this.name = 'WireError'
    this.id = id
  }
}

// ---- names ----------------------------------------------------------------------------

function labelText(buf: Uint8Array, start: number, end: number): string {
  let s = ''
  for (let i = start; i < end; i++) {
    const c = buf[i]
    if (c === 0x2e || c === 0x5c) s += '\\' + String.fromCharCode(c)
    else if (c > 0x20 && c < 0x7f) s += String.fromCharCode(c)
    else s += '\\' + String(c).padStart(3, '0')
  }
  return s
}

/** Reads the name at `offset`, following compression pointers (only backwards, so no loops). */
export function readName(buf: Uint8Array, offset: number): { name: string; end: number } {
  let name = ''
  let pos = offset
  let end = -1
  let wireLength = 1
  let lowest = offset
  for (;;) {
    if (pos >= buf.length) throw new WireError('name runs past the end of the message')
    const len = buf[pos]
    if (len === 0) {
      if (end < 0) end = pos + 1
      return { name, end }
    }
    const kind = len & 0xc0
    if (kind === 0xc0) {
      if (pos + 1 >= buf.length) throw new WireError('compression pointer runs past the end of the message')
      const target = ((len & 0x3f) << 8) | buf[pos + 1]
      if (target >= lowest) throw new WireError('compression pointer does not point backwards')
      if (target < HEADER_SIZE) throw new WireError('compression pointer into the header')
      if (end < 0) end = pos + 2
      lowest = target
      pos = target
      continue
    }
    if (kind !== 0) throw new WireError(`unsupported label type 0x${kind.toString(16)}`)
    if (pos + 1 + len > buf.length) throw new WireError('label runs past the end of the message')
    wireLength += len + 1
    if (wireLength > MAX_NAME_LENGTH) throw new WireError(`name longer than ${MAX_NAME_LENGTH} bytes`)
    if (name.length > 0) name += '.'
    name += labelText(buf, pos + 1, pos + 1 + len)
    pos += 1 + len
  }
}

/** The offset just past the name at `offset`, without reading it. */
export function skipName(buf: Uint8Array, offset: number): number {
  let pos = offset
  for (;;) {
    if (pos >= buf.length) throw new WireError('name runs past the end of the message')
    const len = buf[pos]
    if (len === 0) return pos + 1
    if ((len & 0xc0) === 0xc0) {
      if (pos + 1 >= buf.length) throw new WireError('compression pointer runs past the end of the message')
      return pos + 2
    }
    if ((len & 0xc0) !== 0) throw new WireError(`unsupported label type 0x${(len & 0xc0).toString(16)}`)
    pos += 1 + len
  }
}

/** The labels of a text name as bytes, unescaping `\.`, `\\` and `\DDD`. */
export function nameLabels(name: string): Uint8Array[] {
  if (name === '' || name === '.') return []
  const text = name.endsWith('.') && !name.endsWith('\\.') ? name.slice(0, -1) : name
  const labels: Uint8Array[] = []
  let bytes: number[] = []
  let total = 1
  const finish = () => {
    if (bytes.length === 0) throw new WireError(`name ${JSON.stringify(name)} has an empty label`)
    if (bytes.length > 63) throw new WireError(`name ${JSON.stringify(name)} has a label longer than 63 bytes`)
    total += bytes.length + 1
    labels.push(Uint8Array.from(bytes))
    bytes = []
  }
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i)
    if (ch === 0x2e) {
      finish()
    } else if (ch === 0x5c && i + 1 < text.length) {
      const digits = text.slice(i + 1, i + 4)
      if (/^\d{3}$/.test(digits) && Number(digits) < 256) {
        bytes.push(Number(digits))
        i += 3
      } else {
        bytes.push(text.charCodeAt(i + 1) & 0xff)
        i += 1
      }
    } else {
      if (ch > 0xff) throw new WireError(`name ${JSON.stringify(name)} holds a character that is not a byte`)
      bytes.push(ch)
    }
  }
  finish()
  if (total > MAX_NAME_LENGTH) throw new WireError(`name ${JSON.stringify(name.slice(0, 40))}… is longer than ${MAX_NAME_LENGTH} bytes`)
  return labels
}

// ---- the fast path --------------------------------------------------------------------

/** What answering needs from a query, read without decoding the rest. */
export interface ParsedQuery {
  id: number
  opcode: number
  rd: boolean
  cd: boolean
  /** The question's name as asked. */
  name: string
  /** The question's name in lower case (ASCII). */
  lowerName: string
  type: number
  class: number
  /** The offset just past the question: bytes 12..questionEnd are the question as asked. */
  questionEnd: number
  edns: Edns | undefined
}

/**
 * Reads a query's header, its single question and its OPT record. Throws WireError for
 * anything else (a response, no or several questions, a broken name); the error carries the
 * id when the header was readable.
 */
export function parseQuery(buf: Uint8Array): ParsedQuery {
  if (buf.length < HEADER_SIZE) throw new WireError('message shorter than a DNS header')
  const id = (buf[0] << 8) | buf[1]
  const b2 = buf[2]
  if (b2 & 0x80) throw new WireError('message is a response, not a query', id)
  const qdcount = (buf[4] << 8) | buf[5]
  if (qdcount !== 1) throw new WireError(`query has ${qdcount} questions; exactly one is supported`, id)
  let name: string
  let end: number
  try {
    ;({ name, end } = readName(buf, HEADER_SIZE))
  } catch (err) {
    throw new WireError((err as Error).message, id)
  }
  if (end + 4 > buf.length) throw new WireError('question runs past the end of the message', id)
  const type = (buf[end] << 8) | buf[end + 1]
  const klass = (buf[end + 2] << 8) | buf[end + 3]
  const questionEnd = end + 4
  let edns: Edns | undefined
  const other = ((buf[6] << 8) | buf[7]) + ((buf[8] << 8) | buf[9])
  const arcount = (buf[10] << 8) | buf[11]
  if (arcount > 0) {
    try {
      let pos = questionEnd
      for (let i = 0; i < other + arcount; i++) {
        const nameEnd = skipName(buf, pos)
        if (nameEnd + 10 > buf.length) throw new WireError('record runs past the end of the message')
        const rtype = (buf[nameEnd] << 8) | buf[nameEnd + 1]
        const rdlength = (buf[nameEnd + 8] << 8) | buf[nameEnd + 9]
        const rdEnd = nameEnd + 10 + rdlength
        if (rdEnd > buf.length) throw new WireError('record data runs past the end of the message')
        if (rtype === RRType.OPT && i >= other) {
          if (edns) throw new WireError('more than one OPT record')
          edns = readOpt(buf, nameEnd, rdEnd)
        }
        pos = rdEnd
      }
    } catch (err) {
      throw new WireError((err as Error).message, id)
    }
  }
  let lowerName = name
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i)
    if (c >= 0x41 && c <= 0x5a) {
      lowerName = name.toLowerCase()
      break
    }
  }
  return { id, opcode: (b2 >> 3) & 0x0f, rd: (b2 & 1) === 1, cd: (buf[3] & 0x10) !== 0, name, lowerName, type, class: klass, questionEnd, edns }
}

/** The OPT record whose fixed part starts at `at` (just past its name) and whose data ends at `rdEnd`. */
function readOpt(buf: Uint8Array, at: number, rdEnd: number): Edns {
  const options: Edns['options'] = []
  let pos = at + 10
  while (pos < rdEnd) {
    if (pos + 4 > rdEnd) throw new WireError('EDNS option runs past its record')
    const code = (buf[pos] << 8) | buf[pos + 1]
    const len = (buf[pos + 2] << 8) | buf[pos + 3]
    if (pos + 4 + len > rdEnd) throw new WireError('EDNS option runs past its record')
    options.push({ code, data: buf.slice(pos + 4, pos + 4 + len) })
    pos += 4 + len
  }
  return {
    udpSize: (buf[at + 2] << 8) | buf[at + 3],
    extendedRcode: buf[at + 4],
    version: buf[at + 5],
    dnssecOk: (buf[at + 6] & 0x80) !== 0,
    options,
  }
}

// ---- decoding -------------------------------------------------------------------------

function u16(buf: Uint8Array, at: number): number {
  return (buf[at] << 8) | buf[at + 1]
}

function u32(buf: Uint8Array, at: number): number {
  return ((buf[at] << 24) | (buf[at + 1] << 16) | (buf[at + 2] << 8) | buf[at + 3]) >>> 0
}

function ipv6Text(buf: Uint8Array, at: number): string {
  const groups: number[] = []
  for (let i = 0; i < 16; i += 2) groups.push(u16(buf, at + i))
  return formatIPv6(groups)
}

function decodeData(buf: Uint8Array, type: number, start: number, end: number): RecordData {
  const need = (n: number) => {
    if (end - start !== n) throw new WireError(`type ${type} record data is ${end - start} bytes, not ${n}`)
  }
  switch (type) {
    case RRType.A:
      need(4)
      return { address: `${buf[start]}.${buf[start + 1]}.${buf[start + 2]}.${buf[start + 3]}` }
    case RRType.AAAA:
      need(16)
      return { address: ipv6Text(buf, start) }
    case RRType.CNAME:
    case RRType.PTR:
    case RRType.NS: {
      const { name, end: nameEnd } = readName(buf, start)
      if (nameEnd !== end) throw new WireError(`type ${type} record data does not end with its name`)
      return { target: name }
    }
    case RRType.SRV: {
      if (end - start < 7) throw new WireError('SRV record data too short')
      const { name, end: nameEnd } = readName(buf, start + 6)
      if (nameEnd !== end) throw new WireError('SRV record data does not end with its target')
      return { priority: u16(buf, start), weight: u16(buf, start + 2), port: u16(buf, start + 4), target: name } satisfies Srv
    }
    case RRType.TXT: {
      const texts: string[] = []
      let pos = start
      while (pos < end) {
        const len = buf[pos]
        if (pos + 1 + len > end) throw new WireError('TXT string runs past its record')
        texts.push(Buffer.from(buf.buffer, buf.byteOffset + pos + 1, len).toString('latin1'))
        pos += 1 + len
      }
      return { texts }
    }
    case RRType.SOA: {
      const m = readName(buf, start)
      const r = readName(buf, m.end)
      if (r.end + 20 !== end) throw new WireError('SOA record data has the wrong length')
      const at = r.end
      return { mname: m.name, rname: r.name, serial: u32(buf, at), refresh: u32(buf, at + 4), retry: u32(buf, at + 8), expire: u32(buf, at + 12), minimum: u32(buf, at + 16) } satisfies Soa
    }
    default:
      return { raw: buf.slice(start, end) }
  }
}

export function decodeFlags(b2: number, b3: number): Flags {
  return {
    qr: (b2 & 0x80) !== 0,
    opcode: (b2 >> 3) & 0x0f,
    aa: (b2 & 0x04) !== 0,
    tc: (b2 & 0x02) !== 0,
    rd: (b2 & 0x01) !== 0,
    ra: (b3 & 0x80) !== 0,
    ad: (b3 & 0x20) !== 0,
    cd: (b3 & 0x10) !== 0,
    rcode: b3 & 0x0f,
  }
}

/** Decodes a whole message. Throws WireError for anything malformed. */
export function decodeMessage(buf: Uint8Array): Message {
  if (buf.length < HEADER_SIZE) throw new WireError('message shorter than a DNS header')
  const id = u16(buf, 0)
  try {
    const counts = [u16(buf, 4), u16(buf, 6), u16(buf, 8), u16(buf, 10)]
    let pos = HEADER_SIZE
    const questions: Question[] = []
    for (let i = 0; i < counts[0]; i++) {
      const { name, end } = readName(buf, pos)
      if (end + 4 > buf.length) throw new WireError('question runs past the end of the message')
      questions.push({ name, type: u16(buf, end), class: u16(buf, end + 2) })
      pos = end + 4
    }
    const sections: ResourceRecord[][] = [[], [], []]
    let edns: Edns | undefined
    for (let s = 0; s < 3; s++) {
      for (let i = 0; i < counts[s + 1]; i++) {
        const { name, end } = readName(buf, pos)
        if (end + 10 > buf.length) throw new WireError('record runs past the end of the message')
        const type = u16(buf, end)
        const rdEnd = end + 10 + u16(buf, end + 8)
        if (rdEnd > buf.length) throw new WireError('record data runs past the end of the message')
        if (type === RRType.OPT && s === 2) {
          if (edns) throw new WireError('more than one OPT record')
          if (name !== '') throw new WireError('OPT record not owned by the root')
          edns = readOpt(buf, end, rdEnd)
        } else {
          sections[s].push({ name, type, class: u16(buf, end + 2), ttl: u32(buf, end + 4), data: decodeData(buf, type, end + 10, rdEnd) })
        }
        pos = rdEnd
      }
    }
    if (pos !== buf.length) throw new WireError(`${buf.length - pos} bytes after the last record`)
    return { id, flags: decodeFlags(buf[2], buf[3]), questions, answers: sections[0], authority: sections[1], additional: sections[2], edns }
  } catch (err) {
    if (err instanceof WireError && err.id === undefined) throw new WireError(err.message, id)
    throw err
  }
}

// ---- encoding -------------------------------------------------------------------------

/** Writes a message into a growing buffer, compressing names against those already written. */
class Writer {
  buf = Buffer.allocUnsafe(512)
  length = 0
  /** Name suffix (its wire form, ASCII letters lowered: see suffixKeys) → offset where it was written. */
  readonly names = new Map<string, number>()

  ensure(n: number): void {
    if (this.length + n <= this.buf.length) return
    const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.length + n))
    this.buf.copy(bigger, 0, 0, this.length)
    this.buf = bigger
  }
  u8(v: number): void {
    this.ensure(1)
    this.buf[this.length++] = v
  }
  u16(v: number): void {
    this.ensure(2)
    this.buf.writeUInt16BE(v & 0xffff, this.length)
    this.length += 2
  }
  u32(v: number): void {
    this.ensure(4)
    this.buf.writeUInt32BE(v >>> 0, this.length)
    this.length += 4
  }
  bytes(b: Uint8Array): void {
    this.ensure(b.length)
    this.buf.set(b, this.length)
    this.length += b.length
  }
  name(name: string, compress = true): void {
    const labels = nameLabels(name)
    const suffixes = compress ? suffixKeys(labels) : []
    for (let i = 0; i < labels.length; i++) {
      const suffix = suffixes[i]
      const at = compress ? this.names.get(suffix) : undefined
      if (at !== undefined) {
        this.u16(0xc000 | at)
        return
      }
      if (compress && this.length < 0x4000) this.names.set(suffix, this.length)
      this.u8(labels[i].length)
      this.bytes(labels[i])
    }
    this.u8(0)
  }
}

/**
 * The compression key of each suffix of a name: its wire form with ASCII letters lowered. Names
 * compare case-insensitively in ASCII only (RFC 4343), and a label holding a dot is not two
 * labels, so neither text joined by '.' nor a locale-aware lower case will do.
 */
function suffixKeys(labels: Uint8Array[]): string[] {
  const keys = new Array<string>(labels.length)
  let key = ''
  for (let i = labels.length - 1; i >= 0; i--) {
    const label = labels[i]
    let part = String.fromCharCode(label.length)
    for (const c of label) part += String.fromCharCode(c >= 0x41 && c <= 0x5a ? c | 0x20 : c)
    key = part + key
    keys[i] = key
  }
  return keys
}

function addressBytes(type: number, address: string): Uint8Array {
  if (type === RRType.A) {
    const v4 = parseIPv4(address)
    if (!v4) throw new WireError(`A record address ${JSON.stringify(address)} is not IPv4`)
    return Uint8Array.from(v4.split('.').map(Number))
  }
  const groups = address.includes(':') ? parseIPv6(address) : undefined
  if (!groups) throw new WireError(`AAAA record address ${JSON.stringify(address)} is not IPv6`)
  const out = new Uint8Array(16)
  groups.forEach((g, i) => {
    out[i * 2] = g >> 8
    out[i * 2 + 1] = g & 0xff
  })
  return out
}

function writeRecord(w: Writer, rr: ResourceRecord): void {
  w.name(rr.name)
  w.u16(rr.type)
  w.u16(rr.class)
  w.u32(rr.ttl)
  const lengthAt = w.length
  w.u16(0)
  const d = rr.data
  if ('raw' in d) {
    w.bytes(d.raw)
  } else {
    switch (rr.type) {
      case RRType.A:
      case RRType.AAAA:
        w.bytes(addressBytes(rr.type, (d as { address: string }).address))
        break
      case RRType.CNAME:
      case RRType.PTR:
      case RRType.NS:
        w.name((d as { target: string }).target)
        break
      case RRType.SRV: {
        const srv = d as Srv
        w.u16(srv.priority)
        w.u16(srv.weight)
        w.u16(srv.port)
        // RFC 2782: the target is not compressed.
        w.name(srv.target, false)
        break
      }
      case RRType.TXT:
        for (const text of (d as { texts: string[] }).texts) {
          const b = Buffer.from(text, 'latin1')
          if (b.length > 255) throw new WireError('TXT string longer than 255 bytes')
          w.u8(b.length)
          w.bytes(b)
        }
        break
      case RRType.SOA: {
        const soa = d as Soa
        w.name(soa.mname)
        w.name(soa.rname)
        for (const v of [soa.serial, soa.refresh, soa.retry, soa.expire, soa.minimum]) w.u32(v)
        break
      }
      default:
        throw new WireError(`record of type ${rr.type} needs raw data`)
    }
  }
  w.buf.writeUInt16BE(w.length - lengthAt - 2, lengthAt)
}

export function encodeFlags(f: Flags): [number, number] {
  const b2 = (f.qr ? 0x80 : 0) | ((f.opcode & 0x0f) << 3) | (f.aa ? 0x04 : 0) | (f.tc ? 0x02 : 0) | (f.rd ? 0x01 : 0)
  const b3 = (f.ra ? 0x80 : 0) | (f.ad ? 0x20 : 0) | (f.cd ? 0x10 : 0) | (f.rcode & 0x0f)
  return [b2, b3]
}

function writeOpt(w: Writer, edns: Edns): void {
  w.u8(0)
  w.u16(RRType.OPT)
  w.u16(edns.udpSize)
  w.u8(edns.extendedRcode)
  w.u8(edns.version)
  w.u16(edns.dnssecOk ? 0x8000 : 0)
  let length = 0
  for (const o of edns.options) length += 4 + o.data.length
  w.u16(length)
  for (const o of edns.options) {
    w.u16(o.code)
    w.u16(o.data.length)
    w.bytes(o.data)
  }
}

/**
 * Encodes a message. With `maxSize`, a message that would be larger is sent truncated: TC set,
 * the question and the OPT record kept, every other record dropped (RFC 2181 §9).
 */
export function encodeMessage(msg: Message, maxSize?: number): Buffer {
  const w = new Writer()
  const write = (truncated: boolean) => {
    w.length = 0
    w.names.clear()
    const [b2, b3] = encodeFlags({ ...msg.flags, tc: msg.flags.tc || truncated })
    w.u16(msg.id)
    w.u8(b2)
    w.u8(b3)
    const sections = truncated ? [[], [], []] : [msg.answers, msg.authority, msg.additional]
    w.u16(msg.questions.length)
    w.u16(sections[0].length)
    w.u16(sections[1].length)
    w.u16(sections[2].length + (msg.edns ? 1 : 0))
    for (const q of msg.questions) {
      w.name(q.name)
      w.u16(q.type)
      w.u16(q.class)
    }
    for (const section of sections) for (const rr of section) writeRecord(w, rr)
    if (msg.edns) writeOpt(w, msg.edns)
  }
  write(false)
  if (maxSize !== undefined && w.length > maxSize) write(true)
  return Buffer.from(w.buf.subarray(0, w.length))
}
