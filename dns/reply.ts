// Replies built from a query's own bytes. A zone answer is encoded once per index generation
// as a "prebuilt" tail (the sections after the question, their names compressed against a
// lower-cased copy of the question at offset 12); a reply is then the query's header and
// question bytes (the asker's case, which 0x20-randomising resolvers check), that tail, and
// an OPT record when the query had one.
import type { Answer } from './records.ts'
import { encodeMessage, HEADER_SIZE, MIN_UDP_SIZE, skipName } from './wire.ts'

/** The UDP payload size weft advertises and caps replies at (the DNS flag day 2020 value). */
export const ADVERTISED_UDP_SIZE = 1232
const OPT_SIZE = 11

export interface Prebuilt {
  rcode: number
  authoritative: boolean
  answers: number
  authority: number
  additional: number
  tail: Buffer
}

const empty = Buffer.alloc(0)

export function prebuild(lowerName: string, type: number, klass: number, answer: Answer): Prebuilt {
  const full = encodeMessage({
    id: 0,
    flags: { qr: true, opcode: 0, aa: answer.authoritative, tc: false, rd: false, ra: true, ad: false, cd: false, rcode: answer.rcode & 0xf },
    questions: [{ name: lowerName, type, class: klass }],
    answers: answer.answers,
    authority: answer.authority,
    additional: answer.additional,
  })
  const questionEnd = skipName(full, HEADER_SIZE) + 4
  return {
    rcode: answer.rcode,
    authoritative: answer.authoritative,
    answers: answer.answers.length,
    authority: answer.authority.length,
    additional: answer.additional.length,
    tail: Buffer.from(full.subarray(questionEnd)),
  }
}

/** A reply with no records: an error, or a truncated answer. */
export function bare(rcode: number): Prebuilt {
  return { rcode, authoritative: false, answers: 0, authority: 0, additional: 0, tail: empty }
}

/** What a reply takes from its query besides the bytes: ParsedQuery has it, and so does the fast path. */
export interface ReplyShape {
  /** Bytes 12..questionEnd of the query are its question. */
  questionEnd: number
  opcode: number
  rd: boolean
  cd: boolean
  edns: { udpSize: number; dnssecOk: boolean } | undefined
}

/** The largest UDP reply this query may get. */
export function udpLimit(query: ReplyShape): number {
  return udpSizeLimit(query.edns ? query.edns.udpSize : -1)
}

/** The largest UDP reply to a query whose OPT record advertises `udpSize` (-1: no OPT record). */
export function udpSizeLimit(udpSize: number): number {
  return udpSize < 0 ? MIN_UDP_SIZE : Math.max(MIN_UDP_SIZE, Math.min(udpSize, ADVERTISED_UDP_SIZE))
}

/** The reply to `query` (whose bytes are `bytes`) from `p`; with `maxSize`, truncated (TC, no records) if larger. */
export function assemble(query: ReplyShape, bytes: Uint8Array, p: Prebuilt, maxSize?: number): Buffer {
  const dnssec = query.edns ? (query.edns.dnssecOk ? 1 : 0) : -1
  const out = Buffer.allocUnsafe(replySize(query.questionEnd, p, dnssec, maxSize))
  writeReply(out, bytes, query.questionEnd, query.opcode, query.rd, query.cd, dnssec, p, maxSize)
  return out
}

/** The length of the reply writeReply makes; `dnssec` -1 when the query has no OPT record, else its DO bit. */
export function replySize(questionEnd: number, p: Prebuilt, dnssec: number, maxSize = Infinity): number {
  const bare = questionEnd + (dnssec < 0 ? 0 : OPT_SIZE)
  return bare + p.tail.length > maxSize ? bare : bare + p.tail.length
}

/**
 * Writes the reply to the query in `bytes` (its question ends at `questionEnd`) from `p` into
 * `out` from offset 0 and returns its length (replySize). Every byte up to that length is
 * written, so `out` may be a buffer reused from reply to reply. `dnssec`: -1 when the query
 * has no OPT record, else its DO bit; over `maxSize` the reply is truncated (TC, no records).
 */
export function writeReply(out: Uint8Array, bytes: Uint8Array, questionEnd: number, opcode: number, rd: boolean, cd: boolean, dnssec: number, p: Prebuilt, maxSize = Infinity): number {
  const opt = dnssec < 0 ? 0 : OPT_SIZE
  const truncated = questionEnd + opt + p.tail.length > maxSize
  const size = truncated ? questionEnd + opt : questionEnd + opt + p.tail.length
  out[0] = bytes[0]
  out[1] = bytes[1]
  out[2] = 0x80 | (opcode << 3) | (p.authoritative ? 0x04 : 0) | (truncated ? 0x02 : 0) | (rd ? 0x01 : 0)
  out[3] = 0x80 | (cd ? 0x10 : 0) | (p.rcode & 0x0f)
  out[4] = 0
  out[5] = 1
  const answers = truncated ? 0 : p.answers
  const authority = truncated ? 0 : p.authority
  const additional = (truncated ? 0 : p.additional) + (opt ? 1 : 0)
  out[6] = answers >> 8
  out[7] = answers & 0xff
  out[8] = authority >> 8
  out[9] = authority & 0xff
  out[10] = additional >> 8
  out[11] = additional & 0xff
  for (let i = HEADER_SIZE; i < questionEnd; i++) out[i] = bytes[i]
  let at = questionEnd
  if (!truncated) {
    out.set(p.tail, at)
    at += p.tail.length
  }
  if (opt) {
    out[at] = 0
    out[at + 1] = 0
    out[at + 2] = 41
    out[at + 3] = ADVERTISED_UDP_SIZE >> 8
    out[at + 4] = ADVERTISED_UDP_SIZE & 0xff
    out[at + 5] = p.rcode >> 4
    out[at + 6] = 0
    out[at + 7] = dnssec === 1 ? 0x80 : 0
    out[at + 8] = 0
    out[at + 9] = 0
    out[at + 10] = 0
  }
  return size
}

/** A header-only reply for a query whose question could not be read. */
export function headerOnly(bytes: Uint8Array, id: number, rcode: number): Buffer {
  const out = Buffer.alloc(HEADER_SIZE)
  out.writeUInt16BE(id, 0)
  out[2] = 0x80 | (bytes.length > 2 ? bytes[2] & 0x79 : 0)
  out[3] = 0x80 | (rcode & 0x0f)
  return out
}

/** Caps an upstream's reply for a UDP asker: a reply over the limit is sent as header + question with TC. */
export function fitUdp(query: ReplyShape, bytes: Uint8Array, reply: Buffer, maxSize: number): Buffer {
  if (reply.length <= maxSize) return reply
  const p = bare(reply[3] & 0x0f)
  const out = assemble(query, bytes, p, 0)
  out[2] = (out[2] & ~0x04) | (reply[2] & 0x04)
  return out
}
