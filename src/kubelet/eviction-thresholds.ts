// `--eviction-hard` (upstream syntax: `memory.available<100Mi,nodefs.available<10%`) and
// the formatting of byte quantities as upstream's resource.Quantity prints them (BinarySI).
import { isQuantity, parseQuantityValue } from '../api/quantity.ts'

/** The kubelet's Linux default. weft acts on memory.available; the others are accepted and kept. */
export const DEFAULT_EVICTION_HARD = 'memory.available<100Mi,nodefs.available<10%,nodefs.inodesFree<5%,imagefs.available<15%,imagefs.inodesFree<5%'

const SIGNALS = [
  'memory.available',
  'allocatableMemory.available',
  'nodefs.available',
  'nodefs.inodesFree',
  'imagefs.available',
  'imagefs.inodesFree',
  'containerfs.available',
  'containerfs.inodesFree',
  'pid.available',
] as const
export type EvictionSignal = (typeof SIGNALS)[number]

export interface EvictionThreshold {
  signal: EvictionSignal
  /** An absolute quantity (bytes, inodes or pids)… */
  quantity?: number
  /** …or a fraction of the capacity (0–1). */
  percentage?: number
  /** As written after `<`, for messages. */
  text: string
}

export function parseEvictionHard(flag: string, value: string): EvictionThreshold[] {
  const out: EvictionThreshold[] = []
  if (value.trim() === '') return out
  for (const part of value.split(',')) {
    const item = part.trim()
    const m = /^([A-Za-z.]+)(<|>|<=|>=|=)(.*)$/.exec(item)
    if (!m) throw new Error(`${flag}: "${item}" must be SIGNAL<QUANTITY, like memory.available<100Mi`)
    const [, signal, op, amount] = m as unknown as [string, string, string, string]
    if (!(SIGNALS as readonly string[]).includes(signal)) throw new Error(`${flag}: unsupported eviction signal ${signal} (known: ${SIGNALS.join(', ')})`)
    if (op !== '<') throw new Error(`${flag}: ${item}: the only operator is <`)
    if (out.some((t) => t.signal === signal)) throw new Error(`${flag}: found duplicate eviction threshold for signal ${signal}`)
    if (amount.endsWith('%')) {
      const pct = Number(amount.slice(0, -1))
      if (!/^\d+(\.\d+)?%$/.test(amount) || !(pct > 0 && pct <= 100)) throw new Error(`${flag}: ${item}: the percentage must be above 0% and at most 100%`)
      out.push({ signal: signal as EvictionSignal, percentage: pct / 100, text: amount })
      continue
    }
    if (!isQuantity(amount)) throw new Error(`${flag}: ${item}: "${amount}" is not a quantity like 100Mi or a percentage like 10%`)
    const quantity = parseQuantityValue(amount)
    if (quantity < 0) throw new Error(`${flag}: eviction threshold ${signal} cannot be negative: ${amount}`)
    out.push({ signal: signal as EvictionSignal, quantity, text: amount })
  }
  return out
}

/** The threshold in absolute units against this capacity. */
export function thresholdValue(t: EvictionThreshold, capacity: number): number {
  return t.quantity ?? Math.floor(capacity * (t.percentage ?? 0))
}

const BINARY = ['', 'Ki', 'Mi', 'Gi', 'Ti', 'Pi', 'Ei']
const DECIMAL = ['', 'k', 'M', 'G', 'T', 'P', 'E']

/** An integer as resource.Quantity prints a BinarySI one: `100Mi`, `12345Ki`, `1536`, `1k` (below 1024: decimal). */
export function formatBinaryQuantity(n: number): string {
  let v = Math.trunc(n)
  const neg = v < 0
  v = Math.abs(v)
  let i = 0
  if (v < 1024) {
    while (v !== 0 && v % 1000 === 0 && i < DECIMAL.length - 1) {
      v /= 1000
      i++
    }
    return `${neg ? '-' : ''}${v}${DECIMAL[i]}`
  }
  while (v % 1024 === 0 && i < BINARY.length - 1) {
    v /= 1024
    i++
  }
  return `${neg ? '-' : ''}${v}${BINARY[i]}`
}
