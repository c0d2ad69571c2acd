// events.k8s.io/v1 Event ⇄ core v1 Event: one stored object, two shapes (upstream's
// pkg/apis/events/v1 conversion). The core fields the new API renamed carry `deprecated`.
type Obj = Record<string, unknown>

/** Renamed fields: events.k8s.io/v1 name → core v1 name. */
const renamed: [string, string][] = [
  ['regarding', 'involvedObject'],
  ['note', 'message'],
  ['reportingController', 'reportingComponent'],
  ['deprecatedSource', 'source'],
  ['deprecatedFirstTimestamp', 'firstTimestamp'],
  ['deprecatedLastTimestamp', 'lastTimestamp'],
  ['deprecatedCount', 'count'],
]

/** Fields both shapes name alike. */
const shared = ['metadata', 'eventTime', 'series', 'reportingInstance', 'action', 'reason', 'related', 'type']

function move(from: Obj, to: Obj, pairs: [string, string][]): void {
  for (const [a, b] of pairs) if (from[a] !== undefined) to[b] = from[a]
}

export function eventToCore(event: Obj): Obj {
  const out: Obj = { apiVersion: 'v1', kind: 'Event' }
  for (const k of shared) if (event[k] !== undefined) out[k] = event[k]
  move(event, out, renamed)
  return out
}

export function eventFromCore(core: Obj): Obj {
  const out: Obj = { apiVersion: 'events.k8s.io/v1', kind: 'Event' }
  for (const k of shared) if (core[k] !== undefined) out[k] = core[k]
  move(core, out, renamed.map(([a, b]) => [b, a]))
  return out
}

interface Cause {
  field: string
  message: string
  reason: string
}

/**
 * What events.k8s.io/v1 asks of a new Event beyond the core API's rules (upstream's
 * ValidateEventCreate for requests in events.k8s.io/v1): a time, a type, who reported it,
 * and none of the deprecated core fields.
 */
export function validateNewEvent(event: Obj): Cause[] {
  const causes: Cause[] = []
  const required = (field: string) => causes.push({ field, reason: 'FieldValueRequired', message: 'Required value' })
  const invalid = (field: string, value: unknown, detail: string) =>
    causes.push({ field, reason: 'FieldValueInvalid', message: `Invalid value: ${JSON.stringify(value ?? '')}: ${detail}` })
  if (!event.eventTime) required('eventTime')
  if (event.type !== 'Normal' && event.type !== 'Warning') invalid('type', '', `has invalid value: ${String(event.type ?? '')}`)
  for (const field of ['reportingController', 'reportingInstance', 'action', 'reason']) {
    const value = event[field]
    if (typeof value !== 'string' || value === '') required(field)
    else if (value.length > 128) invalid(field, '', 'can have at most 128 characters')
  }
  if (typeof event.note === 'string' && Buffer.byteLength(event.note) > 1024) invalid('note', '', 'can have at most 1024 characters')
  for (const field of ['deprecatedFirstTimestamp', 'deprecatedLastTimestamp', 'deprecatedCount']) {
    if (event[field] !== undefined && event[field] !== null && event[field] !== 0) invalid(field, '', 'needs to be unset')
  }
  const source = event.deprecatedSource as Obj | undefined
  if (source && (source.component || source.host)) invalid('deprecatedSource', '', 'needs to be unset')
  return causes
}
