// The target's endpoints for socket clients: round-robin, host names resolved once (a failed
// lookup is retried after a second, not on every request), and the name each endpoint reports.
import { lookup } from 'node:dns/promises'
import { isIP } from 'node:net'
import type { TargetEndpoint } from '../types.ts'

const retryFailedLookupMs = 1000
const maxHostLength = 253

export interface Endpoint {
  host: string
  port: number
  /** What the report calls it: its label, or host:port. */
  name: string
  /** The address to connect to; undefined until resolved. */
  address: string | undefined
}

export class EndpointError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'EndpointError'
  }
}

export function checkEndpoints(endpoints: TargetEndpoint[]): Endpoint[] {
  if (!Array.isArray(endpoints) || endpoints.length === 0) throw new EndpointError('the target has no endpoints')
  return endpoints.map((endpoint, index) => {
    const { host, port, label } = endpoint
    if (typeof host !== 'string' || host.length === 0 || host.length > maxHostLength || !(isIP(host) || /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/i.test(host))) {
      throw new EndpointError(`endpoint ${index + 1}: host ${JSON.stringify(String(host).slice(0, 60))} is neither an IP address nor a host name`)
    }
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new EndpointError(`endpoint ${index + 1}: port must be in 1..65535, got ${port}`)
    if (label !== undefined && (typeof label !== 'string' || label.length > 300)) throw new EndpointError(`endpoint ${index + 1}: label must be a string of at most 300 characters`)
    const name = label ?? (isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`)
    return { host, port, name, address: isIP(host) ? host : undefined }
  })
}

/** Picks endpoints in turn and resolves host names once. */
export class EndpointRing {
  readonly endpoints: Endpoint[]
  private nextIndex = 0
  private readonly lookups = new Map<string, { pending: Promise<string> | undefined; failedAt: number; error: unknown }>()

  constructor(endpoints: TargetEndpoint[]) {
    this.endpoints = checkEndpoints(endpoints)
  }

  next(): Endpoint {
    const endpoint = this.endpoints[this.nextIndex]
    this.nextIndex = (this.nextIndex + 1) % this.endpoints.length
    return endpoint
  }

  /** The endpoint's address: at once when known, else after one lookup shared by every caller. */
  resolve(endpoint: Endpoint): string | Promise<string> {
    if (endpoint.address !== undefined) return endpoint.address
    let state = this.lookups.get(endpoint.host)
    if (state?.error !== undefined && performance.now() - state.failedAt < retryFailedLookupMs) return Promise.reject(state.error)
    if (state?.pending) return state.pending
    state = { pending: undefined, failedAt: 0, error: undefined }
    this.lookups.set(endpoint.host, state)
    const current = state
    current.pending = lookup(endpoint.host).then(
      ({ address }) => {
        for (const e of this.endpoints) if (e.host === endpoint.host) e.address = address
        current.pending = undefined
        return address
      },
      (err: unknown) => {
        current.pending = undefined
        current.error = err
        current.failedAt = performance.now()
        throw err
      },
    )
    return current.pending
  }
}
