// A Job's pod failure policy, success policy and pod replacement policy
// (pkg/apis/batch/validation), and the `1,3-5` index lists they and the status use.
import { isQualifiedName } from '../names.ts'
import type { FieldCause, Obj } from './field.ts'
import { arr, duplicate, each, invalid, invalidWithoutValue, isObj, nonNegative, notSupported, num, obj, required, str, tooLong, tooMany } from './field.ts'

const maxRules = 20
const maxExitCodes = 255
const maxConditionPatterns = 20
const maxSucceededIndexesLength = 64 * 1024
const maxSuccessRules = 20

const actions = ['Count', 'FailIndex', 'FailJob', 'Ignore']
const operators = ['In', 'NotIn']
const statuses = ['False', 'True', 'Unknown']
const replacementPolicies = ['Failed', 'TerminatingOrFailed']

/** An Invalid cause about exit codes, their value printed as Go prints an []int32. */
function invalidCodes(field: string, values: unknown[], detail: string): FieldCause {
  return { reason: 'FieldValueInvalid', message: `Invalid value: []int32{${values.map(String).join(', ')}}: ${detail}`, field }
}

/** Go's %q of a []string: `["a" "b"]`. */
const quotedList = (values: string[]): string => `[${values.map((v) => JSON.stringify(v)).join(' ')}]`

function validateOnExitCodes(req: Obj, path: string, containerNames: Set<string>): FieldCause[] {
  const errs: FieldCause[] = []
  const op = str(req.operator)
  if (op === '') errs.push(required(`${path}.operator`, `valid values: ${quotedList(operators)}`))
  else if (!operators.includes(op)) errs.push(notSupported(`${path}.operator`, req.operator, operators))
  if (req.containerName !== undefined && req.containerName !== null && !containerNames.has(str(req.containerName)))
    errs.push(invalid(`${path}.containerName`, req.containerName, 'must be one of the container or initContainer names in the pod template'))
  const values = arr(req.values)
  if (values.length === 0) errs.push(invalidCodes(`${path}.values`, values, 'at least one value is required'))
  else if (values.length > maxExitCodes) errs.push(tooMany(`${path}.values`, values.length, maxExitCodes))
  const seen = new Set<unknown>()
  let ordered = true
  values.forEach((v, j) => {
    if (op === 'In' && v === 0) errs.push(invalid(`${path}.values[${j}]`, v, 'must not be 0 for the In operator'))
    if (seen.has(v)) errs.push(duplicate(`${path}.values[${j}]`, v))
    seen.add(v)
    if (j > 0 && (num(values[j - 1]) ?? 0) > (num(v) ?? 0)) ordered = false
  })
  if (!ordered) errs.push(invalidCodes(`${path}.values`, values, 'must be ordered'))
  return errs
}

function validateOnPodConditions(patterns: unknown[], path: string): FieldCause[] {
  const errs: FieldCause[] = []
  if (patterns.length > maxConditionPatterns) errs.push(tooMany(path, patterns.length, maxConditionPatterns))
  patterns.forEach((p, j) => {
    const pattern = obj(p)
    errs.push(...each(`${path}[${j}].type`, str(pattern.type), isQualifiedName(str(pattern.type))))
    const status = str(pattern.status)
    if (status === '') errs.push(required(`${path}[${j}].status`, `valid values: ${quotedList(statuses)}`))
    else if (!statuses.includes(status)) errs.push(notSupported(`${path}[${j}].status`, pattern.status, statuses))
  })
  return errs
}

export function validatePodFailurePolicy(spec: Obj, path: string): FieldCause[] {
  const errs: FieldCause[] = []
  const rules = arr(obj(spec.podFailurePolicy).rules)
  if (rules.length > maxRules) errs.push(tooMany(`${path}.rules`, rules.length, maxRules))
  const podSpec = obj(obj(spec.template).spec)
  const containerNames = new Set([...arr(podSpec.containers), ...arr(podSpec.initContainers)].map((c) => str(obj(c).name)))
  rules.forEach((r, i) => {
    const rule = obj(r)
    const p = `${path}.rules[${i}]`
    const action = str(rule.action)
    if (action === '') errs.push(required(`${p}.action`, `valid values: ${quotedList(actions)}`))
    else if (action === 'FailIndex') {
      if (spec.backoffLimitPerIndex === undefined || spec.backoffLimitPerIndex === null)
        errs.push(invalid(`${p}.action`, action, 'requires the backoffLimitPerIndex to be set'))
    } else if (!actions.includes(action)) errs.push(notSupported(`${p}.action`, rule.action, actions))
    const onExitCodes = isObj(rule.onExitCodes)
    const onConditions = arr(rule.onPodConditions).length > 0
    if (onExitCodes) errs.push(...validateOnExitCodes(obj(rule.onExitCodes), `${p}.onExitCodes`, containerNames))
    if (onConditions) errs.push(...validateOnPodConditions(arr(rule.onPodConditions), `${p}.onPodConditions`))
    if (onExitCodes && onConditions) errs.push(invalidWithoutValue(p, 'specifying both OnExitCodes and OnPodConditions is not supported'))
    if (!onExitCodes && !onConditions) errs.push(invalidWithoutValue(p, 'specifying one of OnExitCodes and OnPodConditions is required'))
  })
  return errs
}

export function validatePodReplacementPolicy(spec: Obj, path: string): FieldCause[] {
  const policy = spec.podReplacementPolicy
  if (policy === undefined || policy === null) return []
  if (isObj(spec.podFailurePolicy)) return policy === 'Failed' ? [] : [notSupported(path, policy, ['Failed'])]
  return replacementPolicies.includes(str(policy)) ? [] : [notSupported(path, policy, replacementPolicies)]
}

function atoi(text: string): number | undefined {
  return /^[+-]?\d+$/.test(text) ? Number(text) : undefined
}

function parseInterval(text: string, completions: number): [number, number] {
  const limits = text.split('-')
  if (limits.length > 2) throw new Error(`the fragment ${JSON.stringify(text)} violates the requirement that an index interval can have at most two parts separated by '-'`)
  const x = atoi(limits[0]!)
  if (x === undefined) throw new Error(`cannot convert string to integer for index: ${JSON.stringify(limits[0])}`)
  if (x >= completions) throw new Error(`too large index: ${JSON.stringify(limits[0])}`)
  if (limits.length === 1) return [x, x]
  const y = atoi(limits[1]!)
  if (y === undefined) throw new Error(`cannot convert string to integer for index: ${JSON.stringify(limits[1])}`)
  if (y >= completions) throw new Error(`too large index: ${JSON.stringify(limits[1])}`)
  if (x >= y) throw new Error(`non-increasing order, previous: ${x}, current: ${y}`)
  return [x, y]
}

/** How many indexes `1,3-5` lists; throws with upstream's reason when it is not well formed below `completions`. */
export function countIndexes(text: string, completions: number): number {
  if (text === '') return 0
  let last: number | undefined
  let total = 0
  for (const interval of text.split(',')) {
    const [x, y] = parseInterval(interval, completions)
    if (last !== undefined && last >= x) throw new Error(`non-increasing order, previous: ${last}, current: ${x}`)
    total += y - x + 1
    last = y
  }
  return total
}

export function validateSuccessPolicy(spec: Obj, path: string): FieldCause[] {
  const errs: FieldCause[] = []
  const rules = arr(obj(spec.successPolicy).rules)
  const completions = num(spec.completions) ?? 0
  if (rules.length === 0) errs.push(required(`${path}.rules`, 'at least one rules must be specified when the successPolicy is specified'))
  if (rules.length > maxSuccessRules) errs.push(tooMany(`${path}.rules`, rules.length, maxSuccessRules))
  rules.forEach((r, i) => {
    const rule = obj(r)
    const p = `${path}.rules[${i}]`
    const hasIndexes = typeof rule.succeededIndexes === 'string'
    const count = num(rule.succeededCount)
    if (!hasIndexes && count === undefined) errs.push(required(p, 'at least one of succeededCount or succeededIndexes must be specified'))
    let total = 0
    if (hasIndexes) {
      const text = str(rule.succeededIndexes)
      if (text.length > maxSucceededIndexesLength) errs.push(tooLong(`${p}.succeededIndexes`, maxSucceededIndexesLength))
      try {
        total = countIndexes(text, completions)
      } catch (err) {
        errs.push(invalid(`${p}.succeededIndexes`, text, `error parsing succeededIndexes: ${(err as Error).message}`))
      }
    }
    if (count !== undefined) {
      errs.push(...nonNegative(`${p}.succeededCount`, count))
      if (count > completions) errs.push(invalid(`${p}.succeededCount`, count, `must be less than or equal to ${completions} (the number of specified completions)`))
      if (hasIndexes && count > total) errs.push(invalid(`${p}.succeededCount`, count, `must be less than or equal to ${total} (the number of indexes in the specified succeededIndexes field)`))
    }
  })
  return errs
}
