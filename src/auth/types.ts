// Who is calling and what they ask to do: the shapes authentication produces and
// authorization judges, as Kubernetes' user.Info and authorizer.Attributes.

/** An authenticated caller (user.Info upstream). */
export interface UserInfo {
  username: string
  uid?: string
  groups: string[]
  extra?: Record<string, string[]>
}

/** A request on an API object or collection. `apiGroup` is '' for the core group. */
export interface ResourceAttributes {
  resourceRequest: true
  user: UserInfo
  /** get, list, watch, create, update, patch, delete, deletecollection, or a special verb (bind, escalate, impersonate, approve, sign, use). */
  verb: string
  namespace: string
  apiGroup: string
  apiVersion: string
  resource: string
  subresource: string
  name: string
}

/** A request on a path that is not an API object (`/healthz`, `/version`, `/apis`). */
export interface NonResourceAttributes {
  resourceRequest: false
  user: UserInfo
  /** The lower-case HTTP verb: get, post, put, patch, delete, head. */
  verb: string
  path: string
}

export type Attributes = ResourceAttributes | NonResourceAttributes

export type DecisionKind = 'allow' | 'deny' | 'noOpinion'

export interface Decision {
  decision: DecisionKind
  /** Why, in the words upstream uses (`RBAC: allowed by ClusterRoleBinding "x" of ClusterRole "y" to User "z"`). */
  reason: string
}

/** What else of the request an authorizer may judge by. */
export interface AuthorizeContext {
  /** The request's `?fieldSelector=` as sent (the node authorizer scopes pod lists by it). */
  fieldSelector?: string
  /** The request's `?labelSelector=` as sent (the node authorizer scopes local-path volume lists by it). */
  labelSelector?: string
}

export interface Authorizer {
  authorize(attributes: Attributes, context?: AuthorizeContext): Decision
}

/** One rule as a SelfSubjectRulesReview reports it. */
export interface ResourceRule {
  verbs: string[]
  apiGroups: string[]
  resources: string[]
  resourceNames?: string[]
}

export interface NonResourceRule {
  verbs: string[]
  nonResourceURLs: string[]
}
