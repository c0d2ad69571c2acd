import t from 'tap'
import type { Test } from 'tap'
import { applyStrategicMergePatch } from '../../src/apiserver/strategic-merge.ts'
import { resources } from '../../src/api/registry.ts'
import type { ResourceInfo } from '../../src/api/registry.ts'
import { ApiError } from '../../src/util/errors.ts'

function info(kind: string): ResourceInfo {
  const found = resources.find((r) => r.kind === kind)
  if (!found) throw new Error(`no kind ${kind}`)
  return found
}

const pod = {
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'p', labels: { app: 'web' }, finalizers: ['a', 'b', 'c'] },
  spec: {
    containers: [
      {
        name: 'web',
        image: 'nginx:1',
        args: ['--a', '--b'],
        env: [
          { name: 'A', value: '1' },
          { name: 'B', value: '2' },
        ],
        ports: [{ containerPort: 80 }, { containerPort: 443 }],
      },
      { name: 'sidecar', image: 'envoy:1' },
    ],
    volumes: [{ name: 'data', emptyDir: {} }],
  },
}

type Pod = typeof pod
const spec = (p: unknown) => (p as Pod).spec
const containers = (p: unknown) => spec(p).containers

t.test('strategic merge on a pod', async (t) => {
  const cases: { name: string; patch: unknown; check: (t: Test, out: unknown) => void }[] = [
    {
      name: 'add a container: new items come first, as kubectl shows',
      patch: { spec: { containers: [{ name: 'log', image: 'busybox' }] } },
      check: (t, out) => t.same(containers(out).map((c) => c.name), ['log', 'web', 'sidecar']),
    },
    {
      name: 'change the image of one container by name',
      patch: { spec: { containers: [{ name: 'sidecar', image: 'envoy:2' }] } },
      check: (t, out) => {
        t.same(containers(out).map((c) => [c.name, c.image]), [['web', 'nginx:1'], ['sidecar', 'envoy:2']])
        t.same(containers(out)[0], pod.spec.containers[0], 'the other container is untouched')
      },
    },
    {
      name: 'delete a container with $patch: delete',
      patch: { spec: { containers: [{ name: 'web', $patch: 'delete' }] } },
      check: (t, out) => t.same(containers(out).map((c) => c.name), ['sidecar']),
    },
    {
      name: 'env merges by name',
      patch: { spec: { containers: [{ name: 'web', env: [{ name: 'B', value: 'two' }, { name: 'C', value: '3' }] }] } },
      check: (t, out) =>
        t.same(containers(out)[0].env, [
          { name: 'A', value: '1' },
          { name: 'B', value: 'two' },
          { name: 'C', value: '3' },
        ]),
    },
    {
      name: 'ports merge by containerPort',
      patch: { spec: { containers: [{ name: 'web', ports: [{ containerPort: 443, name: 'https' }, { containerPort: 8080 }] }] } },
      check: (t, out) => t.same(containers(out)[0].ports, [{ containerPort: 80 }, { containerPort: 443, name: 'https' }, { containerPort: 8080 }]),
    },
    {
      name: 'args (no merge strategy) are replaced',
      patch: { spec: { containers: [{ name: 'web', args: ['--c'] }] } },
      check: (t, out) => t.same(containers(out)[0].args, ['--c']),
    },
    {
      name: 'null deletes a field, maps merge',
      patch: { metadata: { labels: { tier: 'front', app: null } }, spec: { containers: [{ name: 'web', args: null }] } },
      check: (t, out) => {
        t.same((out as Pod).metadata.labels, { tier: 'front' })
        t.notOk('args' in containers(out)[0])
      },
    },
    {
      name: '$setElementOrder reorders the merged list',
      patch: {
        spec: {
          '$setElementOrder/containers': [{ name: 'sidecar' }, { name: 'web' }],
          containers: [{ name: 'web', image: 'nginx:2' }],
        },
      },
      check: (t, out) => t.same(containers(out).map((c) => [c.name, c.image]), [['sidecar', 'envoy:1'], ['web', 'nginx:2']]),
    },
    {
      name: '$setElementOrder without the list itself',
      patch: { spec: { '$setElementOrder/containers': [{ name: 'sidecar' }, { name: 'web' }] } },
      check: (t, out) => t.same(containers(out).map((c) => c.name), ['sidecar', 'web']),
    },
    {
      name: '$deleteFromPrimitiveList on finalizers',
      patch: { metadata: { '$deleteFromPrimitiveList/finalizers': ['b'] } },
      check: (t, out) => t.same((out as Pod).metadata.finalizers, ['a', 'c']),
    },
    {
      name: 'finalizers merge as a set',
      patch: { metadata: { finalizers: ['c', 'd'] } },
      check: (t, out) => t.same((out as Pod).metadata.finalizers, ['a', 'b', 'c', 'd']),
    },
    {
      name: '$setElementOrder on a primitive list',
      patch: { metadata: { '$setElementOrder/finalizers': ['c', 'b', 'a'] } },
      check: (t, out) => t.same((out as Pod).metadata.finalizers, ['c', 'b', 'a']),
    },
    {
      name: '$retainKeys clears the other keys of a volume',
      patch: { spec: { volumes: [{ name: 'data', $retainKeys: ['name', 'hostPath'], hostPath: { path: '/x' } }] } },
      check: (t, out) => t.same(spec(out).volumes, [{ name: 'data', hostPath: { path: '/x' } }]),
    },
    {
      name: '$patch: replace on a list element replaces the whole list',
      patch: { spec: { containers: [{ $patch: 'replace' }, { name: 'only', image: 'x' }] } },
      check: (t, out) => t.same(containers(out), [{ name: 'only', image: 'x' }]),
    },
    {
      name: '$patch: replace on a map replaces it',
      patch: { metadata: { labels: { $patch: 'replace', only: 'me' } } },
      check: (t, out) => t.same((out as Pod).metadata.labels, { only: 'me' }),
    },
    {
      name: '$patch: delete on a map removes it',
      patch: { metadata: { labels: { $patch: 'delete' } } },
      check: (t, out) => t.notOk('labels' in (out as Pod).metadata),
    },
    {
      name: 'a new field is added without directives or nulls',
      patch: { spec: { securityContext: { runAsUser: 1, fsGroup: null } } },
      check: (t, out) => t.same((spec(out) as Record<string, unknown>).securityContext, { runAsUser: 1 }),
    },
  ]
  for (const c of cases) {
    const before = structuredClone(pod)
    const out = applyStrategicMergePatch(info('Pod'), pod, c.patch)
    t.same(pod, before, `${c.name}: input untouched`)
    t.test(c.name, async (t) => c.check(t, out))
  }
})

t.test('service ports merge by port', async (t) => {
  const svc = { spec: { selector: { app: 'web' }, ports: [{ port: 80, targetPort: 8080 }, { port: 443, targetPort: 8443 }] } }
  const out = applyStrategicMergePatch(info('Service'), svc, { spec: { ports: [{ port: 80, targetPort: 9090 }], selector: { tier: 'x' } } }) as typeof svc
  t.same(out.spec.ports, [{ port: 80, targetPort: 9090 }, { port: 443, targetPort: 8443 }])
  t.same(out.spec.selector, { app: 'web', tier: 'x' }, 'strategic merge still merges maps (atomicity is for apply)')
})

t.test('deployment template containers and conditions', async (t) => {
  const deploy = {
    spec: { replicas: 1, template: { spec: { containers: [{ name: 'a', image: 'a:1' }] } }, strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1 } } },
    status: { conditions: [{ type: 'Available', status: 'False' }, { type: 'Progressing', status: 'True' }] },
  }
  const out = applyStrategicMergePatch(info('Deployment'), deploy, {
    spec: { template: { spec: { containers: [{ name: 'a', image: 'a:2' }] } }, strategy: { $retainKeys: ['type'], type: 'Recreate' } },
    status: { conditions: [{ type: 'Available', status: 'True' }] },
  }) as typeof deploy
  t.same(out.spec.template.spec.containers, [{ name: 'a', image: 'a:2' }])
  t.same(out.spec.strategy, { type: 'Recreate' })
  t.same(out.status.conditions, [{ type: 'Available', status: 'True' }, { type: 'Progressing', status: 'True' }])
})

t.test('malformed strategic patches are 400s', async (t) => {
  const cases: { name: string; patch: unknown; match: RegExp }[] = [
    { name: 'not an object', patch: [1], match: /must be a JSON object/ },
    { name: 'item without merge key', patch: { spec: { containers: [{ image: 'x' }] } }, match: /does not contain the merge key "name"/ },
    { name: 'unknown $patch', patch: { metadata: { labels: { $patch: 'frob' } } }, match: /unknown \$patch "frob"/ },
    { name: 'key outside $retainKeys', patch: { spec: { volumes: [{ name: 'data', $retainKeys: ['name'], hostPath: {} }] } }, match: /not listed in \$retainKeys/ },
    {
      name: 'patch item missing from $setElementOrder',
      patch: { spec: { '$setElementOrder/containers': [{ name: 'web' }], containers: [{ name: 'new', image: 'x' }] } },
      match: /missing from \$setElementOrder/,
    },
  ]
  for (const c of cases) {
    try {
      applyStrategicMergePatch(info('Pod'), pod, c.patch)
      t.fail(`${c.name}: expected an error`)
    } catch (err) {
      t.ok(err instanceof ApiError && err.code === 400, `${c.name}: 400`)
      t.match((err as Error).message, c.match, c.name)
    }
  }
})
