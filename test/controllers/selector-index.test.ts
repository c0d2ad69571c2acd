import t from 'tap'
import type { V1LabelSelector, V1Pod, V1ReplicaSet } from '@kubernetes/client-node'
import { labelSelectorFromObject, matchesLabels } from '../../src/api/selectors.ts'
import { Indexer } from '../../src/client/indexer.ts'
import {
  cachedSelector,
  claimCandidates,
  CONTROLLER_INDEX,
  controllerIndexValues,
  LABELS_INDEX,
  labelIndexValues,
  SELECTOR_INDEX,
  selectedBy,
  selecting,
  selectorIndexFunc,
} from '../../src/controllers/selector-index.ts'
import { Rng } from '../helpers/fuzz.ts'

const pod = (ns: string, name: string, labels: Record<string, string>, ownerUid?: string): V1Pod => ({
  metadata: { namespace: ns, name, uid: `uid-${ns}-${name}`, labels, ownerReferences: ownerUid ? [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'x', uid: ownerUid, controller: true }] : undefined },
})
const set = (ns: string, name: string, selector: V1LabelSelector | undefined): V1ReplicaSet => ({ metadata: { namespace: ns, name, uid: `rs-${ns}-${name}` }, spec: { selector } as V1ReplicaSet['spec'] })

const setSelector = cachedSelector<V1ReplicaSet>((s) => s.spec?.selector)
const podIndexer = () => new Indexer<V1Pod>({ [LABELS_INDEX]: labelIndexValues, [CONTROLLER_INDEX]: controllerIndexValues })
const setIndexer = () => new Indexer<V1ReplicaSet>({ [SELECTOR_INDEX]: selectorIndexFunc(setSelector) })
const names = (xs: { metadata?: { namespace?: string; name?: string } }[]) => xs.map((x) => `${x.metadata?.namespace}/${x.metadata?.name}`).sort()

t.test('selectedBy starts from the rarest pinned label and ends with the full match', async (t) => {
  const pods = podIndexer()
  for (let i = 0; i < 50; i++) pods.set(`a/p${i}`, pod('a', `p${i}`, { app: 'web', shard: String(i % 5) }))
  pods.set('a/db', pod('a', 'db', { app: 'db' }))
  pods.set('b/p0', pod('b', 'p0', { app: 'web', shard: '0' }))
  t.same(names(selectedBy(pods, 'a', labelSelectorFromObject({ matchLabels: { app: 'web', shard: '3' } }))), ['a/p13', 'a/p18', 'a/p23', 'a/p28', 'a/p3', 'a/p33', 'a/p38', 'a/p43', 'a/p48', 'a/p8'])
  t.same(names(selectedBy(pods, 'a', labelSelectorFromObject({ matchExpressions: [{ key: 'app', operator: 'In', values: ['db', 'cache'] }] }))), ['a/db'])
  t.equal(selectedBy(pods, 'a', labelSelectorFromObject({ matchExpressions: [{ key: 'shard', operator: 'NotIn', values: ['0', '1', '2', '3'] }] })).length, 11, 'no pinned label: the namespace, filtered')
  t.same(selectedBy(pods, 'a', labelSelectorFromObject(undefined)), [], 'a missing selector selects nothing')
  t.equal(selectedBy(pods, 'b', labelSelectorFromObject({})).length, 1, 'an empty selector: everything in the namespace, and only there')
})

t.test('claimCandidates keeps what the owner controls even when its labels moved on', async (t) => {
  const pods = podIndexer()
  pods.set('a/mine', pod('a', 'mine', { app: 'other' }, 'rs-a-web'))
  pods.set('a/orphan', pod('a', 'orphan', { app: 'web' }))
  pods.set('a/theirs', pod('a', 'theirs', { app: 'web' }, 'rs-a-else'))
  pods.set('b/orphan', pod('b', 'orphan', { app: 'web' }))
  const web = set('a', 'web', { matchLabels: { app: 'web' } })
  t.same(names(claimCandidates(pods, web.metadata!.uid, 'a', setSelector(web))), ['a/mine', 'a/orphan', 'a/theirs'])
  pods.set('a/orphan', pod('a', 'orphan', { app: 'web' }, 'rs-a-web'))
  t.equal(claimCandidates(pods, web.metadata!.uid, 'a', setSelector(web)).length, 3, 'owned and selected: listed once')
})

t.test('selecting finds the selectors that match an object, by its own labels', async (t) => {
  const sets = setIndexer()
  const add = (s: V1ReplicaSet) => sets.set(`${s.metadata!.namespace}/${s.metadata!.name}`, s)
  add(set('a', 'web', { matchLabels: { app: 'web' } }))
  add(set('a', 'web-v2', { matchLabels: { app: 'web', v: '2' } }))
  add(set('a', 'any-tier', { matchExpressions: [{ key: 'tier', operator: 'Exists' }] }))
  add(set('a', 'none', undefined))
  add(set('a', 'broken', { matchExpressions: [{ key: 'x', operator: 'Bogus' as 'In' }] }))
  add(set('b', 'web', { matchLabels: { app: 'web' } }))
  t.same(names(selecting(sets, setSelector, pod('a', 'p', { app: 'web', tier: 'fe' }))), ['a/any-tier', 'a/web'])
  t.same(names(selecting(sets, setSelector, pod('a', 'p', { app: 'web', v: '2' }))), ['a/web', 'a/web-v2'])
  t.same(names(selecting(sets, setSelector, pod('a', 'p', {}))), [])
  sets.delete('a/web')
  t.same(names(selecting(sets, setSelector, pod('a', 'p', { app: 'web' }))), [], 'a deleted selector is gone from the index')
})

t.test('seeded: the indices answer what a walk over every object answers', async (t) => {
  const rng = new Rng(7)
  const keys = ['app', 'tier', 'v', 'zone']
  const values = ['a', 'b', 'c']
  const randomLabels = () => Object.fromEntries(keys.filter(() => rng.chance(0.6)).map((k) => [k, rng.pick(values)]))
  const randomSelector = (): V1LabelSelector | undefined => {
    if (rng.chance(0.05)) return undefined
    const sel: V1LabelSelector = {}
    if (rng.chance(0.6)) sel.matchLabels = Object.fromEntries(keys.filter(() => rng.chance(0.4)).map((k) => [k, rng.pick(values)]))
    if (rng.chance(0.5)) {
      sel.matchExpressions = keys
        .filter(() => rng.chance(0.3))
        .map((key) => {
          const operator = rng.pick(['In', 'NotIn', 'Exists', 'DoesNotExist'])
          return { key, operator, values: operator === 'In' || operator === 'NotIn' ? values.filter(() => rng.chance(0.5)).concat(rng.pick(values)) : undefined }
        })
    }
    return sel
  }
  const pods = podIndexer()
  const sets = setIndexer()
  const allPods: V1Pod[] = []
  const allSets: V1ReplicaSet[] = []
  for (let i = 0; i < 400; i++) {
    const ns = rng.pick(['a', 'b'])
    const p = pod(ns, `p${i}`, randomLabels())
    pods.set(`${ns}/p${i}`, p)
    allPods.push(p)
  }
  for (let i = 0; i < 60; i++) {
    const ns = rng.pick(['a', 'b'])
    const s = set(ns, `s${i}`, randomSelector())
    sets.set(`${ns}/s${i}`, s)
    allSets.push(s)
  }
  let checked = 0
  for (const s of allSets) {
    const ns = s.metadata!.namespace!
    const want = allPods.filter((p) => p.metadata!.namespace === ns && matchesLabels(setSelector(s), p.metadata!.labels))
    t.same(names(selectedBy(pods, ns, setSelector(s))), names(want), `selectedBy ${JSON.stringify(s.spec?.selector)}`)
    checked++
  }
  for (const p of allPods) {
    const want = allSets.filter((s) => s.metadata!.namespace === p.metadata!.namespace && matchesLabels(setSelector(s), p.metadata!.labels))
    if (!t.strictSame(names(selecting(sets, setSelector, p)), names(want))) break
    checked++
  }
  t.equal(checked, 460)
})
