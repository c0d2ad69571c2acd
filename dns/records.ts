// DNS message model shared by the codec (wire.ts), the zone (zone-index.ts, answer.ts) and
// the server shell. Names are written without the trailing dot; the root is ''. Names in
// the zone index are lower case; names decoded from the wire keep the case they were sent in.

export const RRType = {
  A: 1,
  NS: 2,
  CNAME: 5,
  SOA: 6,
  PTR: 12,
  MX: 15,
  TXT: 16,
  AAAA: 28,
  SRV: 33,
  OPT: 41,
  IXFR: 251,
  AXFR: 252,
  ANY: 255,
} as const

export const RRClass = { IN: 1, CH: 3, NONE: 254, ANY: 255 } as const

export const Rcode = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5, BADVERS: 16 } as const

export const Opcode = { QUERY: 0, IQUERY: 1, STATUS: 2, NOTIFY: 4, UPDATE: 5 } as const

export interface Question {
  name: string
  type: number
  class: number
}

export interface Soa {
  mname: string
  rname: string
  serial: number
  refresh: number
  retry: number
  expire: number
  minimum: number
}

export interface Srv {
  priority: number
  weight: number
  port: number
  target: string
}

/**
 * The data of a record, by type: A and AAAA `{ address }`; CNAME, PTR and NS `{ target }`;
 * SRV `Srv`; TXT `{ texts }` (each at most 255 bytes); SOA `Soa`; any other type `{ raw }`.
 */
export type RecordData = { address: string } | { target: string } | Srv | { texts: string[] } | Soa | { raw: Uint8Array }

export interface ResourceRecord {
  name: string
  type: number
  class: number
  ttl: number
  data: RecordData
}

export interface EdnsOption {
  code: number
  data: Uint8Array
}

export interface Edns {
  /** The sender's UDP payload size (the OPT record's class). */
  udpSize: number
  version: number
  /** The DNSSEC OK bit. */
  dnssecOk: boolean
  /** The upper 8 bits of the 12-bit rcode. */
  extendedRcode: number
  options: EdnsOption[]
}

export interface Flags {
  qr: boolean
  opcode: number
  aa: boolean
  tc: boolean
  rd: boolean
  ra: boolean
  ad: boolean
  cd: boolean
  /** The low 4 bits of the rcode; with EDNS the full rcode is extendedRcode << 4 | rcode. */
  rcode: number
}

export interface Message {
  id: number
  flags: Flags
  questions: Question[]
  answers: ResourceRecord[]
  authority: ResourceRecord[]
  /** Without the OPT pseudo-record: that is `edns`. */
  additional: ResourceRecord[]
  edns?: Edns
}

/** What the zone says to one question: the sections of the reply, and its rcode. */
export interface Answer {
  rcode: number
  /** Set for answers from the cluster zone (the server is the zone's authority). */
  authoritative: boolean
  answers: ResourceRecord[]
  authority: ResourceRecord[]
  additional: ResourceRecord[]
}
