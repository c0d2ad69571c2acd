// report.html: one self-contained page for one result: the key numbers, latency and errors over
// time with the scenario's actions marked, the percentile spectrum, the endpoints' shares, and
// the summary's tables. No network fetches; the result may come from a hostile file.
import { errorClasses, type LoadResult } from '../types.ts'
import { drawCharts, type ChartData } from './charts.ts'
import { errorBursts, errorsDuring } from './error-bursts.ts'
import { formatCount, formatMs, formatPercent, formatRate, formatSeconds, percentileLabel, terminalSafe, truncate } from './format.ts'
import { card, chartSlot, list, paragraph, section, table } from './html-parts.ts'
import { escapeHtml, renderPage } from './page.ts'
import { actionTimes, describeBurst, describeClasses, describeGenerators, describeLoad, describePhase, describeProtocol, describeTarget } from './summary.ts'

const maxTableRows = 100

/** Strings from the result as shown in the page: control characters spelled out, bounded in length. */
export function shown(text: string, width = 300): string {
  return truncate(terminalSafe(text), width)
}

function percentileOf(result: LoadResult, p: number): number | undefined {
  return result.latency.percentiles.find((entry) => entry.p === p)?.ms
}

function headerHtml(result: LoadResult): string {
  return [
    `<h1>weft load: ${escapeHtml(shown(result.target.spec, 200))}</h1>`,
    paragraph(describeTarget(result), 'sub'),
    paragraph(`${describeProtocol(result)}. ${describeLoad(result)}.`, 'sub'),
    result.phases.length > 1 ? paragraph('Phases: ' + result.phases.map(describePhase).join('; '), 'sub') : '',
    paragraph(`${describeGenerators(result)}. Started ${shown(result.startedAt, 40)}, ran ${formatSeconds(result.durationSeconds)}.`, 'sub'),
  ].join('\n')
}

function cardsHtml(result: LoadResult): string {
  const { totals } = result
  const p50 = percentileOf(result, 50)
  const p99 = percentileOf(result, 99)
  return (
    '<div class="cards">' +
    [
      card('requests sent', formatCount(totals.sent)),
      card('errors', `${formatCount(totals.errors)} (${formatPercent(totals.errorRate)})`, totals.errors > 0),
      card('achieved rate', formatRate(totals.sentRate)),
      card('successful rate', formatRate(totals.okRate)),
      p50 === undefined ? '' : card('p50 latency', `${formatMs(p50)} ms`),
      p99 === undefined ? '' : card('p99 latency', `${formatMs(p99)} ms`),
      card('max latency', `${formatMs(result.latency.max)} ms`),
    ].join('') +
    '</div>'
  )
}

export function totalsTable(result: LoadResult): string {
  const { totals, options } = result
  const rows: [string, string][] = [
    ['sent', formatCount(totals.sent)],
    ['ok', formatCount(totals.ok)],
    ['errors', `${formatCount(totals.errors)} (${formatPercent(totals.errorRate)})`],
    ['sent per second', formatRate(totals.sentRate)],
    ['ok per second', formatRate(totals.okRate)],
  ]
  if (options.mode === 'open-loop' && options.rate) rows.push(['target rate', `${formatRate(options.rate)} (${formatPercent(totals.sentRate / options.rate)} achieved)`])
  return table(['', { text: 'value', className: 'num' }], rows.map(([name, value]) => [name, { text: value, className: 'num' }]))
}

export function latencyTable(result: LoadResult): string {
  const { latency } = result
  const rows = latency.percentiles.map((entry) => [percentileLabel(entry.p), { text: formatMs(entry.ms), className: 'num' as const }])
  rows.push(['min', { text: formatMs(latency.min), className: 'num' }], ['mean', { text: formatMs(latency.mean), className: 'num' }], ['stddev', { text: formatMs(latency.stddev), className: 'num' }])
  return paragraph(`${formatCount(latency.count)} requests, timed from their intended send time.`, 'sub') + table(['', { text: 'ms', className: 'num' }], rows)
}

function errorsTable(result: LoadResult): string {
  if (result.errors.length === 0) return paragraph('No request failed.', 'good')
  const total = result.errors.reduce((sum, entry) => sum + entry.count, 0)
  return table(
    ['class', { text: 'requests', className: 'num' }, { text: 'share', className: 'num' }],
    result.errors.map((entry) => [entry.class, { text: formatCount(entry.count), className: 'num' }, { text: formatPercent(total ? entry.count / total : 0), className: 'num' }]),
  )
}

function endpointsTable(result: LoadResult): string {
  const { endpoints } = result
  if (endpoints.length === 0) return paragraph('Not identified: the replies did not name a pod (weft/echo and agnhost do).', 'sub')
  const rows = endpoints.slice(0, maxTableRows).map((entry) => [
    { text: shown(entry.name), className: 'name' as const },
    { text: formatCount(entry.requests), className: 'num' as const },
    { text: formatPercent(entry.share), className: 'num' as const },
  ])
  const more = endpoints.length > maxTableRows ? paragraph(`… and ${formatCount(endpoints.length - maxTableRows)} more.`, 'sub') : ''
  return table(['endpoint', { text: 'requests', className: 'num' }, { text: 'share', className: 'num' }], rows) + more
}

function actionsTable(result: LoadResult): string {
  const rows = result.actions.slice(0, maxTableRows).map((action) => {
    const lost = errorsDuring(result, action)
    return [
      actionTimes(action),
      { text: shown(action.name), className: 'name' as const },
      shown(action.kind, 60),
      action.ok ? { text: 'ok', className: 'good' as const } : { text: 'failed', className: 'bad' as const },
      lost.errors === 0 ? { text: 'none', className: 'good' as const } : { text: `${formatCount(lost.errors)} (${describeClasses(lost.classes)})`, className: 'bad' as const },
      { text: shown(action.message, 500), className: 'name' as const },
    ]
  })
  const more = result.actions.length > maxTableRows ? paragraph(`… and ${formatCount(result.actions.length - maxTableRows)} more.`, 'sub') : ''
  return table(['when (from start)', 'action', 'kind', 'outcome', 'errors during it', 'message'], rows) + more
}

function burstsHtml(result: LoadResult): string {
  const bursts = errorBursts(result)
  if (bursts.length === 0) return paragraph('No second had errors.', 'good')
  const items = bursts.slice(0, maxTableRows).map((burst) => describeBurst(burst, result.durationSeconds))
  if (bursts.length > maxTableRows) items.push(`… and ${formatCount(bursts.length - maxTableRows)} more stretches`)
  return list(items, 'bursts')
}

export const latencyNote =
  'p50, p90 and p99 of the requests meant to be sent in each second, each timed from its intended send time (so a stall shows in full). Shaded: scenario actions from start to completion.'

export function renderReport(result: LoadResult): string {
  const data: ChartData = { runs: [{ label: result.target.spec, result }], errorClasses }
  const body = [
    '<header>',
    headerHtml(result),
    '</header>',
    cardsHtml(result),
    chartSlot('latency', 'Latency over time', latencyNote),
    chartSlot('errors', 'Errors over time', 'Failed requests per second by class, on the same time axis.'),
    '<div class="grid2">',
    chartSlot('spectrum', 'Latency by percentile', 'The percentile spectrum, as HdrHistogram plots it; dots: the percentiles in the table.'),
    chartSlot('endpoints', 'Requests per endpoint', 'Which pod answered, from the replies.'),
    '</div>',
    '<div class="tables">',
    section('Totals', totalsTable(result)),
    section('Latency', latencyTable(result)),
    section('Errors', errorsTable(result)),
    section('Endpoints', endpointsTable(result)),
    '</div>',
    result.actions.length > 0 ? section('Actions', actionsTable(result)) : '',
    section('Seconds with errors', burstsHtml(result)),
    paragraph(`weft load report, result format ${result.schema}.`, 'sub'),
  ].join('\n')
  return renderPage({ title: `weft load: ${shown(result.target.spec, 120)}`, bodyHtml: body, data, draw: drawCharts })
}
