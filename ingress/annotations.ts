// Per-Ingress options from `weft.dev/` annotations. Every value is validated; a bad value
// yields an error naming the annotation and value, and the option keeps its default.
//
//   weft.dev/ssl-redirect           true | false (default: the controller's --ssl-redirect, off): plain-HTTP requests for a TLS host get a 308 to https
//   weft.dev/proxy-body-size        nginx-style size: 0 (unlimited), 512, 8k, 1m, 1g (k/m/g are 1024-based); default 1m
//   weft.dev/proxy-connect-timeout  integer seconds (5) or a duration (500ms, 5s, 1.5m, 1h); > 0; default 5s
//   weft.dev/proxy-read-timeout     as above; default 60s
//   weft.dev/backend-protocol       HTTP | HTTPS | GRPC | GRPCS (case-insensitive); default HTTP
//   weft.dev/load-balance           round_robin | least_request; default round_robin
//
// Any other `weft.dev/` annotation is reported as unknown (most likely a typo).

export type BackendProtocol = 'HTTP' | 'HTTPS' | 'GRPC' | 'GRPCS'
export type LoadBalance = 'round_robin' | 'least_request'

export interface RouteOptions {
  /** undefined: the controller's default (IngressServerOptions.sslRedirect). */
  sslRedirect: boolean | undefined
  /** 0 means unlimited. */
  maxBodyBytes: number
  connectTimeoutMs: number
  readTimeoutMs: number
  backendProtocol: BackendProtocol
  loadBalance: LoadBalance
}

export const defaultRouteOptions: RouteOptions = Object.freeze({
  sslRedirect: undefined,
  maxBodyBytes: 1024 * 1024,
  connectTimeoutMs: 5_000,
  readTimeoutMs: 60_000,
  backendProtocol: 'HTTP',
  loadBalance: 'round_robin',
})

export const annotationPrefix = 'weft.dev/'

export const annotations = {
  sslRedirect: 'weft.dev/ssl-redirect',
  proxyBodySize: 'weft.dev/proxy-body-size',
  proxyConnectTimeout: 'weft.dev/proxy-connect-timeout',
  proxyReadTimeout: 'weft.dev/proxy-read-timeout',
  backendProtocol: 'weft.dev/backend-protocol',
  loadBalance: 'weft.dev/load-balance',
} as const

const known = new Set<string>(Object.values(annotations))

const sizeUnits: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }
const durationUnits: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }

/** `8k` → 8192; undefined when malformed. */
export function parseBodySize(value: string): number | undefined {
  const m = /^(\d+)([kmg]?)$/i.exec(value.trim())
  if (!m) return undefined
  const bytes = Number(m[1]) * sizeUnits[m[2].toLowerCase()]
  return Number.isSafeInteger(bytes) ? bytes : undefined
}

/** `5` → 5000, `500ms` → 500, `1.5m` → 90000; undefined when malformed or not positive. */
export function parseTimeout(value: string): number | undefined {
  const text = value.trim()
  let ms: number
  if (/^\d+$/.test(text)) ms = Number(text) * 1000
  else {
    const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(text)
    if (!m) return undefined
    ms = Math.round(Number(m[1]) * durationUnits[m[2]])
  }
  return ms > 0 && Number.isSafeInteger(ms) ? ms : undefined
}

function describeDuration(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`
}

function invalid(name: string, value: string, expected: string, fallback: string): string {
  return `annotation ${name}: invalid value ${JSON.stringify(value)}: expected ${expected}; using the default ${fallback}`
}

export function routeOptions(input: Record<string, string> | undefined): { options: RouteOptions; errors: string[] } {
  const options: RouteOptions = { ...defaultRouteOptions }
  const errors: string[] = []
  if (!input) return { options, errors }
  const d = defaultRouteOptions

  const ssl = input[annotations.sslRedirect]
  if (ssl !== undefined) {
    const v = ssl.trim().toLowerCase()
    if (v === 'true' || v === 'false') options.sslRedirect = v === 'true'
    else errors.push(invalid(annotations.sslRedirect, ssl, '"true" or "false"', "the controller's (--ssl-redirect)"))
  }

  const size = input[annotations.proxyBodySize]
  if (size !== undefined) {
    const bytes = parseBodySize(size)
    if (bytes !== undefined) options.maxBodyBytes = bytes
    else errors.push(invalid(annotations.proxyBodySize, size, 'a size like 8k, 1m, 1g or 0 (unlimited)', '1m'))
  }

  for (const [name, key] of [
    [annotations.proxyConnectTimeout, 'connectTimeoutMs'],
    [annotations.proxyReadTimeout, 'readTimeoutMs'],
  ] as const) {
    const raw = input[name]
    if (raw === undefined) continue
    const ms = parseTimeout(raw)
    if (ms !== undefined) options[key] = ms
    else errors.push(invalid(name, raw, 'positive seconds like 30 or a duration like 500ms, 5s, 2m', describeDuration(d[key])))
  }

  const protocol = input[annotations.backendProtocol]
  if (protocol !== undefined) {
    const v = protocol.trim().toUpperCase()
    if (v === 'HTTP' || v === 'HTTPS' || v === 'GRPC' || v === 'GRPCS') options.backendProtocol = v
    else errors.push(invalid(annotations.backendProtocol, protocol, 'one of HTTP, HTTPS, GRPC, GRPCS', d.backendProtocol))
  }

  const lb = input[annotations.loadBalance]
  if (lb !== undefined) {
    const v = lb.trim().toLowerCase()
    if (v === 'round_robin' || v === 'least_request') options.loadBalance = v
    else errors.push(invalid(annotations.loadBalance, lb, 'round_robin or least_request', d.loadBalance))
  }

  for (const name of Object.keys(input)) {
    if (name.startsWith(annotationPrefix) && !known.has(name)) {
      errors.push(`annotation ${name}: unknown weft annotation (ignored); known: ${[...known].join(', ')}`)
    }
  }
  return { options, errors }
}
