// A load pod's job: which generator it is, the resolved target and its share of the plan.
// It reaches the pod as JSON in the environment variable WEFT_LOAD_JOB and is checked field
// by field before anything runs: it is input like any other.
import { parseIP } from '../src/util/ip-parse.ts'
import { isObject, type JsonObject } from './json-fields.ts'
import type { LoadPlan, Phase, Protocol, ResolvedTarget, TargetEndpoint } from './types.ts'

export const jobEnvName = 'WEFT_LOAD_JOB'
export const maxJobBytes = 1024 * 1024

export interface LoadJob {
  /** The generator's name (its pod's name): how its results are told apart. */
  generator: string
  target: ResolvedTarget
  plan: LoadPlan
}

export class JobError extends Error {
  readonly code = 'InvalidJob'
  constructor(message: string) {
    super(message)
    this.name = 'JobError'
  }
}

const protocols: readonly Protocol[] = ['http1', 'http2', 'grpc', 'tcp', 'udp', 'dns']
const hostName = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$/
const httpToken = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/
const base64 = /^[A-Za-z0-9+/]*={0,2}$/
const dnsTypes = ['A', 'AAAA', 'CNAME', 'MX', 'NS', 'PTR', 'SOA', 'SRV', 'TXT', 'ANY']
const dnsName = /^(?=.{1,253}$)[A-Za-z0-9_]([-A-Za-z0-9_]{0,61}[A-Za-z0-9_])?(\.[A-Za-z0-9_]([-A-Za-z0-9_]{0,61}[A-Za-z0-9_])?)*$/
const generatorName = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/
const week = 7 * 24 * 3600_000

class Fields {
  readonly #o: JsonObject
  readonly #path: string
  constructor(value: unknown, path: string, keys: readonly string[]) {
    if (!isObject(value)) throw new JobError(`${path}: expected an object`)
    for (const key of Object.keys(value)) if (!keys.includes(key)) throw new JobError(`${path}.${key}: unknown field`)
    this.#o = value
    this.#path = path
  }

  has(key: string): boolean {
    return this.#o[key] !== undefined
  }

  raw(key: string): unknown {
    return this.#o[key]
  }

  string(key: string, max: number, pattern?: RegExp, optional = false): string {
    const v = this.#o[key]
    if (v === undefined && optional) return ''
    if (typeof v !== 'string') throw new JobError(`${this.#path}.${key}: expected a string`)
    if (v.length > max) throw new JobError(`${this.#path}.${key}: longer than ${max} characters`)
    if (pattern && !pattern.test(v)) throw new JobError(`${this.#path}.${key}: ${JSON.stringify(v.slice(0, 80))} is not valid`)
    return v
  }

  number(key: string, min: number, max: number, integer: boolean): number {
    const v = this.#o[key]
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new JobError(`${this.#path}.${key}: expected a number`)
    if (integer && !Number.isInteger(v)) throw new JobError(`${this.#path}.${key}: expected an integer`)
    if (v < min || v > max) throw new JobError(`${this.#path}.${key}: ${v} is outside ${min}..${max}`)
    return v
  }

  boolean(key: string): boolean {
    const v = this.#o[key]
    if (typeof v !== 'boolean') throw new JobError(`${this.#path}.${key}: expected true or false`)
    return v
  }

  array(key: string, min: number, max: number): unknown[] {
    const v = this.#o[key]
    if (!Array.isArray(v)) throw new JobError(`${this.#path}.${key}: expected a list`)
    if (v.length < min || v.length > max) throw new JobError(`${this.#path}.${key}: expected ${min} to ${max} entries, got ${v.length}`)
    return v
  }
}

function checkHost(host: string, path: string): string {
  if (parseIP(host) === undefined && !hostName.test(host)) throw new JobError(`${path}: ${JSON.stringify(host.slice(0, 80))} is neither an IP address nor a host name`)
  return host
}

function validateEndpoint(value: unknown, path: string): TargetEndpoint {
  const f = new Fields(value, path, ['host', 'port', 'label'])
  const endpoint: TargetEndpoint = { host: checkHost(f.string('host', 253), `${path}.host`), port: f.number('port', 1, 65535, true) }
  if (f.has('label')) endpoint.label = f.string('label', 300, /^[^\x00-\x1f\x7f]*$/)
  return endpoint
}

export function validateTarget(value: unknown, path = 'target'): ResolvedTarget {
  const f = new Fields(value, path, ['protocol', 'tls', 'endpoints', 'authority', 'servername', 'insecure', 'path', 'method', 'headers', 'body', 'dns', 'udpPayloadBytes', 'description', 'spec'])
  const protocol = f.string('protocol', 10) as Protocol
  if (!protocols.includes(protocol)) throw new JobError(`${path}.protocol: ${JSON.stringify(protocol)} is not one of ${protocols.join(', ')}`)
  const target: ResolvedTarget = {
    protocol,
    tls: f.boolean('tls'),
    endpoints: f.array('endpoints', 1, 10_000).map((e, i) => validateEndpoint(e, `${path}.endpoints[${i}]`)),
    authority: f.string('authority', 300, /^[^\s\x00-\x1f\x7f]+$/),
    insecure: f.boolean('insecure'),
    path: f.string('path', 8192, /^(\/[^\s\x00-\x1f\x7f]*)?$/),
    method: f.string('method', 32, httpToken),
    headers: f.array('headers', 0, 100).map((h, i) => {
      const where = `${path}.headers[${i}]`
      if (!Array.isArray(h) || h.length !== 2 || typeof h[0] !== 'string' || typeof h[1] !== 'string') throw new JobError(`${where}: expected [name, value]`)
      if (!httpToken.test(h[0]) || h[0].length > 256) throw new JobError(`${where}: the header name is not valid`)
      if (/[\r\n\0]/.test(h[1]) || h[1].length > 8192) throw new JobError(`${where}: the header value has a line break or NUL, or is too long`)
      return [h[0], h[1]] as [string, string]
    }),
    description: f.string('description', 2000, /^[^\x00-\x1f\x7f]*$/),
    spec: f.string('spec', 2048, /^[^\x00-\x1f\x7f]*$/),
  }
  if (f.has('servername')) target.servername = checkHost(f.string('servername', 253), `${path}.servername`)
  if (f.has('body')) {
    const body = f.string('body', 24 * 1024 * 1024, base64)
    if (body.length % 4 !== 0) throw new JobError(`${path}.body: not base64`)
    target.body = body
  }
  if (f.has('dns')) {
    const d = new Fields(f.raw('dns'), `${path}.dns`, ['name', 'type'])
    target.dns = { name: d.string('name', 253, dnsName), type: d.string('type', 5) }
    if (!dnsTypes.includes(target.dns.type)) throw new JobError(`${path}.dns.type: ${JSON.stringify(target.dns.type)} is not one of ${dnsTypes.join(', ')}`)
  }
  if (protocol === 'dns' && !target.dns) throw new JobError(`${path}.dns: a DNS target needs its question`)
  if (f.has('udpPayloadBytes')) target.udpPayloadBytes = f.number('udpPayloadBytes', 1, 65_507, true)
  return target
}

function validatePhase(value: unknown, path: string): Phase {
  const f = new Fields(value, path, ['name', 'durationMs', 'rate', 'rateTo'])
  const phase: Phase = { name: f.string('name', 100, /^[^\x00-\x1f\x7f]*$/), durationMs: f.number('durationMs', 1, week, true) }
  if (f.has('rate')) phase.rate = f.number('rate', Number.MIN_VALUE, 10_000_000, false)
  if (f.has('rateTo')) {
    if (phase.rate === undefined) throw new JobError(`${path}.rateTo: a ramp needs a rate to start from`)
    phase.rateTo = f.number('rateTo', 0, 10_000_000, false)
  }
  return phase
}

export function validatePlan(value: unknown, path = 'plan'): LoadPlan {
  const f = new Fields(value, path, ['phases', 'connections', 'keepAlive', 'requests', 'warmupMs', 'timeoutMs', 'identifyEndpoints'])
  const phases = f.array('phases', 1, 1000).map((p, i) => validatePhase(p, `${path}.phases[${i}]`))
  const open = phases.filter((p) => p.rate !== undefined).length
  if (open !== 0 && open !== phases.length) throw new JobError(`${path}.phases: either every phase has a rate (open loop) or there is one closed-loop phase`)
  if (open === 0 && phases.length !== 1) throw new JobError(`${path}.phases: a closed-loop run has exactly one phase`)
  const plan: LoadPlan = {
    phases,
    connections: f.number('connections', 1, 100_000, true),
    keepAlive: f.boolean('keepAlive'),
    warmupMs: f.number('warmupMs', 0, 3600_000, true),
    timeoutMs: f.number('timeoutMs', 1, 600_000, true),
    identifyEndpoints: f.boolean('identifyEndpoints'),
  }
  if (f.has('requests')) plan.requests = f.number('requests', 1, Number.MAX_SAFE_INTEGER, true)
  return plan
}

export function validateJob(value: unknown): LoadJob {
  const f = new Fields(value, 'job', ['generator', 'target', 'plan'])
  return { generator: f.string('generator', 253, generatorName), target: validateTarget(f.raw('target')), plan: validatePlan(f.raw('plan')) }
}

/** The job from its JSON text (the WEFT_LOAD_JOB variable). */
export function parseJob(text: string | undefined): LoadJob {
  if (text === undefined || text === '') throw new JobError(`no job: the environment variable ${jobEnvName} is empty (weft load --from-pods sets it)`)
  if (Buffer.byteLength(text) > maxJobBytes) throw new JobError(`the job is larger than ${maxJobBytes} bytes`)
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (err) {
    throw new JobError(`the job is not JSON: ${(err as Error).message}`)
  }
  return validateJob(value)
}
