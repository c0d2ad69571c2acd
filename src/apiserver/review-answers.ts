// The create-only kinds of authentication.k8s.io and authorization.k8s.io: questions
// answered from the request (who is this token, may this user do that), never stored.
import type { Attributes, Authorizer, NonResourceRule, ResourceRule, UserInfo } from '../auth/types.ts'
import { badRequest } from '../util/errors.ts'

export interface TokenReviewer {
  /** Authenticates a token for `audiences` (the API server's own when empty). */
  review(token: string, audiences: string[]): Promise<{ user: UserInfo; audiences: string[] } | { error: string }>
}

export interface RulesResolver {
  rulesFor(user: UserInfo, namespace: string): { resourceRules: ResourceRule[]; nonResourceRules: NonResourceRule[]; incomplete: boolean }
}

export interface ReviewContext {
  /** The caller, as authenticated. */
  user: UserInfo
  /** The URL's namespace (LocalSubjectAccessReview). */
  namespace: string | undefined
  tokens: TokenReviewer
  authorizer: Authorizer
  rules: RulesResolver
}

type Obj = Record<string, any>

function userInfoOut(u: UserInfo): Obj {
  return { username: u.username, ...(u.uid ? { uid: u.uid } : {}), groups: u.groups, ...(u.extra && Object.keys(u.extra).length ? { extra: u.extra } : {}) }
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : ''
}

/** The question a SubjectAccessReview spec asks, about `user`. */
export function attributesOf(spec: Obj, user: UserInfo): Attributes {
  const ra = spec.resourceAttributes
  if (ra) {
    return {
      resourceRequest: true,
      user,
      verb: str(ra.verb),
      namespace: str(ra.namespace),
      apiGroup: str(ra.group),
      apiVersion: str(ra.version),
      resource: str(ra.resource),
      subresource: str(ra.subresource),
      name: str(ra.name),
    }
  }
  const nra = spec.nonResourceAttributes ?? {}
  return { resourceRequest: false, user, verb: str(nra.verb), path: str(nra.path) }
}

function decide(authorizer: Authorizer, a: Attributes): Obj {
  const d = authorizer.authorize(a)
  return { allowed: d.decision === 'allow', ...(d.decision === 'deny' ? { denied: true } : {}), ...(d.reason ? { reason: d.reason } : {}) }
}

function extraOf(v: unknown): Record<string, string[]> | undefined {
  if (typeof v !== 'object' || v === null) return undefined
  const out: Record<string, string[]> = {}
  for (const [k, list] of Object.entries(v)) if (Array.isArray(list)) out[k] = list.filter((x): x is string => typeof x === 'string')
  return out
}

/** Answers one review: the request object with its status filled in. */
export async function answerReview(kind: string, body: Obj, ctx: ReviewContext): Promise<Obj> {
  const spec: Obj = body.spec ?? {}
  const head = { kind: body.kind ?? kind, apiVersion: body.apiVersion, metadata: { ...(body.metadata ?? {}), creationTimestamp: null } }
  switch (kind) {
    case 'TokenReview': {
      const audiences: string[] = Array.isArray(spec.audiences) ? spec.audiences : []
      const result = await ctx.tokens.review(str(spec.token), audiences)
      const status = 'user' in result ? { authenticated: true, user: userInfoOut(result.user), audiences: result.audiences } : { user: {}, error: result.error }
      return { ...head, spec, status }
    }
    case 'SelfSubjectReview':
      return { ...head, status: { userInfo: userInfoOut(ctx.user) } }
    case 'SubjectAccessReview': {
      const user: UserInfo = { username: str(spec.user), uid: str(spec.uid) || undefined, groups: Array.isArray(spec.groups) ? spec.groups : [], extra: extraOf(spec.extra) }
      return { ...head, spec, status: decide(ctx.authorizer, attributesOf(spec, user)) }
    }
    case 'LocalSubjectAccessReview': {
      const user: UserInfo = { username: str(spec.user), uid: str(spec.uid) || undefined, groups: Array.isArray(spec.groups) ? spec.groups : [], extra: extraOf(spec.extra) }
      const a = attributesOf(spec, user)
      if (a.resourceRequest && a.namespace !== ctx.namespace) throw badRequest(`spec.resourceAttributes.namespace must match namespace: ${ctx.namespace}`)
      return { ...head, metadata: { ...head.metadata, namespace: ctx.namespace }, spec, status: decide(ctx.authorizer, a) }
    }
    case 'SelfSubjectAccessReview':
      return { ...head, spec, status: decide(ctx.authorizer, attributesOf(spec, ctx.user)) }
    case 'SelfSubjectRulesReview': {
      const { resourceRules, nonResourceRules, incomplete } = ctx.rules.rulesFor(ctx.user, str(spec.namespace))
      return { ...head, spec, status: { resourceRules, nonResourceRules, incomplete } }
    }
  }
  throw badRequest(`${kind} is not a review kind`)
}
