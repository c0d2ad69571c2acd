// Generators and checks shared by the CNI fuzz suites (stdin.fuzz.test.ts in process,
// plugin.fuzz.test.ts through bin/weft-cni and the warm service in network namespaces).
import { HOSTILE_STRINGS, type Rng } from '../helpers/fuzz.ts'

/** The error codes of the CNI spec, and libcni's 999 for errors a plugin did not classify. */
export const CNI_CODES = new Set([1, 2, 3, 4, 5, 6, 7, 11, 50, 51, 999])

/** What a JavaScript crash looks like once it has been turned into an error message. */
export const JS_CRASH = /is not a function|Cannot read propert|Cannot convert|is not iterable|Maximum call stack|is not defined|Invalid array length|\n\s+at /

const SUBNETS4 = ['10.99.0.0/24', '10.99.1.0/28', '10.99.2.0/30', '10.99.3.0/29']
const SUBNETS6 = ['fd99::/64', 'fd99:1::/120', 'fd99:2::/126']

/** Some value of any JSON type, hostile strings included. */
export function anyValue(rng: Rng, depth = 0): unknown {
  switch (rng.int(depth > 2 ? 6 : 8)) {
    case 0:
      return rng.hostileString()
    case 1:
      return rng.pick([0, -1, 1, 1.5, 68, 65536, 2 ** 53, -(2 ** 31), Number.MAX_SAFE_INTEGER])
    case 2:
      return rng.chance(0.5)
    case 3:
      return null
    case 4:
      return rng.pick(['10.99.0.0/24', 'fd99::/64', '10.99.0.1', '0.0.0.0/0', '::/0', 'eth0', 'wfz0', '1.1.0', '0.4.0', 'weft-ipam'])
    case 5:
      return ''
    case 6:
      return Array.from({ length: rng.int(4) }, () => anyValue(rng, depth + 1))
    default: {
      const o: Record<string, unknown> = {}
      for (let i = rng.int(4); i > 0; i--) o[rng.pick(['type', 'subnet', 'dst', 'gw', 'name', '__proto__', 'constructor', rng.hostileString()])] = anyValue(rng, depth + 1)
      return o
    }
  }
}

function range(rng: Rng, family: 4 | 6): Record<string, unknown> {
  const subnet = rng.pick(family === 4 ? SUBNETS4 : SUBNETS6)
  const r: Record<string, unknown> = { subnet }
  if (rng.chance(0.2)) r.rangeStart = family === 4 ? subnet.replace(/0\/\d+$/, '2') : subnet.replace(/\/\d+$/, '2')
  if (rng.chance(0.2)) r.gateway = family === 4 ? subnet.replace(/0\/\d+$/, '1') : subnet.replace(/\/\d+$/, '1')
  return r
}

/** A weft-cni network config that is valid more often than not. */
export function bridgeConfig(rng: Rng, dataDir: string, bridges: readonly string[]): Record<string, unknown> {
  const ranges: unknown[] = [[range(rng, 4)]]
  if (rng.chance(0.3)) ranges.push([range(rng, 6)])
  const ipam: Record<string, unknown> = { type: 'weft-ipam', dataDir, ranges }
  if (rng.chance(0.5)) ipam.routes = rng.chance(0.5) ? [{ dst: '0.0.0.0/0' }] : [{ dst: '10.98.0.0/16', gw: '10.99.0.1' }]
  const conf: Record<string, unknown> = {
    cniVersion: rng.pick(['1.1.0', '1.1.0', '1.0.0', '0.4.0']),
    name: rng.pick(['fuzznet', 'fuzznet', 'fuzz.net-2']),
    type: 'weft-cni',
    bridge: rng.pick(bridges),
    isGateway: rng.chance(0.8),
    ipam,
  }
  if (rng.chance(0.3)) conf.isDefaultGateway = true
  if (rng.chance(0.2)) conf.ipMasq = true
  if (rng.chance(0.2)) conf.hairpinMode = true
  if (rng.chance(0.2)) conf.mtu = rng.pick([1280, 1400, 1500, 9000])
  if (rng.chance(0.1)) conf.dns = { nameservers: ['10.96.0.10'] }
  if (rng.chance(0.15)) conf.antiSpoof = rng.chance(0.7) ? false : rng.pick([true, null, 'false', 0])
  return conf
}

/** Replaces, adds or deletes one field somewhere in the object (a deep copy). */
export function mutateStructure(rng: Rng, value: Record<string, unknown>): Record<string, unknown> {
  const copy = JSON.parse(JSON.stringify(value)) as Record<string, unknown>
  let target: Record<string, unknown> | unknown[] = copy
  for (let depth = 0; depth < 4 && rng.chance(0.6); depth++) {
    const keys = Array.isArray(target) ? target.map((_, i) => i) : Object.keys(target)
    const inner = keys.map((k) => (target as Record<string, unknown>)[k as never]).filter((v) => typeof v === 'object' && v !== null)
    if (inner.length === 0) break
    target = rng.pick(inner) as Record<string, unknown> | unknown[]
  }
  const keys = Array.isArray(target) ? target.map((_, i) => String(i)) : Object.keys(target)
  const choice = rng.int(3)
  if (choice === 0 && keys.length > 0 && !Array.isArray(target)) delete target[rng.pick(keys)]
  else if (choice === 1 || keys.length === 0) (target as Record<string, unknown>)[Array.isArray(target) ? String(target.length) : rng.pick(['mtu', 'bridge', 'ipam', 'routes', 'prevResult', 'antiSpoof', 'runtimeConfig', 'capabilities', 'cni.dev/valid-attachments', rng.hostileString().slice(0, 20)])] = anyValue(rng)
  else (target as Record<string, unknown>)[rng.pick(keys)] = anyValue(rng)
  return copy
}

/** The stdin of one case: a config, structurally mutated, byte-mutated, or noise. */
export function stdinText(rng: Rng, base: Record<string, unknown>): string {
  const roll = rng.int(10)
  if (roll < 4) return JSON.stringify(base)
  if (roll < 7) return JSON.stringify(mutateStructure(rng, base))
  if (roll < 9) return rng.mutate(Buffer.from(JSON.stringify(base))).toString('latin1')
  return rng.chance(0.5) ? rng.hostileString() : rng.bytes(rng.int(200)).toString('latin1')
}

/**
 * For suites that touch the disk: whatever the mutation did, an `ipam` section that still
 * parses keeps its dataDir in the test's directory (a mutated dataDir could name any path).
 */
export function pinDataDir(text: string, dataDir: string): string {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return text
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return text
  const ipam = (value as Record<string, unknown>).ipam
  if (typeof ipam === 'object' && ipam !== null && !Array.isArray(ipam)) {
    ;(ipam as Record<string, unknown>).dataDir = dataDir
    return JSON.stringify(value)
  }
  return text
}

/** A CNI_* environment: usually right, sometimes missing or hostile in one place. */
export function cniEnvironment(rng: Rng, valid: { command: string; containerID: string; netns: string; ifname: string; path: string }): Record<string, string> {
  const env: Record<string, string> = {
    CNI_COMMAND: valid.command,
    CNI_CONTAINERID: valid.containerID,
    CNI_NETNS: valid.netns,
    CNI_IFNAME: valid.ifname,
    CNI_PATH: valid.path,
  }
  if (rng.chance(0.25)) {
    const key = rng.pick(['CNI_COMMAND', 'CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME', 'CNI_ARGS', 'CNI_PATH'])
    if (rng.chance(0.3)) delete env[key]
    else env[key] = rng.chance(0.5) ? rng.hostileString() : rng.pick(HOSTILE_STRINGS)
  }
  if (rng.chance(0.1)) env.CNI_ARGS = rng.pick(['IgnoreUnknown=1;K8S_POD_NAME=x', 'a=b=c', ';;', '=x', 'K=' + rng.hostileString()])
  // No NUL in an environment variable.
  for (const k of Object.keys(env)) env[k] = env[k]!.replace(/\0/g, '')
  return env
}

export interface CheckedOutput {
  /** Exit 0 with proper output. */
  ok: boolean
  /** Why the output breaks the protocol; undefined when it is fine. */
  problem?: string
  code?: number
}

/** A plugin's stdout and exit code must be a result (exit 0) or exactly one CNI error object (exit 1). */
export function checkOutput(exit: number | null, stdout: string, command: string): CheckedOutput {
  if (/\n\s+at |^\s+at /m.test(stdout)) return { ok: false, problem: 'a stack trace on stdout' }
  if (exit === 0) {
    if (command === 'ADD' || command === 'VERSION') {
      try {
        const v = JSON.parse(stdout) as Record<string, unknown>
        if (typeof v !== 'object' || v === null || typeof v.cniVersion !== 'string') return { ok: false, problem: 'exit 0 without a result object' }
      } catch {
        return { ok: false, problem: 'exit 0 with output that is not JSON' }
      }
    } else if (stdout.trim() !== '') return { ok: false, problem: `${command} succeeded but printed something` }
    return { ok: true }
  }
  if (exit !== 1) return { ok: false, problem: `exit code ${exit}` }
  let v: Record<string, unknown>
  try {
    v = JSON.parse(stdout) as Record<string, unknown>
  } catch {
    return { ok: false, problem: 'exit 1 without a JSON error object' }
  }
  if (typeof v.code !== 'number' || !CNI_CODES.has(v.code)) return { ok: false, problem: `error code ${String(v.code)} is not a CNI code` }
  if (typeof v.msg !== 'string' || v.msg === '') return { ok: false, problem: 'error object without a msg' }
  if (v.details !== undefined && typeof v.details !== 'string') return { ok: false, problem: 'error details is not a string' }
  if (typeof v.cniVersion !== 'string') return { ok: false, problem: 'error object without cniVersion' }
  if (JS_CRASH.test(`${v.msg} ${v.details ?? ''}`)) return { ok: false, problem: `a JavaScript crash reported as an error: ${v.msg} ${v.details ?? ''}` }
  return { ok: false, code: v.code }
}

/** True when `fn` returns, or throws a CniError-shaped error with a CNI code other than 999. */
export function classified(err: unknown): boolean {
  const e = err as { code?: unknown; msg?: unknown; name?: unknown }
  return e?.name !== undefined && typeof e.code === 'number' && CNI_CODES.has(e.code) && e.code !== 999 && typeof e.msg === 'string' && e.msg !== '' && !JS_CRASH.test(e.msg)
}
