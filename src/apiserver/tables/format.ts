// Shared cell formatting for server-side printing, after Kubernetes'
// pkg/printers/internalversion and k8s.io/apimachinery/pkg/util/duration.
import type { V1LabelSelector } from '@kubernetes/client-node'
import { labelSelectorFromObject, selectorToString } from '../../api/selectors.ts'

export interface TableColumnDefinition {
  name: string
  type: string
  format: string
  description: string
  priority: number
}

export interface TableRowCondition {
  type: string
  status: string
  reason?: string
  message?: string
}

export interface PrintedRow {
  cells: unknown[]
  conditions?: TableRowCondition[]
}

/** How one kind prints: its columns and, per object, cells in the same order. */
export interface Printer {
  columns: TableColumnDefinition[]
  row(obj: unknown, now: number): PrintedRow
}

export function col(name: string, type: string, description: string, priority = 0, format = ''): TableColumnDefinition {
  return { name, type, format, description, priority }
}

const nameDoc =
  'Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names'
const creationTimestampDoc =
  'CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata'

export function nameColumn(priority = 0): TableColumnDefinition {
  return col('Name', 'string', nameDoc, priority, 'name')
}

export function ageColumn(): TableColumnDefinition {
  return col('Age', 'string', creationTimestampDoc)
}

export const containersColumn = col('Containers', 'string', 'Names of each container in the template.', 1)
export const imagesColumn = col('Images', 'string', 'Images referenced by each container in the template.', 1)

/**
 * `duration.HumanDuration`: a succinct, 2-3 significant figure rendering of a duration
 * given in milliseconds (`5s`, `3m20s`, `45m`, `5h3m`, `2d3h`, `400d`, `3y20d`).
 */
export function humanDuration(ms: number): string {
  const seconds = Math.trunc(ms / 1000)
  if (seconds < -1) return '<invalid>'
  if (seconds < 0) return '0s'
  if (seconds < 60 * 2) return `${seconds}s`
  const minutes = Math.trunc(ms / 60_000)
  if (minutes < 10) {
    const s = seconds % 60
    return s === 0 ? `${minutes}m` : `${minutes}m${s}s`
  }
  if (minutes < 60 * 3) return `${minutes}m`
  const hours = Math.trunc(ms / 3_600_000)
  if (hours < 8) {
    const m = minutes % 60
    return m === 0 ? `${hours}h` : `${hours}h${m}m`
  }
  if (hours < 48) return `${hours}h`
  if (hours < 24 * 8) {
    const h = hours % 24
    return h === 0 ? `${Math.trunc(hours / 24)}d` : `${Math.trunc(hours / 24)}d${h}h`
  }
  if (hours < 24 * 365 * 2) return `${Math.trunc(hours / 24)}d`
  if (hours < 24 * 365 * 8) {
    const dy = Math.trunc(hours / 24) % 365
    const years = Math.trunc(hours / 24 / 365)
    return dy === 0 ? `${years}y` : `${years}y${dy}d`
  }
  return `${Math.trunc(hours / 24 / 365)}y`
}

/** A timestamp as JSON carries it (RFC 3339 string) or as a Date; undefined when unset. */
export function timeOf(value: unknown): number | undefined {
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? undefined : value.getTime()
  if (typeof value === 'string' && value !== '') {
    const t = Date.parse(value)
    return Number.isNaN(t) ? undefined : t
  }
  return undefined
}

/** `translateTimestampSince`. */
export function since(value: unknown, now: number): string {
  const t = timeOf(value)
  return t === undefined ? '<unknown>' : humanDuration(now - t)
}

/** `labels.FormatLabels`: `a=b,c=d` sorted by key, `<none>` when empty. */
export function formatLabels(labels: Record<string, string> | undefined): string {
  const text = Object.keys(labels ?? {})
    .sort()
    .map((k) => `${k}=${labels![k]}`)
    .join(',')
  return text === '' ? '<none>' : text
}

/** A label selector's string; `undefined` when it does not convert. */
export function labelSelectorString(sel: V1LabelSelector | undefined): string | undefined {
  try {
    return selectorToString(labelSelectorFromObject(sel))
  } catch {
    return undefined
  }
}

/** `metav1.FormatLabelSelector`. */
export function formatLabelSelector(sel: V1LabelSelector | undefined): string {
  const text = labelSelectorString(sel)
  if (text === undefined) return '<error>'
  return text === '' ? '<none>' : text
}

/** `layoutContainerCells`: names and images, comma-joined. */
export function containerCells(containers: { name: string; image?: string }[] | undefined): [string, string] {
  const list = containers ?? []
  return [list.map((c) => c.name).join(','), list.map((c) => c.image ?? '').join(',')]
}

export { joinHostPort } from '../../util/host-port.ts'

/** Items up to `max`, then ` + N more...`; `<unset>` when there are none. */
export function listWithMore(items: string[], max = 3): string {
  const shown = items.slice(0, max).join(',')
  if (items.length > max) return `${shown} + ${items.length - max} more...`
  return shown === '' ? '<unset>' : shown
}

export function int(value: number | undefined): number {
  return value ?? 0
}
