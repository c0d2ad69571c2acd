// k8s.io/api core/v1: only the messages weft decodes so far (generated.proto; JSON names from types.go).
import { bool, msg, msgs, pointer, str, type MessageSpec } from '../types.ts'

export const coreMessages: Record<string, MessageSpec> = {
  'core.v1.ServiceAccount': {
    fields: {
      1: msg('metadata', 'meta.v1.ObjectMeta'),
      2: msgs('secrets', 'core.v1.ObjectReference'),
      3: msgs('imagePullSecrets', 'core.v1.LocalObjectReference'),
      4: pointer(bool('automountServiceAccountToken')),
    },
  },
  'core.v1.ObjectReference': {
    fields: {
      1: str('kind'),
      2: str('namespace'),
      3: str('name'),
      4: str('uid'),
      5: str('apiVersion'),
      6: str('resourceVersion'),
      7: str('fieldPath'),
    },
  },
  'core.v1.LocalObjectReference': { fields: { 1: str('name') } },
}
