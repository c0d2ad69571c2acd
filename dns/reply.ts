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
  return query.edns ? Math.max(MIN_UDP_SIZE, Math.min(query.edns.udpSize, ADVERTISED_UDP_SIZE)) : MIN_UDP_SIZE
}

/** The reply to `query` (whose bytes are `bytes`) from `p`; with `maxSize`, truncated (TC, no records) if larger. */
export function assemble(query: ReplyShape, bytes: Uint8Array, p: Prebuilt, maxSize?: number): Buffer {
  const questionLength = query.questionEnd - HEADER_SIZE
  const opt = query.edns ? OPT_SIZE : 0
  let size = HEADER_SIZE + questionLength + p.tail.length + opt
  const truncated = maxSize !== undefined && size > maxSize
  if (truncated) size = HEADER_SIZE + questionLength + opt
  const out = Buffer.allocUnsafe(size)
  out[0] = bytes[0]
  out[1] = bytes[1]
  out[2] = 0x80 | (query.opcode << 3) | (p.authoritative ? 0x04 : 0) | (truncated ? 0x02 : 0) | (query.rd ? 0x01 : 0)
  out[3] = 0x80 | (query.cd ? 0x10 : 0) | (p.rcode & 0x0f)
  out.writeUInt16BE(1, 4)
  out.writeUInt16BE(truncated ? 0 : p.answers, 6)
  out.writeUInt16BE(truncated ? 0 : p.authority, 8)
  out.writeUInt16BE((truncated ? 0 : p.additional) + (opt ? 1 : 0), 10)
  out.set(bytes.subarray(HEADER_SIZE, query.questionEnd), HEADER_SIZE)
  let at = HEADER_SIZE + questionLength
  if (!truncated) {
    out.set(p.tail, at)
    at += p.tail.length
  }
  if (opt) {
    out[at] = 0
    out.writeUInt16BE(41, at + 1)
    out.writeUInt16BE(ADVERTISED_UDP_SIZE, at + 3)
    out[at + 5] = p.rcode >> 4
    out[at + 6] = 0
    out[at + 7] = query.edns!.dnssecOk ? 0x80 : 0
    out[at + 8] = 0
    out.writeUInt16BE(0, at + 9)
  }
  return out
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
