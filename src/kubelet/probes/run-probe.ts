// One probe attempt, as kubelet's prober makes it: HTTP GET and TCP connect from the
// agent's own network namespace to the pod IP, exec through the container runtime.
import { request as httpRequest, type IncomingMessage } from 'node:http'
import { request as httpsRequest } from 'node:https'
import { connect } from 'node:net'
import type { V1Probe } from '@kubernetes/client-node'

export type ProbeResult = 'success' | 'failure'

export interface ProbeOutcome {
  result: ProbeResult
  message: string
}

export interface ProbeTarget {
  podIP: string
  /** Resolves a named container port (IntOrString port given as a name). */
  resolvePort?: (name: string) => number | undefined
  /** Runs a command in the container (see execInContainer). */
  exec?: (argv: string[], timeoutMs: number) => Promise<{ exitCode: number; output: string; timedOut?: boolean }>
}

/** What kubelet sends as User-Agent; the version mirrors the API weft serves. */
export const PROBE_USER_AGENT = 'kube-probe/1.34'
const MAX_BODY = 10 * 1024

function portOf(port: number | string | undefined, target: ProbeTarget): number {
  if (typeof port === 'number') return port
  if (port === undefined) throw new Error('the probe has no port')
  if (/^\d+$/.test(port)) return Number(port)
  const resolved = target.resolvePort?.(port)
  if (resolved === undefined) throw new Error(`port ${JSON.stringify(port)} is not a named port of the container`)
  return resolved
}

function httpProbe(probe: NonNullable<V1Probe['httpGet']>, target: ProbeTarget, timeoutMs: number): Promise<ProbeOutcome> {
  const port = portOf(probe.port as number | string, target)
  const host = probe.host || target.podIP
  const https = (probe.scheme ?? 'HTTP').toUpperCase() === 'HTTPS'
  const headers: Record<string, string> = { 'User-Agent': PROBE_USER_AGENT, Accept: '*/*' }
  for (const h of probe.httpHeaders ?? []) headers[h.name] = h.value
  let path = probe.path || '/'
  if (!path.startsWith('/')) path = `/${path}`
  const url = `${https ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${port}${path}`
  return new Promise((resolve) => {
    const done = (outcome: ProbeOutcome): void => {
      clearTimeout(timer)
      resolve(outcome)
    }
    const options = { host, port, path, method: 'GET', headers, agent: false as const, ...(https ? { rejectUnauthorized: false } : {}) }
    const onResponse = (res: IncomingMessage): void => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => {
        if (body.length < MAX_BODY) body += chunk.slice(0, MAX_BODY - body.length)
      })
      res.on('end', () => {
        const code = res.statusCode ?? 0
        if (code >= 200 && code < 400) done({ result: 'success', message: `HTTP probe ${url}: ${code}` })
        else done({ result: 'failure', message: `HTTP probe failed with statuscode: ${code}${body ? `: ${body.trim().slice(0, 200)}` : ''}` })
      })
      res.on('error', (err) => done({ result: 'failure', message: `Get "${url}": ${err.message}` }))
    }
    const req = https ? httpsRequest(options, onResponse) : httpRequest(options, onResponse)
    const timer = setTimeout(() => {
      req.destroy()
      done({ result: 'failure', message: `Get "${url}": context deadline exceeded (Client.Timeout exceeded while awaiting headers)` })
    }, timeoutMs)
    req.on('error', (err) => done({ result: 'failure', message: `Get "${url}": ${err.message}` }))
    req.end()
  })
}

function tcpProbe(probe: NonNullable<V1Probe['tcpSocket']>, target: ProbeTarget, timeoutMs: number): Promise<ProbeOutcome> {
  const port = portOf(probe.port as number | string, target)
  const host = probe.host || target.podIP
  const address = `${host.includes(':') ? `[${host}]` : host}:${port}`
  return new Promise((resolve) => {
    const socket = connect({ host, port })
    const done = (outcome: ProbeOutcome): void => {
      clearTimeout(timer)
      socket.destroy()
      resolve(outcome)
    }
    const timer = setTimeout(() => done({ result: 'failure', message: `dial tcp ${address}: i/o timeout` }), timeoutMs)
    socket.once('connect', () => done({ result: 'success', message: `TCP probe ${address}: connected` }))
    socket.once('error', (err) => done({ result: 'failure', message: `dial tcp ${address}: ${err.message}` }))
  })
}

async function execProbe(probe: NonNullable<V1Probe['exec']>, target: ProbeTarget, timeoutMs: number): Promise<ProbeOutcome> {
  if (target.exec === undefined) return { result: 'failure', message: 'exec probes need a running container' }
  const argv = probe.command ?? []
  if (argv.length === 0) return { result: 'failure', message: 'exec probe has no command' }
  try {
    const { exitCode, output, timedOut } = await target.exec(argv, timeoutMs)
    if (timedOut) return { result: 'failure', message: `command ${JSON.stringify(argv)} timed out after ${timeoutMs / 1000}s` }
    if (exitCode === 0) return { result: 'success', message: output }
    return { result: 'failure', message: output.trim() || `command ${JSON.stringify(argv)} exited with ${exitCode}` }
  } catch (err) {
    return { result: 'failure', message: (err as Error).message }
  }
}

/** Runs one attempt of a probe; never throws (a broken probe is a failure with a message). */
export async function runProbe(probe: V1Probe, target: ProbeTarget): Promise<ProbeOutcome> {
  const timeoutMs = (probe.timeoutSeconds ?? 1) * 1000
  try {
    if (probe.exec !== undefined) return await execProbe(probe.exec, target, timeoutMs)
    if (probe.httpGet !== undefined) return await httpProbe(probe.httpGet, target, timeoutMs)
    if (probe.tcpSocket !== undefined) return await tcpProbe(probe.tcpSocket, target, timeoutMs)
    if (probe.grpc !== undefined) return { result: 'failure', message: 'gRPC probes are not supported by weft' }
    return { result: 'failure', message: 'the probe has no handler (exec, httpGet, tcpSocket)' }
  } catch (err) {
    return { result: 'failure', message: (err as Error).message }
  }
}
