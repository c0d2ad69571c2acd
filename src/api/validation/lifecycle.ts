// A container's lifecycle hooks (postStart, preStop), as upstream's validateLifecycle and
// validateHandler check them: exactly one action per hook, each action well formed.
import { isValidPortName, isValidPortNum, regexError } from '../names.ts'
import type { FieldCause, Obj } from './field.ts'
import { arr, forbidden, invalid, isObj, notSupported, num, obj, required, str } from './field.ts'

const httpSchemes = ['HTTP', 'HTTPS']
const handlerTypes = ['exec', 'httpGet', 'tcpSocket', 'sleep'] as const

function isHTTPHeaderName(value: string): string[] {
  return /^[-A-Za-z0-9]+$/.test(value) ? [] : [regexError("a valid HTTP header must consist of alphanumeric characters or '-'", '[-A-Za-z0-9]+', 'X-Header-Name')]
}

/** An IntOrString port: a number in 1..65535 or an IANA service name. A missing port is Go's zero value, 0. */
export function validatePortNumOrName(port: unknown, field: string): FieldCause[] {
  if (typeof port === 'string') return isValidPortName(port).map((m) => invalid(field, port, m))
  const n = num(port) ?? 0
  return isValidPortNum(n).map((m) => invalid(field, n, m))
}

function validateHttpGet(action: Obj, path: string): FieldCause[] {
  const errs: FieldCause[] = []
  if (!str(action.path)) errs.push(required(`${path}.path`))
  errs.push(...validatePortNumOrName(action.port, `${path}.port`))
  if (!httpSchemes.includes(str(action.scheme))) errs.push(notSupported(`${path}.scheme`, action.scheme ?? '', httpSchemes))
  for (const header of arr(action.httpHeaders)) {
    const name = str(obj(header).name)
    for (const m of isHTTPHeaderName(name)) errs.push(invalid(`${path}.httpHeaders`, name, m))
  }
  return errs
}

function validateAction(type: (typeof handlerTypes)[number], action: Obj, path: string, gracePeriod: number | undefined): FieldCause[] {
  switch (type) {
    case 'exec':
      return arr(action.command).length === 0 ? [required(`${path}.command`)] : []
    case 'httpGet':
      return validateHttpGet(action, path)
    case 'tcpSocket':
      return validatePortNumOrName(action.port, `${path}.port`)
    case 'sleep': {
      // Without a grace period the pod's own error says what is wrong; nothing to compare against here.
      const seconds = num(action.seconds) ?? 0
      if (gracePeriod === undefined || (seconds >= 0 && seconds <= gracePeriod)) return []
      return [invalid(path, seconds, `must be non-negative and less than terminationGracePeriodSeconds (${gracePeriod})`)]
    }
  }
}

/** One hook: exactly one handler type, in upstream's order (exec, httpGet, tcpSocket, sleep). */
function validateHandler(handler: Obj, path: string, gracePeriod: number | undefined): FieldCause[] {
  const errs: FieldCause[] = []
  let count = 0
  for (const type of handlerTypes) {
    const action = handler[type]
    if (action === undefined || action === null) continue
    if (count > 0) {
      errs.push(forbidden(`${path}.${type}`, 'may not specify more than 1 handler type'))
      continue
    }
    count++
    errs.push(...validateAction(type, obj(action), `${path}.${type}`, gracePeriod))
  }
  if (count === 0) errs.push(required(path, 'must specify a handler type'))
  return errs
}

/** `lifecycle` of a container at `path`; `gracePeriod` is the pod's terminationGracePeriodSeconds. */
export function validateLifecycle(lifecycle: unknown, path: string, gracePeriod: number | undefined): FieldCause[] {
  if (!isObj(lifecycle)) return []
  const errs: FieldCause[] = []
  for (const hook of ['postStart', 'preStop']) {
    const handler = lifecycle[hook]
    if (handler !== undefined && handler !== null) errs.push(...validateHandler(obj(handler), `${path}.${hook}`, gracePeriod))
  }
  return errs
}
