// netexec's /dial: send `request` to host:port over HTTP or UDP `tries` times and report every
// answer and error, as agnhost does (the "responses" key appears only when the last try answered).
import { createSocket } from 'node:dgram'
import { lookup } from 'node:dns/promises'
import { request as httpRequest } from 'node:http'
import { isIP } from 'node:net'
import { joinHostPort } from './runtime.ts'

const dialTimeoutMs = 5000

export interface DialResult {
  status: number
  body: string
}

function badRequest(message: string): DialResult {
  return { status: 400, body: `${message}\n` }
}

async function resolveHost(host: string): Promise<string> {
  if (host === '') return '127.0.0.1'
  if (isIP(host)) return host
  return (await lookup(host)).address
}

function dialHTTP(request: string, ip: string, port: number): Promise<string> {
  const url = `http://${joinHostPort(ip, port)}/${request}`
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { agent: false, timeout: dialTimeoutMs }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve(Buffer.concat(chunks).toString()))
      res.on('error', (err) => reject(new Error(`Get "${url}": ${err.message}`)))
    })
    req.on('timeout', () => req.destroy(new Error('context deadline exceeded (Client.Timeout exceeded while awaiting headers)')))
    req.on('error', (err) => reject(new Error(`Get "${url}": ${err.message}`)))
    req.end()
  })
}

function dialUDP(request: string, ip: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = createSocket(ip.includes(':') ? 'udp6' : 'udp4')
    const done = (err: Error | undefined, answer?: string): void => {
      clearTimeout(timer)
      sock.close()
      if (err) reject(err)
      else resolve(answer ?? '')
    }
    const timer = setTimeout(() => done(new Error(`reading from udp connection failed. err:'read udp ${joinHostPort(ip, port)}: i/o timeout'`)), dialTimeoutMs)
    sock.on('message', (msg) => {
      if (msg.length === 0) done(new Error("reading from udp connection failed. err:'<nil>'"))
      else done(undefined, msg.toString())
    })
    sock.on('error', (err) => done(new Error(`reading from udp connection failed. err:'${err.message}'`)))
    sock.connect(port, ip, () => {
      sock.send(request, (err) => {
        if (err) done(new Error(`udp connection write failed. err:${err.message}`))
      })
    })
  })
}

export async function dial(query: URLSearchParams): Promise<DialResult> {
  const host = query.get('host') ?? ''
  const portText = query.get('port') ?? ''
  const request = query.get('request') ?? ''
  const protocol = (query.get('protocol') ?? '').toLowerCase()
  const triesText = query.get('tries') ?? ''
  let tries = 1
  if (triesText !== '') {
    if (!/^[+-]?\d+$/.test(triesText)) return badRequest(`tries parameter is invalid. strconv.Atoi: parsing ${JSON.stringify(triesText)}: invalid syntax`)
    tries = Number(triesText)
  }
  if (request === '') return badRequest('request parameter not specified. <nil>')
  let dialer: (request: string, ip: string, port: number) => Promise<string>
  if (protocol === '' || protocol === 'http') dialer = dialHTTP
  else if (protocol === 'udp') dialer = dialUDP
  else return badRequest(`unsupported protocol. ${protocol}`)
  const port = Number(portText)
  if (!/^\d+$/.test(portText) || port > 65535) return badRequest(`host and/or port param are invalid. address ${joinHostPort(host, portText)}: invalid port`)
  let ip: string
  try {
    ip = await resolveHost(host)
  } catch (err) {
    return badRequest(`host and/or port param are invalid. lookup ${host}: ${(err as Error).message}`)
  }

  const responses: string[] = []
  const errors: string[] = []
  let last = ''
  for (let i = 0; i < tries; i++) {
    try {
      last = await dialer(request, ip, port)
      responses.push(last)
    } catch (err) {
      last = ''
      errors.push((err as Error).message)
    }
  }
  const output: { errors?: string[]; responses?: string[] } = {}
  if (errors.length > 0) output.errors = errors
  if (last.length > 0) output.responses = responses
  return { status: 200, body: JSON.stringify(output) }
}
