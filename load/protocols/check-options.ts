// The checks every protocol client makes on its options before it opens anything: a target
// arrives as JSON (from a load pod's arguments too), so nothing in it is trusted.
import { isIP } from 'node:net'
import type { ClientOptions, Protocol, TargetEndpoint } from '../types.ts'

/** Most connections (sessions, sockets) one client opens. */
export const MAX_CONNECTIONS = 100_000
/** Longest timeout a request may have: the histograms stop at a minute. */
export const MAX_TIMEOUT_MS = 60_000

const hostName = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*\.?$/i

function checkEndpoint(endpoint: TargetEndpoint, index: number, protocol: Protocol): void {
  const where = `${protocol} target endpoint ${index}`
  if (typeof endpoint !== 'object' || endpoint === null) throw new Error(`${where} is not an object`)
  if (typeof endpoint.host !== 'string' || (isIP(endpoint.host) === 0 && !hostName.test(endpoint.host))) {
    throw new Error(`${where}: host ${JSON.stringify(endpoint.host)} is neither an IP address nor a host name`)
  }
  if (!Number.isInteger(endpoint.port) || endpoint.port < 1 || endpoint.port > 65535) {
    throw new Error(`${where}: port ${JSON.stringify(endpoint.port)} is not a port number (1-65535)`)
  }
}

/** Throws an Error saying what is wrong with `options` for a client of `protocol`. */
export function checkClientOptions(options: ClientOptions, protocol: Protocol): void {
  const { target } = options
  if (typeof target !== 'object' || target === null) throw new Error(`${protocol} client: no target`)
  if (target.protocol !== protocol) throw new Error(`${protocol} client given a ${String(target.protocol)} target`)
  if (!Array.isArray(target.endpoints) || target.endpoints.length === 0) throw new Error(`${protocol} target ${JSON.stringify(target.spec)} has no endpoints`)
  target.endpoints.forEach((endpoint, i) => checkEndpoint(endpoint, i, protocol))
  if (!Number.isInteger(options.connections) || options.connections < 1 || options.connections > MAX_CONNECTIONS) {
    throw new Error(`${protocol} client: connections must be an integer from 1 to ${MAX_CONNECTIONS}, not ${JSON.stringify(options.connections)}`)
  }
  if (typeof options.timeoutMs !== 'number' || !(options.timeoutMs > 0) || options.timeoutMs > MAX_TIMEOUT_MS) {
    throw new Error(`${protocol} client: timeout must be more than 0 and at most ${MAX_TIMEOUT_MS} ms, not ${JSON.stringify(options.timeoutMs)}`)
  }
  if (typeof options.sink?.done !== 'function') throw new Error(`${protocol} client: no sink`)
}

/** Largest request body a client sends (it is held in memory once and sent with every request). */
export const MAX_BODY_BYTES = 16 * 1024 * 1024

/** The bytes of a base64 body; throws when it is not base64 or too large. */
export function decodeBody(body: string | undefined, what: string): Buffer | undefined {
  if (body === undefined) return undefined
  if (typeof body !== 'string' || body.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(body)) {
    throw new Error(`${what} is not base64`)
  }
  if ((body.length / 4) * 3 > MAX_BODY_BYTES + 2) throw new Error(`${what} is larger than ${MAX_BODY_BYTES} bytes`)
  return Buffer.from(body, 'base64')
}
