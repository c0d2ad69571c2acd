// weft load's HTTP/2 client: h2 over TLS (ALPN, SNI = target.servername) or h2c with prior
// knowledge, on the shared session machinery (h2-sessions.ts). A 4xx or 5xx answer is an
// error of its class; with identifyEndpoints the first 4 KB of the body say which pod answered.
import type { ClientFactory, ErrorClass } from '../types.ts'
import { checkClientOptions, decodeBody } from './check-options.ts'
import { createH2Client, type H2Codec, type H2Exchange } from './h2-sessions.ts'
import { h2RequestHeaders } from './h2-headers.ts'
import { endpointFromReply } from './identify.ts'

/** Body bytes kept to tell which endpoint answered. */
export const IDENTIFY_BYTES = 4096

/** The class of an HTTP status: 4xx and 5xx are errors; 2xx and 3xx are answers; anything else cannot be. */
export function statusClass(status: number): ErrorClass | undefined {
  if (status >= 200 && status < 400) return undefined
  if (status >= 400 && status < 500) return 'http-4xx'
  if (status >= 500 && status < 600) return 'http-5xx'
  return 'protocol'
}

export const createHttp2Client: ClientFactory = (options) => {
  checkClientOptions(options, 'http2')
  const { target } = options
  const codec: H2Codec = {
    headers: h2RequestHeaders(target, target.method, {}),
    body: decodeBody(target.body, 'HTTP/2 request body'),
    captureBytes: options.identifyEndpoints ? IDENTIFY_BYTES : 0,
    judge: (exchange: H2Exchange) => statusClass(exchange.status),
    endpoint: (exchange: H2Exchange) => {
      const body = exchange.captured
      if (body === undefined) return undefined
      return endpointFromReply(body.length > IDENTIFY_BYTES ? body.subarray(0, IDENTIFY_BYTES) : body)
    },
  }
  return createH2Client(options, codec)
}
