// Reading fields of JSON that came from elsewhere (the API, a pod's output): every access
// checks the type, so a malformed object reads as "absent" instead of throwing deep inside.

export type JsonObject = Record<string, unknown>

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

export function objectAt(value: unknown, key: string): JsonObject | undefined {
  if (!isObject(value)) return undefined
  const field = value[key]
  return isObject(field) ? field : undefined
}

export function arrayAt(value: unknown, key: string): unknown[] {
  if (!isObject(value)) return []
  const field = value[key]
  return Array.isArray(field) ? field : []
}

export function stringAt(value: unknown, key: string): string | undefined {
  if (!isObject(value)) return undefined
  const field = value[key]
  return typeof field === 'string' ? field : undefined
}

export function numberAt(value: unknown, key: string): number | undefined {
  if (!isObject(value)) return undefined
  const field = value[key]
  return typeof field === 'number' && Number.isFinite(field) ? field : undefined
}

export function booleanAt(value: unknown, key: string): boolean | undefined {
  if (!isObject(value)) return undefined
  const field = value[key]
  return typeof field === 'boolean' ? field : undefined
}

/** `obj.a.b.c`, each step an object. */
export function pathAt(value: unknown, ...keys: string[]): unknown {
  let at: unknown = value
  for (const key of keys) {
    if (!isObject(at)) return undefined
    at = at[key]
  }
  return at
}
