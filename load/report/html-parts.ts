// Pieces of the reports' HTML: tables, cards and chart slots. Every string goes through
// escapeHtml here, so callers pass plain text, never markup.
import type { ChartKind } from './charts.ts'
import { escapeHtml } from './page.ts'

export interface Cell {
  text: string
  /** `num` right-aligns; `bad`/`good` colour; `name` wraps long names. */
  className?: 'num' | 'bad' | 'good' | 'name' | 'num bad' | 'num good'
}

export type CellInput = Cell | string | number

function cell(input: CellInput): Cell {
  if (typeof input === 'number') return { text: String(input), className: 'num' }
  if (typeof input === 'string') return { text: input }
  return input
}

function classAttribute(className: string | undefined): string {
  return className ? ` class="${escapeHtml(className)}"` : ''
}

export function table(headers: CellInput[], rows: CellInput[][]): string {
  const head = headers.map((input) => {
    const { text, className } = cell(input)
    return `<th${classAttribute(className)}>${escapeHtml(text)}</th>`
  })
  const body = rows.map(
    (row) =>
      '<tr>' +
      row
        .map((input) => {
          const { text, className } = cell(input)
          return `<td${classAttribute(className)}>${escapeHtml(text)}</td>`
        })
        .join('') +
      '</tr>',
  )
  return `<table><thead><tr>${head.join('')}</tr></thead><tbody>${body.join('\n')}</tbody></table>`
}

export function card(label: string, value: string, bad = false): string {
  return `<div class="card${bad ? ' bad' : ''}"><b>${escapeHtml(value)}</b><span>${escapeHtml(label)}</span></div>`
}

export function chartSlot(kind: ChartKind, title: string, note?: string): string {
  return (
    `<section class="chart" id="chart-${kind}"><h2>${escapeHtml(title)}</h2><div data-chart="${kind}"></div>` +
    (note ? `<p class="note">${escapeHtml(note)}</p>` : '') +
    '</section>'
  )
}

export function section(title: string, html: string): string {
  return `<section><h2>${escapeHtml(title)}</h2>${html}</section>`
}

export function paragraph(text: string, className?: string): string {
  return `<p${classAttribute(className)}>${escapeHtml(text)}</p>`
}

export function list(items: string[], className?: string): string {
  return `<ul${classAttribute(className)}>${items.map((item) => `<li>${escapeHtml(item)}</li>`).join('')}</ul>`
}
