// Some of the functions Kubernetes adds to CEL (k8s.io/apiserver/pkg/cel/library), on
// @bufbuild/cel's function API: the lists library (isSorted, sum, min, max, indexOf,
// lastIndexOf), the regex library (find, findAll) and the predicates isURL, isIP and isCIDR.
// The object-returning ones (url(), ip(), cidr(), quantity(), format) are not here: a rule
// that uses them does not compile and is not enforced.
import { isIP } from 'node:net'
import { celFunc, celMethod, CelScalar, listType, type CelFunc } from '@bufbuild/cel'

const { INT, STRING, BOOL, DYN } = CelScalar
const LIST = listType(DYN)
const LIST_STRING = listType(STRING)

type Comparable = bigint | number | string | boolean

function compare(a: unknown, b: unknown): number {
  if (typeof a === 'bigint' && typeof b === 'bigint') return a < b ? -1 : a > b ? 1 : 0
  if ((typeof a === 'number' || typeof a === 'bigint') && (typeof b === 'number' || typeof b === 'bigint')) return Number(a) - Number(b)
  if (typeof a === 'string' && typeof b === 'string') return a < b ? -1 : a > b ? 1 : 0
  if (typeof a === 'boolean' && typeof b === 'boolean') return Number(a) - Number(b)
  throw new Error(`no comparison of ${typeof a} and ${typeof b}`)
}

function items(list: Iterable<unknown>): unknown[] {
  return [...list]
}

function extreme(list: Iterable<unknown>, sign: number): Comparable {
  const all = items(list)
  if (all.length === 0) throw new Error('min/max of an empty list')
  return all.reduce((best, x) => (compare(x, best) * sign > 0 ? x : best)) as Comparable
}

function sum(list: Iterable<unknown>): bigint | number {
  const all = items(list)
  if (all.length === 0) return 0n
  if (all.every((x) => typeof x === 'bigint')) return (all as bigint[]).reduce((a, b) => a + b, 0n)
  return all.reduce((a: number, b) => a + Number(b), 0)
}

function equal(a: unknown, b: unknown): boolean {
  return typeof a === typeof b ? a === b : (typeof a === 'number' || typeof a === 'bigint') && (typeof b === 'number' || typeof b === 'bigint') && Number(a) === Number(b)
}

/** isURL as Kubernetes' url library: an absolute URL, or an absolute path. */
function isUrl(s: string): boolean {
  if (s.startsWith('/')) return !/\s/.test(s)
  return URL.canParse(s) && /^[A-Za-z][A-Za-z0-9+.-]*:/.test(s)
}

function isCidr(s: string): boolean {
  const [ip, bits, ...rest] = s.split('/')
  const family = isIP(ip)
  return rest.length === 0 && family !== 0 && /^\d+$/.test(bits ?? '') && Number(bits) <= (family === 4 ? 32 : 128)
}

function regex(pattern: string): RegExp {
  return new RegExp(pattern, 'u')
}

export const kubernetesLibrary: CelFunc[] = [
  celMethod('isSorted', LIST, [], BOOL, function () {
    const all = items(this)
    return all.every((x, i) => i === 0 || compare(all[i - 1], x) <= 0)
  }),
  celMethod('sum', LIST, [], DYN, function () {
    return sum(this)
  }),
  celMethod('min', LIST, [], DYN, function () {
    return extreme(this, -1)
  }),
  celMethod('max', LIST, [], DYN, function () {
    return extreme(this, 1)
  }),
  celMethod('indexOf', LIST, [DYN], INT, function (x) {
    return BigInt(items(this).findIndex((y) => equal(x, y)))
  }),
  celMethod('lastIndexOf', LIST, [DYN], INT, function (x) {
    const all = items(this)
    for (let i = all.length - 1; i >= 0; i--) if (equal(x, all[i])) return BigInt(i)
    return -1n
  }),
  celMethod('find', STRING, [STRING], STRING, function (pattern) {
    return regex(pattern).exec(this)?.[0] ?? ''
  }),
  celMethod('findAll', STRING, [STRING], LIST_STRING, function (pattern) {
    return [...this.matchAll(new RegExp(pattern, 'gu'))].map((m) => m[0])
  }),
  celMethod('findAll', STRING, [STRING, INT], LIST_STRING, function (pattern, limit) {
    const all = [...this.matchAll(new RegExp(pattern, 'gu'))].map((m) => m[0])
    return limit < 0n ? all : all.slice(0, Number(limit))
  }),
  celFunc('isURL', [STRING], BOOL, (s) => isUrl(s)),
  celFunc('isIP', [STRING], BOOL, (s) => isIP(s) !== 0),
  celFunc('isIP', [STRING, INT], BOOL, (s, family) => isIP(s) === Number(family)),
  celFunc('isCIDR', [STRING], BOOL, (s) => isCidr(s)),
]
