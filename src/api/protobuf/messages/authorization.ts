// k8s.io/api authorization/v1 (generated.proto; JSON names from types.go).
import { bool, map, msg, msgs, str, strs, type MessageSpec } from '../types.ts'

const review = (spec: string): MessageSpec => ({
  fields: {
    1: msg('metadata', 'meta.v1.ObjectMeta'),
    2: msg('spec', spec),
    3: msg('status', 'authorization.v1.SubjectAccessReviewStatus'),
  },
})

export const authorizationMessages: Record<string, MessageSpec> = {
  'authorization.v1.SubjectAccessReview': review('authorization.v1.SubjectAccessReviewSpec'),
  'authorization.v1.LocalSubjectAccessReview': review('authorization.v1.SubjectAccessReviewSpec'),
  'authorization.v1.SelfSubjectAccessReview': review('authorization.v1.SelfSubjectAccessReviewSpec'),
  'authorization.v1.SubjectAccessReviewSpec': {
    fields: {
      1: msg('resourceAttributes', 'authorization.v1.ResourceAttributes'),
      2: msg('nonResourceAttributes', 'authorization.v1.NonResourceAttributes'),
      3: str('user'),
      4: strs('groups'),
      5: map('extra', 'authorization.v1.ExtraValue'),
      6: str('uid'),
    },
  },
  'authorization.v1.SelfSubjectAccessReviewSpec': {
    fields: {
      1: msg('resourceAttributes', 'authorization.v1.ResourceAttributes'),
      2: msg('nonResourceAttributes', 'authorization.v1.NonResourceAttributes'),
    },
  },
  'authorization.v1.ResourceAttributes': {
    fields: {
      1: str('namespace'),
      2: str('verb'),
      3: str('group'),
      4: str('version'),
      5: str('resource'),
      6: str('subresource'),
      7: str('name'),
      8: msg('fieldSelector', 'authorization.v1.FieldSelectorAttributes'),
      9: msg('labelSelector', 'authorization.v1.LabelSelectorAttributes'),
    },
  },
  'authorization.v1.FieldSelectorAttributes': {
    fields: { 1: str('rawSelector'), 2: msgs('requirements', 'meta.v1.FieldSelectorRequirement') },
  },
  'authorization.v1.LabelSelectorAttributes': {
    fields: { 1: str('rawSelector'), 2: msgs('requirements', 'meta.v1.LabelSelectorRequirement') },
  },
  'authorization.v1.NonResourceAttributes': { fields: { 1: str('path'), 2: str('verb') } },
  'authorization.v1.SubjectAccessReviewStatus': {
    fields: { 1: bool('allowed'), 4: bool('denied'), 2: str('reason'), 3: str('evaluationError') },
  },
  'authorization.v1.ExtraValue': { fields: { 1: strs('items') }, as: 'stringList' },
  'authorization.v1.SelfSubjectRulesReview': {
    fields: {
      1: msg('metadata', 'meta.v1.ObjectMeta'),
      2: msg('spec', 'authorization.v1.SelfSubjectRulesReviewSpec'),
      3: msg('status', 'authorization.v1.SubjectRulesReviewStatus'),
    },
  },
  'authorization.v1.SelfSubjectRulesReviewSpec': { fields: { 1: str('namespace') } },
  'authorization.v1.SubjectRulesReviewStatus': {
    fields: {
      1: msgs('resourceRules', 'authorization.v1.ResourceRule'),
      2: msgs('nonResourceRules', 'authorization.v1.NonResourceRule'),
      3: bool('incomplete'),
      4: str('evaluationError'),
    },
  },
  'authorization.v1.ResourceRule': {
    fields: { 1: strs('verbs'), 2: strs('apiGroups'), 3: strs('resources'), 4: strs('resourceNames') },
  },
  'authorization.v1.NonResourceRule': { fields: { 1: strs('verbs'), 2: strs('nonResourceURLs') } },
}
