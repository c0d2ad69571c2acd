// agnhost netexec: an HTTP(S) server with test endpoints and a UDP command server
// (kubernetes test/images/agnhost/netexec). SCTP is not served.
import { spawn } from 'node:child_process'
import type { Socket } from 'node:dgram'
import { readFileSync } from 'node:fs'
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import { isIP } from 'node:net'
import { parseFlags } from './flags.ts'
import { parseGoDuration } from '../util/go-duration.ts'
import { dial } from './netexec-dial.ts'
import { exitOnSignal, fail, joinHostPort, logLine, podHostname } from './runtime.ts'
import { bindUdp } from './udp.ts'

const text = { 'content-type': 'text/plain; charset=utf-8' }
let udpReady = false

function send(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, text).end(body)
}

/** Like Go's time.Time String(): `2006-01-02 15:04:05.999999999 +0000 UTC`. */
function goNow(): string {
  const iso = new Date().toISOString()
  return `${iso.slice(0, 10)} ${iso.slice(11, 23)}000000 +0000 UTC`
}

function shell(cmd: string): Promise<string> {
  return new Promise((resolve) => {
    const child = spawn('/bin/sh', ['-c', cmd], { stdio: ['ignore', 'pipe', 'pipe'] })
    const out: Buffer[] = []
    child.stdout.on('data', (c: Buffer) => out.push(c))
    child.stderr.on('data', (c: Buffer) => out.push(c))
    const finish = (error: string | undefined): void => {
      const result: { error?: string; output?: string } = {}
      if (error !== undefined) result.error = error
      const output = Buffer.concat(out).toString()
      if (output.length > 0) result.output = output
      resolve(JSON.stringify(result))
    }
    child.on('error', (err) => finish(err.message))
    child.on('close', (code, signal) => {
      if (signal) finish(`signal: ${signalName(signal)}`)
      else finish(code === 0 ? undefined : `exit status ${code}`)
    })
  })
}

function signalName(signal: NodeJS.Signals): string {
  return signal === 'SIGKILL' ? 'killed' : signal === 'SIGTERM' ? 'terminated' : signal.toLowerCase().replace(/^sig/, '')
}

function exitRoute(query: URLSearchParams, res: ServerResponse, server: Server): void {
  const codeText = query.get('code') ?? ''
  const timeoutText = query.get('timeout') ?? ''
  const waitText = query.get('wait') ?? ''
  const timeout = timeoutText === '' ? 0 : parseGoDuration(timeoutText)
  if (timeout === undefined) return send(res, 200, `argument 'timeout' must be a valid golang duration or empty, got ${JSON.stringify(timeoutText)}\n`)
  const wait = waitText === '' ? 0 : parseGoDuration(waitText)
  if (wait === undefined) return send(res, 200, `argument 'wait' must be a valid golang duration or empty, got ${JSON.stringify(waitText)}\n`)
  if (codeText !== '' && !/^[+-]?\d+$/.test(codeText)) return send(res, 200, `argument 'code' must be an integer [0-127] or empty, got ${JSON.stringify(codeText)}\n`)
  const code = codeText === '' ? 0 : Number(codeText)
  logLine('netexec', `will begin shutdown in ${wait}ms, allowing ${timeout}ms for connections to close, then will exit with ${code}`)
  setTimeout(() => {
    if (timeout <= 0) process.exit(code)
    send(res, 200, '')
    server.close(() => process.exit(code))
    server.closeIdleConnections()
    setTimeout(() => process.exit(code), timeout).unref()
  }, wait)
}

async function route(path: string, query: URLSearchParams, req: IncomingMessage, res: ServerResponse, server: Server): Promise<void> {
  switch (path) {
    case '/hostname':
    case '/hostName':
      return send(res, 200, podHostname())
    case '/clientip':
      return send(res, 200, joinHostPort(req.socket.remoteAddress ?? '', req.socket.remotePort ?? 0))
    case '/echo': {
      const codeText = query.get('code') ?? ''
      if (codeText !== '' && !/^\d{3}$/.test(codeText)) return send(res, 200, `argument 'code' must be an integer or empty, got ${JSON.stringify(codeText)}\n`)
      return send(res, codeText === '' ? 200 : Number(codeText), query.get('msg') ?? '')
    }
    case '/header': {
      const value = req.headers[(query.get('key') ?? '').toLowerCase()]
      return send(res, 200, Array.isArray(value) ? value[0] : (value ?? ''))
    }
    case '/healthz':
    case '/readyz':
      return send(res, udpReady ? 200 : 412, '')
    case '/shell':
      return send(res, 200, await shell(query.get('shellCommand') || query.get('cmd') || ''))
    case '/dial': {
      const { status, body } = await dial(query)
      return send(res, status, body)
    }
    case '/exit':
      return exitRoute(query, res, server)
    case '/shutdown':
      process.exit(0)
    case '/redirect': {
      const location = query.get('location') ?? ''
      const codeText = query.get('code') ?? ''
      if (codeText !== '' && !/^\d{3}$/.test(codeText)) return send(res, 200, `argument 'code' must be an integer or empty, got ${JSON.stringify(codeText)}\n`)
      res.writeHead(codeText === '' ? 302 : Number(codeText), { ...text, location }).end(`<a href="${location}">Redirect</a>.\n\n`)
      return
    }
    default:
      return send(res, 200, `NOW: ${goNow()}`)
  }
}

function startUdp(sock: Socket): void {
  sock.on('message', (msg, rinfo) => {
    const received = msg.toString().trim().toLowerCase()
    let reply: string | undefined
    if (received === 'hostname') reply = podHostname()
    else if (received.startsWith('echo ')) reply = received.slice(5)
    else if (received === 'clientip') reply = joinHostPort(rinfo.address, rinfo.port)
    if (reply !== undefined) sock.send(reply, rinfo.port, rinfo.address)
  })
}

export async function netexec(args: readonly string[]): Promise<void> {
  const flags = parseFlags('netexec', args, {
    'http-port': 8080,
    'udp-port': 8081,
    'sctp-port': -1,
    'tls-cert-file': '',
    'tls-private-key-file': '',
    'http-override': '',
    'udp-listen-addresses': '',
    'delay-shutdown': 0,
  })
  if (flags['sctp-port'] !== -1) logLine('netexec', 'SCTP is not supported by weft; --sctp-port is ignored')
  exitOnSignal(flags['delay-shutdown'] * 1000)

  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(flags['http-override'] || req.url || '/', 'http://netexec')
    route(url.pathname, url.searchParams, req, res, server).catch((err: Error) => {
      if (!res.headersSent) send(res, 500, `${err.message}\n`)
      else res.destroy()
    })
  }
  const server: Server = flags['tls-cert-file']
    ? createHttpsServer({ cert: readFileSync(flags['tls-cert-file']), key: readFileSync(flags['tls-private-key-file'] || flags['tls-cert-file']) }, handler)
    : createHttpServer(handler)

  const udp: string[] = []
  if (flags['udp-port'] !== -1) {
    const addresses = flags['udp-listen-addresses'] === '' ? [''] : [...new Set(flags['udp-listen-addresses'].split(','))].sort()
    for (const address of addresses) {
      if (address !== '' && !isIP(address)) fail('netexec', `parseAddress: invalid address ${address}`)
      const sock = await bindUdp(flags['udp-port'], address || undefined).catch((err: Error) =>
        fail('netexec', `failed to create listener for UDP port ${flags['udp-port']}: ${err.message}`),
      )
      startUdp(sock)
      udp.push(joinHostPort(address || '*', flags['udp-port']))
    }
  }
  udpReady = flags['udp-port'] === -1 || udp.length > 0

  server.on('error', (err) => fail('netexec', `cannot listen on HTTP port ${flags['http-port']}: ${err.message}`))
  await new Promise<void>((resolve) => server.listen(flags['http-port'], resolve))
  logLine('netexec', `started ${flags['tls-cert-file'] ? 'HTTPS' : 'HTTP'} server on port ${flags['http-port']}${udp.length ? `, UDP server on ${udp.join(' ')}` : ''}`)
}
