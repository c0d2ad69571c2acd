// Seeded fuzzing for the listener suites (`*.fuzz.test.ts`). In CI each suite runs a bounded
// number of cases from a fixed seed, so a failure replays exactly; `npm run fuzz` runs them
// longer (`-- --scale K` for K times each suite's CI count, `--iterations N` for N cases,
// `--seed S`). A failing case is reported with its seed and index.
import { readdirSync } from 'node:fs'

export interface FuzzSettings {
  seed: number
  /** How many cases to run: the suite's CI count, unless WEFT_FUZZ_ITERATIONS or WEFT_FUZZ_SCALE says otherwise. */
  iterations: number
  long: boolean
}

function envInteger(name: string, min: number): number | undefined {
  const text = process.env[name]
  if (text === undefined || text === '') return undefined
  const n = Number(text)
  if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be an integer of at least ${min}, not ${JSON.stringify(text)}`)
  return n
}

/** The seed and case count for a suite whose CI run does `ciIterations` cases. */
export function fuzzSettings(ciIterations: number, defaultSeed = 1): FuzzSettings {
  const seed = envInteger('WEFT_FUZZ_SEED', 0) ?? defaultSeed
  const iterations = envInteger('WEFT_FUZZ_ITERATIONS', 1) ?? ciIterations * (envInteger('WEFT_FUZZ_SCALE', 1) ?? 1)
  return { seed, iterations, long: iterations > ciIterations }
}

/** A small deterministic generator (mulberry32) with the helpers fuzz cases need. */
export class Rng {
  #state: number

  constructor(seed: number) {
    this.#state = seed >>> 0
  }

  /** A float in [0, 1). */
  next(): number {
    let t = (this.#state = (this.#state + 0x6d2b79f5) >>> 0)
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n)
  }

  chance(p: number): boolean {
    return this.next() < p
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!
  }

  bytes(n: number): Buffer {
    const b = Buffer.allocUnsafe(n)
    for (let i = 0; i < n; i++) b[i] = this.int(256)
    return b
  }

  /** `input` with up to `max` random byte flips, insertions, deletions or a truncation. */
  mutate(input: Buffer, max = 6): Buffer {
    let b = Buffer.from(input)
    const n = 1 + this.int(max)
    for (let i = 0; i < n; i++) {
      const at = b.length ? this.int(b.length) : 0
      switch (this.int(4)) {
        case 0:
          if (b.length) b[at] = this.int(256)
          break
        case 1:
          b = Buffer.concat([b.subarray(0, at), this.bytes(1 + this.int(8)), b.subarray(at)])
          break
        case 2:
          b = Buffer.concat([b.subarray(0, at), b.subarray(at + 1 + this.int(8))])
          break
        default:
          if (this.chance(0.3)) b = b.subarray(0, at)
      }
    }
    return b
  }

  /** A string an attacker might put in a field: separators, quotes, control bytes, long runs. */
  hostileString(): string {
    if (this.chance(0.5)) return this.pick(HOSTILE_STRINGS)
    const parts = Array.from({ length: 1 + this.int(4) }, () => this.pick(HOSTILE_PIECES))
    return parts.join('')
  }
}

/** Whole values that have broken parsers and renderers elsewhere. */
export const HOSTILE_STRINGS: readonly string[] = [
  '',
  ' ',
  '\n',
  '10.0.0.1\nflush ruleset',
  '10.0.0.1; flush ruleset',
  '10.0.0.1 } ; flush ruleset ; add rule ip x y {',
  '10.0.0.0/8\ndelete table ip weft',
  '10.0.0.1 accept',
  '1.2.3.4/33',
  '1.2.3.4/-1',
  '300.1.1.1',
  '1.2.3',
  '01.02.03.04',
  '0x7f.0.0.1',
  '::ffff:1.2.3.4',
  'fe80::1%eth0',
  '1.2.3.4 ',
  ' 1.2.3.4',
  '1.2.3.4/24 ',
  '$(reboot)',
  '`id`',
  '"; rm -rf / #',
  "' or 1=1 --",
  '{ }',
  '@set',
  '#comment',
  '\\',
  '\u0000',
  '\r\n',
  '\u2028',
  'é.example',
  '..',
  '../../etc/passwd',
  '%2e%2e/',
  'a'.repeat(4096),
  '1'.repeat(300),
  'ip daddr 1.1.1.1 drop',
]

const HOSTILE_PIECES: readonly string[] = ['1.2.3.4', '/24', '::1', ';', '\n', '}', '{', '"', "'", ' ', '\t', '$', '#', '@', '\u0000', 'drop', 'flush', 'ruleset', ',', '-', '999', 'é']

/** Open file descriptors of this process (a leak check: compare before and after a suite). */
export function openFdCount(): number {
  return readdirSync('/proc/self/fd').length
}
