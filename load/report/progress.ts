// The live progress of a run: on a terminal one line rewritten in place (bar, elapsed and
// remaining, rate, errors, last second's p50/p99, the latest scenario action); elsewhere (a log,
// a pipe, CI) a plain line every few seconds. Scenario actions also get a line of their own
// when they start and when they end, so the timeline stays readable in the scrollback.
import type { ActionRecord, Progress } from '../types.ts'
import { displayWidth, formatCount, formatMs, formatRate, formatSeconds, terminalSafe, textBar, truncate } from './format.ts'

export interface ProgressStyle {
  /** A terminal: a bar, and the line is meant to be rewritten in place. */
  tty: boolean
  color: boolean
  /** The terminal's width; the line is cut to fit so it never wraps (a wrapped line cannot be rewritten). */
  columns: number
}

export const plainStyle: ProgressStyle = { tty: false, color: false, columns: Infinity }

const barWidth = 20
const maxActionName = 60

type Color = 'red' | 'green' | 'yellow' | 'dim'
const sgr: Record<Color, string> = { red: '\x1b[31m', green: '\x1b[32m', yellow: '\x1b[33m', dim: '\x1b[2m' }
const reset = '\x1b[0m'
const clearLine = '\r\x1b[2K'

interface Segment {
  text: string
  color?: Color
}

/** Joins segments with `separator`, dropping or cutting the last ones so the visible text fits in `columns`. */
function render(segments: Segment[], separator: string, style: ProgressStyle): string {
  let out = ''
  let width = 0
  for (const [index, segment] of segments.entries()) {
    const gap = index === 0 ? '' : separator
    const room = style.columns - width - displayWidth(gap)
    if (room <= 1) break
    const text = displayWidth(segment.text) > room ? truncate(segment.text, room) : segment.text
    out += gap + (style.color && segment.color ? sgr[segment.color] + text + reset : text)
    width += displayWidth(gap) + displayWidth(text)
    if (text !== segment.text) break
  }
  return out
}

function seconds(ms: number): string {
  return formatSeconds(Math.floor(ms / 100) / 10)
}

interface ActionEvent {
  action: ActionRecord
  completed: boolean
  atSecond: number
}

/** The actions' starts and ends in the order they happened. */
function actionEvents(marks: readonly ActionRecord[]): ActionEvent[] {
  const events: ActionEvent[] = []
  for (const action of marks) {
    events.push({ action, completed: false, atSecond: action.atSecond })
    if (action.completedSecond !== undefined) events.push({ action, completed: true, atSecond: action.completedSecond })
  }
  return events.sort((a, b) => a.atSecond - b.atSecond || Number(a.completed) - Number(b.completed))
}

function actionName(action: ActionRecord): string {
  return truncate(terminalSafe(action.name), maxActionName)
}

/** The latest action mark, for the progress line: `▸ rollout deployment/web (started 20 s)`. */
export function latestMark(marks: readonly ActionRecord[]): Segment | undefined {
  const latest = actionEvents(marks).at(-1)
  if (!latest) return undefined
  const { action } = latest
  if (!latest.completed) return { text: `▸ ${actionName(action)} (started ${formatSeconds(action.atSecond)})`, color: 'yellow' }
  const span = `${formatSeconds(action.atSecond)} → ${formatSeconds(latest.atSecond)}`
  return action.ok ? { text: `✓ ${actionName(action)} (${span})`, color: 'green' } : { text: `✗ ${actionName(action)} failed (${span})`, color: 'red' }
}

/** One line (no newline) describing `progress` and the latest of `marks`. */
export function formatProgress(progress: Progress, marks: readonly ActionRecord[] = [], style: ProgressStyle = plainStyle): string {
  const segments: Segment[] = []
  const { elapsedMs, totalMs } = progress
  if (totalMs !== undefined && totalMs > 0) {
    const fraction = Math.min(1, Math.max(0, elapsedMs / totalMs))
    const time = `${seconds(elapsedMs)} / ${seconds(totalMs)}, ${seconds(Math.max(0, totalMs - elapsedMs))} left`
    if (style.tty) segments.push({ text: '▕' + textBar(fraction, barWidth).padEnd(barWidth, ' ') + '▏' }, { text: time })
    else segments.push({ text: `${time} (${Math.floor(fraction * 100)}%)` })
  } else {
    segments.push({ text: `${seconds(elapsedMs)} elapsed` })
  }
  if (!style.tty) segments.push({ text: `sent ${formatCount(progress.sent)}, done ${formatCount(progress.done)}` })
  segments.push({ text: formatRate(Math.round(progress.rate)) })
  segments.push({ text: `${formatCount(progress.errors)} error${progress.errors === 1 ? '' : 's'}`, color: progress.errors > 0 ? 'red' : undefined })
  const measured = progress.rate > 0
  segments.push({ text: measured ? `p50 ${formatMs(progress.p50)} ms` : 'p50 –', color: 'dim' })
  segments.push({ text: measured ? `p99 ${formatMs(progress.p99)} ms` : 'p99 –', color: 'dim' })
  const mark = latestMark(marks)
  if (mark) segments.push(mark)
  return render(segments, style.tty ? '  ' : ', ', style)
}

/** The permanent line for an action's start or end: `▸ 20 s  rollout deployment/web started`. */
export function formatActionEvent(event: ActionEvent, style: ProgressStyle = plainStyle): string {
  const { action } = event
  const at = formatSeconds(event.atSecond)
  let segments: Segment[]
  if (!event.completed) segments = [{ text: `▸ ${at}`, color: 'yellow' }, { text: `${actionName(action)} started` }]
  else {
    const took = formatSeconds(Number((event.atSecond - action.atSecond).toFixed(1)))
    segments = action.ok
      ? [{ text: `✓ ${at}`, color: 'green' }, { text: `${actionName(action)} completed in ${took}` }]
      : [{ text: `✗ ${at}`, color: 'red' }, { text: `${actionName(action)} failed after ${took}` }]
    if (action.message) segments.push({ text: terminalSafe(action.message), color: 'dim' })
  }
  return render(segments, '  ', style)
}

/** Where progress goes: a writable stream such as process.stderr. */
export interface ProgressOutput {
  write(chunk: string): unknown
  isTTY?: boolean
  columns?: number
}

export interface ProgressPrinterOptions {
  /** Where NO_COLOR and TERM are read from (default process.env). */
  env?: Record<string, string | undefined>
  /** Not a terminal: a plain line this often, by the run's own clock (default 5 s). */
  plainEveryMs?: number
}

/** Shows progress on `out`: in place on a terminal, a plain line every few seconds elsewhere. Call `end()` before printing the summary. */
export class ProgressPrinter {
  private readonly out: ProgressOutput
  private readonly tty: boolean
  private readonly color: boolean
  private readonly plainEveryMs: number
  private readonly seen = new Set<string>()
  private lineShown = false
  private lastPlainSlot = 0
  private pending: { progress: Progress; marks: readonly ActionRecord[] } | undefined
  private ended = false

  constructor(out: ProgressOutput, options: ProgressPrinterOptions = {}) {
    const env = options.env ?? process.env
    this.out = out
    this.tty = out.isTTY === true && env.TERM !== 'dumb'
    this.color = this.tty && !env.NO_COLOR
    this.plainEveryMs = options.plainEveryMs ?? 5000
  }

  private style(): ProgressStyle {
    if (!this.tty) return plainStyle
    const columns = this.out.columns && this.out.columns > 0 ? this.out.columns : 80
    // One column short of the width: a line that fills it exactly wraps on some terminals.
    return { tty: true, color: this.color, columns: columns - 1 }
  }

  /** Lines for action starts and ends not shown yet. */
  private newEvents(marks: readonly ActionRecord[], style: ProgressStyle): string[] {
    const lines: string[] = []
    for (const event of actionEvents(marks)) {
      const key = `${event.completed ? 'end' : 'start'}\u0000${event.action.atSecond}\u0000${event.action.name}`
      if (this.seen.has(key)) continue
      this.seen.add(key)
      lines.push(formatActionEvent(event, style))
    }
    return lines
  }

  update(progress: Progress, marks: readonly ActionRecord[] = []): void {
    if (this.ended) return
    const style = this.style()
    const events = this.newEvents(marks, style)
    if (this.tty) {
      let text = clearLine
      for (const line of events) text += line + '\n'
      this.out.write(text + formatProgress(progress, marks, style))
      this.lineShown = true
      return
    }
    const slot = Math.floor(progress.elapsedMs / this.plainEveryMs)
    let text = events.map((line) => line + '\n').join('')
    if (slot > this.lastPlainSlot) {
      this.lastPlainSlot = slot
      text += formatProgress(progress, marks, style) + '\n'
      this.pending = undefined
    } else {
      this.pending = { progress, marks }
    }
    if (text) this.out.write(text)
  }

  /** Leaves the last progress on its own line (plain: prints it if it was not yet), so what follows starts clean. */
  end(): void {
    if (this.ended) return
    this.ended = true
    if (this.tty) {
      if (this.lineShown) this.out.write('\n')
      return
    }
    if (this.pending) this.out.write(formatProgress(this.pending.progress, this.pending.marks, plainStyle) + '\n')
    this.pending = undefined
  }
}
