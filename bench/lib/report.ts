// Result tables: aligned text for the terminal, Markdown for results files, and the
// number formats every benchmark prints.

import { cpus, loadavg } from 'node:os'

export type Verdict = 'pass' | 'FAIL' | ''

/** The machine a run was measured on: CPUs (and their model), the load average at the end, and how long the run took when `startedAt` is given. */
export function machineSummary(startedAt?: number): string {
  const cpu = cpus()
  const load = loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')
  const took = startedAt === undefined ? '' : `, ${((Date.now() - startedAt) / 60_000).toFixed(1)} min in all`
  return `${cpu.length} CPUs (${cpu[0]?.model.trim() ?? '?'}), load average ${load} at the end${took}`
}

export interface ResultRow {
  metric: string
  weft: string
  peer: string
  ratio: string
  target: string
  verdict: Verdict
}

export interface Target {
  text: string
  /** Whether a figure meets the target. */
  met: (value: number) => boolean
}

export const atLeast = (min: number, unit: string): Target => ({ text: `≥ ${fmtNumber(min)}${unit}`, met: (v) => v >= min })
export const atMost = (max: number, unit: string): Target => ({ text: `≤ ${fmtNumber(max)}${unit}`, met: (v) => v <= max })

export function verdict(target: Target | undefined, value: number): Verdict {
  if (target === undefined) return ''
  return Number.isFinite(value) && target.met(value) ? 'pass' : 'FAIL'
}

export function fmtNumber(n: number): string {
  if (!Number.isFinite(n)) return '—'
  if (Math.abs(n) >= 100) return Math.round(n).toLocaleString('en-US')
  if (Math.abs(n) >= 10) return n.toFixed(1)
  return n.toFixed(2)
}

export const fmtRate = (perSecond: number): string => `${fmtNumber(perSecond)}/s`
export const fmtMs = (ms: number): string => (Number.isFinite(ms) ? `${fmtNumber(ms)} ms` : '—')
export const fmtRatio = (ratio: number): string => (Number.isFinite(ratio) ? `${(ratio * 100).toFixed(0)}%` : '—')

const HEADERS = ['metric', 'weft', 'peer', 'ratio', 'target', 'result'] as const

function cells(row: ResultRow): string[] {
  return [row.metric, row.weft, row.peer, row.ratio, row.target, row.verdict]
}

export function textTable(rows: ResultRow[]): string {
  const all = [Array.from(HEADERS), ...rows.map(cells)]
  const widths = HEADERS.map((_, c) => Math.max(...all.map((r) => r[c].length)))
  const line = (r: string[]) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ').trimEnd()
  return [line(all[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...all.slice(1).map(line)].join('\n')
}

export function markdownTable(rows: ResultRow[]): string {
  const escape = (s: string) => s.replaceAll('|', '\\|')
  return [
    `| ${HEADERS.join(' | ')} |`,
    `|${HEADERS.map((_, c) => (c === 0 ? ':---' : '---:')).join('|')}|`,
    ...rows.map((r) => `| ${cells(r).map(escape).join(' | ')} |`),
  ].join('\n')
}
