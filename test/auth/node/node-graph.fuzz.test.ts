// Seeded fuzzing of the node authorizer's graph: random (often malformed) pods are upserted,
// moved and removed while random requests are judged. Nothing may throw; the incremental graph
// must always equal one rebuilt from the live pods; and every secret/configmap/token decision
// must match a brute-force search of the live pods.
import t from 'tap'
import { NodeAuthorizer } from '../../../src/auth/node/node-authorizer.ts'
import { NodeGraph, podReferences, type NodeObjectKind } from '../../../src/auth/node/node-graph.ts'
import { nodeRestriction } from '../../../src/auth/node/node-restriction.ts'
import type { ResourceAttributes, UserInfo } from '../../../src/auth/types.ts'
import { fuzzSettings, Rng } from '../../helpers/fuzz.ts'

const settings = fuzzSettings(3000)

const NAMES = ['a', 'b', 'c', '__proto__', 'constructor', 'x|y', 'ns/a', '["a"]', '']
const NODES = ['n1', 'n2', 'n3|secret|ns', '__proto__']

function name(rng: Rng): string {
  return rng.chance(0.85) ? rng.pick(NAMES) : rng.hostileString()
}

/** A value that is sometimes not what the field should hold. */
function junk(rng: Rng): unknown {
  return rng.pick([undefined, null, 7, true, [], {}, 'str', [null], { name: 5 }])
}

function maybe<T>(rng: Rng, value: () => T): T | unknown {
  return rng.chance(0.05) ? junk(rng) : value()
}

function ref(rng: Rng, key: string): unknown {
  return maybe(rng, () => ({ [key]: name(rng) }))
}

function container(rng: Rng): unknown {
  return maybe(rng, () => ({
    name: 'c',
    envFrom: Array.from({ length: rng.int(3) }, () => maybe(rng, () => (rng.chance(0.5) ? { secretRef: ref(rng, 'name') } : { configMapRef: ref(rng, 'name') }))),
    env: Array.from({ length: rng.int(3) }, () => maybe(rng, () => ({ name: 'E', valueFrom: rng.chance(0.5) ? { secretKeyRef: ref(rng, 'name') } : { configMapKeyRef: ref(rng, 'name') } }))),
  }))
}

function volume(rng: Rng): unknown {
  return maybe(rng, () => {
    const v = { name: name(rng) }
    switch (rng.int(6)) {
      case 0: return { ...v, secret: ref(rng, 'secretName') }
      case 1: return { ...v, configMap: ref(rng, 'name') }
      case 2: return { ...v, persistentVolumeClaim: ref(rng, 'claimName') }
      case 3: return { ...v, projected: { sources: [{ secret: ref(rng, 'name') }, { configMap: ref(rng, 'name') }] } }
      case 4: return { ...v, ephemeral: {} }
      default: return { ...v, csi: { driver: 'd', nodePublishSecretRef: ref(rng, 'name') } }
    }
  })
}

function randomPod(rng: Rng): unknown {
  if (rng.chance(0.02)) return junk(rng)
  return {
    metadata: maybe(rng, () => ({ namespace: rng.chance(0.9) ? rng.pick(['ns', 'other']) : name(rng), name: name(rng), uid: rng.pick(['u1', 'u2']) })),
    spec: maybe(rng, () => ({
      nodeName: rng.chance(0.85) ? rng.pick(NODES) : rng.chance(0.5) ? undefined : junk(rng),
      serviceAccountName: rng.chance(0.5) ? name(rng) : undefined,
      imagePullSecrets: Array.from({ length: rng.int(2) }, () => ref(rng, 'name')),
      containers: Array.from({ length: rng.int(3) }, () => container(rng)),
      initContainers: rng.chance(0.3) ? [container(rng)] : undefined,
      ephemeralContainers: rng.chance(0.1) ? [container(rng)] : junk(rng),
      volumes: Array.from({ length: rng.int(4) }, () => volume(rng)),
    })),
  }
}

function podKeyOf(pod: unknown): [string, string] | undefined {
  const m = (pod as { metadata?: { namespace?: unknown; name?: unknown } } | null)?.metadata
  return typeof m?.namespace === 'string' && m.namespace !== '' && typeof m.name === 'string' && m.name !== '' ? [m.namespace, m.name] : undefined
}

function rebuilt(live: Map<string, unknown>): NodeGraph {
  const g = new NodeGraph()
  for (const pod of live.values()) g.upsertPod(pod)
  return g
}

/** Brute force: does a live pod bound to node, in namespace, reference kind/name? */
function oracle(live: Map<string, unknown>, node: string, kind: NodeObjectKind, namespace: string, objName: string): boolean {
  for (const pod of live.values()) {
    const p = pod as { metadata?: { namespace?: unknown }; spec?: { nodeName?: unknown } }
    if (p?.spec?.nodeName !== node || p.metadata?.namespace !== namespace) continue
    if (podReferences(pod).some((r) => r.kind === kind && r.name === objName)) return true
  }
  return false
}

function randomAttributes(rng: Rng): ResourceAttributes {
  const user: UserInfo = rng.chance(0.9) ? { username: `system:node:${rng.pick(NODES)}`, groups: ['system:nodes'] } : { username: rng.hostileString(), groups: rng.chance(0.5) ? ['system:nodes'] : [] }
  const [apiGroup, resource] = rng.pick([['', 'secrets'], ['', 'configmaps'], ['', 'serviceaccounts'], ['', 'persistentvolumeclaims'], ['', 'pods'], ['', 'nodes'], ['coordination.k8s.io', 'leases'], ['', 'services'], ['discovery.k8s.io', 'endpointslices'], ['apps', 'deployments'], ['', rng.hostileString()]])
  return {
    resourceRequest: true,
    user,
    verb: rng.pick(['get', 'list', 'watch', 'create', 'update', 'patch', 'delete', 'deletecollection', rng.hostileString()]),
    namespace: rng.chance(0.8) ? rng.pick(['ns', 'other', 'kube-node-lease', '']) : rng.hostileString(),
    apiGroup,
    apiVersion: 'v1',
    resource,
    subresource: rng.pick(['', '', '', 'status', 'token', 'eviction', rng.hostileString()]),
    name: name(rng),
  }
}

t.test(`${settings.iterations} random pod changes and requests (seed ${settings.seed})`, async (t) => {
  const rng = new Rng(settings.seed)
  const graph = new NodeGraph()
  const authz = new NodeAuthorizer(graph)
  const live = new Map<string, unknown>()
  let checked = 0
  let allowed = 0
  for (let i = 0; i < settings.iterations; i++) {
    const where = `case ${i} (seed ${settings.seed})`
    try {
      const step = rng.int(10)
      if (step < 5) {
        const pod = randomPod(rng)
        graph.upsertPod(pod)
        const key = podKeyOf(pod)
        if (key) live.set(JSON.stringify(key), pod)
      } else if (step < 7 && live.size) {
        const key = rng.pick([...live.keys()])
        const [ns, n] = JSON.parse(key) as [string, string]
        graph.removePod(ns, n)
        live.delete(key)
      } else if (step < 8) {
        // A probe the brute force can answer: may this node read this object?
        const node = rng.pick(NODES)
        const [resource, kind] = rng.pick([['secrets', 'secret'], ['configmaps', 'configmap'], ['persistentvolumeclaims', 'persistentvolumeclaim'], ['serviceaccounts', 'serviceaccount']] as const)
        const token = resource === 'serviceaccounts'
        const attrs: ResourceAttributes = { resourceRequest: true, user: { username: `system:node:${node}`, groups: ['system:nodes'] }, verb: token ? 'create' : 'get', namespace: rng.pick(['ns', 'other']), apiGroup: '', apiVersion: 'v1', resource, subresource: token ? 'token' : '', name: rng.pick(NAMES.filter(Boolean)) }
        const want = oracle(live, node, kind, attrs.namespace, attrs.name)
        const got = authz.authorize(attrs).decision === 'allow'
        checked++
        if (want) allowed++
        if (got !== want) {
          t.equal(got, want, `${where}: ${resource} ${attrs.namespace}/${JSON.stringify(attrs.name)} for node ${JSON.stringify(node)}`)
          return
        }
      } else {
        const attrs = randomAttributes(rng)
        const fieldSelector = rng.chance(0.3) ? rng.pick(['spec.nodeName=n1', `metadata.name=${attrs.name}`, rng.hostileString()]) : undefined
        const d = authz.authorize(attrs, { fieldSelector })
        if (!['allow', 'noOpinion'].includes(d.decision) || typeof d.reason !== 'string') throw new Error(`bad decision ${JSON.stringify(d)}`)
        const message = nodeRestriction(attrs.user, attrs, randomPod(rng), randomPod(rng), graph)
        if (message !== undefined && typeof message !== 'string') throw new Error('a restriction answer is a string')
      }
      if (i % 50 === 0 || i === settings.iterations - 1) {
        const want = rebuilt(live).dump()
        const got = graph.dump()
        if (JSON.stringify(got) !== JSON.stringify(want)) {
          t.same(got, want, `${where}: the incremental graph drifted from a rebuilt one`)
          return
        }
      }
    } catch (err) {
      t.fail(`${where} threw: ${(err as Error).stack}`)
      return
    }
  }
  t.ok(checked > 50, `${checked} decisions checked against brute force`)
  t.ok(allowed > 20, `${allowed} probes allowed: the fuzz reaches the allow paths`)
  t.ok(live.size > 0, `${live.size} pods live at the end`)
  t.same(graph.dump(), rebuilt(live).dump(), 'the incremental graph equals one rebuilt from the live pods')
})
