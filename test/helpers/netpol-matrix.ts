// Reachability matrices for the NetworkPolicy end-to-end test, after upstream's netpol e2e
// suite (test/e2e/network/netpol: reachability.go, truthtable.go): rows are the "from" pods,
// columns the "to" targets, `.` allowed and `X` denied. Expectations are written from what a
// scenario means (`expect(peer, peer, allowed)` over namespaces and pods), never computed by
// weft's own compiler, so the test can catch the compiler's mistakes.

/** Upstream's Peer: an empty field matches every namespace (pod). */
export interface Peer {
  ns?: string
  pod?: string
}

export const anyPeer: Peer = {}

/** `x/a` → { ns: 'x', pod: 'a' }. */
export function peerOf(key: string): Peer {
  const [ns, pod] = key.split('/') as [string, string]
  return { ns, pod }
}

function matches(peer: Peer | readonly string[], key: string): boolean {
  if (Array.isArray(peer)) return peer.includes(key)
  const [ns, pod] = key.split('/') as [string, string | undefined]
  const p = peer as Peer
  return (p.ns === undefined || p.ns === ns) && (p.pod === undefined || p.pod === pod)
}

export class Matrix {
  readonly froms: readonly string[]
  readonly tos: readonly string[]
  readonly #values = new Map<string, boolean>()

  constructor(froms: readonly string[], tos: readonly string[], initial: boolean) {
    this.froms = froms
    this.tos = tos
    for (const f of froms) for (const to of tos) this.#values.set(`${f} ${to}`, initial)
  }

  get(from: string, to: string): boolean {
    const v = this.#values.get(`${from} ${to}`)
    if (v === undefined) throw new Error(`no cell ${from} -> ${to}`)
    return v
  }

  set(from: string, to: string, allowed: boolean): this {
    this.get(from, to)
    this.#values.set(`${from} ${to}`, allowed)
    return this
  }

  /** Every cell from a pod `from` matches to a target `to` matches (a Peer, or a list of keys). */
  expect(from: Peer | readonly string[], to: Peer | readonly string[], allowed: boolean): this {
    for (const f of this.froms) if (matches(from, f)) for (const t of this.tos) if (matches(to, t)) this.#values.set(`${f} ${t}`, allowed)
    return this
  }

  allow(from: Peer | readonly string[], to: Peer | readonly string[]): this {
    return this.expect(from, to, true)
  }

  deny(from: Peer | readonly string[], to: Peer | readonly string[]): this {
    return this.expect(from, to, false)
  }

  /** A pod reaching its own address never leaves its network namespace: always allowed (cells from a key to the same key). */
  allowLoopback(): this {
    for (const f of this.froms) if (this.tos.includes(f)) this.#values.set(`${f} ${f}`, true)
    return this
  }

  clone(): Matrix {
    const m = new Matrix(this.froms, this.tos, true)
    for (const f of this.froms) for (const t of this.tos) m.set(f, t, this.get(f, t))
    return m
  }

  /** The cells where `other` differs. */
  differences(other: Matrix): { from: string; to: string }[] {
    const out: { from: string; to: string }[] = []
    for (const f of this.froms) for (const t of this.tos) if (this.get(f, t) !== other.get(f, t)) out.push({ from: f, to: t })
    return out
  }

  /** Upstream's TruthTable.PrettyPrint: a header of targets, a row per source, `.`/`X` marks. */
  print(mark: (from: string, to: string) => string = (f, t) => (this.get(f, t) ? '.' : 'X'), corner = '-'): string {
    const lines = [[corner, ...this.tos].join('\t')]
    for (const f of this.froms) lines.push([f, ...this.tos.map((t) => mark(f, t))].join('\t'))
    return lines.join('\n')
  }
}

/** Expected and observed side by side, as upstream's PrintSummary does, with the mismatches marked. */
export function comparison(title: string, expected: Matrix, observed: Matrix, notes: ReadonlyMap<string, string> = new Map()): string {
  const wrong = expected.differences(observed)
  const lines = [
    `${title}: ${wrong.length} wrong of ${expected.froms.length * expected.tos.length} (rows: from, columns: to; . allowed, X denied)`,
    'expected:',
    expected.print(),
    'observed (a mismatch is marked with *):',
    observed.print((f, t) => `${observed.get(f, t) ? '.' : 'X'}${expected.get(f, t) === observed.get(f, t) ? '' : '*'}`),
    'comparison (. agrees, X differs):',
    expected.print((f, t) => (expected.get(f, t) === observed.get(f, t) ? '.' : 'X')),
  ]
  if (wrong.length) lines.push('mismatches:', ...wrong.map(({ from, to }) => `  ${from} -> ${to}: expected ${expected.get(from, to) ? 'allowed' : 'denied'}, observed ${observed.get(from, to) ? 'allowed' : 'denied'}${notes.get(`${from} ${to}`) ? ` (${notes.get(`${from} ${to}`)})` : ''}`))
  return lines.join('\n')
}
