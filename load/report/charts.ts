// The charts of report.html, drawn in the browser as SVG from the embedded results. `drawCharts`
// runs in the page (its source is inlined, so it uses nothing from outside its body). Strings
// from the results only ever become text nodes.
import type { ErrorClass, LoadResult } from '../types.ts'

export interface ChartRun {
  label: string
  result: LoadResult
}

/** What the page embeds as JSON: one run (a report) or two (a comparison). */
export interface ChartData {
  runs: ChartRun[]
  errorClasses: readonly ErrorClass[]
}

/** The charts a page can ask for with `<div data-chart="…">`. */
export type ChartKind = 'latency' | 'errors' | 'spectrum' | 'endpoints'

export function drawCharts(): void {
  const svgNs = 'http://www.w3.org/2000/svg'
  /** The chart being drawn's width: its slot's, so that text is drawn at its CSS size. */
  let width = 960
  const margin = { left: 64, right: 20, top: 30, bottom: 38 }
  const maxBands = 200
  const maxEndpointRows = 25

  const source = document.getElementById('weft-data')
  if (!source || !source.textContent) throw new Error('the page has no data')
  const data = JSON.parse(source.textContent) as ChartData
  const runs = data.runs
  const compare = runs.length > 1

  type Attributes = Record<string, string | number>
  interface Scale {
    (value: number): number
    ticks: number[]
    format(value: number): string
  }

  function el<K extends keyof SVGElementTagNameMap>(parent: Element, name: K, attributes: Attributes = {}): SVGElementTagNameMap[K] {
    const node = document.createElementNS(svgNs, name)
    for (const key of Object.keys(attributes)) node.setAttribute(key, String(attributes[key]))
    parent.appendChild(node)
    return node
  }

  function text(parent: Element, x: number, y: number, content: string, attributes: Attributes = {}): SVGTextElement {
    const node = el(parent, 'text', { x: round(x), y: round(y), ...attributes })
    node.textContent = content
    return node
  }

  function tooltip(parent: Element, content: string): void {
    el(parent, 'title').textContent = cut(content, 2000)
  }

  function round(value: number): number {
    return Math.round(value * 10) / 10
  }

  /** Cut to `length` characters; controls and bidirectional overrides (which could reorder what is shown) become U+FFFD. */
  function cut(value: string, length: number): string {
    const chars = Array.from(value.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g, '\ufffd'))
    return chars.length <= length ? value : chars.slice(0, length - 1).join('') + '…'
  }

  function formatMs(ms: number): string {
    if (ms >= 1000) return (ms / 1000).toPrecision(3).replace(/\.?0+$/, '') + ' s'
    if (ms >= 100) return ms.toFixed(0) + ' ms'
    if (ms >= 10) return ms.toFixed(1).replace(/\.0$/, '') + ' ms'
    if (ms >= 1) return ms.toFixed(2).replace(/\.?0+$/, '') + ' ms'
    return Number(ms.toPrecision(2)) + ' ms'
  }

  function formatCount(value: number): string {
    return Math.round(value).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',')
  }

  function formatSeconds(seconds: number): string {
    if (seconds >= 120 && seconds % 60 === 0) return seconds / 60 + ' min'
    return Number(seconds.toFixed(1)) + ' s'
  }

  function niceStep(span: number, count: number): number {
    const raw = span / Math.max(1, count)
    const power = Math.pow(10, Math.floor(Math.log10(raw)))
    const error = raw / power
    return power * (error >= 7.5 ? 10 : error >= 3.5 ? 5 : error >= 1.5 ? 2 : 1)
  }

  function linear(d0: number, d1: number, r0: number, r1: number, count: number, format: (value: number) => string, minStep = 0): Scale {
    const span = d1 - d0 || 1
    const scale = ((value: number) => r0 + ((value - d0) / span) * (r1 - r0)) as Scale
    const step = Math.max(minStep, niceStep(span, count))
    scale.ticks = []
    for (let tick = Math.ceil(d0 / step) * step; tick <= d1 + step * 1e-9; tick += step) scale.ticks.push(Number(tick.toPrecision(12)))
    scale.format = format
    return scale
  }

  function logarithmic(d0: number, d1: number, r0: number, r1: number, format: (value: number) => string): Scale {
    const l0 = Math.log10(d0)
    const l1 = Math.log10(d1)
    const span = l1 - l0 || 1
    const scale = ((value: number) => r0 + ((Math.log10(Math.max(value, d0)) - l0) / span) * (r1 - r0)) as Scale
    scale.ticks = []
    for (let power = Math.floor(l0); power <= Math.ceil(l1); power++) {
      for (const factor of [1, 2, 5]) {
        const tick = factor * Math.pow(10, power)
        if (tick >= d0 && tick <= d1) scale.ticks.push(Number(tick.toPrecision(6)))
      }
    }
    scale.format = format
    return scale
  }

  function newSvg(host: Element, height: number, title: string): SVGSVGElement {
    const svg = el(host, 'svg', { viewBox: `0 0 ${width} ${height}`, role: 'img', preserveAspectRatio: 'xMidYMid meet' })
    el(svg, 'title').textContent = title
    return svg
  }

  function axes(svg: SVGSVGElement, x: Scale, y: Scale, height: number, xLabel: string, yLabel: string): void {
    const bottom = height - margin.bottom
    for (const tick of y.ticks) {
      el(svg, 'line', { x1: margin.left, x2: width - margin.right, y1: round(y(tick)), y2: round(y(tick)), class: 'grid' })
      text(svg, margin.left - 6, y(tick) + 4, y.format(tick), { 'text-anchor': 'end', class: 'muted' })
    }
    for (const tick of x.ticks) {
      el(svg, 'line', { x1: round(x(tick)), x2: round(x(tick)), y1: bottom, y2: bottom + 4, class: 'axis' })
      text(svg, x(tick), bottom + 17, x.format(tick), { 'text-anchor': 'middle', class: 'muted' })
    }
    el(svg, 'line', { x1: margin.left, x2: width - margin.right, y1: bottom, y2: bottom, class: 'axis' })
    el(svg, 'line', { x1: margin.left, x2: margin.left, y1: margin.top, y2: bottom, class: 'axis' })
    text(svg, width - margin.right, height - 4, xLabel, { 'text-anchor': 'end', class: 'muted' })
    text(svg, 8, margin.top - 12, yLabel, { class: 'muted' })
  }

  function legend(svg: SVGSVGElement, items: { label: string; cls: string; dashed?: boolean }[]): void {
    let x = width - margin.right
    for (const item of [...items].reverse()) {
      const label = cut(item.label, 24)
      const labelWidth = Array.from(label).length * 6.6
      x -= labelWidth
      text(svg, x, 14, label)
      x -= 22
      el(svg, 'line', { x1: x, x2: x + 16, y1: 10, y2: 10, class: `series ${item.cls}${item.dashed ? ' dashed' : ''}`, 'stroke-width': 3 })
      x -= 14
    }
  }

  function barLegend(svg: SVGSVGElement, items: { label: string; cls: string }[]): void {
    let x = width - margin.right
    for (const item of [...items].reverse()) {
      const label = cut(item.label, 24)
      x -= Array.from(label).length * 6.6
      text(svg, x, 14, label)
      x -= 16
      el(svg, 'rect', { x, y: 5, width: 11, height: 11, class: `swatch ${item.cls}` })
      x -= 12
    }
  }

  /** The run's duration on the shared time axis: the longest run, or its last second with data. */
  function timeDomain(): number {
    let end = 1
    for (const run of runs) {
      end = Math.max(end, run.result.durationSeconds)
      const last = run.result.timeline.at(-1)
      if (last) end = Math.max(end, last.second + 1)
      for (const action of run.result.actions) end = Math.max(end, action.completedSecond ?? action.atSecond)
    }
    return end
  }

  function timeScale(): Scale {
    return linear(0, timeDomain(), margin.left, width - margin.right, 10, formatSeconds)
  }

  /** Actions as bands from start to completion (to the end when it never completed), labelled in rows that do not overlap. */
  function actionBands(svg: SVGSVGElement, x: Scale, height: number): void {
    const rowEnds: number[] = []
    const bottom = height - margin.bottom
    const end = timeDomain()
    runs.forEach((run, runIndex) => {
      for (const action of run.result.actions.slice(0, maxBands)) {
        const from = Math.max(0, Math.min(end, action.atSecond))
        const to = Math.max(from, Math.min(end, action.completedSecond ?? end))
        const group = el(svg, 'g', { class: 'action' })
        tooltip(
          group,
          `${compare ? run.label + ': ' : ''}${action.name} (${action.kind}) ${formatSeconds(action.atSecond)} → ` +
            `${action.completedSecond === undefined ? 'not completed' : formatSeconds(action.completedSecond)}, ${action.ok ? 'ok' : 'failed'}` +
            (action.message ? `: ${action.message}` : ''),
        )
        const left = x(from)
        el(group, 'rect', { x: round(left), y: margin.top, width: round(Math.max(2, x(to) - left)), height: bottom - margin.top, class: 'band' })
        el(group, 'line', { x1: round(left), x2: round(left), y1: margin.top, y2: bottom, class: `mark${action.ok ? '' : ' failed'}${compare ? ' run' + runIndex : ''}` })
        const label = (compare ? String.fromCharCode(65 + runIndex) + ': ' : '') + cut(action.name, 36) + (action.ok ? '' : ' ✗')
        const labelWidth = Array.from(label).length * 6.2
        let row = rowEnds.findIndex((rowEnd) => rowEnd < left)
        if (row < 0) {
          row = rowEnds.length
          rowEnds.push(0)
        }
        rowEnds[row] = left + labelWidth + 8
        const flip = left + labelWidth > width - margin.right
        text(group, flip ? left - 3 : left + 3, margin.top + 11 + row * 13, label, { class: 'band-label', 'text-anchor': flip ? 'end' : 'start' })
      }
    })
  }

  interface Slot {
    second: number
    sent: number
    errors: number
    errorClasses: Partial<Record<ErrorClass, number>>
    /** The worst second's, when a slot spans several. */
    p50: number
    p90: number
    p99: number
  }

  /** Seconds per slot on the time axis: 1, or a round number so that a slot is at least 2 pixels wide. */
  function slotSeconds(x: Scale): number {
    const needed = 2 / Math.max(1e-9, x(1) - x(0))
    if (needed <= 1) return 1
    return [2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 43200, 86400].find((step) => step >= needed) ?? Math.ceil(needed / 86400) * 86400
  }

  /** The run's timeline in slots of `seconds`: counts summed, latencies the worst second's. */
  function slotsOf(run: ChartRun, seconds: number): Slot[] {
    const slots = new Map<number, Slot>()
    for (const entry of run.result.timeline) {
      const start = Math.floor(entry.second / seconds) * seconds
      let slot = slots.get(start)
      if (!slot) {
        slot = { second: start, sent: 0, errors: 0, errorClasses: {}, p50: 0, p90: 0, p99: 0 }
        slots.set(start, slot)
      }
      slot.sent += entry.sent
      slot.errors += entry.errors
      for (const name of data.errorClasses) {
        const count = entry.errorClasses[name]
        if (count) slot.errorClasses[name] = (slot.errorClasses[name] ?? 0) + count
      }
      if (entry.sent > 0) {
        slot.p50 = Math.max(slot.p50, entry.p50)
        slot.p90 = Math.max(slot.p90, entry.p90)
        slot.p99 = Math.max(slot.p99, entry.p99)
      }
    }
    return [...slots.values()].sort((a, b) => a.second - b.second)
  }

  /** A polyline through the slots' middles, broken where slots are missing or a value cannot be drawn. */
  function seriesPath(points: { second: number; value: number }[], seconds: number, x: Scale, y: Scale, drawable: (value: number) => boolean): string {
    let d = ''
    let previous: number | undefined
    for (const point of points) {
      if (!drawable(point.value)) {
        previous = undefined
        continue
      }
      const command = previous !== undefined && point.second === previous + seconds ? 'L' : 'M'
      d += `${command}${round(x(point.second + seconds / 2))},${round(y(point.value))}`
      previous = point.second
    }
    return d
  }

  function drawLatency(host: Element): void {
    const height = 330
    const svg = newSvg(host, height, 'Latency over time')
    const x = timeScale()
    const seconds = slotSeconds(x)
    type Key = 'p50' | 'p90' | 'p99'
    const series: { slots: Slot[]; key: Key; cls: string; label: string; dashed?: boolean }[] = []
    runs.forEach((run, index) => {
      const slots = slotsOf(run, seconds).filter((slot) => slot.sent > 0)
      if (compare) {
        series.push({ slots, key: 'p50', cls: 'run' + index, label: `${run.label} p50`, dashed: true })
        series.push({ slots, key: 'p99', cls: 'run' + index, label: `${run.label} p99` })
      } else {
        for (const key of ['p50', 'p90', 'p99'] as const) series.push({ slots, key, cls: key, label: key })
      }
    })
    const values = series.flatMap((item) => item.slots.map((slot) => slot[item.key])).filter((value) => value > 0)
    const low = values.length ? Math.min(...values) : 1
    const high = values.length ? Math.max(...values) : 10
    const useLog = high / low > 30
    const y = useLog
      ? logarithmic(Math.pow(10, Math.floor(Math.log10(low))), Math.pow(10, Math.ceil(Math.log10(high))), height - margin.bottom, margin.top, formatMs)
      : linear(0, high * 1.08, height - margin.bottom, margin.top, 5, formatMs)
    const notes = [useLog ? 'log scale' : '', seconds === 1 ? '' : `worst second of each ${formatSeconds(seconds)}`].filter(Boolean)
    axes(svg, x, y, height, 'seconds from start', notes.length ? `latency (${notes.join(', ')})` : 'latency')
    actionBands(svg, x, height)
    for (const item of series) {
      const d = seriesPath(item.slots.map((slot) => ({ second: slot.second, value: slot[item.key] })), seconds, x, y, (value) => !useLog || value > 0)
      if (d) el(svg, 'path', { d, class: `series ${item.cls}${item.dashed ? ' dashed' : ''}` })
    }
    legend(svg, series.map((item) => ({ label: item.label, cls: item.cls, dashed: item.dashed })))
  }

  function drawErrors(host: Element): void {
    const height = 250
    const svg = newSvg(host, height, 'Errors over time')
    const x = timeScale()
    const seconds = slotSeconds(x)
    const slotsByRun = runs.map((run) => slotsOf(run, seconds))
    let high = 0
    for (const slots of slotsByRun) for (const slot of slots) high = Math.max(high, slot.errors)
    const y = linear(0, Math.max(high, 1) * 1.08, height - margin.bottom, margin.top, 4, (value) => formatCount(value), 1)
    axes(svg, x, y, height, 'seconds from start', seconds === 1 ? 'errors per second' : `errors per ${formatSeconds(seconds)}`)
    actionBands(svg, x, height)
    const slotWidth = (x(seconds) - x(0)) / runs.length
    const seen = new Set<number>()
    slotsByRun.forEach((slots, runIndex) => {
      const run = runs[runIndex]
      for (const slot of slots) {
        if (slot.errors <= 0) continue
        const left = x(slot.second) + slotWidth * runIndex
        const barWidth = round(Math.max(1, slotWidth - (slotWidth > 3 ? 1 : 0)))
        const group = el(svg, 'g', { class: 'bar' })
        const when = seconds === 1 ? `second ${slot.second}` : `seconds ${slot.second}–${slot.second + seconds - 1}`
        tooltip(group, `${compare ? run.label + ', ' : ''}${when}: ${formatCount(slot.errors)} errors of ${formatCount(slot.sent)}`)
        if (compare) {
          el(group, 'rect', { x: round(left), y: round(y(slot.errors)), width: barWidth, height: round(y(0) - y(slot.errors)), class: 'run' + runIndex })
          continue
        }
        let stacked = 0
        data.errorClasses.forEach((name, classIndex) => {
          const count = slot.errorClasses[name] ?? 0
          if (count <= 0) return
          seen.add(classIndex)
          el(group, 'rect', { x: round(left), y: round(y(stacked + count)), width: barWidth, height: round(y(stacked) - y(stacked + count)), class: 'e' + classIndex })
          stacked += count
        })
      }
    })
    if (high === 0) text(svg, (margin.left + width - margin.right) / 2, (margin.top + height - margin.bottom) / 2, 'no errors', { 'text-anchor': 'middle', class: 'muted' })
    if (compare) barLegend(svg, runs.map((run, index) => ({ label: run.label, cls: 'run' + index })))
    else barLegend(svg, [...seen].sort((a, b) => a - b).map((index) => ({ label: data.errorClasses[index], cls: 'e' + index })))
  }

  function drawSpectrum(host: Element): void {
    const height = 330
    const svg = newSvg(host, height, 'Latency by percentile')
    let count = 1
    let high = 0
    for (const run of runs) {
      count = Math.max(count, run.result.latency.count)
      for (const point of run.result.latency.spectrum) high = Math.max(high, point.ms)
    }
    const nines = Math.min(7, Math.max(2, Math.ceil(Math.log10(count))))
    const position = (p: number): number => (p >= 100 ? nines : Math.min(nines, Math.log10(100 / (100 - p))))
    const x = linear(0, nines, margin.left, width - margin.right, nines, (value) => value + '')
    x.ticks = x(Math.log10(2)) - x(0) >= 40 ? [0, Math.log10(2)] : [0]
    for (let nine = 1; nine <= nines; nine++) x.ticks.push(nine)
    x.format = (value) => {
      if (value === 0) return '0%'
      if (value === nines) return 'max'
      return Number((100 - 100 / Math.pow(10, value)).toPrecision(nines + 2)) + '%'
    }
    const y = linear(0, Math.max(high, 0.001) * 1.08, height - margin.bottom, margin.top, 5, formatMs)
    axes(svg, x, y, height, 'percentile (log scale of 1/(1−p))', 'latency')
    runs.forEach((run, index) => {
      const points = run.result.latency.spectrum.filter((point) => point.p >= 0 && point.p <= 100)
      let d = ''
      points.forEach((point, pointIndex) => {
        d += `${pointIndex === 0 ? 'M' : 'L'}${round(x(position(point.p)))},${round(y(point.ms))}`
      })
      if (d) el(svg, 'path', { d, class: `series ${compare ? 'run' + index : 'p99'}` })
      for (const point of run.result.latency.percentiles) {
        if (point.p < 0 || point.p > 100) continue
        const dot = el(svg, 'circle', { cx: round(x(position(point.p))), cy: round(y(point.ms)), r: 3, class: `swatch ${compare ? 'run' + index : 'p99'}` })
        tooltip(dot, `${compare ? run.label + ' ' : ''}${point.p === 100 ? 'max' : 'p' + point.p}: ${formatMs(point.ms)}`)
      }
    })
    legend(svg, runs.map((run, index) => ({ label: compare ? run.label : 'latency at percentile', cls: compare ? 'run' + index : 'p99' })))
  }

  function drawEndpoints(host: Element): void {
    const totals = new Map<string, number>()
    for (const run of runs) for (const endpoint of run.result.endpoints) totals.set(endpoint.name, (totals.get(endpoint.name) ?? 0) + endpoint.share)
    const names = [...totals].sort((a, b) => b[1] - a[1]).map(([name]) => name)
    const shown = names.slice(0, maxEndpointRows)
    const rowHeight = compare ? 30 : 22
    const height = margin.top + Math.max(1, shown.length + (names.length > shown.length ? 1 : 0)) * rowHeight + 12
    const svg = newSvg(host, height, 'Requests per endpoint')
    const nameRight = 250
    const barLeft = nameRight + 10
    const barRight = width - 150
    if (shown.length === 0) {
      text(svg, width / 2, margin.top + 14, 'no endpoint was identified (the replies did not name a pod)', { 'text-anchor': 'middle', class: 'muted' })
      return
    }
    let maxShare = 0
    for (const run of runs) for (const endpoint of run.result.endpoints) maxShare = Math.max(maxShare, endpoint.share)
    shown.forEach((name, row) => {
      const top = margin.top + row * rowHeight
      const label = text(svg, nameRight, top + rowHeight / 2 + 4, cut(name, 34), { 'text-anchor': 'end' })
      tooltip(label, name)
      runs.forEach((run, runIndex) => {
        const endpoint = run.result.endpoints.find((candidate) => candidate.name === name)
        const share = endpoint ? endpoint.share : 0
        const barHeight = compare ? 11 : 14
        const barTop = top + (compare ? 3 + runIndex * 13 : 4)
        el(svg, 'rect', { x: barLeft, y: barTop, width: barRight - barLeft, height: barHeight, class: 'bar-track' })
        const bar = el(svg, 'rect', { x: barLeft, y: barTop, width: round(Math.max(0, ((barRight - barLeft) * share) / Math.max(maxShare, 1e-9))), height: barHeight, class: 'run' + runIndex })
        tooltip(bar, `${compare ? run.label + ': ' : ''}${name}: ${formatCount(endpoint ? endpoint.requests : 0)} requests`)
        text(svg, barRight + 8, barTop + barHeight - 2, `${(share * 100).toFixed(1)}%  ${formatCount(endpoint ? endpoint.requests : 0)}`, { class: 'muted' })
      })
    })
    if (names.length > shown.length) text(svg, nameRight, margin.top + shown.length * rowHeight + 15, `… and ${names.length - shown.length} more`, { 'text-anchor': 'end', class: 'muted' })
    if (compare) barLegend(svg, runs.map((run, index) => ({ label: run.label, cls: 'run' + index })))
  }

  const drawers: Record<ChartKind, (host: Element) => void> = { latency: drawLatency, errors: drawErrors, spectrum: drawSpectrum, endpoints: drawEndpoints }
  const hosts = document.querySelectorAll('[data-chart]')
  for (const host of hosts) {
    const kind = (host as HTMLElement).dataset.chart as ChartKind
    const draw = drawers[kind]
    if (!draw) throw new Error(`unknown chart ${kind}`)
    width = Math.max(480, Math.round(host.getBoundingClientRect().width) || 960)
    draw(host)
  }
  // Where each chart landed, for a screenshot test to look at.
  for (const svg of document.querySelectorAll('svg')) {
    const box = svg.getBoundingClientRect()
    svg.dataset.box = [box.left + window.scrollX, box.top + window.scrollY, box.width, box.height].map(Math.round).join(',')
  }
  if (!document.body.dataset.rendered) document.body.dataset.rendered = 'ok'
}
