// The end-of-run text for a terminal: what was loaded and how, what came back, how fast, from
// which endpoints, and which seconds lost requests while which scenario action was running.
import type { ActionRecord, LoadResult } from '../types.ts'
import { errorBursts, errorsDuring, type ErrorBurst } from './error-bursts.ts'
import {
  formatCount,
  formatMs,
  formatPercent,
  formatRate,
  formatSecondRange,
  formatSeconds,
  padEnd,
  padStart,
  percentileLabel,
  protocolNames,
  terminalSafe,
  textBar,
  truncate,
} from './format.ts'

const labelWidth = 11
const nameWidth = 40
const barWidth = 20
/** Endpoints and error bursts listed before the rest is summed up in one line. */
const maxListed = 20

function row(label: string, text: string): string {
  return padEnd(label, labelWidth) + text
}

function safe(text: string, width = 200): string {
  return truncate(terminalSafe(text), width)
}

export function describeTarget(result: LoadResult): string {
  const { spec, description } = result.target
  return description.includes(spec) ? safe(description) : `${safe(spec)} (${safe(description)})`
}

export function describeProtocol(result: LoadResult): string {
  const { target, options } = result
  const parts = [protocolNames[target.protocol] ?? target.protocol]
  if (target.tls) parts.push('TLS')
  if (target.protocol === 'http1') parts.push(options.keepAlive ? 'keep-alive' : 'a new connection per request')
  const addresses = target.endpoints.length
  const shown = target.endpoints.slice(0, 3).map((address) => safe(address, 60)).join(', ')
  parts.push(`${formatCount(addresses)} address${addresses === 1 ? '' : 'es'}` + (addresses > 0 ? ` (${shown}${addresses > 3 ? ', …' : ''})` : ''))
  return parts.join(', ')
}

export function describeLoad(result: LoadResult): string {
  const { options } = result
  const parts: string[] = []
  if (options.mode === 'open-loop') {
    parts.push(options.rate === undefined ? 'open loop' : `open loop at ${formatRate(options.rate)}`)
    parts.push(`up to ${formatCount(options.connections)} connections`)
  } else {
    parts.push(`closed loop, ${formatCount(options.connections)} in flight`)
  }
  const length: string[] = []
  if (options.durationSeconds !== undefined) length.push(formatSeconds(options.durationSeconds))
  if (options.requests !== undefined) length.push(`${formatCount(options.requests)} requests`)
  let run = length.length > 0 ? length.join(' or ') : 'until stopped'
  if (options.durationSeconds !== undefined && options.durationSeconds !== result.durationSeconds) run += ` (ran ${formatSeconds(result.durationSeconds)})`
  if (options.warmupSeconds > 0) run += ` after ${formatSeconds(options.warmupSeconds)} warm-up`
  parts.push(run)
  parts.push(`timeout ${formatSeconds(options.timeoutSeconds)}`)
  return parts.join(', ')
}

export function describePhase(phase: LoadResult['phases'][number]): string {
  const span = `${formatSeconds(phase.startSecond)}–${formatSeconds(phase.startSecond + phase.durationSeconds)}`
  const rate = phase.rate === undefined ? 'closed loop' : phase.rateTo === undefined ? formatRate(phase.rate) : `${formatRate(phase.rate)} → ${formatRate(phase.rateTo)}`
  return `${safe(phase.name, 40)} ${span} ${rate}`
}

export function describeGenerators(result: LoadResult): string {
  const { generators } = result
  const shown = generators.slice(0, 4).map((generator) => safe(generator.name, 60) + (generator.node ? ` on ${safe(generator.node, 60)}` : ''))
  const more = generators.length > shown.length ? `, and ${formatCount(generators.length - shown.length)} more` : ''
  return `${formatCount(generators.length)} generator${generators.length === 1 ? '' : 's'}: ${shown.join(', ')}${more}`
}

export function describeClasses(classes: { class: string; count: number }[]): string {
  return classes.map((entry) => `${formatCount(entry.count)} ${entry.class}`).join(', ')
}

export function describeBurst(burst: ErrorBurst, durationSeconds: number): string {
  let text = `errors at ${formatSecondRange(burst.firstSecond, burst.lastSecond)}: ${describeClasses(burst.classes)}`
  if (burst.during.length > 0) text += `, during ${burst.during.map((action) => safe(action.name, 80)).join(' and ')}`
  else if (burst.after) {
    const ended = burst.after.completedSecond ?? durationSeconds
    text += `, ${formatSeconds(Number((burst.firstSecond - ended).toFixed(1)))} after ${safe(burst.after.name, 80)} ended`
  }
  return text
}

export function actionTimes(action: ActionRecord): string {
  const at = formatSeconds(action.atSecond)
  if (action.completedSecond === undefined) return `${at} → (not completed)`
  return `${at} → ${formatSeconds(action.completedSecond)} (${formatSeconds(Number((action.completedSecond - action.atSecond).toFixed(1)))})`
}

function totalsLines(result: LoadResult): string[] {
  const { totals, options } = result
  const rateLine = [`sent ${formatRate(totals.sentRate)}`, `ok ${formatRate(totals.okRate)}`]
  if (options.mode === 'open-loop' && options.rate !== undefined && options.rate > 0) {
    rateLine.push(`target ${formatRate(options.rate)} (${formatPercent(totals.sentRate / options.rate)} achieved)`)
  }
  return [
    row('Requests', `sent ${formatCount(totals.sent)}   ok ${formatCount(totals.ok)}   errors ${formatCount(totals.errors)} (${formatPercent(totals.errorRate)})`),
    row('Rate', rateLine.join('   ')),
  ]
}

function errorLines(result: LoadResult): string[] {
  if (result.errors.length === 0) return [row('Errors', 'none')]
  const total = result.errors.reduce((sum, entry) => sum + entry.count, 0)
  const countWidth = Math.max(...result.errors.map((entry) => formatCount(entry.count).length))
  return [
    row('Errors', `${formatCount(total)} by class`),
    ...result.errors.map((entry) => '  ' + padEnd(entry.class, 17) + padStart(formatCount(entry.count), countWidth) + '  ' + padStart(formatPercent(total === 0 ? 0 : entry.count / total), 7)),
  ]
}

function latencyLines(result: LoadResult): string[] {
  const { latency } = result
  if (latency.count === 0) return [row('Latency', 'no requests recorded')]
  const lines = [
    row('Latency', `ms, ${formatCount(latency.count)} requests: min ${formatMs(latency.min)}, mean ${formatMs(latency.mean)}, stddev ${formatMs(latency.stddev)}, max ${formatMs(latency.max)}`),
  ]
  const valueWidth = Math.max(...latency.percentiles.map((entry) => formatMs(entry.ms).length))
  for (const entry of latency.percentiles) lines.push('  ' + padEnd(percentileLabel(entry.p), 9) + padStart(formatMs(entry.ms), valueWidth))
  return lines
}

function endpointLines(result: LoadResult): string[] {
  const { endpoints } = result
  if (endpoints.length === 0) return [row('Endpoints', 'not identified (the replies did not name a pod)')]
  const identified = endpoints.reduce((sum, entry) => sum + entry.requests, 0)
  const listed = endpoints.slice(0, maxListed)
  const width = Math.min(nameWidth, Math.max(...listed.map((entry) => safe(entry.name, nameWidth).length)))
  const countWidth = Math.max(...listed.map((entry) => formatCount(entry.requests).length))
  const lines = [row('Endpoints', `${formatCount(endpoints.length)} answered, ${formatCount(identified)} replies identified`)]
  for (const entry of listed) {
    lines.push('  ' + padEnd(safe(entry.name, nameWidth), width) + '  ' + padStart(formatCount(entry.requests), countWidth) + '  ' + padStart(formatPercent(entry.share), 7) + '  ' + textBar(entry.share, barWidth))
  }
  if (endpoints.length > listed.length) {
    const rest = endpoints.slice(listed.length)
    const requests = rest.reduce((sum, entry) => sum + entry.requests, 0)
    lines.push(`  … and ${formatCount(rest.length)} more with ${formatCount(requests)} requests`)
  }
  return lines
}

function actionLines(result: LoadResult): string[] {
  if (result.actions.length === 0) return []
  const lines = [row('Actions', `${formatCount(result.actions.length)}`)]
  const times = result.actions.map(actionTimes)
  const timeWidth = Math.max(...times.map((text) => text.length))
  const names = result.actions.map((action) => safe(action.name, nameWidth))
  const width = Math.max(...names.map((name) => name.length))
  result.actions.forEach((action, index) => {
    const lost = errorsDuring(result, action)
    const outcome = action.ok ? 'ok' : 'FAILED'
    const errors = lost.errors === 0 ? 'no errors during it' : `${formatCount(lost.errors)} errors during it (${describeClasses(lost.classes)})`
    lines.push('  ' + padEnd(times[index], timeWidth) + '  ' + padEnd(names[index], width) + `  ${outcome}, ${errors}`)
    if (action.message) lines.push('  ' + ' '.repeat(timeWidth) + '  ' + safe(action.message))
  })
  return lines
}

function burstLines(result: LoadResult): string[] {
  const bursts = errorBursts(result)
  if (bursts.length === 0) return result.totals.errors > 0 ? [] : [row('Timeline', 'no second had errors')]
  const lines = [row('Timeline', `${formatCount(bursts.length)} stretch${bursts.length === 1 ? '' : 'es'} of seconds with errors`)]
  for (const burst of bursts.slice(0, maxListed)) lines.push('  ' + describeBurst(burst, result.durationSeconds))
  if (bursts.length > maxListed) {
    const rest = bursts.slice(maxListed)
    lines.push(`  … and ${formatCount(rest.length)} more stretches with ${formatCount(rest.reduce((sum, burst) => sum + burst.errors, 0))} errors`)
  }
  return lines
}

/** The end-of-run text (no colour, no escape sequences; ends with a newline). */
export function formatSummary(result: LoadResult): string {
  const head = [
    row('Target', describeTarget(result)),
    row('Protocol', describeProtocol(result)),
    row('Load', describeLoad(result)),
  ]
  if (result.phases.length > 1) head.push(row('Phases', result.phases.map(describePhase).join('; ')))
  head.push(row('From', describeGenerators(result)))
  head.push(row('Started', `${safe(result.startedAt, 40)}, ran ${formatSeconds(result.durationSeconds)}`))
  const sections = [head, totalsLines(result), errorLines(result), latencyLines(result), endpointLines(result), actionLines(result), burstLines(result)]
  return (
    sections
      .filter((lines) => lines.length > 0)
      .map((lines) => lines.join('\n'))
      .join('\n\n') + '\n'
  )
}
