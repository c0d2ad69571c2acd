// metav1.Condition lists (`status.conditions` of the newer kinds), as apimachinery's
// ValidateConditions: a qualified-name type once each, a known status, a reason in
// CamelCase-ish syntax, a transition time.
import { isQualifiedName, regexError } from '../names.ts'
import type { FieldCause } from './field.ts'
import { arr, duplicate, each, invalid, notSupported, obj, required, str, tooLong } from './field.ts'

const statuses = ['False', 'True', 'Unknown']
const reasonFmt = '[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?'
const reasonRe = new RegExp(`^(?:${reasonFmt})$`)
const reasonErr = "a condition reason must start with alphabetic character, optionally followed by a string of alphanumeric characters or '_,:', and must end with an alphanumeric character or '_'"
const maxReasonLength = 1024
const maxMessageLength = 32 * 1024

export function validateConditions(conditions: unknown, path: string): FieldCause[] {
  const errs: FieldCause[] = []
  const seen = new Set<string>()
  arr(conditions).forEach((raw, i) => {
    const c = obj(raw)
    const at = `${path}[${i}]`
    const type = str(c.type)
    errs.push(...each(`${at}.type`, c.type ?? '', isQualifiedName(type)))
    if (seen.has(type)) errs.push(duplicate(`${at}.type`, type))
    seen.add(type)
    if (!statuses.includes(str(c.status))) errs.push(notSupported(`${at}.status`, c.status ?? '', statuses))
    if (typeof c.observedGeneration === 'number' && c.observedGeneration < 0) errs.push(invalid(`${at}.observedGeneration`, c.observedGeneration, 'must be greater than or equal to zero'))
    if (!c.lastTransitionTime) errs.push(required(`${at}.lastTransitionTime`, 'must be set'))
    const reason = str(c.reason)
    if (reason === '') errs.push(required(`${at}.reason`, 'must be set'))
    else {
      if (!reasonRe.test(reason)) errs.push(invalid(`${at}.reason`, reason, regexError(reasonErr, reasonFmt, 'my_name', 'MY_NAME', 'MyName', 'ReasonA,ReasonB', 'ReasonA:ReasonB')))
      if (reason.length > maxReasonLength) errs.push(tooLong(`${at}.reason`, maxReasonLength))
    }
    if (str(c.message).length > maxMessageLength) errs.push(tooLong(`${at}.message`, maxMessageLength))
  })
  return errs
}
