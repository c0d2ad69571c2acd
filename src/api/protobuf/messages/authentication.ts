// k8s.io/api authentication/v1 (generated.proto; JSON names from types.go: BoundObjectReference's uID is `uid`).
import { bool, int64, map, msg, pointer, str, strs, type MessageSpec } from '../types.ts'

export const authenticationMessages: Record<string, MessageSpec> = {
  'authentication.v1.TokenReview': {
    fields: {
      1: msg('metadata', 'meta.v1.ObjectMeta'),
      2: msg('spec', 'authentication.v1.TokenReviewSpec'),
      3: msg('status', 'authentication.v1.TokenReviewStatus'),
    },
  },
  'authentication.v1.TokenReviewSpec': { fields: { 1: str('token'), 2: strs('audiences') } },
  'authentication.v1.TokenReviewStatus': {
    fields: { 1: bool('authenticated'), 2: msg('user', 'authentication.v1.UserInfo'), 4: strs('audiences'), 3: str('error') },
  },
  'authentication.v1.UserInfo': {
    fields: { 1: str('username'), 2: str('uid'), 3: strs('groups'), 4: map('extra', 'authentication.v1.ExtraValue') },
  },
  'authentication.v1.ExtraValue': { fields: { 1: strs('items') }, as: 'stringList' },
  'authentication.v1.AttestationValue': { fields: { 1: strs('items') }, as: 'stringList' },
  'authentication.v1.SelfSubjectReview': {
    fields: { 1: msg('metadata', 'meta.v1.ObjectMeta'), 2: msg('status', 'authentication.v1.SelfSubjectReviewStatus') },
  },
  'authentication.v1.SelfSubjectReviewStatus': { fields: { 1: msg('userInfo', 'authentication.v1.UserInfo') } },
  'authentication.v1.TokenRequest': {
    fields: {
      1: msg('metadata', 'meta.v1.ObjectMeta'),
      2: msg('spec', 'authentication.v1.TokenRequestSpec'),
      3: msg('status', 'authentication.v1.TokenRequestStatus'),
    },
  },
  'authentication.v1.TokenRequestSpec': {
    fields: {
      1: strs('audiences'),
      4: pointer(int64('expirationSeconds')),
      3: msg('boundObjectRef', 'authentication.v1.BoundObjectReference'),
      5: map('attestations', 'authentication.v1.AttestationValue'),
    },
  },
  'authentication.v1.TokenRequestStatus': { fields: { 1: str('token'), 2: msg('expirationTimestamp', 'meta.v1.Time') } },
  'authentication.v1.BoundObjectReference': { fields: { 1: str('kind'), 2: str('apiVersion'), 3: str('name'), 4: str('uid') } },
}
