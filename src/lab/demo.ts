// The demo manifests (demo/*.yaml), applied through the API with server-side apply.
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { parseAllDocuments } from 'yaml'
import type { V1Deployment, V1Pod, V1Service } from '@kubernetes/client-node'
import { findByKind, resources } from '../api/registry.ts'
import type { RestClient } from '../client/index.ts'
import type { KubeObject } from '../client/index.ts'
import { selfSigned } from '../../ingress/self-signed.ts'
import { inNetns, run } from '../netlink/index.ts'
import { waitFor, type WaitOptions } from './wait.ts'

export const FIELD_MANAGER = 'weft-lab'

export async function loadManifests(dir: string): Promise<KubeObject[]> {
  const files = (await readdir(dir)).filter((f) => /\.ya?ml$/.test(f)).sort()
  const objects: KubeObject[] = []
  for (const file of files) {
    const path = join(dir, file)
    for (const doc of parseAllDocuments(await readFile(path, 'utf8'))) {
      if (doc.errors.length > 0) throw new Error(`${path}: ${doc.errors[0]!.message}`)
      const obj = doc.toJS() as KubeObject | null
      if (obj === null) continue
      if (!obj.apiVersion || !obj.kind || !obj.metadata?.name) throw new Error(`${path}: every document needs apiVersion, kind and metadata.name`)
      objects.push(obj)
    }
  }
  return objects
}

export async function applyManifests(client: RestClient, objects: readonly KubeObject[]): Promise<void> {
  for (const obj of objects) {
    const info = findByKind(obj.apiVersion!, obj.kind!)
    if (!info) throw new Error(`demo: ${obj.apiVersion} ${obj.kind} is not served (served kinds: ${resources.map((r) => r.kind).join(', ')})`)
    const namespace = info.namespaced ? obj.metadata?.namespace || 'default' : undefined
    await client.patch(info, obj.metadata!.name!, namespace, obj, 'apply', { fieldManager: FIELD_MANAGER, force: true })
  }
}

function selectorOf(d: V1Deployment): string {
  return Object.entries(d.spec?.selector?.matchLabels ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(',')
}

/** Waits until each Deployment among `objects` has its replicas Running with a pod IP; answers those pods. */
export async function waitForDeployments(client: RestClient, objects: readonly KubeObject[], opts: WaitOptions): Promise<V1Pod[]> {
  const pods = findByKind('v1', 'Pod')!
  const all: V1Pod[] = []
  for (const obj of objects) {
    if (obj.kind !== 'Deployment') continue
    const d = obj as V1Deployment
    const want = d.spec?.replicas ?? 1
    const namespace = d.metadata?.namespace || 'default'
    const running = await waitFor(
      `${want} Running pod(s) of Deployment ${namespace}/${d.metadata!.name}`,
      async () => {
        const list = await client.list<V1Pod>(pods, { namespace, labelSelector: selectorOf(d) })
        const ready = list.items.filter((p) => p.status?.phase === 'Running' && p.status.podIP && !p.metadata?.deletionTimestamp)
        return ready.length >= want ? ready : undefined
      },
      opts,
    )
    all.push(...running)
  }
  return all
}

/** Waits until every Service among `objects` answers HTTP on its ClusterIP from inside `netns` (a node); answers the Services. */
export async function waitForServices(client: RestClient, objects: readonly KubeObject[], netns: string, opts: WaitOptions): Promise<V1Service[]> {
  const services = findByKind('v1', 'Service')!
  const all: V1Service[] = []
  for (const obj of objects) {
    if (obj.kind !== 'Service') continue
    const namespace = obj.metadata?.namespace || 'default'
    const svc = await client.get<V1Service>(services, obj.metadata!.name!, namespace)
    const ip = svc.spec?.clusterIP
    const port = svc.spec?.ports?.[0]?.port
    if (!ip || ip === 'None' || !port) continue
    const url = `http://${ip.includes(':') ? `[${ip}]` : ip}:${port}/`
    await waitFor(
      `Service ${namespace}/${svc.metadata!.name} to answer at ${url}`,
      async () => {
        const [file, args] = inNetns(netns, 'curl', ['-sf', '-m', '2', '-o', '/dev/null', url])
        return run(file, args).then(
          () => true,
          () => undefined,
        )
      },
      opts,
    )
    all.push(svc)
  }
  return all
}

/** Waits until the cluster DNS (the kube-dns Service) answers each of `services` by name from inside `netns` (a node); answers its address. */
export async function waitForClusterDns(client: RestClient, services: readonly V1Service[], netns: string, opts: WaitOptions): Promise<string> {
  const info = findByKind('v1', 'Service')!
  const dnsIP = await waitFor('the kube-dns Service', async () => (await client.get<V1Service>(info, 'kube-dns', 'kube-system').catch(() => undefined))?.spec?.clusterIP, opts)
  for (const svc of services) {
    const name = `${svc.metadata!.name}.${svc.metadata!.namespace ?? 'default'}.svc.cluster.local`
    await waitFor(
      `the cluster DNS to answer ${name}`,
      async () => {
        const [file, args] = inNetns(netns, 'dig', ['+short', '+time=1', '+tries=1', `@${dnsIP}`, name, 'A'])
        const out = await run(file, args).catch(() => '')
        return out.trim().split('\n').includes(svc.spec!.clusterIP!) ? true : undefined
      },
      opts,
    )
  }
  return dnsIP
}

/** The demo Ingress's host, and the Secret its certificate goes in. */
export const DEMO_INGRESS_HOST = 'echo.weft.test'
const DEMO_TLS_SECRET = 'echo-tls'

/** Puts a self-signed certificate for the demo Ingress's host into its TLS Secret (the manifests cannot carry a fresh key). */
export async function applyDemoCertificate(client: RestClient): Promise<void> {
  const { cert, key } = await selfSigned([DEMO_INGRESS_HOST])
  const b64 = (s: string) => Buffer.from(s).toString('base64')
  const secret: KubeObject = { apiVersion: 'v1', kind: 'Secret', metadata: { name: DEMO_TLS_SECRET, namespace: 'default' }, type: 'kubernetes.io/tls', data: { 'tls.crt': b64(cert), 'tls.key': b64(key) } } as KubeObject
  await client.patch(findByKind('v1', 'Secret')!, DEMO_TLS_SECRET, 'default', secret, 'apply', { fieldManager: FIELD_MANAGER, force: true })
}

/** Waits until the Ingress controller on the node at `nodeIP` serves the demo host over HTTPS, from inside `netns`. */
export async function waitForIngress(nodeIP: string, netns: string, opts: WaitOptions): Promise<void> {
  await waitFor(
    `the Ingress controller to serve https://${DEMO_INGRESS_HOST}/ on ${nodeIP}:443`,
    async () => {
      const [file, args] = inNetns(netns, 'curl', ['-skf', '-m', '2', '-o', '/dev/null', '--resolve', `${DEMO_INGRESS_HOST}:443:${nodeIP}`, `https://${DEMO_INGRESS_HOST}/`])
      return run(file, args).then(
        () => true,
        () => undefined,
      )
    },
    opts,
  )
}
