// `weft load compare A B`: two results side by side (e.g. nftables vs userspace, ClusterIP vs
// direct), as text for the terminal and as one self-contained HTML page with both results on
// the same charts. Δ is B − A; the ratio is B / A.
import { errorClasses, type ErrorClass, type LoadResult } from '../types.ts'
import { drawCharts, type ChartData } from './charts.ts'
import { formatCount, formatMs, formatPercent, formatRate, formatSeconds, padEnd, padStart, percentileLabel, terminalSafe, truncate } from './format.ts'
import { chartSlot, paragraph, section, table, type CellInput } from './html-parts.ts'
import { shown } from './html.ts'
import { escapeHtml, renderPage } from './page.ts'
import { describeLoad, describeTarget } from './summary.ts'

export type Labels = [string, string]

const maxEndpoints = 20
/** The widest a text column gets (longer values are cut). */
const maxTextColumn = 60

interface Row {
  label: string
  a: string
  b: string
  delta?: string
  ratio?: string
  /** B is worse than A by this row's measure (more errors, slower): shown in red in HTML. */
  worse?: boolean
}

interface Table {
  title: string
  /** Column titles after the label: A, B, then Δ and ratio when the rows have them. */
  headers: string[]
  rows: Row[]
}

function signed(value: number, format: (value: number) => string): string {
  if (value === 0) return '0'
  return (value > 0 ? '+' : '−') + format(Math.abs(value))
}

function ratio(a: number, b: number): string {
  if (a === 0 || !Number.isFinite(a) || !Number.isFinite(b)) return '–'
  const value = b / a
  return (value >= 100 ? formatCount(value) : value.toFixed(2)) + '×'
}

function numberRow(label: string, a: number, b: number, format: (value: number) => string, higherIsWorse: boolean | undefined): Row {
  return { label, a: format(a), b: format(b), delta: signed(b - a, format), ratio: ratio(a, b), worse: higherIsWorse === undefined ? false : higherIsWorse ? b > a : b < a }
}

function runTable(a: LoadResult, b: LoadResult): Table {
  const text = (result: LoadResult, width: number): string => truncate(terminalSafe(result.target.spec), width)
  return {
    title: 'Runs',
    headers: ['A', 'B'],
    rows: [
      { label: 'target', a: text(a, 200), b: text(b, 200) },
      { label: 'reached', a: describeTarget(a), b: describeTarget(b) },
      { label: 'load', a: describeLoad(a), b: describeLoad(b) },
      { label: 'started', a: terminalSafe(a.startedAt), b: terminalSafe(b.startedAt) },
      { label: 'generators', a: formatCount(a.generators.length), b: formatCount(b.generators.length) },
    ],
  }
}

function totalsTable(a: LoadResult, b: LoadResult): Table {
  return {
    title: 'Totals',
    headers: ['A', 'B', 'Δ', 'B/A'],
    rows: [
      numberRow('duration', a.durationSeconds, b.durationSeconds, formatSeconds, undefined),
      numberRow('sent', a.totals.sent, b.totals.sent, formatCount, undefined),
      numberRow('ok', a.totals.ok, b.totals.ok, formatCount, undefined),
      numberRow('errors', a.totals.errors, b.totals.errors, formatCount, true),
      { ...numberRow('error rate', a.totals.errorRate, b.totals.errorRate, formatPercent, true), ratio: ratio(a.totals.errorRate, b.totals.errorRate) },
      numberRow('sent per second', a.totals.sentRate, b.totals.sentRate, formatRate, false),
      numberRow('ok per second', a.totals.okRate, b.totals.okRate, formatRate, false),
    ],
  }
}

function latencyTable(a: LoadResult, b: LoadResult): Table {
  const ps = [...new Set([...a.latency.percentiles, ...b.latency.percentiles].map((entry) => entry.p))].sort((x, y) => x - y)
  const at = (result: LoadResult, p: number): number | undefined => result.latency.percentiles.find((entry) => entry.p === p)?.ms
  const rows: Row[] = [numberRow('mean', a.latency.mean, b.latency.mean, formatMs, true)]
  for (const p of ps) {
    const msA = at(a, p)
    const msB = at(b, p)
    if (msA === undefined || msB === undefined) rows.push({ label: percentileLabel(p), a: msA === undefined ? '–' : formatMs(msA), b: msB === undefined ? '–' : formatMs(msB) })
    else rows.push(numberRow(percentileLabel(p), msA, msB, formatMs, true))
  }
  rows.push(numberRow('stddev', a.latency.stddev, b.latency.stddev, formatMs, true))
  return { title: 'Latency (ms)', headers: ['A', 'B', 'Δ', 'B/A'], rows }
}

function errorsTable(a: LoadResult, b: LoadResult): Table {
  const count = (result: LoadResult, name: ErrorClass): number => result.errors.find((entry) => entry.class === name)?.count ?? 0
  const classes = errorClasses.filter((name) => count(a, name) > 0 || count(b, name) > 0)
  return {
    title: 'Errors by class',
    headers: ['A', 'B', 'Δ', 'B/A'],
    rows: classes.map((name) => numberRow(name, count(a, name), count(b, name), formatCount, true)),
  }
}

function endpointsTable(a: LoadResult, b: LoadResult): Table {
  const find = (result: LoadResult, name: string) => result.endpoints.find((entry) => entry.name === name)
  const weight = new Map<string, number>()
  for (const entry of [...a.endpoints, ...b.endpoints]) weight.set(entry.name, (weight.get(entry.name) ?? 0) + entry.share)
  const names = [...weight].sort((x, y) => y[1] - x[1]).map(([name]) => name)
  const cell = (result: LoadResult, name: string): string => {
    const entry = find(result, name)
    return entry ? `${formatCount(entry.requests)} (${formatPercent(entry.share)})` : '–'
  }
  const rows: Row[] = names.slice(0, maxEndpoints).map((name) => ({ label: truncate(terminalSafe(name), 40), a: cell(a, name), b: cell(b, name) }))
  if (names.length > maxEndpoints) rows.push({ label: `… and ${formatCount(names.length - maxEndpoints)} more`, a: '', b: '' })
  return { title: 'Endpoints', headers: ['A', 'B'], rows }
}

function tables(a: LoadResult, b: LoadResult): Table[] {
  return [runTable(a, b), totalsTable(a, b), latencyTable(a, b), errorsTable(a, b), endpointsTable(a, b)]
}

function cell(text: string, width: number): string {
  return padEnd(truncate(text, width - 2), width)
}

function textTable(entry: Table): string[] {
  if (entry.rows.length === 0) return [`${entry.title}: none in either`]
  const labelWidth = Math.max(entry.title.length, ...entry.rows.map((row) => row.label.length + 2)) + 2
  const numeric = entry.headers.length > 2
  const width = (values: string[]): number => Math.min(maxTextColumn, Math.max(...values.map((value) => value.length))) + 2
  const aWidth = width([entry.headers[0], ...entry.rows.map((row) => row.a)])
  const bWidth = width([entry.headers[1], ...entry.rows.map((row) => row.b)])
  const deltaWidth = numeric ? width([entry.headers[2], ...entry.rows.map((row) => row.delta ?? '')]) : 0
  const ratioWidth = numeric ? width([entry.headers[3], ...entry.rows.map((row) => row.ratio ?? '')]) : 0
  const column = (text: string, columnWidth: number): string => (numeric ? padStart(truncate(text, columnWidth - 2), columnWidth) : cell(text, columnWidth))
  const line = (label: string, a: string, b: string, delta?: string, ratioText?: string): string =>
    (cell(label, labelWidth) + column(a, aWidth) + column(b, bWidth) + (numeric ? padStart(delta ?? '', deltaWidth) + padStart(ratioText ?? '', ratioWidth) : '')).trimEnd()
  return [
    line(entry.title, entry.headers[0], entry.headers[1], entry.headers[2], entry.headers[3]),
    ...entry.rows.map((row) => line('  ' + row.label, row.a, row.b, row.delta, row.ratio)),
  ]
}

function runLines(name: string, label: string, result: LoadResult): string[] {
  const indent = ' '.repeat(name.length + 2)
  return [
    `${name}  ${truncate(terminalSafe(label), 100)}`,
    indent + describeTarget(result),
    indent + describeLoad(result),
    `${indent}started ${truncate(terminalSafe(result.startedAt), 40)}, ${formatCount(result.generators.length)} generator${result.generators.length === 1 ? '' : 's'}`,
  ]
}

/** Two results side by side, as text for a terminal (ends with a newline). */
export function compareResults(a: LoadResult, b: LoadResult, labels: Labels): string {
  const [, ...rest] = tables(a, b)
  const sections = [[...runLines('A', labels[0], a), ...runLines('B', labels[1], b)], ...rest.map(textTable)]
  return sections.map((lines) => lines.join('\n')).join('\n\n') + '\n'
}

function htmlTable(entry: Table): string {
  if (entry.rows.length === 0) return section(entry.title, paragraph('None in either run.', 'sub'))
  const numeric = entry.headers.length > 2
  const headers: CellInput[] = ['', ...entry.headers.map((header) => ({ text: header, className: numeric ? ('num' as const) : undefined }))]
  const rows = entry.rows.map((row) => {
    const cells: CellInput[] = [row.label, { text: row.a, className: numeric ? 'num' : 'name' }, { text: row.b, className: numeric ? (row.worse ? 'num bad' : 'num') : 'name' }]
    if (numeric) cells.push({ text: row.delta ?? '', className: row.worse ? 'num bad' : 'num' }, { text: row.ratio ?? '', className: 'num' })
    return cells
  })
  return section(entry.title, table(headers, rows))
}

/** One self-contained HTML page with both results on the same charts. */
export function renderCompareReport(a: LoadResult, b: LoadResult, labels: Labels): string {
  const data: ChartData = { runs: [{ label: `A: ${labels[0]}`, result: a }, { label: `B: ${labels[1]}`, result: b }], errorClasses }
  const [runs, ...rest] = tables(a, b)
  const body = [
    `<header><h1>weft load: ${escapeHtml(shown(labels[0], 80))} vs ${escapeHtml(shown(labels[1], 80))}</h1>`,
    paragraph(`A: ${shown(labels[0], 120)}: ${describeTarget(a)}`, 'sub'),
    paragraph(`B: ${shown(labels[1], 120)}: ${describeTarget(b)}`, 'sub'),
    '</header>',
    chartSlot('latency', 'Latency over time', 'p50 (dashed) and p99 (solid) per second of each run, on one time axis from each run’s start; shaded: each run’s scenario actions.'),
    chartSlot('errors', 'Errors over time', 'Failed requests per second, A and B side by side.'),
    '<div class="grid2">',
    chartSlot('spectrum', 'Latency by percentile', 'Both percentile spectra; dots: the percentiles in the table.'),
    chartSlot('endpoints', 'Requests per endpoint', 'Share of the identified replies per endpoint, A above B.'),
    '</div>',
    `<div class="wide">${htmlTable(runs)}</div>`,
    '<div class="tables wide">',
    ...rest.map(htmlTable),
    '</div>',
    paragraph(`weft load comparison; Δ is B − A, and B/A the ratio. Result format ${a.schema}.`, 'sub'),
  ].join('\n')
  return renderPage({ title: `weft load: ${shown(labels[0], 60)} vs ${shown(labels[1], 60)}`, bodyHtml: body, data, draw: drawCharts })
}
