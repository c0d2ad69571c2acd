import t from 'tap'
import type { V1ControllerRevision } from '@kubernetes/client-node'
import { controllerRevisionName, fnv1, goJson, hashControllerRevision, safeEncodeString } from '../../src/controllers/history/revision-hash.ts'
import { newControllerRevision, nextRevision, revisionsToTruncate, sameData, sortRevisions } from '../../src/controllers/history/revisions.ts'

// Upstream's fixtures (pkg/controller/statefulset/stateful_set_compatibility_test.go and
// testdata/compatibility_revision_1.34.0.json): the same template, as 1.33 and 1.34 encoded it,
// with collision count 0, is named test-c77f6d978 and test-776999688b.
const template133 = JSON.parse(
  '{"$patch":"replace","metadata":{"annotations":{"test":"value"},"creationTimestamp":null,"labels":{"app":"foo"}},"spec":{"containers":[{"image":"test","imagePullPolicy":"Always","name":"test","resources":{},"terminationMessagePath":"/dev/termination-log","terminationMessagePolicy":"File"}],"dnsPolicy":"ClusterFirst","restartPolicy":"Always","schedulerName":"default-scheduler","securityContext":{},"terminationGracePeriodSeconds":30}}',
)

t.test("revision hashes are upstream's: FNV-1 over Go's JSON, then the collision count", async (t) => {
  const { creationTimestamp: _, ...meta134 } = template133.metadata
  const data134 = { spec: { template: { ...template133, metadata: meta134 } } }
  t.equal(hashControllerRevision(data134, 0), '776999688b', '1.34 fixture')
  // The 1.33 encoding kept creationTimestamp: null, which Go's typed decode now drops, as goJson does.
  t.equal(hashControllerRevision({ spec: { template: template133 } }, 0), '776999688b', 'a null is dropped')
  t.not(hashControllerRevision(data134, 1), '776999688b', 'the collision count changes the hash')
  t.not(hashControllerRevision(data134), '776999688b', 'no collision count is not count 0')
  t.equal(fnv1(new TextEncoder().encode('')), 0x811c9dc5, 'FNV offset basis for no input')
  t.equal(fnv1(new TextEncoder().encode('a')), 0x050c5d7e, 'FNV-1 of "a" (FNV-1a would give 0xe40c292c)')
  t.equal(safeEncodeString('0123456789'), '456789bcdf', 'digits map into the alphabet without vowels')
})

t.test("goJson writes Go's bytes: sorted keys, HTML escapes, no nulls", async (t) => {
  t.equal(goJson({ b: 1, a: { d: [1, 'x'], c: null }, e: true }), '{"a":{"d":[1,"x"]},"b":1,"e":true}')
  t.equal(goJson({ s: '<a href="x">&</a>\u2028' }), '{"s":"\\u003ca href=\\"x\\"\\u003e\\u0026\\u003c/a\\u003e\\u2028"}')
  t.equal(goJson({ 'é': 1, z: 2, Z: 3 }), '{"Z":3,"z":2,"é":1}', 'keys by UTF-8 bytes')
  t.equal(goJson({ resources: {}, list: [] }), '{"list":[],"resources":{}}', 'empty objects and lists stay')
})

t.test('names, order, truncation', async (t) => {
  t.equal(controllerRevisionName('web', 'abc'), 'web-abc')
  t.equal(controllerRevisionName('x'.repeat(240), 'abc'), `${'x'.repeat(223)}-abc`, 'the prefix is cut to 223')

  const owner = { apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'db', namespace: 'ns', uid: 'u1' }
  const data = { spec: { template: { $patch: 'replace', metadata: { labels: { app: 'db' } } } } }
  const rev = newControllerRevision(owner, { app: 'db' }, data, 3, 0)
  const hash = hashControllerRevision(data, 0)
  t.equal(rev.metadata?.name, `db-${hash}`)
  t.same(rev.metadata?.labels, { app: 'db', 'controller.kubernetes.io/hash': hash })
  t.same(rev.metadata?.ownerReferences, [{ apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'db', uid: 'u1', controller: true, blockOwnerDeletion: true }])
  t.equal(rev.revision, 3)
  t.equal(rev.metadata?.namespace, 'ns')

  const r = (name: string, revision: number, created: string): V1ControllerRevision => ({ metadata: { name, creationTimestamp: new Date(created) }, revision })
  const sorted = sortRevisions([r('c', 2, '2024-01-01T00:00:02Z'), r('b', 1, '2024-01-01T00:00:05Z'), r('a', 2, '2024-01-01T00:00:01Z'), r('d', 2, '2024-01-01T00:00:01Z')])
  t.same(sorted.map((x) => x.metadata?.name), ['b', 'a', 'd', 'c'], 'by revision, then creation, then name')
  t.equal(nextRevision(sorted), 3)
  t.equal(nextRevision([]), 1)

  const history = [1, 2, 3, 4, 5].map((n) => r(`r${n}`, n, '2024-01-01T00:00:00Z'))
  t.same(revisionsToTruncate(history, new Set(['r5', 'r1']), 2).map((x) => x.metadata?.name), ['r2'], 'live revisions are kept and not counted')
  t.same(revisionsToTruncate(history, new Set(['r5']), 0).map((x) => x.metadata?.name), ['r1', 'r2', 'r3', 'r4'])
  t.same(revisionsToTruncate(history, new Set(), 10), [])
  t.same(revisionsToTruncate(history, new Set(), -1).length, 5, 'a negative limit keeps none')

  t.ok(sameData({ a: 1, b: { c: 2 } }, { b: { c: 2 }, a: 1 }), 'key order does not matter')
  t.ok(sameData({ a: 1, n: null }, { a: 1 }), 'nulls do not matter')
  t.notOk(sameData({ a: [1, 2] }, { a: [2, 1] }))
})
