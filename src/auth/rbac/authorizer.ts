// Kubernetes RBAC (plugin/pkg/auth/authorizer/rbac with pkg/registry/rbac/validation's
// DefaultRuleResolver) over in-memory indexes fed by informers: a request only reads the
// bindings whose subjects can name its caller, and the roles those bindings reference.
import type { Attributes, Authorizer, Decision, NonResourceRule, ResourceRule, UserInfo } from '../types.ts'
import { aggregateMessage, goQuote } from './go-format.ts'
import { type ParsedBinding, type ParsedRole, type RbacKind, type RoleRef, type Subject, parseRbacObject } from './objects.ts'
import { type PolicyRule, ruleAllows } from './rules.ts'
import { SubjectIndex, firstApplyingSubject } from './subject-index.ts'

/** Work counters, for tests and metrics: how much one or many requests examined. */
export interface RbacStats {
  bindingsExamined: number
  rulesExamined: number
}

/** The rules that apply to a user in a namespace, and why some could not be resolved (missing roles). */
export interface PolicyRulesResult {
  rules: PolicyRule[]
  errors: string[]
}

/** What a SelfSubjectRulesReview reports. `incomplete` is always false for RBAC, as upstream; a role that could not be resolved shows in `evaluationError`. */
export interface RulesReview {
  resourceRules: ResourceRule[]
  nonResourceRules: NonResourceRule[]
  incomplete: boolean
  evaluationError?: string
}

/** Called with each applying rule and a way to describe where it came from; return false to stop. */
type RuleVisitor = (rule: PolicyRule, source: () => string) => boolean

function freezeRules(role: ParsedRole): ParsedRole {
  for (const r of role.rules) {
    Object.freeze(r.verbs)
    Object.freeze(r.apiGroups)
    Object.freeze(r.resources)
    Object.freeze(r.resourceNames)
    Object.freeze(r.nonResourceURLs)
    Object.freeze(r)
  }
  Object.freeze(role.rules)
  return role
}

/** upstream describeSubject: `User "alice"`, `ServiceAccount "default/kube-system"` (name first). */
function describeSubject(s: Subject, bindingNamespace: string): string {
  if (s.kind === 'ServiceAccount') {
    const ns = s.namespace !== '' ? s.namespace : bindingNamespace
    return `${s.kind} ${goQuote(`${s.name}/${ns}`)}`
  }
  return `${s.kind} ${goQuote(s.name)}`
}

/** Descriptions already made, per binding object (a changed binding is a new object). */
const described = new WeakMap<ParsedBinding, string[]>()

/** upstream clusterRoleBindingDescriber / roleBindingDescriber, made once per binding and subject. */
export function describeSource(binding: ParsedBinding, subjectIndex: number): string {
  let texts = described.get(binding)
  if (!texts) described.set(binding, (texts = []))
  return (texts[subjectIndex] ??= describeSourceText(binding, subjectIndex))
}

function describeSourceText(binding: ParsedBinding, subjectIndex: number): string {
  const subject = describeSubject(binding.subjects[subjectIndex], binding.namespace)
  const ref = `${binding.roleRef.kind} ${goQuote(binding.roleRef.name)}`
  if (binding.kind === 'ClusterRoleBinding') return `ClusterRoleBinding ${goQuote(binding.name)} of ${ref} to ${subject}`
  return `RoleBinding ${goQuote(`${binding.name}/${binding.namespace}`)} of ${ref} to ${subject}`
}

export class RbacAuthorizer implements Authorizer {
  readonly stats: RbacStats = { bindingsExamined: 0, rulesExamined: 0 }
  readonly #clusterRoles = new Map<string, ParsedRole>()
  readonly #roles = new Map<string, Map<string, ParsedRole>>()
  readonly #clusterBindings = new SubjectIndex()
  readonly #roleBindings = new Map<string, SubjectIndex>()
  #seq = 0
  readonly #nextSeq = (): number => ++this.#seq

  /**
   * Adds or replaces a Role, ClusterRole, RoleBinding or ClusterRoleBinding (plain Kubernetes
   * JSON). `kind` is needed for list items, which carry none. Throws a 400 ApiError for a
   * malformed object and leaves the indexes unchanged.
   */
  upsert(obj: unknown, kind?: RbacKind): void {
    const parsed = parseRbacObject(obj, kind)
    switch (parsed.kind) {
      case 'ClusterRole':
        this.#clusterRoles.set(parsed.name, freezeRules(parsed))
        return
      case 'Role': {
        let inNs = this.#roles.get(parsed.namespace)
        if (!inNs) this.#roles.set(parsed.namespace, (inNs = new Map()))
        inNs.set(parsed.name, freezeRules(parsed))
        return
      }
      case 'ClusterRoleBinding':
        this.#clusterBindings.put(parsed, this.#nextSeq)
        return
      case 'RoleBinding': {
        let index = this.#roleBindings.get(parsed.namespace)
        if (!index) this.#roleBindings.set(parsed.namespace, (index = new SubjectIndex()))
        index.put(parsed, this.#nextSeq)
        return
      }
    }
  }

  /** Forgets one object; `namespace` is ignored for the cluster-scoped kinds. True if it was known. */
  remove(kind: RbacKind, namespace: string, name: string): boolean {
    switch (kind) {
      case 'ClusterRole':
        return this.#clusterRoles.delete(name)
      case 'Role': {
        const inNs = this.#roles.get(namespace)
        if (!inNs || !inNs.delete(name)) return false
        if (inNs.size === 0) this.#roles.delete(namespace)
        return true
      }
      case 'ClusterRoleBinding':
        return this.#clusterBindings.delete(name)
      case 'RoleBinding': {
        const index = this.#roleBindings.get(namespace)
        if (!index || !index.delete(name)) return false
        if (index.size === 0) this.#roleBindings.delete(namespace)
        return true
      }
      default:
        throw new Error(`cannot remove an object of kind ${JSON.stringify(kind)}: not an RBAC kind`)
    }
  }

  getClusterRole(name: string): ParsedRole | undefined {
    return this.#clusterRoles.get(name)
  }

  getRole(namespace: string, name: string): ParsedRole | undefined {
    return this.#roles.get(namespace)?.get(name)
  }

  /** Every ClusterRole known (for the aggregation controller). */
  clusterRoles(): ParsedRole[] {
    return [...this.#clusterRoles.values()]
  }

  /** Every binding of one scope: ClusterRoleBindings for namespace '', else that namespace's RoleBindings (arrival order). */
  bindings(namespace: string): ParsedBinding[] {
    if (namespace === '') return this.#clusterBindings.all()
    return this.#roleBindings.get(namespace)?.all() ?? []
  }

  /**
   * upstream GetRoleReferenceRules: the rules a roleRef grants in a binding's namespace ('' for
   * a ClusterRoleBinding), or the error text when it cannot be resolved.
   */
  roleReferenceRules(ref: RoleRef, bindingNamespace: string): PolicyRule[] | { error: string; notFound: boolean } {
    switch (ref.kind) {
      case 'Role': {
        const role = this.getRole(bindingNamespace, ref.name)
        if (role) return role.rules
        return { error: `role.rbac.authorization.k8s.io ${goQuote(ref.name)} not found`, notFound: true }
      }
      case 'ClusterRole': {
        const role = this.#clusterRoles.get(ref.name)
        if (role) return role.rules
        return { error: `clusterrole.rbac.authorization.k8s.io ${goQuote(ref.name)} not found`, notFound: true }
      }
      default:
        return { error: `unsupported role reference kind: ${goQuote(ref.kind)}`, notFound: false }
    }
  }

  authorize(attributes: Attributes): Decision {
    const namespace = attributes.resourceRequest ? attributes.namespace : ''
    let reason = ''
    const errors = this.#visit(attributes.user, namespace, (rule, source) => {
      if (!ruleAllows(attributes, rule)) return true
      reason = `RBAC: allowed by ${source()}`
      return false
    })
    if (reason !== '') return { decision: 'allow', reason }
    return { decision: 'noOpinion', reason: errors.length ? `RBAC: ${aggregateMessage(errors)}` : '' }
  }

  /** upstream RulesFor: every rule that applies to `user` in `namespace` (cluster-wide ones included). */
  policyRulesFor(user: UserInfo, namespace: string): PolicyRulesResult {
    const rules: PolicyRule[] = []
    const errors = this.#visit(user, namespace, (rule) => {
      rules.push(rule)
      return true
    })
    return { rules, errors }
  }

  /** The answer of a SelfSubjectRulesReview. */
  rulesFor(user: UserInfo, namespace: string): RulesReview {
    const { rules, errors } = this.policyRulesFor(user, namespace)
    const resourceRules: ResourceRule[] = []
    const nonResourceRules: NonResourceRule[] = []
    for (const r of rules) {
      if (r.resources.length > 0) {
        const rr: ResourceRule = { verbs: [...r.verbs], apiGroups: [...r.apiGroups], resources: [...r.resources] }
        if (r.resourceNames.length > 0) rr.resourceNames = [...r.resourceNames]
        resourceRules.push(rr)
      }
      if (r.nonResourceURLs.length > 0) nonResourceRules.push({ verbs: [...r.verbs], nonResourceURLs: [...r.nonResourceURLs] })
    }
    const review: RulesReview = { resourceRules, nonResourceRules, incomplete: false }
    if (errors.length) review.evaluationError = aggregateMessage(errors)
    return review
  }

  /** upstream VisitRulesFor: ClusterRoleBindings, then the namespace's RoleBindings. Returns the resolution errors met. */
  #visit(user: UserInfo, namespace: string, visitor: RuleVisitor): string[] {
    const errors: string[] = []
    if (!this.#visitScope(this.#clusterBindings, user, '', visitor, errors)) return errors
    if (namespace !== '') {
      const index = this.#roleBindings.get(namespace)
      if (index) this.#visitScope(index, user, namespace, visitor, errors)
    }
    return errors
  }

  #visitScope(index: SubjectIndex, user: UserInfo, namespace: string, visitor: RuleVisitor, errors: string[]): boolean {
    for (const { binding } of index.candidates(user)) {
      this.stats.bindingsExamined++
      const subjectIndex = firstApplyingSubject(binding, user)
      if (subjectIndex < 0) continue
      const rules = this.roleReferenceRules(binding.roleRef, namespace)
      if (!Array.isArray(rules)) {
        errors.push(rules.error)
        continue
      }
      const source = (): string => describeSource(binding, subjectIndex)
      for (const rule of rules) {
        this.stats.rulesExamined++
        if (!visitor(rule, source)) return false
      }
    }
    return true
  }
}
