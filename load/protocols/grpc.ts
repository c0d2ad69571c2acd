// weft load's gRPC client: unary calls over the HTTP/2 session machinery (h2-sessions.ts).
// Each request POSTs target.path with one length-prefixed message (target.body: the serialized
// request, base64) and ends with the call's grpc-status: from the trailers, or from the headers
// of a trailers-only answer. A non-zero status is 'grpc-status'; an answer that breaks the gRPC
// framing (no status, another content type, not exactly one uncompressed message) is 'protocol';
// an HTTP status other than 200 is classed like HTTP (4xx, 5xx).
//
// For the health-check method (grpc.health.v1.Health/Check) the answer's HealthCheckResponse is
// decoded too, and any serving status but SERVING (UNKNOWN, NOT_SERVING, SERVICE_UNKNOWN) counts
// as 'grpc-status': a health check that says "not serving" is a failed request for a load test.
//
// gRPC answers do not say which pod served them, so this client reports no endpoint.
import type { ClientFactory, ErrorClass } from '../types.ts'
import { checkClientOptions, decodeBody } from './check-options.ts'
import { createH2Client, type H2Codec, type H2Exchange } from './h2-sessions.ts'
import { h2RequestHeaders } from './h2-headers.ts'
import { statusClass } from './http2.ts'

export const HEALTH_CHECK_PATH = '/grpc.health.v1.Health/Check'
/** grpc.health.v1.HealthCheckResponse.ServingStatus.SERVING */
export const SERVING = 1
/** Longest health-check service name accepted. */
export const MAX_SERVICE_NAME_BYTES = 1024
/** Largest HealthCheckResponse decoded (the real one is 2 bytes). */
const MAX_HEALTH_RESPONSE_BYTES = 4096
const MESSAGE_PREFIX_BYTES = 5

function varint(value: number): number[] {
  const bytes: number[] = []
  while (value > 0x7f) {
    bytes.push((value & 0x7f) | 0x80)
    value >>>= 7
  }
  bytes.push(value)
  return bytes
}

/** A serialized grpc.health.v1.HealthCheckRequest for `service` ('' : the server as a whole, an empty message). */
export function healthCheckRequest(service: string): Buffer {
  if (typeof service !== 'string') throw new Error('the gRPC health-check service name must be a string')
  const name = Buffer.from(service, 'utf8')
  if (name.length > MAX_SERVICE_NAME_BYTES) throw new Error(`gRPC health-check service name is longer than ${MAX_SERVICE_NAME_BYTES} bytes`)
  if (name.length === 0) return Buffer.alloc(0)
  // Field 1 (service), wire type 2 (length-delimited).
  return Buffer.concat([Buffer.from([0x0a, ...varint(name.length)]), name])
}

/** The target body (base64) for `--grpc-service NAME`. */
export function healthCheckRequestBody(service: string): string {
  return healthCheckRequest(service).toString('base64')
}

/** A message with gRPC's 5-byte prefix: uncompressed, its length big-endian. */
export function grpcFrame(message: Buffer): Buffer {
  const framed = Buffer.allocUnsafe(MESSAGE_PREFIX_BYTES + message.length)
  framed[0] = 0
  framed.writeUInt32BE(message.length, 1)
  message.copy(framed, MESSAGE_PREFIX_BYTES)
  return framed
}

/** The serving status in a HealthCheckResponse (0, UNKNOWN, when absent); undefined when the bytes are not protobuf. */
export function servingStatus(message: Uint8Array): number | undefined {
  let status = 0
  let pos = 0
  const readVarint = (): number | undefined => {
    let value = 0
    let scale = 1
    for (let i = 0; i < 10 && pos < message.length; i++) {
      const byte = message[pos++]
      value += (byte & 0x7f) * scale
      if ((byte & 0x80) === 0) return value
      scale *= 128
    }
    return undefined
  }
  while (pos < message.length) {
    const key = readVarint()
    if (key === undefined) return undefined
    const field = Math.floor(key / 8)
    const wireType = key % 8
    if (field === 0) return undefined
    switch (wireType) {
      case 0: {
        const value = readVarint()
        if (value === undefined) return undefined
        if (field === 1) status = value
        break
      }
      case 1:
        pos += 8
        break
      case 2: {
        const length = readVarint()
        if (length === undefined) return undefined
        pos += length
        break
      }
      case 5:
        pos += 4
        break
      default:
        return undefined
    }
    if (pos > message.length) return undefined
  }
  return status
}

function headerText(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value
}

/** The class of a complete gRPC answer (see the top of this file). */
function judgeCall(exchange: H2Exchange, health: boolean): ErrorClass | undefined {
  if (exchange.status !== 200) return statusClass(exchange.status) ?? 'protocol'
  const statusText = headerText(exchange.trailers?.['grpc-status']) ?? headerText(exchange.headers?.['grpc-status'])
  if (statusText === undefined || !/^\d{1,2}$/.test(statusText)) return 'protocol'
  if (statusText !== '0') return 'grpc-status'
  if (!headerText(exchange.headers?.['content-type'])?.startsWith('application/grpc')) return 'protocol'
  const body = exchange.captured
  if (body === undefined || body.length < MESSAGE_PREFIX_BYTES || body[0] !== 0) return 'protocol'
  const length = body.readUInt32BE(1)
  if (MESSAGE_PREFIX_BYTES + length !== exchange.bodyLength) return 'protocol'
  if (!health) return undefined
  if (length > MAX_HEALTH_RESPONSE_BYTES) return 'protocol'
  const serving = servingStatus(body.subarray(MESSAGE_PREFIX_BYTES, MESSAGE_PREFIX_BYTES + length))
  if (serving === undefined) return 'protocol'
  return serving === SERVING ? undefined : 'grpc-status'
}

export const createGrpcClient: ClientFactory = (options) => {
  checkClientOptions(options, 'grpc')
  const { target } = options
  const health = target.path === HEALTH_CHECK_PATH
  const message = decodeBody(target.body, 'gRPC request message') ?? Buffer.alloc(0)
  const codec: H2Codec = {
    headers: h2RequestHeaders(target, 'POST', { 'content-type': 'application/grpc', te: 'trailers' }),
    body: grpcFrame(message),
    captureBytes: health ? MESSAGE_PREFIX_BYTES + MAX_HEALTH_RESPONSE_BYTES : MESSAGE_PREFIX_BYTES,
    judge: (exchange) => judgeCall(exchange, health),
    endpoint: () => undefined,
  }
  return createH2Client(options, codec)
}
