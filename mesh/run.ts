// The mesh in the node agent: informers on this node's pods, the namespaces and the published
// mesh root feed NodeIdentities (which identities the node proxy holds). Nothing here waits
// for the mesh at start: a node without meshed pods asks for nothing, and a cluster without
// the mesh root (an API server without the mesh CA) only gets a warning.
import type { V1ConfigMap, V1Namespace, V1Pod } from '@kubernetes/client-node'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { resources } from '../src/api/registry.ts'
import { Informer, type RestClient } from '../src/client/index.ts'
import { MESH_ROOT_CONFIGMAP, MESH_ROOT_KEY, MESH_ROOT_NAMESPACE } from '../src/controllers/certificates/mesh.ts'
import { writePrivate } from '../src/kubelet/join.ts'
import type { Logger } from '../src/util/log.ts'
import { identitiesOf } from './opt-in.ts'
import { NodeIdentities, type NodeIdentitiesOptions } from './node-identities.ts'

const kind = (k: string) => resources.find((r) => r.kind === k)!

export interface MeshDeps {
  client: RestClient
  nodeName: string
  /** The agent's data dir: identities are kept in DATA_DIR/mesh/identities. */
  dataDir: string
  /** The cluster domain. */
  trustDomain: string
  log: Logger
  retry?: NodeIdentitiesOptions['retry']
}

export interface RunningMesh {
  identities: NodeIdentities
  stop(): Promise<void>
}

export function meshIdentitiesDir(dataDir: string): string {
  return join(dataDir, 'mesh', 'identities')
}

/** The mesh root as last read from the API, for `weft mesh certs` to verify with. */
export function meshRootFile(dataDir: string): string {
  return join(dataDir, 'mesh', 'root-cert.pem')
}

/** Only what the mesh reads of a pod is cached. */
function slimPod(p: V1Pod): V1Pod {
  return {
    metadata: { name: p.metadata?.name, namespace: p.metadata?.namespace, uid: p.metadata?.uid, resourceVersion: p.metadata?.resourceVersion, annotations: p.metadata?.annotations },
    spec: { nodeName: p.spec?.nodeName, serviceAccountName: p.spec?.serviceAccountName, hostNetwork: p.spec?.hostNetwork, containers: [] },
    status: { phase: p.status?.phase },
  }
}

function slimNamespace(n: V1Namespace): V1Namespace {
  return { metadata: { name: n.metadata?.name, resourceVersion: n.metadata?.resourceVersion, labels: n.metadata?.labels } }
}

async function keepRoot(dataDir: string, rootPem: string): Promise<void> {
  await mkdir(join(dataDir, 'mesh'), { recursive: true, mode: 0o700 })
  await writePrivate(meshRootFile(dataDir), rootPem)
}

export async function startMesh(deps: MeshDeps): Promise<RunningMesh> {
  const log = deps.log
  const identities = new NodeIdentities({ client: deps.client, dir: meshIdentitiesDir(deps.dataDir), trustDomain: deps.trustDomain, log, ...(deps.retry ? { retry: deps.retry } : {}) })
  const pods = new Informer<V1Pod>(deps.client, kind('Pod'), { fieldSelector: `spec.nodeName=${deps.nodeName}`, transform: slimPod, logger: log })
  const namespaces = new Informer<V1Namespace>(deps.client, kind('Namespace'), { transform: slimNamespace, logger: log })
  const roots = new Informer<V1ConfigMap>(deps.client, kind('ConfigMap'), { namespace: MESH_ROOT_NAMESPACE, fieldSelector: `metadata.name=${MESH_ROOT_CONFIGMAP}`, logger: log })
  let pending: NodeJS.Immediate | undefined
  const sync = () => {
    pending ??= setImmediate(() => {
      pending = undefined
      if (!pods.hasSynced() || !namespaces.hasSynced() || !roots.hasSynced()) return
      const root = roots.list()[0]?.data?.[MESH_ROOT_KEY] || undefined
      if (root && root !== identities.rootPem) void keepRoot(deps.dataDir, root).catch((err: unknown) => log.warn({ err }, 'cannot keep the mesh root'))
      identities.setRoot(root)
      identities.want(identitiesOf(pods.list(), (name) => namespaces.get(name), deps.trustDomain))
    })
  }
  for (const informer of [pods, namespaces, roots] as Informer<V1Pod | V1Namespace | V1ConfigMap>[]) {
    informer.addHandlers({ onAdd: sync, onUpdate: sync, onDelete: sync })
    informer.start()
  }
  let warned = false
  const rootWarning = setTimeout(() => {
    if (!identities.rootPem && !warned) {
      warned = true
      log.warn({ configMap: `${MESH_ROOT_NAMESPACE}/${MESH_ROOT_CONFIGMAP}` }, 'the mesh root is not published: this node proxy obtains no mesh identities until it is')
    }
  }, 30_000)
  rootWarning.unref()
  return {
    identities,
    async stop() {
      clearTimeout(rootWarning)
      if (pending) clearImmediate(pending)
      identities.stop()
      await Promise.all([pods.stop(), namespaces.stop(), roots.stop()])
    },
  }
}
