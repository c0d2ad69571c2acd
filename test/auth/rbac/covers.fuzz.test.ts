// Seeded fuzz of Covers against rule matching: whenever covers(owner, [rule]) says yes, every
// request (in a small universe spanning the vocabulary) that `rule` allows, `owner` allows too;
// and when it says no, some missing piece really is a request `owner` refuses.
import t from 'tap'
import { covers } from '../../../src/auth/rbac/covers.ts'
import { type PolicyRule, ruleAllows, rulesAllow } from '../../../src/auth/rbac/rules.ts'
import type { Attributes } from '../../../src/auth/types.ts'
import { fuzzSettings, Rng } from '../../helpers/fuzz.ts'

const settings = fuzzSettings(3000)

const VERBS = ['get', 'list', 'delete', '*']
const GROUPS = ['', 'apps', '*']
const RESOURCES = ['pods', 'pods/log', '*/scale', 'deployments', 'deployments/scale', '*']
const NAMES = ['x', 'y']
const URLS = ['/healthz', '/healthz/*', '/api*', '*', '/apis']

const user = { username: 'u', groups: [] }
const universe: Attributes[] = []
for (const verb of ['get', 'list', 'delete', 'escalate']) {
  for (const apiGroup of ['', 'apps', 'other']) {
    for (const [resource, subresource] of [['pods', ''], ['pods', 'log'], ['pods', 'scale'], ['deployments', ''], ['deployments', 'scale'], ['secrets', '']]) {
      for (const name of ['', 'x', 'y', 'z']) universe.push({ resourceRequest: true, user, verb, namespace: 'ns', apiGroup, apiVersion: 'v1', resource, subresource, name })
    }
  }
  for (const path of ['/healthz', '/healthz/x', '/api', '/apis', '/apis/x', '/version']) universe.push({ resourceRequest: false, user, verb, path })
}

function some(rng: Rng, from: readonly string[], max: number): string[] {
  return [...new Set(Array.from({ length: rng.int(max + 1) }, () => rng.pick(from)))]
}

function randomRule(rng: Rng): PolicyRule {
  if (rng.chance(0.25)) return { verbs: some(rng, VERBS, 2), apiGroups: [], resources: [], resourceNames: [], nonResourceURLs: some(rng, URLS, 2) }
  return { verbs: some(rng, VERBS, 2), apiGroups: some(rng, GROUPS, 2), resources: some(rng, RESOURCES, 2), resourceNames: rng.chance(0.3) ? some(rng, NAMES, 2) : [], nonResourceURLs: [] }
}

t.test(`covers agrees with rule matching (seed ${settings.seed}, ${settings.iterations} cases)`, async (t) => {
  let coveredCases = 0
  let uncoveredCases = 0
  for (let i = 0; i < settings.iterations; i++) {
    const rng = new Rng(settings.seed * 7_919 + i)
    const owner = Array.from({ length: 1 + rng.int(4) }, () => randomRule(rng))
    const servant = randomRule(rng)
    const { covered, missing } = covers(owner, [servant])
    const allowedByServant = universe.filter((a) => ruleAllows(a, servant))
    if (covered) {
      coveredCases++
      const leak = allowedByServant.find((a) => !rulesAllow(a, owner))
      if (leak) {
        t.fail(`case ${i}: covered, yet ${JSON.stringify(leak)} is allowed by ${JSON.stringify(servant)} and not by ${JSON.stringify(owner)}`)
        return
      }
    } else {
      uncoveredCases++
      if (missing.length === 0) {
        t.fail(`case ${i}: not covered, yet nothing is missing`)
        return
      }
      // A missing piece without wildcards is one concrete request that the owner refuses.
      const concrete = missing.find((m) => ![...m.verbs, ...m.apiGroups, ...m.resources, ...m.nonResourceURLs].some((s) => s.includes('*')))
      if (concrete) {
        const probe = universe.find((a) => ruleAllows(a, concrete) && (a.resourceRequest ? concrete.resourceNames.length === 0 || a.name === concrete.resourceNames[0] : true))
        if (probe && rulesAllow(probe, owner) && concrete.resourceNames.length === 0) {
          t.fail(`case ${i}: ${JSON.stringify(concrete)} reported missing, yet the owner allows ${JSON.stringify(probe)}`)
          return
        }
      }
    }
  }
  t.ok(coveredCases > settings.iterations / 20, `${coveredCases} covered cases`)
  t.ok(uncoveredCases > settings.iterations / 20, `${uncoveredCases} uncovered cases`)
})
