// Seeded fuzz of the RBAC authorizer: random roles and bindings arrive, change and go; random
// requests (some with hostile strings) are asked. authorize never throws, and its decision and
// reason, and rulesFor, agree with a naive evaluator that scans every object the slow way.
// `npm run fuzz -- test/auth/rbac/authorizer.fuzz.test.ts --iterations N --seed S` runs it longer.
import t from 'tap'
import type { V1ClusterRole, V1ClusterRoleBinding, V1PolicyRule, V1Role, V1RoleBinding } from '@kubernetes/client-node'
import { RbacAuthorizer } from '../../../src/auth/rbac/authorizer.ts'
import type { RbacKind } from '../../../src/auth/rbac/objects.ts'
import type { Attributes, Decision, UserInfo } from '../../../src/auth/types.ts'
import { fuzzSettings, Rng } from '../../helpers/fuzz.ts'

const settings = fuzzSettings(300)

const NAMESPACES = ['', 'a', 'b', 'a', 'b', 'kube-system']
const NAMES = ['r0', 'r1', 'r2', 'r3']
const USERS = ['alice', 'bob', 'system:serviceaccount:a:sa', 'system:serviceaccount:b:sa', 'system:serviceaccount:a:other', '']
const GROUPS = ['devs', 'ops', 'system:authenticated', 'system:masters']
const VERBS = ['get', 'list', 'get', 'delete', 'escalate', 'GET', '*', '*']
const API_GROUPS = ['', 'apps', 'rbac.authorization.k8s.io', '*']
const RESOURCES = ['pods', 'pods', 'pods/log', 'pods/status', '*/status', 'deployments', 'deployments/scale', '*/scale', 'pods/*', '*', '*', '']
const RES_NAMES = ['x', 'y', '']
const URLS = ['/healthz', '/healthz/*', '/api', '/api*', '*', '/', '/version']
const SUBJECT_KINDS = ['User', 'User', 'Group', 'Group', 'Group', 'ServiceAccount', 'ServiceAccount', 'user', 'Robot']
const ROLE_REF_KINDS = ['Role', 'ClusterRole', 'ClusterRole', 'Thing']

/** Up to `max` picks, rarely none and rarely hostile. */
function some(rng: Rng, from: readonly string[], max = 3): string[] {
  const n = rng.chance(0.1) ? 0 : 1 + rng.int(max)
  return Array.from({ length: n }, () => (rng.chance(0.03) ? rng.hostileString() : rng.pick(from)))
}

function randomRule(rng: Rng): V1PolicyRule {
  const r: V1PolicyRule = { verbs: some(rng, VERBS) }
  if (rng.chance(0.75)) {
    r.apiGroups = some(rng, API_GROUPS)
    r.resources = some(rng, RESOURCES)
    if (rng.chance(0.3)) r.resourceNames = some(rng, RES_NAMES, 2)
  }
  if (rng.chance(0.3)) r.nonResourceURLs = some(rng, URLS)
  return r
}

function randomSubject(rng: Rng): { kind: string; name: string; namespace?: string } {
  const kind = rng.pick(SUBJECT_KINDS)
  if (kind === 'Group') return { kind, name: rng.pick(GROUPS) }
  if (kind === 'ServiceAccount') {
    const s: { kind: string; name: string; namespace?: string } = { kind, name: rng.pick(['sa', 'other', 'alice']) }
    if (rng.chance(0.6)) s.namespace = rng.pick(['a', 'b'])
    return s
  }
  return { kind, name: rng.chance(0.05) ? rng.hostileString() : rng.pick(USERS) }
}

type Obj = V1Role | V1ClusterRole | V1RoleBinding | V1ClusterRoleBinding

function randomObject(rng: Rng): Obj {
  const kind = rng.pick(['Role', 'ClusterRole', 'RoleBinding', 'ClusterRoleBinding'] as const)
  const name = rng.pick(NAMES)
  const namespace = rng.pick(['a', 'b'])
  const rules = Array.from({ length: rng.int(4) }, () => randomRule(rng))
  const subjects = Array.from({ length: rng.int(4) }, () => randomSubject(rng))
  const roleRef = { apiGroup: 'rbac.authorization.k8s.io', kind: rng.pick(ROLE_REF_KINDS), name: rng.pick(NAMES) }
  switch (kind) {
    case 'ClusterRole':
      return { kind, metadata: { name }, rules }
    case 'Role':
      return { kind, metadata: { name, namespace }, rules }
    case 'ClusterRoleBinding':
      return { kind, metadata: { name }, roleRef, subjects: subjects.map((s) => ({ apiGroup: '', ...s })) }
    case 'RoleBinding':
      return { kind, metadata: { name, namespace }, roleRef, subjects: subjects.map((s) => ({ apiGroup: '', ...s })) }
  }
}

function randomUser(rng: Rng): UserInfo {
  const username = rng.chance(0.1) ? rng.hostileString() : rng.pick(USERS)
  const groups = some(rng, GROUPS)
  if (rng.chance(0.6)) groups.push('system:authenticated')
  return { username, groups }
}

function randomAttributes(rng: Rng): Attributes {
  const user = randomUser(rng)
  const verb = rng.chance(0.05) ? rng.hostileString() : rng.pick(['get', 'get', 'list', 'delete', 'escalate', 'GET'])
  if (rng.chance(0.25)) return { resourceRequest: false, user, verb, path: rng.chance(0.1) ? rng.hostileString() : rng.pick(['/healthz', '/healthz/etcd', '/api', '/apis', '/version', '', '/x']) }
  const [resource, subresource] = rng.pick([['pods', ''], ['pods', 'log'], ['pods', 'status'], ['deployments', ''], ['deployments', 'scale'], ['deployments', 'status'], ['secrets', ''], ['pods', '*']])
  return {
    resourceRequest: true,
    user,
    verb,
    namespace: rng.chance(0.1) ? rng.hostileString() : rng.pick(NAMESPACES),
    apiGroup: rng.pick(['', 'apps', 'rbac.authorization.k8s.io', 'other']),
    apiVersion: 'v1',
    resource,
    subresource,
    name: rng.pick(['', 'x', 'y', 'z']),
  }
}

/** JSON for a failure message, with the line separators TAP would split on escaped. */
function show(value: unknown): string {
  return JSON.stringify(value).replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029')
}

// ---- the naive evaluator: every object in one list, scanned in full for every question ----

interface NaiveRule {
  verbs: string[]
  apiGroups: string[]
  resources: string[]
  resourceNames: string[]
  nonResourceURLs: string[]
}

function naiveRule(r: V1PolicyRule): NaiveRule {
  return { verbs: r.verbs ?? [], apiGroups: r.apiGroups ?? [], resources: r.resources ?? [], resourceNames: r.resourceNames ?? [], nonResourceURLs: r.nonResourceURLs ?? [] }
}

function naiveAllows(a: Attributes, r: NaiveRule): boolean {
  const verb = r.verbs.some((v) => v === '*' || v === a.verb)
  if (!a.resourceRequest) return verb && r.nonResourceURLs.some((u) => u === '*' || u === a.path || (u.endsWith('*') && a.path.startsWith(u.replace(/\*+$/, ''))))
  const combined = a.subresource ? `${a.resource}/${a.subresource}` : a.resource
  const group = r.apiGroups.some((g) => g === '*' || g === a.apiGroup)
  const resource = r.resources.some((x) => x === '*' || x === combined || (a.subresource !== '' && x === `*/${a.subresource}`))
  const name = r.resourceNames.length === 0 || r.resourceNames.includes(a.name)
  return verb && group && resource && name
}

function q(s: string): string {
  return JSON.stringify(s)
}

class Naive {
  objects = new Map<string, Obj>()

  key(kind: string, ns: string, name: string): string {
    return JSON.stringify([kind, ns, name])
  }

  upsert(o: Obj): void {
    const ns = o.kind === 'Role' || o.kind === 'RoleBinding' ? o.metadata!.namespace! : ''
    this.objects.set(this.key(o.kind!, ns, o.metadata!.name!), o)
  }

  remove(kind: string, ns: string, name: string): void {
    this.objects.delete(this.key(kind, kind === 'Role' || kind === 'RoleBinding' ? ns : '', name))
  }

  roleRules(ref: { kind: string; name: string }, ns: string): NaiveRule[] | string {
    if (ref.kind !== 'Role' && ref.kind !== 'ClusterRole') return `unsupported role reference kind: ${q(ref.kind)}`
    const found = this.objects.get(this.key(ref.kind, ref.kind === 'Role' ? ns : '', ref.name)) as V1Role | undefined
    if (!found || (ref.kind === 'Role' && ns === '')) return `${ref.kind.toLowerCase()}.rbac.authorization.k8s.io ${q(ref.name)} not found`
    return (found.rules ?? []).map(naiveRule)
  }

  /** Every (binding, subject, rule) that applies, in upstream's order, plus resolution errors. */
  walk(user: UserInfo, namespace: string): { rules: { rule: NaiveRule; source: string }[]; errors: string[] } {
    const out: { rule: NaiveRule; source: string }[] = []
    const errors: string[] = []
    const scopes: ['ClusterRoleBinding' | 'RoleBinding', string][] = [['ClusterRoleBinding', '']]
    if (namespace !== '') scopes.push(['RoleBinding', namespace])
    for (const [kind, ns] of scopes) {
      for (const o of this.objects.values()) {
        if (o.kind !== kind) continue
        const b = o as V1RoleBinding
        if (kind === 'RoleBinding' && b.metadata!.namespace !== ns) continue
        const subject = (b.subjects ?? []).find((s) => {
          if (s.kind === 'User') return s.name === user.username
          if (s.kind === 'Group') return user.groups.includes(s.name)
          if (s.kind === 'ServiceAccount') {
            const sns = s.namespace || ns
            return sns !== '' && user.username === `system:serviceaccount:${sns}:${s.name}`
          }
          return false
        })
        if (!subject) continue
        const rules = this.roleRules(b.roleRef, ns)
        if (typeof rules === 'string') {
          errors.push(rules)
          continue
        }
        const who = subject.kind === 'ServiceAccount' ? `${subject.name}/${subject.namespace || ns}` : subject.name
        const bname = kind === 'RoleBinding' ? `${b.metadata!.name}/${ns}` : b.metadata!.name!
        const source = `${kind} ${q(bname)} of ${b.roleRef.kind} ${q(b.roleRef.name)} to ${subject.kind} ${q(who)}`
        for (const rule of rules) out.push({ rule, source })
      }
    }
    return { rules: out, errors }
  }

  authorize(a: Attributes): Decision {
    const { rules, errors } = this.walk(a.user, a.resourceRequest ? a.namespace : '')
    const hit = rules.find((r) => naiveAllows(a, r.rule))
    if (hit) return { decision: 'allow', reason: `RBAC: allowed by ${hit.source}` }
    const unique = [...new Set(errors)]
    const reason = errors.length === 0 ? '' : errors.length === 1 ? errors[0] : unique.length === 1 ? unique[0] : `[${unique.join(', ')}]`
    return { decision: 'noOpinion', reason: reason && `RBAC: ${reason}` }
  }
}

/**
 * The naive side quotes with JSON.stringify, which agrees with Go's %q for printable ASCII and
 * the common escapes; where they may not (\u or \x escapes, non-ASCII), quoted names are compared blind.
 */
function sameReason(a: string, b: string): boolean {
  if (a === b) return true
  if (!/\\[ux]|[^\x00-\x7f]/.test(a + b)) return false
  const blind = (s: string) => s.replace(/"(?:[^"\\]|\\.)*"/g, '"…"')
  return blind(a) === blind(b)
}

t.test(`random policies and requests: the index agrees with a full scan (seed ${settings.seed}, ${settings.iterations} cases)`, async (t) => {
  let checked = 0
  let allowed = 0
  for (let i = 0; i < settings.iterations; i++) {
    const rng = new Rng(settings.seed * 1_000_003 + i)
    const authz = new RbacAuthorizer()
    const naive = new Naive()
    const steps = 10 + rng.int(50)
    for (let s = 0; s < steps; s++) {
      if (rng.chance(0.2) && naive.objects.size > 0) {
        const kind = rng.pick(['Role', 'ClusterRole', 'RoleBinding', 'ClusterRoleBinding'] as const) as RbacKind
        const ns = rng.pick(['a', 'b'])
        const name = rng.pick(NAMES)
        authz.remove(kind, ns, name)
        naive.remove(kind, ns, name)
        continue
      }
      const o = randomObject(rng)
      authz.upsert(o)
      naive.upsert(o)
    }
    for (let k = 0; k < 20; k++) {
      const attrs = randomAttributes(rng)
      let got: Decision
      try {
        got = authz.authorize(attrs)
      } catch (err) {
        t.fail(`case ${i} (seed ${settings.seed}): authorize threw ${String(err)} for ${show(attrs)}`)
        return
      }
      const want = naive.authorize(attrs)
      if (got.decision !== want.decision || !sameReason(got.reason, want.reason)) {
        t.same(got, want, `case ${i} (seed ${settings.seed}): ${show(attrs)}`)
        return
      }
      checked++
      if (got.decision === 'allow') allowed++
    }
    const u = randomUser(rng)
    const ns = rng.pick(NAMESPACES)
    const review = authz.rulesFor(u, ns)
    const { rules } = naive.walk(u, ns)
    const wantResource = rules.filter((r) => r.rule.resources.length > 0).length
    const wantNonResource = rules.filter((r) => r.rule.nonResourceURLs.length > 0).length
    if (review.resourceRules.length !== wantResource || review.nonResourceRules.length !== wantNonResource) {
      t.fail(`case ${i} (seed ${settings.seed}): rulesFor(${show(u)}, ${ns}) has ${review.resourceRules.length}/${review.nonResourceRules.length} rules, the scan ${wantResource}/${wantNonResource}`)
      return
    }
  }
  t.ok(checked > 0, `${checked} requests compared`)
  t.ok(allowed > checked / 50, `${allowed} of them allowed: the fuzz reaches the allow paths`)
  t.ok(allowed < checked, 'and the refusals')
})
