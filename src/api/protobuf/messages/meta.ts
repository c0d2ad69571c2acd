// apimachinery pkg/apis/meta/v1 and pkg/util/intstr (generated.proto; JSON names from types.go).
import { bool, int32, int64, map, msg, msgs, pointer, str, strs, bytes, type MessageSpec } from '../types.ts'

export const metaMessages: Record<string, MessageSpec> = {
  'meta.v1.ObjectMeta': {
    fields: {
      1: str('name'),
      2: str('generateName'),
      3: str('namespace'),
      4: str('selfLink'),
      5: str('uid'),
      6: str('resourceVersion'),
      7: int64('generation'),
      8: msg('creationTimestamp', 'meta.v1.Time'),
      9: msg('deletionTimestamp', 'meta.v1.Time'),
      10: pointer(int64('deletionGracePeriodSeconds')),
      11: map('labels', 'string'),
      12: map('annotations', 'string'),
      13: msgs('ownerReferences', 'meta.v1.OwnerReference'),
      14: strs('finalizers'),
      17: msgs('managedFields', 'meta.v1.ManagedFieldsEntry'),
    },
  },
  'meta.v1.OwnerReference': {
    fields: {
      5: str('apiVersion'),
      1: str('kind'),
      3: str('name'),
      4: str('uid'),
      6: pointer(bool('controller')),
      7: pointer(bool('blockOwnerDeletion')),
    },
  },
  'meta.v1.ManagedFieldsEntry': {
    fields: {
      1: str('manager'),
      2: str('operation'),
      3: str('apiVersion'),
      4: msg('time', 'meta.v1.Time'),
      6: str('fieldsType'),
      7: msg('fieldsV1', 'meta.v1.FieldsV1'),
      8: str('subresource'),
    },
  },
  'meta.v1.FieldsV1': { fields: { 1: bytes('raw') }, as: 'fieldsV1' },
  'meta.v1.Time': { fields: { 1: int64('seconds'), 2: int32('nanos') }, as: 'time' },
  'meta.v1.MicroTime': { fields: { 1: int64('seconds'), 2: int32('nanos') }, as: 'microTime' },
  'meta.v1.FieldSelectorRequirement': { fields: { 1: str('key'), 2: str('operator'), 3: strs('values') } },
  'meta.v1.LabelSelectorRequirement': { fields: { 1: str('key'), 2: str('operator'), 3: strs('values') } },
  'intstr.IntOrString': { fields: { 1: int64('type'), 2: int32('intVal'), 3: str('strVal') }, as: 'intOrString' },
}
