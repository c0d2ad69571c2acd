// ControllerRevisions (ValidateControllerRevision, ValidateControllerRevisionUpdate): data is
// required and never changes; the revision number may (controllers move it on a rollback).
import type { FieldCause, Obj } from './field.ts'
import { deepEqual, immutable, nonNegative, required } from './field.ts'

export function validateControllerRevision(revision: Obj, old: Obj | undefined): FieldCause[] {
  const errs: FieldCause[] = []
  if (revision.data === undefined || revision.data === null) errs.push(required('data', 'data is mandatory'))
  errs.push(...nonNegative('revision', revision.revision))
  if (old && !deepEqual(revision.data, old.data)) errs.push(immutable('data', revision.data ?? null))
  return errs
}
