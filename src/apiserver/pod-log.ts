// `GET pods/{name}/log`: the API server asks the pod's kubelet for the container's log
// and streams it back, as kube-apiserver does (the connection: kubelet-client.ts).
import type { ServerResponse } from 'node:http'
import type { V1Node, V1Pod } from '@kubernetes/client-node'
import { request, type Dispatcher } from 'undici'
import { ApiError } from '../util/errors.ts'
import { kubeletAddress, kubeletDispatcher, kubeletOrigin, passedKubeletStatuses, type KubeletClientTls } from './kubelet-client.ts'

const passedParams = ['follow', 'previous', 'timestamps', 'tailLines', 'sinceSeconds', 'sinceTime', 'limitBytes']

function badRequest(message: string): ApiError {
  return new ApiError(400, 'BadRequest', message)
}

/** Checks the request against the pod and names the container (upstream's LogLocation). */
export function logContainer(pod: V1Pod, query: URLSearchParams): string {
  const name = pod.metadata?.name ?? ''
  const containers = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? []), ...(pod.spec?.ephemeralContainers ?? [])].map((c) => c.name)
  let container = query.get('container') ?? ''
  if (!container) {
    if (pod.spec?.containers.length !== 1) {
      throw badRequest(`a container name must be specified for pod ${name}, choose one of: [${pod.spec?.containers.map((c) => c.name).join(' ')}]`)
    }
    container = pod.spec.containers[0]!.name
  }
  if (!containers.includes(container)) throw badRequest(`container ${container} is not valid for pod ${name}`)
  for (const p of ['tailLines', 'sinceSeconds', 'limitBytes']) {
    const v = query.get(p)
    if (v !== null && !/^\d+$/.test(v)) throw badRequest(`${p}: Invalid value: "${v}": must be a non-negative integer`)
  }
  if (query.has('sinceSeconds') && query.has('sinceTime')) throw badRequest('at most one of sinceTime or sinceSeconds may be specified')
  if (!pod.spec?.nodeName) throw badRequest(`pod ${name} does not have a host assigned`)
  return container
}


export async function proxyPodLog(pod: V1Pod, node: V1Node | undefined, query: URLSearchParams, res: ServerResponse, socketDir: string | undefined, tls: KubeletClientTls): Promise<void> {
  const container = logContainer(pod, query)
  const address = kubeletAddress(node, socketDir)
  const params = new URLSearchParams()
  for (const p of passedParams) {
    const v = query.get(p)
    if (v !== null) params.set(p, v)
  }
  const path = `/containerLogs/${encodeURIComponent(pod.metadata!.namespace!)}/${encodeURIComponent(pod.metadata!.name!)}/${encodeURIComponent(container)}?${params}`
  const dispatcher = kubeletDispatcher(tls, address, pod.spec!.nodeName!)
  const origin = kubeletOrigin(address, pod.spec!.nodeName!)
  let upstream: Dispatcher.ResponseData
  try {
    upstream = await request(origin + path, { dispatcher, headersTimeout: 10_000, bodyTimeout: 0 })
  } catch (err) {
    throw new ApiError(500, 'InternalError', `Get "${origin}${path}": ${(err as Error).message}`)
  }
  if (upstream.statusCode !== 200) {
    // The kubelet's refusal reaches the user as what it is, as kube-apiserver passes it on
    // (`Error from server (Forbidden): Forbidden (user=…, verb=get, resource=nodes, subresource=log)`).
    const text = (await upstream.body.text()).trim()
    const passed = passedKubeletStatuses[upstream.statusCode]
    throw new ApiError(passed ? upstream.statusCode : 500, passed ?? 'InternalError', text || `the kubelet answered ${upstream.statusCode}`)
  }
  res.writeHead(200, { 'content-type': 'text/plain', 'transfer-encoding': 'chunked' })
  res.on('close', () => upstream.body.destroy())
  for await (const chunk of upstream.body) {
    if (!res.write(chunk)) await new Promise((r) => res.once('drain', r))
  }
  res.end()
}
